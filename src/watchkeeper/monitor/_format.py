"""Cell formatting shared by every rendering of a :class:`~watchkeeper.monitor.report.Report`.

Private. Every renderer turns a :class:`CheckResult` into the same seven cells (status, check,
column, value, p-value, threshold, reason) through :func:`cells`, so the text table, the
Markdown, the HTML and the rich table show the same strings and differ only in escaping.

* ``None`` renders as :data:`MISSING` (an en dash) everywhere.
* Numbers keep four significant digits; p-values below 0.001 use two-digit scientific
  notation (``3.2e-05``).
* Names come from user data and may hold anything: :func:`clean` replaces every
  non-printable character (newlines, tabs, ANSI escapes, bidi overrides) with its Python
  escape, so no cell can break a line, move the cursor or colour a terminal.

:func:`sections` groups the results the way every rendering shows them: one
:class:`Section` per check family of the whole window (Drift, Data quality, Performance, then
any other family), then one per segment, each with its results problems first.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from watchkeeper.results import CheckResult, Status

__all__ = [
    "FAMILY_TITLES",
    "HEADERS",
    "MISSING",
    "MODEL_DRIFT_CHECKS",
    "NUMERIC_COLUMNS",
    "SEVERITY_ORDER",
    "Section",
    "cells",
    "clean",
    "context_line",
    "display_width",
    "format_number",
    "format_p_value",
    "is_feature_drift",
    "ordered",
    "sections",
    "status_phrase",
    "truncate",
]

MISSING = "–"
"""What a missing value (None) renders as, in every format."""

HEADERS: tuple[str, ...] = ("status", "check", "column", "value", "p_value", "threshold", "reason")
"""The columns of every rendered table, in order."""

NUMERIC_COLUMNS = frozenset({3, 4, 5})
"""Indices of :data:`HEADERS` that hold numbers (right-aligned)."""

SEVERITY_ORDER: tuple[Status, ...] = ("alert", "warning", "ok", "skipped")
"""Statuses from the most to the least pressing: the order of every rendering."""

FAMILY_TITLES: Mapping[str, str] = {
    "drift": "Drift",
    "quality": "Data quality",
    "performance": "Performance",
}
"""Section titles of the known check families, in the order the sections come."""

_RANK: dict[str, int] = {status: rank for rank, status in enumerate(SEVERITY_ORDER)}

_NOUNS: dict[str, tuple[str, str]] = {
    "alert": ("alert", "alerts"),
    "warning": ("warning", "warnings"),
    "ok": ("ok", "ok"),
    "skipped": ("skipped", "skipped"),
}


def ordered(checks: Iterable[CheckResult]) -> list[CheckResult]:
    """Problems first: alert, warning, then ok, then skipped; input order within a status."""
    return sorted(checks, key=lambda c: _RANK.get(c.status, len(_RANK)))


@dataclass(frozen=True, slots=True)
class Section:
    """A titled group of results: one check family of the whole window, or one segment.

    Parameters
    ----------
    title
        ``Drift``, ``Data quality``, ``Performance``, another family's name, or
        ``Segment <column>=<value>``; cleaned (:func:`clean`), not yet escaped.
    checks
        Its results, problems first (:func:`ordered`).
    """

    title: str
    checks: tuple[CheckResult, ...]

    @property
    def heading(self) -> str:
        """``Drift — 2 alerts, 0 warnings, 14 ok``: the title and its counts."""
        counts: dict[Status, int] = {}
        for check in self.checks:
            counts[check.status] = counts.get(check.status, 0) + 1
        return f"{self.title} — {status_phrase(counts)}"


def sections(checks: Iterable[CheckResult]) -> list[Section]:
    """The results grouped for display: families of the whole window, then segments.

    Whole-window results (``segment`` None) form one section per family, the known families
    first (:data:`FAMILY_TITLES` order) and any other in order of first appearance; each
    segment then gets one section, in order of first appearance. Empty groups give no
    section; within a section the results are :func:`ordered`.

    Examples
    --------
    >>> from watchkeeper.results import CheckResult
    >>> found = sections([
    ...     CheckResult("quality.missing_rate", "age", 0.0),
    ...     CheckResult("drift.wasserstein", "age", 0.3, status="alert"),
    ...     CheckResult("drift.wasserstein", "age", 0.1, segment="plan=basic"),
    ... ])
    >>> [s.heading for s in found]
    ['Drift — 1 alert, 0 warnings', 'Data quality — 0 alerts, 0 warnings, 1 ok', \
'Segment plan=basic — 0 alerts, 0 warnings, 1 ok']
    """
    families: dict[str, list[CheckResult]] = {name: [] for name in FAMILY_TITLES}
    segments: dict[str, list[CheckResult]] = {}
    for check in checks:
        if check.segment is None:
            families.setdefault(check.family, []).append(check)
        else:
            segments.setdefault(check.segment, []).append(check)
    found = [
        Section(FAMILY_TITLES.get(family) or _title(family), tuple(ordered(group)))
        for family, group in families.items()
        if group
    ]
    found += [
        Section(f"Segment {clean(segment)}", tuple(ordered(group)))
        for segment, group in segments.items()
    ]
    return found


def _title(family: str) -> str:
    name = clean(family)
    return name[:1].upper() + name[1:]


def format_number(value: float | None) -> str:
    """Four significant digits; plain digits between 1e4 and 1e6; ``–`` for None.

    Examples
    --------
    >>> [format_number(v) for v in (None, 0.0, 0.123456, 3.0, 52340.12, 1.5e7, -2.5e-6)]
    ['–', '0', '0.1235', '3', '52340', '1.5e+07', '-2.5e-06']
    """
    if value is None:
        return MISSING
    if value == 0:
        return "0"
    if 1e4 <= abs(value) < 1e6:
        return f"{value:.0f}"
    return f"{value:.4g}"


def format_p_value(p_value: float | None) -> str:
    """Four significant digits down to 0.001, then two-digit scientific notation.

    Examples
    --------
    >>> [format_p_value(p) for p in (None, 0.0, 1.0, 0.04996, 0.0012, 3.2e-05)]
    ['–', '0', '1', '0.04996', '0.0012', '3.2e-05']
    """
    if p_value is None:
        return MISSING
    if p_value == 0:
        return "0"
    if abs(p_value) < 1e-3:
        return f"{p_value:.1e}"
    return f"{p_value:.4g}"


def clean(text: str) -> str:
    r"""Replace each non-printable character with its Python escape.

    Examples
    --------
    >>> clean("a\tb\x1b[31m")
    'a\\tb\\x1b[31m'
    """
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )


def cells(check: CheckResult) -> tuple[str, ...]:
    """The seven cleaned (not yet escaped) cells of one result, in :data:`HEADERS` order."""
    return (
        clean(check.status),
        clean(check.check),
        MISSING if check.column is None else clean(check.column),
        format_number(check.value),
        format_p_value(check.p_value),
        format_number(check.threshold),
        clean(check.reason) if check.reason else MISSING,
    )


def status_phrase(counts: Mapping[Status, int]) -> str:
    """``0 alerts, 1 warning, 20 ok`` (ok and skipped only when present); ``no checks``.

    Examples
    --------
    >>> status_phrase({"ok": 20, "warning": 1, "alert": 0, "skipped": 0})
    '0 alerts, 1 warning, 20 ok'
    """
    if not any(counts.values()):
        return "no checks"
    parts = []
    for status in SEVERITY_ORDER:
        n = counts.get(status, 0)
        if n or status in ("alert", "warning"):
            singular, plural = _NOUNS[status]
            parts.append(f"{n} {singular if n == 1 else plural}")
    return ", ".join(parts)


def context_line(
    n_reference: int, n_current: int, dataset_drift: bool | None, n_drifted: int
) -> str | None:
    """A second summary line with the sizes and drift verdicts that are known, else None."""
    parts = []
    if n_reference or n_current:
        parts.append(f"reference rows: {n_reference}, current rows: {n_current}")
    if dataset_drift is not None:
        parts.append(f"dataset drift: {'yes' if dataset_drift else 'no'}")
    if n_drifted:
        parts.append(f"drifted columns: {n_drifted}")
    if not parts:
        return None
    line = "; ".join(parts)
    return line[0].upper() + line[1:]


def display_width(text: str) -> int:
    """Terminal columns the text takes: wide (East Asian) characters count two, combining 0."""
    if text.isascii():
        return len(text)
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def truncate(text: str, width: int) -> str:
    """Cut the text to at most ``width`` terminal columns, ending with ``…`` when cut."""
    if display_width(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    out: list[str] = []
    used = 0
    for ch in text:
        w = display_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


MODEL_DRIFT_CHECKS = {"drift.prediction": "prediction", "drift.target": "target"}
"""Drift checks on the model's own columns, not on its input features (and their role)."""


def is_feature_drift(check: CheckResult) -> bool:
    """Whether ``check`` is the drift of an input feature column (not of the prediction or
    the target, not dataset-level), by its name and the role recorded in its details."""
    return (
        check.family == "drift"
        and check.column is not None
        and check.check not in MODEL_DRIFT_CHECKS
        and check.details.get("role", "feature") == "feature"
    )
