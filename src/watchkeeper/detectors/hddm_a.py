"""HDDM_A: drift detection with Hoeffding's bound on running averages (Frías-Blanco et al.)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from watchkeeper._validate import check_number
from watchkeeper.detectors._base import Detector, as_stream, check_value
from watchkeeper.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy.typing as npt

__all__ = ["HDDM_A"]

_OWNER = "HDDM_A"
_DRIFT = 1
_WARNING = 2


def _hddm_a_loop(
    x: npt.NDArray[np.float64],
    state: npt.NDArray[np.float64],
    log_bound: float,
    log_drift: float,
    log_warning: float,
    two_sided: bool,
    out: npt.NDArray[np.int8],
) -> None:
    """Sequential recursion of :meth:`HDDM_A.update` over ``x`` (compiled with numba).

    ``state`` is updated in place; ``out[i]`` gets bit 1 for a drift and bit 2 for a warning.
    """
    n = state[0]
    mean = state[1]
    min_n = state[2]
    min_mean = state[3]
    max_n = state[4]
    max_mean = state[5]
    for i in range(x.shape[0]):
        v = x[i]
        n += 1.0
        mean += (1.0 / n) * (v - mean)
        if min_n == 0.0:
            min_n = n
            min_mean = mean
        if max_n == 0.0:
            max_n = n
            max_mean = mean
        eps_z = math.sqrt(1.0 / (2.0 * n) * log_bound)
        eps_x = math.sqrt(1.0 / (2.0 * min_n) * log_bound)
        if min_mean + eps_x >= mean + eps_z:
            min_n = n
            min_mean = mean
        eps_x = math.sqrt(1.0 / (2.0 * max_n) * log_bound)
        if max_mean - eps_x <= mean - eps_z:
            max_n = n
            max_mean = mean
        drift = False
        warning = False
        if min_n != n:
            m = (n - min_n) / min_n * (1.0 / n)
            if mean - min_mean >= math.sqrt(m / 2.0 * log_drift):
                drift = True
            elif mean - min_mean >= math.sqrt(m / 2.0 * log_warning):
                warning = True
        if two_sided and max_n != n:
            m = (n - max_n) / max_n * (1.0 / n)
            if max_mean - mean >= math.sqrt(m / 2.0 * log_drift):
                drift = True
            elif max_mean - mean >= math.sqrt(m / 2.0 * log_warning):
                warning = True
        code = 0
        if drift:
            code = 1
            n = 0.0
            mean = 0.0
            min_n = 0.0
            min_mean = 0.0
            max_n = 0.0
            max_mean = 0.0
        if warning:
            code += 2
        out[i] = code
    state[0] = n
    state[1] = mean
    state[2] = min_n
    state[3] = min_mean
    state[4] = max_n
    state[5] = max_mean


_KERNEL: Callable[..., None] | None = None


def _kernel() -> Callable[..., None]:
    """The compiled :func:`_hddm_a_loop`, built (and numba imported) on first use."""
    global _KERNEL
    if _KERNEL is None:
        from numba import njit

        _KERNEL = njit(cache=True, nogil=True)(_hddm_a_loop)
    return _KERNEL


class HDDM_A(Detector):
    """Hoeffding drift detection with the A-test (running averages), HDDM_A.

    Watches a model's error stream and signals when its error rate has risen (or, with
    ``two_sided_test``, also fallen) significantly since the best point seen so far. Matches
    ``river.drift.binary.HDDMA`` (River 0.26) index for index.

    **Input:** a binary stream, 1 for an error and 0 for a correct prediction (the class
    attribute ``binary`` is True, and anything else raises). River takes the same bits but
    checks nothing: it would run on any number, although the bounds below assume values in
    [0, 1].

    Parameters
    ----------
    drift_confidence
        Significance level of the drift test, in (0, 1).
    warning_confidence
        Significance level of the warning test, in (0, 1); larger than ``drift_confidence``
        for a warning zone that precedes drifts.
    two_sided_test
        If True, also signal significant decreases of the error rate; by default only
        increases are monitored.

    Attributes
    ----------
    n_seen_
        Values seen since construction or the last :meth:`reset`.
    warning_indices_
        Warning indices (relative to the input) of the last :meth:`update_many` call.

    Raises
    ------
    InvalidParameterError
        If a confidence is outside (0, 1) or ``two_sided_test`` is not a bool.

    Notes
    -----
    Let :math:`\\bar z_n` be the mean of the :math:`n` values since the last reset and
    :math:`\\epsilon_k = \\sqrt{\\ln(1/\\delta_D) / (2k)}` Hoeffding's bound for :math:`k`
    values at :math:`\\delta_D` = ``drift_confidence``. The cut point :math:`(c, \\bar x_c)`
    for increases moves to the present whenever
    :math:`\\bar x_c + \\epsilon_c \\ge \\bar z_n + \\epsilon_n`. An increase is significant at
    level :math:`\\delta` when

    .. math::

        \\bar z_n - \\bar x_c \\ge \\sqrt{\\frac{m}{2} \\ln\\frac{2}{\\delta}}, \\qquad
        m = \\frac{n - c}{c\\,n},

    with :math:`\\delta = \\delta_D` for a drift and ``warning_confidence`` for a warning.
    Decreases mirror this with a second cut point. After a drift the detector starts afresh
    with the next value. As in River, a two-sided detector can report a drift and a warning
    on the same value (one for each direction).

    References
    ----------
    .. [1] I. Frías-Blanco, J. del Campo-Ávila, G. Ramos-Jiménez, R. Morales-Bueno,
       A. Ortiz-Díaz and Y. Caballero-Mota, "Online and non-parametric drift detection
       methods based on Hoeffding's bounds", IEEE Transactions on Knowledge and Data
       Engineering 27(3), 810-823, 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from watchkeeper.detectors.hddm_a import HDDM_A
    >>> rng = np.random.default_rng(42)
    >>> errors = np.concatenate([rng.random(1000) < 0.1, rng.random(1000) < 0.4])
    >>> det = HDDM_A()
    >>> det.update_many(errors.astype(float))
    array([1053])
    >>> det.warning_indices_[:3]  # the warnings that led up to it
    array([1049, 1051, 1052])
    """

    binary = True

    def __init__(
        self,
        drift_confidence: float = 0.001,
        warning_confidence: float = 0.005,
        two_sided_test: bool = False,
    ) -> None:
        check_number(
            _OWNER,
            "drift_confidence",
            drift_confidence,
            low=0,
            high=1,
            low_open=True,
            high_open=True,
        )
        check_number(
            _OWNER,
            "warning_confidence",
            warning_confidence,
            low=0,
            high=1,
            low_open=True,
            high_open=True,
        )
        if not isinstance(two_sided_test, bool):
            raise InvalidParameterError(
                f"The 'two_sided_test' parameter of {_OWNER} must be a bool. "
                f"Got {two_sided_test!r} instead."
            )
        super().__init__()
        self.drift_confidence = drift_confidence
        self.warning_confidence = warning_confidence
        self.two_sided_test = two_sided_test
        self._log_bound = math.log(1.0 / drift_confidence)
        self._log_drift = math.log(2.0 / drift_confidence)
        self._log_warning = math.log(2.0 / warning_confidence)
        self._reset_state()

    def _reset_state(self) -> None:
        self._n = 0.0
        self._mean = 0.0
        self._min_n = 0.0
        self._min_mean = 0.0
        self._max_n = 0.0
        self._max_mean = 0.0

    def update(self, x: float) -> HDDM_A:
        """Add one value (1 = error, 0 = correct); returns ``self``.

        Raises
        ------
        InvalidInputError
            If ``x`` is NaN or neither 0 nor 1.
        """
        v = check_value(x, binary=True, owner=_OWNER)
        self.n_seen_ += 1
        n = self._n + 1.0
        mean = self._mean + (1.0 / n) * (v - self._mean)
        min_n = self._min_n
        min_mean = self._min_mean
        max_n = self._max_n
        max_mean = self._max_mean
        if min_n == 0.0:
            min_n = n
            min_mean = mean
        if max_n == 0.0:
            max_n = n
            max_mean = mean
        log_bound = self._log_bound
        eps_z = math.sqrt(1.0 / (2.0 * n) * log_bound)
        if min_mean + math.sqrt(1.0 / (2.0 * min_n) * log_bound) >= mean + eps_z:
            min_n = n
            min_mean = mean
        if max_mean - math.sqrt(1.0 / (2.0 * max_n) * log_bound) <= mean - eps_z:
            max_n = n
            max_mean = mean
        drift = False
        warning = False
        if min_n != n:
            m = (n - min_n) / min_n * (1.0 / n)
            if mean - min_mean >= math.sqrt(m / 2.0 * self._log_drift):
                drift = True
            elif mean - min_mean >= math.sqrt(m / 2.0 * self._log_warning):
                warning = True
        if self.two_sided_test and max_n != n:
            m = (n - max_n) / max_n * (1.0 / n)
            if max_mean - mean >= math.sqrt(m / 2.0 * self._log_drift):
                drift = True
            elif max_mean - mean >= math.sqrt(m / 2.0 * self._log_warning):
                warning = True
        self._drift_detected = drift
        self._warning_detected = warning
        if drift:
            self._reset_state()
        else:
            self._n = n
            self._mean = mean
            self._min_n = min_n
            self._min_mean = min_mean
            self._max_n = max_n
            self._max_mean = max_mean
        return self

    def update_many(self, values: Any) -> npt.NDArray[np.int64]:
        """Add a 1-D array of values; returns the drift indices (relative to ``values``).

        Gives exactly the results of calling :meth:`update` on each value; the warnings go
        to ``warning_indices_``.

        Raises
        ------
        InvalidInputError
            If ``values`` is not 1-D, or holds NaN or anything but 0 and 1.
        """
        x = as_stream(values, binary=True, owner=_OWNER)
        out = np.zeros(x.shape[0], dtype=np.int8)
        if x.shape[0] == 0:
            self.warning_indices_ = np.empty(0, dtype=np.int64)
            return np.empty(0, dtype=np.int64)
        state = np.array(
            [self._n, self._mean, self._min_n, self._min_mean, self._max_n, self._max_mean],
            dtype=np.float64,
        )
        _kernel()(
            x,
            state,
            self._log_bound,
            self._log_drift,
            self._log_warning,
            self.two_sided_test,
            out,
        )
        (
            self._n,
            self._mean,
            self._min_n,
            self._min_mean,
            self._max_n,
            self._max_mean,
        ) = (float(s) for s in state)
        self.n_seen_ += int(x.shape[0])
        last = int(out[-1])
        self._drift_detected = bool(last & _DRIFT)
        self._warning_detected = bool(last & _WARNING)
        self.warning_indices_ = np.flatnonzero(out & _WARNING).astype(np.int64)
        return np.flatnonzero(out & _DRIFT).astype(np.int64)

    def _params(self) -> dict[str, Any]:
        return {
            "drift_confidence": self.drift_confidence,
            "warning_confidence": self.warning_confidence,
            "two_sided_test": self.two_sided_test,
        }

    def _state(self) -> dict[str, Any]:
        return {
            "n": self._n,
            "mean": self._mean,
            "min_n": self._min_n,
            "min_mean": self._min_mean,
            "max_n": self._max_n,
            "max_mean": self._max_mean,
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self._n = float(state["n"])
        self._mean = float(state["mean"])
        self._min_n = float(state["min_n"])
        self._min_mean = float(state["min_mean"])
        self._max_n = float(state["max_n"])
        self._max_mean = float(state["max_mean"])
