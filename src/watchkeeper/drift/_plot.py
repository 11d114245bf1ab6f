"""The numbers behind a column's distribution chart, computed when its drift is checked.

A :class:`~watchkeeper.results.CheckResult` is all a report keeps, so the drift check puts
what the HTML report draws into its ``details``:

* a numeric column gets ``details["histogram"]``: equal-width bins over the central 99 % of
  both samples (:func:`numeric_histogram`), reference and current counts per bin;
* a categorical or boolean column gets ``details["distribution"]``: the largest reference
  categories with both counts, the rest summed, and the largest unseen categories
  (:func:`categorical_distribution`).

Both work on the arrays the check already prepared (sorted finite values, aligned category
counts): a few binary searches and one argsort over the categories, never a pass per row.
"""

from __future__ import annotations

import heapq
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from watchkeeper.stats.binning import bin_counts, quantiles_sorted

if TYPE_CHECKING:
    import numpy.typing as npt

    from watchkeeper.baseline._profiles import CategoricalProfile, PreparedCategorical

    FloatArray = npt.NDArray[np.float64]

__all__ = [
    "MAX_BINS",
    "MAX_CATEGORIES",
    "OTHER",
    "TAIL",
    "TOP_UNSEEN",
    "categorical_distribution",
    "histogram_edges",
    "numeric_histogram",
]

MAX_BINS = 20
"""Bins of a numeric histogram (a discrete column with a small span gets one per integer)."""

TAIL = 0.005
"""Share of each sample left out at each end when the histogram's range is chosen."""

MAX_CATEGORIES = 20
"""Reference categories drawn one by one; the rest are summed into :data:`OTHER`."""

OTHER = "(other)"
"""Label of the entry that sums the reference categories not drawn one by one."""

TOP_UNSEEN = 5
"""Unseen categories named in a distribution; the rest are counted in ``other_unseen``."""


def histogram_edges(lo: float, hi: float, *, discrete: bool) -> FloatArray:
    """Increasing bin edges covering ``[lo, hi]``.

    A discrete (integer) column gets bins centred on the integers, one integer per bin when
    at most :data:`MAX_BINS` integers lie in the range, else an equal whole number of integers
    per bin (so no bin holds one integer more than its neighbour by rounding). Any other
    column gets :data:`MAX_BINS` equal-width bins; a range of one value gets one bin around it.
    """
    if discrete:
        first, last = math.floor(lo), math.ceil(hi)
        width = max(1, math.ceil((last - first + 1) / MAX_BINS))
        n_bins = math.ceil((last - first + 1) / width)
        edges = float(first) - 0.5 + float(width) * np.arange(n_bins + 1, dtype=np.float64)
    elif lo == hi:
        pad = abs(lo) * 0.05 if lo != 0 else 0.5
        edges = np.array([lo - pad, hi + pad], dtype=np.float64)
    else:
        edges = np.linspace(lo, hi, MAX_BINS + 1)
    # Near the limits of float precision neighbouring edges can round to the same number.
    edges = np.unique(edges)
    if edges.shape[0] < 2:
        return np.array([lo, np.nextafter(hi, np.inf)], dtype=np.float64)
    return edges


def _bin_counts(sorted_values: FloatArray, edges: FloatArray) -> list[int]:
    """Counts per bin of sorted values, values outside the edges counted in the end bins.

    Bins are ``[a, b)`` except the last, ``[a, b]``: the same as ``numpy.histogram`` of the
    values clipped to ``[edges[0], edges[-1]]``.
    """
    counts = bin_counts(sorted_values, edges, presorted=True)  # with an overflow bin each end
    counts[1] += counts[0]
    counts[-2] += counts[-1]
    return [int(c) for c in counts[1:-1]]


def numeric_histogram(
    reference: FloatArray, current: FloatArray, *, discrete: bool
) -> dict[str, Any] | None:
    """Reference and current counts over shared bins, or None when a sample is empty.

    Parameters
    ----------
    reference, current
        Sorted finite values of each sample.
    discrete
        Whether the column holds integers (bins centred on them; see :func:`histogram_edges`).

    Returns
    -------
    dict or None
        ``{"edges": [...], "reference": [counts], "current": [counts], "discrete": bool}``
        (plain floats and ints; one more edge than counts), or None when either sample has no
        value or the range cannot be represented (its width overflows).

    Notes
    -----
    The range runs from the lower of the two samples' 0.5 % quantiles to the higher of their
    99.5 % quantiles (numpy's linear rule), so one extreme value does not squeeze the rest
    into a single bar; values outside it are counted in the first or last bin. When that
    range is one value (almost every value equal), it widens to the samples' minimum and
    maximum. Each sample's counts sum to its number of values.

    Examples
    --------
    >>> import numpy as np
    >>> h = numeric_histogram(np.arange(10.0), np.arange(2.0, 8.0), discrete=True)
    >>> h["edges"][:3], h["reference"], h["current"]
    ([-0.5, 0.5, 1.5], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1, 1, 0, 0])
    """
    if reference.shape[0] == 0 or current.shape[0] == 0:
        return None
    q = np.array([TAIL, 1.0 - TAIL])
    with np.errstate(over="ignore", invalid="ignore"):  # values near the float limits
        ref_q, cur_q = quantiles_sorted(reference, q), quantiles_sorted(current, q)
        lo, hi = float(min(ref_q[0], cur_q[0])), float(max(ref_q[1], cur_q[1]))
        if lo == hi:
            lo = float(min(reference[0], current[0]))
            hi = float(max(reference[-1], current[-1]))
        if not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(hi - lo)):
            return None
        edges = histogram_edges(lo, hi, discrete=discrete)
    if not np.all(np.isfinite(edges)):
        return None
    return {
        "edges": [float(e) for e in edges],
        "reference": _bin_counts(reference, edges),
        "current": _bin_counts(current, edges),
        "discrete": discrete,
    }


def categorical_distribution(
    profile: CategoricalProfile, current: PreparedCategorical
) -> dict[str, Any] | None:
    """Reference and current counts of the main categories, and the unseen ones.

    Parameters
    ----------
    profile
        The column's reference categories and counts.
    current
        The window's counts aligned with ``profile`` and its unseen categories.

    Returns
    -------
    dict or None
        None when either sample has no value, else::

            {"categories": [...], "reference": [counts], "current": [counts],
             "n_other": int, "unseen": {category: count}, "other_unseen": int}

        ``categories`` holds the :data:`MAX_CATEGORIES` reference categories with the
        largest share in either sample (largest first); when more than one is left over,
        they are summed into a last entry labelled :data:`OTHER` and ``n_other`` says how
        many it holds (0 when there is no such entry). ``unseen`` names the
        :data:`TOP_UNSEEN` categories the reference never had with the most rows (largest
        first, ties by name); ``other_unseen`` counts the rows of the remaining unseen ones.
        Shares are counts over each sample's non-missing rows, unseen rows included.
    """
    n_ref, n_cur = profile.n_valid, current.n_valid
    if n_ref == 0 or n_cur == 0:
        return None
    ref, cur = profile.counts, current.counts
    weight = np.maximum(ref / n_ref, cur / n_cur)
    order = np.argsort(-weight, kind="stable")
    keep = order if order.shape[0] <= MAX_CATEGORIES + 1 else order[:MAX_CATEGORIES]
    rest = order[keep.shape[0] :]
    categories = [profile.categories[i] for i in keep.tolist()]
    reference = [int(c) for c in ref[keep]]
    window = [int(c) for c in cur[keep]]
    if rest.shape[0]:
        categories.append(OTHER)
        reference.append(int(ref[rest].sum()))
        window.append(int(cur[rest].sum()))
    top = heapq.nsmallest(TOP_UNSEEN, current.unseen.items(), key=lambda kv: (-kv[1], kv[0]))
    named = {label: int(count) for label, count in top}
    return {
        "categories": categories,
        "reference": reference,
        "current": window,
        "n_other": int(rest.shape[0]),
        "unseen": named,
        "other_unseen": int(current.n_unseen - sum(named.values())),
    }
