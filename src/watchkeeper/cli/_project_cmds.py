"""``watchkeeper init`` and ``watchkeeper db``, and what every project command shares.

Each project command finds its project like the library does (``--project DIR``, else
``WATCHKEEPER_PROJECT``, else the working directory and its parents), turns every watchkeeper
error into one line on stderr (exit 2), and prints tables (``--format table``, rich) or the
records' ``to_dict()`` as JSON (``--format json``) on stdout.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from watchkeeper.cli._output import fail
from watchkeeper.errors import WatchkeeperError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.table import Table

    from watchkeeper.registry import Project

__all__ = [
    "FormatOpt",
    "ProjectOpt",
    "ReadFormat",
    "db_app",
    "echo_json",
    "init",
    "new_table",
    "one_line_errors",
    "open_project",
    "print_table",
    "when",
]

# Width of the tables when stdout is not a terminal (a pipe, a file, a test): wide enough
# that a row never wraps, short of a reason or description of a thousand characters.
PIPE_WIDTH = 1_000


class ReadFormat(StrEnum):
    """Formats of the project commands' output."""

    table = "table"
    json = "json"


ProjectOpt = Annotated[
    Path | None,
    typer.Option(
        "--project",
        help="The project folder (default: $WATCHKEEPER_PROJECT, else the current folder or "
        "its nearest parent holding watchkeeper.yaml).",
        show_default=False,
    ),
]
FormatOpt = Annotated[ReadFormat, typer.Option("--format", help="Output format.")]


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn a watchkeeper error (or an unreadable file) into ``error: ...`` and exit 2."""
    try:
        yield
    except (WatchkeeperError, OSError) as exc:
        raise fail(" ".join(str(exc).split()) or type(exc).__name__) from None


def open_project(project: Path | None, *, check_schema: bool = True) -> Project:
    """The project at ``--project``, or found from the environment and the working folder."""
    from watchkeeper.registry import Project

    return Project(project, check_schema=check_schema)


def print_table(table: Table) -> None:
    """Print a rich table on stdout: fitted to the terminal, or, when stdout is not one (a
    pipe, a file, a test), at its natural width with one line per row and no trailing blanks,
    so that grep and diff see whole rows."""
    from rich.console import Console

    options: dict[str, Any] = {"markup": False, "highlight": False, "emoji": False}
    if sys.stdout.isatty():
        Console(**options).print(table)
        return
    buffer = io.StringIO()
    Console(file=buffer, width=PIPE_WIDTH, **options).print(table)
    typer.echo("\n".join(line.rstrip() for line in buffer.getvalue().splitlines()))


def new_table(*columns: str, wrap: tuple[str, ...] = ()) -> Table:
    """A plain table. On a narrow terminal the ``wrap`` columns (free text) wrap, keeping at
    least a word's width, and timestamps break between date and time; the rest keep one line."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), show_edge=False)
    for column in columns:
        if column in wrap:
            table.add_column(column, overflow="fold", min_width=12)
        elif column.startswith(("when", "created (")):
            table.add_column(column, min_width=10)
        else:
            table.add_column(column, no_wrap=True)
    return table


def echo_json(doc: Any) -> None:
    """Print ``doc`` as indented JSON on stdout."""
    typer.echo(json.dumps(doc, indent=2))


def when(moment: datetime) -> str:
    """A timestamp for a table: UTC, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


# ---------------------------------------------------------------------- init
def init(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="The project folder (created if missing).")
    ] = Path("."),
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Where the registry lives (default: sqlite:///watchkeeper.db in the project), "
            "e.g. postgresql+psycopg://user@host/db.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Create a project in DIR: watchkeeper.yaml, the database and the artifact folder."""
    from watchkeeper.config import CONFIG_FILE, resolve_artifacts_root
    from watchkeeper.registry import Project
    from watchkeeper.store.database import redact_url

    with one_line_errors(), Project.init(directory, database_url=database_url) as project:
        path = project.path or directory.resolve()
        revision = project.database.current_revision()
        url = redact_url(project.database.url)
        artifacts = "" if project.config is None else resolve_artifacts_root(project.config, path)
    here = path == Path.cwd().resolve()
    lines = [
        f"Created a watchkeeper project in {path}",
        f"  config     {path / CONFIG_FILE}",
        f"  database   {url} (schema {revision})",
        f"  artifacts  {artifacts}",
    ]
    option = "" if here else f" --project {directory}"
    lines += [
        "Next, register a model with its training and validation data:",
        f"  watchkeeper register churn model.skops{option} --reference train.csv "
        "--validation valid.csv --target churned",
    ]
    typer.echo("\n".join(lines))


# ---------------------------------------------------------------------- db
db_app = typer.Typer(
    name="db",
    help="The project database's schema: which revision it is at, and upgrading it.",
    no_args_is_help=True,
)


@db_app.command("upgrade")
def db_upgrade(project: ProjectOpt = None) -> None:
    """Bring the database schema up to this release's revision (back it up first)."""
    from watchkeeper.store.database import redact_url

    with one_line_errors(), open_project(project, check_schema=False) as opened:
        before, after = opened.upgrade()
        url = redact_url(opened.database.url)
    if before == after:
        typer.echo(f"{url} is already at schema revision {after}; nothing to do.")
    else:
        typer.echo(f"Upgraded {url}: {before or 'empty'} -> {after}")


@db_app.command("current")
def db_current(project: ProjectOpt = None, output_format: FormatOpt = ReadFormat.table) -> None:
    """Show the database's schema revision, this release's, and whether to upgrade."""
    from watchkeeper.errors import SchemaOutOfDateError
    from watchkeeper.store.database import head_revision, redact_url

    with one_line_errors(), open_project(project, check_schema=False) as opened:
        current = opened.database.current_revision()
        head = head_revision()
        url = redact_url(opened.database.url)
        try:
            opened.database.check_schema()
            note = "Up to date."
        except SchemaOutOfDateError as exc:
            note = str(exc)
    if output_format is ReadFormat.json:
        echo_json(
            {"database": url, "current": current, "head": head, "up_to_date": current == head}
        )
        return
    typer.echo(
        "\n".join(
            [
                f"database  {url}",
                f"current   {current or '(empty)'}",
                f"head      {head}",
                note,
            ]
        )
    )
