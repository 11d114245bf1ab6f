"""DDM, the Drift Detection Method of Gama et al. (2004), on a stream of prediction errors."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from watchkeeper._validate import check_int, check_number
from watchkeeper.detectors._base import Detector, as_stream, check_value

if TYPE_CHECKING:
    from collections.abc import Callable

    from watchkeeper.detectors._base import FloatArray, IntArray

__all__ = ["DDM"]

_AS_FLOAT = {0: 0.0, 1: 1.0}

_KERNEL: Callable[..., tuple[int, int]] | None = None


def _kernel() -> Callable[..., tuple[int, int]]:
    """Compile (once per process; cached on disk by numba) the ``update_many`` loop."""
    global _KERNEL
    if _KERNEL is None:
        from numba import njit  # lazy: importing watchkeeper.detectors must not import numba

        @njit(cache=True)
        def run(
            x: FloatArray,
            state: FloatArray,
            warm_start: float,
            warning_threshold: float,
            drift_threshold: float,
            drifts: IntArray,
            warnings: IntArray,
        ) -> tuple[int, int]:
            n = state[0]
            p = state[1]
            p_min = state[2]
            s_min = state[3]
            ps_min = state[4]
            drift = state[5] != 0.0
            warning = state[6] != 0.0
            n_drifts = 0
            n_warnings = 0
            for i in range(x.size):
                if drift:
                    n = 0.0
                    p = 0.0
                    p_min = math.nan
                    s_min = math.nan
                    ps_min = math.inf
                    drift = False
                    warning = False
                n += 1.0
                p += (1.0 / n) * (x[i] - p)
                s = math.sqrt(p * (1.0 - p) / n)
                if n > warm_start:
                    ps = p + s
                    if ps <= ps_min:
                        p_min = p
                        s_min = s
                        ps_min = p_min + s_min
                    warning = ps > p_min + warning_threshold * s_min
                    if ps > p_min + drift_threshold * s_min:
                        drift = True
                        warning = False
                if drift:
                    drifts[n_drifts] = i
                    n_drifts += 1
                if warning:
                    warnings[n_warnings] = i
                    n_warnings += 1
            state[0] = n
            state[1] = p
            state[2] = p_min
            state[3] = s_min
            state[4] = ps_min
            state[5] = 1.0 if drift else 0.0
            state[6] = 1.0 if warning else 0.0
            return n_drifts, n_warnings

        _KERNEL = run
    return _KERNEL


class DDM(Detector):
    r"""Drift Detection Method (DDM) on a stream of prediction errors.

    DDM follows the running error rate :math:`p_i` of a classifier and its binomial standard
    deviation :math:`s_i`. While the data are stationary the error rate should not grow, so
    a rise of :math:`p_i + s_i` well above the lowest value seen so far signals a change.

    **Input convention:** binary. Feed ``1`` when the model's prediction was wrong and ``0``
    when it was right (``True``/``False`` work too). Anything else, and NaN, is refused.

    Parameters
    ----------
    warm_start
        Number of values to see (since the start or the last drift) before the detector may
        warn or detect; the minimum is not tracked before that either.
    warning_threshold
        :math:`w`, the number of minimum standard deviations above the minimum error rate at
        which the detector enters the warning zone (2 is about 95 % confidence).
    drift_threshold
        :math:`d`, the same for a drift (3 is about 99 % confidence).

    Attributes
    ----------
    n_
        Values seen since the start or the last drift.
    error_rate_
        :math:`p_i`, the running error rate since the start or the last drift.
    p_min_, s_min_
        :math:`p_{min}` and :math:`s_{min}`, taken where :math:`p_i + s_i` was lowest
        (``None`` until ``warm_start`` values have been seen).
    n_seen_
        Values seen in total (drifts do not reset it; :meth:`reset` does).
    warning_indices_
        Indices, relative to the input, where the last ``update_many`` call was in the
        warning zone.

    Raises
    ------
    InvalidParameterError
        If ``warm_start`` is not an integer >= 0 or a threshold is not a positive number.

    Notes
    -----
    With :math:`n` values since the last reset,

    .. math::

        p_i = \frac{1}{n}\sum_{j \le n} x_j, \qquad s_i = \sqrt{p_i (1 - p_i) / n}.

    Once :math:`n > \text{warm\_start}`, :math:`(p_{min}, s_{min})` is replaced by
    :math:`(p_i, s_i)` whenever :math:`p_i + s_i \le p_{min} + s_{min}`, and then

    * :math:`p_i + s_i > p_{min} + d\, s_{min}` is a drift (not a warning);
    * otherwise :math:`p_i + s_i > p_{min} + w\, s_{min}` is a warning.

    The value after a drift starts a fresh detector (as River 0.26 does): the indices it
    reports are those of ``river.drift.binary.DDM`` with the same parameters.

    References
    ----------
    .. [1] J. Gama, P. Medas, G. Castillo and P. Rodrigues, "Learning with Drift Detection",
       Advances in Artificial Intelligence - SBIA 2004, LNCS 3171, pp. 286-295, 2004.

    Examples
    --------
    >>> import numpy as np
    >>> from watchkeeper.detectors.ddm import DDM
    >>> rng = np.random.default_rng(42)
    >>> errors = np.concatenate([rng.random(1000) < 0.1, rng.random(1000) < 0.3])
    >>> ddm = DDM()
    >>> ddm.update_many(errors.astype(int))
    array([1243])
    >>> int(ddm.warning_indices_[ddm.warning_indices_ >= 1000][0])  # first warning after the change
    1096
    """

    binary = True

    def __init__(
        self,
        warm_start: int = 30,
        warning_threshold: float = 2.0,
        drift_threshold: float = 3.0,
    ) -> None:
        check_int("DDM", "warm_start", warm_start, low=0)
        check_number(
            "DDM",
            "warning_threshold",
            warning_threshold,
            low=0,
            high=math.inf,
            low_open=True,
            high_open=True,
        )
        check_number(
            "DDM",
            "drift_threshold",
            drift_threshold,
            low=0,
            high=math.inf,
            low_open=True,
            high_open=True,
        )
        super().__init__()
        self.warm_start = warm_start
        self.warning_threshold = warning_threshold
        self.drift_threshold = drift_threshold
        self._reset_state()

    def _reset_state(self) -> None:
        self.n_ = 0
        self.error_rate_ = 0.0
        self._p_min = math.nan  # NaN (and _ps_min inf) until warm_start values are seen
        self._s_min = math.nan
        self._ps_min = math.inf

    @property
    def p_min_(self) -> float | None:
        """The error rate where :math:`p_i + s_i` was lowest (``None`` before warm-up)."""
        return None if math.isnan(self._p_min) else self._p_min

    @property
    def s_min_(self) -> float | None:
        """The standard deviation where :math:`p_i + s_i` was lowest (``None`` before warm-up)."""
        return None if math.isnan(self._s_min) else self._s_min

    def update(self, x: Any) -> DDM:
        """Feed one value (1 = error, 0 = correct) and return the detector.

        Parameters
        ----------
        x
            ``1`` if the prediction was wrong, ``0`` if it was right.

        Returns
        -------
        DDM
            ``self``; read ``drift_detected`` and ``warning_detected``.

        Raises
        ------
        InvalidInputError
            If ``x`` is NaN or not 0/1.
        """
        try:
            v = _AS_FLOAT[x]  # fast path for 0/1, True/False, 0.0/1.0 and numpy scalars
        except (KeyError, TypeError):
            v = check_value(x, binary=True, owner="DDM")
        if self._drift_detected:
            self._reset_state()
            self._drift_detected = False
            self._warning_detected = False
        self.n_seen_ += 1
        n = self.n_ + 1
        self.n_ = n
        p = self.error_rate_
        p += (1.0 / n) * (v - p)
        self.error_rate_ = p
        s = math.sqrt(p * (1.0 - p) / n)
        if n > self.warm_start:
            ps = p + s
            if ps <= self._ps_min:
                self._p_min = p
                self._s_min = s
                self._ps_min = ps
            p_min = self._p_min
            s_min = self._s_min
            if ps > p_min + self.drift_threshold * s_min:
                self._drift_detected = True
                self._warning_detected = False
            else:
                self._warning_detected = ps > p_min + self.warning_threshold * s_min
        return self

    def update_many(self, values: Any) -> IntArray:
        """Feed a whole array; the same results as :meth:`update` in a loop, compiled.

        Parameters
        ----------
        values
            1-D array of 1 (error) and 0 (correct).

        Returns
        -------
        numpy.ndarray
            Indices (relative to ``values``) of the drifts, int64. The warnings are in
            ``warning_indices_``.

        Raises
        ------
        InvalidInputError
            If ``values`` is not 1-D, holds NaN or anything but 0/1.
        """
        x = as_stream(values, binary=True, owner="DDM")
        state = np.array(
            [
                float(self.n_),
                self.error_rate_,
                self._p_min,
                self._s_min,
                self._ps_min,
                float(self._drift_detected),
                float(self._warning_detected),
            ],
            dtype=np.float64,
        )
        drifts = np.empty(x.size, dtype=np.int64)
        warnings = np.empty(x.size, dtype=np.int64)
        n_drifts, n_warnings = _kernel()(
            x,
            state,
            float(self.warm_start),
            float(self.warning_threshold),
            float(self.drift_threshold),
            drifts,
            warnings,
        )
        self.n_seen_ += x.size
        self.n_ = int(state[0])
        self.error_rate_ = float(state[1])
        self._p_min = float(state[2])
        self._s_min = float(state[3])
        self._ps_min = float(state[4])
        self._drift_detected = bool(state[5])
        self._warning_detected = bool(state[6])
        self.warning_indices_ = warnings[:n_warnings].copy()
        return drifts[:n_drifts].copy()

    def _params(self) -> dict[str, Any]:
        return {
            "warm_start": self.warm_start,
            "warning_threshold": self.warning_threshold,
            "drift_threshold": self.drift_threshold,
        }

    def _state(self) -> dict[str, Any]:
        return {
            "n": self.n_,
            "error_rate": self.error_rate_,
            "p_min": self.p_min_,
            "s_min": self.s_min_,
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self.n_ = int(state["n"])
        self.error_rate_ = float(state["error_rate"])
        p_min, s_min = state["p_min"], state["s_min"]
        if (p_min is None) != (s_min is None):
            raise ValueError("'p_min' and 's_min' must both be null or both be numbers")
        if p_min is None:
            self._p_min = self._s_min = math.nan
            self._ps_min = math.inf
        else:
            self._p_min = float(p_min)
            self._s_min = float(s_min)
            self._ps_min = self._p_min + self._s_min
