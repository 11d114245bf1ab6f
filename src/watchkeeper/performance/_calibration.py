"""Calibration reference and test: does the label rate at a given score still match?

At fit time (binary tasks with scores) the reference scores are cut at their quantiles into
``calibration_bins`` bins (equal edges merged, so tied scores make fewer bins) and the label
rate of each bin is stored. A window's scores are assigned to the same bins (a score ``s`` is
in bin ``b`` when ``edges[b-1] <= s < edges[b]``; scores beyond the reference's range go to the
outer bins), and each bin's window label rate is compared with the reference's by a
two-proportion chi-square test:

    ``X² = Σ_b (r_b − q_b)² / (p̄_b (1 − p̄_b) (1/n_b + 1/m_b))``, ``df`` = bins used,

with ``r_b``, ``n_b`` the window's rate and rows, ``q_b``, ``m_b`` the reference's, ``p̄_b``
the pooled rate. A bin is used when both sides hold at least 10 rows and every expected cell
count of its 2 x 2 table is at least 5 (``min(n_b, m_b) · min(p̄_b, 1 − p̄_b) >= 5``), which
keeps the level honest on small windows (at 200 rows only the bins with rates between about
0.25 and 0.75 enter). The check's value is the largest absolute rate difference over the
bins with at least 10 rows on both sides; it alerts when ``p < alpha`` and that difference is
at least ``calibration_delta``.

Both the bin counts and the label counts come from the one sort of the scores that the ranking
metrics already made: bin boundaries are ``searchsorted`` positions in the sorted scores, the
label counts differences of the cumulative positives at those positions.

References
----------
.. [1] Cochran, W. G. (1954). Some methods for strengthening the common chi-square tests.
   Biometrics 10(4), 417-451 (the expected-count rule for the bins used).
.. [2] Hosmer, D. W. and Lemeshow, S. (1980). Goodness of fit tests for the multiple logistic
   regression model. Communications in Statistics 9(10), 1043-1069 (score-quantile bins).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy import special

if TYPE_CHECKING:
    from watchkeeper.performance._metrics import RankGroups

__all__ = [
    "MIN_BIN_ROWS",
    "CalibrationReference",
    "CalibrationTest",
    "bin_counts",
    "calibration_test",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MIN_BIN_ROWS = 10
"""A bin counts for the largest rate difference with this many rows in reference and window."""
MIN_EXPECTED = 5.0
"""A bin enters the chi-square only when each expected cell count of its 2 x 2 table (window
and reference, positives and negatives under the pooled rate) is at least this."""


@dataclass(frozen=True, slots=True, eq=False)
class CalibrationReference:
    """Reference bins of the calibration check: interior edges, rows and positives per bin."""

    edges: FloatArray
    counts: IntArray
    positives: IntArray

    @classmethod
    def fit(cls, ranks: RankGroups, bins: int) -> CalibrationReference:
        """Cut the sorted reference scores at their ``1/bins, ..., (bins-1)/bins`` quantiles."""
        q = np.arange(1, bins) / bins
        edges = np.unique(np.quantile(ranks.sorted_scores, q))
        counts, positives = bin_counts(ranks, edges)
        return cls(edges=edges, counts=counts, positives=positives)

    @property
    def rates(self) -> FloatArray:
        """Label rate per bin (NaN for an empty bin)."""
        return _rates(self.positives, self.counts)


@dataclass(frozen=True, slots=True, eq=False)
class CalibrationTest:
    """Outcome of the calibration test of one window."""

    counts: IntArray
    positives: IntArray
    used: npt.NDArray[np.bool_]
    statistic: float
    df: int
    p_value: float
    max_difference: float
    """Largest absolute label-rate difference over bins with enough rows (NaN if none)."""

    @property
    def rates(self) -> FloatArray:
        """The window's label rate per bin (NaN for an empty bin)."""
        return _rates(self.positives, self.counts)


def bin_counts(ranks: RankGroups, edges: FloatArray) -> tuple[IntArray, IntArray]:
    """Rows and positives per bin, from the sorted scores (no pass over the rows)."""
    n = ranks.sorted_scores.shape[0]
    bounds = np.concatenate(([0], np.searchsorted(ranks.sorted_scores, edges, "left"), [n]))
    bounds = bounds.astype(np.int64)
    counts = np.diff(bounds)
    positives = np.diff(ranks.cum_pos[bounds])
    return counts, positives


def _rates(positives: IntArray, counts: IntArray) -> FloatArray:
    rates: FloatArray = np.divide(
        positives.astype(np.float64),
        counts,
        out=np.full(counts.shape[0], np.nan),
        where=counts > 0,
    )
    return rates


def calibration_test(reference: CalibrationReference, ranks: RankGroups) -> CalibrationTest:
    """Two-proportion chi-square over the reference bins (module docstring)."""
    counts, positives = bin_counts(ranks, reference.edges)
    m, n = reference.counts.astype(np.float64), counts.astype(np.float64)
    enough = (reference.counts >= MIN_BIN_ROWS) & (counts >= MIN_BIN_ROWS)
    pooled = np.divide(
        (reference.positives + positives).astype(np.float64),
        m + n,
        out=np.zeros_like(m),
        where=(m + n) > 0,
    )
    # Cochran's rule: every expected cell count of the bin's 2 x 2 table at least 5.
    smaller = np.minimum(n, m) * np.minimum(pooled, 1.0 - pooled)
    used = enough & (smaller >= MIN_EXPECTED)
    r_ref = _rates(reference.positives, reference.counts)
    r_win = _rates(positives, counts)
    diff = np.where(enough, np.abs(r_win - r_ref), 0.0)
    var = np.where(
        used, pooled * (1.0 - pooled) * (1.0 / np.maximum(n, 1) + 1.0 / np.maximum(m, 1)), 1.0
    )
    stat = float(np.sum(np.where(used, diff**2 / var, 0.0)))
    df = int(np.count_nonzero(used))
    p_value = float(special.chdtrc(df, stat)) if df else float("nan")
    max_diff = float(diff.max()) if bool(enough.any()) else float("nan")
    return CalibrationTest(
        counts=counts,
        positives=positives,
        used=used,
        statistic=stat,
        df=df,
        p_value=p_value,
        max_difference=max_diff,
    )
