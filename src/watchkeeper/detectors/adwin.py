"""ADWIN: adaptive windowing over an exponential histogram (Bifet & Gavaldà, 2007)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from watchkeeper._validate import check_int, check_number
from watchkeeper.detectors._base import Detector, IntArray, as_stream, check_value
from watchkeeper.errors import InvalidParameterError

__all__ = ["ADWIN"]

_TWO_THIRDS = 2.0 / 3.0


class ADWIN(Detector):
    r"""Adaptive windowing drift detector for a real-valued stream.

    ADWIN keeps a window of the most recent values, compressed into an exponential histogram:
    row ``i`` holds up to ``max_buckets`` buckets, each summarising ``2**i`` consecutive values
    by their sum and their sum of squared deviations. Every ``clock`` values (once the window
    is longer than ``grace_period``) it tries every bucket boundary as a split of the window
    into an older part :math:`W_0` and a newer part :math:`W_1`; if the two means differ by
    more than the threshold below, the oldest bucket is dropped and the test is repeated, so
    the window shrinks to the part after the change. A value that shrinks the window is a
    detection.

    Values may be any finite float (an error indicator, a loss, a score); NaN is refused.

    Parameters
    ----------
    delta
        Confidence of the cut test, in (0, 1); smaller means fewer false alarms and later
        detections.
    clock
        Run the cut test every ``clock`` values (1 tests after every value).
    max_buckets
        Buckets kept per histogram row before the two oldest are merged into the next row.
    min_window_length
        Smallest size that both :math:`W_0` and :math:`W_1` must have for a split to be tested.
    grace_period
        No test runs until the window holds more than this many values.
    keep_window
        What happens after a detection. ``False`` (the default, as River 0.26 does): the
        detector reports the shrunk window until the next value arrives, then starts again
        from an empty window (and restarts the ``clock`` count). ``True`` (the paper's ADWIN2):
        the shrunk window is kept and the stream goes on in it.

    Attributes
    ----------
    n_seen_
        Values seen since construction or the last :meth:`reset`.
    last_cut_
        Absolute index (in ``n_seen_`` counting, from 0) of the oldest value still in the
        window after the most recent detection: ADWIN's estimate of where the change began;
        -1 before any detection.
    cut_indices_
        ``last_cut_`` for each detection of the last :meth:`update_many` call.
    warning_indices_
        Always empty: ADWIN has no warning zone.

    Notes
    -----
    With :math:`n = |W|`, :math:`\sigma^2_W` the variance of the window,
    :math:`\delta' = \ln(2\ln(n)/\delta)` and
    :math:`1/m = 1/(n_0 - \ell + 1) + 1/(n_1 - \ell + 1)` (with
    :math:`\ell` = ``min_window_length``), a split is a change when

    .. math::

        |\hat\mu_{W_0} - \hat\mu_{W_1}| > \sqrt{\tfrac{2}{m}\,\sigma^2_W\,\delta'}
            + \tfrac{2}{3m}\,\delta'.

    The window's variance is kept by the streaming update
    :math:`S \mathrel{+}= \frac{n-1}{n}(x - \bar x_{n-1})^2`, and merging or dropping a bucket
    uses the pairwise combination rule of Babcock et al. (2003). The arithmetic follows River
    0.26's order operation by operation, so the detection indices are River's exactly.
    After a detection River 0.26 discards the whole window at the next value (not only the
    part before the cut); that is the default here, and ``keep_window=True`` gives the
    paper's behaviour. With ``max_buckets=1`` a histogram row may be empty; when a drop would
    reach an empty trailing row it is skipped (River 0.26 raises a PanicException there).

    References
    ----------
    A. Bifet and R. Gavaldà, "Learning from time-changing data with adaptive windowing",
    Proceedings of the 2007 SIAM International Conference on Data Mining, pp. 443-448.

    B. Babcock, M. Datar, R. Motwani and L. O'Callaghan, "Maintaining variance and k-medians
    over data stream windows", PODS 2003.

    Examples
    --------
    >>> import numpy as np
    >>> from watchkeeper.detectors.adwin import ADWIN
    >>> rng = np.random.default_rng(12345)
    >>> stream = np.concatenate([rng.normal(0.0, 1.0, 1000), rng.normal(1.0, 1.0, 1000)])
    >>> detector = ADWIN()
    >>> for i, x in enumerate(stream):
    ...     if detector.update(x).drift_detected:
    ...         print(i, detector.last_cut_)
    1055 928
    >>> ADWIN().update_many(stream).tolist()
    [1055]
    """

    def __init__(
        self,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
        *,
        keep_window: bool = False,
    ) -> None:
        super().__init__()
        check_number("ADWIN", "delta", delta, low=0.0, high=1.0, low_open=True, high_open=True)
        check_int("ADWIN", "clock", clock, low=1)
        check_int("ADWIN", "max_buckets", max_buckets, low=1)
        check_int("ADWIN", "min_window_length", min_window_length, low=1)
        check_int("ADWIN", "grace_period", grace_period, low=0)
        if not isinstance(keep_window, bool):
            raise InvalidParameterError(
                f"The 'keep_window' parameter of ADWIN must be a bool. Got {keep_window!r} instead."
            )
        self.delta = delta
        self.clock = clock
        self.max_buckets = max_buckets
        self.min_window_length = min_window_length
        self.grace_period = grace_period
        self.keep_window = keep_window
        self._reset_state()

    # ------------------------------------------------------------------ state
    def _clear_window(self) -> None:
        self._totals: list[list[float]] = [[]]
        self._variances: list[list[float]] = [[]]
        self._width = 0
        self._total = 0.0
        self._variance = 0.0
        self._tick = 0

    def _reset_state(self) -> None:
        self._clear_window()
        self.last_cut_ = -1
        self.cut_indices_: IntArray = np.empty(0, dtype=np.int64)

    def _params(self) -> dict[str, Any]:
        return {
            "delta": self.delta,
            "clock": self.clock,
            "max_buckets": self.max_buckets,
            "min_window_length": self.min_window_length,
            "grace_period": self.grace_period,
            "keep_window": self.keep_window,
        }

    def _state(self) -> dict[str, Any]:
        return {
            "totals": [list(r) for r in self._totals],
            "variances": [list(r) for r in self._variances],
            "width": self._width,
            "total": self._total,
            "variance": self._variance,
            "tick": self._tick,
            "last_cut": self.last_cut_,
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        totals = [[float(t) for t in r] for r in state["totals"]]
        variances = [[float(v) for v in r] for r in state["variances"]]
        if (
            not totals
            or len(totals) != len(variances)
            or variances[0]
            or any(len(r) > self.max_buckets for r in totals)
            or any(len(a) != len(b) for a, b in zip(totals[1:], variances[1:], strict=True))
        ):
            raise ValueError("ADWIN histogram rows are malformed")
        self._totals = totals
        self._variances = variances
        self._width = int(state["width"])
        self._total = float(state["total"])
        self._variance = float(state["variance"])
        self._tick = int(state["tick"])
        self.last_cut_ = int(state["last_cut"])

    # ------------------------------------------------------------ read-only
    @property
    def width(self) -> int:
        """Number of values in the current window."""
        return self._width

    @property
    def total(self) -> float:
        """Sum of the values in the current window."""
        return self._total

    @property
    def variance(self) -> float:
        """Sum of squared deviations from the window mean (River's ``variance``; divide by
        ``width`` for the window's variance)."""
        return self._variance

    @property
    def estimation(self) -> float:
        """Mean of the current window (0.0 when it is empty)."""
        return self._total / self._width if self._width else 0.0

    # --------------------------------------------------------------- update
    def update(self, x: float) -> ADWIN:
        """Add one value; ``drift_detected`` tells whether it shrank the window.

        Parameters
        ----------
        x
            The next value of the stream.

        Returns
        -------
        ADWIN
            ``self``.

        Raises
        ------
        InvalidInputError
            If ``x`` is not a number or is NaN.
        """
        try:
            v = float(x)
        except (TypeError, ValueError):
            v = check_value(x, binary=False, owner="ADWIN")
        if v != v:
            check_value(x, binary=False, owner="ADWIN")
        if self._drift_detected and not self.keep_window:
            self._clear_window()
        self.n_seen_ += 1
        w = self._width
        total = self._total
        if w:
            d = v - total / w
            self._variance += w * d * d / (w + 1)
        self._width = w + 1
        self._total = total + v
        row = self._totals[0]
        row.append(v)
        if len(row) > self.max_buckets:
            # Row 0 holds single values (zero spread), so the merged spread is 0.5 * d**2.
            t0 = row[0]
            t1 = row[1]
            del row[:2]
            d = t0 - t1
            totals = self._totals
            if len(totals) == 1:
                totals.append([])
                self._variances.append([])
            nxt = totals[1]
            nxt.append(t0 + t1)
            self._variances[1].append(0.5 * d * d)
            if len(nxt) > self.max_buckets:
                self._compress(1)
        tick = self._tick + 1
        self._tick = tick
        if tick % self.clock == 0 and w >= self.grace_period:
            self._drift_detected = self._cut()
        else:
            self._drift_detected = False
        return self

    def _compress(self, idx: int) -> None:
        """Merge the two oldest buckets of each full row, from row ``idx`` up."""
        totals = self._totals
        variances = self._variances
        full = self.max_buckets + 1
        while True:
            rt = totals[idx]
            if len(rt) != full:
                return
            rv = variances[idx]
            n1 = float(1 << idx)
            t0 = rt[0]
            t1 = rt[1]
            d = t0 / n1 - t1 / n1
            if idx + 1 == len(totals):
                totals.append([])
                variances.append([])
            nt = totals[idx + 1]
            nt.append(t0 + t1)
            variances[idx + 1].append(rv[0] + rv[1] + n1 * 0.5 * d * d)
            del rt[:2]
            del rv[:2]
            if len(nt) < full:
                return
            idx += 1

    def _cut(self) -> bool:
        """Drop oldest buckets while some split is a change; return whether any was dropped."""
        totals = self._totals
        mwl = self.min_window_length
        k = mwl - 1
        delta = self.delta
        sqrt = math.sqrt
        detected = False
        while True:
            w = self._width
            if w < 2 * mwl:  # no split has both sides long enough
                break
            dprime = math.log(2.0 * math.log(w) / delta)
            c23 = _TWO_THIRDS * dprime
            # 2*m*(S/w) == m*(2*S/w) exactly: doubling is exact in binary floating point.
            vw2 = 2.0 * (self._variance / w)
            if not vw2 >= 0.0:  # a negative (rounding) or NaN spread gives a NaN threshold
                break
            n0 = 0
            n1 = w
            u0 = 0.0
            u1 = self._total
            found = False
            for idx in range(len(totals) - 1, -1, -1):
                size = 1 << idx
                for t in totals[idx]:
                    n0 += size
                    n1 -= size
                    u0 += t
                    u1 -= t
                    if n1 <= k:
                        break
                    if n0 > k:
                        m = 1.0 / (n0 - k) + 1.0 / (n1 - k)
                        eps = sqrt(m * vw2 * dprime) + c23 * m
                        dm = u0 / n0 - u1 / n1
                        if dm > eps or -dm > eps:
                            found = True
                            break
                else:
                    continue
                break
            if not found:
                break
            detected = True
            self._drop_oldest()
        if detected:
            self.last_cut_ = self.n_seen_ - self._width
        return detected

    def _drop_oldest(self) -> None:
        totals = self._totals
        variances = self._variances
        while len(totals) > 1 and not totals[-1]:  # only possible with max_buckets == 1
            totals.pop()
            variances.pop()
        last = len(totals) - 1
        n = 1 << last
        u = totals[last].pop(0)
        v = variances[last].pop(0) if last else 0.0
        mu = u / n
        w = self._width - n
        total = self._total - u
        d = mu - total / w
        self._variance -= v + n * w * d * d / (n + w)
        self._width = w
        self._total = total
        if not totals[last] and last > 0:
            totals.pop()
            variances.pop()

    def update_many(self, values: Any) -> IntArray:
        """Feed a whole array; the same results as calling :meth:`update` on each value.

        Parameters
        ----------
        values
            1-D array-like of numbers.

        Returns
        -------
        numpy.ndarray
            int64 indices (relative to ``values``) of the values that completed a detection.
            ``cut_indices_`` holds the matching cut positions (absolute).

        Raises
        ------
        InvalidInputError
            If ``values`` is not 1-D numeric, or holds NaN.
        """
        from watchkeeper.detectors._adwin_kernel import MAX_ROWS, get_kernel

        x = np.ascontiguousarray(as_stream(values, binary=False, owner="ADWIN"))
        kernel = get_kernel()
        cols = self.max_buckets + 1
        totals = np.zeros((MAX_ROWS, cols), dtype=np.float64)
        variances = np.zeros((MAX_ROWS, cols), dtype=np.float64)
        counts = np.zeros(MAX_ROWS, dtype=np.int64)
        for i, (rt, rv) in enumerate(zip(self._totals, self._variances, strict=True)):
            totals[i, : len(rt)] = rt
            variances[i, : len(rv)] = rv  # row 0's spreads are all zero and not stored
            counts[i] = len(rt)
        istate = np.array(
            [len(self._totals), self._width, self._tick, int(self._drift_detected), self.last_cut_],
            dtype=np.int64,
        )
        fstate = np.array([self._total, self._variance], dtype=np.float64)
        drifts = np.empty(x.shape[0], dtype=np.int64)
        cuts = np.empty(x.shape[0], dtype=np.int64)
        n_drifts = kernel(
            x,
            totals,
            variances,
            counts,
            istate,
            fstate,
            float(self.delta),
            self.clock,
            self.max_buckets,
            self.min_window_length,
            self.grace_period,
            self.keep_window,
            self.n_seen_,
            drifts,
            cuts,
        )
        nrows = int(istate[0])
        self._totals = [totals[i, : counts[i]].tolist() for i in range(nrows)]
        self._variances = [[]] + [variances[i, : counts[i]].tolist() for i in range(1, nrows)]
        self._width = int(istate[1])
        self._tick = int(istate[2])
        self._drift_detected = bool(istate[3])
        self.last_cut_ = int(istate[4])
        self._total = float(fstate[0])
        self._variance = float(fstate[1])
        self.n_seen_ += int(x.shape[0])
        self.warning_indices_ = np.empty(0, dtype=np.int64)
        self.cut_indices_ = cuts[:n_drifts].copy()
        return drifts[:n_drifts].copy()
