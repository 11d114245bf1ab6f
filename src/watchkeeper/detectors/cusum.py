"""Two-sided standardized CUSUM for a shift in the mean of a real-valued stream."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from watchkeeper._validate import check_int, check_number
from watchkeeper.detectors._base import Detector, IntArray, as_stream, check_value

__all__ = ["CUSUM"]

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
            k: float,
            h: float,
            warmup: int,
            mu: float,
            sigma: float,
            fixed_mu: bool,
            fixed_sigma: bool,
        ) -> Any:
            # fs = [mean, m2, mu0, sigma0, s_pos, s_neg]; ints = [n, drift]
            mean, m2, mu0, sigma0, s_pos, s_neg = fs[0], fs[1], fs[2], fs[3], fs[4], fs[5]
            n = ints[0]
            drift = ints[1] != 0
            fixed = fixed_mu and fixed_sigma
            out = np.empty(x.shape[0], dtype=np.int64)
            c = 0
            for i in range(x.shape[0]):
                v = x[i]
                if drift:
                    s_pos = 0.0
                    s_neg = 0.0
                    drift = False
                    if not fixed:
                        n = 0
                        mean = 0.0
                        m2 = 0.0
                if not fixed and n < warmup:
                    n += 1
                    d = v - mean
                    mean += d / n
                    m2 += d * (v - mean)
                    if n == warmup:
                        mu0 = mu if fixed_mu else mean
                        if fixed_sigma:
                            sigma0 = sigma
                        else:
                            sigma0 = math.sqrt(m2 / (n - 1))
                            if sigma0 == 0.0:
                                sigma0 = 1.0
                    continue
                z = (v - mu0) / sigma0
                s_pos = s_pos + z - k
                s_neg = s_neg - z - k
                if not s_pos > 0.0:
                    s_pos = 0.0
                if not s_neg > 0.0:
                    s_neg = 0.0
                if s_pos > h or s_neg > h:
                    drift = True
                    out[c] = i
                    c += 1
            fs[0], fs[1], fs[2], fs[3], fs[4], fs[5] = mean, m2, mu0, sigma0, s_pos, s_neg
            ints[0] = n
            ints[1] = 1 if drift else 0
            return out[:c]

        _KERNEL = run
    return _KERNEL


class CUSUM(Detector):
    """Two-sided standardized CUSUM: an alarm when the mean of a real-valued stream shifts.

    Input convention: any finite float (a loss, a residual, a score); NaN is refused. There is
    no warning zone, so ``warning_detected`` is always False. River has no such detector.

    Parameters
    ----------
    k
        Reference value (allowance) in standard deviations; about half the shift to detect.
    h
        Decision interval in standard deviations: an alarm when a sum exceeds it.
    warmup
        Values that estimate the in-control mean and SD (whichever of ``mu``/``sigma`` is not
        given) after construction and after each alarm; ignored when both are given.
    mu
        Known in-control mean, or None to estimate it on the warm-up.
    sigma
        Known in-control standard deviation (> 0), or None to estimate it on the warm-up.

    Attributes
    ----------
    n_seen_
        Values seen since construction or the last :meth:`reset`.
    mu_, sigma_
        The in-control mean and SD in use (0.0 and 1.0 until a warm-up ends).
    s_pos_, s_neg_
        The upper and lower cumulative sums after the last value.

    Raises
    ------
    InvalidParameterError
        If a parameter is out of range (e.g. ``sigma <= 0``).

    Notes
    -----
    With :math:`z_t = (x_t - \\mu_0)/\\sigma_0`,

    .. math::

        S^+_t = \\max(0, S^+_{t-1} + z_t - k), \\qquad
        S^-_t = \\max(0, S^-_{t-1} - z_t - k), \\qquad S^\\pm_0 = 0,

    and a drift is signalled at the first :math:`t` with :math:`S^+_t > h` or
    :math:`S^-_t > h`. :math:`\\mu_0` and :math:`\\sigma_0` are ``mu`` and ``sigma`` when
    given, else the mean and sample SD (ddof=1; 1.0 if the warm-up is constant) of the first
    ``warmup`` values; warm-up values are not tested. Reset rule: the value after an alarm
    sets both sums to 0 and, unless both ``mu`` and ``sigma`` are given, starts a new warm-up
    (that value being its first), so the detector learns the new regime. The alarm value
    itself is not part of any warm-up.

    In-control run length for N(0, 1) data with known :math:`\\mu_0, \\sigma_0`: Siegmund's
    approximation for one side, :math:`\\mathrm{ARL}_0 \\approx (e^{2kb} - 2kb - 1)/(2k^2)`
    with :math:`b = h + 1.166`, gives about 938 values for ``k=0.5, h=5``; the two sides
    together alarm at the sum of the rates, about every 469 values (the exact two-sided
    value tabulated by Montgomery is 465), i.e. about 215 false alarms per 100,000 values.
    Raise ``h`` for rarer alarms (``h=8``: about 19,000 values per side). A one-SD shift is
    detected after about 10.3 values (:math:`\\mathrm{ARL}_1`, same formula with the drift
    :math:`1 - k`). An estimated :math:`\\sigma_0` adds sampling error (about 13% for a
    30-value warm-up), and each alarm is followed by a fresh warm-up.

    References
    ----------
    .. [1] E. S. Page (1954). Continuous inspection schemes. Biometrika 41(1/2), 100-115.
    .. [2] D. Siegmund (1985). Sequential Analysis: Tests and Confidence Intervals. Springer.
    .. [3] D. C. Montgomery (2009). Introduction to Statistical Quality Control, 6th ed.,
       chapter 9 (the tabular CUSUM). Wiley.

    Examples
    --------
    >>> import numpy as np
    >>> from watchkeeper.detectors.cusum import CUSUM
    >>> rng = np.random.default_rng(12345)
    >>> stream = np.concatenate([rng.normal(0, 1, 1000), rng.normal(1, 1, 1000)])
    >>> CUSUM(h=8.0, warmup=100).update_many(stream)
    array([1013])
    """

    def __init__(
        self,
        k: float = 0.5,
        h: float = 5.0,
        warmup: int = 30,
        mu: float | None = None,
        sigma: float | None = None,
    ) -> None:
        owner = type(self).__name__
        check_number(owner, "k", k, low=0.0)
        check_number(owner, "h", h, low=0.0, low_open=True)
        check_int(owner, "warmup", warmup, low=2)
        if mu is not None:
            check_number(
                owner, "mu", mu, low=-math.inf, high=math.inf, low_open=True, high_open=True
            )
        if sigma is not None:
            check_number(
                owner, "sigma", sigma, low=0.0, high=math.inf, low_open=True, high_open=True
            )
        self.k = k
        self.h = h
        self.warmup = warmup
        self.mu = mu
        self.sigma = sigma
        super().__init__()
        self._reset_state()

    def _reset_state(self) -> None:
        self._n = 0
        self._mean = 0.0
        self._m2 = 0.0
        self.mu_ = 0.0 if self.mu is None else float(self.mu)
        self.sigma_ = 1.0 if self.sigma is None else float(self.sigma)
        self.s_pos_ = 0.0
        self.s_neg_ = 0.0

    def _params(self) -> dict[str, Any]:
        return {"k": self.k, "h": self.h, "warmup": self.warmup, "mu": self.mu, "sigma": self.sigma}

    def _state(self) -> dict[str, Any]:
        return {
            "n": self._n,
            "mean": self._mean,
            "m2": self._m2,
            "mu": self.mu_,
            "sigma": self.sigma_,
            "s_pos": self.s_pos_,
            "s_neg": self.s_neg_,
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self._n = int(state["n"])
        self._mean = float(state["mean"])
        self._m2 = float(state["m2"])
        self.mu_ = float(state["mu"])
        self.sigma_ = float(state["sigma"])
        self.s_pos_ = float(state["s_pos"])
        self.s_neg_ = float(state["s_neg"])

    def update(self, x: float) -> CUSUM:
        """Feed one value; ``drift_detected`` tells whether it completed a detection."""
        v = check_value(x, binary=False, owner="CUSUM")
        self.n_seen_ += 1
        fixed = self.mu is not None and self.sigma is not None
        if self._drift_detected:
            self._drift_detected = False
            self.s_pos_ = 0.0
            self.s_neg_ = 0.0
            if not fixed:
                self._n = 0
                self._mean = 0.0
                self._m2 = 0.0
        if not fixed and self._n < self.warmup:
            n = self._n + 1
            self._n = n
            mean = self._mean
            d = v - mean
            mean += d / n
            self._mean = mean
            self._m2 += d * (v - mean)
            if n == self.warmup:
                self.mu_ = mean if self.mu is None else float(self.mu)
                if self.sigma is None:
                    sd = math.sqrt(self._m2 / (n - 1))
                    self.sigma_ = sd if sd != 0.0 else 1.0
                else:
                    self.sigma_ = float(self.sigma)
            return self
        z = (v - self.mu_) / self.sigma_
        k = self.k
        sp = self.s_pos_ + z - k
        sn = self.s_neg_ - z - k
        sp = sp if sp > 0.0 else 0.0
        sn = sn if sn > 0.0 else 0.0
        self.s_pos_ = sp
        self.s_neg_ = sn
        h = self.h
        self._drift_detected = sp > h or sn > h
        return self

    def update_many(self, values: Any) -> IntArray:
        """Feed an array; return the indices (into ``values``) of the values that alarmed."""
        x = as_stream(values, binary=False, owner="CUSUM")
        self.warning_indices_ = np.empty(0, dtype=np.int64)
        if x.shape[0] == 0:
            return np.empty(0, dtype=np.int64)
        fs = np.array(
            [self._mean, self._m2, self.mu_, self.sigma_, self.s_pos_, self.s_neg_],
            dtype=np.float64,
        )
        ints = np.array([self._n, 1 if self._drift_detected else 0], dtype=np.int64)
        out: IntArray = _kernel()(
            x,
            fs,
            ints,
            float(self.k),
            float(self.h),
            self.warmup,
            0.0 if self.mu is None else float(self.mu),
            1.0 if self.sigma is None else float(self.sigma),
            self.mu is not None,
            self.sigma is not None,
        )
        self._mean = float(fs[0])
        self._m2 = float(fs[1])
        self.mu_ = float(fs[2])
        self.sigma_ = float(fs[3])
        self.s_pos_ = float(fs[4])
        self.s_neg_ = float(fs[5])
        self._n = int(ints[0])
        self._drift_detected = bool(ints[1])
        self.n_seen_ += int(x.shape[0])
        return out
