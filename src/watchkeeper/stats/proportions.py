"""The pooled two-proportion z-test: :func:`z_proportions`."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import special

from watchkeeper.errors import InvalidInputError
from watchkeeper.stats._results import TestResult
from watchkeeper.stats._validation import FloatArray, NanPolicy, as_float, check_nan_policy

__all__ = ["z_proportions"]


def _as_binary(data: npt.ArrayLike, name: str, func: str, nan_policy: NanPolicy) -> FloatArray:
    values = as_float(data, name, func, nan_policy)
    bad = (values != 0) & (values != 1)
    if bad.any():
        raise InvalidInputError(
            f"{name} must hold only booleans or 0/1 values for {func}; "
            f"got {int(bad.sum())} other value(s), e.g. {float(values[bad][0])!r}."
        )
    return values


def z_proportions(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    *,
    nan_policy: NanPolicy = "raise",
) -> TestResult:
    """Two-sided pooled z-test for equal proportions of ones (or True) in two samples.

    Parameters
    ----------
    reference, current
        Booleans or 0/1 values (1-D, at least one value each).
    nan_policy
        ``"raise"`` (default) or ``"omit"`` (drop missing values before testing).

    Returns
    -------
    TestResult
        ``statistic`` is :math:`z`, positive when the current proportion is the larger;
        ``p_value`` is two-sided.

    Raises
    ------
    InvalidParameterError
        If ``nan_policy`` is unknown.
    EmptyInputError, InvalidInputError
        If a sample is empty, not 1-D, holds values other than 0/1, or holds NaN under
        ``nan_policy="raise"``.

    Notes
    -----
    With :math:`\\hat p_r = x_r / n_r`, :math:`\\hat p_c = x_c / n_c` and the pooled
    :math:`\\hat p = (x_r + x_c) / (n_r + n_c)`,

    .. math:: z = \\frac{\\hat p_c - \\hat p_r}
                       {\\sqrt{\\hat p (1 - \\hat p) (1/n_r + 1/n_c)}},
              \\qquad p = \\operatorname{erfc}(|z| / \\sqrt 2).

    :math:`z^2` equals Pearson's :math:`\\chi^2` on the 2 × 2 table without continuity
    correction, and the p-values agree. When both samples are all zeros or all ones
    (:math:`\\hat p \\in \\{0, 1\\}`), there is no difference to detect: ``z = 0``, ``p = 1``.

    References
    ----------
    .. [1] Fleiss, J. L., Levin, B. and Paik, M. C. (2003). Statistical Methods for Rates and
       Proportions, 3rd ed., section 2.6. Wiley.

    Examples
    --------
    >>> res = z_proportions([1, 0, 0, 0, 1, 0, 0, 0], [1, 1, 0, 1, 1, 0, 1, 0])
    >>> print(f"{res.statistic:.4f} {res.p_value:.4f}")
    1.5119 0.1306
    """
    func = "z_proportions"
    policy = check_nan_policy(nan_policy, func)
    ref = _as_binary(reference, "reference", func, policy)
    cur = _as_binary(current, "current", func, policy)
    n_ref, n_cur = ref.size, cur.size
    x_ref, x_cur = float(ref.sum()), float(cur.sum())
    pooled = (x_ref + x_cur) / (n_ref + n_cur)
    if pooled in (0.0, 1.0):
        return TestResult(0.0, 1.0)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_ref + 1.0 / n_cur))
    z = (x_cur / n_cur - x_ref / n_ref) / se
    return TestResult(z, float(special.erfc(abs(z) / np.sqrt(2.0))))
