"""The Typer application behind the ``watchkeeper`` command."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from watchkeeper._version import __version__
from watchkeeper.cli._baseline import baseline_app
from watchkeeper.cli._log import labels_app, log_app
from watchkeeper.cli._loop import monitor_app, policy_app, retrain
from watchkeeper.cli._output import FailOn, OutputFormat, emit, fail, failed
from watchkeeper.cli._params import PredictionOpt, ProbaOpt, SchemaOpt, TargetOpt
from watchkeeper.cli._project_cmds import db_app, init
from watchkeeper.cli._registry import deploy, history, models_app, register, rollback
from watchkeeper.cli._report import report
from watchkeeper.cli._serve import serve
from watchkeeper.errors import InvalidParameterError, WatchkeeperError

if TYPE_CHECKING:
    from collections.abc import Callable

    from watchkeeper.baseline import Baseline
    from watchkeeper.cli._inputs import ChunkSpec
    from watchkeeper.monitor.chunked import ChunkedReport
    from watchkeeper.monitor.report import Report

__all__ = ["app", "main"]

app = typer.Typer(
    name="watchkeeper",
    help="Keeps watch over machine-learning models in production.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(baseline_app)

# Options that shape a baseline: a saved baseline already has them.
_FIT_OPTIONS = ("--schema", "--target", "--prediction", "--prediction-proba", "--segment")


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


def _check_usage(
    files: list[Path],
    baseline: Path | None,
    given: dict[str, bool],
    *,
    chunk: str | None,
    consecutive: int | None,
    timestamp: str | None,
) -> None:
    """Refuse file counts and option combinations that do not make sense, before any work."""
    listed = f" ({', '.join(str(f) for f in files)})" if files else ""
    if baseline is not None:
        if len(files) != 1:
            raise InvalidParameterError(
                f"With --baseline, give just the CURRENT data file; got {len(files)} files{listed}."
            )
        clash = [name for name in _FIT_OPTIONS if given[name]]
        if clash:
            raise InvalidParameterError(
                f"{' and '.join(clash)} cannot be used with --baseline: the baseline already has "
                "the schema, roles and segments it was fitted with; fit a new one with "
                "`watchkeeper baseline fit` to change them."
            )
        if timestamp is not None and chunk is None:
            raise InvalidParameterError(
                "--timestamp with --baseline only says how to order rows for --chunk; add "
                "--chunk, or leave it out."
            )
    elif len(files) != 2:
        raise InvalidParameterError(
            "compare needs a REFERENCE and a CURRENT data file (or --baseline PATH and CURRENT); "
            f"got {len(files)}{listed}."
        )
    if consecutive is not None:
        if chunk is None:
            raise InvalidParameterError("--consecutive applies only with --chunk.")
        if consecutive < 1:
            raise InvalidParameterError(
                f"--consecutive must be a positive number of chunks. Got {consecutive} instead."
            )


@app.command()
def compare(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="[REFERENCE] CURRENT",
            help="Reference and current data (CSV or Parquet); just CURRENT with --baseline.",
            show_default=False,
        ),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="Compare with this baseline (from `watchkeeper baseline fit`): its directory "
            "or its .npz file.",
        ),
    ] = None,
    schema: SchemaOpt = None,
    target: TargetOpt = None,
    prediction: PredictionOpt = None,
    prediction_proba: ProbaOpt = None,
    timestamp: Annotated[
        str | None,
        typer.Option(help="Time column: orders the rows for --chunk, needed to chunk by period."),
    ] = None,
    chunk: Annotated[
        str | None,
        typer.Option(
            help="Compare CURRENT in chunks: N (or size=N) rows each, number=N chunks, or "
            "calendar periods: period=W or just D, W, MS, 2D.",
        ),
    ] = None,
    consecutive: Annotated[
        int | None,
        typer.Option(help="With --chunk: an alert stands only after N alerting chunks in a row."),
    ] = None,
    segment: Annotated[
        list[str] | None,
        typer.Option(
            "--segment", help="Also compare the rows of each value of this column (repeatable)."
        ),
    ] = None,
    checks: Annotated[
        list[str] | None,
        typer.Option(
            "--checks",
            help="Run only these: drift, quality, performance, or single checks such as "
            "quality.missing_rate, performance.roc_auc (repeatable).",
        ),
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="Output format.")
    ] = OutputFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the output to this file.")
    ] = None,
    fail_on: Annotated[
        FailOn | None,
        typer.Option(
            help="Exit 1 when any check (of any chunk) has this status (warning includes alert)."
        ),
    ] = None,
    alpha: Annotated[
        float | None,
        typer.Option(
            help="Significance level of the drift tests (default 0.05; the quality and "
            "performance checks use 0.01)."
        ),
    ] = None,
) -> None:
    """Compare CURRENT with REFERENCE (or with a saved --baseline): drift, data quality and
    model performance, on the whole window, per segment or chunk by chunk."""
    from watchkeeper.cli._inputs import check_names, parse_chunk

    files = list(files or [])
    proba = list(prediction_proba or [])
    segments = list(segment or [])
    given = {
        "--schema": schema is not None,
        "--target": target is not None,
        "--prediction": prediction is not None,
        "--prediction-proba": bool(proba),
        "--segment": bool(segments),
    }
    try:
        _check_usage(
            files, baseline, given, chunk=chunk, consecutive=consecutive, timestamp=timestamp
        )
        spec = None if chunk is None else parse_chunk(chunk)
        selected = check_names(checks or [])
        options: dict[str, Any] = {"checks": selected}
        if alpha is not None:
            options["alpha"] = alpha
        if baseline is not None:
            result = _compare_with_baseline(
                baseline, files[0], spec, options, timestamp=timestamp, consecutive=consecutive
            )
        else:
            result = _compare_files(
                files[0],
                files[1],
                spec,
                options,
                fit={
                    "schema_path": schema,
                    "target": target,
                    "prediction": prediction,
                    "prediction_proba": proba,
                    "timestamp": timestamp,
                },
                segments=segments,
                consecutive=consecutive,
            )
    except (WatchkeeperError, OSError) as exc:
        raise fail(str(exc)) from None
    emit(result, output_format, output)
    if failed(result, fail_on):
        raise typer.Exit(code=1)


def _run(
    baseline: Baseline,
    current: Any,
    spec: ChunkSpec | None,
    options: dict[str, Any],
    *,
    timestamp: str | None,
    consecutive: int | None,
    step: Callable[[str], None],
) -> Report | ChunkedReport:
    if spec is None:
        return baseline.compare(current, progress=step, **options)
    return baseline.compare_chunks(
        current,
        **spec.kwargs(),
        timestamp=timestamp,
        consecutive=consecutive or 1,
        progress=step,
        **options,
    )


def _compare_with_baseline(
    path: Path,
    current: Path,
    spec: ChunkSpec | None,
    options: dict[str, Any],
    *,
    timestamp: str | None,
    consecutive: int | None,
) -> Report | ChunkedReport:
    from watchkeeper.cli._inputs import load_baseline
    from watchkeeper.cli._io import read_table
    from watchkeeper.cli._progress import phases

    with phases(None if spec else 4) as step:
        step("loading the baseline")
        fitted = load_baseline(path)
        step("reading the current file")
        cur = read_table(current)
        return _run(
            fitted, cur, spec, options, timestamp=timestamp, consecutive=consecutive, step=step
        )


def _compare_files(
    reference: Path,
    current: Path,
    spec: ChunkSpec | None,
    options: dict[str, Any],
    *,
    fit: dict[str, Any],
    segments: list[str],
    consecutive: int | None,
) -> Report | ChunkedReport:
    from watchkeeper.cli._inputs import infer_schema
    from watchkeeper.cli._io import read_table
    from watchkeeper.cli._progress import phases

    one_shot = spec is None and not segments
    with phases(5 if one_shot else None) as step:
        step("reading the reference file")
        ref = read_table(reference)
        step("reading the current file")
        cur = read_table(current)
        inferred = infer_schema(ref, **fit)
        if one_shot:
            from watchkeeper.monitor import compare as run_compare

            return run_compare(ref, cur, inferred, progress=step, **options)
        from watchkeeper.baseline import Baseline

        # Reference chunks give the learned thresholds of a comparison in chunks; a single
        # comparison does not use them.
        chunks: dict[str, Any] = {} if spec is not None else {"reference_chunks": 0}
        fitted = Baseline.fit(ref, inferred, segments=segments or None, progress=step, **chunks)
        return _run(
            fitted,
            cur,
            spec,
            options,
            timestamp=fit["timestamp"],
            consecutive=consecutive,
            step=step,
        )


@app.command()
def demo(
    seed: Annotated[int, typer.Option(min=0, help="Seed of the simulated traffic.")] = 0,
    keep: Annotated[
        Path | None,
        typer.Option(help="Keep the demo project in this (new or empty) folder."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL", help="Use this (empty) database, e.g. postgresql+psycopg://..."
        ),
    ] = None,
) -> None:
    """Six weeks of a churn model in production, on a simulated clock, in under a minute:
    served over HTTP, monitored daily, retrained by the policy, gated, deployed, guarded and
    rolled back, with a timeline of what happened and when watchkeeper noticed."""
    from watchkeeper.cli._demo import print_summary, run_demo, write_report

    try:
        result = run_demo(
            seed=seed,
            keep=keep,
            database_url=database_url,
            report=lambda project, folder: write_report(project, folder, kept=keep is not None),
        )
    except (WatchkeeperError, FileExistsError) as exc:
        raise fail(str(exc)) from None
    if not print_summary(result):
        raise typer.Exit(1)


# The project and its model registry.
app.command()(init)
app.command()(register)
app.command()(deploy)
app.command()(rollback)
app.command()(history)
app.command()(serve)
app.add_typer(models_app)
app.add_typer(db_app)

# The prediction log and its labels.
app.add_typer(log_app)
app.add_typer(labels_app)
app.add_typer(monitor_app)
app.add_typer(policy_app)
app.command()(retrain)
app.command()(report)


def main() -> None:
    """Entry point of the ``watchkeeper`` console script."""
    app()
