"""``watchkeeper demo``: the customer-churn example end to end, on the embedded default.

A baseline is fitted on a synthetic training set, then five production weeks are compared with
it: one drawn from the same distribution, one with covariate drift injected in named columns,
one where a new payment method appears, one with a data-quality incident (missing values, a
sentinel, sign and unit errors) and one with concept drift (the features stay, the labels
move). For each week the demo prints what it injected and what watchkeeper found, and says
whether the two match, so a reader can see at a glance that the alarms are the right ones.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

    from watchkeeper.monitor.report import Report

__all__ = ["run_demo"]

_DRIFTED = ("monthly_charges", "tenure_months", "contract")
# The quality incident: every defect hits this share of rows. Each missing-value defect must
# clear the missing-rate margin (5 points above the reference's own rate) by more than the
# sampling noise of a demo week; at the scenario's default 5 % it sits exactly on it.
_INCIDENT_RATE = 0.10
# What each injected defect should trip: (column, quality check).
_INCIDENT = {
    ("monthly_charges", "quality.missing_rate"): "missing monthly_charges",
    ("contract", "quality.missing_rate"): "missing contract",
    ("age", "quality.out_of_range"): "age = -1",
    ("total_charges", "quality.out_of_range"): "negative total_charges",
    ("support_wait_minutes", "quality.out_of_range"): "support_wait_minutes in seconds",
}
_STYLES = {"ok": "green", "warning": "yellow", "alert": "red"}


@dataclass(frozen=True, slots=True)
class _Week:
    """A production week: its title, its data and how to judge what watchkeeper found."""

    title: str
    window: pd.DataFrame
    verdict: Callable[[Report, frozenset[str]], tuple[str, bool]]


def _p(p: float | None) -> str:
    if p is None:
        return ""
    return "< 1e-300" if p < 1e-300 else f"{p:.2g}"


def _names(values: set[str] | list[str]) -> str:
    return ", ".join(sorted(values)) or "nothing"


def _flagged(report: Report, features: frozenset[str]) -> set[str]:
    """Feature columns with an alert of any family."""
    return {str(c.column) for c in report.alerts if c.column in features}


def _features_verdict(injected: set[str]) -> Callable[[Report, frozenset[str]], tuple[str, bool]]:
    def verdict(report: Report, features: frozenset[str]) -> tuple[str, bool]:
        found = _flagged(report, features)
        text = f"Injected: {_names(injected)}.  Feature columns flagged: {_names(found)}."
        return text, found == injected

    return verdict


def _quality_verdict(report: Report, features: frozenset[str]) -> tuple[str, bool]:
    alerting = {(str(c.column), c.check) for c in report.alerts if c.family == "quality"}
    by_column: dict[str, list[str]] = {}
    for column, check in sorted(alerting):
        by_column.setdefault(column, []).append(check.removeprefix("quality."))
    found = "; ".join(f"{col} ({', '.join(checks)})" for col, checks in by_column.items())
    injected_columns = {column for column, _ in _INCIDENT}
    # Every defect trips the check made for it, and no quality check alerts elsewhere.
    matches = set(_INCIDENT) <= alerting and set(by_column) <= injected_columns
    text = (
        f"Injected ({_INCIDENT_RATE:.0%} of rows each): {', '.join(_INCIDENT.values())}.  "
        f"Quality checks alerting: {found or 'none'}."
    )
    return text, matches


def _concept_verdict(report: Report, features: frozenset[str]) -> tuple[str, bool]:
    found = _flagged(report, features)
    metrics = [
        c.check.removeprefix("performance.") for c in report.alerts if c.family == "performance"
    ]
    text = (
        "Injected: a new churn pattern (labels moved, features and scores unchanged).  "
        f"Feature columns flagged: {_names(found)}.  "
        f"Performance alerts: {', '.join(metrics) or 'none'}."
    )
    return text, not found and "roc_auc" in metrics


def _weeks(rows: int, seed: int) -> list[_Week]:
    from watchkeeper.datasets import churn

    n = rows // 2
    return [
        _Week("week 1: business as usual", churn(n, seed=seed + 1), _features_verdict(set())),
        _Week(
            "week 2: price rise and a contract campaign (injected covariate drift)",
            churn(n, seed=seed + 2, scenario="covariate_drift", drift_columns=_DRIFTED),
            _features_verdict(set(_DRIFTED)),
        ),
        _Week(
            "week 3: a new payment method appears",
            churn(n, seed=seed + 3, scenario="unseen_category", rate=0.08),
            _features_verdict({"payment_method"}),
        ),
        _Week(
            "week 4: a broken data pipeline (injected data-quality incident)",
            churn(n, seed=seed + 4, scenario="quality_incident", rate=_INCIDENT_RATE),
            _quality_verdict,
        ),
        _Week(
            "week 5: a competitor's offer changes who churns (injected concept drift)",
            churn(n, seed=seed + 5, scenario="concept_drift"),
            _concept_verdict,
        ),
    ]


def _problems_table(report: Report) -> Table:
    table = Table(show_edge=False, header_style="bold")
    for col in ("status", "family", "check", "column", "value", "threshold", "p-value"):
        table.add_column(col, no_wrap=True)
    for c in report.checks:
        if c.status not in ("alert", "warning"):
            continue
        table.add_row(
            f"[{_STYLES[c.status]}]{c.status}[/]",
            c.family,
            c.check.removeprefix(f"{c.family}."),
            c.column or "(dataset)",
            "" if c.value is None else f"{c.value:.3g}",
            "" if c.threshold is None else f"{c.threshold:.3g}",
            _p(c.p_value),
        )
    return table


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
    features = frozenset(c.name for c in baseline.schema.features)
    for week in _weeks(rows, seed):
        t0 = time.perf_counter()
        report = baseline.compare(week.window)
        took = time.perf_counter() - t0
        s = report.summary
        out.print()
        out.rule(week.title)
        out.print(
            f"{len(week.window):,} rows compared in {took:.2f} s: status "
            f"[{_STYLES.get(s.status, 'white')}]{s.status}[/], "
            f"{s.counts.get('alert', 0)} alert(s), {s.counts.get('warning', 0)} warning(s)."
        )
        if s.counts.get("alert", 0) or s.counts.get("warning", 0):
            out.print(_problems_table(report))
        text, matches = week.verdict(report, features)
        out.print(f"{text}  ({'[green]matches[/]' if matches else '[red]differs[/]'})")
    out.print()
    out.print(
        "Next, on your own data: `watchkeeper compare reference.csv current.csv --format "
        "markdown`, or `watchkeeper baseline fit reference.csv -o baseline/` once and then "
        "`watchkeeper compare --baseline baseline/ current.csv --chunk D`."
    )
