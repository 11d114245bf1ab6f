"""Options of the data-quality checks, validated once.

Every rate check compares the window's rate with the rate the reference itself has (the
*expected* rate) and alerts when the excess is both statistically significant (one-sided
binomial test, ``p < alpha``) and larger than the check's **margin**; it warns when significant
and the excess exceeds ``warning_fraction * margin``. A margin of 0 alerts on any significant
excess. Defaults (the seed's "missing > 5 %" and "outliers > 1 %" became margins):

=================== ====== ===========================================================
rate                margin expected (reference) rate
=================== ====== ===========================================================
``missing_rate``    0.05   the reference's missing share in that column
``outlier_rate``    0.01   the reference's share outside the same fences
``out_of_range``    0.01   2 / (n + 1) for the reference min/max (the chance a new value
                           falls outside the range of n draws); the reference's own share
                           outside user ``bounds``
``non_finite``      0.0    the reference's share of ±inf
``unseen``          0.01   Good–Turing, add-one: (categories seen once + 1) / (rows + 1)
``type_violations`` 0.0    0 (values of a numeric column that are not numbers)
``duplicate_rows``  0.01   expected duplicates of a sample of the window's size drawn from
                           the reference's repeated rows
=================== ====== ===========================================================

``margins`` overrides these globally; ``overrides`` per kind (``numeric``, ``categorical``,
``boolean``) or per column: ``{"age": {"missing_rate": 0.2}, "categorical": {"unseen": 0.05}}``
(a column entry wins over its kind).

Outliers: ``outlier_rule="iqr"`` (default) flags values beyond the reference quartiles ±
``iqr_k`` × IQR; ``"zscore"`` beyond the reference mean ± ``z`` standard deviations.
Cardinality explosion: a categorical window with more than ``max(cardinality_factor × r,
r + cardinality_min_new)`` distinct values, r the reference's count, alerts. A column is
(near-)constant when one value holds at least ``near_constant_share`` of its values; that
alerts when the reference's top value share was below it and the window's share is
significantly above the reference's share of that value; it is judged on at least ``min_rows``
(30) values (one row is trivially constant).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from watchkeeper._validate import check_choice, check_int, check_number
from watchkeeper.errors import InvalidParameterError, UnknownMethodError

__all__ = ["DEFAULT_MARGINS", "QualityOptions"]

DEFAULT_MARGINS: Mapping[str, float] = {
    "missing_rate": 0.05,
    "outlier_rate": 0.01,
    "out_of_range": 0.01,
    "non_finite": 0.0,
    "unseen": 0.01,
    "type_violations": 0.0,
    "duplicate_rows": 0.01,
}
_KINDS = ("numeric", "categorical", "boolean")
_OWNER = "compare(quality=...)"


@dataclass(frozen=True, slots=True)
class QualityOptions:
    """Validated options of the data-quality checks (see the module docstring)."""

    alpha: float = 0.01
    margins: Mapping[str, float] = field(default_factory=dict)
    overrides: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    warning_fraction: float = 0.5
    outlier_rule: str = "iqr"
    iqr_k: float = 1.5
    z: float = 3.0
    bounds: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)
    cardinality_factor: float = 2.0
    cardinality_min_new: int = 5
    near_constant_share: float = 0.99
    min_rows: int = 30
    examples: int = 5

    def __post_init__(self) -> None:
        check_number(_OWNER, "alpha", self.alpha, low=0, high=1, low_open=True, high_open=True)
        check_number(_OWNER, "warning_fraction", self.warning_fraction, low=0, high=1)
        check_choice(_OWNER, "outlier_rule", self.outlier_rule, ("iqr", "zscore"))
        check_number(_OWNER, "iqr_k", self.iqr_k, low=0, low_open=True)
        check_number(_OWNER, "z", self.z, low=0, low_open=True)
        check_number(_OWNER, "cardinality_factor", self.cardinality_factor, low=1)
        check_int(_OWNER, "cardinality_min_new", self.cardinality_min_new, low=1)
        check_number(
            _OWNER, "near_constant_share", self.near_constant_share, low=0.5, high=1, low_open=True
        )
        check_int(_OWNER, "min_rows", self.min_rows, low=1)
        check_int(_OWNER, "examples", self.examples, low=0)
        object.__setattr__(self, "margins", _margins("margins", self.margins))
        if not isinstance(self.overrides, Mapping):
            raise InvalidParameterError(
                f"The 'overrides' parameter of {_OWNER} must map a column name or kind to "
                f"margins. Got {type(self.overrides).__name__} instead."
            )
        object.__setattr__(
            self,
            "overrides",
            {str(k): _margins(f"overrides[{k!r}]", v) for k, v in self.overrides.items()},
        )
        if not isinstance(self.bounds, Mapping):
            raise InvalidParameterError(
                f"The 'bounds' parameter of {_OWNER} must map a column name to (low, high). "
                f"Got {type(self.bounds).__name__} instead."
            )
        object.__setattr__(
            self, "bounds", {str(k): _bounds(str(k), v) for k, v in self.bounds.items()}
        )

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The option names this class takes."""
        return tuple(f.name for f in fields(cls))

    def margin(self, rate: str, column: str | None = None, kind: str | None = None) -> float:
        """The margin of ``rate`` for a column: column override, kind override, global."""
        for key in (column, kind, "categorical" if kind == "boolean" else None):
            if key is not None and rate in self.overrides.get(key, {}):
                return self.overrides[key][rate]
        return self.margins.get(rate, DEFAULT_MARGINS[rate])

    def check_keys(self, columns: list[str]) -> None:
        """Refuse override or bounds keys that are neither a known column nor a kind."""
        stray = [k for k in self.overrides if k not in columns and k not in _KINDS]
        stray += [k for k in self.bounds if k not in columns]
        if stray:
            raise InvalidParameterError(
                f"quality options name {', '.join(map(repr, stray))}, which is not a column of "
                f"the baseline (or, for overrides, a kind: {', '.join(_KINDS)})."
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe copy (recorded in report metadata)."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["margins"] = {**DEFAULT_MARGINS, **self.margins}
        out["overrides"] = {k: dict(v) for k, v in self.overrides.items()}
        out["bounds"] = {k: list(v) for k, v in self.bounds.items()}
        return out


def _margins(where: str, value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise InvalidParameterError(
            f"{where} must map rate names to margins. Got {type(value).__name__} instead."
        )
    out: dict[str, float] = {}
    for key, margin in value.items():
        if key not in DEFAULT_MARGINS:
            raise UnknownMethodError(
                f"{where}: unknown rate {key!r}; valid rates are {', '.join(DEFAULT_MARGINS)}."
            )
        out[str(key)] = check_number(_OWNER, f"{where}[{key!r}]", margin, low=0, high=1)
    return out


def _bounds(column: str, value: Any) -> tuple[float | None, float | None]:
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise InvalidParameterError(
            f"bounds[{column!r}] must be (low, high), either of them None. Got {value!r} instead."
        )
    low = None if value[0] is None else check_number(_OWNER, f"bounds[{column!r}] low", value[0])
    high = None if value[1] is None else check_number(_OWNER, f"bounds[{column!r}] high", value[1])
    if low is not None and high is not None and low > high:
        raise InvalidParameterError(f"bounds[{column!r}]: low {low:g} is above high {high:g}.")
    return low, high
