"""Renderings of a :class:`~watchkeeper.monitor.report.Report`: text, Markdown, rich.

Private; :class:`~watchkeeper.monitor.report.Report` is the public entry point. Every renderer
orders the results the same way (alerts, warnings, ok, skipped; input order within a status),
shows the same cells (:func:`watchkeeper.monitor._format.cells`) and escapes them for its own
format: Markdown escapes pipes and inline markup, rich gets :class:`rich.text.Text` objects
(never markup strings). Each shows one section per check family and per segment
(:func:`watchkeeper.monitor._format.sections`) under the status line. The HTML rendering,
with charts, is :mod:`watchkeeper.monitor._html_report`.

:func:`render_chunked_markdown` renders a
:class:`~watchkeeper.monitor.chunked.ChunkedReport` as one Markdown table of its chunks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchkeeper.monitor._format import (
    HEADERS,
    MISSING,
    NUMERIC_COLUMNS,
    SEVERITY_ORDER,
    cells,
    clean,
    context_line,
    display_width,
    ordered,
    sections,
    status_phrase,
    truncate,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console

    from watchkeeper.monitor._format import Section
    from watchkeeper.monitor.chunked import ChunkedReport
    from watchkeeper.monitor.report import Summary
    from watchkeeper.results import CheckResult, Status

__all__ = [
    "render_chunked_markdown",
    "render_markdown",
    "render_rich",
    "render_text",
]

_PROBLEMS = ("alert", "warning")
_SEP = "  "
# A chunk's row in the Markdown of a chunked report names at most this many problem checks.
_CHUNK_LABELS = 8
# When a text table is too wide, shrink these columns (index, narrowest allowed) in this order.
_SHRINK_ORDER = ((6, 10), (2, 8), (1, 8))

_RICH_MIN_WIDTHS = {1: 8, 2: 6, 6: 10}
_RICH_STYLES = {"alert": "bold red", "warning": "yellow", "ok": "green", "skipped": "dim"}


def _split(checks: Sequence[CheckResult]) -> tuple[list[CheckResult], list[CheckResult]]:
    rows = ordered(checks)
    problems = [c for c in rows if c.status in _PROBLEMS]
    return problems, [c for c in rows if c.status not in _PROBLEMS]


def _context(summary: Summary) -> str | None:
    return context_line(
        summary.n_reference,
        summary.n_current,
        summary.dataset_drift,
        len(summary.drifted_columns),
    )


def _rest_phrase(rest: Sequence[CheckResult]) -> str:
    n = len(rest)
    return f"{n} other check{'' if n == 1 else 's'}"


# --------------------------------------------------------------------------- plain text


def _fit(widths: list[int], width: int) -> list[int]:
    """Shrink the reason, column and check widths until the table fits in ``width``."""
    widths = list(widths)
    excess = sum(widths) + len(_SEP) * (len(widths) - 1) - width
    for index, narrowest in _SHRINK_ORDER:
        if excess <= 0:
            break
        cut = min(excess, max(0, widths[index] - narrowest))
        widths[index] -= cut
        excess -= cut
    return widths


def _shown(checks: Sequence[CheckResult], only: str) -> list[tuple[Section, list[CheckResult]]]:
    """Each section with the results ``only`` keeps; sections left empty are dropped."""
    kept = [
        (section, [c for c in section.checks if only == "all" or c.status in _PROBLEMS])
        for section in sections(checks)
    ]
    return [(section, rows) for section, rows in kept if rows]


def _text_table(rows: list[tuple[str, ...]], widths: list[int]) -> list[str]:
    lines = []
    for k, row in enumerate([HEADERS, *rows]):
        parts = []
        for i, cell in enumerate(row):
            cell = truncate(cell, widths[i])
            pad = " " * (widths[i] - display_width(cell))
            parts.append(pad + cell if i in NUMERIC_COLUMNS else cell + pad)
        lines.append(_SEP.join(parts).rstrip())
        if k == 0:
            lines.append(_SEP.join("-" * w for w in widths))
    return lines


def render_text(
    checks: Sequence[CheckResult], summary: Summary, *, width: int | None, only: str
) -> str:
    """A status line, then per section a heading and an aligned table; no ANSI codes.

    Every section's table has the same column widths, so the columns line up down the page.
    """
    lines = [f"Status: {summary.status} — {status_phrase(summary.counts)}"]
    context = _context(summary)
    if context is not None:
        lines.append(context)
    shown = _shown(checks, only)
    if not shown:
        if checks:
            lines.append("No alerts or warnings.")
        return "\n".join(lines)
    table = [HEADERS, *(cells(c) for _, rows in shown for c in rows)]
    widths = [max(display_width(row[i]) for row in table) for i in range(len(HEADERS))]
    if width is not None:
        widths = _fit(widths, width)
    for section, rows in shown:
        heading = section.heading if width is None else truncate(section.heading, width)
        lines.extend(["", heading])
        lines.extend(_text_table([cells(c) for c in rows], widths))
    return "\n".join(lines)


# --------------------------------------------------------------------------- Markdown

_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MD_BACKSLASHED = frozenset("\\`*_[]|~")


def _md_escape(text: str) -> str:
    """Escape a cleaned cell for a GitHub-flavoured Markdown table."""
    return "".join(
        _MD_ENTITIES.get(ch) or ("\\" + ch if ch in _MD_BACKSLASHED else ch) for ch in text
    )


def _md_table(checks: Sequence[CheckResult]) -> list[str]:
    align = ["---:" if i in NUMERIC_COLUMNS else "---" for i in range(len(HEADERS))]
    lines = ["| " + " | ".join(HEADERS) + " |", "| " + " | ".join(align) + " |"]
    for check in checks:
        lines.append("| " + " | ".join(_md_escape(cell) for cell in cells(check)) + " |")
    return lines


def render_markdown(checks: Sequence[CheckResult], summary: Summary) -> str:
    """A status line, then per section a heading, its problems table and the rest folded.

    Each section is a ``###`` heading with its counts, the table of its alerts and warnings
    (or "No alerts or warnings."), and its other results in a ``<details>`` block.
    """
    lines = [f"**Status: {summary.status}** — {status_phrase(summary.counts)}"]
    context = _context(summary)
    if context is not None:
        lines.extend(["", context])
    for section in sections(checks):
        problems, rest = _split(section.checks)
        lines.extend(["", f"### {_md_escape(section.heading)}", ""])
        lines.extend(_md_table(problems) if problems else ["No alerts or warnings."])
        if rest:
            lines.extend(["", "<details>", f"<summary>{_rest_phrase(rest)}</summary>", ""])
            lines.extend([*_md_table(rest), "", "</details>"])
    return "\n".join(lines) + "\n"


def _chunk_problems(report_checks: Sequence[CheckResult], status: str) -> str:
    """``check[column | segment]`` of the results with the chunk's (problem) status.

    Whole-window results come first; past :data:`_CHUNK_LABELS` labels the rest are counted.
    """
    if status not in _PROBLEMS:
        return MISSING
    hits = [c for c in report_checks if c.status == status]
    hits.sort(key=lambda c: c.segment is not None)  # stable: whole window first
    labels = []
    for check in hits[:_CHUNK_LABELS]:
        inner = [clean(x) for x in (check.column, check.segment) if x is not None]
        labels.append(clean(check.check) + (f"[{' | '.join(inner)}]" if inner else ""))
    if len(hits) > _CHUNK_LABELS:
        labels.append(f"and {len(hits) - _CHUNK_LABELS} more")
    return ", ".join(labels)


def render_chunked_markdown(chunked: ChunkedReport) -> str:
    """A status line, how thresholds were set, and one table row per chunk.

    Each row shows the chunk, its rows (``(partial)`` for the short last chunk of a split
    by size), its status and, for a chunk with alerts (warnings), its alerting (warning)
    checks as ``check[column]``.
    """
    counts: dict[Status, int] = dict.fromkeys(SEVERITY_ORDER, 0)
    for report in chunked.reports:
        counts[report.status] += 1
    plural = "chunk" if len(chunked) == 1 else "chunks"
    lines = [f"**Status: {chunked.status}** — {len(chunked)} {plural}: {status_phrase(counts)}"]
    meta = chunked.metadata
    if meta.get("thresholds") == "reference":
        lines += [
            "",
            f"Thresholds learned from {meta.get('n_reference_chunks')} reference chunks "
            f"(k = {meta.get('k')}); alerts need {meta.get('consecutive', 1)} chunk(s) in a row.",
        ]
    elif meta.get("thresholds") == "fixed":
        lines += [
            "",
            "Fixed thresholds (each check's own rule); alerts need "
            f"{meta.get('consecutive', 1)} chunk(s) in a row.",
        ]
    if len(chunked):
        lines += ["", "| chunk | rows | status | problems |", "| --- | ---: | --- | --- |"]
        for info, report in chunked:
            size = f"{info.n}" + (" (partial)" if info.partial else "")
            row = (
                clean(info.key),
                size,
                report.status,
                _chunk_problems(report.checks, report.status),
            )
            lines.append("| " + " | ".join(_md_escape(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- rich


def render_rich(
    checks: Sequence[CheckResult], summary: Summary, console: Console | None, *, only: str
) -> None:
    """Print a coloured status line, then per section a heading and a rich table."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    if console is None:
        console = Console()
    console.print(
        Text.assemble(
            ("Status: ", "bold"),
            (summary.status, _RICH_STYLES.get(summary.status, "")),
            f" — {status_phrase(summary.counts)}",
        )
    )
    context = _context(summary)
    if context is not None:
        console.print(Text(context))
    shown = _shown(checks, only)
    if not shown:
        if checks:
            console.print(Text("No alerts or warnings."))
        return
    for section, rows in shown:
        console.print()
        title, _, phrase = section.heading.partition(" — ")
        console.print(Text.assemble((title, "bold"), f" — {phrase}"))
        table = Table(
            box=box.SIMPLE_HEAD,
            header_style="bold",
            show_edge=False,
            pad_edge=False,
            collapse_padding=True,
        )
        for i, header in enumerate(HEADERS):
            # Statuses and numbers stay on one line; names fold, reasons wrap, none vanish.
            table.add_column(
                header,
                justify="right" if i in NUMERIC_COLUMNS else "left",
                no_wrap=i == 0 or i in NUMERIC_COLUMNS,
                overflow="fold",
                min_width=_RICH_MIN_WIDTHS.get(i),
            )
        for check in rows:
            row = cells(check)
            table.add_row(
                Text(row[0], style=_RICH_STYLES.get(check.status, "")),
                *(Text(c) for c in row[1:]),
            )
        console.print(table)
