"""Monitoring in chunks: one report per chunk of a window, thresholds learned from the reference.

:func:`compare_chunks` splits a window (by rows, into parts, or by calendar period), compares
each chunk with the baseline through a ``run`` callable and collects the reports in a
:class:`ChunkedReport`. With :class:`ChunkStats` — the values each check took over chunks of
the reference, gathered by :func:`reference_chunk_stats` at fit time — the fixed thresholds
can be replaced by learned ones (:func:`apply_learned_thresholds`), and :func:`apply_consecutive`
keeps an alert only when it lasts for several chunks in a row.

This module never imports :mod:`watchkeeper.baseline`; the comparison of one chunk is the
caller's ``run``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from watchkeeper._validate import check_choice, check_int
from watchkeeper.errors import InvalidParameterError, SerializationError
from watchkeeper.monitor._chunks import (
    Chunk,
    ChunkBy,
    ChunkInfo,
    n_rows_of,
    split_chunks,
    split_rows,
    take_rows,
)
from watchkeeper.monitor._format import clean, status_phrase
from watchkeeper.monitor._thresholds import (
    ChunkSeries,
    ChunkStats,
    _check_band,
    apply_consecutive,
    apply_learned_thresholds,
    result_direction,
)
from watchkeeper.monitor.report import Report
from watchkeeper.results import CheckResult, Status, _json_safe, worst_status

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Chunk",
    "ChunkInfo",
    "ChunkSeries",
    "ChunkStats",
    "ChunkedReport",
    "apply_consecutive",
    "apply_learned_thresholds",
    "compare_chunks",
    "reference_chunk_stats",
    "result_direction",
    "split_chunks",
    "take_rows",
]

StatKey = tuple[str, str | None, str | None]
"""``(check, column, segment)``: what a value in :class:`ChunkStats` is about."""
Thresholds = Literal["auto", "fixed", "reference"]
Progress = Callable[[str], None]

_ERROR_METRICS = ("log_loss", "brier", "mae", "mse", "rmse", "mape", "calibration")
_STATE_FORMAT = "watchkeeper-chunk-stats"
_STATE_VERSION = 1


# ---------------------------------------------------------------------- the chunked report

_FRAME_FLOATS = (
    "value",
    "reference_value",
    "threshold",
    "warning_threshold",
    "lower",
    "upper",
)
_FRAME_COLUMNS = (
    "chunk",
    "start",
    "end",
    "chunk_rows",
    "check",
    "column",
    "segment",
    *_FRAME_FLOATS,
    "status",
    "reason",
)


class ChunkedReport:
    """One :class:`Report` per chunk of a window, in chunk order.

    Parameters
    ----------
    chunks
        The chunks (:class:`ChunkInfo`, or :class:`Chunk`, whose rows are dropped).
    reports
        The report of each chunk, as many as ``chunks``.
    metadata
        JSON-safe facts about the run (how the window was split, which thresholds...).

    Raises
    ------
    InvalidParameterError
        If the items are of the wrong types or their numbers differ.

    Examples
    --------
    >>> info = [ChunkInfo(0, "2026-01-05", None, None, 100),
    ...         ChunkInfo(1, "2026-01-06", None, None, 80)]
    >>> reports = [Report([CheckResult("drift.wasserstein", "age", 0.01)]),
    ...            Report([CheckResult("drift.wasserstein", "age", 0.4, status="alert")])]
    >>> chunked = ChunkedReport(info, reports)
    >>> chunked
    <ChunkedReport status=alert chunks=2 alerting=1>
    >>> print(chunked.to_text())
    Status: alert — 2 chunks: 1 alert, 0 warnings, 1 ok
    2026-01-05  n=100  ok
    2026-01-06  n=80   alert  drift.wasserstein[age]
    """

    SCHEMA_VERSION: ClassVar[int] = 1
    """Version of the :meth:`to_dict` layout."""

    __slots__ = ("_chunks", "_metadata", "_reports")

    def __init__(
        self,
        chunks: Sequence[ChunkInfo | Chunk],
        reports: Sequence[Report],
        *,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        infos = tuple(c.info if isinstance(c, Chunk) else c for c in chunks)
        reports = tuple(reports)
        bad = [type(c).__name__ for c in infos if not isinstance(c, ChunkInfo)]
        bad += [type(r).__name__ for r in reports if not isinstance(r, Report)]
        if bad or len(infos) != len(reports):
            raise InvalidParameterError(
                "ChunkedReport needs one Report per ChunkInfo. Got "
                f"{len(infos)} chunks and {len(reports)} reports"
                + (f" with items of type {', '.join(sorted(set(bad)))}" if bad else "")
                + " instead."
            )
        if metadata is not None and not isinstance(metadata, Mapping):
            raise InvalidParameterError(
                "The 'metadata' parameter of ChunkedReport must be a mapping. "
                f"Got {type(metadata).__name__} instead."
            )
        self._chunks: tuple[ChunkInfo, ...] = infos
        self._reports: tuple[Report, ...] = reports
        self._metadata: Mapping[str, Any] = MappingProxyType(_json_safe(metadata or {}))

    @property
    def chunks(self) -> tuple[ChunkInfo, ...]:
        """The chunks, in order."""
        return self._chunks

    @property
    def reports(self) -> tuple[Report, ...]:
        """The report of each chunk."""
        return self._reports

    @property
    def metadata(self) -> Mapping[str, Any]:
        """Read-only, JSON-safe metadata of the run."""
        return self._metadata

    @property
    def status(self) -> Status:
        """The worst status over the chunks (``skipped`` without chunks)."""
        return worst_status([r.status for r in self._reports])

    @property
    def alerts(self) -> tuple[tuple[str, CheckResult], ...]:
        """``(chunk key, result)`` for every alerting result, in chunk order."""
        return tuple((c.key, r) for c, report in self for r in report.alerts)

    def __len__(self) -> int:
        return len(self._chunks)

    def __iter__(self) -> Iterator[tuple[ChunkInfo, Report]]:
        return iter(zip(self._chunks, self._reports, strict=True))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChunkedReport):
            return NotImplemented
        return (self._chunks, self._reports, self._metadata) == (
            other._chunks,
            other._reports,
            other._metadata,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        alerting = sum(r.status == "alert" for r in self._reports)
        return f"<ChunkedReport status={self.status} chunks={len(self)} alerting={alerting}>"

    def __str__(self) -> str:
        return self.to_text()

    def to_frame(self) -> pd.DataFrame:
        """One row per chunk and result.

        Columns: ``chunk`` (key), ``start``, ``end``, ``chunk_rows``, ``check``, ``column``,
        ``segment``, ``value``, ``reference_value``, ``threshold``, ``warning_threshold``,
        ``lower``, ``upper`` (the learned band, NaN under fixed thresholds), ``status``,
        ``reason``. Missing numbers are NaN.
        """
        import pandas as pd

        data: dict[str, list[Any]] = {name: [] for name in _FRAME_COLUMNS}
        for info, report in self:
            for r in report.checks:
                learned = r.details.get("threshold_source") == "reference_chunks"
                row = {
                    "chunk": info.key,
                    "start": info.start,
                    "end": info.end,
                    "chunk_rows": info.n,
                    "check": r.check,
                    "column": r.column,
                    "segment": r.segment,
                    "value": r.value,
                    "reference_value": r.reference_value,
                    "threshold": r.threshold,
                    "warning_threshold": r.warning_threshold,
                    "lower": r.details.get("band_lower") if learned else None,
                    "upper": r.details.get("band_upper") if learned else None,
                    "status": r.status,
                    "reason": r.reason,
                }
                for name, value in row.items():
                    data[name].append(value)
        series: dict[str, pd.Series[Any]] = {
            name: pd.Series(
                values,
                dtype="float64"
                if name in _FRAME_FLOATS
                else "int64"
                if name == "chunk_rows"
                else object,
            )
            for name, values in data.items()
        }
        return pd.DataFrame(series, columns=list(_FRAME_COLUMNS))

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"schema_version", "status", "metadata", "chunks"}``, JSON-safe.

        Each item of ``chunks`` is ``{"chunk": ChunkInfo.to_dict(), "report": Report.to_dict()}``.
        """
        return {
            "schema_version": self.SCHEMA_VERSION,
            "status": self.status,
            "metadata": _json_safe(self._metadata),
            "chunks": [{"chunk": c.to_dict(), "report": r.to_dict()} for c, r in self],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """Return :meth:`to_dict` as JSON text (strict: no NaN or infinity)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChunkedReport:
        """Rebuild the report from :meth:`to_dict` output.

        Raises
        ------
        SerializationError
            If ``schema_version`` is missing or unknown, or the chunks are malformed.
        """
        if not isinstance(data, Mapping):
            raise SerializationError(
                "A serialized ChunkedReport must be a mapping (the output of "
                f"ChunkedReport.to_dict()). Got {type(data).__name__} instead."
            )
        version = data.get("schema_version")
        if type(version) is not int or version != cls.SCHEMA_VERSION:
            raise SerializationError(
                f"The serialized ChunkedReport has schema_version {version!r}, but this "
                f"version of watchkeeper reads only schema_version {cls.SCHEMA_VERSION}."
            )
        items = data.get("chunks")
        if not isinstance(items, list):
            raise SerializationError(
                "The serialized ChunkedReport must hold a list under 'chunks'. "
                f"Got {type(items).__name__} instead."
            )
        infos, reports = [], []
        for i, item in enumerate(items):
            try:
                infos.append(ChunkInfo.from_dict(item["chunk"]))
                raw_report = item["report"]
            except (KeyError, TypeError, ValueError) as exc:
                raise SerializationError(
                    f"chunks[{i}] of the serialized ChunkedReport cannot be read: {exc!r}."
                ) from exc
            reports.append(Report.from_dict(raw_report))
        metadata = data.get("metadata") or {}
        if not isinstance(metadata, Mapping):
            raise SerializationError(
                "The serialized ChunkedReport must hold a mapping under 'metadata'. "
                f"Got {type(metadata).__name__} instead."
            )
        return cls(infos, reports, metadata=metadata)

    @classmethod
    def from_json(cls, text: str | bytes) -> ChunkedReport:
        """Rebuild the report from :meth:`to_json` output.

        Raises
        ------
        SerializationError
            If the text is not valid JSON, or as :meth:`from_dict`.
        """
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise SerializationError(
                f"The serialized ChunkedReport is not valid JSON: {exc}"
            ) from exc
        return cls.from_dict(data)

    def to_text(self) -> str:
        """A status line, then one line per chunk: key, rows, status, the problem checks.

        A chunk that alerted lists its alerting checks, one with warnings its warnings, as
        ``check[column]`` (``check[column | segment]`` for a segment); ``(partial)`` marks
        the incomplete last chunk of a split by size.
        """
        counts: dict[Status, int] = {"alert": 0, "warning": 0, "ok": 0, "skipped": 0}
        for report in self._reports:
            counts[report.status] += 1
        plural = "chunk" if len(self) == 1 else "chunks"
        lines = [f"Status: {self.status} — {len(self)} {plural}: {status_phrase(counts)}"]
        rows = []
        for info, report in self:
            size = f"n={info.n}" + (" (partial)" if info.partial else "")
            problems = [r for r in report.checks if r.status == report.status]
            named = ", ".join(_label(r) for r in problems) if report.status in _PROBLEMS else ""
            rows.append((clean(info.key), size, report.status, named))
        widths = [max((len(row[i]) for row in rows), default=0) for i in range(3)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
            lines.append("  ".join([*cells, row[3]]).rstrip())
        return "\n".join(lines)


_PROBLEMS = ("alert", "warning")


def _label(result: CheckResult) -> str:
    inner = [clean(x) for x in (result.column, result.segment) if x is not None]
    return clean(result.check) + (f"[{' | '.join(inner)}]" if inner else "")


# ---------------------------------------------------------------------- the driver


def compare_chunks(
    data: Any,
    *,
    run: Callable[[Any], Report],
    n_rows: int,
    timestamps: Any = None,
    by: ChunkBy = "size",
    period: str | None = None,
    size: int | None = None,
    number: int | None = None,
    thresholds: Thresholds = "auto",
    stats: ChunkStats | None = None,
    k: float = 3.0,
    warning_k: float = 2.0,
    min_chunks: int = 5,
    consecutive: int = 1,
    progress: Progress | None = None,
) -> ChunkedReport:
    """Split a window into chunks, compare each, and collect the reports.

    Parameters
    ----------
    data
        The window: a pandas DataFrame, pyarrow Table, polars DataFrame or mapping of columns.
    run
        Compares one chunk of ``data`` (same kind of object) and returns its :class:`Report`,
        e.g. ``lambda chunk: baseline.compare(chunk)``.
    n_rows
        Rows of ``data``.
    timestamps, by, period, size, number
        How to split, as :func:`split_chunks`.
    thresholds
        ``"fixed"`` keeps each check's own decision; ``"reference"`` re-decides with
        thresholds learned from reference chunks (:func:`apply_learned_thresholds`, needs
        ``stats``); ``"auto"`` is ``"reference"`` when ``stats`` is given, else ``"fixed"``.
    stats
        Statistics of the reference chunks (:func:`reference_chunk_stats`).
    k, warning_k, min_chunks
        As :func:`apply_learned_thresholds`.
    consecutive
        Alerts needed in a row before a chunk's alert stands (:func:`apply_consecutive`).
    progress
        Called with a short description before each chunk is compared.

    Returns
    -------
    ChunkedReport
        One report per chunk; each report's metadata gains ``chunk`` (key),
        ``chunk_start``, ``chunk_end`` and ``chunk_rows``. Its own metadata records the
        split, the thresholds used and ``n_unassigned`` (rows with a NaT timestamp).

    Raises
    ------
    InvalidParameterError
        If a parameter is invalid, ``thresholds="reference"`` comes without ``stats``,
        ``n_rows`` does not match ``data``, or ``run`` does not return a Report.
    UnknownMethodError
        If ``by`` or ``thresholds`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from watchkeeper.results import CheckResult
    >>> def run(chunk):
    ...     mean = float(np.mean(chunk["x"]))
    ...     status = "alert" if mean > 1 else "ok"
    ...     return Report([CheckResult("quality.mean", "x", mean, threshold=1, status=status)])
    >>> x = np.r_[np.zeros(300), np.full(100, 5.0)]
    >>> chunked = compare_chunks({"x": x}, run=run, n_rows=400, by="number", number=4)
    >>> [(c.key, r.status) for c, r in chunked]
    [('rows 0-99', 'ok'), ('rows 100-199', 'ok'), ('rows 200-299', 'ok'), ('rows 300-399', 'alert')]
    """
    owner = "compare_chunks"
    mode = check_choice(owner, "thresholds", thresholds, ("auto", "fixed", "reference"))
    if stats is not None and not isinstance(stats, ChunkStats):
        raise InvalidParameterError(
            f"The 'stats' parameter of {owner} must be a ChunkStats or None. "
            f"Got {type(stats).__name__} instead."
        )
    if mode == "reference" and stats is None:
        raise InvalidParameterError(
            f"The 'thresholds' parameter of {owner} is 'reference' but there are no statistics "
            "of reference chunks to learn thresholds from. Fit the baseline with reference "
            "chunks (so it holds their statistics), or use thresholds='fixed'."
        )
    learned = stats if mode == "reference" or (mode == "auto" and stats is not None) else None
    k, warning_k, min_chunks = _check_band(owner, k, warning_k, min_chunks)
    consecutive = check_int(owner, "consecutive", consecutive, low=1)
    _check_run(owner, run, data, n_rows)
    chunks = split_rows(
        n_rows,
        by=by,
        timestamps=timestamps,
        period=period,
        size=size,
        number=number,
        owner=owner,
    )
    reports = []
    for chunk in chunks:
        if progress is not None:
            progress(f"Comparing chunk {chunk.index + 1}/{len(chunks)}: {chunk.key}")
        report = _run_chunk(owner, run, data, chunk)
        if learned is not None:
            report = apply_learned_thresholds(
                report, learned, k=k, warning_k=warning_k, min_chunks=min_chunks
            )
        reports.append(report)
    metadata: dict[str, Any] = {
        "by": by,
        "period": period,
        "size": size,
        "number": number,
        "n_rows": n_rows,
        "n_chunks": len(chunks),
        "n_unassigned": n_rows - sum(c.n for c in chunks),
        "thresholds": "fixed" if learned is None else "reference",
        "consecutive": consecutive,
    }
    if learned is not None:
        metadata.update(
            k=k, warning_k=warning_k, min_chunks=min_chunks, n_reference_chunks=learned.n_chunks
        )
    return ChunkedReport(chunks, apply_consecutive(reports, consecutive), metadata=metadata)


def reference_chunk_stats(
    reference_data: Any,
    *,
    run: Callable[[Any], Report],
    n_rows: int,
    number: int = 10,
    timestamps: Any = None,
    progress: Progress | None = None,
) -> ChunkStats:
    """Split the reference into ``number`` chunks, compare each and collect :class:`ChunkStats`.

    Parameters
    ----------
    reference_data
        The reference data, of a kind :func:`take_rows` cuts.
    run
        Compares one chunk with the baseline fitted on the whole reference.
    n_rows
        Rows of ``reference_data``.
    number
        How many chunks (at least 2), consecutive in row order, or in time order when
        ``timestamps`` are given (rows with NaT timestamps are left out).
    timestamps
        Optional ``datetime64`` time of each row.
    progress
        Called with a short description before each chunk is compared.

    Raises
    ------
    InvalidParameterError
        If ``number`` is not an integer in [2, rows], ``n_rows`` does not match the data, or
        ``run`` does not return a Report.
    """
    owner = "reference_chunk_stats"
    number = check_int(owner, "number", number, low=2)
    _check_run(owner, run, reference_data, n_rows)
    chunks = split_rows(
        n_rows,
        by="number",
        timestamps=timestamps,
        period=None,
        size=None,
        number=number,
        owner=owner,
    )
    reports = []
    for chunk in chunks:
        if progress is not None:
            progress(f"Comparing reference chunk {chunk.index + 1}/{len(chunks)}")
        reports.append(_run_chunk(owner, run, reference_data, chunk))
    return ChunkStats.from_reports(reports)


def _check_run(owner: str, run: Any, data: Any, n_rows: Any) -> None:
    if not callable(run):
        raise InvalidParameterError(
            f"The 'run' parameter of {owner} must be a callable that compares one chunk and "
            f"returns a Report. Got {type(run).__name__} instead."
        )
    actual = n_rows_of(data)
    if actual is not None and n_rows != actual:
        raise InvalidParameterError(
            f"The 'n_rows' parameter of {owner} must be the number of rows of the data "
            f"({actual}). Got {n_rows!r} instead."
        )


def _run_chunk(owner: str, run: Callable[[Any], Report], data: Any, chunk: Chunk) -> Report:
    report = run(take_rows(data, chunk.rows))
    if not isinstance(report, Report):
        raise InvalidParameterError(
            f"The 'run' parameter of {owner} must return a Report. Got "
            f"{type(report).__name__} for chunk {chunk.key!r} instead."
        )
    extra = {
        "chunk": chunk.key,
        "chunk_start": chunk.start,
        "chunk_end": chunk.end,
        "chunk_rows": chunk.n,
    }
    return Report(report.checks, metadata={**report.metadata, **extra})
