"""The :class:`Summary` of a report and the :class:`DriftedColumn` entries it ranks.

Private module; both classes are public through :mod:`watchkeeper.monitor.report`.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from watchkeeper.results import STATUSES, CheckResult, Status, worst_status

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["DriftedColumn", "Summary"]


@dataclass(frozen=True, slots=True)
class DriftedColumn:
    """A column whose drift check alerted.

    Parameters
    ----------
    column
        The column name.
    check
        The drift check that alerted, e.g. ``drift.wasserstein``.
    value
        Its effect size (the check's value), or None.
    p_value
        Its p-value, or None.
    """

    column: str
    check: str
    value: float | None
    p_value: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict of every field."""
        return {
            "column": self.column,
            "check": self.check,
            "value": self.value,
            "p_value": self.p_value,
        }


@dataclass(frozen=True, slots=True)
class Summary:
    """What a report says at a glance.

    Parameters
    ----------
    status
        The worst status over the checks (``alert`` > ``warning`` > ``ok`` > ``skipped``);
        ``skipped`` for a report without checks.
    counts
        Number of checks per status; every status is a key (0 when none).
    n_checks
        Number of checks.
    drifted_columns
        Columns with an alerting ``drift.*`` check on the whole window, largest effect size
        (value) first; one entry per column (its alerting drift check with the largest
        value). Warnings and per-segment results are not listed.
    dataset_drift
        Whether the whole window's ``drift.dataset`` check alerted; None when there is no
        such check or it was skipped. Per-segment results do not count.
    n_reference, n_current
        Rows of the reference and current data, from the report's metadata (0 if absent).
    """

    status: Status
    counts: Mapping[Status, int]
    n_checks: int
    drifted_columns: tuple[DriftedColumn, ...]
    dataset_drift: bool | None
    n_reference: int
    n_current: int

    @classmethod
    def from_checks(cls, checks: Sequence[CheckResult], metadata: Mapping[str, Any]) -> Summary:
        """Summarize ``checks``; sizes are read from ``metadata``."""
        counts = dict.fromkeys(STATUSES, 0)
        for check in checks:
            counts[check.status] += 1
        dataset = [
            c.status
            for c in checks
            if c.check == "drift.dataset" and c.segment is None and c.status != "skipped"
        ]
        return cls(
            status=worst_status([c.status for c in checks]),
            counts=MappingProxyType(counts),
            n_checks=len(checks),
            drifted_columns=_drifted_columns(checks),
            dataset_drift=("alert" in dataset) if dataset else None,
            n_reference=int(metadata.get("n_reference") or 0),
            n_current=int(metadata.get("n_current") or 0),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict of every field."""
        return {
            "status": self.status,
            "counts": dict(self.counts),
            "n_checks": self.n_checks,
            "drifted_columns": [d.to_dict() for d in self.drifted_columns],
            "dataset_drift": self.dataset_drift,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
        }


def _drifted_columns(checks: Sequence[CheckResult]) -> tuple[DriftedColumn, ...]:
    best: dict[str, CheckResult] = {}
    for c in checks:
        whole_window = c.segment is None
        if c.family != "drift" or c.column is None or not whole_window or c.status != "alert":
            continue
        held = best.get(c.column)
        if held is None or _effect(c) > _effect(held):
            best[c.column] = c
    ranked = sorted(best.values(), key=_effect, reverse=True)  # stable: ties keep input order
    return tuple(DriftedColumn(c.column or "", c.check, c.value, c.p_value) for c in ranked)


def _effect(check: CheckResult) -> float:
    return float("-inf") if check.value is None else check.value
