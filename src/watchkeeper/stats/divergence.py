"""Distances between two count vectors over the same bins: PSI, KL, Jensen-Shannon, Hellinger.

These are the prepared kernels; :mod:`watchkeeper.stats.binned` bins raw samples and calls them.

Empty bins: the frequencies :math:`p_i = c_i / \\sum c` are smoothed as
:math:`p_i' = (p_i + \\varepsilon) / \\sum_j (p_j + \\varepsilon)` on both sides, ``eps``
(:math:`\\varepsilon`, default 1e-4) being a parameter of every function. ``eps=0`` is allowed:
Jensen-Shannon and Hellinger stay finite, while PSI and KL become ``inf`` when a bin is empty
on one side only (PSI: either side; KL: the current side of a bin the reference uses).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import special

from watchkeeper.stats._results import DistanceResult
from watchkeeper.stats._validation import (
    FloatArray,
    as_count_pair,
    check_float,
    check_log_base,
)

__all__ = ["hellinger_counts", "jensen_shannon_counts", "kl_counts", "psi_counts"]


def _frequencies(
    ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike, eps: object, func: str
) -> tuple[FloatArray, FloatArray]:
    """Validated, eps-smoothed and normalised frequencies of both count vectors."""
    smoothing = check_float(eps, "eps", func, low=0.0)
    ref, cur = as_count_pair(ref_counts, cur_counts, func)
    p = ref / ref.sum() + smoothing
    q = cur / cur.sum() + smoothing
    return p / p.sum(), q / q.sum()


def psi_counts(
    ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike, *, eps: float = 1e-4
) -> DistanceResult:
    """Population stability index of two count vectors over the same bins.

    Parameters
    ----------
    ref_counts, cur_counts
        Non-negative counts per bin, same length, each with a positive total.
    eps
        Smoothing added to every bin's frequency before renormalising (>= 0; see the module
        docstring).

    Returns
    -------
    DistanceResult
        :math:`\\mathrm{PSI} \\ge 0`; ``inf`` when ``eps=0`` and a bin is empty on one side.

    Raises
    ------
    InvalidParameterError
        If ``eps`` is negative or not finite.
    EmptyInputError, InvalidInputError
        If the counts differ in length, hold negative or non-finite values, or sum to 0.

    Notes
    -----
    :math:`\\mathrm{PSI} = \\sum_i (q_i - p_i) \\ln(q_i / p_i)` with :math:`p` the reference
    and :math:`q` the current frequencies: the symmetrised Kullback-Leibler divergence
    :math:`\\mathrm{KL}(p\\|q) + \\mathrm{KL}(q\\|p)`. Common reading: < 0.1 stable,
    0.1-0.25 some shift, > 0.25 major shift.

    References
    ----------
    .. [1] Yurdakul, B. (2018). Statistical properties of population stability index.
       Dissertation, Western Michigan University.

    Examples
    --------
    >>> res = psi_counts([50, 30, 20], [30, 30, 40], eps=0)
    >>> round(res.statistic, 6)
    0.240795
    """
    p, q = _frequencies(ref_counts, cur_counts, eps, "psi_counts")
    return DistanceResult(float(np.sum(special.rel_entr(q, p) + special.rel_entr(p, q))))


def kl_counts(
    ref_counts: npt.ArrayLike,
    cur_counts: npt.ArrayLike,
    *,
    eps: float = 1e-4,
    base: float = math.e,
) -> DistanceResult:
    """Kullback-Leibler divergence KL(reference ‖ current) of two count vectors.

    Parameters
    ----------
    ref_counts, cur_counts
        Non-negative counts per bin, same length, each with a positive total.
    eps
        Smoothing added to every bin's frequency before renormalising (>= 0).
    base
        Base of the logarithm (e: nats, 2: bits).

    Returns
    -------
    DistanceResult
        :math:`\\mathrm{KL}(p\\|q) \\ge 0` (not symmetric); ``inf`` when ``eps=0`` and a bin
        used by the reference is empty in the current.

    Raises
    ------
    InvalidParameterError
        If ``eps`` is negative, or ``base`` is not > 0 and != 1.
    EmptyInputError, InvalidInputError
        If the counts differ in length, hold negative or non-finite values, or sum to 0.

    Notes
    -----
    :math:`\\mathrm{KL}(p\\|q) = \\sum_i p_i \\log_b(p_i / q_i)`, with :math:`0 \\log 0 = 0`;
    a rounding-negative sum is reported as 0.

    References
    ----------
    .. [1] Kullback, S. and Leibler, R. A. (1951). On information and sufficiency. The Annals
       of Mathematical Statistics, 22(1), 79-86.

    Examples
    --------
    >>> res = kl_counts([50, 30, 20], [30, 30, 40], eps=0)
    >>> round(res.statistic, 6)
    0.116783
    """
    log_base = math.log(check_log_base(base, "base", "kl_counts"))
    p, q = _frequencies(ref_counts, cur_counts, eps, "kl_counts")
    return DistanceResult(max(float(np.sum(special.rel_entr(p, q))) / log_base, 0.0))


def jensen_shannon_counts(
    ref_counts: npt.ArrayLike,
    cur_counts: npt.ArrayLike,
    *,
    eps: float = 1e-4,
    base: float = 2.0,
) -> DistanceResult:
    """Jensen-Shannon distance (the square root of the divergence) of two count vectors.

    Parameters
    ----------
    ref_counts, cur_counts
        Non-negative counts per bin, same length, each with a positive total.
    eps
        Smoothing added to every bin's frequency before renormalising (>= 0; 0 is safe).
    base
        Base of the logarithm; with the default 2 the distance lies in [0, 1].

    Returns
    -------
    DistanceResult
        The distance, equal to ``scipy.spatial.distance.jensenshannon(p, q, base=base)`` on
        the smoothed frequencies; symmetric in its arguments.

    Raises
    ------
    InvalidParameterError
        If ``eps`` is negative, or ``base`` is not > 0 and != 1.
    EmptyInputError, InvalidInputError
        If the counts differ in length, hold negative or non-finite values, or sum to 0.

    Notes
    -----
    With :math:`m = (p + q)/2`,
    :math:`\\mathrm{JS}(p, q) = \\sqrt{(\\mathrm{KL}(p\\|m) + \\mathrm{KL}(q\\|m)) / 2}`,
    logarithms to base :math:`b`; rounding is clipped to :math:`[0, \\sqrt{\\log_b 2}]`.

    References
    ----------
    .. [1] Endres, D. M. and Schindelin, J. E. (2003). A new metric for probability
       distributions. IEEE Transactions on Information Theory, 49(7), 1858-1860.

    Examples
    --------
    >>> res = jensen_shannon_counts([50, 30, 20], [30, 30, 40], eps=0)
    >>> round(res.statistic, 6)
    0.206731
    """
    log_base = math.log(check_log_base(base, "base", "jensen_shannon_counts"))
    p, q = _frequencies(ref_counts, cur_counts, eps, "jensen_shannon_counts")
    p, q = p / p.sum(), q / q.sum()  # scipy renormalises too; same arithmetic, same bits
    mid = (p + q) / 2.0
    divergence = (np.sum(special.rel_entr(p, mid)) + np.sum(special.rel_entr(q, mid))) / log_base
    bound = math.log(2.0) / log_base  # the divergence of disjoint distributions
    return DistanceResult(math.sqrt(min(max(float(divergence) / 2.0, 0.0), bound)))


def hellinger_counts(
    ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike, *, eps: float = 1e-4
) -> DistanceResult:
    """Hellinger distance of two count vectors over the same bins, in [0, 1].

    Parameters
    ----------
    ref_counts, cur_counts
        Non-negative counts per bin, same length, each with a positive total.
    eps
        Smoothing added to every bin's frequency before renormalising (>= 0; 0 is safe).

    Returns
    -------
    DistanceResult
        The distance: 0 for identical frequencies, 1 for disjoint supports; symmetric.

    Raises
    ------
    InvalidParameterError
        If ``eps`` is negative or not finite.
    EmptyInputError, InvalidInputError
        If the counts differ in length, hold negative or non-finite values, or sum to 0.

    Notes
    -----
    :math:`H(p, q) = \\sqrt{1 - \\sum_i \\sqrt{p_i q_i}}` (one minus the Bhattacharyya
    coefficient; rounding is clipped to [0, 1]).

    References
    ----------
    .. [1] Hellinger, E. (1909). Neue Begründung der Theorie quadratischer Formen von
       unendlichvielen Veränderlichen. Journal für die reine und angewandte Mathematik,
       136, 210-271.

    Examples
    --------
    >>> res = hellinger_counts([50, 30, 20], [30, 30, 40], eps=0)
    >>> round(res.statistic, 6)
    0.172797
    """
    p, q = _frequencies(ref_counts, cur_counts, eps, "hellinger_counts")
    coefficient = float(np.sum(np.sqrt(p * q)))
    return DistanceResult(math.sqrt(min(max(1.0 - coefficient, 0.0), 1.0)))
