"""Dataset drift: is the window as a whole different from the reference?

The share of checked feature columns that alert is compared with ``dataset_drift_share``
(default 0.5, as in Evidently's preset). Under the default rule each column's alert already
passed the family-wise correction over the feature columns, so the share counts columns, not
coin flips; a column checked with a user-chosen method decides on its own threshold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchkeeper.results import CheckResult

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["dataset_drift"]


def dataset_drift(column_results: Sequence[CheckResult], *, share: float) -> CheckResult:
    """Summarise per-feature drift results into one ``drift.dataset`` result.

    Parameters
    ----------
    column_results
        The per-column drift results of the feature columns.
    share
        The share of checked columns that must alert for dataset drift.
    """
    checked = [r for r in column_results if r.status != "skipped"]
    drifted = [r for r in checked if r.status == "alert"]
    if not checked:
        return CheckResult(
            check="drift.dataset",
            column=None,
            value=None,
            threshold=share,
            status="skipped",
            reason="no feature column could be checked",
        )
    value = len(drifted) / len(checked)
    alert = value >= share
    names = [str(r.column) for r in drifted]
    reason = (
        f"{len(drifted)} of {len(checked)} feature columns drifted ({value:.0%}); "
        f"{'at least' if alert else 'below'} the {share:.0%} needed for dataset drift"
    )
    return CheckResult(
        check="drift.dataset",
        column=None,
        value=value,
        reference_value=0.0,
        threshold=share,
        status="alert" if alert else "ok",
        reason=reason,
        n=max((r.n for r in checked), default=0),
        n_reference=max((r.n_reference for r in checked), default=0),
        details={
            "n_columns": len(checked),
            "n_drifted": len(drifted),
            "drifted_columns": names,
            "n_skipped": len(column_results) - len(checked),
        },
    )
