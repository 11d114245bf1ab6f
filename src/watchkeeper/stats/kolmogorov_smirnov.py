"""The two-sample Kolmogorov-Smirnov test: :func:`ks` on raw samples, :func:`ks_sorted` on
prepared (sorted) ones.
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import numpy as np
import numpy.typing as npt

from watchkeeper.stats._merge import MergedSamples, merge_sorted
from watchkeeper.stats._results import TestResult
from watchkeeper.stats._validation import (
    NanPolicy,
    as_float,
    as_sorted_kernel_input,
    check_choice,
    check_nan_policy,
)

__all__ = ["ks", "ks_sorted"]

_ALTERNATIVES: tuple[Literal["two-sided", "less", "greater"], ...] = (
    "two-sided",
    "less",
    "greater",
)
_METHODS: tuple[Literal["auto", "exact", "asymp"], ...] = ("auto", "exact", "asymp")
_FAST_P_BOUND = 1e-10
_FAST_MIN_N = 100_000
_MAX_EXACT_N = 10_000  # scipy's ``ks_2samp(method="auto")`` is exact up to this sample size
# scipy falls back from the exact to the asymptotic p-value, and says so, when the exact
# recursion under- or overflows; that fallback is part of its documented method="auto".
_FALLBACK = r"(ks_2samp: Exact calculation unsuccessful|Exact ks_2samp calculation not possible)"


def ks(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    *,
    alternative: str = "two-sided",
    method: str = "auto",
    nan_policy: NanPolicy = "raise",
) -> TestResult:
    """Two-sample Kolmogorov-Smirnov test, identical to :func:`scipy.stats.ks_2samp`.

    Parameters
    ----------
    reference, current
        Numeric samples (1-D, at least one value each; ±inf allowed).
    alternative
        ``"two-sided"``, ``"less"`` or ``"greater"``, as in scipy (``"less"``: the CDF of the
        reference lies below that of the current).
    method
        ``"auto"`` (exact p-value when both samples have at most 10 000 values, else
        asymptotic), ``"exact"`` or ``"asymp"``.
    nan_policy
        ``"raise"`` (default) or ``"omit"`` (drop NaN before testing).

    Returns
    -------
    TestResult
        ``statistic`` is :math:`D`, ``p_value`` its p-value.

    Raises
    ------
    UnknownMethodError
        If ``alternative`` or ``method`` is not a known name.
    InvalidParameterError
        If ``nan_policy`` is not ``"raise"`` or ``"omit"``.
    EmptyInputError, InvalidInputError
        If a sample is empty, not 1-D, not numeric, or holds NaN under ``nan_policy="raise"``.

    Notes
    -----
    With empirical CDFs :math:`F_n` (reference) and :math:`G_m` (current), the two-sided
    statistic is :math:`D = \\sup_x |F_n(x) - G_m(x)|`. When scipy's exact computation fails
    numerically it falls back to the asymptotic p-value (as ``ks_2samp`` does); the
    ``RuntimeWarning`` scipy emits for that fallback is suppressed.

    References
    ----------
    .. [1] Hodges, J. L. (1958). The significance probability of the Smirnov two-sample test.
       Arkiv för Matematik, 3(5), 469-486.

    Examples
    --------
    >>> ks([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    TestResult(statistic=1.0, p_value=0.09999999999999999)
    """
    func = "ks"
    alt = check_choice(alternative, "alternative", func, _ALTERNATIVES)
    mode = check_choice(method, "method", func, _METHODS)
    policy = check_nan_policy(nan_policy, func)
    ref = as_float(reference, "reference", func, policy)
    cur = as_float(current, "current", func, policy)
    from scipy.stats import ks_2samp

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_FALLBACK, category=RuntimeWarning)
        res = ks_2samp(ref, cur, alternative=alt, method=mode)
    return TestResult(float(res.statistic), float(res.pvalue))


def ks_sorted(
    ref_sorted: npt.ArrayLike,
    cur_sorted: npt.ArrayLike,
    *,
    p_value: Literal["exact", "fast"] = "exact",
    merged: MergedSamples | None = None,
) -> TestResult:
    """Two-sided KS test on samples already sorted ascending; equals :func:`ks` with defaults.

    Parameters
    ----------
    ref_sorted, cur_sorted
        Ascending float64 samples without NaN (sortedness is not verified).
    p_value
        ``"exact"`` (default): scipy's p-value. ``"fast"``: the same, except in the
        asymptotic branch where scipy sums an O(n) series (``smirnov``, up to 0.6 s per call
        at a million rows): when the Dvoretzky-Kiefer-Wolfowitz-Massart bound
        :math:`2 e^{-2 n_e D^2}` is below ``1e-10``, or when :math:`n_e \\ge 10^5` and
        :math:`n_e D^2 \\ge 2.2`, the limiting Kolmogorov distribution
        :math:`Q_{KS}(\\sqrt{n_e} D)` is reported instead, in O(1). Where the p-value is
        above ``1e-10`` it differs from scipy's (itself an approximation of the two-sample
        distribution) by under 1 % relative.
    merged
        The two samples already merged by :func:`~watchkeeper.stats._merge.merge_sorted`
        (lets a caller share one merge between KS and Wasserstein).

    Returns
    -------
    TestResult
        The statistic and p-value of ``scipy.stats.ks_2samp(ref, cur)`` (two-sided,
        ``method="auto"``).

    Raises
    ------
    EmptyInputError, InvalidInputError
        If a sample is empty, not 1-D, or ends in NaN.

    Notes
    -----
    The statistic comes from one linear-time merge of the two samples (ECDFs evaluated
    right-continuously at the end of each tie group, so ties match ``ks_2samp``). When both
    samples have at most 10 000 values the p-value is scipy's exact one and the statistic is
    rounded to the lattice :math:`h / \\mathrm{lcm}(n, m)` as scipy does; otherwise the
    p-value is ``kstwo.sf(D, round(n m / (n + m)))``, scipy's asymptotic branch, without
    scipy re-sorting the samples.

    References
    ----------
    .. [1] Simard, R. and L'Ecuyer, P. (2011). Computing the two-sided Kolmogorov-Smirnov
       distribution. Journal of Statistical Software, 39(11).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref = np.sort(rng.normal(size=20_000))
    >>> cur = np.sort(rng.normal(0.05, size=15_000))
    >>> res = ks_sorted(ref, cur)
    >>> print(f"{res.statistic:.4f} {res.p_value:.3e}")
    0.0260 1.876e-05
    """
    func = "ks_sorted"
    ref = as_sorted_kernel_input(ref_sorted, "ref_sorted", func)
    cur = as_sorted_kernel_input(cur_sorted, "cur_sorted", func)
    n1, n2 = ref.size, cur.size
    check_choice(p_value, "p_value", func, ("exact", "fast"))
    d = (merged or merge_sorted(ref, cur)).ks_statistic()
    if max(n1, n2) <= _MAX_EXACT_N:
        from scipy.stats import ks_2samp

        lcm = (n1 // math.gcd(n1, n2)) * n2
        d = round(d * lcm) / lcm  # scipy's exact branch reports D on this lattice
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_FALLBACK, category=RuntimeWarning)
            p = float(ks_2samp(ref, cur).pvalue)
        return TestResult(d, p)
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = float(np.round(m * n / (m + n)))
    nx2 = en * d * d
    if p_value == "fast" and (
        2.0 * math.exp(-2.0 * nx2) < _FAST_P_BOUND or (en >= _FAST_MIN_N and nx2 >= 2.2)
    ):
        from scipy.special import kolmogorov

        return TestResult(d, float(kolmogorov(math.sqrt(en) * d)))
    from scipy.stats import kstwo

    p = float(np.clip(kstwo.sf(d, en), 0.0, 1.0))
    return TestResult(d, p)
