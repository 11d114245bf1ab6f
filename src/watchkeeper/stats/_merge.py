r"""One merge of two sorted samples, shared by the KS, Wasserstein and energy kernels.

Each statistic needs the two empirical CDFs at every pooled value. Rather than binary-searching
every pooled value into each sample (two random-access passes per statistic), the samples are
merged once: a stable argsort of their concatenation sees two ascending runs and merges them in
linear time, and a running count of reference values gives both CDFs. The CDF difference is
computed once, with the same arithmetic as scipy (``count / n`` per sample, then the
difference), so the statistics are bit-for-bit scipy's terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from watchkeeper.stats._validation import FloatArray

__all__ = ["MergedSamples", "merge_sorted"]


@dataclass(frozen=True, slots=True, eq=False)
class MergedSamples:
    """Pooled sorted values and :math:`F_{ref} - F_{cur}` after each of them."""

    values: FloatArray
    cdf_diff: FloatArray

    def ks_statistic(self) -> float:
        """Two-sided KS :math:`D`, as ``ks_2samp`` computes it (right-continuous ECDFs)."""
        v = self.values
        # The right-continuous ECDFs at a value count its whole tie group: use group ends.
        last = np.empty(v.size, dtype=bool)
        np.not_equal(v[1:], v[:-1], out=last[:-1])
        last[-1] = True
        diffs = self.cdf_diff if bool(last.all()) else self.cdf_diff[last]
        min_s = float(np.clip(-diffs.min(), 0.0, 1.0))
        max_s = float(diffs.max())
        return min_s if min_s > max_s else max_s

    def cdf_gaps(self) -> tuple[FloatArray, FloatArray]:
        """``|F - G|`` on each interval between consecutive pooled values, and the widths.

        Inside a tie group the width is 0, so the running counts (not the group-end counts)
        give exactly scipy's terms.
        """
        return np.abs(self.cdf_diff[:-1]), np.diff(self.values)

    def wasserstein(self) -> float:
        r""":math:`W_1 = \sum_i |F(x_i) - G(x_i)| (x_{i+1} - x_i)` over the pooled values."""
        gaps, widths = self.cdf_gaps()
        return float(np.dot(gaps, widths))


def merge_sorted(ref: FloatArray, cur: FloatArray) -> MergedSamples:
    """Merge two ascending samples (no NaN) in linear time.

    Temporaries are released as soon as they are used: at a million rows a side each pooled
    array is 16 MB, and several columns are merged at once in threads.
    """
    n = ref.size + cur.size
    pooled = np.concatenate([ref, cur])
    order = np.argsort(pooled, kind="stable")  # two ascending runs: a linear-time merge
    values = pooled[order]
    del pooled
    index: type[np.signedinteger[Any]] = np.int64 if n >= 2**31 else np.int32
    counts: npt.NDArray[np.signedinteger[Any]] = np.cumsum(order < ref.size, dtype=index)
    del order
    cdf_diff = counts / ref.size
    np.subtract(np.arange(1, n + 1, dtype=index), counts, out=counts)  # current values so far
    cdf_diff -= counts / cur.size
    return MergedSamples(values, cdf_diff)
