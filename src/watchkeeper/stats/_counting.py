"""From two raw samples to two count vectors over the same bins.

* :func:`category_counts` counts labels over the union of the categories (for chi-square).
* :func:`binned_counts` counts over reference-based bins (for PSI, KL, JS, Hellinger):
  numeric input uses :func:`~watchkeeper.stats.binning.bin_edges` and
  :func:`~watchkeeper.stats.binning.bin_counts`; other input gets one bin per reference
  category plus a last bin for every category the reference never saw.
"""

from __future__ import annotations

import numpy as np

from watchkeeper.errors import InvalidInputError, MixedTypeColumnError
from watchkeeper.stats._validation import (
    AnyArray,
    FloatArray,
    IntArray,
    NanPolicy,
    as_array,
    check_choice,
    check_int,
    check_nan_policy,
    is_real_array,
    to_float,
)
from watchkeeper.stats.binning import BINNINGS, bin_counts, bin_edges

__all__ = ["binned_counts", "category_counts"]


def category_counts(
    reference: AnyArray, current: AnyArray, func: str
) -> tuple[AnyArray, IntArray, IntArray]:
    """Return the union of the categories (sorted) and each sample's count of each."""
    if reference.dtype != current.dtype and "O" in reference.dtype.kind + current.dtype.kind:
        reference, current = reference.astype(object), current.astype(object)
    try:
        pooled = np.concatenate([reference, current])
        categories, codes = np.unique(pooled, return_inverse=True)
    except TypeError as exc:  # unorderable mix such as str and int, or no common dtype
        raise MixedTypeColumnError(
            f"reference and current for {func} mix value types that cannot be compared "
            f"({exc}); convert the labels to one type, e.g. str."
        ) from exc
    codes = codes.reshape(-1)
    k = categories.size
    ref_counts = np.bincount(codes[: reference.size], minlength=k).astype(np.int64)
    cur_counts = np.bincount(codes[reference.size :], minlength=k).astype(np.int64)
    return categories, ref_counts, cur_counts


def binned_counts(
    reference: object,
    current: object,
    *,
    bins: int,
    binning: str,
    func: str,
    nan_policy: NanPolicy,
) -> tuple[IntArray, IntArray]:
    """Count both samples into bins fixed by the reference (see the module docstring)."""
    n_bins = check_int(bins, "bins", func, minimum=1)
    rule = check_choice(binning, "binning", func, BINNINGS)
    policy = check_nan_policy(nan_policy, func)
    ref = as_array(reference, "reference", func, policy)
    cur = as_array(current, "current", func, policy)
    ref_numeric = is_real_array(ref, allow_bool=False)
    cur_numeric = is_real_array(cur, allow_bool=False)
    if ref_numeric != cur_numeric:
        kinds = {True: "numeric", False: "categorical"}
        raise InvalidInputError(
            f"reference is {kinds[ref_numeric]} but current is {kinds[cur_numeric]}; "
            f"{func} needs both numeric or both categorical."
        )
    if ref_numeric:
        ref_f: FloatArray = to_float(ref, "reference", func, allow_inf=False)
        cur_f: FloatArray = to_float(cur, "current", func)
        edges = bin_edges(ref_f, bins=n_bins, binning=rule)
        return bin_counts(ref_f, edges), bin_counts(cur_f, edges)
    _, ref_all, cur_all = category_counts(ref, cur, func)
    seen = ref_all > 0
    ref_counts = np.append(ref_all[seen], 0)
    cur_counts = np.append(cur_all[seen], cur_all[~seen].sum())
    return ref_counts.astype(np.int64), cur_counts.astype(np.int64)
