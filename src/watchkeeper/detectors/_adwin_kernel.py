"""Compiled ``update_many`` kernel for :class:`watchkeeper.detectors.ADWIN`.

The exponential histogram is held in fixed arrays: row ``i`` of ``totals``/``variances`` has
``counts[i]`` buckets of ``2**i`` elements each, oldest first. The arithmetic repeats the
pure-Python ``ADWIN.update`` operation for operation (same association order), so both give
bit-identical windows. numba is imported only when :func:`get_kernel` is first called.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["MAX_ROWS", "get_kernel"]

#: Rows of the histogram arrays: row ``i`` holds buckets of ``2**i`` elements, so 64 rows cover
#: any window that fits in an int64 count.
MAX_ROWS = 64

_KERNEL: Any = None


def _build() -> Any:
    import numba

    @numba.njit(cache=True)
    def kernel(  # type: ignore[no-untyped-def]
        x,
        totals,
        variances,
        counts,
        istate,
        fstate,
        delta,
        clock,
        max_buckets,
        min_window_length,
        grace_period,
        keep_window,
        n_seen,
        drifts,
        cuts,
    ):
        nrows = istate[0]
        width = istate[1]
        tick = istate[2]
        drift = istate[3] != 0
        last_cut = istate[4]
        total = fstate[0]
        variance = fstate[1]
        mwl = min_window_length
        n_drifts = 0
        two_thirds = 2.0 / 3.0
        for i in range(x.shape[0]):
            value = x[i]
            if drift and not keep_window:
                for r in range(nrows):
                    for j in range(counts[r]):
                        totals[r, j] = 0.0
                        variances[r, j] = 0.0
                    counts[r] = 0
                nrows = 1
                width = 0
                tick = 0
                total = 0.0
                variance = 0.0
            # insert into row 0, then the streaming variance update
            totals[0, counts[0]] = value
            variances[0, counts[0]] = 0.0
            counts[0] += 1
            width += 1
            if width > 1:
                dv = value - total / (width - 1)
                variance += (width - 1) * dv * dv / width
            else:
                variance += 0.0
            total += value
            # compression: a full row merges its two oldest buckets into the next row
            idx = 0
            while counts[idx] == max_buckets + 1:
                n1 = float(1 << idx)
                t0 = totals[idx, 0]
                t1 = totals[idx, 1]
                mu1 = t0 / n1
                mu2 = t1 / n1
                dm = mu1 - mu2
                v12 = variances[idx, 0] + variances[idx, 1] + n1 * 0.5 * dm * dm
                if idx + 1 == nrows:
                    nrows += 1
                c = counts[idx + 1]
                totals[idx + 1, c] = t0 + t1
                variances[idx + 1, c] = v12
                counts[idx + 1] = c + 1
                c = counts[idx]
                for j in range(c - 2):
                    totals[idx, j] = totals[idx, j + 2]
                    variances[idx, j] = variances[idx, j + 2]
                for j in range(c - 2, c):
                    totals[idx, j] = 0.0
                    variances[idx, j] = 0.0
                counts[idx] = c - 2
                if counts[idx + 1] <= max_buckets:
                    break
                idx += 1
            # the cut test, every `clock` elements once past the grace period
            tick += 1
            drift = False
            if tick % clock == 0 and width > grace_period:
                again = True
                while again:
                    again = False
                    if width < 2 * mwl:
                        break
                    dprime = math.log(2.0 * math.log(float(width)) / delta)
                    c23 = two_thirds * dprime
                    vw = variance / width
                    n0 = 0
                    n1i = width
                    u0 = 0.0
                    u1 = total
                    stop = False
                    for r in range(nrows - 1, -1, -1):
                        size = 1 << r
                        for k in range(counts[r]):
                            n0 += size
                            n1i -= size
                            t = totals[r, k]
                            u0 += t
                            u1 -= t
                            if n1i < mwl:
                                stop = True
                                break
                            if n0 >= mwl:
                                dmean = u0 / n0 - u1 / n1i
                                m = 1.0 / (n0 - mwl + 1) + 1.0 / (n1i - mwl + 1)
                                a = 2.0 * m * vw * dprime
                                if a >= 0.0 and abs(dmean) > math.sqrt(a) + c23 * m:
                                    drift = True
                                    again = True
                                    # drop the oldest bucket (skipping trailing empty rows,
                                    # which only max_buckets == 1 can leave)
                                    while nrows > 1 and counts[nrows - 1] == 0:
                                        nrows -= 1
                                    last = nrows - 1
                                    n = 1 << last
                                    u = totals[last, 0]
                                    mu = u / n
                                    width -= n
                                    total -= u
                                    dmu = mu - total / width
                                    variance -= variances[last, 0] + float(
                                        n * width
                                    ) * dmu * dmu / float(n + width)
                                    c = counts[last]
                                    for j in range(c - 1):
                                        totals[last, j] = totals[last, j + 1]
                                        variances[last, j] = variances[last, j + 1]
                                    totals[last, c - 1] = 0.0
                                    variances[last, c - 1] = 0.0
                                    counts[last] = c - 1
                                    if c == 1 and nrows > 1:
                                        nrows -= 1
                                    stop = True
                                    break
                        if stop:
                            break
                if drift:
                    last_cut = n_seen + i + 1 - width
                    drifts[n_drifts] = i
                    cuts[n_drifts] = last_cut
                    n_drifts += 1
        istate[0] = nrows
        istate[1] = width
        istate[2] = tick
        istate[3] = 1 if drift else 0
        istate[4] = last_cut
        fstate[0] = total
        fstate[1] = variance
        return n_drifts

    return kernel


def get_kernel() -> Any:
    """The compiled kernel (numba is imported and the kernel compiled or loaded on first call)."""
    global _KERNEL
    if _KERNEL is None:
        _KERNEL = _build()
    return _KERNEL
