"""HDDM_W: drift detection with McDiarmid's bound on weighted averages (Frías-Blanco et al.)."""

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

__all__ = ["HDDM_W"]

_OWNER = "HDDM_W"
_DRIFT = 1
_WARNING = 2

# The five weighted samples (total, increase cut/tail, decrease cut/tail), three numbers each:
# the EWMA, whether it has seen a value (1.0/0.0) and the independent bound condition.
_SAMPLES = ("total", "s1_incr", "s2_incr", "s1_decr", "s2_decr")
_INF = math.inf


def _hddm_w_loop(
    x: npt.NDArray[np.float64],
    state: npt.NDArray[np.float64],
    lam: float,
    lam_sq: float,
    c_lam_sq: float,
    log_bound: float,
    log_drift: float,
    log_warning: float,
    two_sided: bool,
    out: npt.NDArray[np.int8],
) -> None:
    """Sequential recursion of :meth:`HDDM_W.update` over ``x`` (compiled with numba).

    ``state`` (17 numbers, see ``HDDM_W._pack``) is updated in place; ``out[i]`` gets bit 1
    for a drift and bit 2 for a warning.
    """
    c_lam = 1.0 - lam
    t_ewma, t_init, t_ibc = state[0], state[1], state[2]
    s1i_ewma, s1i_init, s1i_ibc = state[3], state[4], state[5]
    s2i_ewma, s2i_init, s2i_ibc = state[6], state[7], state[8]
    s1d_ewma, s1d_init, s1d_ibc = state[9], state[10], state[11]
    s2d_ewma, s2d_init, s2d_ibc = state[12], state[13], state[14]
    incr_cut, decr_cut = state[15], state[16]
    for i in range(x.shape[0]):
        v = x[i]
        t_ewma = lam * v + c_lam * t_ewma if t_init != 0.0 else v
        t_init = 1.0
        t_ibc = lam_sq + c_lam_sq * t_ibc
        eps = math.sqrt(t_ibc * log_bound / 2.0)
        if t_ewma + eps < incr_cut:
            incr_cut = t_ewma + eps
            s1i_ewma, s1i_init, s1i_ibc = t_ewma, t_init, t_ibc
            s2i_ewma, s2i_init, s2i_ibc = 0.0, 0.0, 1.0
        else:
            s2i_ewma = lam * v + c_lam * s2i_ewma if s2i_init != 0.0 else v
            s2i_init = 1.0
            s2i_ibc = lam_sq + c_lam_sq * s2i_ibc
        drift = False
        warning = False
        if s1i_init != 0.0 and s2i_init != 0.0:
            ibc_sum = s1i_ibc + s2i_ibc
            diff = s2i_ewma - s1i_ewma
            if diff > math.sqrt(ibc_sum * log_drift / 2.0):
                drift = True
            elif diff > math.sqrt(ibc_sum * log_warning / 2.0):
                warning = True
        if t_ewma - eps > decr_cut:
            decr_cut = t_ewma - eps
            s1d_ewma, s1d_init, s1d_ibc = t_ewma, t_init, t_ibc
            s2d_ewma, s2d_init, s2d_ibc = 0.0, 0.0, 1.0
        else:
            s2d_ewma = lam * v + c_lam * s2d_ewma if s2d_init != 0.0 else v
            s2d_init = 1.0
            s2d_ibc = lam_sq + c_lam_sq * s2d_ibc
        if two_sided and s2d_init != 0.0 and s1d_init != 0.0:
            ibc_sum = s2d_ibc + s1d_ibc
            diff = s1d_ewma - s2d_ewma
            if diff > math.sqrt(ibc_sum * log_drift / 2.0):
                drift = True
            elif diff > math.sqrt(ibc_sum * log_warning / 2.0):
                warning = True
        code = 0
        if drift:
            code = 1
            t_ewma, t_init, t_ibc = 0.0, 0.0, 1.0
            s1i_ewma, s1i_init, s1i_ibc = 0.0, 0.0, 1.0
            s2i_ewma, s2i_init, s2i_ibc = 0.0, 0.0, 1.0
            s1d_ewma, s1d_init, s1d_ibc = 0.0, 0.0, 1.0
            s2d_ewma, s2d_init, s2d_ibc = 0.0, 0.0, 1.0
            incr_cut = _INF
            decr_cut = -_INF
        if warning:
            code += 2
        out[i] = code
    state[0], state[1], state[2] = t_ewma, t_init, t_ibc
    state[3], state[4], state[5] = s1i_ewma, s1i_init, s1i_ibc
    state[6], state[7], state[8] = s2i_ewma, s2i_init, s2i_ibc
    state[9], state[10], state[11] = s1d_ewma, s1d_init, s1d_ibc
    state[12], state[13], state[14] = s2d_ewma, s2d_init, s2d_ibc
    state[15], state[16] = incr_cut, decr_cut


_KERNEL: Callable[..., None] | None = None


def _kernel() -> Callable[..., None]:
    """The compiled :func:`_hddm_w_loop`, built (and numba imported) on first use."""
    global _KERNEL
    if _KERNEL is None:
        from numba import njit

        _KERNEL = njit(cache=True, nogil=True)(_hddm_w_loop)
    return _KERNEL


class HDDM_W(Detector):
    """Hoeffding drift detection with the W-test (weighted averages), HDDM_W.

    Watches a model's error stream through exponentially weighted moving averages (EWMA) and
    signals when the recent error rate is significantly above (or, with ``two_sided_test``,
    also below) the EWMA at the best cut point seen so far. Matches
    ``river.drift.binary.HDDMW`` (River 0.26) index for index.

    **Input:** a binary stream, 1 for an error and 0 for a correct prediction (the class
    attribute ``binary`` is True, and anything else raises). River takes the same bits but
    checks nothing: it would run on any number, although McDiarmid's bound below assumes
    values in [0, 1].

    Parameters
    ----------
    drift_confidence
        Significance level of the drift test, in (0, 1).
    warning_confidence
        Significance level of the warning test, in (0, 1); larger than ``drift_confidence``
        for a warning zone that precedes drifts.
    lambda_val
        Weight of the newest value in each EWMA, in (0, 1]; larger values forget faster.
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
        If a confidence is outside (0, 1), ``lambda_val`` is outside (0, 1], or
        ``two_sided_test`` is not a bool.

    Notes
    -----
    Each weighted sample keeps its EWMA :math:`\\hat\\mu` (the first value, then
    :math:`\\hat\\mu \\leftarrow \\lambda x + (1 - \\lambda)\\hat\\mu`) and its independent
    bound condition :math:`\\beta \\leftarrow \\lambda^2 + (1 - \\lambda)^2 \\beta`,
    :math:`\\beta_0 = 1`. With :math:`\\epsilon(\\beta, \\delta) = \\sqrt{\\beta \\ln(1/\\delta)/2}`
    (McDiarmid), the whole-stream sample :math:`T` sets a new cut point for increases when
    :math:`\\hat\\mu_T + \\epsilon(\\beta_T, \\delta_D)` reaches a new minimum: the first
    sample becomes a copy of :math:`T` and the second starts empty (otherwise the second
    sample takes the value). An increase is significant at level :math:`\\delta` when

    .. math::

        \\hat\\mu_2 - \\hat\\mu_1 > \\sqrt{\\frac{(\\beta_1 + \\beta_2)\\ln(1/\\delta)}{2}},

    with :math:`\\delta` = ``drift_confidence`` for a drift and ``warning_confidence`` for a
    warning. Decreases mirror this with a maximum of :math:`\\hat\\mu_T - \\epsilon`. After a
    drift the detector starts afresh with the next value. As in River, a two-sided detector
    can report a drift and a warning on the same value (one for each direction).

    References
    ----------
    .. [1] I. Frías-Blanco, J. del Campo-Ávila, G. Ramos-Jiménez, R. Morales-Bueno,
       A. Ortiz-Díaz and Y. Caballero-Mota, "Online and non-parametric drift detection
       methods based on Hoeffding's bounds", IEEE Transactions on Knowledge and Data
       Engineering 27(3), 810-823, 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from watchkeeper.detectors.hddm_w import HDDM_W
    >>> rng = np.random.default_rng(42)
    >>> errors = np.concatenate([rng.random(1000) < 0.1, rng.random(1000) < 0.4])
    >>> det = HDDM_W()
    >>> det.update_many(errors.astype(float))
    array([1053])
    >>> det.warning_indices_[:2]  # the warnings that led up to it
    array([1051, 1052])
    """

    binary = True

    def __init__(
        self,
        drift_confidence: float = 0.001,
        warning_confidence: float = 0.005,
        lambda_val: float = 0.05,
        two_sided_test: bool = False,
    ) -> None:
        for name, value in (
            ("drift_confidence", drift_confidence),
            ("warning_confidence", warning_confidence),
        ):
            check_number(_OWNER, name, value, low=0, high=1, low_open=True, high_open=True)
        check_number(_OWNER, "lambda_val", lambda_val, low=0, high=1, low_open=True)
        if not isinstance(two_sided_test, bool):
            raise InvalidParameterError(
                f"The 'two_sided_test' parameter of {_OWNER} must be a bool. "
                f"Got {two_sided_test!r} instead."
            )
        super().__init__()
        self.drift_confidence = drift_confidence
        self.warning_confidence = warning_confidence
        self.lambda_val = lambda_val
        self.two_sided_test = two_sided_test
        lam = float(lambda_val)
        self._lam = lam
        self._c_lam = 1.0 - lam
        self._lam_sq = lam * lam
        self._c_lam_sq = (1.0 - lam) ** 2
        self._log_bound = math.log(1.0 / drift_confidence)
        self._log_drift = self._log_bound
        self._log_warning = math.log(1.0 / warning_confidence)
        self._reset_state()

    def _reset_state(self) -> None:
        self._t_ewma, self._t_init, self._t_ibc = 0.0, False, 1.0
        self._s1i_ewma, self._s1i_init, self._s1i_ibc = 0.0, False, 1.0
        self._s2i_ewma, self._s2i_init, self._s2i_ibc = 0.0, False, 1.0
        self._s1d_ewma, self._s1d_init, self._s1d_ibc = 0.0, False, 1.0
        self._s2d_ewma, self._s2d_init, self._s2d_ibc = 0.0, False, 1.0
        self._incr_cut = _INF
        self._decr_cut = -_INF

    def update(self, x: float) -> HDDM_W:
        """Add one value (1 = error, 0 = correct); returns ``self``.

        Raises
        ------
        InvalidInputError
            If ``x`` is NaN or neither 0 nor 1.
        """
        v = check_value(x, binary=True, owner=_OWNER)
        self.n_seen_ += 1
        lam = self._lam
        c_lam = self._c_lam
        lam_sq = self._lam_sq
        c_lam_sq = self._c_lam_sq
        t_ewma = lam * v + c_lam * self._t_ewma if self._t_init else v
        t_ibc = lam_sq + c_lam_sq * self._t_ibc
        self._t_ewma = t_ewma
        self._t_init = True
        self._t_ibc = t_ibc
        eps = math.sqrt(t_ibc * self._log_bound / 2.0)
        if t_ewma + eps < self._incr_cut:
            self._incr_cut = t_ewma + eps
            s1_ewma, s1_ibc = self._s1i_ewma, self._s1i_ibc = t_ewma, t_ibc
            self._s1i_init = True
            s2_init = self._s2i_init = False
            self._s2i_ewma, self._s2i_ibc = 0.0, 1.0
        else:
            s1_ewma, s1_ibc = self._s1i_ewma, self._s1i_ibc
            s2_ewma = lam * v + c_lam * self._s2i_ewma if self._s2i_init else v
            s2_ibc = lam_sq + c_lam_sq * self._s2i_ibc
            self._s2i_ewma, self._s2i_ibc = s2_ewma, s2_ibc
            s2_init = self._s2i_init = True
        drift = False
        warning = False
        if s2_init and self._s1i_init:
            ibc_sum = s1_ibc + s2_ibc
            diff = s2_ewma - s1_ewma
            if diff > math.sqrt(ibc_sum * self._log_drift / 2.0):
                drift = True
            elif diff > math.sqrt(ibc_sum * self._log_warning / 2.0):
                warning = True
        if t_ewma - eps > self._decr_cut:
            self._decr_cut = t_ewma - eps
            s1_ewma, s1_ibc = self._s1d_ewma, self._s1d_ibc = t_ewma, t_ibc
            self._s1d_init = True
            s2_init = self._s2d_init = False
            self._s2d_ewma, self._s2d_ibc = 0.0, 1.0
        else:
            s1_ewma, s1_ibc = self._s1d_ewma, self._s1d_ibc
            s2_ewma = lam * v + c_lam * self._s2d_ewma if self._s2d_init else v
            s2_ibc = lam_sq + c_lam_sq * self._s2d_ibc
            self._s2d_ewma, self._s2d_ibc = s2_ewma, s2_ibc
            s2_init = self._s2d_init = True
        if self.two_sided_test and s2_init and self._s1d_init:
            ibc_sum = s2_ibc + s1_ibc
            diff = s1_ewma - s2_ewma
            if diff > math.sqrt(ibc_sum * self._log_drift / 2.0):
                drift = True
            elif diff > math.sqrt(ibc_sum * self._log_warning / 2.0):
                warning = True
        self._drift_detected = drift
        self._warning_detected = warning
        if drift:
            self._reset_state()
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
        if x.shape[0] == 0:
            self.warning_indices_ = np.empty(0, dtype=np.int64)
            return np.empty(0, dtype=np.int64)
        out = np.zeros(x.shape[0], dtype=np.int8)
        state = self._pack()
        _kernel()(
            x,
            state,
            self._lam,
            self._lam_sq,
            self._c_lam_sq,
            self._log_bound,
            self._log_drift,
            self._log_warning,
            self.two_sided_test,
            out,
        )
        self._unpack([float(s) for s in state])
        self.n_seen_ += int(x.shape[0])
        last = int(out[-1])
        self._drift_detected = bool(last & _DRIFT)
        self._warning_detected = bool(last & _WARNING)
        self.warning_indices_ = np.flatnonzero(out & _WARNING).astype(np.int64)
        return np.flatnonzero(out & _DRIFT).astype(np.int64)

    def _pack(self) -> npt.NDArray[np.float64]:
        """The state as the kernel's 17-vector: (EWMA, initialized, ibc) x 5, two cut points."""
        return np.array(
            [
                self._t_ewma, float(self._t_init), self._t_ibc,
                self._s1i_ewma, float(self._s1i_init), self._s1i_ibc,
                self._s2i_ewma, float(self._s2i_init), self._s2i_ibc,
                self._s1d_ewma, float(self._s1d_init), self._s1d_ibc,
                self._s2d_ewma, float(self._s2d_init), self._s2d_ibc,
                self._incr_cut, self._decr_cut,
            ],
            dtype=np.float64,
        )  # fmt: skip

    def _unpack(self, s: list[float]) -> None:
        self._t_ewma, self._t_init, self._t_ibc = s[0], s[1] != 0.0, s[2]
        self._s1i_ewma, self._s1i_init, self._s1i_ibc = s[3], s[4] != 0.0, s[5]
        self._s2i_ewma, self._s2i_init, self._s2i_ibc = s[6], s[7] != 0.0, s[8]
        self._s1d_ewma, self._s1d_init, self._s1d_ibc = s[9], s[10] != 0.0, s[11]
        self._s2d_ewma, self._s2d_init, self._s2d_ibc = s[12], s[13] != 0.0, s[14]
        self._incr_cut, self._decr_cut = s[15], s[16]

    def _params(self) -> dict[str, Any]:
        return {
            "drift_confidence": self.drift_confidence,
            "warning_confidence": self.warning_confidence,
            "lambda_val": self.lambda_val,
            "two_sided_test": self.two_sided_test,
        }

    def _state(self) -> dict[str, Any]:
        s = [float(v) for v in self._pack()]
        state: dict[str, Any] = {
            name: [s[3 * k], bool(s[3 * k + 1]), s[3 * k + 2]] for k, name in enumerate(_SAMPLES)
        }
        # The cut points are infinite only before the first value; JSON has no infinity.
        state["incr_cutpoint"] = None if math.isinf(s[15]) else s[15]
        state["decr_cutpoint"] = None if math.isinf(s[16]) else s[16]
        return state

    def _load_state(self, state: dict[str, Any]) -> None:
        s: list[float] = []
        for name in _SAMPLES:
            ewma, init, ibc = state[name]
            s += [float(ewma), 1.0 if init else 0.0, float(ibc)]
        incr, decr = state["incr_cutpoint"], state["decr_cutpoint"]
        s.append(_INF if incr is None else float(incr))
        s.append(-_INF if decr is None else float(decr))
        self._unpack(s)
