"""``watchkeeper demo``: the customer-churn example end to end, on the embedded default.

A baseline is fitted on a synthetic training set, then three production weeks are compared with
it: one drawn from the same distribution, one with covariate drift injected in named columns,
one where a new payment method appears. The demo prints what it injected and what watchkeeper
found, so a reader can see at a glance that the alarms are the right ones.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.table import Table

__all__ = ["run_demo"]

_DRIFTED = ("monthly_charges", "tenure_months", "contract")


def _p(p: float | None) -> str:
    if p is None:
        return ""
    return "< 1e-300" if p < 1e-300 else f"{p:.2g}"


def run_demo(*, rows: int, seed: int, console: Console | None = None) -> None:
    """Run the demo and print its story to ``console`` (stdout by default)."""
    from watchkeeper.baseline import Baseline
    from watchkeeper.datasets import churn

    out = console or Console()
    out.rule("[bold]watchkeeper demo: customer churn")
    started = time.perf_counter()
    reference = churn(rows, seed=seed)
    baseline = Baseline.fit(
        reference,
        target="churned",
        prediction="churn_pred",
        prediction_proba="churn_score",
    )
    out.print(
        f"Fitted a baseline on {rows:,} training rows and {len(baseline.profiles)} columns "
        f"in {time.perf_counter() - started:.2f} s."
    )
    weeks = [
        ("week 1: business as usual", churn(rows // 2, seed=seed + 1), set()),
        (
            "week 2: price rise and a contract campaign (injected covariate drift)",
            churn(rows // 2, seed=seed + 2, scenario="covariate_drift", drift_columns=_DRIFTED),
            set(_DRIFTED),
        ),
        (
            "week 3: a new payment method appears",
            churn(rows // 2, seed=seed + 3, scenario="unseen_category", rate=0.08),
            {"payment_method"},
        ),
    ]
    for title, window, injected in weeks:
        t0 = time.perf_counter()
        report = baseline.compare(window)
        took = time.perf_counter() - t0
        s = report.summary
        out.print()
        out.rule(title)
        colour = {"ok": "green", "warning": "yellow", "alert": "red"}.get(s.status, "white")
        out.print(
            f"{len(window):,} rows compared in {took:.2f} s: status [{colour}]{s.status}[/], "
            f"{s.counts.get('alert', 0)} alert(s), {s.counts.get('warning', 0)} warning(s)."
        )
        problems = [c for c in report.checks if c.status in ("alert", "warning")]
        if problems:
            table = Table(show_edge=False, header_style="bold")
            for col in ("status", "drift check", "column", "value", "threshold", "p-value"):
                table.add_column(col, no_wrap=True)
            for c in problems:
                table.add_row(
                    c.status,
                    c.check.removeprefix("drift."),
                    c.column or "(dataset)",
                    "" if c.value is None else f"{c.value:.3g}",
                    "" if c.threshold is None else f"{c.threshold:.3g}",
                    _p(c.p_value),
                )
            out.print(table)
        flagged_features = {
            str(c.column)
            for c in report.checks
            if c.status == "alert" and c.column and c.details.get("role") == "feature"
        }
        injected_text = ", ".join(sorted(injected)) or "nothing"
        found_text = ", ".join(sorted(flagged_features)) or "nothing"
        verdict = "[green]matches[/]" if flagged_features == injected else "[red]differs[/]"
        out.print(
            f"Injected: {injected_text}.  Feature columns flagged: {found_text}.  ({verdict})"
        )
    out.print()
    out.print(
        "Next: `watchkeeper compare reference.csv current.csv --format markdown` on your own data."
    )
