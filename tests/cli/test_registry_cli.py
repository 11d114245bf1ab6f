"""The project and registry commands: init, register, deploy, rollback, history, models, db."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import skops.io
from typer.testing import CliRunner

from watchkeeper.cli import app
from watchkeeper.datasets import churn, train_churn_model
from watchkeeper.store.database import Database, head_revision

if TYPE_CHECKING:
    from collections.abc import Iterator

    from typer.testing import Result

runner = CliRunner()
ACTOR = "tester@ci"
DATA = ["--target", "churned", "--id", "customer_id"]


@pytest.fixture(scope="module", autouse=True)
def _environment() -> Iterator[None]:
    """No project, database or artifact override from the outer environment; a fixed actor."""
    with pytest.MonkeyPatch.context() as mp:
        for name in (
            "WATCHKEEPER_PROJECT",
            "WATCHKEEPER_DATABASE_URL",
            "WATCHKEEPER_ARTIFACTS_ROOT",
        ):
            mp.delenv(name, raising=False)
        mp.setenv("WATCHKEEPER_ACTOR", ACTOR)
        yield


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two churn models (skops), one pickled, training data as CSV, validation as Parquet."""
    d = tmp_path_factory.mktemp("registry-cli")
    train = churn(3_000, seed=1)
    paths = {
        "v1": d / "v1.skops",
        "v2": d / "v2.skops",
        "pkl": d / "model.pkl",
        "ref": d / "train.csv",
        "val": d / "valid.parquet",
    }
    first = train_churn_model(train)
    skops.io.dump(first, paths["v1"])
    skops.io.dump(train_churn_model(train, C=0.05), paths["v2"])
    paths["pkl"].write_bytes(pickle.dumps(first))
    train.to_csv(paths["ref"], index=False)
    churn(2_000, seed=2).to_parquet(paths["val"])
    return paths


def invoke(*args: str | Path) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def ok(*args: str | Path) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def as_json(*args: str | Path) -> Any:
    return json.loads(ok(*args, "--format", "json"))


def error(*args: str | Path) -> str:
    """The one line a failing command prints on stderr (exit 2, nothing on stdout)."""
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture(scope="module")
def deployed(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project holding churn version 1, deployed to production (tests only read it)."""
    project = tmp_path_factory.mktemp("deployed") / "project"
    ok("init", project)
    ok("register", "churn", files["v1"], "--project", project, "--reference", files["ref"], *DATA)
    ok("deploy", "churn", "1", "--project", project)
    return project


# ---------------------------------------------------------------------------- the README story


def test_init_register_deploy_rollback_history(files: dict[str, Path], tmp_path: Path) -> None:
    project = tmp_path / "churn-project"
    out = ok("init", project)
    assert f"Created a watchkeeper project in {project}" in out
    assert f"{project / 'watchkeeper.yaml'}" in out
    assert f"sqlite:///{project / 'watchkeeper.db'} (schema {head_revision()})" in out
    assert f"{project / 'artifacts'}" in out
    assert f"watchkeeper register churn model.skops --project {project}" in out
    assert (project / "artifacts").is_dir()

    at = ("--project", project)
    data = ("--reference", files["ref"], "--validation", files["val"], *DATA)
    out = ok("register", "churn", files["v1"], *at, *data, "--tag", "team=risk")
    lines = out.splitlines()
    assert lines[0] == "Registered churn version 1 (models:/churn/1)"
    assert lines[1].startswith("  validation metrics, 2,000 rows: accuracy 0.")
    assert "roc_auc 0." in lines[1]
    assert lines[2] == "Deploy it with: watchkeeper deploy churn 1"
    assert ok("deploy", "churn", "1", *at) == "churn: production -> version 1 (first deploy)\n"

    out = ok("register", "churn", files["v2"], *at, *data, "--description", "C=0.05")
    assert out.startswith("Registered churn version 2 (models:/churn/2)\n")
    out = ok("deploy", "churn", "2", *at, "--reason", "better recall")
    assert out == "churn: production -> version 2 (was 1)\n"
    out = ok("deploy", "churn", "2", *at)
    assert out.startswith("churn: production already points at version 2 (moved there by ")
    assert out.endswith(" UTC); nothing changed\n")
    # Even with the very reason of the move that put it there, a repeat is no move.
    out = ok("deploy", "churn", "2", *at, "--reason", "better recall")
    assert "nothing changed" in out
    out = ok("rollback", "churn", *at, "--reason", "complaints")
    assert out == (
        "churn: production rolled back from version 2 to version 1; version 2 is now rejected\n"
    )

    events = as_json("history", "churn", *at)
    moves = [
        (e["from_version"], e["to_version"], e["trigger"], e["reason"])
        for e in events
        if e["kind"] == "alias_move"
    ]
    assert moves == [
        (None, 1, "manual", ""),
        (1, 2, "manual", "better recall"),
        (2, 1, "rollback", "complaints"),
    ]
    assert {e["actor"] for e in events} == {ACTOR}
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert events[-1]["kind"] == "status_change"
    assert events[-1]["details"] == {"from": "ready", "to": "rejected"}
    assert [e["kind"] for e in as_json("history", "churn", *at, "--limit", "2")] == [
        "alias_move",
        "status_change",
    ]

    table = ok("history", "churn", *at).splitlines()
    assert table[0].split()[:3] == ["id", "when", "(UTC)"]
    rows = [line for line in table if "alias_move" in line]
    assert [row.split()[5:8] for row in rows] == [
        ["production", "-", "→"],
        ["production", "1", "→"],
        ["production", "2", "→"],
    ]
    assert [row.split()[9] for row in rows] == ["manual", "manual", "rollback"]
    assert [row.partition(ACTOR)[2].strip() for row in rows] == ["", "better recall", "complaints"]
    assert "ready → rejected" in table[-1]

    shown = as_json("models", "show", "churn", *at)
    assert shown["name"] == "churn"
    assert shown["aliases"] == {"production": 1}
    assert shown["latest_version"] == 2
    assert [(v["version"], v["status"], v["aliases"]) for v in shown["versions"]] == [
        (1, "ready", ["production"]),
        (2, "rejected", []),
    ]
    text = ok("models", "show", "churn", *at)
    assert "  aliases      production -> version 1" in text
    assert "  latest       version 2" in text

    versions = as_json("models", "versions", "churn", *at)
    assert [v["uri"] for v in versions] == ["models:/churn/1", "models:/churn/2"]
    assert versions[0]["tags"] == {"team": "risk"}
    assert versions[1]["description"] == "C=0.05"
    assert versions[0]["metrics"]["source"] == "validation"
    assert versions[0]["data"]["rows"] == {"reference": 3_000, "validation": 2_000}
    assert versions[0]["created_by"] == ACTOR
    table = ok("models", "versions", "churn", *at).splitlines()
    assert table[0].split() == [
        "version",
        "status",
        "aliases",
        "flavour",
        "created",
        "(UTC)",
        "created",
        "by",
        "metrics",
        "sha256",
    ]
    one, two = table[2].split(), table[3].split()
    assert one[:4] == ["1", "ready", "production", "sklearn-skops"]
    assert two[:4] == ["2", "rejected", "-", "sklearn-skops"]
    assert "roc_auc 0." in table[2]
    assert "accuracy 0." in table[2]
    assert one[-1] == versions[0]["artifact"]["sha256"][:12]

    assert [m["name"] for m in as_json("models", "list", *at)] == ["churn"]
    listed = ok("models", "list", *at).splitlines()
    assert listed[2].split()[:3] == ["churn", "2", "production=1"]


def test_pickle_with_trust_and_without_stored_data(files: dict[str, Path], tmp_path: Path) -> None:
    project = tmp_path / "p"
    ok("init", project)
    out = ok(
        "register",
        "churn-pkl",
        files["pkl"],
        "--project",
        project,
        "--reference",
        files["ref"],
        "--trust-pickle",
        "--no-store-data",
        *DATA,
    )
    assert out.splitlines()[0] == "Registered churn-pkl version 1 (models:/churn-pkl/1)"
    [version] = as_json("models", "versions", "churn-pkl", "--project", project)
    assert version["artifact"]["flavour"] != "sklearn-skops"
    assert version["reference_sha256"] is None
    assert version["baseline_sha256"] is not None


def test_empty_registry(tmp_path: Path) -> None:
    ok("init", tmp_path / "p")
    assert as_json("models", "list", "--project", tmp_path / "p") == []
    assert "No registered models yet" in ok("models", "list", "--project", tmp_path / "p")


# ---------------------------------------------------------------------------- finding the project


def test_project_from_the_environment(deployed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHKEEPER_PROJECT", str(deployed))
    assert as_json("models", "show", "churn")["aliases"] == {"production": 1}


def test_project_from_a_subfolder(deployed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = deployed / "notebooks" / "2024"
    sub.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(sub)
    assert [m["name"] for m in as_json("models", "list")] == ["churn"]
    assert "churn: production already points at version 1" in ok("deploy", "churn", "1")


def test_no_project_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    message = error("models", "list")
    assert message.startswith(f"error: No watchkeeper project in {tmp_path} or its parents")
    assert "watchkeeper init" in message
    message = error("history", "churn", "--project", tmp_path / "nowhere")
    assert "no such folder" in message
    monkeypatch.setenv("WATCHKEEPER_PROJECT", str(tmp_path))
    assert "WATCHKEEPER_PROJECT=" in error("models", "list")


def test_init_twice_is_refused(deployed: Path) -> None:
    assert "already holds a watchkeeper project" in error("init", deployed)


def test_init_hides_the_database_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://admin:hunter2@127.0.0.1:1/registry"
    message = error("init", tmp_path / "p", "--database-url", url)
    assert "hunter2" not in message
    assert "admin:***@127.0.0.1:1" in message
    assert not (tmp_path / "p" / "watchkeeper.yaml").exists()


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["deploy", "nope", "1"], "No registered model named 'nope' (registered: churn)."),
        (["deploy", "churn", "9"], "'churn' has no version 9"),
        (["models", "show", "nope"], "No registered model named 'nope'"),
        (["history", "nope"], "No registered model named 'nope'"),
        (["rollback", "churn"], "rollback stack is empty"),
        (["rollback", "churn", "--alias", "shadow"], "'churn' has no alias 'shadow'"),
        (["deploy", "churn", "1", "--alias", "Prod"], "Invalid alias 'Prod'"),
        (["models", "versions", "bad name"], "Invalid model name 'bad name'"),
        (["register", "bad name", "{v1}"], "Invalid model name 'bad name'"),
        (["register", "churn", "{pkl}"], "--trust-pickle"),
        (["register", "churn", "{missing}"], "Cannot read model file"),
        (["register", "churn", "{v1}", "--reference", "{missing_csv}"], "No such file: "),
        (["register", "churn", "{v1}", "--tag", "team"], "--tag must be KEY=VALUE"),
        (["register", "churn", "{v1}", "--tag", "a=1", "--tag", "a=2"], "--tag a is given twice"),
        (["register", "churn", "{v1}", "--validation", "{val}"], "reference data"),
    ],
)
def test_errors_are_one_line(
    deployed: Path, files: dict[str, Path], args: list[str], expected: str
) -> None:
    names = {
        **{k: str(v) for k, v in files.items()},
        "missing": str(deployed / "missing.skops"),
        "missing_csv": str(deployed / "missing.csv"),
    }
    message = error(*[a.format(**names) for a in args], "--project", deployed)
    assert expected in message


def test_failed_registrations_record_nothing(deployed: Path, files: dict[str, Path]) -> None:
    error("register", "churn", files["pkl"], "--project", deployed)
    error("register", "other", files["v1"], "--project", deployed)  # no reference data
    assert [m["name"] for m in as_json("models", "list", "--project", deployed)] == ["churn"]
    assert len(as_json("models", "versions", "churn", "--project", deployed)) == 1


# ---------------------------------------------------------------------------- schema upgrades


def test_out_of_date_database(tmp_path: Path) -> None:
    project, db = tmp_path / "p", tmp_path / "registry.db"
    url = f"sqlite:///{db}"
    ok("init", project, "--database-url", url)
    for leftover in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        leftover.unlink(missing_ok=True)
    old = Database(url)
    try:
        old.upgrade("0001_registry")
    finally:
        old.dispose()
    at = ("--project", project)
    head = head_revision()
    every_command = (
        ["models", "list"],
        ["models", "show", "churn"],
        ["models", "versions", "churn"],
        ["history", "churn"],
        ["deploy", "churn", "1"],
        ["rollback", "churn"],
        ["register", "churn", str(project), "--no-store-data"],
    )
    for command in every_command:
        message = error(*command, *at)
        assert "is at schema revision 0001_registry" in message
        assert "Run `watchkeeper db upgrade`" in message

    state = as_json("db", "current", *at)
    assert state == {"database": url, "current": "0001_registry", "head": head, "up_to_date": False}
    text = ok("db", "current", *at)
    assert "current   0001_registry" in text
    assert f"head      {head}" in text
    assert "watchkeeper db upgrade" in text

    assert ok("db", "upgrade", *at) == f"Upgraded {url}: 0001_registry -> {head}\n"
    assert f"already at schema revision {head}; nothing to do" in ok("db", "upgrade", *at)
    assert as_json("db", "current", *at)["up_to_date"] is True
    assert ok("db", "current", *at).rstrip().endswith("Up to date.")
    assert as_json("models", "list", *at) == []
