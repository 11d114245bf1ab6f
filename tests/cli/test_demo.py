"""The churn demo end to end: six simulated weeks through the real HTTP API, the whole loop.

Runs once per database (SQLite through the CLI, PostgreSQL through ``run_demo``) and checks
the timeline: each incident noticed within its stated number of days (concept drift cannot
show before its labels arrive), no alert on the quiet days, a retrain after the concept drift,
the gate rejecting one challenger and accepting another, the guard rolling the accepted one
back when the concept reverts, and every step in the history with its reasons.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import PG_ENV, fresh_postgres_database
from typer.testing import CliRunner

from watchkeeper.cli._app import app
from watchkeeper.cli._demo import quiet_days, run_demo
from watchkeeper.cli._demo_scenario import INCIDENTS, LABEL_DELAY_DAYS

_INCIDENT = {i.key: i for i in INCIDENTS}


class Demo:
    def __init__(self, folder: Path, output: str, database_url: str | None) -> None:
        self.folder = folder
        self.output = output
        self.database_url = database_url
        self.results: dict[str, Any] = json.loads(
            (folder / "demo-results.json").read_text(encoding="utf-8")
        )

    def entries(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.results["timeline"] if e["kind"] == kind]

    def history(self) -> list[Any]:
        import watchkeeper

        with watchkeeper.Project(self.folder) as project:
            return project.history("churn")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp(f"demo-{request.param}") / "project"
    if request.param == "sqlite":
        result = CliRunner().invoke(app, ["demo", "--keep", str(folder)])
        assert result.exit_code == 0, result.output
        yield Demo(folder, result.output, None)
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://user@host/db)")
    with fresh_postgres_database(base) as url:
        lines: list[str] = []
        run_demo(keep=folder, say=lines.append, database_url=url)
        yield Demo(folder, "\n".join(lines), url)


def test_each_incident_is_detected_within_its_stated_delay(demo: Demo) -> None:
    for incident in demo.results["incidents"]:
        found = incident["detected_day"]
        assert found is not None, f"{incident['key']} was never detected"
        assert incident["start"] <= found <= incident["start"] + incident["detect_within_days"]
    # Concept drift changes no input: nothing can show it before its first labels arrive.
    concept = next(i for i in demo.results["incidents"] if i["key"] == "concept_drift")
    assert concept["detected_day"] >= concept["start"] + LABEL_DELAY_DAYS


def test_no_alert_on_the_quiet_days(demo: Demo) -> None:
    noisy = [
        e
        for e in demo.results["timeline"]
        if e["day"] in quiet_days() and e["kind"] not in ("incident", "recovered", "deploy")
    ]
    assert noisy == []  # no alert, no decision other than "none", no error
    assert demo.results["alert_days"], "the incidents raised no alert at all"


def test_covariate_drift_and_quality_incident_are_alerted_and_only_notified(demo: Demo) -> None:
    covariate, quality = _INCIDENT["covariate_drift"], _INCIDENT["data_quality"]
    days = {e["day"] for e in demo.entries("alert")}
    assert covariate.start in days
    assert quality.start in days
    texts = " ".join(e["text"] for e in demo.entries("alert") if e["day"] == quality.start)
    assert "avg_session_minutes" in texts
    # Neither asks for a retrain: the policy notifies on drift and data quality.
    retrain_days = {e["day"] for e in demo.entries("retrain")}
    assert covariate.start not in retrain_days
    assert quality.start not in retrain_days


def test_a_retrain_follows_the_concept_drift_and_the_gate_rejects_then_accepts(demo: Demo) -> None:
    concept = _INCIDENT["concept_drift"]
    retrains = demo.entries("retrain")
    gates = demo.entries("gate")
    assert len(retrains) >= 2
    assert len(gates) == len(retrains)
    assert all(e["day"] >= concept.start + LABEL_DELAY_DAYS for e in retrains)
    verdicts = [g["details"]["passed"] for g in gates]
    assert verdicts[0] is False
    assert True in verdicts
    # The first challenger is trained before enough labels of the new behaviour exist: it
    # does not reach the gate's floor (nor beat the champion), so it is rejected.
    rejected = {c["name"]: c["passed"] for c in gates[0]["details"]["checks"]}
    assert rejected["floor"] is False
    accepted = gates[verdicts.index(True)]
    assert all(c["passed"] for c in accepted["details"]["checks"])
    assert accepted["details"]["challenger"] > accepted["details"]["champion"]
    deployed = [e for e in demo.entries("deploy") if e["day"] > 0]
    assert [e["day"] for e in deployed] == [accepted["day"]]


def test_the_guard_rolls_back_the_version_that_regresses(demo: Demo) -> None:
    reverts = _INCIDENT["concept_reverts"]
    rollbacks = demo.entries("rollback")
    assert len(rollbacks) == 1
    back = rollbacks[0]
    assert back["details"]["by"] == "guard"
    assert reverts.start + LABEL_DELAY_DAYS <= back["day"] <= reverts.start + reverts.detect_within
    # The version rolled back is the one the gate accepted, back to the one it replaced.
    retrained = next(
        e for e in demo.entries("retrain") if e["day"] == demo.entries("deploy")[-1]["day"]
    )
    accepted_version = int(retrained["text"].split()[1])
    assert (back["details"]["from"], back["details"]["to"]) == (accepted_version, 1)
    # It was the labelled comparison with the previous champion that failed, not noise from
    # the label-free signals.
    guard_days = demo.entries("guard")
    assert guard_days
    for entry in guard_days:
        failed = {c["name"] for c in entry["details"]["checks"] if c["status"] == "failed"}
        assert failed == {"performance"}


def test_every_step_is_in_the_history_with_reasons(demo: Demo) -> None:
    events = demo.history()
    kinds = [e.kind for e in events]
    for kind in ("version_registered", "alias_move", "policy_decision", "retrain", "gate"):
        assert kind in kinds, kind
    moves = [e for e in events if e.kind == "alias_move" and e.alias == "production"]
    assert [m.trigger for m in moves][:1] == ["manual"]
    assert "policy" in [m.trigger for m in moves]
    assert "guard" in [m.trigger for m in moves]
    for event in events:
        if event.kind in ("policy_decision", "gate", "retrain") or event.trigger in (
            "policy",
            "guard",
        ):
            assert event.reason, event
    statuses = [e for e in events if e.kind == "status_change"]
    assert sum("rejected" in (e.details or {}).get("to", "") for e in statuses) >= 2


def test_the_timeline_is_printed(demo: Demo) -> None:
    out = demo.output
    for word in ("INCIDENT", "ALERT", "DECISION", "RETRAIN", "GATE", "DEPLOY", "ROLLBACK"):
        assert word in out, word


def test_the_cli_demo_writes_the_monitoring_report(demo: Demo) -> None:
    if demo.database_url is not None:
        pytest.skip("the report hook is the CLI's; this case ran run_demo directly")
    report = demo.folder / "report.html"
    assert f"The monitoring report (open it in a browser): {report}" in " ".join(
        demo.output.split()
    )
    html = report.read_text(encoding="utf-8")
    assert html.count("<svg") >= 5
    assert "<script" not in html
    # "What happened" tells the six weeks the way the README describes them
    table = html[html.index('id="story"') : html.index("</table>", html.index('id="story"'))]
    kinds = re.findall(r'<tr class="story-([a-z]+)">', table)
    assert kinds[0] == "deploy"
    assert kinds.count("retrain") == kinds.count("gate") == 2
    assert kinds.count("rollback") == 1
    order = [k for k in kinds if k in ("retrain", "gate", "deploy", "rollback")]
    assert order == ["deploy", "retrain", "gate", "retrain", "gate", "deploy", "rollback"]
    text = " ".join(re.sub(r"<[^>]+>", " ", table).split())
    assert "version 2 failed the gate: rejected:" in text
    assert "below the floor" in text
    assert "version 3 passed the gate: accepted:" in text
    assert "v3 deployed to production (was v1) by the policy" in text
    assert "v1 scores the same traffic as shadow" in text
    assert "production rolled back from v3 to v1 by the post-deploy guard" in text
    # the incidents' alerts: the promotion's drift, the performance drop, the empty feed
    assert "drift: monthly_charges" in text
    assert "tenure_months" in text
    assert re.search(r"performance: accuracy 0\.\d+, roc_auc 0\.\d+ \(\d runs\)", text)
    assert "missing rate on avg_session_minutes" in text
