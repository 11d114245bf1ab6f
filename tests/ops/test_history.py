"""The monitoring history (``watchkeeper.ops._history``) on SQLite and PostgreSQL: runs and
their check results round-trip, ``load_runs`` filters, ``latest_runs``, detector state and the
label watermark, alert states, and leases (one holder at a time, renewal, expiry, release,
and a race for a new lease between threads)."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from watchkeeper.clock import as_utc
from watchkeeper.errors import LoopError, ModelNotFoundError
from watchkeeper.ops._history import (
    StoredRun,
    acquire_lease,
    latest_runs,
    load_alert_states,
    load_detector_states,
    load_runs,
    load_watermark,
    model_id,
    release_lease,
    save_alert_states,
    save_detector_states,
    save_run,
    save_watermark,
)
from watchkeeper.results import CheckResult, Status
from watchkeeper.store.database import Database
from watchkeeper.store.tables import leases, registered_models

T0 = datetime(2026, 2, 1, 9, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A database at the head schema holding two registered models, ``churn`` and ``other``
    (the history helpers need only their rows; registering versions is not their concern)."""
    opened = Database(database_url)
    try:
        opened.upgrade()
        with opened.write() as conn:
            for name in ("churn", "other"):
                conn.execute(
                    insert(registered_models).values(
                        name=name, created_at=T0 - 24 * HOUR, created_by="tests"
                    )
                )
        yield opened
    finally:
        opened.dispose()


def a_run(model: str, ran_at: datetime, *, version: int = 1, status: Status = "ok") -> StoredRun:
    """A run as ``run_monitor`` would store it, with three check results."""
    checks = (
        CheckResult(
            check="drift.wasserstein",
            column="monthly_charges",
            value=0.25,
            reference_value=0.0,
            p_value=1e-12,
            threshold=0.1,
            status="alert",
            reason="shifted",
            n=500,
            n_reference=2000,
            details={"bins": [1.0, 2.5, 4.0], "counts": [3, 4], "method": "ks"},
        ),
        CheckResult(
            check="performance.accuracy",
            column=None,
            value=math.nan,  # not finite: stored as null
            threshold=math.inf,
            warning_threshold=0.75,
            status="skipped",
            reason="no labels",
        ),
        CheckResult(check="monitor.label_coverage", column=None, value=0.4, status=status),
    )
    return StoredRun(
        id=0,
        model=model,
        version=version,
        alias="production",
        ran_at=ran_at,
        window_start=ran_at - 24 * HOUR,
        window_end=ran_at,
        reference="baseline",
        source="schedule",
        status=status,
        n_rows=500,
        n_labeled=200,
        label_coverage=0.4,
        duration_seconds=0.125,
        summary={"status": status, "counts": {"ok": 1}, "alerts": [{"check": "x", "column": None}]},
        detectors={"ddm": {"drift": False, "n": 200, "detections": []}},
        checks=checks,
    )


def store(database: Database, run: StoredRun) -> StoredRun:
    with database.write() as conn:
        return replace(run, id=save_run(conn, run))


def test_a_run_round_trips_with_its_checks(database: Database) -> None:
    made = store(database, a_run("churn", T0))
    (loaded,) = load_runs(database, "churn")
    assert loaded.id == made.id > 0
    nan_free = [
        replace(made.checks[0]),
        replace(made.checks[1], value=None, threshold=None),
        replace(made.checks[2]),
    ]
    assert loaded == replace(made, checks=tuple(nan_free))
    assert loaded.ran_at.tzinfo is not None  # aware UTC on SQLite too
    assert loaded.checks[0].details == {"bins": [1.0, 2.5, 4.0], "counts": [3, 4], "method": "ks"}
    json.dumps(loaded.to_dict(), allow_nan=False)
    assert loaded.to_dict()["ran_at"] == T0.isoformat()
    assert load_runs(database, "other") == []


def test_load_runs_filters(database: Database) -> None:
    runs = [
        store(database, a_run("churn", T0, version=1)),
        store(database, a_run("churn", T0 + HOUR, version=1)),
        store(database, a_run("churn", T0 + 2 * HOUR, version=2)),
        store(database, a_run("churn", T0 + 2 * HOUR, version=2, status="alert")),  # same time
        store(database, a_run("churn", T0 + 3 * HOUR, version=1)),
        store(database, a_run("other", T0 + HOUR)),
    ]
    mine = runs[:5]

    def ids(found: list[StoredRun]) -> list[int]:
        return [r.id for r in found]

    db = database
    assert ids(load_runs(db, "churn")) == ids(mine)  # oldest first
    assert ids(load_runs(db, "churn", since=T0 + HOUR)) == ids(mine[1:])  # since is inclusive
    assert ids(load_runs(db, "churn", until=T0 + 2 * HOUR)) == ids(mine[:2])  # until is not
    assert ids(load_runs(db, "churn", since=T0 + HOUR, until=T0 + 3 * HOUR)) == ids(mine[1:4])
    assert ids(load_runs(db, "churn", version=2)) == ids(mine[2:4])
    assert ids(load_runs(db, "churn", last=2)) == ids(mine[3:5])  # the newest two, oldest first
    assert ids(load_runs(db, "churn", last=2, version=1)) == ids([mine[1], mine[4]])
    assert ids(load_runs(db, "churn", last=3, until=T0 + 3 * HOUR)) == ids(mine[1:4])
    naive = load_runs(db, "churn", since=(T0 + 3 * HOUR).replace(tzinfo=None))  # naive = UTC
    assert ids(naive) == ids(mine[4:])
    bare = load_runs(db, "churn", with_checks=False)
    assert [r.checks for r in bare] == [()] * 5
    assert bare[0] == replace(load_runs(db, "churn")[0], checks=())
    with pytest.raises(ModelNotFoundError, match="nosuchmodel"):
        load_runs(db, "nosuchmodel")


def test_latest_runs_gives_the_newest_run_of_each_model(database: Database) -> None:
    assert latest_runs(database) == []
    store(database, a_run("churn", T0))
    newest_churn = store(database, a_run("churn", T0 + HOUR, version=2, status="alert"))
    store(database, a_run("other", T0))
    newest_other = store(database, a_run("other", T0 + 2 * HOUR))
    found = {r.model: r for r in latest_runs(database)}
    assert set(found) == {"churn", "other"}
    assert found["churn"].id == newest_churn.id
    assert found["other"].id == newest_other.id
    assert found["churn"] == load_runs(database, "churn", last=1)[0]
    assert [c.check for c in found["churn"].checks] == [c.check for c in newest_churn.checks]


def test_detector_states_and_the_watermark(database: Database) -> None:
    db = database
    with db.read() as conn:
        mid = model_id(conn, "churn")
        assert load_watermark(conn, mid, 1) is None
        assert load_detector_states(conn, mid, 1) == {}
        with pytest.raises(ModelNotFoundError, match="'nosuchmodel'"):
            model_id(conn, "nosuchmodel")
    v1: dict[str, dict[str, Any]] = {
        "ddm": {"deployed_by": 3, "detector": {"n_seen": 10}},
        "adwin": {"detector": {}},
    }
    with db.write() as conn:
        save_detector_states(conn, mid, 1, v1, T0)
        save_detector_states(conn, mid, 2, {"ddm": {"deployed_by": 7}}, T0)
        save_watermark(conn, mid, 1, None, T0 - HOUR, T0)  # first: inserted
    with db.write() as conn:
        save_detector_states(conn, mid, 1, {"ddm": {"deployed_by": 4}}, T0 + HOUR)  # replaced
        save_watermark(conn, mid, 1, T0 - HOUR, T0 + HOUR, T0 + HOUR)  # then: moved
    with db.read() as conn:
        assert load_detector_states(conn, mid, 1) == {"ddm": {"deployed_by": 4}}
        assert load_detector_states(conn, mid, 2) == {"ddm": {"deployed_by": 7}}
        assert load_watermark(conn, mid, 1) == T0 + HOUR
        assert load_watermark(conn, mid, 2) is None  # per version
        assert load_watermark(conn, model_id(conn, "other"), 1) is None
    with pytest.raises(RuntimeError, match="the run failed"):  # rolled back with the rest
        _fail_after_moving_the_watermark(db, mid)
    with db.read() as conn:
        assert load_watermark(conn, mid, 1) == T0 + HOUR


def test_the_watermark_moves_only_from_where_the_run_found_it(database: Database) -> None:
    db = database
    with db.read() as conn:
        mid = model_id(conn, "churn")
    with db.write() as conn:
        save_watermark(conn, mid, 1, None, T0, T0)
    # Two runs both read T0; the first to commit moves it, the second is refused whole.
    with db.write() as conn:
        save_watermark(conn, mid, 1, T0, T0 + HOUR, T0 + HOUR)
    with pytest.raises(LoopError, match="consumed the same labels first"), db.write() as conn:
        save_watermark(conn, mid, 1, T0, T0 + 2 * HOUR, T0 + 2 * HOUR)
    # Nor can a second first run insert one.
    with pytest.raises(LoopError, match="consumed the same labels first"), db.write() as conn:
        save_watermark(conn, mid, 1, None, T0 + 3 * HOUR, T0 + 3 * HOUR)
    with db.read() as conn:
        assert load_watermark(conn, mid, 1) == T0 + HOUR


def _fail_after_moving_the_watermark(db: Database, mid: int) -> None:
    with db.write() as conn:
        save_watermark(conn, mid, 1, T0 + HOUR, T0 + 5 * HOUR, T0 + 5 * HOUR)
        raise RuntimeError("the run failed after computing its results")


def test_alert_states_round_trip(database: Database) -> None:
    db = database
    assert load_alert_states(db, "churn") == {}
    first = {
        ("churn", "drift.wasserstein", "monthly_charges"): ("alert", T0),
        ("churn", "drift.dataset", ""): ("warning", None),
    }
    save_alert_states(db, "churn", first, T0)
    save_alert_states(db, "other", {("other", "drift.dataset", ""): ("alert", T0)}, T0)
    assert load_alert_states(db, "churn") == first
    update = {("churn", "drift.wasserstein", "monthly_charges"): ("ok", T0 + HOUR)}
    save_alert_states(db, "churn", update, T0 + HOUR)
    save_alert_states(db, "churn", {}, T0 + HOUR)  # nothing to save
    assert load_alert_states(db, "churn") == {**first, **update}
    assert load_alert_states(db, "other") == {("other", "drift.dataset", ""): ("alert", T0)}


def test_a_lease_has_one_holder_until_it_expires(database: Database) -> None:
    db = database

    def take(holder: str, at: datetime, seconds: float = 60) -> bool:
        return acquire_lease(db, "monitor:churn", holder, now=at, seconds=seconds)

    def expiry() -> datetime:
        with db.read() as conn:
            row = conn.execute(select(leases).where(leases.c.name == "monitor:churn")).one()
        return as_utc(row.expires_at)

    assert take("a", T0)
    assert expiry() == T0 + timedelta(seconds=60)
    assert not take("b", T0 + timedelta(seconds=30))
    assert take("a", T0 + timedelta(seconds=40))  # the holder renews
    assert expiry() == T0 + timedelta(seconds=100)
    assert not take("b", T0 + timedelta(seconds=99))  # the renewed lease still holds
    assert acquire_lease(db, "monitor:other", "b", now=T0, seconds=60)  # another name
    assert take("b", T0 + timedelta(seconds=100))  # expired: b takes it over
    assert not take("a", T0 + timedelta(seconds=101))
    release_lease(db, "monitor:churn", "a")  # not a's: nothing happens
    assert not take("a", T0 + timedelta(seconds=102))
    release_lease(db, "monitor:churn", "b")
    assert take("a", T0 + timedelta(seconds=103))
    assert not acquire_lease(db, "monitor:other", "a", now=T0, seconds=60)


def test_only_one_of_many_racing_holders_gets_a_new_lease(database: Database) -> None:
    db = database
    barrier = threading.Barrier(6)
    results: dict[str, bool] = {}
    failures: list[BaseException] = []

    def race(holder: str) -> None:
        try:
            barrier.wait()
            results[holder] = acquire_lease(db, "retrain:churn", holder, now=T0, seconds=60)
        except BaseException as exc:  # reported below, with the test's assertion
            failures.append(exc)

    threads = [threading.Thread(target=race, args=(f"replica-{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(results) == 6
    assert sum(results.values()) == 1
    (winner,) = [h for h, won in results.items() if won]
    with db.read() as conn:
        assert conn.execute(select(leases.c.holder)).scalars().all() == [winner]
