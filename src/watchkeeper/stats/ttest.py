"""The two-sample t-test on means: :func:`t_test` (Welch's by default)."""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

from watchkeeper.stats._results import TestResult
from watchkeeper.stats._validation import NanPolicy, as_float, check_bool, check_nan_policy

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["t_test"]

# scipy warns about cancellation whenever a sample is (nearly) constant; constant samples are
# handled explicitly below, so the warning carries no information here.
_PRECISION_LOSS = "Precision loss occurred in moment calculation"


def t_test(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    *,
    equal_var: bool = False,
    nan_policy: NanPolicy = "raise",
) -> TestResult:
    """Two-sample t-test for equal means, identical to :func:`scipy.stats.ttest_ind`.

    Parameters
    ----------
    reference, current
        Finite numeric samples (1-D, at least two values each).
    equal_var
        False (default): Welch's test, which does not assume equal variances;
        True: Student's pooled-variance test.
    nan_policy
        ``"raise"`` (default) or ``"omit"`` (drop NaN before testing).

    Returns
    -------
    TestResult
        ``statistic`` is :math:`t` (positive when the reference mean is larger), ``p_value``
        the two-sided p-value.

    Raises
    ------
    InvalidParameterError
        If ``equal_var`` is not a bool or ``nan_policy`` is unknown.
    EmptyInputError, InvalidInputError
        If a sample is empty, has fewer than two values, is not numeric, holds infinite values,
        or holds NaN under ``nan_policy="raise"``.

    Notes
    -----
    Welch's statistic is :math:`t = (\\bar x - \\bar y) / \\sqrt{s_x^2/n + s_y^2/m}` with
    Welch-Satterthwaite degrees of freedom
    :math:`\\nu = (s_x^2/n + s_y^2/m)^2 / (s_x^4/(n^2(n-1)) + s_y^4/(m^2(m-1)))`.

    When both samples are constant the statistic is :math:`c/0`: if the two constants are
    equal the result is ``nan`` with p-value ``nan`` (as in scipy), otherwise ``±inf`` with
    p-value 0. scipy reaches the same values only when the means are computed without
    rounding error; here they are decided exactly. scipy's "precision loss" warning for
    (nearly) constant samples is suppressed.

    References
    ----------
    .. [1] Welch, B. L. (1947). The generalization of "Student's" problem when several
       different population variances are involved. Biometrika, 34(1-2), 28-35.

    Examples
    --------
    >>> t_test([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0])
    TestResult(statistic=-2.1908902300206647, p_value=0.07098765432098758)
    """
    func = "t_test"
    welch = not check_bool(equal_var, "equal_var", func)
    policy = check_nan_policy(nan_policy, func)
    ref = as_float(reference, "reference", func, policy, min_size=2, allow_inf=False)
    cur = as_float(current, "current", func, policy, min_size=2, allow_inf=False)
    if ref.min() == ref.max() and cur.min() == cur.max():
        if ref[0] == cur[0]:
            return TestResult(math.nan, math.nan)
        return TestResult(math.copysign(math.inf, ref[0] - cur[0]), 0.0)
    from scipy.stats import ttest_ind

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_PRECISION_LOSS, category=RuntimeWarning)
        res = ttest_ind(ref, cur, equal_var=not welch)
    return TestResult(float(res.statistic), float(res.pvalue))
