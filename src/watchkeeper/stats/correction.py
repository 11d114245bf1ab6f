"""Multiple-testing correction of a family of p-values: :func:`correct`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from watchkeeper.errors import InvalidInputError
from watchkeeper.stats._validation import BoolArray, FloatArray, check_choice, check_float

__all__ = ["CORRECTIONS", "CorrectionResult", "correct"]

CORRECTIONS = ("bonferroni", "holm", "bh")
"""The correction methods :func:`correct` knows."""


@dataclass(frozen=True, slots=True, eq=False)
class CorrectionResult:
    """Adjusted p-values and rejection decisions, in the order of the input.

    Parameters
    ----------
    p_values
        The adjusted p-values (float64, read-only); NaN where the input was NaN.
    reject
        Whether each null hypothesis is rejected at the family level ``alpha`` (bool,
        read-only); never for a NaN p-value.
    """

    p_values: FloatArray
    reject: BoolArray

    def __post_init__(self) -> None:
        self.p_values.setflags(write=False)
        self.reject.setflags(write=False)


def _bonferroni(p: FloatArray) -> FloatArray:
    return np.minimum(p * p.size, 1.0)


def _holm(p: FloatArray) -> FloatArray:
    order = np.argsort(p, kind="stable")
    m = p.size
    stepped = p[order] * (m - np.arange(m))  # (m - i + 1) p_(i), i = 1..m
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(np.maximum.accumulate(stepped), 1.0)
    return adjusted


def _bh(p: FloatArray) -> FloatArray:
    # the arithmetic of scipy.stats.false_discovery_control(p, method="bh"), step by step
    m = p.size
    if m <= 1:
        return p.copy()
    order = np.argsort(p)
    ranked = p[order] * (m / np.arange(1, m + 1, dtype=np.float64))
    np.minimum.accumulate(ranked[::-1], out=ranked[::-1])
    adjusted = np.empty(m)
    adjusted[order] = ranked
    return np.clip(adjusted, 0.0, 1.0)


_ADJUST = {"bonferroni": _bonferroni, "holm": _holm, "bh": _bh}


def correct(
    p_values: npt.ArrayLike, method: str = "holm", *, alpha: float = 0.05
) -> CorrectionResult:
    """Adjust a family of p-values for multiple testing and decide which nulls to reject.

    Parameters
    ----------
    p_values
        The family's p-values (1-D, each in [0, 1] or NaN). An empty family gives empty
        results.
    method
        ``"bonferroni"`` and ``"holm"`` control the family-wise error rate; ``"bh"``
        (Benjamini-Hochberg) controls the false discovery rate and equals
        :func:`scipy.stats.false_discovery_control`.
    alpha
        The family-level significance, in (0, 1).

    Returns
    -------
    CorrectionResult
        ``p_values``: adjusted p-values; ``reject``: ``adjusted <= alpha``.

    Raises
    ------
    UnknownMethodError
        If ``method`` is unknown.
    InvalidParameterError
        If ``alpha`` is not in (0, 1).
    InvalidInputError
        If ``p_values`` is not 1-D, not numeric, or holds a value outside [0, 1].

    Notes
    -----
    NaN p-values (a test that could not run) are kept NaN, never rejected, and not counted
    in the family size :math:`m`. With :math:`p_{(1)} \\le \\dots \\le p_{(m)}`:

    * Bonferroni: :math:`\\tilde p_i = \\min(1, m p_i)`;
    * Holm (step-down): :math:`\\tilde p_{(i)} = \\min(1, \\max_{j \\le i} (m - j + 1)
      p_{(j)})`;
    * BH (step-up): :math:`\\tilde p_{(i)} = \\min(1, \\min_{j \\ge i} m p_{(j)} / j)`.

    All three adjusted vectors are monotone in the raw p-values.

    References
    ----------
    .. [1] Holm, S. (1979). A simple sequentially rejective multiple test procedure.
       Scandinavian Journal of Statistics, 6(2), 65-70.
    .. [2] Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate: a
       practical and powerful approach to multiple testing. Journal of the Royal Statistical
       Society B, 57(1), 289-300.

    Examples
    --------
    >>> res = correct([0.01, 0.04, 0.03, 0.005], method="holm")
    >>> res.p_values
    array([0.03, 0.06, 0.06, 0.02])
    >>> res.reject
    array([ True, False, False,  True])
    """
    func = "correct"
    name = check_choice(method, "method", func, CORRECTIONS)
    level = check_float(alpha, "alpha", func, low=0.0, high=1.0, low_open=True, high_open=True)
    try:
        p = np.asarray(p_values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"p_values must be numeric: {exc}") from exc
    if p.ndim != 1:
        raise InvalidInputError(f"p_values must be 1-D; got an array of shape {p.shape}.")
    finite = ~np.isnan(p)
    if np.any((p[finite] < 0) | (p[finite] > 1)):
        bad = p[finite][(p[finite] < 0) | (p[finite] > 1)]
        raise InvalidInputError(f"p_values must lie in [0, 1] (or be NaN); got {float(bad[0])!r}.")
    adjusted = np.full(p.size, np.nan)
    adjusted[finite] = _ADJUST[name](p[finite])
    reject = np.zeros(p.size, dtype=bool)
    reject[finite] = adjusted[finite] <= level
    return CorrectionResult(adjusted, reject)
