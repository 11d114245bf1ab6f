"""The k-sample Anderson-Darling test for two samples: :func:`anderson`."""

from __future__ import annotations

import inspect
import warnings
from typing import Literal

import numpy as np
import numpy.typing as npt

from watchkeeper.errors import InvalidInputError
from watchkeeper.stats._results import AndersonResult
from watchkeeper.stats._validation import NanPolicy, as_float, check_bool, check_nan_policy

__all__ = ["anderson"]

_MIN_POOLED = 4  # scipy's variance formula divides by (N - 1)(N - 2)(N - 3)


def anderson(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    *,
    midrank: bool = True,
    nan_policy: NanPolicy = "raise",
) -> AndersonResult:
    """Two-sample Anderson-Darling test, identical to ``scipy.stats.anderson_ksamp([reference,
    current])`` in statistic and p-value.

    Parameters
    ----------
    reference, current
        Numeric samples (1-D, at least one value each, at least four values and two distinct
        values together; ±inf allowed).
    midrank
        True (default): the mid-rank variant, valid for continuous and discrete data
        (scipy's ``variant="midrank"``); False: the right-continuous variant
        (``variant="right"``).
    nan_policy
        ``"raise"`` (default) or ``"omit"`` (drop NaN before testing).

    Returns
    -------
    AndersonResult
        ``statistic`` is the normalised statistic :math:`(A^2_{kN} - (k-1))/\\sigma_N`;
        ``p_value`` is interpolated from Scholz and Stephens' table and so limited to
        [0.001, 0.25]; ``p_value_clipped`` says when it was limited (``"capped"``: the true
        p-value is above 0.25; ``"floored"``: below 0.001).

    Raises
    ------
    InvalidParameterError
        If ``midrank`` is not a bool or ``nan_policy`` is unknown.
    EmptyInputError, InvalidInputError
        If a sample is empty or not numeric, the samples hold fewer than four values or a
        single distinct value together, or NaN is present under ``nan_policy="raise"``.

    Notes
    -----
    scipy warns (``UserWarning``) whenever it caps or floors the p-value; that warning is
    caught and recorded in ``p_value_clipped`` instead. Treat ``p_value == 0.25`` as
    "p >= 0.25" and ``p_value == 0.001`` as "p <= 0.001".

    References
    ----------
    .. [1] Scholz, F. W. and Stephens, M. A. (1987). K-sample Anderson-Darling tests. Journal
       of the American Statistical Association, 82(399), 918-924.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> res = anderson(rng.normal(size=200), rng.normal(size=200))
    >>> res.p_value, res.p_value_clipped
    (0.25, 'capped')
    >>> res = anderson(rng.normal(size=200), rng.normal(1.0, size=200))
    >>> res.p_value, res.p_value_clipped
    (0.001, 'floored')
    """
    func = "anderson"
    use_midrank = check_bool(midrank, "midrank", func)
    policy = check_nan_policy(nan_policy, func)
    ref = as_float(reference, "reference", func, policy)
    cur = as_float(current, "current", func, policy)
    pooled = np.concatenate([ref, cur])
    if pooled.size < _MIN_POOLED:
        raise InvalidInputError(
            f"{func} needs at least {_MIN_POOLED} values in reference and current together; "
            f"got {pooled.size}."
        )
    if pooled.min() == pooled.max():
        raise InvalidInputError(
            f"{func} needs at least 2 distinct values in reference and current together; "
            f"all {pooled.size} values equal {pooled[0]!r}."
        )
    from scipy.stats import anderson_ksamp

    clipped: Literal["capped", "floored"] | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if "variant" in inspect.signature(anderson_ksamp).parameters:  # scipy >= 1.17
            res = anderson_ksamp([ref, cur], variant="midrank" if use_midrank else "right")
        else:  # pragma: no cover - older scipy, whose `midrank` is not deprecated
            res = anderson_ksamp([ref, cur], midrank=use_midrank)
    for record in caught:
        message = str(record.message)
        if message.startswith("p-value capped"):
            clipped = "capped"
        elif message.startswith("p-value floored"):
            clipped = "floored"
        else:  # not ours to swallow: hand it on
            warnings.warn_explicit(record.message, record.category, record.filename, record.lineno)
    return AndersonResult(float(res.statistic), float(res.pvalue), p_value_clipped=clipped)
