"""``watchkeeper report NAME --output report.html``: a model's monitoring history as one
self-contained HTML page (see :class:`watchkeeper.report.MonitoringReport`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from watchkeeper.cli._log import NameArg, parse_time
from watchkeeper.cli._project_cmds import ProjectOpt, one_line_errors, open_project

__all__ = ["report"]


def report(
    name: NameArg,
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Where to write the HTML report.",
            show_default=False,
        ),
    ],
    since: Annotated[
        str | None,
        typer.Option(metavar="T", help="Runs from T (ISO 8601; naive = UTC).", show_default=False),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            metavar="T", help="Runs before T (ISO 8601; naive = UTC).", show_default=False
        ),
    ] = None,
    project: ProjectOpt = None,
) -> None:
    """Write NAME's monitoring history (drift, performance, data quality, label coverage and
    the timeline of deployments, rollbacks and retrains) as one offline HTML page."""
    from watchkeeper.report import MonitoringReport

    with one_line_errors():
        start, stop = parse_time(since, "--since"), parse_time(until, "--until")
        with open_project(project) as opened:
            document = MonitoringReport.from_project(opened, name, since=start, until=stop)
        document.to_html(output)
    typer.echo(str(output))
