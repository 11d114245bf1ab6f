"""Score a detector's alarms against known change points: delay, misses and false alarms.

:func:`evaluate` follows the measures of the CD-MOA framework (Bifet et al., 2013): mean time
to detection, missed detection rate, mean time between false alarms and their combination, the
mean time ratio. The result is a frozen :class:`DetectionEvaluation`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from watchkeeper._validate import check_int
from watchkeeper.errors import InvalidInputError

__all__ = ["DetectionEvaluation", "evaluate"]

_OWNER = "evaluate"


@dataclass(frozen=True, slots=True)
class DetectionEvaluation:
    """How well a stream of alarms matches the true change points (see :func:`evaluate`).

    Parameters
    ----------
    n
        Length of the stream the alarms were raised on.
    max_delay
        The detection horizon: an alarm counts for a drift only if it comes fewer than
        ``max_delay`` samples after it.
    n_drifts
        Number of true drifts.
    n_detected
        Drifts with a detection within the horizon.
    n_missed
        Drifts without one (``n_drifts - n_detected``).
    n_false_alarms
        Alarms that detect no drift.
    detections
        For each drift, in order, the index of the alarm that detected it, or None if missed.
    false_alarms
        The indices of the false alarms, in order.
    mtd
        Mean time to detection: the mean of ``alarm - drift`` over the detected drifts, in
        samples (0 when the alarm comes on the drift's own index). NaN if nothing was detected.
    mdr
        Missed detection rate: ``n_missed / n_drifts``. NaN if there are no drifts.
    false_alarms_per_100k
        ``100_000 * n_false_alarms / n``.
    mtfa
        Mean time between false alarms: ``n / n_false_alarms`` samples; inf with no false alarm.
    mtr
        Mean time ratio ``mtfa / mtd * (1 - mdr)``; larger is better. NaN when ``mtd`` is NaN,
        inf when ``mtd`` is 0 or ``mtfa`` is inf.
    """

    n: int
    max_delay: int
    n_drifts: int
    n_detected: int
    n_missed: int
    n_false_alarms: int
    detections: tuple[int | None, ...]
    false_alarms: tuple[int, ...]
    mtd: float
    mdr: float
    false_alarms_per_100k: float
    mtfa: float
    mtr: float


def _as_int(value: Any) -> Any:
    """Let numpy integer scalars through the plain-``int`` parameter checks."""
    return int(value) if isinstance(value, np.integer) else value


def _indices(name: str, values: Any, n: int) -> npt.NDArray[np.int64]:
    """``values`` as a strictly increasing int64 array of indices in [0, n), or raise."""
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"The {name!r} argument of {_OWNER} must be a 1-D sequence of integer indices. "
            f"Got {type(values).__name__}."
        ) from exc
    if arr.ndim != 1:
        raise InvalidInputError(
            f"The {name!r} argument of {_OWNER} must be a 1-D sequence of integer indices. "
            f"Got shape {arr.shape}."
        )
    if arr.size == 0:
        return np.empty(0, dtype=np.int64)
    if arr.dtype.kind not in "iu":
        raise InvalidInputError(
            f"The {name!r} argument of {_OWNER} must hold integer indices. Got dtype "
            f"{arr.dtype}; convert with .astype(int) if the values are whole numbers."
        )
    idx = arr.astype(np.int64)
    if (idx < 0).any():
        bad = int(idx[idx < 0][0])
        raise InvalidInputError(
            f"The {name!r} argument of {_OWNER} must hold indices >= 0. Got {bad}."
        )
    if (idx >= n).any():
        bad = int(idx[idx >= n][0])
        raise InvalidInputError(
            f"The {name!r} argument of {_OWNER} must hold indices < n = {n} (the stream "
            f"length). Got {bad}."
        )
    steps = np.diff(idx)
    if (steps <= 0).any():
        at = int(np.flatnonzero(steps <= 0)[0])
        raise InvalidInputError(
            f"The {name!r} argument of {_OWNER} must be sorted in strictly increasing order "
            f"(no repeats). Got {int(idx[at])} followed by {int(idx[at + 1])} at position "
            f"{at + 1}; sort and deduplicate with np.unique."
        )
    return idx


def evaluate(alarms: Any, drifts: Any, max_delay: int, n: int) -> DetectionEvaluation:
    """Score ``alarms`` against the true change points ``drifts`` of a stream of length ``n``.

    Parameters
    ----------
    alarms
        Indices (0-based, into the stream) at which the detector signalled a drift, strictly
        increasing: for example the output of ``update_many`` over the whole stream.
    drifts
        Indices of the true changes, strictly increasing: the first sample of each new concept.
    max_delay
        Detection horizon in samples (an integer >= 1): an alarm detects drift ``d`` only if it
        falls in ``[d, d + max_delay)``.
    n
        Length of the stream (an integer >= 1); every index must be below it.

    Returns
    -------
    DetectionEvaluation
        Counts, the detecting alarm of each drift, the false alarms, and the five measures
        ``mtd``, ``mdr``, ``false_alarms_per_100k``, ``mtfa`` and ``mtr``.

    Raises
    ------
    InvalidParameterError
        If ``max_delay`` or ``n`` is not an integer >= 1.
    InvalidInputError
        If ``alarms`` or ``drifts`` is not a 1-D sequence of integers, holds a negative index
        or one >= ``n``, or is not strictly increasing.

    Notes
    -----
    Drift ``d_k`` (k = 1..K, in order) owns the half-open window

    .. math:: W_k = [d_k, \\min(d_k + \\text{max\\_delay}, d_{k+1}, n))

    with :math:`d_{K+1} = n`. The first alarm in :math:`W_k` detects drift k, with delay
    :math:`a - d_k`; every other alarm (before the first drift, after a window closes, or a
    second alarm inside a window) is a false alarm. The conventions:

    - An alarm exactly at the drift index is a detection with delay 0 (the first sample of the
      new concept triggered it); an alarm one sample before is a false alarm.
    - Windows never overlap: an alarm at or after the next drift's index belongs to the next
      drift, even if it is within ``max_delay`` of the previous one.
    - A drift closer than ``max_delay`` to the end of the stream keeps the truncated window
      :math:`[d_k, n)`; without an alarm there it counts as missed. Leave such drifts out of
      ``drifts`` if the detector had no fair chance to see them.

    The measures (:math:`F` false alarms, :math:`D` detected drifts with delays
    :math:`\\delta_j`):

    .. math::

        \\mathrm{MTD} = \\frac{1}{D}\\sum_j \\delta_j, \\qquad
        \\mathrm{MDR} = \\frac{K - D}{K}, \\qquad
        \\mathrm{MTFA} = \\frac{n}{F}, \\qquad
        \\mathrm{MTR} = \\frac{\\mathrm{MTFA}}{\\mathrm{MTD}}\\,(1 - \\mathrm{MDR}),

    and false alarms per 100k samples :math:`= 10^5 F / n`. MTFA is the reciprocal of the
    false-alarm rate per sample (CD-MOA's FAR = 1/MTFA), so one false alarm gives ``n``.
    Undefined values follow IEEE arithmetic: MTD is NaN when no drift is detected (including
    when there are none), MDR is NaN when there are no drifts, MTFA is inf with no false
    alarm, and MTR is NaN when MTD is NaN and inf when MTD is 0 or MTFA is inf.

    References
    ----------
    .. [1] Bifet, A., Read, J., Pfahringer, B., Holmes, G. and Žliobaitė, I. (2013).
           CD-MOA: Change detection framework for massive online analysis. Advances in
           Intelligent Data Analysis XII (IDA 2013), LNCS 8207, 92–103.
    .. [2] Basseville, M. and Nikiforov, I. V. (1993). Detection of Abrupt Changes: Theory
           and Application. Prentice Hall.

    Examples
    --------
    Two true drifts at 100 and 300 in 500 samples; the alarm at 103 detects the first (delay 3),
    nothing in [300, 350) detects the second, and 50, 110, 400 and 450 are false alarms:

    >>> r = evaluate([50, 103, 110, 400, 450], [100, 300], max_delay=50, n=500)
    >>> r.detections, r.false_alarms
    ((103, None), (50, 110, 400, 450))
    >>> r.mtd, r.mdr, r.false_alarms_per_100k, r.mtfa
    (3.0, 0.5, 800.0, 125.0)
    >>> round(r.mtr, 4)  # 125 / 3 * (1 - 0.5)
    20.8333

    A detector that never cries wolf has an infinite MTFA:

    >>> evaluate([120], [100], max_delay=50, n=500).mtfa
    inf
    """
    n = check_int(_OWNER, "n", _as_int(n), low=1)
    max_delay = check_int(_OWNER, "max_delay", _as_int(max_delay), low=1)
    alarm_idx = _indices("alarms", alarms, n)
    drift_idx = _indices("drifts", drifts, n)

    n_drifts = int(drift_idx.size)
    is_detection = np.zeros(alarm_idx.size, dtype=bool)
    detections: list[int | None] = []
    delays: list[int] = []
    horizon = min(max_delay, n)  # no window reaches past n; also keeps int64 from overflowing
    ends = np.minimum(drift_idx + horizon, np.append(drift_idx[1:], n))
    firsts = np.searchsorted(alarm_idx, drift_idx, side="left")
    for d, end, j in zip(drift_idx.tolist(), ends.tolist(), firsts.tolist(), strict=True):
        if j < alarm_idx.size and alarm_idx[j] < end:
            a = int(alarm_idx[j])
            is_detection[j] = True
            detections.append(a)
            delays.append(a - d)
        else:
            detections.append(None)

    false_alarms = tuple(alarm_idx[~is_detection].tolist())
    n_false = len(false_alarms)
    n_detected = len(delays)
    mtd = sum(delays) / n_detected if n_detected else math.nan
    mdr = (n_drifts - n_detected) / n_drifts if n_drifts else math.nan
    mtfa = n / n_false if n_false else math.inf
    if math.isnan(mtd):
        mtr = math.nan
    elif mtd == 0.0 or math.isinf(mtfa):
        mtr = math.inf
    else:
        mtr = mtfa / mtd * (1.0 - mdr)
    return DetectionEvaluation(
        n=n,
        max_delay=max_delay,
        n_drifts=n_drifts,
        n_detected=n_detected,
        n_missed=n_drifts - n_detected,
        n_false_alarms=n_false,
        detections=tuple(detections),
        false_alarms=false_alarms,
        mtd=float(mtd),
        mdr=float(mdr),
        false_alarms_per_100k=100_000 * n_false / n,
        mtfa=float(mtfa),
        mtr=float(mtr),
    )
