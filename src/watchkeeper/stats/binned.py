"""Binned distances on raw samples: :func:`psi`, :func:`kl`, :func:`jensen_shannon`,
:func:`hellinger`.

Each bins both samples and hands the two count vectors to its kernel in
:mod:`watchkeeper.stats.divergence` (one code path):

* numeric input (int/float): ``bins`` bins fixed by the reference (``binning="quantile"`` or
  ``"uniform"``, see :func:`~watchkeeper.stats.binning.bin_edges`) plus an overflow bin below
  the reference minimum and one above its maximum;
* other input (str, object, bool): one bin per reference category plus one bin for all the
  categories the reference never saw.

Empty bins are handled by the smoothing ``eps`` described in
:mod:`watchkeeper.stats.divergence`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from watchkeeper.stats._counting import binned_counts
from watchkeeper.stats._validation import NanPolicy, check_float, check_log_base
from watchkeeper.stats.divergence import (
    hellinger_counts,
    jensen_shannon_counts,
    kl_counts,
    psi_counts,
)

if TYPE_CHECKING:
    import numpy.typing as npt

    from watchkeeper.stats._results import DistanceResult

__all__ = ["hellinger", "jensen_shannon", "kl", "psi"]


def psi(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    *,
    bins: int = 10,
    binning: str = "quantile",
    eps: float = 1e-4,
    nan_policy: NanPolicy = "raise",
) -> DistanceResult:
    """Population stability index between two samples, binned on the reference.

    Parameters
    ----------
    reference, current
        Samples (1-D): both numeric (the reference finite) or both categorical. Missing
        values follow ``nan_policy``.
    bins
        Numeric input: number of reference-based bins (>= 1) before duplicate quantile edges
        collapse; the two overflow bins come on top. Validated but unused for categories.
    binning
        ``"quantile"`` (default) or ``"uniform"`` edges from the reference (numeric input).
    eps
        Smoothing added to every bin's frequency before renormalising (>= 0).
    nan_policy
        ``"raise"`` (default) or ``"omit"`` (drop missing values first).

    Returns
    -------
    DistanceResult
        :func:`~watchkeeper.stats.divergence.psi_counts` of the two count vectors.

    Raises
    ------
    InvalidParameterError
        If ``bins`` < 1, ``eps`` < 0, or ``nan_policy`` is unknown.
    UnknownMethodError
        If ``binning`` is unknown.
    EmptyInputError, InvalidInputError, MixedTypeColumnError
        If a sample is empty or not 1-D, one sample is numeric and the other not, the
        reference holds infinite values, NaN is present under ``nan_policy="raise"``, or the
        labels mix types that cannot be ordered.

    Notes
    -----
    :math:`\\mathrm{PSI} = \\sum_i (q_i - p_i) \\ln(q_i / p_i)` over the bins, with :math:`p`
    the reference and :math:`q` the current smoothed frequencies.

    References
    ----------
    .. [1] Yurdakul, B. (2018). Statistical properties of population stability index.
       Dissertation, Western Michigan University.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> res = psi(rng.normal(size=5000), rng.normal(0.25, size=5000))
    >>> round(res.statistic, 4)
    0.0822
    >>> psi(["a", "b", "a"], ["a", "b", "a"])
    DistanceResult(statistic=0.0)
    """
    check_float(eps, "eps", "psi", low=0.0)
    ref, cur = binned_counts(
        reference, current, bins=bins, binning=binning, func="psi", nan_policy=nan_policy
    )
    return psi_counts(ref, cur, eps=eps)


def kl(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    *,
    bins: int = 10,
    binning: str = "quantile",
    eps: float = 1e-4,
    base: float = math.e,
    nan_policy: NanPolicy = "raise",
) -> DistanceResult:
    """Kullback-Leibler divergence KL(reference ‖ current), binned on the reference.

    Parameters
    ----------
    reference, current
        Samples (1-D): both numeric (the reference finite) or both categorical.
    bins, binning, eps, nan_policy
        As in :func:`psi`.
    base
        Base of the logarithm (e: nats, the default; 2: bits).

    Returns
    -------
    DistanceResult
        :func:`~watchkeeper.stats.divergence.kl_counts` of the two count vectors.

    Raises
    ------
    InvalidParameterError
        If ``bins`` < 1, ``eps`` < 0, ``base`` is not > 0 and != 1, or ``nan_policy`` is
        unknown.
    UnknownMethodError
        If ``binning`` is unknown.
    EmptyInputError, InvalidInputError, MixedTypeColumnError
        As in :func:`psi`.

    Notes
    -----
    :math:`\\mathrm{KL}(p\\|q) = \\sum_i p_i \\log_b(p_i / q_i)` over the bins.

    References
    ----------
    .. [1] Kullback, S. and Leibler, R. A. (1951). On information and sufficiency. The Annals
       of Mathematical Statistics, 22(1), 79-86.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> res = kl(rng.normal(size=5000), rng.normal(0.25, size=5000))
    >>> round(res.statistic, 4)
    0.0406
    """
    check_float(eps, "eps", "kl", low=0.0)
    check_log_base(base, "base", "kl")
    ref, cur = binned_counts(
        reference, current, bins=bins, binning=binning, func="kl", nan_policy=nan_policy
    )
    return kl_counts(ref, cur, eps=eps, base=base)


def jensen_shannon(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    *,
    bins: int = 10,
    binning: str = "quantile",
    eps: float = 1e-4,
    base: float = 2.0,
    nan_policy: NanPolicy = "raise",
) -> DistanceResult:
    """Jensen-Shannon distance (square root of the divergence), binned on the reference.

    Parameters
    ----------
    reference, current
        Samples (1-D): both numeric (the reference finite) or both categorical.
    bins, binning, eps, nan_policy
        As in :func:`psi` (``eps=0`` is safe here).
    base
        Base of the logarithm; with the default 2 the distance lies in [0, 1].

    Returns
    -------
    DistanceResult
        :func:`~watchkeeper.stats.divergence.jensen_shannon_counts` of the two count
        vectors, equal to ``scipy.spatial.distance.jensenshannon(p, q, base=base)`` on the
        smoothed frequencies.

    Raises
    ------
    InvalidParameterError
        If ``bins`` < 1, ``eps`` < 0, ``base`` is not > 0 and != 1, or ``nan_policy`` is
        unknown.
    UnknownMethodError
        If ``binning`` is unknown.
    EmptyInputError, InvalidInputError, MixedTypeColumnError
        As in :func:`psi`.

    Notes
    -----
    :math:`\\mathrm{JS}(p, q) = \\sqrt{(\\mathrm{KL}(p\\|m) + \\mathrm{KL}(q\\|m)) / 2}` with
    :math:`m = (p + q) / 2`.

    References
    ----------
    .. [1] Lin, J. (1991). Divergence measures based on the Shannon entropy. IEEE
       Transactions on Information Theory, 37(1), 145-151.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> res = jensen_shannon(rng.normal(size=5000), rng.normal(0.25, size=5000))
    >>> round(res.statistic, 4)
    0.1208
    """
    check_float(eps, "eps", "jensen_shannon", low=0.0)
    check_log_base(base, "base", "jensen_shannon")
    ref, cur = binned_counts(
        reference, current, bins=bins, binning=binning, func="jensen_shannon",
        nan_policy=nan_policy,
    )  # fmt: skip
    return jensen_shannon_counts(ref, cur, eps=eps, base=base)


def hellinger(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    *,
    bins: int = 10,
    binning: str = "quantile",
    eps: float = 1e-4,
    nan_policy: NanPolicy = "raise",
) -> DistanceResult:
    """Hellinger distance between two samples, binned on the reference, in [0, 1].

    Parameters
    ----------
    reference, current
        Samples (1-D): both numeric (the reference finite) or both categorical.
    bins, binning, eps, nan_policy
        As in :func:`psi` (``eps=0`` is safe here).

    Returns
    -------
    DistanceResult
        :func:`~watchkeeper.stats.divergence.hellinger_counts` of the two count vectors.

    Raises
    ------
    InvalidParameterError
        If ``bins`` < 1, ``eps`` < 0, or ``nan_policy`` is unknown.
    UnknownMethodError
        If ``binning`` is unknown.
    EmptyInputError, InvalidInputError, MixedTypeColumnError
        As in :func:`psi`.

    Notes
    -----
    :math:`H(p, q) = \\sqrt{1 - \\sum_i \\sqrt{p_i q_i}}` over the bins.

    References
    ----------
    .. [1] Hellinger, E. (1909). Neue Begründung der Theorie quadratischer Formen von
       unendlichvielen Veränderlichen. Journal für die reine und angewandte Mathematik,
       136, 210-271.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> res = hellinger(rng.normal(size=5000), rng.normal(0.25, size=5000))
    >>> round(res.statistic, 4)
    0.1009
    """
    check_float(eps, "eps", "hellinger", low=0.0)
    ref, cur = binned_counts(
        reference, current, bins=bins, binning=binning, func="hellinger", nan_policy=nan_policy
    )
    return hellinger_counts(ref, cur, eps=eps)
