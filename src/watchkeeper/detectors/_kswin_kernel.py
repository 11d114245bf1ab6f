"""Private helpers of :class:`~watchkeeper.detectors.kswin.KSWIN`.

* the rejection threshold: the smallest KS count ``h`` (statistic ``h / r``) at which the exact
  two-sample p-value of scipy's ``ks_2samp(..., method="auto")`` is at most ``alpha`` and the
  statistic exceeds 0.1 — the p-value depends on the samples only through ``h``;
* the compiled ``update_many`` kernel, which replays CPython's Mersenne Twister and
  ``random.Random.sample`` draw for draw so that the sampled indices are those River draws.

numba is imported lazily, the first time the kernel is needed.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["get_kernel", "ks_count", "rejection_count", "uses_pool"]

MAX_STAT_SIZE = 10_000  # beyond this scipy's "auto" switches to the asymptotic p-value

_KERNEL: Callable[..., Any] | None = None


@lru_cache(maxsize=64)
def _p_value(n: int, h: int) -> float:
    """p-value of ``scipy.stats.ks_2samp`` for two samples of size ``n`` at statistic ``h / n``."""
    from scipy import stats

    base = np.arange(n, dtype=np.float64)
    with warnings.catch_warnings():
        # for some h the exact computation gives up and scipy warns that it switches to the
        # asymptotic p-value; River silences that warning and uses the value, as do we.
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return float(stats.ks_2samp(base, base + h, method="auto").pvalue)


@lru_cache(maxsize=64)
def rejection_count(n: int, alpha: float) -> int:
    """Smallest ``h`` with ``p(h) <= alpha`` and ``h / n > 0.1`` (``n + 1`` if there is none).

    The exact p-value decreases with ``h``, so a binary search finds the boundary.
    """
    lo, hi = 0, n + 1  # invariant: p(hi) <= alpha (hi = n + 1 stands for "never"), p(lo) > alpha
    if _p_value(n, 0) <= alpha:
        hi = 0
    else:
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _p_value(n, mid) <= alpha:
                hi = mid
            else:
                lo = mid
    h = hi
    while h <= n and not h / n > 0.1:
        h += 1
    return h


def uses_pool(population: int, k: int) -> bool:
    """Which of its two algorithms ``random.Random.sample`` takes (CPython 3.11+)."""
    setsize = 21
    if k > 5:
        setsize += 4 ** math.ceil(math.log(k * 3, 4))
    return population <= setsize


def ks_count(a: list[float], b: list[float]) -> int:
    """``n * D`` for two sorted samples of the same size ``n`` (D: the KS statistic)."""
    n = len(a)
    i = j = h = 0
    while i < n and j < n:
        v = a[i] if a[i] < b[j] else b[j]
        while i < n and a[i] <= v:
            i += 1
        while j < n and b[j] <= v:
            j += 1
        d = i - j if i > j else j - i
        if d > h:
            h = d
    return h


def _genrand(mt: Any, pos: Any) -> int:
    # MT19937 (as CPython's random module): regenerate the 624 words, then temper one.
    if pos[0] >= 624:
        for kk in range(227):
            y = (mt[kk] & 0x80000000) | (mt[kk + 1] & 0x7FFFFFFF)
            mt[kk] = mt[kk + 397] ^ (y >> 1) ^ ((y & 1) * 0x9908B0DF)
        for kk in range(227, 623):
            y = (mt[kk] & 0x80000000) | (mt[kk + 1] & 0x7FFFFFFF)
            mt[kk] = mt[kk - 227] ^ (y >> 1) ^ ((y & 1) * 0x9908B0DF)
        y = (mt[623] & 0x80000000) | (mt[0] & 0x7FFFFFFF)
        mt[623] = mt[396] ^ (y >> 1) ^ ((y & 1) * 0x9908B0DF)
        pos[0] = 0
    y = mt[pos[0]]
    pos[0] += 1
    y ^= y >> 11
    y ^= (y << 7) & 0x9D2C5680
    y ^= (y << 15) & 0xEFC60000
    y ^= y >> 18
    return y & 0xFFFFFFFF  # type: ignore[no-any-return]


def _randbelow(mt: Any, pos: Any, n: int) -> int:
    # getrandbits(n.bit_length()) until the draw is below n (CPython's _randbelow)
    shift = 32
    m = n
    while m > 0:
        shift -= 1
        m >>= 1
    r = _genrand(mt, pos) >> shift
    while r >= n:
        r = _genrand(mt, pos) >> shift
    return r


def _rank_of(b: Any, val: float, k: int, rl: Any, rr: Any, slot: int) -> None:
    # rl[slot] = #newest < val, rr[slot] = #newest <= val (b: the newest, sorted)
    lo = 0
    n = k
    while n > 1:  # branch-free lower bound
        half = n >> 1
        lo += half * (b[lo + half] < val)
        n -= half
    lo += b[lo] < val
    rl[slot] = lo
    while lo < k and b[lo] <= val:
        lo += 1
    rr[slot] = lo


def _rebuild(buf: Any, head: int, k: int, b: Any, rl: Any, rr: Any) -> None:
    w = buf.shape[0]
    for t in range(k):
        r = w - k + t + head
        if r >= w:
            r -= w
        b[t] = buf[r]
    b.sort()
    for r in range(w):
        _rank_of(b, buf[r], k, rl, rr, r)


def _kernel(
    x: Any,
    start_at: int,
    buf: Any,
    state: Any,
    mt: Any,
    pos: Any,
    init_mt: Any,
    init_pos: int,
    can_reseed: bool,
    k: int,
    pool_mode: bool,
    kmin: int,
    drifts: Any,
) -> tuple[int, int]:
    # state = [head, count, pending_reset]; buf is the circular window of size W.
    w = buf.shape[0]
    pop = w - k
    head = state[0]
    count = state[1]
    pending = state[2]
    cl = np.zeros(k + 1, dtype=np.int64)
    cr = np.zeros(k + 1, dtype=np.int64)
    b = np.empty(k, dtype=np.float64)
    pool = np.empty(pop, dtype=np.int64)
    mark = np.zeros(pop, dtype=np.bool_)
    # b: the newest k values, sorted; rl/rr: per slot, the rank of an older value among
    # them (#newest < value, #newest <= value), kept up to date as the window slides.
    rl = np.zeros(w, dtype=np.int64)
    rr = np.zeros(w, dtype=np.int64)
    if count == w:
        _rebuild(buf, head, k, b, rl, rr)
    nd = 0
    i = start_at
    n = x.shape[0]
    stop = n
    while i < n:
        if pending:
            if not can_reseed:
                stop = i
                break
            head = 0
            count = 0
            pending = 0
            mt[:] = init_mt
            pos[0] = init_pos
        v = x[i]
        if count < w:
            slot = head + count
            if slot >= w:
                slot -= w
            buf[slot] = v
            count += 1
            if count == w:
                _rebuild(buf, head, k, b, rl, rr)
        else:
            # the oldest of the newest k values leaves them; v joins them, in order
            r = head + pop
            if r >= w:
                r -= w
            old = buf[r]
            t = 0
            while b[t] != old:
                t += 1
            # shift to close the gap and open one for v
            if v >= old:
                while t + 1 < k and b[t + 1] < v:
                    b[t] = b[t + 1]
                    t += 1
            else:
                while t > 0 and b[t - 1] > v:
                    b[t] = b[t - 1]
                    t -= 1
            b[t] = v
            buf[head] = v
            head += 1
            if head == w:
                head = 0
            for t in range(w):
                e = buf[t]
                rl[t] += np.int64(v < e) - np.int64(old < e)
                rr[t] += np.int64(v <= e) - np.int64(old <= e)
            _rank_of(b, old, k, rl, rr, r)
        if count >= w:
            if pool_mode:
                for t in range(pop):
                    pool[t] = t
                for t in range(k):
                    j = _randbelow(mt, pos, pop - t)
                    r = pool[j] + head
                    if r >= w:
                        r -= w
                    cl[rl[r]] += 1
                    cr[rr[r]] += 1
                    pool[j] = pool[pop - t - 1]
            else:
                for t in range(k):
                    j = _randbelow(mt, pos, pop)
                    while mark[j]:
                        j = _randbelow(mt, pos, pop)
                    mark[j] = True
                    pool[t] = j
                    r = j + head
                    if r >= w:
                        r -= w
                    cl[rl[r]] += 1
                    cr[rr[r]] += 1
                for t in range(k):
                    mark[pool[t]] = False
            # F_R - F_W peaks just before a newest value, F_W - F_R at one
            h = 0
            below = 0
            upto = 0
            for j in range(k):
                upto += cl[j]
                below += cr[j]
                cl[j] = 0
                cr[j] = 0
                if j + 1 - upto > h:
                    h = j + 1 - upto
                if below - j > h:
                    h = below - j
            cl[k] = 0
            cr[k] = 0
            if h >= kmin:
                drifts[nd] = i
                nd += 1
                pending = 1
        i += 1
    state[0] = head
    state[1] = count
    state[2] = pending
    return nd, stop


def _build() -> Callable[..., Any]:
    import numba  # imported only when a kernel is first needed

    # The helpers are plain functions until now; rebinding the module names to their compiled
    # versions lets the kernel call (and inline) them, and keeps numba's on-disk cache valid
    # (closures would defeat it).
    module = globals()
    for name in ("_genrand", "_randbelow", "_rank_of", "_rebuild"):
        module[name] = numba.njit(inline="always", cache=True)(module[name])
    return numba.njit(cache=True, nogil=True)(_kernel)


def get_kernel() -> Callable[..., Any]:
    """The compiled ``update_many`` kernel (built, and numba imported, on first use)."""
    global _KERNEL
    if _KERNEL is None:
        _KERNEL = _build()
    return _KERNEL
