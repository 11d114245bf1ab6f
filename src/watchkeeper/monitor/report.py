"""The :class:`Report` of one comparison: its results, a :class:`Summary`, and renderings.

A report is immutable. It serializes to a versioned, JSON-safe dict (``schema_version``) and
reads back exactly; it renders as plain text (the CLI and ``print``), GitHub-flavoured
Markdown (CI comments), HTML with distribution charts (notebooks and a standalone page) and a
rich table (terminals). pandas, rich and Jinja2 are imported only by the methods that need
them.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from watchkeeper.errors import InvalidParameterError, SerializationError
from watchkeeper.monitor import _render
from watchkeeper.monitor._summary import DriftedColumn, Summary
from watchkeeper.results import STATUSES, CheckResult, Status, _json_safe

if TYPE_CHECKING:
    import os

    import pandas as pd
    from rich.console import Console

__all__ = ["DriftedColumn", "Report", "Summary"]

_FRAME_FLOATS = ("value", "reference_value", "p_value", "threshold", "warning_threshold")
_FRAME_COLUMNS = (
    "check",
    "column",
    *_FRAME_FLOATS,
    "status",
    "reason",
    "n",
    "n_reference",
    "details",
    "segment",
)


def _selector(name: str, value: str | Collection[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset({value})
    if not all(isinstance(v, str) for v in value):
        raise InvalidParameterError(
            f"The '{name}' parameter of Report.filter must be a string or a collection of "
            f"strings. Got {value!r} instead."
        )
    return frozenset(value)


def _check_only(only: str) -> None:
    if only not in ("all", "problems"):
        raise InvalidParameterError(
            f"The 'only' parameter must be 'all' or 'problems'. Got {only!r} instead."
        )


class Report:
    """The results of one comparison, with metadata, a summary and renderings.

    Parameters
    ----------
    checks
        The results, in the order the checks ran (renderings put problems first).
    metadata
        JSON-safe facts about the run, e.g. ``n_reference``, ``n_current``, ``created_at``
        (ISO string), ``watchkeeper_version``, ``options``, ``duration_seconds``. Copied;
        numpy values, tuples and non-finite floats are made JSON-safe.

    Raises
    ------
    InvalidParameterError
        If an item of ``checks`` is not a :class:`CheckResult` or has an unknown status, or
        if ``metadata`` is not a mapping or holds a negative or non-integer ``n_reference``
        or ``n_current``.

    Examples
    --------
    >>> from watchkeeper.results import CheckResult
    >>> report = Report(
    ...     [
    ...         CheckResult("drift.wasserstein", "age", 0.31, p_value=2e-6, threshold=0.1,
    ...                     status="alert", reason="Distribution moved."),
    ...         CheckResult("quality.missing_rate", "age", 0.0, threshold=0.05),
    ...     ],
    ...     metadata={"n_reference": 1000, "n_current": 800},
    ... )
    >>> report
    <Report status=alert checks=2 alerts=1>
    >>> print(report)
    Status: alert — 1 alert, 0 warnings, 1 ok
    Reference rows: 1000, current rows: 800; drifted columns: 1
    <BLANKLINE>
    Drift — 1 alert, 0 warnings
    status  check                 column  value  p_value  threshold  reason
    ------  --------------------  ------  -----  -------  ---------  -------------------
    alert   drift.wasserstein     age      0.31  2.0e-06        0.1  Distribution moved.
    <BLANKLINE>
    Data quality — 0 alerts, 0 warnings, 1 ok
    status  check                 column  value  p_value  threshold  reason
    ------  --------------------  ------  -----  -------  ---------  -------------------
    ok      quality.missing_rate  age         0        –       0.05  –
    """

    SCHEMA_VERSION: ClassVar[int] = 1
    """Version of the :meth:`to_dict` layout; renamed or removed fields need a new one."""

    __slots__ = ("_checks", "_metadata", "_summary")

    def __init__(
        self, checks: Sequence[CheckResult], *, metadata: Mapping[str, Any] | None = None
    ) -> None:
        checks = tuple(checks)
        for i, check in enumerate(checks):
            if not isinstance(check, CheckResult):
                raise InvalidParameterError(
                    f"Report expects CheckResult items in 'checks'. Got {type(check).__name__} "
                    f"at index {i} instead; use Report.from_dict for serialized data."
                )
            if check.status not in STATUSES:
                raise InvalidParameterError(
                    f"The status of checks[{i}] ({check.check}) must be one of {STATUSES}. "
                    f"Got {check.status!r} instead."
                )
        if metadata is None:
            metadata = {}
        if not isinstance(metadata, Mapping):
            raise InvalidParameterError(
                f"The 'metadata' parameter of Report must be a mapping. "
                f"Got {type(metadata).__name__} instead."
            )
        safe: dict[str, Any] = _json_safe(metadata)
        for key in ("n_reference", "n_current"):
            value = safe.get(key)
            if value is not None and (type(value) is not int or value < 0):
                raise InvalidParameterError(
                    f"The metadata entry {key!r} of Report must be a non-negative integer. "
                    f"Got {value!r} instead."
                )
        self._checks: tuple[CheckResult, ...] = checks
        self._metadata: Mapping[str, Any] = MappingProxyType(safe)
        self._summary: Summary | None = None

    # ------------------------------------------------------------------ access

    @property
    def checks(self) -> tuple[CheckResult, ...]:
        """The results, in input order."""
        return self._checks

    @property
    def metadata(self) -> Mapping[str, Any]:
        """Read-only, JSON-safe metadata."""
        return self._metadata

    @property
    def summary(self) -> Summary:
        """The :class:`Summary` (computed on first access)."""
        if self._summary is None:
            self._summary = Summary.from_checks(self._checks, self._metadata)
        return self._summary

    @property
    def status(self) -> Status:
        """The overall status, same as ``summary.status``."""
        return self.summary.status

    @property
    def alerts(self) -> tuple[CheckResult, ...]:
        """The results whose status is ``alert``, in input order."""
        return tuple(c for c in self._checks if c.status == "alert")

    def for_column(self, column: str) -> tuple[CheckResult, ...]:
        """The results about ``column``, in input order."""
        return tuple(c for c in self._checks if c.column == column)

    def filter(
        self,
        *,
        status: Status | Collection[Status] | None = None,
        family: str | Collection[str] | None = None,
        check: str | Collection[str] | None = None,
        column: str | Collection[str] | None = None,
        segment: str | Collection[str] | None = None,
    ) -> Report:
        """A report with the results that match every given criterion (same metadata).

        Each criterion is one string or a collection of strings (any of them matches);
        None does not filter. ``family`` is the first part of the dotted check name.
        ``segment`` keeps the results of those segments (whole-window results have none).

        Raises
        ------
        InvalidParameterError
            If a criterion is not a string or collection of strings, or a status is unknown.
        """
        statuses = _selector("status", status)
        if statuses is not None and not statuses <= set(STATUSES):
            raise InvalidParameterError(
                f"The 'status' parameter of Report.filter must name statuses among {STATUSES}. "
                f"Got {sorted(statuses - set(STATUSES))} instead."
            )
        families, names, columns, segments = (
            _selector("family", family),
            _selector("check", check),
            _selector("column", column),
            _selector("segment", segment),
        )
        kept = [
            c
            for c in self._checks
            if (statuses is None or c.status in statuses)
            and (families is None or c.family in families)
            and (names is None or c.check in names)
            and (columns is None or c.column in columns)
            and (segments is None or c.segment in segments)
        ]
        return Report(kept, metadata=self._metadata)

    def __len__(self) -> int:
        return len(self._checks)

    def __iter__(self) -> Iterator[CheckResult]:
        return iter(self._checks)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Report):
            return NotImplemented
        return self._checks == other._checks and self._metadata == other._metadata

    # Equal by value; unhashable because metadata and details are dicts.
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        s = self.summary
        return f"<Report status={s.status} checks={s.n_checks} alerts={s.counts['alert']}>"

    def __str__(self) -> str:
        return self.to_text()

    # ------------------------------------------------------------------ serialization

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"schema_version", "metadata", "summary", "checks"}``, JSON-safe."""
        return {
            "schema_version": self.SCHEMA_VERSION,
            "metadata": _json_safe(self._metadata),
            "summary": self.summary.to_dict(),
            "checks": [c.to_dict() for c in self._checks],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """Return :meth:`to_dict` as JSON text (strict: no NaN or infinity)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        """Rebuild a report from :meth:`to_dict` output (the summary is recomputed).

        Raises
        ------
        SerializationError
            If ``schema_version`` is missing or not one this version reads, or the checks
            or metadata are malformed.
        """
        if not isinstance(data, Mapping):
            raise SerializationError(
                "A serialized Report must be a mapping (the output of Report.to_dict()). "
                f"Got {type(data).__name__} instead."
            )
        version = data.get("schema_version")
        if type(version) is not int or version != cls.SCHEMA_VERSION:
            found = "no schema_version" if version is None else f"schema_version {version!r}"
            raise SerializationError(
                f"The serialized Report has {found}, but this version of watchkeeper reads "
                f"only schema_version {cls.SCHEMA_VERSION}. Read it with the watchkeeper "
                "version that wrote it, or upgrade watchkeeper."
            )
        raw_checks = data.get("checks")
        if not isinstance(raw_checks, list):
            raise SerializationError(
                "The serialized Report must hold a list under 'checks'. "
                f"Got {type(raw_checks).__name__} instead."
            )
        checks = [_load_check(i, item) for i, item in enumerate(raw_checks)]
        try:
            return cls(checks, metadata=data.get("metadata") or {})
        except InvalidParameterError as exc:
            raise SerializationError(f"The serialized Report is malformed: {exc}") from exc

    @classmethod
    def from_json(cls, text: str | bytes) -> Report:
        """Rebuild a report from :meth:`to_json` output.

        Raises
        ------
        SerializationError
            If the text is not valid JSON, or as :meth:`from_dict`.
        """
        try:
            data = json.loads(text)
        except ValueError as exc:  # json.JSONDecodeError and undecodable bytes
            raise SerializationError(f"The serialized Report is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    def to_frame(self) -> pd.DataFrame:
        """One row per check; the columns are the :class:`CheckResult` fields.

        Missing numbers are NaN; ``details`` holds one dict per row.
        """
        import pandas as pd

        data: dict[str, pd.Series[Any]] = {}
        for name in _FRAME_COLUMNS:
            values = [getattr(c, name) for c in self._checks]
            if name in _FRAME_FLOATS:
                data[name] = pd.Series(values, dtype="float64")
            elif name in ("n", "n_reference"):
                data[name] = pd.Series(values, dtype="int64")
            else:
                data[name] = pd.Series(
                    values if name != "details" else [dict(v) for v in values], dtype=object
                )
        return pd.DataFrame(data, columns=list(_FRAME_COLUMNS))

    # ------------------------------------------------------------------ rendering

    def to_text(self, *, width: int | None = None, only: Literal["all", "problems"] = "all") -> str:
        """Aligned plain-text tables under a status line, no ANSI codes: one section per
        check family (Drift, Data quality, Performance), then one per segment; problems first.

        Parameters
        ----------
        width
            Fit the table in this many columns by truncating reasons and names with ``…``;
            None never truncates.
        only
            ``"all"`` lists every check, ``"problems"`` only alerts and warnings.
        """
        _check_only(only)
        if width is not None and (type(width) is not int or width < 1):
            raise InvalidParameterError(
                f"The 'width' parameter of Report.to_text must be a positive integer or None. "
                f"Got {width!r} instead."
            )
        return _render.render_text(self._checks, self.summary, width=width, only=only)

    def to_markdown(self) -> str:
        """GitHub-flavoured Markdown: status line, then per family (and segment) a problems
        table and the rest in ``<details>``."""
        return _render.render_markdown(self._checks, self.summary)

    def _repr_html_(self) -> str:
        """The report for a notebook: the same content as :meth:`to_html` in one ``<div>``
        whose stylesheet is scoped to it (no ``<html>``/``<body>``, no scripts)."""
        from watchkeeper.monitor._html_report import render_fragment

        return render_fragment(self)

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str:
        """A standalone, offline HTML document of the comparison.

        Summary first (status, what changed, what to look at first, drifted columns ranked
        by effect size), then one figure per column with its reference and current
        distributions, the drift statistic, p-value, threshold and verdict and its other
        checks, then the data-quality, performance, dataset-level and segment tables. Charts
        are SVG drawn here; each has a CSV download of its numbers and the page one JSON
        download of :meth:`to_json`. No JavaScript, no external resources.

        Parameters
        ----------
        path
            Also write the document there (UTF-8) when given.

        Returns
        -------
        str
            The document.
        """
        from watchkeeper.monitor._html_report import render_document

        document = render_document(self)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(document)
        return document

    def print_rich(
        self, console: Console | None = None, *, only: Literal["all", "problems"] = "all"
    ) -> None:
        """Print coloured :class:`rich.table.Table` sections (per family, then per segment) to
        ``console`` (a new one if None)."""
        _check_only(only)
        _render.render_rich(self._checks, self.summary, console, only=only)


def _load_check(index: int, item: Any) -> CheckResult:
    if not isinstance(item, Mapping):
        raise SerializationError(
            f"checks[{index}] of the serialized Report must be a mapping. "
            f"Got {type(item).__name__} instead."
        )
    status = item.get("status", "ok")
    if status not in STATUSES:
        raise SerializationError(
            f"checks[{index}] of the serialized Report has status {status!r}; "
            f"expected one of {STATUSES}."
        )
    column = item.get("column")
    if column is not None and not isinstance(column, str):
        raise SerializationError(
            f"checks[{index}] of the serialized Report has a non-string column {column!r}."
        )
    try:
        return CheckResult.from_dict(item)
    except (KeyError, TypeError, ValueError) as exc:
        raise SerializationError(
            f"checks[{index}] of the serialized Report cannot be read: {exc!r}."
        ) from exc
