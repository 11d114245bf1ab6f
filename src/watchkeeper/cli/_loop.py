"""The loop on the command line: ``monitor run``, ``monitor history``, ``policy evaluate`` and
``retrain``.

``monitor run`` is the same run the server's scheduler makes, for external schedulers (cron,
Airflow); with ``--act`` it is the whole cycle (alerts, guard, policy and its action).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from watchkeeper.cli._log import NameArg, SinceOpt, UntilOpt, parse_time
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

if TYPE_CHECKING:
    from watchkeeper.ops._history import StoredRun

__all__ = ["monitor_app", "policy_app", "retrain"]

monitor_app = typer.Typer(
    name="monitor",
    help="Monitor runs over the prediction log: run one now, list the stored ones.",
    no_args_is_help=True,
)
policy_app = typer.Typer(
    name="policy",
    help="The update policy: what it would decide now, and why.",
    no_args_is_help=True,
)

AliasOpt = Annotated[
    str | None,
    typer.Option(help="The alias whose version is monitored (default: monitor.alias)."),
]


@monitor_app.command("run")
def monitor_run(
    name: NameArg,
    alias: AliasOpt = None,
    window: Annotated[
        str | None,
        typer.Option(
            metavar="D", help="The window ending now, e.g. 1d, 6h (default: monitor.window)."
        ),
    ] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    last: Annotated[
        int | None, typer.Option(metavar="N", min=1, help="The last N logged predictions.")
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option(
            metavar="baseline|previous", help="Compare with the baseline or the previous window."
        ),
    ] = None,
    act: Annotated[
        bool,
        typer.Option("--act", help="Run the whole cycle: alerts, guard, policy and its action."),
    ] = False,
    project: ProjectOpt = None,
    output_format: FormatOpt = ReadFormat.table,
) -> None:
    """Run NAME's monitor once over a window of the prediction log and store the result."""
    from watchkeeper._duration import parse_duration
    from watchkeeper.ops import run_monitor
    from watchkeeper.ops._loop import run_cycle

    with one_line_errors(), open_project(project) as opened:
        if act:
            if any(x is not None for x in (alias, window, since, until, last, reference)):
                raise typer.BadParameter(
                    "--act runs the configured cycle; drop the window options."
                )
            cycle = run_cycle(opened, name, source="cli")
            if output_format is ReadFormat.json:
                echo_json(cycle.to_dict())
                return
            if cycle.run is not None:
                _print_run(cycle.run.stored)
            for alert in cycle.alerts:
                typer.echo(f"alert: {alert.message}")
            if cycle.decision is not None:
                typer.echo(f"policy: {cycle.decision.action} ({'; '.join(cycle.decision.reasons)})")
            for error in cycle.errors:
                typer.echo(f"error: {error}", err=True)
            return
        run = run_monitor(
            opened,
            name,
            alias=alias,
            window=None if window is None else parse_duration(window, "--window"),
            since=parse_time(since, "--since"),
            until=parse_time(until, "--until"),
            last=last,
            reference=reference,
            source="cli",
        )
    if output_format is ReadFormat.json:
        echo_json(run.to_dict())
        return
    _print_run(run.stored)


def _print_run(run: StoredRun) -> None:
    coverage = "n/a" if run.label_coverage is None else f"{run.label_coverage:.0%}"
    window = (
        f"{when(run.window_start)} .. {when(run.window_end)}"
        if run.window_start is not None and run.window_end is not None
        else "?"
    )
    typer.echo(
        f"{run.model} version {run.version}: {run.status} - {run.n_rows:,} rows in {window} UTC, "
        f"{run.n_labeled:,} labelled (coverage {coverage}); run {run.id} stored"
    )
    table = new_table("check", "column", "status", "value", "threshold", "reason")
    shown = [c for c in run.checks if c.status in ("alert", "warning")]
    for c in shown:
        table.add_row(
            c.check,
            c.column or "",
            c.status,
            "" if c.value is None else f"{c.value:.4g}",
            "" if c.threshold is None else f"{c.threshold:.4g}",
            c.reason[:80],
        )
    if shown:
        print_table(table)
    for det, outcome in run.detectors.items():
        if det.startswith("_"):
            continue
        typer.echo(
            f"detector {det}: {'DRIFT' if outcome.get('drift') else 'no drift'} "
            f"over {outcome.get('n', 0):,} newly labelled predictions"
        )


@monitor_app.command("history")
def monitor_history(
    name: NameArg,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: Annotated[int, typer.Option(min=1, help="At most N runs (the latest).")] = 30,
    project: ProjectOpt = None,
    output_format: FormatOpt = ReadFormat.table,
) -> None:
    """List NAME's stored monitor runs, oldest first."""
    from watchkeeper.ops._history import load_runs

    with one_line_errors(), open_project(project) as opened:
        runs = load_runs(
            opened.database,
            name,
            since=parse_time(since, "--since"),
            until=parse_time(until, "--until"),
            last=limit,
            with_checks=output_format is ReadFormat.json,
        )
    if output_format is ReadFormat.json:
        echo_json([r.to_dict() for r in runs])
        return
    table = new_table("run", "ran at (UTC)", "version", "status", "rows", "labelled", "alerts")
    for r in runs:
        table.add_row(
            str(r.id),
            when(r.ran_at),
            str(r.version),
            r.status,
            f"{r.n_rows:,}",
            f"{r.n_labeled:,}",
            str(len(r.summary.get("alerts", []))),
        )
    print_table(table)


@policy_app.command("evaluate")
def policy_evaluate(
    name: NameArg,
    project: ProjectOpt = None,
    output_format: FormatOpt = ReadFormat.table,
) -> None:
    """Print what the policy would decide for NAME now, and why, without acting or recording."""
    from watchkeeper.ops._loop import evaluate_policy

    with one_line_errors(), open_project(project) as opened:
        decision = evaluate_policy(opened, name)
    if output_format is ReadFormat.json:
        echo_json(decision.to_dict())
        return
    typer.echo(f"decision: {decision.action}")
    if decision.suppressed:
        typer.echo(f"  (asked for {decision.requested}; {decision.suppressed})")
    for reason in decision.reasons:
        typer.echo(f"  - {reason}")
    table = new_table("trigger", "action", "breached", "fired", "streak")
    for t in decision.triggers:
        table.add_row(t.trigger, t.action, str(t.breached), str(t.fired), str(t.streak))
    print_table(table)


def retrain(
    name: NameArg,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Train and gate, but register and deploy nothing."),
    ] = False,
    reason: Annotated[str, typer.Option(help="Why (recorded in the history).")] = "by hand",
    project: ProjectOpt = None,
    output_format: FormatOpt = ReadFormat.table,
) -> None:
    """Retrain NAME now with the configured trainer, gate it against production, deploy it
    if it passes."""
    from watchkeeper.ops._retrain import retrain as run_retrain

    with one_line_errors(), open_project(project) as opened:
        result = run_retrain(opened, name, reason=reason, dry_run=dry_run, trigger="manual")
    if output_format is ReadFormat.json:
        echo_json(result.to_dict())
        return
    rows: dict[str, Any] = result.data["rows"]
    typer.echo(
        f"trained on {rows['train']:,} rows ({rows['production']:,} from production, "
        f"{rows['reference']:,} reference, {rows['excluded_by_quality']:,} left out by data "
        f"quality); holdout {rows['holdout']:,} rows"
    )
    if result.gate is not None:
        typer.echo(("accepted" if result.gate.passed else "rejected") + " by the gate:")
        for reason_line in result.gate.reasons:
            typer.echo(f"  - {reason_line}")
    if result.dry_run:
        typer.echo("dry run: nothing registered or deployed")
    elif result.challenger is not None:
        typer.echo(f"registered version {result.challenger}")
        if result.deployed:
            typer.echo(f"deployed: {result.deployed}")
