"""The two-sample Cramér-von Mises test: :func:`cramer_von_mises`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from watchkeeper.stats._results import TestResult
from watchkeeper.stats._validation import NanPolicy, as_float, check_choice, check_nan_policy

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["cramer_von_mises"]

_METHODS: tuple[Literal["auto", "asymptotic", "exact"], ...] = ("auto", "asymptotic", "exact")


def cramer_von_mises(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    *,
    method: str = "auto",
    nan_policy: NanPolicy = "raise",
) -> TestResult:
    """Two-sample Cramér-von Mises test, identical to :func:`scipy.stats.cramervonmises_2samp`.

    Parameters
    ----------
    reference, current
        Numeric samples (1-D, at least two values each; ±inf allowed).
    method
        ``"auto"`` (exact when both samples have at most 20 values, else asymptotic),
        ``"asymptotic"`` or ``"exact"``, as in scipy.
    nan_policy
        ``"raise"`` (default) or ``"omit"`` (drop NaN before testing).

    Returns
    -------
    TestResult
        ``statistic`` is :math:`T`, ``p_value`` its p-value.

    Raises
    ------
    UnknownMethodError
        If ``method`` is not a known name.
    InvalidParameterError
        If ``nan_policy`` is unknown.
    EmptyInputError, InvalidInputError
        If a sample is empty, has fewer than two values, is not numeric, or holds NaN under
        ``nan_policy="raise"``.

    Notes
    -----
    With :math:`r_i` the (mid-)ranks of the reference and :math:`s_j` those of the current in
    the pooled sample of size :math:`N = n + m`,
    :math:`U = n\\sum_i (r_i - i)^2 + m\\sum_j (s_j - j)^2` and
    :math:`T = U / (n m N) - (4 n m - 1) / (6 N)`.

    References
    ----------
    .. [1] Anderson, T. W. (1962). On the distribution of the two-sample Cramér-von Mises
       criterion. The Annals of Mathematical Statistics, 33(3), 1148-1159.

    Examples
    --------
    >>> cramer_von_mises([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    TestResult(statistic=0.5277777777777778, p_value=0.1)
    """
    func = "cramer_von_mises"
    mode = check_choice(method, "method", func, _METHODS)
    policy = check_nan_policy(nan_policy, func)
    ref = as_float(reference, "reference", func, policy, min_size=2)
    cur = as_float(current, "current", func, policy, min_size=2)
    from scipy.stats import cramervonmises_2samp

    res = cramervonmises_2samp(ref, cur, method=mode)
    return TestResult(float(res.statistic), float(res.pvalue))
