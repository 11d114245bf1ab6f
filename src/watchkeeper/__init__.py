"""watchkeeper: keeps watch over machine-learning models in production.

The core is a library you can use in a notebook with two DataFrames::

    import watchkeeper
    report = watchkeeper.compare(reference_df, current_df)
    report.summary.status          # "ok" | "warning" | "alert" | "skipped"

or, fitting the reference once and comparing many windows::

    baseline = watchkeeper.Baseline.fit(reference_df, target="churned")
    report = baseline.compare(window_df)

The operational side starts with a project and its model registry::

    project = watchkeeper.Project.init("churn-project")
    version = project.register("churn", model, reference=train_df, target="churned")
    project.deploy("churn", version.version)

``import watchkeeper`` is cheap: the public names below are loaded on first use, so the
command line starts fast and nothing heavy (pandas, scipy, scikit-learn) is imported until a
comparison needs it (nor SQLAlchemy until a project is opened).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from watchkeeper._version import __version__

if TYPE_CHECKING:
    from watchkeeper import datasets, detectors, errors, performance, quality, stats
    from watchkeeper.baseline import Baseline
    from watchkeeper.clock import Clock, SimulatedClock, WallClock
    from watchkeeper.errors import WatchkeeperError
    from watchkeeper.monitor import ChunkedReport, Report, Summary, compare
    from watchkeeper.registry import Project
    from watchkeeper.results import CheckResult
    from watchkeeper.schema import ColumnSpec, Schema

__all__ = [
    "Baseline",
    "CheckResult",
    "ChunkedReport",
    "Clock",
    "ColumnSpec",
    "Project",
    "Report",
    "Schema",
    "SimulatedClock",
    "Summary",
    "WallClock",
    "WatchkeeperError",
    "__version__",
    "compare",
    "datasets",
    "detectors",
    "errors",
    "performance",
    "quality",
    "stats",
]

_LAZY: dict[str, str] = {
    "Baseline": "watchkeeper.baseline",
    "CheckResult": "watchkeeper.results",
    "ChunkedReport": "watchkeeper.monitor",
    "Clock": "watchkeeper.clock",
    "ColumnSpec": "watchkeeper.schema",
    "Project": "watchkeeper.registry",
    "Report": "watchkeeper.monitor",
    "Schema": "watchkeeper.schema",
    "SimulatedClock": "watchkeeper.clock",
    "Summary": "watchkeeper.monitor",
    "WallClock": "watchkeeper.clock",
    "WatchkeeperError": "watchkeeper.errors",
    "compare": "watchkeeper.monitor",
}
_SUBMODULES = ("datasets", "detectors", "errors", "performance", "quality", "stats")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"watchkeeper.{name}")
    else:
        raise AttributeError(f"module 'watchkeeper' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
