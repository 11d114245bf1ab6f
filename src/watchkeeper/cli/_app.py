"""The Typer application behind the ``watchkeeper`` command."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from watchkeeper._version import __version__
from watchkeeper.errors import WatchkeeperError

__all__ = ["app", "main"]

app = typer.Typer(
    name="watchkeeper",
    help="Keeps watch over machine-learning models in production.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class OutputFormat(StrEnum):
    """Formats of ``watchkeeper compare``'s output."""

    table = "table"
    json = "json"
    markdown = "markdown"


class FailOn(StrEnum):
    """Statuses ``--fail-on`` can exit 1 on."""

    alert = "alert"
    warning = "warning"


def _overrides(schema: Any) -> dict[str, dict[str, Any]]:
    return {c.name: {"kind": c.kind, "role": c.role, "discrete": c.discrete} for c in schema}


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"watchkeeper {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Keeps watch over machine-learning models in production."""


@app.command()
def compare(
    reference: Annotated[Path, typer.Argument(help="Reference data (CSV or Parquet).")],
    current: Annotated[Path, typer.Argument(help="Current data (CSV or Parquet).")],
    schema: Annotated[
        Path | None, typer.Option("--schema", help="Schema file (YAML/JSON).")
    ] = None,
    target: Annotated[str | None, typer.Option(help="Target column (inferred schema).")] = None,
    prediction: Annotated[
        str | None, typer.Option(help="Prediction column (inferred schema).")
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="Output format.")
    ] = OutputFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the output to this file.")
    ] = None,
    fail_on: Annotated[
        FailOn | None,
        typer.Option(help="Exit 1 when any check has this status (warning includes alert)."),
    ] = None,
    alpha: Annotated[float | None, typer.Option(help="Significance level (default 0.05).")] = None,
) -> None:
    """Compare CURRENT with REFERENCE column by column and as a whole."""
    from watchkeeper.cli._io import read_table
    from watchkeeper.cli._progress import phases

    try:
        from watchkeeper.schema import Schema

        # The schema file overrides what it names; every other column is inferred.
        overrides = {} if schema is None else _overrides(Schema.load(schema))
        options: dict[str, Any] = {} if alpha is None else {"alpha": alpha}
        with phases(5) as step:
            step("reading the reference file")
            ref = read_table(reference)
            step("reading the current file")
            cur = read_table(current)
            from watchkeeper.monitor import compare as run_compare

            inferred = Schema.infer(ref, target=target, prediction=prediction, overrides=overrides)
            report = run_compare(ref, cur, inferred, progress=step, **options)
    except (WatchkeeperError, OSError) as exc:
        raise _fail(str(exc)) from None

    if output_format is OutputFormat.json:
        text = report.to_json(indent=2)
    elif output_format is OutputFormat.markdown:
        text = report.to_markdown()
    else:
        text = report.to_text()
    if output is not None:
        try:
            output.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise _fail(f"Cannot write {str(output)!r}: {exc.strerror or exc}") from None
    elif output_format is OutputFormat.table and sys.stdout.isatty():
        report.print_rich()
    else:
        typer.echo(text)

    if fail_on is not None:
        bad = {"alert"} if fail_on is FailOn.alert else {"alert", "warning"}
        if any(c.status in bad for c in report.checks):
            raise typer.Exit(code=1)


@app.command()
def demo(
    rows: Annotated[int, typer.Option(min=1000, help="Rows per data set.")] = 50_000,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the synthetic data.")] = 7,
) -> None:
    """Run the customer-churn example: a clean week, then a week with injected drift."""
    from watchkeeper.cli._demo import run_demo

    try:
        run_demo(rows=rows, seed=seed)
    except WatchkeeperError as exc:
        raise _fail(str(exc)) from None


def main() -> None:
    """Entry point of the ``watchkeeper`` console script."""
    app()
