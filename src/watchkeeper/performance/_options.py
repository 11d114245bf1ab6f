"""Metric names per task, their direction, and :class:`PerformanceOptions` (validated once).

Decision rule of a metric check (see :mod:`watchkeeper.performance.checks`): a metric alerts
when its change against the baseline is statistically significant (one-sided normal test on
the combined standard error, ``p < alpha``) AND practically significant (a drop of at least
``max_drop`` for a higher-is-better metric, a relative increase of at least
``max_relative_increase`` for an error metric), or when the window's value is credibly beyond
an absolute ``floors`` limit. A significant change smaller than the margin is a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from watchkeeper._validate import check_int, check_number
from watchkeeper.errors import InvalidParameterError, UnknownMethodError

__all__ = [
    "CHECK_NAMES",
    "LOWER_IS_BETTER",
    "METRICS",
    "SCORE_METRICS",
    "TASKS",
    "Direction",
    "PerformanceOptions",
    "metric_direction",
]

Direction = Literal["higher_is_better", "lower_is_better"]

TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")

METRICS: Mapping[str, tuple[str, ...]] = {
    "binary": (
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "average_precision",
        "log_loss",
        "brier",
    ),
    "multiclass": (
        "accuracy",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "f1_weighted",
        "roc_auc",
        "average_precision",
        "log_loss",
        "brier",
    ),
    "regression": ("mae", "mse", "rmse", "mape", "r2"),
}
"""The metric names computed for each task, in report order."""

LOWER_IS_BETTER: frozenset[str] = frozenset({"log_loss", "brier", "mae", "mse", "rmse", "mape"})
"""Error metrics: an increase is a degradation (every other metric is higher-is-better)."""

SCORE_METRICS: frozenset[str] = frozenset({"roc_auc", "average_precision", "log_loss", "brier"})
"""Metrics that need the scores (``y_score``), not only the predicted labels."""

_ALL_METRICS: tuple[str, ...] = tuple(sorted({m for names in METRICS.values() for m in names}))

CHECK_NAMES: tuple[str, ...] = (*_ALL_METRICS, "calibration")
"""Every name ``PerformanceOptions.metrics`` accepts (the metrics and ``calibration``)."""

_OWNER = "PerformanceOptions"


def metric_direction(name: str) -> Direction:
    """Return ``"lower_is_better"`` for an error metric, ``"higher_is_better"`` otherwise.

    Parameters
    ----------
    name
        A metric name from :data:`METRICS`.

    Returns
    -------
    Direction
        The direction in which the metric improves.

    Raises
    ------
    UnknownMethodError
        If ``name`` is not a metric watchkeeper computes.

    Examples
    --------
    >>> metric_direction("log_loss"), metric_direction("roc_auc")
    ('lower_is_better', 'higher_is_better')
    """
    if name not in _ALL_METRICS:
        raise UnknownMethodError(
            f"Unknown performance metric {name!r}; valid metrics are {', '.join(_ALL_METRICS)}."
        )
    return "lower_is_better" if name in LOWER_IS_BETTER else "higher_is_better"


@dataclass(frozen=True, slots=True)
class PerformanceOptions:
    """Validated options of the performance checks.

    Parameters
    ----------
    threshold
        Binary decision threshold: without ``y_pred`` a row is predicted positive when its
        score is ``>= threshold``. Fixed when the reference is fitted (the reference's value
        governs the windows).
    alpha
        One-sided level of the band (and of the calibration test), in (0, 1).
    max_drop
        Absolute drop of a higher-is-better metric that matters (0.01 = one point).
    max_relative_increase
        Relative increase of an error metric (log_loss, brier, mae, mse, rmse, mape) that
        matters (0.10 = ten percent above the baseline).
    floors
        Optional absolute limits per metric name: a floor for higher-is-better metrics
        (``{"accuracy": 0.9}``), a ceiling for error metrics (``{"mae": 3.0}``).
    metrics
        The checks to run (metric names and/or ``"calibration"``), or None for all that apply.
    bootstrap_below
        Windows with fewer labelled rows get a bootstrap band; larger ones analytic standard
        errors (and a bootstrap on a subsample of this many rows where no formula exists).
    n_bootstrap
        Bootstrap replicates.
    min_rows
        Fewer labelled rows than this: every check is skipped.
    calibration_bins
        Score-quantile bins of the calibration reference.
    calibration_delta
        Largest per-bin label-rate difference that does not matter.
    seed
        Seed of the bootstrap and the subsample.

    Raises
    ------
    InvalidParameterError
        If a value is out of its range (the message names the option and the range).
    UnknownMethodError
        If ``floors`` or ``metrics`` name a metric watchkeeper does not compute.

    Examples
    --------
    >>> PerformanceOptions(floors={"accuracy": 0.9}, metrics=("accuracy", "f1")).floors
    {'accuracy': 0.9}
    >>> PerformanceOptions(alpha=2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    watchkeeper.errors.InvalidParameterError: The 'alpha' parameter ... Got 2 instead.
    """

    threshold: float = 0.5
    alpha: float = 0.01
    max_drop: float = 0.01
    max_relative_increase: float = 0.10
    floors: Mapping[str, float] = field(default_factory=dict)
    metrics: tuple[str, ...] | None = None
    bootstrap_below: int = 5000
    n_bootstrap: int = 500
    min_rows: int = 30
    calibration_bins: int = 10
    calibration_delta: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        check_number(_OWNER, "threshold", self.threshold)
        check_number(_OWNER, "alpha", self.alpha, low=0, high=1, low_open=True, high_open=True)
        check_number(_OWNER, "max_drop", self.max_drop, low=0)
        check_number(_OWNER, "max_relative_increase", self.max_relative_increase, low=0)
        check_int(_OWNER, "bootstrap_below", self.bootstrap_below, low=2)
        check_int(_OWNER, "n_bootstrap", self.n_bootstrap, low=10)
        check_int(_OWNER, "min_rows", self.min_rows, low=2)
        check_int(_OWNER, "calibration_bins", self.calibration_bins, low=2)
        check_number(
            _OWNER, "calibration_delta", self.calibration_delta, low=0, high=1, low_open=True
        )
        check_int(_OWNER, "seed", self.seed, low=0)
        for name in ("threshold", "max_drop", "max_relative_increase"):
            if abs(float(getattr(self, name))) == float("inf"):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {_OWNER} must be finite. "
                    f"Got {getattr(self, name)!r} instead."
                )
        object.__setattr__(self, "floors", _parse_floors(self.floors))
        object.__setattr__(self, "metrics", _parse_metrics(self.metrics))

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The option names this class takes."""
        return tuple(f.name for f in fields(cls))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe copy (recorded in report metadata and in a saved reference)."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["floors"] = dict(self.floors)
        out["metrics"] = None if self.metrics is None else list(self.metrics)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PerformanceOptions:
        """Rebuild options from :meth:`to_dict` output."""
        kwargs = dict(data)
        if kwargs.get("metrics") is not None:
            kwargs["metrics"] = tuple(kwargs["metrics"])
        return cls(**kwargs)

    def wants(self, name: str) -> bool:
        """Whether the check ``name`` (a metric or ``"calibration"``) is selected."""
        return self.metrics is None or name in self.metrics


def _parse_floors(floors: Any) -> dict[str, float]:
    if not isinstance(floors, Mapping):
        raise InvalidParameterError(
            f"The 'floors' parameter of {_OWNER} must be a mapping of metric name to an "
            f"absolute limit, e.g. {{'accuracy': 0.9}}. Got {type(floors).__name__} instead."
        )
    out: dict[str, float] = {}
    for key, value in floors.items():
        if key not in _ALL_METRICS:
            raise UnknownMethodError(
                f"The 'floors' parameter of {_OWNER} names an unknown metric {key!r}; valid "
                f"metrics are {', '.join(_ALL_METRICS)}."
            )
        v = check_number(_OWNER, f"floors[{key!r}]", value)
        if abs(v) == float("inf"):
            raise InvalidParameterError(
                f"The 'floors[{key!r}]' parameter of {_OWNER} must be finite. "
                f"Got {value!r} instead."
            )
        out[str(key)] = v
    return out


def _parse_metrics(metrics: Any) -> tuple[str, ...] | None:
    if metrics is None:
        return None
    if isinstance(metrics, str) or not isinstance(metrics, tuple | list):
        raise InvalidParameterError(
            f"The 'metrics' parameter of {_OWNER} must be a tuple of check names or None. "
            f"Got {metrics!r} instead."
        )
    names = tuple(metrics)
    if not names:
        raise InvalidParameterError(
            f"The 'metrics' parameter of {_OWNER} must name at least one check (or be None "
            "for all). Got an empty collection instead."
        )
    for name in names:
        if name not in CHECK_NAMES:
            raise UnknownMethodError(
                f"The 'metrics' parameter of {_OWNER} names an unknown check {name!r}; valid "
                f"names are {', '.join(CHECK_NAMES)}."
            )
    return tuple(dict.fromkeys(str(n) for n in names))
