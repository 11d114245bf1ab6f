"""Window-level quality checks: schema (missing and unexpected columns), duplicate rows and
the empty window."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from watchkeeper.quality._rates import rate_check
from watchkeeper.results import CheckResult

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np

    from watchkeeper.quality._options import QualityOptions
    from watchkeeper.quality._rows import DatasetReference

__all__ = ["dataset_quality", "empty_window"]


def dataset_quality(
    *,
    n_rows: int,
    expected_columns: Sequence[str],
    present: Sequence[str],
    unexpected: Sequence[str],
    reference: DatasetReference | None,
    hashes: np.ndarray[Any, Any] | None,
    options: QualityOptions,
) -> list[CheckResult]:
    """The window-level checks: schema (missing and unexpected columns) and duplicate rows."""
    missing = [c for c in expected_columns if c not in present]
    out = [
        _column_set(
            "quality.missing_columns",
            missing,
            n_rows,
            f"column(s) {', '.join(missing)} of the schema are missing",
            "every schema column is present",
        ),
        _column_set(
            "quality.unexpected_columns",
            list(unexpected),
            n_rows,
            f"column(s) {', '.join(unexpected)} are not in the schema",
            "no column outside the schema",
        ),
    ]
    if reference is None or hashes is None:
        absent = [] if reference is None else [c for c in reference.columns if c not in present]
        out.append(
            CheckResult(
                check="quality.duplicate_rows",
                column=None,
                value=None,
                status="skipped",
                reason=(
                    f"column(s) {', '.join(absent)} are missing, so rows cannot be compared"
                    if absent
                    else "the baseline has no row reference"
                ),
            )
        )
        return out
    from watchkeeper.quality._rows import duplicate_count

    k = duplicate_count(hashes)
    expected = reference.expected_duplicates(n_rows)
    from scipy.stats import poisson

    p = 1.0 if k == 0 else (0.0 if expected <= 0 else float(poisson.sf(k - 1, expected)))
    out.append(
        rate_check(
            "quality.duplicate_rows",
            None,
            k=k,
            n=n_rows,
            expected=expected / n_rows if n_rows else 0.0,
            margin=options.margin("duplicate_rows"),
            options=options,
            what="rows that repeat an earlier row",
            n_reference=reference.n_rows,
            details={"columns": list(reference.columns), "expected_count": expected},
            p_value=p,
        )
    )
    return out


def _column_set(check: str, columns: list[str], n_rows: int, bad: str, good: str) -> CheckResult:
    """A schema check: alert when ``columns`` (missing or unexpected ones) is not empty."""
    return CheckResult(
        check=check,
        column=None,
        value=len(columns),
        reference_value=0,
        threshold=0,
        status="alert" if columns else "ok",
        reason=bad if columns else good,
        n=n_rows,
        details={"columns": columns},
    )


def empty_window(n_rows: int) -> CheckResult:
    """``quality.empty_window``: an alert when the window has no rows."""
    return CheckResult(
        check="quality.empty_window",
        column=None,
        value=n_rows,
        threshold=0,
        status="alert" if n_rows == 0 else "ok",
        reason="the window has no rows" if n_rows == 0 else f"{n_rows} rows",
        n=n_rows,
    )
