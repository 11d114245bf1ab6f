"""Compare-and-set alias moves (``expected_version``) and ``remove_alias``, on SQLite and on
PostgreSQL: a move happens only where the alias is what the caller saw, a mismatch records
nothing, and of two racing moves from the same expectation exactly one wins."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from watchkeeper.errors import AliasMovedError, InvalidParameterError, RollbackError
from watchkeeper.registry import Project

MODEL = "churn"


@pytest.fixture(scope="session")
def version_fields(
    tmp_path_factory: pytest.TempPathFactory,
    churn_data: dict[str, pd.DataFrame],
    churn_models: list[Any],
) -> dict[str, Any]:
    """The registry fields of one registered churn version (registered once, on SQLite):
    these tests move aliases, so every version may share them, and recording them is fast."""
    from sqlalchemy import select

    from watchkeeper.registry._registry import VERSION_FIELDS
    from watchkeeper.store.tables import model_versions

    with Project.init(tmp_path_factory.mktemp("fields")) as source:
        source.register(
            MODEL,
            churn_models[0],
            reference=churn_data["reference"].head(300),
            target="churned",
            store_data=False,
        )
        with source.database.read() as conn:
            row = conn.execute(select(model_versions)).one()
    return {name: getattr(row, name) for name in VERSION_FIELDS}


@pytest.fixture
def three(project: Project, version_fields: dict[str, Any]) -> Project:
    """Versions 1, 2 and 3 of ``churn``, none deployed."""
    for _ in range(3):
        project.registry.add_version(MODEL, version_fields)
    return project


def _moves(project: Project, alias: str = "production") -> list[tuple[Any, ...]]:
    return [
        (e.from_version, e.to_version, e.trigger, e.details.get("action"))
        for e in project.history(MODEL)
        if e.kind == "alias_move" and e.alias == alias
    ]


def test_a_matching_expectation_moves(three: Project) -> None:
    three.deploy(MODEL, 1, expected_version=None)
    event = three.deploy(
        MODEL,
        2,
        expected_version=1,
        trigger="policy",
        reason="better",
        details={"gate": {"passed": True}, "action": "ignored"},
    )
    assert (event.from_version, event.to_version, event.trigger) == (1, 2, "policy")
    assert event.details == {"gate": {"passed": True}, "action": "deploy"}
    assert three.model(MODEL).aliases == {"production": 2}
    back = three.rollback(MODEL, expected_version=2, trigger="guard")
    assert (back.from_version, back.to_version, back.trigger) == (2, 1, "guard")
    assert three.get(MODEL, 2).status == "rejected"


def test_a_mismatching_expectation_raises_and_records_nothing(three: Project) -> None:
    three.deploy(MODEL, 1)
    three.deploy(MODEL, 2)
    before = three.history(MODEL)
    with pytest.raises(AliasMovedError, match=r"expected at version 1 but is at version 2"):
        three.deploy(MODEL, 3, expected_version=1)
    with pytest.raises(AliasMovedError, match="'production' of 'churn'"):
        three.rollback(MODEL, expected_version=3)
    with pytest.raises(AliasMovedError, match=r"expected at no version \(no such alias\)"):
        three.deploy(MODEL, 3, expected_version=None)
    with pytest.raises(AliasMovedError):
        three.remove_alias(MODEL, "production", expected_version=1)
    # Even onto the version it already holds: the caller's view was out of date.
    with pytest.raises(AliasMovedError):
        three.deploy(MODEL, 2, expected_version=1)
    assert three.history(MODEL) == before
    assert three.model(MODEL).aliases == {"production": 2}
    assert [v.status for v in three.versions(MODEL)] == ["ready"] * 3


def test_none_means_the_alias_must_not_exist(three: Project) -> None:
    first = three.deploy(MODEL, 1, alias="shadow", expected_version=None)
    assert (first.from_version, first.to_version) == (None, 1)
    with pytest.raises(AliasMovedError, match="but is at version 1"):
        three.deploy(MODEL, 2, alias="shadow", expected_version=None)
    with pytest.raises(AliasMovedError, match="expected at version 1 but is at no version"):
        three.deploy(MODEL, 2, alias="challenger", expected_version=1)
    with pytest.raises(AliasMovedError):
        three.rollback(MODEL, alias="challenger", expected_version=1)
    # No alias and None expected: the rollback's own error, nothing to roll back.
    with pytest.raises(RollbackError, match="nothing to roll back"):
        three.rollback(MODEL, alias="challenger", expected_version=None)
    # Removing an alias expected absent does nothing.
    assert three.remove_alias(MODEL, "challenger", expected_version=None) is None


def test_deploying_the_current_version_with_its_expectation_records_nothing(
    three: Project,
) -> None:
    put = three.deploy(MODEL, 1)
    n = len(three.history(MODEL))
    assert three.deploy(MODEL, 1, expected_version=1).id == put.id
    assert len(three.history(MODEL)) == n


def test_remove_alias_records_the_move_and_deletes_the_alias(three: Project) -> None:
    three.deploy(MODEL, 1, alias="shadow")
    three.deploy(MODEL, 2, alias="shadow")
    event = three.remove_alias(
        MODEL, "shadow", reason="trial over", trigger="guard", expected_version=2
    )
    assert event is not None
    assert (event.kind, event.alias, event.from_version, event.to_version) == (
        "alias_move",
        "shadow",
        2,
        None,
    )
    assert (event.trigger, event.reason, event.details) == (
        "guard",
        "trial over",
        {"action": "remove"},
    )
    assert "shadow" not in three.model(MODEL).aliases
    assert three.get(MODEL, 2).aliases == ()
    # Removing it again: nothing to do, nothing recorded.
    n = len(three.history(MODEL))
    assert three.remove_alias(MODEL, "shadow") is None
    assert len(three.history(MODEL)) == n


def test_remove_then_deploy_then_rollback(three: Project) -> None:
    three.deploy(MODEL, 1)
    three.deploy(MODEL, 2)
    three.remove_alias(MODEL, "production")
    with pytest.raises(RollbackError, match="no alias 'production'"):
        three.rollback(MODEL)
    event = three.deploy(MODEL, 3)
    assert (event.from_version, event.to_version) == (None, 3)
    # The stack restarted at the removal: nothing under version 3.
    with pytest.raises(RollbackError, match="rollback stack is empty"):
        three.rollback(MODEL)
    three.deploy(MODEL, 1)
    back = three.rollback(MODEL, expected_version=1)
    assert (back.from_version, back.to_version) == (1, 3)
    assert _moves(three) == [
        (None, 1, "manual", "deploy"),
        (1, 2, "manual", "deploy"),
        (2, None, "manual", "remove"),
        (None, 3, "manual", "deploy"),
        (3, 1, "manual", "deploy"),
        (1, 3, "rollback", "rollback"),
    ]
    assert [v.status for v in three.versions(MODEL)] == ["rejected", "ready", "ready"]


def test_triggers_and_expectations_are_checked(three: Project) -> None:
    three.deploy(MODEL, 1, alias="shadow")
    with pytest.raises(InvalidParameterError, match="manual, policy, guard"):
        three.remove_alias(MODEL, "shadow", trigger="rollback")
    with pytest.raises(InvalidParameterError, match="expected_version must be a version"):
        three.deploy(MODEL, 2, expected_version=0)
    with pytest.raises(InvalidParameterError, match="expected_version"):
        three.remove_alias(MODEL, "shadow", expected_version="1")  # type: ignore[arg-type]
    assert three.model(MODEL).aliases == {"shadow": 1}


def test_racing_deploys_from_the_same_expectation_exactly_one_wins(three: Project) -> None:
    folder = three.path
    assert folder is not None
    rounds = 4
    outcomes: list[list[tuple[int, str]]] = []
    for _ in range(rounds):
        three.deploy(MODEL, 1)
        outcomes.append(_race(folder, versions=(2, 3), expected=1))
    for round_, outcome in enumerate(outcomes):
        results = sorted(result for _, result in outcome)
        assert results == ["AliasMovedError", "moved"], (round_, outcome)
    moves = [m for m in _moves(three) if m[0] == 1 and m[1] in (2, 3)]
    assert len(moves) == rounds  # one recorded move per round: the loser recorded nothing


def _race(folder: Path, *, versions: tuple[int, ...], expected: int) -> list[tuple[int, str]]:
    """Deploy each of ``versions`` from its own thread and Project, all released together."""
    start = threading.Barrier(len(versions))
    results: list[tuple[int, str]] = []
    lock = threading.Lock()

    def run(version: int) -> None:
        with Project(folder, actor=f"thread-{version}") as project:
            start.wait(60)
            try:
                project.deploy(MODEL, version, expected_version=expected, trigger="policy")
                outcome = "moved"
            except AliasMovedError:
                outcome = "AliasMovedError"
            except Exception as exc:  # reported, so the test shows it
                outcome = f"{type(exc).__name__}: {exc}"
        with lock:
            results.append((version, outcome))

    threads = [threading.Thread(target=run, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return sorted(results)
