"""The result of one check: :class:`CheckResult`, and the statuses it can have.

A check compares one thing (a column, a pair of columns, the whole window) against the
baseline and says how far it moved and whether that matters. Results are frozen; ``details``
holds only JSON-safe values (numbers, strings, booleans, None, lists and dicts of them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["STATUSES", "CheckResult", "Status", "worst_status"]

Status = Literal["ok", "warning", "alert", "skipped"]
"""``ok`` | ``warning`` | ``alert`` | ``skipped`` (too little data, or not applicable)."""

STATUSES: tuple[Status, ...] = ("ok", "warning", "alert", "skipped")

_SEVERITY: dict[str, int] = {"skipped": 0, "ok": 1, "warning": 2, "alert": 3}


def worst_status(statuses: list[Status] | tuple[Status, ...]) -> Status:
    """Return the most severe status (``alert`` > ``warning`` > ``ok`` > ``skipped``).

    An empty list gives ``skipped``.

    Examples
    --------
    >>> worst_status(["ok", "warning", "skipped"])
    'warning'
    """
    if not statuses:
        return "skipped"
    return max(statuses, key=_SEVERITY.__getitem__)


def _json_safe(value: Any) -> Any:
    """Turn numpy scalars/arrays and tuples into plain JSON-safe Python values."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist):  # numpy scalars and arrays
        return _json_safe(tolist())
    return str(value)


def _opt_float(value: float | None) -> float | None:
    if value is None:
        return None
    f = float(value)
    return f if math.isfinite(f) else None


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check.

    Parameters
    ----------
    check
        Dotted check name, e.g. ``drift.wasserstein``, ``drift.dataset``.
    column
        The column checked, or None for a dataset-level check.
    value
        The measured value in the current window (statistic, distance, rate...).
    reference_value
        The same quantity on the reference, where it has one (else None).
    p_value
        The p-value that decided the status (family-corrected where the check says so), or None.
    threshold
        The alert threshold the decision used.
    warning_threshold
        The warning threshold, or None when the check has no warning level.
    status
        ``ok``, ``warning``, ``alert`` or ``skipped``.
    reason
        One human sentence saying why the status is what it is.
    n
        Rows of the current window the check used.
    n_reference
        Rows of the reference the check used.
    details
        JSON-safe mapping with method parameters, bin edges and counts, example values.
    segment
        The segment the check ran on (``"contract=Two year"``), or None for the whole window.
    """

    check: str
    column: str | None
    value: float | None
    reference_value: float | None = None
    p_value: float | None = None
    threshold: float | None = None
    warning_threshold: float | None = None
    status: Status = "ok"
    reason: str = ""
    n: int = 0
    n_reference: int = 0
    details: Mapping[str, Any] = field(default_factory=dict)
    segment: str | None = None

    def __post_init__(self) -> None:
        # Normalise numeric fields so that numpy scalars never leak into reports.
        object.__setattr__(self, "value", _opt_float(self.value))
        object.__setattr__(self, "reference_value", _opt_float(self.reference_value))
        object.__setattr__(self, "p_value", _opt_float(self.p_value))
        object.__setattr__(self, "threshold", _opt_float(self.threshold))
        object.__setattr__(self, "warning_threshold", _opt_float(self.warning_threshold))
        object.__setattr__(self, "n", int(self.n))
        object.__setattr__(self, "n_reference", int(self.n_reference))
        object.__setattr__(self, "details", _json_safe(dict(self.details)))

    @property
    def family(self) -> str:
        """The first part of the dotted name: ``drift``, ``quality``, ``performance``."""
        return self.check.split(".", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict of every field."""
        return {
            "check": self.check,
            "column": self.column,
            "value": self.value,
            "reference_value": self.reference_value,
            "p_value": self.p_value,
            "threshold": self.threshold,
            "warning_threshold": self.warning_threshold,
            "status": self.status,
            "reason": self.reason,
            "n": self.n,
            "n_reference": self.n_reference,
            "details": dict(self.details),
            "segment": self.segment,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        """Rebuild a result from :meth:`to_dict` output."""
        return cls(
            check=str(data["check"]),
            column=data.get("column"),
            value=data.get("value"),
            reference_value=data.get("reference_value"),
            p_value=data.get("p_value"),
            threshold=data.get("threshold"),
            warning_threshold=data.get("warning_threshold"),
            status=data.get("status", "ok"),
            reason=str(data.get("reason", "")),
            n=int(data.get("n", 0)),
            n_reference=int(data.get("n_reference", 0)),
            details=dict(data.get("details") or {}),
            segment=data.get("segment"),
        )
