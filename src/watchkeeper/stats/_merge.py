r"""One merge of two sorted samples, shared by the KS and Wasserstein kernels.

Both statistics need the two empirical CDFs at every pooled value. Rather than binary-searching
every pooled value into each sample (two random-access passes over the reference per
statistic), the samples are merged once: a stable argsort of their concatenation sees two
ascending runs and merges them in linear time, and a running count of reference values gives
both CDFs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from watchkeeper.stats._validation import FloatArray

__all__ = ["MergedSamples", "merge_sorted"]


@dataclass(frozen=True, slots=True, eq=False)
class MergedSamples:
    """The pooled sorted values and, at each position, how many of each sample came so far."""

    values: FloatArray
    count_ref: np.ndarray  # type: ignore[type-arg]
    count_cur: np.ndarray  # type: ignore[type-arg]
    n_ref: int
    n_cur: int

    def ks_statistic(self) -> float:
        """Two-sided KS :math:`D`, as ``ks_2samp`` computes it (right-continuous ECDFs)."""
        v = self.values
        # The right-continuous ECDFs at a value count its whole tie group: use group ends.
        last = np.empty(v.size, dtype=bool)
        np.not_equal(v[1:], v[:-1], out=last[:-1])
        last[-1] = True
        diffs = self.count_ref[last] / self.n_ref - self.count_cur[last] / self.n_cur
        min_s = float(np.clip(-diffs.min(), 0.0, 1.0))
        max_s = float(diffs.max())
        return min_s if min_s > max_s else max_s

    def cdf_gaps(self) -> tuple[FloatArray, FloatArray]:
        """``|F - G|`` on each interval between consecutive pooled values, and the widths."""
        widths = np.diff(self.values)
        gaps = np.abs(self.count_ref[:-1] / self.n_ref - self.count_cur[:-1] / self.n_cur)
        return gaps, widths

    def wasserstein(self) -> float:
        r""":math:`W_1 = \sum_i |F(x_i) - G(x_i)| (x_{i+1} - x_i)` over the pooled values.

        Inside a tie group the width is 0, so the running counts (not the group-end counts)
        give exactly scipy's terms.
        """
        gaps, widths = self.cdf_gaps()
        return float(np.dot(gaps, widths))


def merge_sorted(ref: FloatArray, cur: FloatArray) -> MergedSamples:
    """Merge two ascending samples (no NaN) in linear time."""
    pooled = np.concatenate([ref, cur])
    order = np.argsort(pooled, kind="stable")  # two ascending runs: a linear-time merge
    count_ref = np.cumsum(order < ref.size, dtype=np.int64)
    count_cur = np.arange(1, pooled.size + 1, dtype=np.int64) - count_ref
    return MergedSamples(pooled[order], count_ref, count_cur, int(ref.size), int(cur.size))
