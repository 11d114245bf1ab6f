"""``watchkeeper baseline fit``: fit a baseline once, save it, compare windows with it later."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from watchkeeper.cli._output import fail
from watchkeeper.cli._params import PredictionOpt, ProbaOpt, SchemaOpt, TargetOpt
from watchkeeper.errors import DataFileError, InvalidParameterError, WatchkeeperError

if TYPE_CHECKING:
    from watchkeeper.baseline import Baseline

__all__ = ["baseline_app"]

baseline_app = typer.Typer(
    name="baseline",
    help="Fit a baseline once; `watchkeeper compare --baseline DIR CURRENT` then reuses it.",
    no_args_is_help=True,
)


@baseline_app.command("fit")
def fit(
    reference: Annotated[
        Path, typer.Argument(help="Reference data: training or validation (CSV or Parquet).")
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Directory to write baseline.npz and schema.yaml to (created if missing).",
        ),
    ] = None,
    schema: SchemaOpt = None,
    target: TargetOpt = None,
    prediction: PredictionOpt = None,
    prediction_proba: ProbaOpt = None,
    timestamp: Annotated[
        str | None, typer.Option(help="Time column (default: the first datetime column).")
    ] = None,
    validation: Annotated[
        Path | None,
        typer.Option(
            help="Labelled validation data (CSV or Parquet) for the performance baseline; "
            "default: the reference's own labels and predictions."
        ),
    ] = None,
    segment: Annotated[
        list[str] | None,
        typer.Option(
            "--segment", help="Also fit a baseline per value of this column (repeatable)."
        ),
    ] = None,
    reference_chunks: Annotated[
        int | None,
        typer.Option(
            help="Chunks of the reference whose checks give `compare --chunk` its learned "
            "thresholds (default 10; 0 for none).",
        ),
    ] = None,
) -> None:
    """Fit a baseline on REFERENCE and write it, with its schema, to the --output directory."""
    from watchkeeper.cli._inputs import BASELINE_FILE, SCHEMA_FILE, infer_schema
    from watchkeeper.cli._io import read_table
    from watchkeeper.cli._progress import phases

    segments = list(segment or [])
    try:
        if output is None:
            raise InvalidParameterError(
                "baseline fit needs --output DIR, the directory to write the baseline to."
            )
        if output.exists() and not output.is_dir():
            raise DataFileError(f"--output {str(output)!r} is a file; give a directory.")
        options: dict[str, Any] = (
            {} if reference_chunks is None else {"reference_chunks": reference_chunks}
        )
        total = 4 + bool(validation) + bool(segments) + (reference_chunks != 0)
        with phases(total) as step:
            from watchkeeper.baseline import Baseline

            step("reading the reference file")
            ref = read_table(reference)
            frame = None
            if validation is not None:
                step("reading the validation file")
                frame = read_table(validation)
            inferred = infer_schema(
                ref,
                schema_path=schema,
                target=target,
                prediction=prediction,
                prediction_proba=list(prediction_proba or []),
                timestamp=timestamp,
            )
            fitted = Baseline.fit(
                ref,
                inferred,
                validation=frame,
                segments=segments or None,
                progress=step,
                **options,
            )
            step("writing the baseline")
            output.mkdir(parents=True, exist_ok=True)
            written = fitted.save(output / BASELINE_FILE)
            fitted.schema.save(output / SCHEMA_FILE)
    except (WatchkeeperError, OSError) as exc:
        raise fail(str(exc)) from None
    typer.echo(_summary(fitted, written, output / SCHEMA_FILE))


def _summary(fitted: Baseline, baseline_path: Path, schema_path: Path) -> str:
    """One line: the files written and what the baseline holds."""
    parts = [f"{fitted.n_reference:,} rows", f"{len(fitted.column_names)} columns"]
    if fitted.labels is not None:
        parts.append(f"task {fitted.labels.task} (target {fitted.labels.target})")
    for column, children in fitted.segments.items():
        n = len(children)
        parts.append(f"segments by {column} ({n} value{'' if n == 1 else 's'})")
    if fitted.chunk_stats is not None:
        parts.append(f"{fitted.chunk_stats.n_chunks} reference chunks")
    return f"Wrote {baseline_path} and {schema_path}: {', '.join(parts)}."
