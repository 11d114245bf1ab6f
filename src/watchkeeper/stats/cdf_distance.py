"""Distances between the empirical CDFs of two samples on the line: :func:`wasserstein`
(and :func:`wasserstein_sorted` on prepared samples) and :func:`energy`.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from watchkeeper.stats._merge import merge_sorted
from watchkeeper.stats._results import DistanceResult
from watchkeeper.stats._validation import (
    NanPolicy,
    as_float,
    as_sorted_kernel_input,
    check_bool,
    check_int,
    check_nan_policy,
    check_size,
)

__all__ = ["energy", "wasserstein", "wasserstein_sorted"]


def wasserstein_sorted(ref_sorted: npt.ArrayLike, cur_sorted: npt.ArrayLike) -> float:
    """Wasserstein-1 distance between two samples already sorted ascending.

    Parameters
    ----------
    ref_sorted, cur_sorted
        Ascending float64 samples without NaN (sortedness is not verified).

    Returns
    -------
    float
        :math:`W_1`, equal to ``scipy.stats.wasserstein_distance(ref, cur)``.

    Raises
    ------
    EmptyInputError, InvalidInputError
        If a sample is empty, not 1-D, or ends in NaN.

    Notes
    -----
    :math:`W_1 = \\int |F(x) - G(x)|\\,dx`, summed exactly over the intervals between the
    pooled values; the two sorted samples are merged, never re-sorted from scratch.

    References
    ----------
    .. [1] Ramdas, A., Garcia, N. and Cuturi, M. (2017). On Wasserstein two-sample testing
       and related families of nonparametric tests. Entropy, 19(2), 47.

    Examples
    --------
    >>> wasserstein_sorted([0.0, 1.0, 3.0], [5.0, 6.0, 8.0])
    5.0
    """
    func = "wasserstein_sorted"
    u = as_sorted_kernel_input(ref_sorted, "ref_sorted", func)
    v = as_sorted_kernel_input(cur_sorted, "cur_sorted", func)
    return merge_sorted(u, v).wasserstein()


def wasserstein(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    *,
    normalize: bool = False,
    ddof: int = 0,
    nan_policy: NanPolicy = "raise",
) -> DistanceResult:
    """Wasserstein-1 (earth mover's) distance, identical to
    :func:`scipy.stats.wasserstein_distance`; optionally in reference standard deviations.

    Parameters
    ----------
    reference, current
        Finite numeric samples (1-D, at least one value each).
    normalize
        Divide the distance by the reference standard deviation, which makes it unit-free.
        *Constant-reference fallback*: when that standard deviation is 0 the distance is
        returned unscaled (divided by 1), never NaN or inf.
    ddof
        Delta degrees of freedom of that standard deviation (0: population, 1: sample);
        used only with ``normalize=True``, which then needs more than ``ddof`` reference
        values.
    nan_policy
        ``"raise"`` (default) or ``"omit"`` (drop NaN first).

    Returns
    -------
    DistanceResult
        :math:`W_1` in the units of the data, or in reference standard deviations.

    Raises
    ------
    InvalidParameterError
        If ``normalize`` is not a bool, ``ddof`` is not an int >= 0, or ``nan_policy`` is
        unknown.
    EmptyInputError, InvalidInputError
        If a sample is empty, not 1-D, not numeric, holds infinite values or NaN under
        ``nan_policy="raise"``, or ``normalize=True`` and the reference has ``ddof`` values
        or fewer.

    Notes
    -----
    :math:`W_1 = \\int |F(x) - G(x)|\\,dx`; with ``normalize=True`` the result is
    :math:`W_1 / s_{\\mathrm{ref}}`.

    References
    ----------
    .. [1] Ramdas, A., Garcia, N. and Cuturi, M. (2017). On Wasserstein two-sample testing
       and related families of nonparametric tests. Entropy, 19(2), 47.

    Examples
    --------
    >>> wasserstein([0.0, 1.0, 3.0], [5.0, 6.0, 8.0])
    DistanceResult(statistic=5.0)
    >>> wasserstein([0.0, 2.0], [1.0, 3.0], normalize=True)  # std of [0, 2] is 1
    DistanceResult(statistic=1.0)
    """
    func = "wasserstein"
    rescale = check_bool(normalize, "normalize", func)
    dof = check_int(ddof, "ddof", func, minimum=0)
    policy = check_nan_policy(nan_policy, func)
    ref = as_float(reference, "reference", func, policy, allow_inf=False)
    cur = as_float(current, "current", func, policy, allow_inf=False)
    distance = wasserstein_sorted(np.sort(ref), np.sort(cur))
    if rescale:
        check_size(ref, "reference", f"{func} with normalize=True and ddof={dof}", dof + 1)
        scale = float(np.std(ref, ddof=dof))
        if scale > 0:
            distance /= scale
    return DistanceResult(distance)


def energy(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    *,
    nan_policy: NanPolicy = "raise",
) -> DistanceResult:
    """Energy distance between two samples, identical to :func:`scipy.stats.energy_distance`.

    Parameters
    ----------
    reference, current
        Finite numeric samples (1-D, at least one value each).
    nan_policy
        ``"raise"`` (default) or ``"omit"`` (drop NaN first).

    Returns
    -------
    DistanceResult
        The energy distance :math:`D`, in the units of the data to the power 1/2.

    Raises
    ------
    InvalidParameterError
        If ``nan_policy`` is unknown.
    EmptyInputError, InvalidInputError
        If a sample is empty, not 1-D, not numeric, or holds infinite values or NaN under
        ``nan_policy="raise"``.

    Notes
    -----
    :math:`D^2 = 2\\,E|X - Y| - E|X - X'| - E|Y - Y'| = 2 \\int (F(x) - G(x))^2\\,dx`, so
    :math:`D = \\sqrt 2 \\, \\lVert F - G \\rVert_2`.

    References
    ----------
    .. [1] Székely, G. J. and Rizzo, M. L. (2013). Energy statistics: a class of statistics
       based on distances. Journal of Statistical Planning and Inference, 143(8), 1249-1272.

    Examples
    --------
    >>> energy([0.0], [2.0])  # sqrt(2 * 2), with scipy's rounding
    DistanceResult(statistic=2.0000000000000004)
    """
    func = "energy"
    policy = check_nan_policy(nan_policy, func)
    u = np.sort(as_float(reference, "reference", func, policy, allow_inf=False))
    v = np.sort(as_float(current, "current", func, policy, allow_inf=False))
    gaps, widths = merge_sorted(u, v).cdf_gaps()
    return DistanceResult(math.sqrt(2.0) * math.sqrt(float(np.dot(gaps**2, widths))))
