"""Monitor gauges on ``/metrics``: the newest stored monitor run of every model, read at
scrape time.

:class:`MonitorCollector` is a scrape collector
(:meth:`~watchkeeper.server._metrics.ServerMetrics.add_scrape_collector`): each scrape reads
:func:`~watchkeeper.ops._history.latest_runs` (one query for the runs, one for their checks,
cached for ``cache_seconds`` so a burst of scrapes reads once) and turns the runs into gauge
families with :func:`monitor_families`. Runs made by the CLI, another worker or another replica
show up alike, since they are read from the database.

Every series is in ``docs/metrics.md``. Labels stay bounded: ``model`` and ``version`` of the
stored runs, ``check``, ``metric`` and ``detector`` from the checks' names, ``status`` one of
four, and ``feature`` only for the run's first :data:`MAX_FEATURES` feature columns in
alphabetical order, or exactly the columns of ``monitor.metrics_features`` when that is set.
Skipped checks and checks without a value give no sample.

Examples
--------
>>> from datetime import UTC, datetime
>>> from watchkeeper.ops._history import StoredRun
>>> from watchkeeper.results import CheckResult
>>> run = StoredRun(
...     id=1, model="churn", version=3, alias="production",
...     ran_at=datetime(2026, 3, 1, tzinfo=UTC), window_start=None, window_end=None,
...     reference="baseline", source="schedule", status="alert", n_rows=500, n_labeled=0,
...     label_coverage=None, duration_seconds=0.5, summary={}, detectors={},
...     checks=(CheckResult(check="drift.wasserstein", column="tenure", value=0.25,
...                         threshold=0.1, status="alert"),))
>>> families = {f.name: f for f in monitor_families([run])}
>>> [(s.labels["feature"], s.value) for s in families["watchkeeper_feature_drift_score"].samples]
[('tenure', 0.25)]
>>> families["watchkeeper_monitor_status"].samples[0].value
2.0
"""

from __future__ import annotations

import math
import threading
import time
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from prometheus_client.metrics_core import Metric

    from watchkeeper.ops._history import StoredRun
    from watchkeeper.results import CheckResult
    from watchkeeper.store.database import Database

__all__ = [
    "CACHE_SECONDS",
    "MAX_FEATURES",
    "RATE_CHECKS",
    "STATUS_VALUES",
    "MonitorCollector",
    "monitor_families",
]

#: Feature columns of a run that may appear in the ``feature`` label (the first ones
#: alphabetically) when ``monitor.metrics_features`` is not set.
MAX_FEATURES = 50
#: A scrape within this many seconds of the previous database read reuses it.
CACHE_SECONDS = 2.0
#: ``watchkeeper_monitor_status``: a run's status as a number (``skipped``: every check was).
STATUS_VALUES = {"ok": 0.0, "warning": 1.0, "alert": 2.0, "skipped": -1.0}
#: The quality checks whose value is a share of rows breaking a rule (the others measure a
#: count of columns, a cardinality, a dominant value's share or the window's size).
RATE_CHECKS = frozenset(
    {
        "quality.missing_rate",
        "quality.non_finite",
        "quality.outlier_rate",
        "quality.out_of_range",
        "quality.type_violations",
        "quality.unseen_categories",
        "quality.duplicate_rows",
    }
)
_MV = ("model", "version")
_FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "monitor_run_timestamp_seconds": (
        "When the newest monitor run ran (Unix time, project clock).",
        ("model",),
    ),
    "monitor_status": (
        "Status of the newest monitor run: 0 ok, 1 warning, 2 alert, -1 every check skipped.",
        _MV,
    ),
    "monitor_checks": ("Checks of the newest monitor run, by status.", (*_MV, "status")),
    "feature_drift_score": (
        "A feature's drift statistic in the newest run.",
        (*_MV, "feature", "check"),
    ),
    "feature_drift_threshold": (
        "The threshold a feature's drift statistic is compared with.",
        (*_MV, "feature", "check"),
    ),
    "feature_drift_alert": (
        "1 if the feature's drift check alerted in the newest run.",
        (*_MV, "feature", "check"),
    ),
    "dataset_drift": ("1 if the newest run found dataset drift.", _MV),
    "drifted_features_ratio": ("Share of checked feature columns that drifted.", _MV),
    "performance_metric": (
        "A performance metric on the newest run's labelled rows.",
        (*_MV, "metric"),
    ),
    "performance_reference": (
        "The performance metric's reference value (the version's validation).",
        (*_MV, "metric"),
    ),
    "quality_violation_ratio": (
        "Share of the window's rows breaking a window-level data-quality rule.",
        (*_MV, "check"),
    ),
    "feature_quality_violation_ratio": (
        "Share of a feature's values breaking a data-quality rule.",
        (*_MV, "check", "feature"),
    ),
    "label_coverage_ratio": (
        "Share of the performance window's rows with a label.",
        _MV,
    ),
    "concept_drift_detected": (
        "1 if the concept-drift detector fired on the errors fed in the newest run.",
        (*_MV, "detector"),
    ),
}


class _Builder:
    """Gauge families by name; a repeated label set keeps its first value."""

    def __init__(self) -> None:
        self.values: dict[str, dict[tuple[str, ...], float]] = {n: {} for n in _FAMILIES}

    def add(self, name: str, labels: tuple[str, ...], value: float | None) -> None:
        if value is None or not math.isfinite(value):
            return
        self.values[name].setdefault(labels, float(value))

    def families(self) -> list[Metric]:
        out: list[Metric] = []
        for name, (doc, labelnames) in _FAMILIES.items():
            samples = self.values[name]
            if not samples:
                continue
            family = GaugeMetricFamily(f"watchkeeper_{name}", doc, labels=labelnames)
            for labels, value in samples.items():
                family.add_metric(labels, value)
            out.append(family)
        return out


def _features(run: StoredRun, configured: Sequence[str] | None) -> set[str]:
    if configured is not None:
        return set(configured)
    columns = {
        c.column
        for c in run.checks
        if c.column is not None and c.check.startswith(("drift.", "quality."))
    }
    return set(sorted(columns)[:MAX_FEATURES])


def _value(check: CheckResult) -> float | None:
    return None if check.status == "skipped" else check.value


def _add_run(out: _Builder, run: StoredRun, configured: Sequence[str] | None) -> None:
    mv = (run.model, str(run.version))
    out.add("monitor_run_timestamp_seconds", (run.model,), run.ran_at.timestamp())
    out.add("monitor_status", mv, STATUS_VALUES.get(run.status))
    counts = dict.fromkeys(STATUS_VALUES, 0)
    for check in run.checks:
        counts[check.status] = counts.get(check.status, 0) + 1
    for status, count in counts.items():
        out.add("monitor_checks", (*mv, status), count)
    features = _features(run, configured)
    coverage = run.label_coverage
    for check in run.checks:
        family, _, rest = check.check.partition(".")
        value = _value(check)
        if value is None:
            continue
        column = check.column
        if family == "drift" and column is not None:
            if column in features:
                labels = (*mv, column, check.check)
                out.add("feature_drift_score", labels, value)
                out.add("feature_drift_threshold", labels, check.threshold)
                out.add("feature_drift_alert", labels, 1.0 if check.status == "alert" else 0.0)
        elif check.check == "drift.dataset":
            out.add("dataset_drift", mv, 1.0 if check.status == "alert" else 0.0)
            out.add("drifted_features_ratio", mv, value)
        elif family == "performance" and rest and column is None:
            out.add("performance_metric", (*mv, rest), value)
            out.add("performance_reference", (*mv, rest), check.reference_value)
        elif check.check in RATE_CHECKS and column is None:
            out.add("quality_violation_ratio", (*mv, check.check), value)
        elif check.check in RATE_CHECKS and column in features:
            out.add("feature_quality_violation_ratio", (*mv, check.check, column), value)
        elif check.check == "monitor.label_coverage":
            coverage = value
        elif family == "concept_drift" and rest:
            out.add("concept_drift_detected", (*mv, rest), 1.0 if check.status == "alert" else 0.0)
    out.add("label_coverage_ratio", mv, coverage)


def monitor_families(
    runs: Iterable[StoredRun], *, features: Sequence[str] | None = None
) -> list[Metric]:
    """The monitor gauge families of ``runs`` (the newest run of each model).

    ``features`` (``monitor.metrics_features``) names the feature columns that get
    per-feature series; None: the first :data:`MAX_FEATURES` of each run's feature columns
    (those its drift and quality checks name), alphabetically. Families without a sample are
    left out.
    """
    out = _Builder()
    for run in sorted(runs, key=lambda r: r.model):
        _add_run(out, run, features)
    return out.families()


class MonitorCollector:
    """A scrape collector of the monitor gauges: call it to get the families.

    Parameters
    ----------
    source
        The project database (its newest runs are read with
        :func:`~watchkeeper.ops._history.latest_runs`), or a function returning the runs.
    features
        ``monitor.metrics_features`` (see :func:`monitor_families`).
    cache_seconds
        Scrapes within this many seconds of a read reuse its runs (0: read at every scrape).
    timer
        Monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        source: Database | Callable[[], Sequence[StoredRun]],
        *,
        features: Sequence[str] | None = None,
        cache_seconds: float = CACHE_SECONDS,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.features = None if features is None else list(features)
        self.cache_seconds = cache_seconds
        self.timer = timer
        self.reads = 0
        self._lock = threading.Lock()
        self._cached: tuple[float, list[StoredRun]] | None = None

    def _read(self) -> list[StoredRun]:
        if callable(self.source):
            return list(self.source())
        from watchkeeper.ops._history import latest_runs

        return latest_runs(self.source)

    def runs(self) -> list[StoredRun]:
        """The newest run of every model, read at most once per ``cache_seconds``."""
        with self._lock:  # concurrent scrapes wait for one read instead of each reading
            now = self.timer()
            if self._cached is not None and now - self._cached[0] < self.cache_seconds:
                return self._cached[1]
            runs = self._read()
            self.reads += 1
            self._cached = (now, runs)
            return runs

    def __call__(self) -> list[Metric]:
        return monitor_families(self.runs(), features=self.features)
