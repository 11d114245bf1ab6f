"""The model registry on the command line: ``register``, ``deploy``, ``rollback``, ``history``
and ``models list|show|versions``.

Writes print one sentence saying what changed; reads print rich tables, or with
``--format json`` the records' ``to_dict()``.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
from watchkeeper.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from rich.table import Table

    from watchkeeper.registry import Event, ModelVersion, RegisteredModel

__all__ = ["deploy", "history", "models_app", "register", "rollback"]

# The metrics the versions table shows, the first two a version has: classifiers, regressors.
KEY_METRICS = ("roc_auc", "accuracy", "mae", "rmse")
SHA_PREFIX = 12

AliasOpt = Annotated[str, typer.Option("--alias", help="The alias to move.")]
ReasonOpt = Annotated[
    str, typer.Option("--reason", help="Why, recorded in the history.", show_default=False)
]


def parse_tags(raw: list[str]) -> dict[str, str]:
    """``["team=risk", "ticket=CHURN-12"]`` as a dict; refuses a tag without ``=`` or given
    twice."""
    tags: dict[str, str] = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidParameterError(
                f"--tag must be KEY=VALUE (e.g. --tag team=risk). Got {item!r} instead."
            )
        if key in tags:
            raise InvalidParameterError(f"--tag {key} is given twice; give each tag once.")
        tags[key] = value
    return tags


@contextlib.contextmanager
def _spinner(first: str) -> Iterator[Callable[[str], None]]:
    """A rich status spinner on stderr (only on a terminal); yields what updates its text."""
    if not sys.stderr.isatty():
        yield lambda _description: None
        return
    from rich.console import Console

    with Console(stderr=True).status(first) as status:
        yield lambda description: status.update(description)


def _metric_text(metrics: dict[str, Any], names: tuple[str, ...] | None = None) -> str:
    values: dict[str, Any] = metrics.get("values") or {}
    chosen = [n for n in names if n in values][:2] if names else list(values)
    shown = [
        f"{n} {values[n]:.3f}" if isinstance(values[n], int | float) else f"{n} n/a" for n in chosen
    ]
    return ", ".join(shown)


# ---------------------------------------------------------------------- writes
def register(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="The registered model (created on first use).")
    ],
    model: Annotated[
        str,
        typer.Argument(
            metavar="MODEL",
            help="The fitted model: a .skops, .joblib or .pkl file, or (with the mlflow extra) "
            "an MLflow model folder or URI (runs:/..., models:/... of an MLflow registry).",
        ),
    ],
    reference: Annotated[
        Path | None,
        typer.Option(
            help="Training data (CSV or Parquet): the served schema and the monitoring baseline."
        ),
    ] = None,
    validation: Annotated[
        Path | None,
        typer.Option(help="Labelled held-out data (CSV or Parquet) to score the model on."),
    ] = None,
    target: Annotated[str | None, typer.Option(help="The target (label) column.")] = None,
    prediction: Annotated[
        str | None,
        typer.Option(help="A prediction column of the data (default: the model's own)."),
    ] = None,
    id_column: Annotated[
        str | None, typer.Option("--id", help="An id column (never a model input).")
    ] = None,
    feature: Annotated[
        list[str] | None,
        typer.Option(
            "--feature",
            metavar="COLUMN",
            help="A model input, when the model does not name its inputs (repeatable).",
        ),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option(
            "--tag", metavar="KEY=VALUE", help="A tag recorded on the version (repeatable)."
        ),
    ] = None,
    description: Annotated[
        str, typer.Option(help="What this version is.", show_default=False)
    ] = "",
    parent_version: Annotated[
        int | None,
        typer.Option("--parent-version", help="The version this one derives from (lineage)."),
    ] = None,
    model_tag: Annotated[
        list[str] | None,
        typer.Option(
            "--model-tag",
            metavar="KEY=VALUE",
            help="A tag recorded on the registered model itself (repeatable).",
        ),
    ] = None,
    model_description: Annotated[
        str | None,
        typer.Option(help="What the registered model is (kept until changed).", show_default=False),
    ] = None,
    trust_pickle: Annotated[
        bool,
        typer.Option(
            "--trust-pickle", help="Allow a .joblib/.pkl file: loading it can run any code."
        ),
    ] = False,
    trusted_type: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-type",
            help="A type a .skops file may build beyond the safe set (repeatable).",
        ),
    ] = None,
    no_store_data: Annotated[
        bool,
        typer.Option(
            "--no-store-data",
            help="Do not keep the reference and validation data (default: the project's "
            "artifacts.store_data).",
        ),
    ] = False,
    project: ProjectOpt = None,
) -> None:
    """Register MODEL as the next version of NAME, with its data, schema and baseline."""
    from watchkeeper.cli._io import read_table

    with one_line_errors():
        tags = parse_tags(list(tag or []))
        model_tags = parse_tags(list(model_tag or []))
        with open_project(project) as opened, _spinner("reading the data") as step:
            frames: dict[str, Any] = {}
            for which, path in (("reference", reference), ("validation", validation)):
                if path is not None:
                    step(f"reading the {which} file")
                    frames[which] = read_table(path)
            version = opened.register(
                name,
                model,
                reference=frames.get("reference"),
                validation=frames.get("validation"),
                target=target,
                prediction=prediction,
                id=id_column,
                features=feature or None,
                tags=tags,
                description=description,
                parent_version=parent_version,
                model_tags=model_tags,
                model_description=model_description,
                trust=trust_pickle,
                trusted_types=list(trusted_type or []),
                store_data=False if no_store_data else None,
                progress=step,
            )
    lines = [f"Registered {version.name} version {version.version} ({version.uri})"]
    metrics = version.metrics
    if metrics.get("values"):
        source = metrics.get("source", "validation")
        rows = f", {metrics['n']:,} rows" if isinstance(metrics.get("n"), int) else ""
        lines.append(f"  {source} metrics{rows}: {_metric_text(metrics)}")
    lines.append(f"Deploy it with: watchkeeper deploy {version.name} {version.version}")
    typer.echo("\n".join(lines))


def deploy(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The registered model.")],
    version: Annotated[
        int, typer.Argument(metavar="VERSION", help="The version to point the alias at.")
    ],
    alias: AliasOpt = "production",
    reason: ReasonOpt = "",
    project: ProjectOpt = None,
) -> None:
    """Point ALIAS (production by default) at VERSION of NAME; recorded in the history."""
    with one_line_errors(), open_project(project) as opened:
        before = opened.history(name, limit=1)
        last_id = before[-1].id if before else 0
        event = opened.deploy(name, version, alias, reason=reason)
        # deploy returns the event that put the alias there: this call's, or (if the alias
        # already pointed at the version, perhaps moved there a moment ago by someone else)
        # an earlier one.
        ours = event.id > last_id and (event.actor, event.reason, event.trigger) == (
            opened.actor,
            reason,
            "manual",
        )
    if not ours:
        when = event.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        typer.echo(
            f"{name}: {alias} already points at version {version} (moved there by "
            f"{event.actor} at {when}); nothing changed"
        )
    elif event.from_version is None:
        typer.echo(f"{name}: {alias} -> version {event.to_version} (first deploy)")
    else:
        typer.echo(f"{name}: {alias} -> version {event.to_version} (was {event.from_version})")


def rollback(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The registered model.")],
    alias: AliasOpt = "production",
    to: Annotated[
        int | None,
        typer.Option(
            "--to",
            help="Roll back to this version (one that held the alias before); default: the "
            "one just before.",
            show_default=False,
        ),
    ] = None,
    reason: ReasonOpt = "",
    project: ProjectOpt = None,
) -> None:
    """Return ALIAS to the version that held it before (the one left becomes rejected)."""
    with one_line_errors(), open_project(project) as opened:
        event = opened.rollback(name, alias, to=to, reason=reason)
        left = event.from_version
        status = None if left is None else opened.get(name, left).status
    typer.echo(
        f"{name}: {alias} rolled back from version {left} to version {event.to_version}; "
        f"version {left} is now {status}"
    )


# ---------------------------------------------------------------------- reads
def _aliases_text(aliases: dict[str, int]) -> str:
    return ", ".join(f"{a}={v}" for a, v in sorted(aliases.items())) or "-"


def _versions_table(versions: list[ModelVersion]) -> Table:
    table = new_table(
        "version",
        "status",
        "aliases",
        "flavour",
        "created (UTC)",
        "created by",
        "metrics",
        "sha256",
        wrap=("created by",),
    )
    for v in versions:
        table.add_row(
            str(v.version),
            v.status,
            ", ".join(v.aliases) or "-",
            v.flavour,
            when(v.created_at),
            v.created_by,
            _metric_text(v.metrics, KEY_METRICS) or "-",
            v.artifact_sha256[:SHA_PREFIX],
        )
    return table


models_app = typer.Typer(
    name="models",
    help="The registered models, their aliases and versions.",
    no_args_is_help=True,
)


@models_app.command("list")
def models_list(project: ProjectOpt = None, output_format: FormatOpt = ReadFormat.table) -> None:
    """List the registered models with their latest version and aliases."""
    with one_line_errors(), open_project(project) as opened:
        found = opened.models()
    if output_format is ReadFormat.json:
        echo_json([m.to_dict() for m in found])
        return
    if not found:
        typer.echo("No registered models yet; add one with `watchkeeper register NAME MODEL`.")
        return
    table = new_table(
        "name",
        "latest",
        "aliases",
        "created (UTC)",
        "created by",
        "description",
        wrap=("aliases", "description"),
    )
    for m in found:
        latest = "-" if m.latest_version is None else str(m.latest_version)
        table.add_row(
            m.name,
            latest,
            _aliases_text(m.aliases),
            when(m.created_at),
            m.created_by,
            m.description,
        )
    print_table(table)


@models_app.command("show")
def models_show(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The registered model.")],
    project: ProjectOpt = None,
    output_format: FormatOpt = ReadFormat.table,
) -> None:
    """Show a model: its aliases, tags, latest version and every version."""
    with one_line_errors(), open_project(project) as opened:
        found: RegisteredModel = opened.model(name)
        versions = opened.versions(name)
    if output_format is ReadFormat.json:
        echo_json({**found.to_dict(), "versions": [v.to_dict() for v in versions]})
        return
    tags = ", ".join(f"{k}={v}" for k, v in sorted(found.tags.items())) or "-"
    aliases = ", ".join(f"{a} -> version {v}" for a, v in sorted(found.aliases.items()))
    latest = "-" if found.latest_version is None else f"version {found.latest_version}"
    lines = [found.name]
    if found.description:
        lines.append(f"  description  {found.description}")
    lines += [
        f"  created      {when(found.created_at)} UTC by {found.created_by}",
        f"  aliases      {aliases or '-'}",
        f"  tags         {tags}",
        f"  latest       {latest}",
    ]
    typer.echo("\n".join(lines))
    print_table(_versions_table(versions))


@models_app.command("versions")
def models_versions(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The registered model.")],
    project: ProjectOpt = None,
    output_format: FormatOpt = ReadFormat.table,
) -> None:
    """List a model's versions: status, aliases, format, who made them, key metrics."""
    with one_line_errors(), open_project(project) as opened:
        versions = opened.versions(name)
    if output_format is ReadFormat.json:
        echo_json([v.to_dict() for v in versions])
        return
    print_table(_versions_table(versions))


def _moved(event: Event) -> str:
    if event.kind == "alias_move":
        start = "-" if event.from_version is None else str(event.from_version)
        return f"{start} → {event.to_version}"
    if event.kind == "status_change":
        return f"{event.details.get('from', '?')} → {event.details.get('to', '?')}"
    return ""


def history(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The registered model.")],
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="Only the newest N events.", show_default=False),
    ] = None,
    project: ProjectOpt = None,
    output_format: FormatOpt = ReadFormat.table,
) -> None:
    """Show a model's audit history, oldest first: registrations, deploys, rollbacks."""
    with one_line_errors(), open_project(project) as opened:
        events = opened.history(name, limit=limit)
    if output_format is ReadFormat.json:
        echo_json([e.to_dict() for e in events])
        return
    table = new_table(
        "id",
        "when (UTC)",
        "kind",
        "version",
        "alias",
        "from → to",
        "trigger",
        "actor",
        "reason",
        wrap=("actor", "reason"),
    )
    for e in events:
        table.add_row(
            str(e.id),
            when(e.created_at),
            e.kind,
            "" if e.version is None else str(e.version),
            e.alias or "",
            _moved(e),
            e.trigger or "",
            e.actor,
            e.reason,
        )
    print_table(table)
