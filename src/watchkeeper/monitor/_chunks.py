"""Splitting a window of data into chunks: by row count, into a number of parts, or by period.

:func:`split_chunks` decides which rows belong to each :class:`Chunk` (positions only, no data
is touched); :func:`take_rows` then cuts one chunk out of a pandas DataFrame, pyarrow Table,
polars DataFrame or mapping of columns without converting the rest. pandas is imported only
for calendar periods.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from watchkeeper._convert import n_rows_of, take_rows
from watchkeeper._validate import check_choice, check_int
from watchkeeper.errors import EmptyInputError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["Chunk", "ChunkBy", "ChunkInfo", "n_rows_of", "split_chunks", "split_rows", "take_rows"]

ChunkBy = Literal["size", "number", "period"]
"""``size`` (blocks of so many rows) | ``number`` (so many parts) | ``period`` (calendar)."""

_BY: tuple[ChunkBy, ...] = ("size", "number", "period")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_ISO_UNITS: tuple[tuple[Literal["D", "m", "s"], int], ...] = (("D", 86_400), ("m", 60), ("s", 1))
IndexArray = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(frozen=True, slots=True)
class ChunkInfo:
    """What a chunk is, without its rows: the part of a :class:`Chunk` that reports keep.

    Parameters
    ----------
    index
        Position of the chunk, 0 first (time order when timestamps are given).
    key
        Its label: ``"rows 0-999"`` for row chunks, the period start (``"2026-01-05"``,
        ``"2026-01-05T13:00"``) for period chunks.
    start, end
        ISO timestamps, or None without timestamps. Period chunks cover ``[start, end)``;
        row chunks with timestamps run from their first to their last timestamp.
    n
        Number of rows in the chunk.
    partial
        Whether this is the incomplete last chunk of a ``by="size"`` split.
    """

    index: int
    key: str
    start: str | None
    end: str | None
    n: int
    partial: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict of every field."""
        return {
            "index": self.index,
            "key": self.key,
            "start": self.start,
            "end": self.end,
            "n": self.n,
            "partial": self.partial,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChunkInfo:
        """Rebuild the info from :meth:`to_dict` output."""
        return cls(
            index=int(data["index"]),
            key=str(data["key"]),
            start=None if data.get("start") is None else str(data["start"]),
            end=None if data.get("end") is None else str(data["end"]),
            n=int(data["n"]),
            partial=bool(data.get("partial", False)),
        )


@dataclass(frozen=True, slots=True)
class Chunk:
    """One chunk of a split: its :class:`ChunkInfo` fields and the rows it holds.

    Parameters
    ----------
    index, key, start, end, n, partial
        As in :class:`ChunkInfo`.
    rows
        Positions of the rows in the data: a ``slice`` for consecutive rows in row order, or
        an int64 array (ascending within a period chunk; time order for row chunks split by
        timestamp). Not part of equality or the repr.
    """

    index: int
    key: str
    start: str | None
    end: str | None
    rows: IndexArray | slice = field(compare=False, repr=False)
    n: int
    partial: bool = False

    @property
    def info(self) -> ChunkInfo:
        """The chunk without its rows."""
        return ChunkInfo(self.index, self.key, self.start, self.end, self.n, self.partial)


def split_chunks(
    n_rows: int,
    *,
    by: ChunkBy,
    timestamps: Any = None,
    period: str | None = None,
    size: int | None = None,
    number: int | None = None,
) -> list[Chunk]:
    """Split ``n_rows`` rows into chunks.

    Parameters
    ----------
    n_rows
        Number of rows of the data.
    by
        ``"size"``: consecutive blocks of ``size`` rows; the last block keeps the remainder
        and is flagged ``partial=True`` when it is shorter. ``"number"``: ``number`` nearly
        equal consecutive parts (the first ``n_rows % number`` parts get one row more, as
        :func:`numpy.array_split`). ``"period"``: the calendar periods that hold rows, in
        time order (periods without rows give no chunk).
    timestamps
        A numpy ``datetime64`` array (naive) of length ``n_rows``, in any order. With
        ``"size"``/``"number"`` the rows are first put in time order (stable sort, so ties
        keep row order). Rows whose timestamp is NaT belong to no chunk: they are dropped,
        and ``n_rows - sum(chunk.n)`` counts them.
    period
        For ``by="period"``: a pandas offset alias — a fixed duration (``"h"``, ``"15min"``,
        ``"D"``, ``"2D"``), weeks (``"W"`` = Monday to Sunday, ``"W-MON"`` = weeks ending on
        Monday, ``"2W"``), months (``"MS"``, ``"ME"``, ``"M"``), quarters (``"QS"``,
        ``"QE"``) or years (``"YS"``, ``"YE"``). Fixed durations and multiples count from
        the Unix epoch, so ``"2D"`` periods do not depend on the data.
    size
        For ``by="size"``: rows per chunk, at least 1.
    number
        For ``by="number"``: how many chunks, between 1 and the number of rows.

    Returns
    -------
    list of Chunk
        The chunks in row (or time) order, each with its row positions.

    Raises
    ------
    UnknownMethodError
        If ``by`` is not one of ``"size"``, ``"number"``, ``"period"``.
    InvalidParameterError
        If the parameter ``by`` needs is missing or invalid, one it does not use is given,
        ``by="period"`` comes without timestamps, or the timestamps are not a datetime64
        array of ``n_rows`` values.
    EmptyInputError
        If there are no rows (or every timestamp is NaT).

    Examples
    --------
    >>> [(c.key, c.n, c.partial) for c in split_chunks(10, by="size", size=4)]
    [('rows 0-3', 4, False), ('rows 4-7', 4, False), ('rows 8-9', 2, True)]
    >>> ts = np.array(["2026-01-06T10:00", "NaT", "2026-01-05T09:00", "2026-01-07"], "M8[s]")
    >>> for c in split_chunks(4, by="period", period="D", timestamps=ts):
    ...     print(c.key, c.rows.tolist(), c.start, c.end)
    2026-01-05 [2] 2026-01-05T00:00:00 2026-01-06T00:00:00
    2026-01-06 [0] 2026-01-06T00:00:00 2026-01-07T00:00:00
    2026-01-07 [3] 2026-01-07T00:00:00 2026-01-08T00:00:00
    """
    return split_rows(
        n_rows,
        by=by,
        timestamps=timestamps,
        period=period,
        size=size,
        number=number,
        owner="split_chunks",
    )


def split_rows(
    n_rows: int,
    *,
    by: Any,
    timestamps: Any,
    period: Any,
    size: Any,
    number: Any,
    owner: str,
) -> list[Chunk]:
    """:func:`split_chunks` with error messages naming ``owner`` (the function the user called)."""
    check_choice(owner, "by", by, _BY)
    n_rows = check_int(owner, "n_rows", n_rows, low=0)
    for name, value in (("size", size), ("number", number), ("period", period)):
        if value is not None and name != by:
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} applies only to by={name!r}. "
                f"Got {name}={value!r} with by={by!r} instead; drop it or set by={name!r}."
            )
    if by == "size":
        size = check_int(owner, "size", size, low=1)
    elif by == "number":
        number = check_int(owner, "number", number, low=1)
    ts = None if timestamps is None else _timestamps(timestamps, n_rows, owner)
    order = None if ts is None else _time_order(ts)
    if by == "period":
        if period is None:
            raise InvalidParameterError(
                f"The 'period' parameter of {owner} is required with by='period' (a pandas "
                "offset alias such as 'D', 'W', 'MS' or 'h'). Got None instead."
            )
        if ts is None or order is None:
            raise InvalidParameterError(
                f"The 'timestamps' parameter of {owner} is required with by='period'. Got "
                "None instead; pass the time of each row, or split by='size' or by='number'."
            )
        _check_rows(n_rows, order)
        return _split_period(ts, order, _parse_period(period, owner), period, owner)
    n_usable = _check_rows(n_rows, order)
    if size is not None:
        bounds = np.append(np.arange(0, n_usable, size), n_usable)
    else:
        number = int(number or 0)
        if number > n_usable:
            raise InvalidParameterError(
                f"The 'number' parameter of {owner} must be at most the number of rows to "
                f"split ({n_usable}). Got {number} instead."
            )
        sizes = np.full(number, n_usable // number)
        sizes[: n_usable % number] += 1  # numpy.array_split: the first parts get one more
        bounds = np.concatenate([[0], np.cumsum(sizes)])
    return _row_chunks(bounds, order, ts, size)


def _time_order(ts: np.ndarray[Any, Any]) -> IndexArray:
    """Positions of the rows with a timestamp, in time order (ties in row order)."""
    keep = np.flatnonzero(~np.isnat(ts))
    return keep[np.argsort(ts[keep], kind="stable")]


def _check_rows(n_rows: int, order: IndexArray | None) -> int:
    n_usable = n_rows if order is None else len(order)
    if n_usable == 0:
        what = "no rows" if n_rows == 0 else "no rows with a timestamp (every one is NaT)"
        raise EmptyInputError(f"The data to split into chunks has {what}.")
    return n_usable


def _timestamps(timestamps: Any, n_rows: int, owner: str) -> np.ndarray[Any, Any]:
    ts = np.asarray(timestamps)
    if ts.dtype.kind != "M" or ts.ndim != 1:
        raise InvalidParameterError(
            f"The 'timestamps' parameter of {owner} must be a one-dimensional numpy "
            f"datetime64 array. Got dtype {ts.dtype} with shape {ts.shape} instead; convert "
            "time-zone-aware times first, e.g. series.dt.tz_convert(None).to_numpy()."
        )
    if len(ts) != n_rows:
        raise InvalidParameterError(
            f"The 'timestamps' parameter of {owner} must hold one timestamp per row "
            f"({n_rows}). Got {len(ts)} instead."
        )
    return ts


def _row_chunks(
    bounds: np.ndarray[Any, Any],
    order: IndexArray | None,
    ts: np.ndarray[Any, Any] | None,
    size: int | None,
) -> list[Chunk]:
    chunks: list[Chunk] = []
    for i, (lo, hi) in enumerate(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)):
        rows: IndexArray | slice = slice(lo, hi) if order is None else order[lo:hi]
        start = end = None
        if ts is not None and not isinstance(rows, slice):
            first_last = _iso(ts[rows[[0, -1]]], compact=False)
            start, end = first_last[0], first_last[1]
        partial = size is not None and hi - lo < size
        chunks.append(Chunk(i, f"rows {lo}-{hi - 1}", start, end, rows, hi - lo, partial))
    return chunks


def _split_period(
    ts: np.ndarray[Any, Any], order: IndexArray, offset: Any, period: str, owner: str
) -> list[Chunk]:
    """Chunks of the calendar periods holding rows; ``order`` lists the non-NaT rows."""
    import pandas as pd

    valid = np.sort(order)  # row order within each chunk
    values = ts[valid]
    fixed = _fixed_nanos(offset)
    if fixed is not None:
        ns = values.astype("M8[ns]").view(np.int64)
        codes = np.floor_divide(ns, fixed)
    else:
        freq = _period_freq(offset, period, owner)
        ordinals = pd.DatetimeIndex(values).to_period(freq).asi8
        codes = np.floor_divide(ordinals, offset.n)
    by_code = np.argsort(codes, kind="stable")
    uniq, first = np.unique(codes[by_code], return_index=True)
    if fixed is not None:
        starts = (uniq * fixed).astype("M8[ns]")
        ends = ((uniq + 1) * fixed).astype("M8[ns]")
    else:
        starts = _period_starts(uniq * offset.n, freq)
        ends = _period_starts((uniq + 1) * offset.n, freq)
    keys = _iso(starts, compact=True)
    start_text, end_text = _iso(starts, compact=False), _iso(ends, compact=False)
    bounds = [*first.tolist(), len(valid)]
    chunks = []
    for i in range(len(uniq)):
        rows = valid[by_code[bounds[i] : bounds[i + 1]]]
        chunks.append(Chunk(i, keys[i], start_text[i], end_text[i], rows, len(rows)))
    return chunks


def _parse_period(period: Any, owner: str) -> Any:
    from pandas.tseries.frequencies import to_offset

    error = InvalidParameterError(
        f"The 'period' parameter of {owner} must be a pandas offset alias such as 'h', 'D', "
        f"'2D', 'W', 'MS', 'QS' or 'YS'. Got {period!r} instead."
    )
    if not isinstance(period, str) or not period.strip():
        raise error
    offset: Any = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated aliases are still refused below
        for parse in (to_offset, _period_offset):
            try:
                offset = parse(period)
                break
            except (ValueError, TypeError):
                continue
    if offset is None:
        raise error
    if offset.n < 1:
        raise InvalidParameterError(
            f"The 'period' parameter of {owner} must name a positive "
            f"number of periods. Got {period!r} instead."
        )
    return offset


def _period_offset(period: str) -> Any:
    import pandas as pd

    return pd.Period("2000-01-01", freq=period).freq  # period-only aliases: "M", "Q", "Y"


def _fixed_nanos(offset: Any) -> int | None:
    import pandas as pd

    if isinstance(offset, pd.offsets.Tick | pd.offsets.Day):
        duration: Any = offset
        return int(pd.Timedelta(duration).value)
    return None


def _period_freq(offset: Any, period: str, owner: str) -> str:
    """The pandas Period frequency of one unit of a calendar offset."""
    import pandas as pd

    o, kind = pd.offsets, type(offset)
    if issubclass(kind, o.Week) and offset.weekday is not None:
        return f"W-{('MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN')[offset.weekday]}"
    if issubclass(kind, o.MonthBegin | o.MonthEnd):
        return "M"
    if issubclass(kind, o.QuarterEnd):
        return f"Q-{_MONTHS[offset.startingMonth - 1]}"
    if issubclass(kind, o.QuarterBegin):  # quarters starting in month m end in month m - 1
        return f"Q-{_MONTHS[offset.startingMonth - 2]}"
    if issubclass(kind, o.YearEnd):
        return f"Y-{_MONTHS[offset.month - 1]}"
    if issubclass(kind, o.YearBegin):
        return f"Y-{_MONTHS[offset.month - 2]}"
    raise InvalidParameterError(
        f"The 'period' parameter of {owner} must be a fixed duration ('h', 'D', '2D'), weeks "
        f"('W', 'W-MON'), months ('MS', 'ME'), quarters ('QS', 'QE') or years ('YS', 'YE'). "
        f"Got {period!r} ({type(offset).__name__}) instead."
    )


def _period_starts(ordinals: np.ndarray[Any, Any], freq: str) -> np.ndarray[Any, Any]:
    import pandas as pd

    starts = [pd.Period(ordinal=int(o), freq=freq).start_time for o in ordinals]  # per chunk
    return np.array(starts, dtype="M8[ns]")


def _iso(values: np.ndarray[Any, Any], *, compact: bool) -> list[str]:
    """ISO strings with one unit for all values: days (compact, all midnight), minutes
    (compact), seconds, or finer only when a value needs it."""
    ns: np.ndarray[Any, np.dtype[np.datetime64]] = values.astype("M8[ns]")
    for unit, step in _ISO_UNITS:
        if (compact or unit == "s") and not np.any(ns.view(np.int64) % (step * 10**9)):
            return [str(s) for s in np.datetime_as_string(ns, unit=unit)]
    return [str(s) for s in np.datetime_as_string(values)]
