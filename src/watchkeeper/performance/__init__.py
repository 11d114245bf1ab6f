"""Model performance against a baseline: metrics, sampling-error bands and calibration.

* :func:`compute_metrics` computes every metric of a task from raw arrays (scikit-learn's
  definitions; undefined cases documented in :mod:`watchkeeper.performance._metrics`);
* :class:`PerformanceReference` fits the baseline once (metrics, their standard errors,
  calibration bins) and saves without pickle;
* :func:`performance_checks` compares a window with it, one
  :class:`~watchkeeper.CheckResult` per metric plus ``performance.calibration``
  (decision rule in :mod:`watchkeeper.performance.checks`, standard errors in
  :mod:`watchkeeper.performance._bands`).
"""

from __future__ import annotations

from watchkeeper.performance._options import (
    CHECK_NAMES,
    LOWER_IS_BETTER,
    METRICS,
    SCORE_METRICS,
    TASKS,
    Direction,
    PerformanceOptions,
    metric_direction,
)
from watchkeeper.performance.checks import performance_checks
from watchkeeper.performance.metrics import MetricValues, compute_metrics
from watchkeeper.performance.reference import PerformanceReference

__all__ = [
    "CHECK_NAMES",
    "LOWER_IS_BETTER",
    "METRICS",
    "SCORE_METRICS",
    "TASKS",
    "Direction",
    "MetricValues",
    "PerformanceOptions",
    "PerformanceReference",
    "compute_metrics",
    "metric_direction",
    "performance_checks",
]
