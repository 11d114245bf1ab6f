"""The Wilcoxon-Mann-Whitney rank-sum test: :func:`mann_whitney`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from watchkeeper.stats._results import TestResult
from watchkeeper.stats._validation import (
    NanPolicy,
    as_float,
    check_bool,
    check_choice,
    check_nan_policy,
)

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["mann_whitney"]

_METHODS: tuple[Literal["auto", "asymptotic", "exact"], ...] = ("auto", "asymptotic", "exact")


def mann_whitney(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    *,
    use_continuity: bool = True,
    method: str = "auto",
    nan_policy: NanPolicy = "raise",
) -> TestResult:
    """Two-sided Mann-Whitney U test, identical to ``scipy.stats.mannwhitneyu(alternative=
    "two-sided")``.

    Parameters
    ----------
    reference, current
        Numeric samples (1-D, at least one value each; ±inf allowed).
    use_continuity
        Apply the continuity correction of 1/2 in the normal approximation.
    method
        ``"auto"`` (exact when a sample has at most 8 values and there are no ties, else
        asymptotic), ``"asymptotic"`` or ``"exact"``, as in scipy.
    nan_policy
        ``"raise"`` (default) or ``"omit"`` (drop NaN before testing).

    Returns
    -------
    TestResult
        ``statistic`` is :math:`U_1`, the U statistic of the reference; ``p_value`` the
        two-sided p-value.

    Raises
    ------
    UnknownMethodError
        If ``method`` is not a known name.
    InvalidParameterError
        If ``use_continuity`` is not a bool or ``nan_policy`` is unknown.
    EmptyInputError, InvalidInputError
        If a sample is empty, not 1-D, not numeric, or holds NaN under ``nan_policy="raise"``.

    Notes
    -----
    :math:`U_1 = R_1 - n_1(n_1 + 1)/2`, with :math:`R_1` the sum of the reference's mid-ranks
    in the pooled sample. The asymptotic p-value uses the normal approximation with the tie
    correction of the variance; the exact one is not corrected for ties.

    References
    ----------
    .. [1] Mann, H. B. and Whitney, D. R. (1947). On a test of whether one of two random
       variables is stochastically larger than the other. The Annals of Mathematical
       Statistics, 18(1), 50-60.

    Examples
    --------
    >>> mann_whitney([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    TestResult(statistic=0.0, p_value=0.1)
    """
    func = "mann_whitney"
    continuity = check_bool(use_continuity, "use_continuity", func)
    mode = check_choice(method, "method", func, _METHODS)
    policy = check_nan_policy(nan_policy, func)
    ref = as_float(reference, "reference", func, policy)
    cur = as_float(current, "current", func, policy)
    from scipy.stats import mannwhitneyu

    res = mannwhitneyu(
        ref,
        cur,
        use_continuity=continuity,
        alternative="two-sided",
        method=mode,
    )
    return TestResult(float(res.statistic), float(res.pvalue))
