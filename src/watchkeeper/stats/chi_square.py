"""Pearson's chi-square test on category counts: :func:`chi2` on labels, :func:`chi2_counts`
on counts.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import special

from watchkeeper.errors import InvalidParameterError
from watchkeeper.stats._counting import category_counts
from watchkeeper.stats._results import TestResult
from watchkeeper.stats._validation import (
    FloatArray,
    NanPolicy,
    as_array,
    as_count_pair,
    check_bool,
    check_choice,
    check_float,
    check_nan_policy,
)

__all__ = ["chi2", "chi2_counts"]

_KINDS = ("contingency", "goodness_of_fit")


def _contingency(table: FloatArray, correction: bool) -> TestResult:
    """Pearson's test of independence on a 2 × k table, as :func:`scipy.stats.chi2_contingency`."""
    dof = table.shape[1] - 1
    if dof == 0:
        return TestResult(0.0, 1.0)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    observed = table
    if correction and dof == 1:  # Yates: move each cell up to 1/2 towards its expectation
        diff = expected - observed
        observed = observed + np.minimum(0.5, np.abs(diff)) * np.sign(diff)
    statistic = float(((observed - expected) ** 2 / expected).sum())
    return TestResult(statistic, float(special.chdtrc(dof, statistic)))


def _goodness_of_fit(ref: FloatArray, cur: FloatArray, eps: float) -> TestResult:
    """Current counts against the reference proportions, as :func:`scipy.stats.chisquare`."""
    dof = ref.size - 1
    if dof == 0:
        return TestResult(0.0, 1.0)
    proportions = np.where(ref > 0, ref / ref.sum(), eps)
    proportions = proportions / proportions.sum()
    expected = proportions * cur.sum()
    if np.any((expected == 0) & (cur > 0)):  # eps=0 and a category the reference never saw
        return TestResult(math.inf, 0.0)
    statistic = float(((cur - expected) ** 2 / expected).sum())
    return TestResult(statistic, float(special.chdtrc(dof, statistic)))


def _check_options(
    correction: object, kind: object, eps: object, func: str
) -> tuple[bool, str, float]:
    use_correction = check_bool(correction, "correction", func)
    test = check_choice(kind, "kind", func, _KINDS)
    unseen = check_float(eps, "eps", func, low=0.0)
    if use_correction and test == "goodness_of_fit":
        raise InvalidParameterError(
            f"The 'correction' parameter of {func} applies only to kind='contingency'. "
            "Got correction=True with kind='goodness_of_fit' instead."
        )
    return use_correction, test, unseen


def _test(ref: FloatArray, cur: FloatArray, correction: bool, kind: str, eps: float) -> TestResult:
    used = (ref > 0) | (cur > 0)  # drop categories empty on both sides
    ref, cur = ref[used], cur[used]
    if kind == "contingency":
        return _contingency(np.vstack([ref, cur]), correction)
    return _goodness_of_fit(ref, cur, eps)


def chi2_counts(
    ref_counts: npt.ArrayLike,
    cur_counts: npt.ArrayLike,
    *,
    correction: bool = False,
    kind: str = "contingency",
    eps: float = 1e-4,
) -> TestResult:
    """Chi-square test on the counts of the same categories in reference and current.

    Parameters
    ----------
    ref_counts, cur_counts
        Non-negative counts, one per category, in the same order; categories with a zero
        count on both sides are dropped.
    correction
        Apply Yates' continuity correction (only ``kind="contingency"``, only with one degree
        of freedom, as scipy).
    kind
        ``"contingency"``: test of homogeneity of the 2 × k table, equal to
        ``scipy.stats.chi2_contingency(table, correction=correction)``;
        ``"goodness_of_fit"``: the current counts against the reference proportions scaled to
        the current total, equal to ``scipy.stats.chisquare(cur, expected)``.
    eps
        Goodness of fit only: the proportion given to each category the reference never saw
        (before the proportions are renormalised to 1). With ``eps=0`` such a category makes
        the statistic ``inf`` and the p-value 0.

    Returns
    -------
    TestResult
        The :math:`\\chi^2` statistic and its p-value (statistic 0 and p-value 1 when a
        single category is left).

    Raises
    ------
    UnknownMethodError
        If ``kind`` is unknown.
    InvalidParameterError
        If ``correction`` is not a bool, is True with ``kind="goodness_of_fit"``, or ``eps``
        is negative.
    EmptyInputError, InvalidInputError
        If the count vectors differ in length, hold negative or non-finite values, or one sums
        to zero.

    Notes
    -----
    :math:`\\chi^2 = \\sum (O - E)^2 / E` over the cells, with :math:`E_{ij} = R_i C_j / N`
    (contingency, :math:`k - 1` degrees of freedom) or :math:`E_j = p_j \\sum_j O_j` with
    reference proportions :math:`p_j` (goodness of fit, :math:`k - 1` degrees of freedom).

    References
    ----------
    .. [1] Pearson, K. (1900). On the criterion that a given system of deviations from the
       probable in the case of a correlated system of variables is such that it can be
       reasonably supposed to have arisen from random sampling. Philosophical Magazine,
       50(302), 157-175.

    Examples
    --------
    >>> chi2_counts([50, 30, 20], [30, 30, 40])
    TestResult(statistic=11.666666666666668, p_value=0.0029282996948181853)
    >>> chi2_counts([50, 30, 20], [30, 30, 40], kind="goodness_of_fit")
    TestResult(statistic=28.0, p_value=8.31528719103568e-07)
    """
    func = "chi2_counts"
    options = _check_options(correction, kind, eps, func)
    ref, cur = as_count_pair(ref_counts, cur_counts, func)
    return _test(ref, cur, *options)


def chi2(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    *,
    correction: bool = False,
    kind: str = "contingency",
    eps: float = 1e-4,
    nan_policy: NanPolicy = "raise",
) -> TestResult:
    """Chi-square test on two samples of category labels, counted over the union of categories.

    Parameters
    ----------
    reference, current
        Labels (1-D; strings, numbers, booleans or any orderable hashable values).
    correction, kind, eps
        As in :func:`chi2_counts`: ``kind="contingency"`` equals
        ``scipy.stats.chi2_contingency`` on the 2 × k table of counts; ``"goodness_of_fit"``
        tests the current counts against the reference proportions, and a category absent
        from the reference gets the proportion ``eps`` before renormalisation.
    nan_policy
        ``"raise"`` (default) or ``"omit"`` (drop missing labels: NaN, None, pandas NA).

    Returns
    -------
    TestResult
        The :math:`\\chi^2` statistic and its p-value.

    Raises
    ------
    UnknownMethodError, InvalidParameterError
        As in :func:`chi2_counts`, or for an unknown ``nan_policy``.
    EmptyInputError, InvalidInputError, MixedTypeColumnError
        If a sample is empty, not 1-D, holds missing labels under ``nan_policy="raise"``, or
        the labels mix types that cannot be ordered (such as str and int).

    Notes
    -----
    See :func:`chi2_counts` for the formulas.

    References
    ----------
    .. [1] Pearson, K. (1900). On the criterion that a given system of deviations from the
       probable in the case of a correlated system of variables is such that it can be
       reasonably supposed to have arisen from random sampling. Philosophical Magazine,
       50(302), 157-175.

    Examples
    --------
    >>> chi2(["a", "a", "b", "b"], ["a", "b", "b", "c"])
    TestResult(statistic=1.3333333333333333, p_value=0.5134171190325922)
    """
    func = "chi2"
    options = _check_options(correction, kind, eps, func)
    policy = check_nan_policy(nan_policy, func)
    ref = as_array(reference, "reference", func, policy)
    cur = as_array(current, "current", func, policy)
    _, ref_counts, cur_counts = category_counts(ref, cur, func)
    return _test(ref_counts.astype(np.float64), cur_counts.astype(np.float64), *options)
