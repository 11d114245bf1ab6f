"""Page-Hinkley test for a change in the mean of a real-valued stream."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from watchkeeper._validate import check_choice, check_int, check_number
from watchkeeper.detectors._base import Detector, IntArray, as_stream, check_value
from watchkeeper.errors import InvalidParameterError

__all__ = ["PageHinkley"]

_MODES = ("both", "up", "down")
_KERNEL: Any = None


def _kernel() -> Any:
    """The compiled ``update_many`` loop (numba is imported on first use only)."""
    global _KERNEL
    if _KERNEL is None:
        from numba import njit

        @njit(cache=True)
        def run(
            x: Any,
            fs: Any,
            ints: Any,
            min_instances: int,
            delta: float,
            threshold: float,
            alpha: float,
            mode: int,
            standardize: bool,
        ) -> Any:
            # fs = [mean, sum_inc, sum_dec, min_inc, max_dec, m2, scale]; ints = [n, drift]
            mean, s_inc, s_dec, mn, mx, m2, scale = fs[0], fs[1], fs[2], fs[3], fs[4], fs[5], fs[6]
            n = ints[0]
            drift = ints[1] != 0
            out = np.empty(x.shape[0], dtype=np.int64)
            k = 0
            for i in range(x.shape[0]):
                v = x[i]
                if drift:
                    n = 0
                    mean = 0.0
                    s_inc = 0.0
                    s_dec = 0.0
                    mn = np.inf
                    mx = -1.0
                    m2 = 0.0
                    scale = 1.0
                    drift = False
                n += 1
                before = v - mean
                mean += (1.0 / n) * (v - mean)
                if standardize:
                    if n <= min_instances:
                        m2 += before * (v - mean)
                        if n == min_instances:
                            scale = math.sqrt(m2 / (n - 1))
                            if scale == 0.0:
                                scale = 1.0
                        continue
                    dev = (v - mean) / scale
                else:
                    dev = v - mean
                s_inc = alpha * s_inc + dev - delta
                s_dec = alpha * s_dec + dev + delta
                if s_inc < mn:
                    mn = s_inc
                if s_dec > mx:
                    mx = s_dec
                if n >= min_instances:
                    if mode == 1:
                        drift = s_inc - mn > threshold
                    elif mode == 2:
                        drift = mx - s_dec > threshold
                    else:
                        drift = s_inc - mn > threshold or mx - s_dec > threshold
                    if drift:
                        out[k] = i
                        k += 1
            fs[0], fs[1], fs[2], fs[3], fs[4], fs[5], fs[6] = mean, s_inc, s_dec, mn, mx, m2, scale
            ints[0] = n
            ints[1] = 1 if drift else 0
            return out[:k]

        _KERNEL = run
    return _KERNEL


class PageHinkley(Detector):
    """Page-Hinkley test: an alarm when the mean of a real-valued stream moves.

    Input convention: any finite float (a loss, a residual, a score); NaN is refused. There is
    no warning zone, so ``warning_detected`` is always False.

    The defaults are **not** River's. With ``standardize=True`` the first ``min_instances``
    values after each (re)start are a warm-up that estimates the standard deviation
    :math:`\\hat\\sigma`, and ``delta`` and ``threshold`` are read in units of
    :math:`\\hat\\sigma`; without fading (``alpha=1``) the statistic is then a one-sided CUSUM
    per direction with reference value ``delta`` and decision interval ``threshold``, whose
    in-control average run length is known (see Notes). :meth:`river_compatible` gives River
    0.26's detector (``standardize=False``, thresholds in data units) index for index.

    Parameters
    ----------
    min_instances
        Values after a (re)start before a change can be signalled. With ``standardize=True``
        they are the warm-up that estimates :math:`\\hat\\sigma` (at least 2).
    delta
        Magnitude of change tolerated per value (in :math:`\\hat\\sigma` if ``standardize``,
        else in data units).
    threshold
        The alarm threshold :math:`\\lambda` (same units as ``delta``).
    alpha
        Forgetting factor applied to the cumulative sums, in (0, 1].
    mode
        ``"up"`` watches increases of the mean, ``"down"`` decreases, ``"both"`` either.
    standardize
        Read ``delta`` and ``threshold`` in warm-up standard deviations (True) or in data
        units as River does (False).

    Attributes
    ----------
    n_seen_
        Values seen since construction or the last :meth:`reset`.
    scale_
        The :math:`\\hat\\sigma` in use (1.0 in data-unit mode or before the warm-up ends).

    Raises
    ------
    InvalidParameterError
        If a parameter is out of range (e.g. ``alpha`` outside (0, 1]).
    UnknownMethodError
        If ``mode`` is not one of ``"both"``, ``"up"``, ``"down"``.

    Notes
    -----
    After a (re)start, value :math:`x_t` updates the running mean
    :math:`\\bar x_t = \\bar x_{t-1} + (x_t - \\bar x_{t-1}) / t` and the sums

    .. math::

        m_t = \\alpha m_{t-1} + d_t - \\delta, \\qquad
        M_t = \\alpha M_{t-1} + d_t + \\delta, \\qquad d_t = (x_t - \\bar x_t) / s,

    with :math:`s = \\hat\\sigma` (sample SD of the warm-up, ddof=1; 1.0 if the warm-up is
    constant) when standardizing, else :math:`s = 1`; in standardized mode the warm-up values
    only feed :math:`\\bar x` and :math:`\\hat\\sigma`, and the sums start with the value after
    it. A drift is signalled once :math:`t \\ge` ``min_instances`` when
    :math:`m_t - \\min_{u \\le t} m_u > \\lambda` (up) or
    :math:`\\max_{u \\le t} M_u - M_t > \\lambda` (down); the next value restarts everything,
    as in River 0.26 (whose running maximum starts at -1, reproduced here).

    Why the defaults differ from River's (``delta=0.005``, ``threshold=50``, ``alpha=0.9999``,
    data units): on unit-variance noise the fading sums settle near
    :math:`-\\delta/(1-\\alpha)` with a standard deviation of :math:`(2(1-\\alpha))^{-1/2}
    \\approx 71`, so their distance from the all-time minimum passes 50 again and again —
    hundreds of false alarms per 500,000 values. With ``alpha=1`` each side is Page's CUSUM
    with reference :math:`k = \\delta` and interval :math:`h = \\lambda`; Siegmund's
    approximation of its in-control run length,
    :math:`\\mathrm{ARL}_0 \\approx (e^{2kb} - 2kb - 1)/(2k^2)` with :math:`b = h + 1.166`,
    gives about 316,000 values per side for ``delta=0.25, threshold=20``, i.e. about 0.63
    false alarms per 100,000 values for both sides with :math:`\\hat\\sigma` exact. A
    warm-up of 100 values estimates :math:`\\sigma` to within about 7% (one standard
    error); a :math:`\\hat\\sigma` that much too small shrinks the effective :math:`k, h`
    and raises the rate to about 2.2 per 100,000, the bound the tests assert (seeded N(0, 1)
    streams average about 0.64, against about 63 for River's defaults). A shift of one SD is
    found in about :math:`(h + 1.166)/(1 - k) \\approx 28` values (measured: about 25;
    River's defaults: about 37).

    References
    ----------
    .. [1] E. S. Page (1954). Continuous inspection schemes. Biometrika 41(1/2), 100-115.
    .. [2] D. V. Hinkley (1971). Inference about the change-point from cumulative sum tests.
       Biometrika 58(3), 509-523.
    .. [3] D. Siegmund (1985). Sequential Analysis: Tests and Confidence Intervals. Springer.

    Examples
    --------
    >>> import numpy as np
    >>> from watchkeeper.detectors.page_hinkley import PageHinkley
    >>> rng = np.random.default_rng(12345)
    >>> stream = np.concatenate([rng.normal(0, 1, 1000), rng.normal(1, 1, 1000)])
    >>> PageHinkley().update_many(stream)
    array([1017])
    >>> PageHinkley.river_compatible().update_many(stream)
    array([1023, 1769])
    """

    def __init__(
        self,
        min_instances: int = 100,
        delta: float = 0.25,
        threshold: float = 20.0,
        alpha: float = 1.0,
        mode: str = "both",
        standardize: bool = True,
    ) -> None:
        owner = type(self).__name__
        if not isinstance(standardize, bool):
            raise InvalidParameterError(
                f"The 'standardize' parameter of {owner} must be True or False. "
                f"Got {standardize!r} instead."
            )
        check_int(owner, "min_instances", min_instances, low=2 if standardize else 0)
        check_number(owner, "delta", delta, low=0.0)
        check_number(owner, "threshold", threshold, low=0.0)
        check_number(owner, "alpha", alpha, low=0.0, high=1.0, low_open=True)
        check_choice(owner, "mode", mode, _MODES)
        self.min_instances = min_instances
        self.delta = delta
        self.threshold = threshold
        self.alpha = alpha
        self.mode = mode
        self.standardize = standardize
        super().__init__()
        self._reset_state()

    @classmethod
    def river_compatible(cls, **overrides: Any) -> PageHinkley:
        """A detector with River 0.26's defaults (data units), optionally overridden.

        ``PageHinkley.river_compatible(threshold=10.0)`` behaves index for index like
        ``river.drift.PageHinkley(threshold=10.0)``.
        """
        params: dict[str, Any] = {
            "min_instances": 30,
            "delta": 0.005,
            "threshold": 50.0,
            "alpha": 1 - 0.0001,
            "mode": "both",
            "standardize": False,
        }
        params.update(overrides)
        return cls(**params)

    def _reset_state(self) -> None:
        self._n = 0
        self._mean = 0.0
        self._sum_inc = 0.0
        self._sum_dec = 0.0
        self._min_inc = math.inf
        self._max_dec = -1.0
        self._m2 = 0.0
        self.scale_ = 1.0

    def _params(self) -> dict[str, Any]:
        return {
            "min_instances": self.min_instances,
            "delta": self.delta,
            "threshold": self.threshold,
            "alpha": self.alpha,
            "mode": self.mode,
            "standardize": self.standardize,
        }

    def _state(self) -> dict[str, Any]:
        return {
            "n": self._n,
            "mean": self._mean,
            "sum_increase": self._sum_inc,
            "sum_decrease": self._sum_dec,
            "min_increase": None if math.isinf(self._min_inc) else self._min_inc,
            "max_decrease": self._max_dec,
            "m2": self._m2,
            "scale": self.scale_,
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self._n = int(state["n"])
        self._mean = float(state["mean"])
        self._sum_inc = float(state["sum_increase"])
        self._sum_dec = float(state["sum_decrease"])
        mn = state["min_increase"]
        self._min_inc = math.inf if mn is None else float(mn)
        self._max_dec = float(state["max_decrease"])
        self._m2 = float(state["m2"])
        self.scale_ = float(state["scale"])

    def update(self, x: float) -> PageHinkley:
        """Feed one value; ``drift_detected`` tells whether it completed a detection."""
        v = check_value(x, binary=False, owner="PageHinkley")
        self.n_seen_ += 1
        if self._drift_detected:
            self._reset_state()
            self._drift_detected = False
        n = self._n + 1
        self._n = n
        mean = self._mean
        before = v - mean
        mean += (1.0 / n) * (v - mean)
        self._mean = mean
        if self.standardize:
            if n <= self.min_instances:
                self._m2 += before * (v - mean)
                if n == self.min_instances:
                    scale = math.sqrt(self._m2 / (n - 1))
                    self.scale_ = scale if scale != 0.0 else 1.0
                return self
            dev = (v - mean) / self.scale_
        else:
            dev = v - mean
        alpha = self.alpha
        delta = self.delta
        s_inc = alpha * self._sum_inc + dev - delta
        s_dec = alpha * self._sum_dec + dev + delta
        self._sum_inc = s_inc
        self._sum_dec = s_dec
        if s_inc < self._min_inc:
            self._min_inc = s_inc
        if s_dec > self._max_dec:
            self._max_dec = s_dec
        if n >= self.min_instances:
            mode = self.mode
            thr = self.threshold
            if mode == "both":
                self._drift_detected = s_inc - self._min_inc > thr or self._max_dec - s_dec > thr
            elif mode == "up":
                self._drift_detected = s_inc - self._min_inc > thr
            else:
                self._drift_detected = self._max_dec - s_dec > thr
        return self

    def update_many(self, values: Any) -> IntArray:
        """Feed an array; return the indices (into ``values``) of the values that alarmed."""
        x = as_stream(values, binary=False, owner="PageHinkley")
        self.warning_indices_ = np.empty(0, dtype=np.int64)
        if x.shape[0] == 0:
            return np.empty(0, dtype=np.int64)
        fs = np.array(
            [
                self._mean,
                self._sum_inc,
                self._sum_dec,
                self._min_inc,
                self._max_dec,
                self._m2,
                self.scale_,
            ],
            dtype=np.float64,
        )
        ints = np.array([self._n, 1 if self._drift_detected else 0], dtype=np.int64)
        out: IntArray = _kernel()(
            x,
            fs,
            ints,
            self.min_instances,
            float(self.delta),
            float(self.threshold),
            float(self.alpha),
            _MODES.index(self.mode),
            self.standardize,
        )
        self._mean = float(fs[0])
        self._sum_inc = float(fs[1])
        self._sum_dec = float(fs[2])
        self._min_inc = float(fs[3])
        self._max_dec = float(fs[4])
        self._m2 = float(fs[5])
        self.scale_ = float(fs[6])
        self._n = int(ints[0])
        self._drift_detected = bool(ints[1])
        self.n_seen_ += int(x.shape[0])
        return out
