"""KSWIN: Kolmogorov-Smirnov windowing (Raab et al., 2020), exact to River 0.26."""

from __future__ import annotations

import random
from collections import deque
from typing import Any

import numpy as np

from watchkeeper._validate import check_int, check_number
from watchkeeper.detectors._base import Detector, IntArray, as_stream, check_value
from watchkeeper.detectors._kswin_kernel import (
    MAX_STAT_SIZE,
    get_kernel,
    ks_count,
    rejection_count,
    uses_pool,
)
from watchkeeper.errors import InvalidParameterError

__all__ = ["KSWIN"]

_OWNER = "KSWIN"
RIVER_ALPHA = 0.005
DEFAULT_ALPHA = 5e-5


class KSWIN(Detector):
    r"""Kolmogorov-Smirnov windowing drift detector for a real-valued stream.

    KSWIN keeps the last ``window_size`` values. Once the window is full, each new value
    triggers a two-sample Kolmogorov-Smirnov test between the newest ``stat_size`` values and
    ``stat_size`` values drawn at random, without replacement, from the older part of the
    window. A drift is reported when the test rejects; the next value then starts over from an
    empty window (and a re-seeded random generator), exactly as River 0.26 does.

    The input is any real number (a prediction, a feature, a loss...); NaN is refused.

    Parameters
    ----------
    alpha
        Level of each KS test, in [0, 1]. River's default is 0.005; watchkeeper's is
        ``5e-5`` (see Notes). :meth:`river_compatible` gives River's defaults.
    window_size
        Number of values kept in the sliding window.
    stat_size
        Number of newest values tested (and of older values drawn to compare them with). At
        least 1 and at most ``window_size // 2`` (River fails at the first test otherwise) and
        at most 10000.
    seed
        Seed of the random draws (``random.Random(seed)``, as River). ``None`` draws fresh
        entropy at construction and after each drift.
    window
        Values that fill the window before the stream starts (its last ``window_size`` are
        kept), to avoid a cold start. :meth:`reset` restores them; a drift empties the window.

    Attributes
    ----------
    n_seen_
        Values seen since construction or the last :meth:`reset`.
    warning_indices_
        Always empty: KSWIN has no warning zone.

    Raises
    ------
    InvalidParameterError
        If a parameter is out of range.

    Notes
    -----
    With :math:`R` the newest :math:`r` values and :math:`W` a uniform draw of :math:`r`
    values from the :math:`n - r` older ones, the statistic is

    .. math:: D = \sup_x |F_R(x) - F_W(x)|,

    and a drift is reported when the exact two-sample p-value (scipy's ``ks_2samp`` with
    ``method="auto"``, as River calls it) is at most ``alpha`` and :math:`D > 0.1`. As both
    samples have size :math:`r`, :math:`D = h / r` for an integer :math:`h`, so the test
    reduces to :math:`h \ge h^*` where :math:`h^*` is found once from the p-value table.

    **Defaults differ from River.** River tests every value at ``alpha = 0.005``. The tests
    overlap heavily, so on stationary data River's defaults alarm about 135 times per 100,000
    values (some 670 false alarms in 500,000 N(0, 1) values). For a continuous stationary
    stream the false-alarm rate does not depend on the distribution (the KS statistic is
    distribution-free), so it can be calibrated once: watchkeeper's default
    ``alpha = 5e-5`` (``h* = 18`` of 30, i.e. :math:`D \ge 0.6`) alarms about 2.4 times per
    100,000 values, some 55 times less often, while a mean shift of two standard deviations
    is still found after a median of 21 values (River's defaults: 15; one and a half standard
    deviations: 25 against 18). Any ``alpha`` in [2.4e-5, 8.7e-5) gives the same detector.
    ``KSWIN.river_compatible()`` returns a detector with River's defaults, which reports
    River's indices exactly (given the same ``seed``).

    Exactness with River: the draws replay CPython's ``random.Random(seed).sample`` (its
    Mersenne Twister and its two sampling algorithms) in compiled code, and the test is the
    exact p-value scipy computes for ``method="auto"`` with two samples of ``stat_size``
    values (hence the ``stat_size <= 10000`` limit, above which scipy turns asymptotic).

    References
    ----------
    .. [1] C. Raab, M. Heusinger and F.-M. Schleif, "Reactive soft prototype computing for
       concept drift streams", Neurocomputing 416, 340-351, 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from watchkeeper.detectors.kswin import KSWIN
    >>> rng = np.random.default_rng(7)
    >>> stream = np.concatenate([rng.normal(0, 1, 1000), rng.normal(2, 1, 1000)])
    >>> KSWIN(seed=42).update_many(stream)
    array([1019])
    >>> KSWIN.river_compatible(seed=42).update_many(stream)  # River's defaults
    array([ 205,  583, 1014, 1730])
    """

    def __init__(
        self,
        alpha: float = DEFAULT_ALPHA,
        window_size: int = 100,
        stat_size: int = 30,
        seed: int | None = None,
        window: Any = None,
    ) -> None:
        super().__init__()
        check_number(_OWNER, "alpha", alpha, low=0.0, high=1.0)
        check_int(_OWNER, "window_size", window_size, low=2)
        check_int(_OWNER, "stat_size", stat_size, low=1)
        if stat_size > window_size // 2 or stat_size > MAX_STAT_SIZE:
            raise InvalidParameterError(
                f"The 'stat_size' parameter of {_OWNER} must be at most window_size // 2 "
                f"(= {window_size // 2}) and at most {MAX_STAT_SIZE}, so that stat_size older "
                f"values can be drawn. Got {stat_size!r} instead."
            )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InvalidParameterError(
                f"The 'seed' parameter of {_OWNER} must be an integer or None. "
                f"Got {seed!r} instead."
            )
        self.alpha = alpha
        self.window_size = window_size
        self.stat_size = stat_size
        self.seed = seed
        self.window = window
        if window is None:
            self._initial: list[float] = []
        else:
            self._initial = as_stream(window, binary=False, owner=_OWNER).tolist()
        self._kmin = rejection_count(stat_size, float(alpha))
        self._pop = window_size - stat_size
        self._population = range(self._pop)
        self._pool = uses_pool(self._pop, stat_size)
        self._reset_state()

    @classmethod
    def river_compatible(cls, **overrides: Any) -> KSWIN:
        """A KSWIN with River 0.26's defaults (``alpha=0.005``), overridden by ``overrides``.

        With the same parameters and seed it reports River's drift indices exactly.
        """
        params: dict[str, Any] = {
            "alpha": RIVER_ALPHA,
            "window_size": 100,
            "stat_size": 30,
            "seed": None,
            "window": None,
        }
        params.update(overrides)
        return cls(**params)

    # -- state -----------------------------------------------------------------------------

    def _reset_state(self) -> None:
        self._window: deque[float] = deque(self._initial, maxlen=self.window_size)
        self._rng = random.Random(self.seed)

    def _restart(self) -> None:
        """What River does at the value after a drift: empty window, re-seeded generator."""
        self._window = deque(maxlen=self.window_size)
        self._rng = random.Random(self.seed)
        self._drift_detected = False

    def _params(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "window_size": self.window_size,
            "stat_size": self.stat_size,
            "seed": self.seed,
            "window": None if self.window is None else list(self._initial),
        }

    def _state(self) -> dict[str, Any]:
        rng = self._rng.getstate()[1]
        return {"window": list(self._window), "rng": list(rng)}

    def _load_state(self, state: dict[str, Any]) -> None:
        values = as_stream(state["window"], binary=False, owner=_OWNER)
        rng = [int(v) for v in state["rng"]]
        if len(rng) != 625 or len(values) > self.window_size:
            raise ValueError("the window or the generator state has the wrong length")
        self._window = deque(values.tolist(), maxlen=self.window_size)
        self._rng = random.Random()
        self._rng.setstate((3, tuple(rng), None))

    # -- updates ---------------------------------------------------------------------------

    def update(self, x: float) -> KSWIN:
        """Add one value; ``drift_detected`` tells whether it completed a detection."""
        v = check_value(x, binary=False, owner=_OWNER)
        if self._drift_detected:
            self._restart()
        self.n_seen_ += 1
        win = self._window
        win.append(v)
        if len(win) < self.window_size:
            return self
        values = list(win)
        k = self.stat_size
        drawn = sorted([values[r] for r in self._rng.sample(self._population, k)])
        recent = sorted(values[self._pop :])
        if ks_count(drawn, recent) >= self._kmin:
            self._drift_detected = True
        return self

    def update_many(self, values: Any) -> IntArray:
        """Add many values; return the indices (into ``values``) of the drifts.

        Gives exactly the results of calling :meth:`update` on each value in turn.
        """
        x = as_stream(values, binary=False, owner=_OWNER)
        self.warning_indices_ = np.empty(0, dtype=np.int64)
        n = x.shape[0]
        if n == 0:
            return np.empty(0, dtype=np.int64)
        kernel = get_kernel()
        w = self.window_size
        buf = np.zeros(w, dtype=np.float64)
        win = self._window
        buf[: len(win)] = list(win)
        state = np.array([0, len(win), int(self._drift_detected)], dtype=np.int64)
        raw = self._rng.getstate()[1]
        mt = np.array(raw[:624], dtype=np.int64)
        pos = np.array([raw[624]], dtype=np.int64)
        can_reseed = self.seed is not None
        fresh = random.Random(self.seed).getstate()[1]
        init_mt = np.array(fresh[:624], dtype=np.int64)
        drifts = np.empty(n, dtype=np.int64)
        found = 0
        start = 0
        while True:
            nd, stop = kernel(
                x,
                start,
                buf,
                state,
                mt,
                pos,
                init_mt,
                fresh[624],
                can_reseed,
                self.stat_size,
                self._pool,
                self._kmin,
                drifts[found:],
            )
            found += nd
            if stop >= n:
                break
            # seed=None: a drift asks for fresh entropy, which only Python can give.
            fresh = random.Random(None).getstate()[1]
            mt[:] = fresh[:624]
            pos[0] = fresh[624]
            state[:] = (0, 0, 0)
            start = stop
        head, count = int(state[0]), int(state[1])
        order = (head + np.arange(count)) % w
        self._window = deque(buf[order].tolist(), maxlen=w)
        self._rng = random.Random()
        self._rng.setstate((3, (*mt.tolist(), int(pos[0])), None))
        self._drift_detected = bool(state[2])
        self.n_seen_ += n
        return drifts[:found].copy()
