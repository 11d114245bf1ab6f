"""The drift methods a column can be checked with, and how each runs on a prepared reference.

Every method reads the fitted profile (sorted reference values, bins, category table) and the
prepared window (sorted finite values, or aligned category counts); none sorts or counts the
reference again. A method is either a *test* (decides by ``p_value < threshold``; the threshold
is alpha) or a *distance* (decides by ``value >= threshold``).

===================  ===========  ==========  =========  ==========================================
method               numeric      categorical  decides    default threshold
===================  ===========  ==========  =========  ==========================================
``ks``               yes          no          p-value    0.05
``t_test``           yes          no          p-value    0.05
``mann_whitney``     yes          no          p-value    0.05
``cramer_von_mises`` yes          no          p-value    0.05
``anderson``         yes          no          p-value    0.05
``mmd``              yes          no          p-value    0.05
``chi2``             no           yes         p-value    0.05
``z_proportions``    no           two levels  p-value    0.05
``wasserstein``      yes          no          distance   0.1 (reference standard deviations)
``energy``           yes          no          distance   0.1 (in reference standard deviations)
``psi``              yes (binned) yes         distance   0.2
``kl``               yes (binned) yes         distance   0.1
``jensen_shannon``   yes (binned) yes         distance   0.1
``hellinger``        yes (binned) yes         distance   0.1
===================  ===========  ==========  =========  ==========================================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from watchkeeper.baseline._profiles import (
    CategoricalProfile,
    NumericProfile,
    PreparedCategorical,
    PreparedNumeric,
)

__all__ = ["METHODS", "Method", "MethodOutcome", "categorical_bins", "ks_and_wasserstein"]


@dataclass(frozen=True, slots=True)
class MethodOutcome:
    """What one method measured: its value, p-value (tests only) and parameters."""

    value: float
    p_value: float | None
    details: dict[str, Any]


NumericFn = Callable[[NumericProfile, PreparedNumeric, float], MethodOutcome]
CategoricalFn = Callable[[CategoricalProfile, PreparedCategorical, float], MethodOutcome]


@dataclass(frozen=True, slots=True)
class Method:
    """A drift method: its name, whether it is a test, its default threshold and kernels."""

    name: str
    is_test: bool
    default_threshold: float
    numeric: NumericFn | None = None
    categorical: CategoricalFn | None = None

    def supports(self, kind: str) -> bool:
        """Whether the method applies to a column of this kind (numeric or categorical)."""
        return (self.numeric if kind == "numeric" else self.categorical) is not None


def _test(result: Any, **details: Any) -> MethodOutcome:
    return MethodOutcome(float(result.statistic), float(result.p_value), dict(details))


def _ks(ref: NumericProfile, cur: PreparedNumeric, eps: float) -> MethodOutcome:
    from watchkeeper.stats import ks_sorted

    return _test(
        ks_sorted(ref.sorted, cur.sorted, p_value="fast"), alternative="two-sided", method="auto"
    )


def ks_and_wasserstein(
    ref: NumericProfile, cur: PreparedNumeric
) -> tuple[MethodOutcome, MethodOutcome]:
    """The default numeric rule's two numbers from ONE merge of the sorted samples."""
    from watchkeeper.stats import ks_sorted
    from watchkeeper.stats._merge import merge_sorted

    merged = merge_sorted(ref.sorted, cur.sorted)
    test = _test(
        ks_sorted(ref.sorted, cur.sorted, p_value="fast", merged=merged),
        alternative="two-sided",
        method="auto",
    )
    return test, _in_reference_sds(merged.wasserstein(), ref)


def _t_test(ref: NumericProfile, cur: PreparedNumeric, eps: float) -> MethodOutcome:
    from scipy.stats import ttest_ind_from_stats

    s = cur.sorted
    res = ttest_ind_from_stats(
        ref.mean,
        math.sqrt(ref.var_ddof1),
        ref.n_valid,
        float(np.mean(s)),
        float(np.std(s, ddof=1)),
        cur.n_valid,
        equal_var=False,
    )
    return MethodOutcome(float(res.statistic), float(res.pvalue), {"equal_var": False})


def _raw(name: str) -> NumericFn:
    def run(ref: NumericProfile, cur: PreparedNumeric, eps: float) -> MethodOutcome:
        from watchkeeper import stats

        fn = getattr(stats, name)
        return _test(fn(ref.sorted, cur.sorted))

    run.__name__ = f"_{name}"
    return run


def _in_reference_sds(raw: float, ref: NumericProfile) -> MethodOutcome:
    """A distance in the column's units, reported in reference standard deviations."""
    return MethodOutcome(
        raw / ref.scale, None, {"raw_distance": raw, "normalized_by": "reference std"}
    )


def _wasserstein(ref: NumericProfile, cur: PreparedNumeric, eps: float) -> MethodOutcome:
    from watchkeeper.stats import wasserstein_sorted

    return _in_reference_sds(float(wasserstein_sorted(ref.sorted, cur.sorted)), ref)


def _energy(ref: NumericProfile, cur: PreparedNumeric, eps: float) -> MethodOutcome:
    from watchkeeper.stats import energy

    return _in_reference_sds(float(energy(ref.sorted, cur.sorted).statistic), ref)


def _numeric_binned(counts_fn: str) -> NumericFn:
    def run(ref: NumericProfile, cur: PreparedNumeric, eps: float) -> MethodOutcome:
        from watchkeeper import stats

        cur_counts = stats.bin_counts(cur.sorted, ref.edges, presorted=True)
        value = getattr(stats, counts_fn)(ref.bin_counts, cur_counts, eps=eps)
        return MethodOutcome(
            float(getattr(value, "statistic", value)),
            None,
            {
                "eps": eps,
                "bin_edges": ref.edges,
                "reference_counts": ref.bin_counts,
                "current_counts": np.asarray(cur_counts),
            },
        )

    run.__name__ = f"_{counts_fn}"
    return run


def categorical_bins(
    ref: CategoricalProfile, cur: PreparedCategorical
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Reference and window counts over the reference categories plus one 'unseen' bin."""
    ref_counts = np.append(ref.counts, 0)
    cur_counts = np.append(cur.counts, cur.n_unseen)
    return ref_counts, cur_counts


def _categorical_binned(counts_fn: str) -> CategoricalFn:
    def run(ref: CategoricalProfile, cur: PreparedCategorical, eps: float) -> MethodOutcome:
        from watchkeeper import stats

        ref_counts, cur_counts = categorical_bins(ref, cur)
        value = getattr(stats, counts_fn)(ref_counts, cur_counts, eps=eps)
        return MethodOutcome(float(getattr(value, "statistic", value)), None, {"eps": eps})

    run.__name__ = f"_cat_{counts_fn}"
    return run


def _chi2(ref: CategoricalProfile, cur: PreparedCategorical, eps: float) -> MethodOutcome:
    from watchkeeper.stats import chi2_counts

    # Contingency over the union of categories: every unseen category is its own column.
    unseen = np.fromiter(cur.unseen.values(), dtype=np.int64, count=len(cur.unseen))
    ref_counts = np.concatenate([ref.counts, np.zeros_like(unseen)])
    cur_counts = np.concatenate([cur.counts, unseen])
    return _test(chi2_counts(ref_counts, cur_counts), correction=False, kind="contingency")


def _z_proportions(ref: CategoricalProfile, cur: PreparedCategorical, eps: float) -> MethodOutcome:
    from watchkeeper.errors import InvalidParameterError
    from watchkeeper.stats import z_proportions

    levels = len(ref.categories) + len(cur.unseen)
    if levels > 2:
        raise InvalidParameterError(
            f"Method 'z_proportions' compares two proportions, but column {ref.name!r} has "
            f"{levels} levels; use 'chi2' instead."
        )
    # The proportion of the first reference level, as 0/1 arrays of the two samples.
    a = np.zeros(ref.n_valid, dtype=np.float64)
    a[: int(ref.counts[0])] = 1.0 if len(ref.counts) else 0.0
    b = np.zeros(cur.n_valid, dtype=np.float64)
    b[: int(cur.counts[0]) if len(cur.counts) else 0] = 1.0
    level = ref.categories[0] if ref.categories else None
    return _test(z_proportions(a, b), level=level)


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("ks", True, 0.05, numeric=_ks),
        Method("t_test", True, 0.05, numeric=_t_test),
        Method("mann_whitney", True, 0.05, numeric=_raw("mann_whitney")),
        Method("cramer_von_mises", True, 0.05, numeric=_raw("cramer_von_mises")),
        Method("anderson", True, 0.05, numeric=_raw("anderson")),
        Method("mmd", True, 0.05, numeric=_raw("mmd")),
        Method("chi2", True, 0.05, categorical=_chi2),
        Method("z_proportions", True, 0.05, categorical=_z_proportions),
        Method("wasserstein", False, 0.1, numeric=_wasserstein),
        Method("energy", False, 0.1, numeric=_energy),
        Method(
            "psi",
            False,
            0.2,
            numeric=_numeric_binned("psi_counts"),
            categorical=_categorical_binned("psi_counts"),
        ),
        Method(
            "kl",
            False,
            0.1,
            numeric=_numeric_binned("kl_counts"),
            categorical=_categorical_binned("kl_counts"),
        ),
        Method(
            "jensen_shannon",
            False,
            0.1,
            numeric=_numeric_binned("jensen_shannon_counts"),
            categorical=_categorical_binned("jensen_shannon_counts"),
        ),
        Method(
            "hellinger",
            False,
            0.1,
            numeric=_numeric_binned("hellinger_counts"),
            categorical=_categorical_binned("hellinger_counts"),
        ),
    )
}
