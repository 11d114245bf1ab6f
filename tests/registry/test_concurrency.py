"""Several processes writing to one project at once: racing deploys and rollbacks are all
recorded as one unbroken chain of moves, racing registrations number versions without gaps,
and the event history cannot be rewritten. Real processes (spawned, not threads) on a SQLite
file and on PostgreSQL."""

from __future__ import annotations

import multiprocessing
import traceback
from itertools import pairwise
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from watchkeeper.errors import (
    ModelNotFoundError,
    RollbackError,
    StoreError,
    VersionStatusError,
)
from watchkeeper.registry import Event, Project
from watchkeeper.store.tables import aliases, events

WORKERS = 4
ROUNDS = 5
ROLLING_BACK = (0, 1)  # the workers that also roll back after each deploy
MODEL = "churn"
# Seconds any one wait may take before the test gives up (a safety net, never asserted on).
PATIENCE = 120.0
APPEND_ONLY = "events are append-only"


# ---------------------------------------------------------------------------- workers
# Module level so that spawned processes can import them. Each reports what it did as tuples
# (kind, worker, reason or name, value) and finally ("done", worker, "", None).


def _deploy_worker(project_dir: Path, worker: int, version: int, start: Any, results: Any) -> None:
    try:
        with Project(project_dir, actor=f"worker-{worker}") as project:
            for round_ in range(ROUNDS):
                start.wait(PATIENCE)
                reason = f"worker {worker} round {round_} deploy"
                event = project.deploy(MODEL, version, reason=reason)
                # A deploy onto the version the alias already holds records nothing and
                # returns the event that put it there (someone else's reason).
                results.put(
                    ("deploy", worker, reason, event.id if event.reason == reason else None)
                )
                if worker not in ROLLING_BACK:
                    continue
                reason = f"worker {worker} round {round_} rollback"
                try:
                    event = project.rollback(MODEL, reason=reason)
                except (RollbackError, VersionStatusError) as exc:
                    results.put(("refused", worker, reason, type(exc).__name__))
                else:
                    results.put(("rollback", worker, reason, event.id))
    except BaseException:
        start.abort()  # the others stop waiting for this one
        results.put(("error", worker, traceback.format_exc(), None))
    finally:
        results.put(("done", worker, "", None))


def _register_worker(
    project_dir: Path,
    worker: int,
    names: list[str],
    model: Any,
    reference: pd.DataFrame,
    start: Any,
    results: Any,
) -> None:
    try:
        with Project(project_dir, actor=f"worker-{worker}") as project:
            for name in names:
                start.wait(PATIENCE)
                version = project.register(name, model, reference=reference, target="churned")
                results.put(("registered", worker, name, version.version))
    except BaseException:
        start.abort()
        results.put(("error", worker, traceback.format_exc(), None))
    finally:
        results.put(("done", worker, "", None))


def _run_workers(target: Any, args: list[tuple[Any, ...]]) -> list[tuple[str, int, str, Any]]:
    """Run ``target(*a, start, results)`` in one spawned process per ``a``, all released
    together at each ``start.wait()``; returns every report, failing on any worker's error."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(len(args))
    results = context.Queue()
    processes = [
        context.Process(target=target, args=(*a, start, results), daemon=True) for a in args
    ]
    reports: list[tuple[str, int, str, Any]] = []
    try:
        for process in processes:
            process.start()
        done = 0
        while done < len(processes):
            report = results.get(timeout=PATIENCE)
            done += report[0] == "done"
            reports.append(report)
        for process in processes:
            process.join(PATIENCE)
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join()
        results.close()
    errors = [report[2] for report in reports if report[0] == "error"]
    assert not errors, "\n".join(errors)
    assert [p.exitcode for p in processes] == [0] * len(processes)
    return reports


# ---------------------------------------------------------------------------- helpers


def _small_reference(churn_data: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return churn_data["reference"].head(500).copy()


def _check_statuses(project: Project, history: list[Event]) -> None:
    """Replay every status change: each one starts from the status the replay says, a
    version rolled back from is rejected by the end of that move's transaction, a rejected
    version deployed by hand is ready again, and the replay ends on the stored statuses."""
    status = {v.version: "ready" for v in project.versions(MODEL)}
    for position, event in enumerate(history):
        following = history[position + 1] if position + 1 < len(history) else None
        if event.kind == "status_change":
            assert event.details["from"] == status[event.version]
            status[event.version] = event.details["to"]
        elif event.kind == "alias_move" and event.details["action"] == "rollback":
            rolled_from = event.from_version
            if status[rolled_from] == "ready":
                # Recorded in the same transaction, which held the model's lock.
                assert following is not None
                assert (following.kind, following.version) == ("status_change", rolled_from)
                assert following.details == {"from": "ready", "to": "rejected"}
        elif event.kind == "alias_move" and status[event.to_version] == "rejected":
            assert following is not None
            assert (following.kind, following.version) == ("status_change", event.to_version)
            assert following.details == {"from": "rejected", "to": "ready"}
    assert status == {v.version: v.status for v in project.versions(MODEL)}


# ---------------------------------------------------------------------------- tests


def test_racing_deploys_and_rollbacks_form_one_unbroken_chain(
    tmp_path: Path,
    database_url: str,
    churn_models: list[Any],
    churn_data: dict[str, pd.DataFrame],
) -> None:
    project_dir = tmp_path / "project"
    reference = _small_reference(churn_data)
    with Project.init(project_dir, database_url=database_url) as project:
        for i in range(WORKERS):
            project.register(MODEL, churn_models[i % len(churn_models)], reference=reference)

        reports = _run_workers(_deploy_worker, [(project_dir, w, w + 1) for w in range(WORKERS)])

        deploys = [r for r in reports if r[0] == "deploy"]
        assert len(deploys) == WORKERS * ROUNDS
        assert len([r for r in reports if r[0] in ("rollback", "refused")]) == (
            len(ROLLING_BACK) * ROUNDS
        )
        # Only an empty stack refuses here (nothing is archived, and a manual rollback may
        # land on a rejected version).
        assert {r[3] for r in reports if r[0] == "refused"} <= {"RollbackError"}
        reported = {r[3]: r[2] for r in reports if r[0] in ("deploy", "rollback") and r[3]}

        history = project.history(MODEL)
        moves = [e for e in history if e.kind == "alias_move"]
        # Every move a process saw recorded is in the history, and nothing else is.
        assert {e.id: e.reason for e in moves} == reported
        assert len(moves) == len(reported)
        assert {e.alias for e in moves} == {"production"}
        assert moves[0].from_version is None
        for before, after in pairwise(moves):
            assert after.from_version == before.to_version
            assert after.from_version != after.to_version

        # Deploys push and rollbacks pop: each rollback lands on the version underneath.
        stack: list[int] = []
        for move in moves:
            if move.details["action"] == "deploy":
                assert move.trigger == "manual"
                stack.append(move.to_version)
            else:
                assert move.trigger == "rollback"
                assert stack.pop() == move.from_version
                assert stack, "a rollback was recorded with nothing underneath"
                assert stack[-1] == move.to_version

        current = project.get(MODEL, alias="production")
        assert current.version == moves[-1].to_version
        assert project.model(MODEL).aliases == {"production": moves[-1].to_version}
        with project.database.read() as conn:
            alias_event = conn.execute(select(aliases.c.event_id)).scalar_one()
        assert alias_event == moves[-1].id

        _check_statuses(project, history)
        # A version whose last move was being rolled back from stays rejected.
        last_move: dict[int, Event] = {}
        for move in moves:
            last_move[move.to_version] = move
            if move.details["action"] == "rollback":
                last_move[move.from_version] = move
        for version, move in last_move.items():
            if move.details["action"] == "rollback" and move.from_version == version:
                assert project.get(MODEL, version).status == "rejected"


def test_racing_registrations_of_a_new_model_number_versions_without_gaps(
    tmp_path: Path,
    database_url: str,
    churn_models: list[Any],
    churn_data: dict[str, pd.DataFrame],
) -> None:
    project_dir = tmp_path / "project"
    names = ["fresh-a", "fresh-b", "fresh-c"]  # each created by a race between the workers
    with Project.init(project_dir, database_url=database_url) as project:
        reports = _run_workers(
            _register_worker,
            [
                (project_dir, w, names, churn_models[0], _small_reference(churn_data))
                for w in range(WORKERS)
            ],
        )

        expected = list(range(1, WORKERS + 1))
        for name in names:
            by_version = {r[3]: f"worker-{r[1]}" for r in reports if r[2] == name}
            assert sorted(by_version) == expected  # every one succeeded, no duplicates
            versions = project.versions(name)
            assert [v.version for v in versions] == expected
            assert {v.version: v.created_by for v in versions} == by_version

            history = project.history(name)
            assert [e.kind for e in history] == ["model_created"] + ["version_registered"] * WORKERS
            assert [e.version for e in history[1:]] == expected
        # The artifacts they wrote at the same time are whole (load_model checks the sha256).
        rows = _small_reference(churn_data).head(20)
        for version in expected:
            loaded = project.load_model(f"models:/{names[-1]}/{version}")
            assert list(loaded.predict(rows)) == list(churn_models[0].predict(rows))


def _events_table(project: Project) -> list[dict[str, Any]]:
    with project.database.read() as conn:
        return [dict(row._mapping) for row in conn.execute(select(events).order_by(events.c.id))]


def test_the_database_refuses_to_rewrite_the_event_history(
    project: Project, churn_models: list[Any], churn_data: dict[str, pd.DataFrame]
) -> None:
    reference = _small_reference(churn_data)
    for model in churn_models[:2]:
        project.register(MODEL, model, reference=reference)
    project.deploy(MODEL, 1)
    project.deploy(MODEL, 2)
    project.rollback(MODEL, reason="bad metrics")
    rows, history = _events_table(project), project.history(MODEL)
    assert [e.kind for e in history].count("alias_move") == 3

    statements = [
        "UPDATE events SET reason = 'nothing happened'",
        "UPDATE events SET to_version = 2 WHERE kind = 'alias_move'",
        f"UPDATE events SET actor = 'someone else' WHERE id = {history[-1].id}",
        "DELETE FROM events",  # on SQLite, a trigger turns off the truncate shortcut
        f"DELETE FROM events WHERE id = {history[-1].id}",
    ]
    if project.database.dialect == "postgresql":
        # (A plain TRUNCATE is refused anyway: the aliases table references events.)
        statements.append("TRUNCATE events CASCADE")
    for statement in statements:
        # The trigger's error: wrapped as a StoreError, except SQLite's (an IntegrityError,
        # which the store passes through for the registry's duplicate-name handling).
        with (
            pytest.raises((StoreError, DBAPIError), match=APPEND_ONLY),
            project.database.write() as conn,
        ):
            conn.execute(text(statement))

    assert _events_table(project) == rows
    assert project.history(MODEL) == history
    assert project.get(MODEL, alias="production").version == 1


class _Interrupted(Exception):
    """Stands for any failure of a registration after its artifacts were written."""


def _skops_file(model: Any, tmp_path: Path) -> Path:
    import skops.io as sio

    path = tmp_path / "model.skops"  # one file: both registrations store the same bytes
    sio.dump(model, path)
    return path


def test_a_failed_registration_keeps_the_artifacts_a_concurrent_one_recorded(
    project: Project,
    churn_models: list[Any],
    churn_data: dict[str, pd.DataFrame],
    tmp_path: Path,
) -> None:
    reference = _small_reference(churn_data)
    model_file = _skops_file(churn_models[0], tmp_path)
    registered = []
    with Project(project.path, actor="bob") as other:

        def meanwhile(phase: str) -> None:
            # Alice's artifacts are written; Bob registers the same model and data, then
            # Alice's registration fails before it records anything.
            if phase == "recording the version":
                registered.append(other.register(MODEL, model_file, reference=reference))
                raise _Interrupted

        with pytest.raises(_Interrupted):
            project.register(MODEL, model_file, reference=reference, progress=meanwhile)

    (bob,) = registered
    assert [v.version for v in project.versions(MODEL)] == [bob.version]
    project.load_model(bob)
    project.load_baseline(MODEL, bob.version)
    assert len(project.load_data(MODEL, bob.version)) == len(reference)


def test_a_registration_whose_artifacts_were_cleaned_up_meanwhile_records_nothing(
    project: Project,
    churn_models: list[Any],
    churn_data: dict[str, pd.DataFrame],
    tmp_path: Path,
) -> None:
    from watchkeeper.registry._register import Prepared, prepare_version

    reference = _small_reference(churn_data)
    model_file = _skops_file(churn_models[0], tmp_path)
    # Alice's registration wrote its artifacts (and will fail)...
    alice = Prepared(fields={})
    prepare_version(project.artifacts, model_file, reference=reference, prepared=alice)
    assert alice.created

    def alice_cleans_up(phase: str) -> None:
        # ...and cleans up after Bob stored the same bytes, before Bob records his version.
        if phase == "recording the version":
            deleted = project.registry.discard_unreferenced(project.artifacts, alice.created)
            assert deleted == alice.created

    with (
        Project(project.path, actor="bob") as bob,
        pytest.raises(StoreError, match="Register the version again"),
    ):
        bob.register(MODEL, model_file, reference=reference, progress=alice_cleans_up)
    with pytest.raises(ModelNotFoundError):
        project.versions(MODEL)
    version = project.register(MODEL, model_file, reference=reference)  # and again: fine
    project.load_model(version)
