"""Reference-based bins for numeric columns: :func:`bin_edges` and :func:`bin_counts`.

The edges are fixed from the reference alone, so every later window is counted into the same
bins, plus two overflow bins for values outside the reference range.

Edge convention (``edges`` = ``e[0] <= ... <= e[m]``, ``len(edges) == m + 1``; the counts have
``m + 2`` entries)::

    counts[0]        x <  e[0]                  below the reference minimum (overflow)
    counts[i]        e[i-1] <= x < e[i]         i = 1 .. m-1 (left-closed, right-open)
    counts[m]        e[m-1] <= x <= e[m]        the last inner bin is closed on both sides
    counts[m + 1]    x >  e[m]                  above the reference maximum (overflow)

so every reference value falls into an inner bin and both overflow bins are empty for it.
The edges are strictly increasing, except for a constant reference, whose edges are the
pair ``[c, c]`` (bins: below ``c``, equal to ``c``, above ``c``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from watchkeeper.errors import EmptyInputError, InvalidInputError
from watchkeeper.stats._validation import (
    FloatArray,
    IntArray,
    check_bool,
    check_choice,
    check_int,
)

__all__ = ["BINNINGS", "bin_counts", "bin_edges"]

BINNINGS = ("quantile", "uniform")
"""The binning rules :func:`bin_edges` knows."""


def quantiles_sorted(v: FloatArray, q: FloatArray) -> FloatArray:
    """Quantiles of sorted ``v`` with numpy's default ``linear`` rule (the same arithmetic)."""
    virtual = q * (v.size - 1)
    below = np.floor(virtual).astype(np.intp)
    above = np.minimum(below + 1, v.size - 1)
    gamma = virtual - below
    a, b = v[below], v[above]
    diff = b - a
    # numpy's _lerp: interpolate from the nearer end for accuracy and monotonicity
    return np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)


def bin_edges(
    reference: npt.ArrayLike,
    *,
    bins: int = 10,
    binning: str = "quantile",
    presorted: bool = False,
) -> FloatArray:
    """Bin edges for a numeric reference: ``bins`` bins between its minimum and maximum.

    Parameters
    ----------
    reference
        Finite numeric values (1-D, no NaN, no inf).
    bins
        Number of inner bins before duplicate edges are collapsed (>= 1).
    binning
        ``"quantile"``: edges at the reference quantiles ``0, 1/bins, ..., 1`` (linear
        interpolation, numpy's default), so the inner bins hold about equal shares;
        ``"uniform"``: equally spaced edges from the minimum to the maximum.
    presorted
        Promise that ``reference`` is sorted ascending, which skips the sort (the promise is
        not verified).

    Returns
    -------
    ndarray
        Strictly increasing float64 edges, first the reference minimum and last its maximum
        (duplicate quantile edges collapsed); ``[c, c]`` for a constant reference. See the
        module docstring for the side each edge belongs to.

    Raises
    ------
    InvalidParameterError
        If ``bins`` < 1 or ``presorted`` is not a bool.
    UnknownMethodError
        If ``binning`` is not ``"quantile"`` or ``"uniform"``.
    EmptyInputError, InvalidInputError
        If the reference is empty, not 1-D, or holds NaN or infinite values.

    Notes
    -----
    With ``binning="quantile"`` and sorted reference :math:`v_{(0)} \\le \\dots \\le v_{(n-1)}`,
    edge :math:`j` is :math:`Q(j/b)` with :math:`Q(q) = v_{(\\lfloor h \\rfloor)} + (h -
    \\lfloor h \\rfloor)(v_{(\\lfloor h \\rfloor + 1)} - v_{(\\lfloor h \\rfloor)})`,
    :math:`h = q(n-1)` (Hyndman & Fan's definition 7).

    References
    ----------
    .. [1] Hyndman, R. J. and Fan, Y. (1996). Sample quantiles in statistical packages.
       The American Statistician, 50(4), 361-365.

    Examples
    --------
    >>> bin_edges([1.0, 2.0, 3.0, 4.0, 5.0], bins=4)
    array([1., 2., 3., 4., 5.])
    >>> bin_edges([0, 0, 0, 0, 1], bins=4)  # the three edges at 0 collapse into one
    array([0., 1.])
    >>> bin_edges([7, 7, 7], bins=3, binning="uniform")
    array([7., 7.])
    """
    func = "bin_edges"
    n_bins = check_int(bins, "bins", func, minimum=1)
    rule = check_choice(binning, "binning", func, BINNINGS)
    is_sorted = check_bool(presorted, "presorted", func)
    v = np.asarray(reference, dtype=np.float64)
    if v.ndim != 1:
        raise InvalidInputError(f"reference must be 1-D; got an array of shape {v.shape}.")
    if v.size == 0:
        raise EmptyInputError(f"reference is empty; {func} needs at least one value.")
    if not np.all(np.isfinite(v)):
        raise InvalidInputError(
            f"reference must hold finite values for {func}; drop NaN and infinite values first."
        )
    if rule == "quantile":
        v_sorted = v if is_sorted else np.sort(v)
        edges = quantiles_sorted(v_sorted, np.linspace(0.0, 1.0, n_bins + 1))
        edges = np.maximum.accumulate(edges)  # guard against rounding non-monotonicity
    else:
        low, high = (v[0], v[-1]) if is_sorted else (v.min(), v.max())
        edges = np.linspace(low, high, n_bins + 1)
    keep = np.concatenate(([True], np.diff(edges) > 0))
    edges = edges[keep]
    if edges.size == 1:  # constant reference: the closed bin [c, c]
        edges = np.array([edges[0], edges[0]])
    return edges


def _check_edges(edges: npt.ArrayLike) -> FloatArray:
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or e.size < 2:
        raise InvalidInputError(f"edges must be 1-D with at least 2 values; got shape {e.shape}.")
    if not np.all(np.isfinite(e)):
        raise InvalidInputError("edges must be finite.")
    constant_pair = e.size == 2 and e[0] == e[1]
    if not (constant_pair or np.all(np.diff(e) > 0)):
        raise InvalidInputError(
            "edges must be strictly increasing (or a pair of equal values for a constant "
            "reference), as bin_edges returns them."
        )
    return e


def bin_counts(values: npt.ArrayLike, edges: npt.ArrayLike, *, presorted: bool = False) -> IntArray:
    r"""Count ``values`` into the bins of ``edges``, with an overflow bin at each end.

    Parameters
    ----------
    values
        Numeric values (1-D, no NaN; ±inf land in the overflow bins).
    edges
        Edges as returned by :func:`bin_edges`.
    presorted
        Promise that ``values`` is sorted ascending: the counts then come from a binary search
        of the edges into the values, O(k log n) for k edges (the promise is not verified).

    Returns
    -------
    ndarray
        int64 counts of length ``len(edges) + 1``: below ``edges[0]``, the inner bins, above
        ``edges[-1]`` (see the module docstring for the side each edge belongs to).

    Raises
    ------
    InvalidInputError
        If ``values`` is not 1-D or holds NaN, or ``edges`` is not a valid edge vector.

    Notes
    -----
    Unsorted values: bin :math:`i` of :math:`x` is :math:`\#\{j : e_j \le x\}` (a binary
    search of :math:`x` into the edges), except that :math:`x = e_m` goes to bin :math:`m`.
    Sorted values: the cumulative counts :math:`\#\{x < e_0\}, \dots, \#\{x < e_{m-1}\},
    \#\{x \le e_m\}, n` come from binary searches of the edges into the values, and the
    counts are their differences.

    References
    ----------
    .. [1] Knuth, D. E. (1998). The Art of Computer Programming, Vol. 3: Sorting and
       Searching, 2nd ed., section 6.2.1 (binary search). Addison-Wesley.

    Examples
    --------
    >>> edges = bin_edges([1.0, 2.0, 3.0, 4.0, 5.0], bins=2)
    >>> edges
    array([1., 3., 5.])
    >>> bin_counts([0.0, 1.0, 2.9, 3.0, 5.0, 6.0], edges)
    array([1, 2, 2, 1])
    """
    e = _check_edges(edges)
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise InvalidInputError(f"values must be 1-D; got an array of shape {v.shape}.")
    if check_bool(presorted, "presorted", "bin_counts"):
        if v.size and np.isnan(v[-1]):
            raise InvalidInputError("values contains NaN values; bin_counts needs them removed.")
        below_inner = np.searchsorted(v, e[:-1], side="left")  # values < e[i]
        up_to_last = np.searchsorted(v, e[-1:], side="right")  # values <= e[m]
        cuts = np.concatenate(([0], below_inner, up_to_last, [v.size]))
        return np.diff(cuts).astype(np.int64)
    if np.isnan(v).any():
        raise InvalidInputError("values contains NaN values; bin_counts needs them removed.")
    index = np.searchsorted(e, v, side="right")
    index[v == e[-1]] = e.size - 1  # the last inner bin is closed on the right
    return np.bincount(index, minlength=e.size + 1).astype(np.int64)
