"""Options of a drift comparison, validated once (the decision rules live in the docs below).

Per-column decision, by default (DESIGN.md "Statistical conventions"): a feature column alerts
when its family-corrected p-value (``correction`` over the feature columns; KS for numeric,
chi-square for categorical) is below ``alpha`` AND its effect size is at least ``delta``
(normalized Wasserstein for numeric: the distance in reference standard deviations;
Jensen-Shannon distance, base 2, for categorical). It warns when the p-value is below alpha and
the effect is at least ``warning_fraction * delta``. At small n the p-value governs, at large n
the effect size does.

Defaults: ``alpha=0.05``, ``correction="holm"``, ``delta_numeric=0.1`` (a tenth of a standard
deviation of the reference), ``delta_categorical=0.1`` (JS distance, i.e. a divergence of 0.01
bits), ``min_rows=30``, dataset drift when at least half (``dataset_drift_share=0.5``) of the
checked feature columns alert.

``methods`` overrides the rule for a kind (``numeric``, ``categorical``, ``boolean``; boolean
columns follow ``categorical`` unless named) or a column: ``{"numeric": "psi"}``,
``{"age": ("ks", 0.01)}`` or ``{"plan": {"method": "jensen_shannon", "threshold": 0.2}}``. A
test method then alerts on its own uncorrected ``p_value < threshold``; a distance method on
``value >= threshold`` (see :mod:`watchkeeper.drift.methods` for default thresholds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from watchkeeper._validate import check_choice, check_int, check_number
from watchkeeper.errors import InvalidParameterError, UnknownMethodError

__all__ = ["CORRECTIONS", "KIND_KEYS", "DriftOptions", "MethodChoice"]

KIND_KEYS = ("numeric", "categorical", "boolean")

CORRECTIONS = ("holm", "bonferroni", "bh", "none")
_OWNER = "compare"


@dataclass(frozen=True, slots=True)
class MethodChoice:
    """A single method (and threshold) chosen for a column or a kind."""

    method: str
    threshold: float


@dataclass(frozen=True, slots=True)
class DriftOptions:
    """Validated options of a drift comparison (see the module docstring)."""

    alpha: float = 0.05
    correction: str = "holm"
    delta_numeric: float = 0.1
    delta_categorical: float = 0.1
    warning_fraction: float = 0.5
    methods: Mapping[str, Any] = field(default_factory=dict)
    min_rows: int = 30
    eps: float = 1e-4
    dataset_drift_share: float = 0.5
    pca_k: float = 3.0
    pca_warning_k: float = 2.0
    seed: int = 0
    n_jobs: int | None = None

    def __post_init__(self) -> None:
        check_number(_OWNER, "alpha", self.alpha, low=0, high=1, low_open=True, high_open=True)
        check_choice(_OWNER, "correction", self.correction, CORRECTIONS)
        check_number(_OWNER, "delta_numeric", self.delta_numeric, low=0)
        check_number(_OWNER, "delta_categorical", self.delta_categorical, low=0, high=1)
        check_number(_OWNER, "warning_fraction", self.warning_fraction, low=0, high=1)
        check_int(_OWNER, "min_rows", self.min_rows, low=1)
        check_number(_OWNER, "eps", self.eps, low=0, high=1, high_open=True)
        check_number(
            _OWNER, "dataset_drift_share", self.dataset_drift_share, low=0, high=1, low_open=True
        )
        check_number(_OWNER, "pca_k", self.pca_k, low=0, low_open=True)
        check_number(_OWNER, "pca_warning_k", self.pca_warning_k, low=0, low_open=True)
        check_int(_OWNER, "seed", self.seed, low=0)
        if self.n_jobs is not None:
            check_int(_OWNER, "n_jobs", self.n_jobs, low=1)
        if not isinstance(self.methods, Mapping):
            raise InvalidParameterError(
                f"The 'methods' parameter of {_OWNER} must be a mapping of column name or kind "
                f"to a method. Got {type(self.methods).__name__} instead."
            )
        object.__setattr__(
            self, "methods", {str(k): _parse_choice(str(k), v) for k, v in self.methods.items()}
        )

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The option names this class takes."""
        return tuple(f.name for f in fields(cls))

    def choice_for(self, column: str, kind: str) -> MethodChoice | None:
        """The method chosen for this column (by name, then by kind), or None for the default."""
        found: MethodChoice | None = self.methods.get(column)
        if found is None:
            found = self.methods.get(kind)
        if found is None and kind == "boolean":
            found = self.methods.get("categorical")
        return found

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe copy (recorded in report metadata)."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["methods"] = {
            k: {"method": v.method, "threshold": v.threshold} for k, v in self.methods.items()
        }
        return out


def _parse_choice(key: str, spec: Any) -> MethodChoice:
    from watchkeeper.drift.methods import METHODS

    if isinstance(spec, MethodChoice):
        return spec
    threshold: Any = None
    if isinstance(spec, str):
        name = spec
    elif isinstance(spec, tuple | list) and len(spec) == 2:
        name, threshold = spec
    elif isinstance(spec, Mapping):
        extra = set(spec) - {"method", "threshold"}
        if extra or "method" not in spec:
            raise InvalidParameterError(
                f"methods[{key!r}] must have a 'method' and optionally a 'threshold'. "
                f"Got keys {sorted(spec)} instead."
            )
        name, threshold = spec["method"], spec.get("threshold")
    else:
        raise InvalidParameterError(
            f"methods[{key!r}] must be a method name, (method, threshold) or "
            f"{{'method': ..., 'threshold': ...}}. Got {spec!r} instead."
        )
    if name not in METHODS:
        raise UnknownMethodError(
            f"methods[{key!r}]: unknown drift method {name!r}; valid methods are "
            f"{', '.join(sorted(METHODS))}."
        )
    method = METHODS[name]
    if threshold is None:
        threshold = method.default_threshold
    if method.is_test:
        t = check_number(
            _OWNER,
            f"methods[{key!r}] threshold",
            threshold,
            low=0,
            high=1,
            low_open=True,
            high_open=True,
        )
    else:
        t = check_number(_OWNER, f"methods[{key!r}] threshold", threshold, low=0, low_open=True)
    return MethodChoice(str(name), t)
