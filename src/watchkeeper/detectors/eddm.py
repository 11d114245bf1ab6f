"""EDDM, the Early Drift Detection Method of Baena-García et al. (2006), on prediction errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from watchkeeper._validate import check_int, check_number
from watchkeeper.detectors._base import Detector, as_stream, check_value
from watchkeeper.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable

    from watchkeeper.detectors._base import FloatArray, IntArray

__all__ = ["EDDM"]

_IS_ERROR = {0: False, 1: True}

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
            alpha: float,
            beta: float,
            half: float,
            drifts: IntArray,
            warnings: IntArray,
        ) -> tuple[int, int]:
            # ``half`` is 0.5, passed at run time so that ``var ** half`` stays a call to
            # pow(), as in CPython: a literal 0.5 would be compiled to sqrt(), which differs
            # from glibc's pow() in the last bit for about 1 value in 1,000.
            n = state[0]
            n_errors = state[1]
            last_error = state[2]
            mean = state[3]
            ssq = state[4]
            p2s_max = state[5]
            drift = state[6] != 0.0
            warning = state[7] != 0.0
            n_drifts = 0
            n_warnings = 0
            for i in range(x.size):
                if drift:
                    n = 0.0
                    n_errors = 0.0
                    last_error = 0.0
                    mean = 0.0
                    ssq = 0.0
                    p2s_max = -1.0
                    drift = False
                    warning = False
                n += 1.0
                if x[i] == 1.0:
                    n_errors += 1.0
                    distance = n - last_error
                    old_mean = mean
                    mean += (1.0 / n_errors) * (distance - mean)
                    ssq += (distance - old_mean) * (distance - mean)
                    if n > warm_start:
                        var = ssq / (n_errors - 1.0) if n_errors > 1.0 else 0.0
                        p2s = mean + 2.0 * var**half
                        if p2s > p2s_max:
                            p2s_max = p2s
                        elif n_errors > warm_start:
                            level = p2s / p2s_max
                            if level < beta:
                                drift = True
                            elif level < alpha:
                                warning = True
                            else:
                                warning = False
                    last_error = n
                if drift:
                    drifts[n_drifts] = i
                    n_drifts += 1
                if warning:
                    warnings[n_warnings] = i
                    n_warnings += 1
            state[0] = n
            state[1] = n_errors
            state[2] = last_error
            state[3] = mean
            state[4] = ssq
            state[5] = p2s_max
            state[6] = 1.0 if drift else 0.0
            state[7] = 1.0 if warning else 0.0
            return n_drifts, n_warnings

        _KERNEL = run
    return _KERNEL


class EDDM(Detector):
    r"""Early Drift Detection Method (EDDM) on a stream of prediction errors.

    EDDM watches the distance (in values) between consecutive errors rather than the error
    rate. While a model is stable the errors keep their spacing; when the spacing shrinks
    markedly below the widest seen so far, the detector warns and then detects a drift. It
    reacts to gradual change sooner than :class:`~watchkeeper.detectors.ddm.DDM`.

    **Input convention:** binary. Feed ``1`` when the model's prediction was wrong and ``0``
    when it was right (``True``/``False`` work too). Anything else, and NaN, is refused.

    Parameters
    ----------
    warm_start
        Number of values, and also of errors, to see (since the start or the last drift)
        before the detector may warn or detect.
    alpha
        Warning level :math:`\alpha` in (0, 1]: a warning when the ratio below falls under it.
        Smaller values make the detector more conservative.
    beta
        Drift level :math:`\beta` in (0, 1], at most ``alpha``: a drift when the ratio falls
        under it.

    Attributes
    ----------
    n_
        Values seen since the start or the last drift.
    n_errors_
        Errors seen since the start or the last drift.
    mean_distance_
        :math:`p'_i`, the running mean distance between consecutive errors.
    p2s_max_
        :math:`p'_{max} + 2 s'_{max}`, the largest :math:`p'_i + 2 s'_i` seen so far
        (-1 before the first).
    n_seen_
        Values seen in total (drifts do not reset it; :meth:`reset` does).
    warning_indices_
        Indices, relative to the input, where the last ``update_many`` call was in the
        warning zone.

    Raises
    ------
    InvalidParameterError
        If ``warm_start`` is not an integer >= 0, ``alpha`` or ``beta`` is outside (0, 1],
        or ``alpha < beta``.

    Notes
    -----
    At each error, the distance to the previous error (the first counts from the start)
    updates the running mean :math:`p'_i` and sample standard deviation :math:`s'_i`
    (Welford). Once more than ``warm_start`` values have been seen,

    .. math::

        \text{level} = \frac{p'_i + 2 s'_i}{p'_{max} + 2 s'_{max}}

    is computed unless :math:`p'_i + 2 s'_i` is a new maximum. When more than
    ``warm_start`` errors have been seen, :math:`\text{level} < \beta` is a drift,
    :math:`\text{level} < \alpha` a warning, and otherwise the warning is lifted.

    As in River 0.26 the warning flag only changes at errors: it stays raised over the
    correct predictions that follow, and it is left as it was on the value that completes a
    drift. The value after a drift starts a fresh detector; the indices reported are those
    of ``river.drift.binary.EDDM`` with the same parameters.

    References
    ----------
    .. [1] M. Baena-García, J. del Campo-Ávila, R. Fidalgo, A. Bifet, R. Gavaldà and
       R. Morales-Bueno, "Early Drift Detection Method", Fourth International Workshop on
       Knowledge Discovery from Data Streams, 2006.

    Examples
    --------
    >>> import numpy as np
    >>> from watchkeeper.detectors.eddm import EDDM
    >>> rng = np.random.default_rng(42)
    >>> errors = np.concatenate([rng.random(1000) < 0.1, rng.random(1000) < 0.3])
    >>> eddm = EDDM(alpha=0.8, beta=0.75)
    >>> eddm.update_many(errors.astype(int))
    array([1392])
    >>> int(eddm.warning_indices_[0])
    1251
    """

    binary = True

    def __init__(self, warm_start: int = 30, alpha: float = 0.95, beta: float = 0.9) -> None:
        check_int("EDDM", "warm_start", warm_start, low=0)
        check_number("EDDM", "alpha", alpha, low=0, high=1, low_open=True)
        check_number("EDDM", "beta", beta, low=0, high=1, low_open=True)
        if alpha < beta:
            raise InvalidParameterError(
                f"The 'alpha' parameter of EDDM must be >= 'beta' ({beta!r}): the warning "
                f"level comes before the drift level. Got {alpha!r} instead."
            )
        super().__init__()
        self.warm_start = warm_start
        self.alpha = alpha
        self.beta = beta
        self._reset_state()

    def _reset_state(self) -> None:
        self.n_ = 0
        self.n_errors_ = 0
        self.mean_distance_ = 0.0
        self.p2s_max_ = -1.0
        self._last_error = 0
        self._ssq = 0.0

    def update(self, x: Any) -> EDDM:
        """Feed one value (1 = error, 0 = correct) and return the detector.

        Parameters
        ----------
        x
            ``1`` if the prediction was wrong, ``0`` if it was right.

        Returns
        -------
        EDDM
            ``self``; read ``drift_detected`` and ``warning_detected``.

        Raises
        ------
        InvalidInputError
            If ``x`` is NaN or not 0/1.
        """
        try:
            error = _IS_ERROR[x]  # fast path for 0/1, True/False, 0.0/1.0 and numpy scalars
        except (KeyError, TypeError):
            error = check_value(x, binary=True, owner="EDDM") == 1.0
        if self._drift_detected:
            self._reset_state()
            self._drift_detected = False
            self._warning_detected = False
        self.n_seen_ += 1
        n = self.n_ + 1
        self.n_ = n
        if error:
            n_errors = self.n_errors_ + 1
            self.n_errors_ = n_errors
            distance = n - self._last_error
            old_mean = self.mean_distance_
            mean = old_mean + (1.0 / n_errors) * (distance - old_mean)
            self.mean_distance_ = mean
            ssq = self._ssq + (distance - old_mean) * (distance - mean)
            self._ssq = ssq
            if n > self.warm_start:
                var = ssq / (n_errors - 1) if n_errors > 1 else 0.0
                p2s = mean + 2.0 * var**0.5
                if p2s > self.p2s_max_:
                    self.p2s_max_ = p2s
                elif n_errors > self.warm_start:
                    level = p2s / self.p2s_max_
                    if level < self.beta:
                        self._drift_detected = True
                    else:
                        self._warning_detected = level < self.alpha
            self._last_error = n
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
            ``warning_indices_``: every index after which ``warning_detected`` was true.

        Raises
        ------
        InvalidInputError
            If ``values`` is not 1-D, holds NaN or anything but 0/1.
        """
        x = as_stream(values, binary=True, owner="EDDM")
        state = np.array(
            [
                float(self.n_),
                float(self.n_errors_),
                float(self._last_error),
                self.mean_distance_,
                self._ssq,
                self.p2s_max_,
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
            float(self.alpha),
            float(self.beta),
            0.5,
            drifts,
            warnings,
        )
        self.n_seen_ += x.size
        self.n_ = int(state[0])
        self.n_errors_ = int(state[1])
        self._last_error = int(state[2])
        self.mean_distance_ = float(state[3])
        self._ssq = float(state[4])
        self.p2s_max_ = float(state[5])
        self._drift_detected = bool(state[6])
        self._warning_detected = bool(state[7])
        self.warning_indices_ = warnings[:n_warnings].copy()
        return drifts[:n_drifts].copy()

    def _params(self) -> dict[str, Any]:
        return {"warm_start": self.warm_start, "alpha": self.alpha, "beta": self.beta}

    def _state(self) -> dict[str, Any]:
        return {
            "n": self.n_,
            "n_errors": self.n_errors_,
            "last_error": self._last_error,
            "mean_distance": self.mean_distance_,
            "ssq": self._ssq,
            "p2s_max": self.p2s_max_,
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self.n_ = int(state["n"])
        self.n_errors_ = int(state["n_errors"])
        self._last_error = int(state["last_error"])
        self.mean_distance_ = float(state["mean_distance"])
        self._ssq = float(state["ssq"])
        self.p2s_max_ = float(state["p2s_max"])
