"""``watchkeeper monitor run|history``, ``policy evaluate`` and ``retrain`` on a real project
(wall clock): what they print, what they store, and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import drifted_churn_project
from typer.testing import CliRunner

import watchkeeper
from watchkeeper.cli._app import app
from watchkeeper.ops._history import load_runs

runner = CliRunner()


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("loop-cli") / "project"
    drifted_churn_project(folder, n_train=3_000, n_window=1_200)
    text = (folder / "watchkeeper.yaml").read_text(encoding="utf-8")
    text = text.replace("  trainer: null", '  trainer: "watchkeeper.datasets:retrain_churn_model"')
    (folder / "watchkeeper.yaml").write_text(text, encoding="utf-8")
    return folder


def invoke(folder: Path, *args: str) -> str:
    result = runner.invoke(app, [*args, "--project", str(folder)])
    assert result.exit_code == 0, result.output
    return result.output


def test_monitor_run_stores_a_run_and_prints_its_problems(project_dir: Path) -> None:
    out = invoke(project_dir, "monitor", "run", "churn", "--window", "2d")
    assert "churn version 1: alert - 1,200 rows" in out
    assert "1,200 labelled (coverage 100%)" in out
    assert "drift.wasserstein" in out  # the drifted features are listed
    with watchkeeper.Project(project_dir) as project:
        runs = load_runs(project.database, "churn")
    assert runs[-1].n_rows == 1_200
    assert runs[-1].source == "cli"


def test_monitor_run_json_and_history(project_dir: Path) -> None:
    data = json.loads(
        invoke(project_dir, "monitor", "run", "churn", "--last", "500", "--format", "json")
    )
    assert data["n_rows"] == 500
    assert {c["check"] for c in data["checks"]} >= {"drift.dataset", "monitor.label_coverage"}
    out = invoke(project_dir, "monitor", "history", "churn")
    assert out.count("alert") >= 2
    listed = json.loads(invoke(project_dir, "monitor", "history", "churn", "--format", "json"))
    assert [r["n_rows"] for r in listed][-1] == 500


def test_monitor_run_refuses_bad_options(project_dir: Path) -> None:
    result = runner.invoke(
        app, ["monitor", "run", "churn", "--window", "2x", "--project", str(project_dir)]
    )
    assert result.exit_code == 2
    assert "--window must be a positive duration" in result.output
    result = runner.invoke(app, ["monitor", "run", "nope", "--project", str(project_dir)])
    assert result.exit_code == 2
    assert "No registered model named 'nope'" in result.output


def test_policy_evaluate_prints_the_decision_and_records_nothing(project_dir: Path) -> None:
    invoke(project_dir, "monitor", "run", "churn", "--window", "2d")
    out = invoke(project_dir, "policy", "evaluate", "churn")
    data = json.loads(invoke(project_dir, "policy", "evaluate", "churn", "--format", "json"))
    # The drifted window moved the labels too: performance asks for a retrain, drift for
    # a notification; the most severe wins.
    assert out.startswith(f"decision: {data['action']}\n")
    assert data["action"] == "retrain"
    fired = {t["trigger"]: t["fired"] for t in data["triggers"]}
    assert fired["drift"] is True
    assert fired["concept_drift"] is False  # the labels are too fresh for the error stream
    assert "drift asks for notify" in out
    with watchkeeper.Project(project_dir) as project:
        assert all(e.kind != "policy_decision" for e in project.history("churn"))


def test_retrain_dry_run_trains_and_gates_but_registers_nothing(project_dir: Path) -> None:
    out = invoke(project_dir, "retrain", "churn", "--dry-run")
    assert "trained on 3,000 rows (0 from production, 3,000 reference" in out
    assert "holdout 1,200 rows" in out
    assert "by the gate:" in out
    assert "dry run: nothing registered or deployed" in out
    with watchkeeper.Project(project_dir) as project:
        assert [v.version for v in project.versions("churn")] == [1]
