"""The prediction log on the command line: ``log ingest|export|compact|prune|show`` and
``labels ingest``.

Batch-scored predictions and late labels feed the same log the server writes, without a
server; ``log export`` writes a window of it (with its labels) as Parquet or CSV. Times given
on the command line are ISO 8601 dates or times; a time without an offset is UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, overload

import typer

from watchkeeper.cli._project_cmds import (
    FormatOpt,
    ProjectOpt,
    ReadFormat,
    echo_json,
    new_table,
    one_line_errors,
    open_project,
    print_table,
    when,
)
from watchkeeper.errors import DataFileError, InvalidParameterError

if TYPE_CHECKING:
    import pandas as pd

    from watchkeeper.registry import ModelVersion, Project

__all__ = ["labels_app", "log_app", "parse_time"]

# How many unmatched label ids `labels ingest` names.
SHOWN_UNKNOWN = 5

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The registered model.")]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        metavar="T", help="From event time T (ISO 8601; naive = UTC).", show_default=False
    ),
]
UntilOpt = Annotated[
    str | None,
    typer.Option(
        metavar="T", help="Before event time T (ISO 8601; naive = UTC).", show_default=False
    ),
]


@overload
def parse_time(value: str, option: str) -> datetime: ...
@overload
def parse_time(value: None, option: str) -> None: ...
@overload
def parse_time(value: str | None, option: str) -> datetime | None: ...
def parse_time(value: str | None, option: str) -> datetime | None:
    """``value`` of ``option`` as an aware UTC datetime (a naive date or time is UTC)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidParameterError(
            f"{option} must be an ISO 8601 date or time (2024-01-31, 2024-01-31T12:00, "
            f"2024-01-31T12:00:00+02:00; naive = UTC). Got {value!r} instead."
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _read_frame(path: Path) -> pd.DataFrame:
    from watchkeeper.cli._io import read_table

    frame: pd.DataFrame = read_table(path).to_pandas()
    return frame


def _outputs(record: ModelVersion) -> list[str]:
    info = record.data_info.get("outputs") or {}
    names = [info.get("prediction"), *(info.get("proba") or [])]
    return [n for n in names if n]


# ---------------------------------------------------------------------- log
log_app = typer.Typer(
    name="log",
    help="The prediction log: ingest batch-scored predictions, export, compact, summarize.",
    no_args_is_help=True,
)


@log_app.command("ingest")
def log_ingest(
    name: NameArg,
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="Scored rows (CSV or Parquet): the model's inputs, and its outputs if already "
            "computed (else the model computes them).",
        ),
    ],
    version: Annotated[
        int | None,
        typer.Option("--version", help="Log under this version.", show_default=False),
    ] = None,
    alias: Annotated[
        str | None,
        typer.Option(
            "--alias",
            help="Log under the version this alias points at (default: production).",
            show_default=False,
        ),
    ] = None,
    event_time_col: Annotated[
        str | None,
        typer.Option(
            "--event-time-col",
            metavar="COL",
            help="The column holding each row's event time (default: now).",
            show_default=False,
        ),
    ] = None,
    request_id: Annotated[
        str | None,
        typer.Option(
            "--request-id",
            metavar="ID",
            help="Log the rows as this request (rows 0..n-1); default: a new id.",
            show_default=False,
        ),
    ] = None,
    project: ProjectOpt = None,
) -> None:
    """Log the rows of FILE as predictions of NAME (the production version by default)."""
    with one_line_errors():
        if version is not None and alias is not None:
            raise InvalidParameterError("Give --version or --alias, not both.")
        data = _read_frame(file)
        with open_project(project) as opened:
            record = (
                opened.get(name, version)
                if version is not None
                else opened.get(name, alias=alias or "production")
            )
            n = opened.log_predictions(
                name,
                data,
                version=record.version,
                event_time_col=event_time_col,
                request_id=request_id,
            )
    typer.echo(f"Logged {n:,} predictions of {name} version {record.version}")


@log_app.command("export")
def log_export(
    name: NameArg,
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Where to write: Parquet, or CSV if FILE ends in .csv.",
            show_default=False,
        ),
    ],
    since: SinceOpt = None,
    until: UntilOpt = None,
    with_labels: Annotated[
        bool,
        typer.Option("--with-labels", help="Add label and label_arrived_at (null if none yet)."),
    ] = False,
    version: Annotated[
        list[int] | None,
        typer.Option(
            "--version", help="Only this version's predictions (repeatable).", show_default=False
        ),
    ] = None,
    shadow: Annotated[
        bool, typer.Option("--shadow", help="Include shadow predictions (role shadow).")
    ] = False,
    project: ProjectOpt = None,
) -> None:
    """Write a window of NAME's logged predictions to a file: request_id, row, key, version,
    role, event and logging times, the inputs, the outputs (and the labels)."""
    with one_line_errors():
        start, stop = parse_time(since, "--since"), parse_time(until, "--until")
        with open_project(project) as opened:
            frame = opened.read_log(
                name,
                since=start,
                until=stop,
                versions=version or None,
                roles=("served", "shadow") if shadow else ("served",),
                with_labels=with_labels,
            )
            if frame.empty:
                frame = _empty_frame(opened, name, frame, version)
        _write(frame, output)
    if frame.empty:
        typer.echo(f"No predictions of {name} in the window; wrote an empty {output}")
    else:
        typer.echo(f"Wrote {len(frame):,} predictions of {name} to {output}")


def _empty_frame(
    opened: Project, name: str, frame: pd.DataFrame, versions: list[int] | None
) -> pd.DataFrame:
    """An empty window with every column a non-empty one would have, typed."""
    import pandas as pd

    records = [v for v in opened.versions(name) if not versions or v.version in versions]
    columns: dict[str, Any] = {
        "version": "int32",
        "role": "str",
        "logged_at": "datetime64[us, UTC]",
        "request_id": "str",
        "row": "int32",
        "key": "str",
        "event_time": "datetime64[us, UTC]",
    }
    for record in records:
        columns.update({c.name: c.dtype for c in record.input_schema.columns})
    for record in records:
        info = record.data_info.get("outputs") or {}
        if info.get("prediction"):
            columns[info["prediction"]] = "object"  # the model's classes: of any type
        columns.update(dict.fromkeys(info.get("proba") or [], "float64"))
    if "label" in frame.columns:
        columns.update({"label": "object", "label_arrived_at": "datetime64[us, UTC]"})
    return pd.DataFrame({c: pd.Series([], dtype=_dtype(d)) for c, d in columns.items()})


def _dtype(name: str) -> Any:
    """The pandas dtype a registry records as ``name``; object for one pandas cannot build
    (the column is empty either way)."""
    import pandas as pd

    try:
        return pd.api.types.pandas_dtype(name)
    except TypeError:
        return object


def _write(frame: pd.DataFrame, path: Path) -> None:
    import pyarrow as pa

    try:
        if path.name.lower().endswith(".csv"):
            frame.to_csv(path, index=False)
            return
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    except pa.ArrowException as exc:
        text = str(exc).strip()
        raise DataFileError(
            f"Cannot write {str(path)!r}: {text.splitlines()[0] if text else type(exc).__name__}"
        ) from exc


@log_app.command("compact")
def log_compact(
    name: NameArg,
    target_rows: Annotated[
        int, typer.Option("--target-rows", metavar="N", help="Merge into batches of up to N rows.")
    ] = 100_000,
    project: ProjectOpt = None,
) -> None:
    """Merge NAME's runs of small logged batches into large ones (reads get faster)."""
    with one_line_errors(), open_project(project) as opened:
        before, after = opened.log.compact(name, target_rows=target_rows)
    typer.echo(f"Compacted the prediction log of {name}: {before:,} batches -> {after:,}")


@log_app.command("prune")
def log_prune(
    name: NameArg,
    before: Annotated[
        str,
        typer.Option(
            "--before",
            metavar="T",
            help="Delete the predictions with event time before T (ISO 8601; naive = UTC).",
            show_default=False,
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be deleted; delete nothing.")
    ] = False,
    project: ProjectOpt = None,
    output_format: FormatOpt = ReadFormat.table,
) -> None:
    """Delete NAME's logged predictions (served and shadow) with event time before T, with
    their labels: retention for the prediction log."""
    with one_line_errors():
        cutoff = parse_time(before, "--before")
        with open_project(project) as opened:
            result = opened.prune_log(name, cutoff, dry_run=dry_run)
    if output_format is ReadFormat.json:
        echo_json(
            {"model": name, "before": cutoff.isoformat(), "dry_run": dry_run, **result.to_dict()}
        )
        return
    what = (
        f"{result.rows:,} predictions and {result.labels:,} labels "
        f"(batches: {result.batches_deleted:,} deleted, {result.batches_rewritten:,} rewritten)"
    )
    log = f"the prediction log of {name} before {when(cutoff)} UTC"
    if dry_run:
        typer.echo(f"Dry run, nothing was changed: pruning {log} would delete {what}")
    else:
        typer.echo(f"Pruned {log}: deleted {what}")


@log_app.command("show")
def log_show(
    name: NameArg,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: Annotated[
        int, typer.Option("--limit", min=0, help="Also list the N latest predictions.")
    ] = 20,
    project: ProjectOpt = None,
    output_format: FormatOpt = ReadFormat.table,
) -> None:
    """Summarize NAME's served predictions: rows per version, event times, label coverage,
    and the latest ones."""
    with one_line_errors():
        start, stop = parse_time(since, "--since"), parse_time(until, "--until")
        with open_project(project) as opened:
            frame = opened.read_log(name, since=start, until=stop, with_labels=True)
            outputs = list(dict.fromkeys(o for v in opened.versions(name) for o in _outputs(v)))
    summary = _summary(name, frame)
    latest = frame.sort_values("event_time", kind="stable").tail(limit) if limit else frame[:0]
    shown = ["event_time", "version", "request_id", "row", "key", *outputs, "label"]
    shown = [c for c in shown if c in latest.columns]
    if output_format is ReadFormat.json:
        rows = latest[shown].astype(object).where(latest[shown].notna(), None)
        recent = [
            {c: v.isoformat() if isinstance(v, datetime) else v for c, v in row.items()}
            for row in rows.to_dict("records")
        ]
        echo_json({**summary, "latest": recent})
        return
    if not summary["rows"]:
        typer.echo(f"{name}: no served predictions logged in the window.")
        return
    share = summary["labelled"] / summary["rows"]
    per_version = ", ".join(f"{v}: {n:,} rows" for v, n in summary["versions"].items())
    typer.echo(
        "\n".join(
            [
                f"{name}: {summary['rows']:,} served predictions",
                f"  versions     {per_version}",
                f"  event time   {when(frame['event_time'].min())} .. "
                f"{when(frame['event_time'].max())} UTC",
                f"  labelled     {summary['labelled']:,} of {summary['rows']:,} ({share:.1%})",
            ]
        )
    )
    if shown and not latest.empty:
        table = new_table(*[c if c != "event_time" else "when (UTC)" for c in shown])
        for row in latest[shown].itertuples(index=False):
            table.add_row(*[_cell(v) for v in row])
        print_table(table)


def _summary(name: str, frame: pd.DataFrame) -> dict[str, Any]:
    n = len(frame)
    counts = frame["version"].value_counts().sort_index() if n else None
    versions = {} if counts is None else dict(zip(counts.index, counts.tolist(), strict=True))
    return {
        "model": name,
        "rows": n,
        "versions": {str(v): int(c) for v, c in versions.items()},
        "first_event": frame["event_time"].min().isoformat() if n else None,
        "last_event": frame["event_time"].max().isoformat() if n else None,
        "labelled": int(frame["label"].notna().sum()) if n else 0,
        "label_coverage": float(frame["label"].notna().mean()) if n else None,
    }


def _cell(value: Any) -> str:
    import pandas as pd

    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return "-"
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


# ---------------------------------------------------------------------- labels
labels_app = typer.Typer(
    name="labels",
    help="Ground truth for logged predictions.",
    no_args_is_help=True,
)


@labels_app.command("ingest")
def labels_ingest(
    name: NameArg,
    file: Annotated[
        Path,
        typer.Argument(metavar="FILE", help="Labels (CSV or Parquet): an id and a label column."),
    ],
    id_col: Annotated[
        str,
        typer.Option(
            "--id-col",
            metavar="COL",
            help="The id column: a request id, or a value of the model's id column.",
        ),
    ] = "id",
    label_col: Annotated[
        str, typer.Option("--label-col", metavar="COL", help="The label column.")
    ] = "label",
    row_col: Annotated[
        str | None,
        typer.Option(
            "--row-col",
            metavar="COL",
            help="The row within the request (default: every row of the request or key).",
            show_default=False,
        ),
    ] = None,
    project: ProjectOpt = None,
) -> None:
    """Attach the labels in FILE to NAME's logged predictions. A label that contradicts a
    recorded one stores nothing (exit 2)."""
    with one_line_errors():
        data = _read_frame(file)
        with open_project(project) as opened:
            result = opened.log_labels(
                name, data, id_col=id_col, label_col=label_col, row_col=row_col
            )
    unknown = result.unknown
    lines = [
        f"Labels for {name}: {result.stored:,} stored, {result.unchanged:,} unchanged, "
        f"{len(unknown):,} unknown"
    ]
    if unknown:
        more = " ..." if len(unknown) > SHOWN_UNKNOWN else ""
        ids = ", ".join(str(i) for i in unknown[:SHOWN_UNKNOWN])
        lines.append(f"  ids matching no logged prediction: {ids}{more}")
    typer.echo("\n".join(lines))
