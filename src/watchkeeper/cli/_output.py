"""What the commands print: reports in each format, ``--fail-on``, one-line errors."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from pathlib import Path

    from watchkeeper.monitor.chunked import ChunkedReport
    from watchkeeper.monitor.report import Report
    from watchkeeper.results import CheckResult

__all__ = ["FailOn", "OutputFormat", "emit", "fail", "failed"]


class OutputFormat(StrEnum):
    """Formats of ``watchkeeper compare``'s output."""

    table = "table"
    json = "json"
    markdown = "markdown"


class FailOn(StrEnum):
    """Statuses ``--fail-on`` can exit 1 on."""

    alert = "alert"
    warning = "warning"


def fail(message: str) -> typer.Exit:
    """Print ``error: <message>`` on stderr and return the exit (code 2) to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _render(result: Report | ChunkedReport, output_format: OutputFormat) -> str:
    from watchkeeper.monitor._render import render_chunked_markdown
    from watchkeeper.monitor.report import Report

    if output_format is OutputFormat.json:
        return result.to_json(indent=2)
    if isinstance(result, Report):
        return result.to_markdown() if output_format is OutputFormat.markdown else result.to_text()
    if output_format is OutputFormat.markdown:
        return render_chunked_markdown(result)
    return result.to_text()


def emit(result: Report | ChunkedReport, output_format: OutputFormat, output: Path | None) -> None:
    """Write the rendered result to ``output``, or print it (rich tables on a terminal).

    Raises
    ------
    typer.Exit
        With code 2 (after a one-line error) when ``output`` cannot be written.
    """
    from watchkeeper.monitor.report import Report

    text = _render(result, output_format)
    if output is not None:
        try:
            output.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
        except OSError as exc:
            raise fail(f"Cannot write {str(output)!r}: {exc.strerror or exc}") from None
    elif output_format is OutputFormat.table and isinstance(result, Report) and _tty():
        result.print_rich()
    else:
        typer.echo(text.rstrip("\n"))


def _tty() -> bool:
    return sys.stdout.isatty()


def failed(result: Report | ChunkedReport, fail_on: FailOn | None) -> bool:
    """Whether any check (of any chunk) has the ``--fail-on`` status or a worse one."""
    from watchkeeper.monitor.report import Report

    if fail_on is None:
        return False
    bad = {"alert"} if fail_on is FailOn.alert else {"alert", "warning"}
    reports = [result] if isinstance(result, Report) else list(result.reports)
    checks: list[CheckResult] = [c for report in reports for c in report.checks]
    return any(c.status in bad for c in checks)
