"""MonitorScheduler: slots on the project clock (``every`` and ``cron``), one run per slot per
model, the lease across workers (SQLite and PostgreSQL), failures logged and survived, a prompt
stop, and the app starting and stopping it.

Every test drives a SimulatedClock and waits for the scheduler's polls (bounded), never for
time: "nothing ran" is asserted after the scheduler has polled twice since the clock moved.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient

from watchkeeper.clock import SimulatedClock
from watchkeeper.config._ops import Schedule
from watchkeeper.errors import InvalidParameterError
from watchkeeper.ops._history import acquire_lease
from watchkeeper.registry import Project
from watchkeeper.server import _scheduler, create_app
from watchkeeper.server._scheduler import EPOCH, MonitorScheduler, Slots

START = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
MODELS = ["churn", "price"]
WAIT = 30.0  # seconds: the bound on every wait, so that a hang fails instead of blocking
POLL = 0.005


def _until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.002)


def _settle(*schedulers: MonitorScheduler) -> None:
    """Wait until every scheduler has begun and finished a poll after this call."""
    seen = [s.polls for s in schedulers]
    _until(
        lambda: all(s.polls >= n + 2 for s, n in zip(schedulers, seen, strict=True)),
        "two polls",
    )


class Recorder:
    """A job that records (model, project time) and raises for the models in ``fail``."""

    def __init__(self, fail: tuple[str, ...] = ()) -> None:
        self.fail = fail
        self.calls: list[tuple[str, datetime]] = []
        self._lock = threading.Lock()

    def __call__(self, project: Project, name: str) -> None:
        with self._lock:
            self.calls.append((name, project.clock.now()))
        if name in self.fail:
            raise RuntimeError(f"the cycle of {name} broke")

    def reached(self, n: int) -> Callable[[], bool]:
        return lambda: len(self.calls) >= n

    def names(self) -> list[str]:
        with self._lock:
            return sorted(name for name, _ in self.calls)


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def project(tmp_path: Path, clock: SimulatedClock) -> Iterator[Project]:
    with Project.init(tmp_path / "project", clock=clock) as opened:
        yield opened


@pytest.fixture
def started() -> Iterator[list[MonitorScheduler]]:
    """Schedulers a test started; stopped (and checked stopped) after it."""
    running: list[MonitorScheduler] = []
    yield running
    for scheduler in running:
        assert scheduler.stop(timeout=WAIT)


def _start(
    started: list[MonitorScheduler],
    project: Project,
    job: Recorder,
    schedule: Schedule | None = None,
    **kwargs: Any,
) -> MonitorScheduler:
    scheduler = MonitorScheduler(
        project,
        schedule or Schedule(every=HOUR),
        models=kwargs.pop("models", MODELS),
        job=job,
        poll_seconds=kwargs.pop("poll_seconds", POLL),
        **kwargs,
    )
    scheduler.start()
    started.append(scheduler)
    return scheduler


# ---------------------------------------------------------------------------- slots
def test_every_slots_are_multiples_of_the_period_from_the_anchor() -> None:
    six = Slots(Schedule(every=timedelta(hours=6)))
    assert six.next_after(datetime(2026, 3, 1, 7, 30, tzinfo=UTC)) == datetime(
        2026, 3, 1, 12, tzinfo=UTC
    )
    # strictly after: a time on a slot gives the next one
    assert six.next_after(datetime(2026, 3, 1, 12, tzinfo=UTC)) == datetime(
        2026, 3, 1, 18, tzinfo=UTC
    )
    # a period that does not divide a day still counts from the epoch
    seven = Slots(Schedule(every=timedelta(hours=7)))
    after = datetime(2026, 3, 1, tzinfo=UTC)
    hours = (after - EPOCH) // timedelta(hours=7) + 1
    assert seven.next_after(after) == EPOCH + hours * timedelta(hours=7)
    assert (seven.next_after(after) - EPOCH) % timedelta(hours=7) == timedelta(0)
    anchored = Slots(Schedule(every=HOUR), anchor=datetime(2026, 1, 1, 0, 20, tzinfo=UTC))
    assert anchored.next_after(datetime(2026, 1, 1, 5, tzinfo=UTC)) == datetime(
        2026, 1, 1, 5, 20, tzinfo=UTC
    )
    # a naive time is UTC
    assert six.next_after(datetime(2026, 3, 1, 7, 30)) == datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cron", "after", "expected"),
    [
        ("0 2 * * *", "2026-01-01T00:00", ["2026-01-01T02:00", "2026-01-02T02:00"]),
        ("0 2 * * *", "2026-01-01T02:00", ["2026-01-02T02:00", "2026-01-03T02:00"]),
        ("*/15 * * * *", "2026-01-01T10:07:30", ["2026-01-01T10:15", "2026-01-01T10:30"]),
        # Mondays at 06:30 (2026-01-05 is a Monday)
        ("30 6 * * 1", "2026-01-01T00:00", ["2026-01-05T06:30", "2026-01-12T06:30"]),
        # the last day of February, then March's first
        ("0 0 1 * *", "2026-02-15T00:00", ["2026-03-01T00:00", "2026-04-01T00:00"]),
    ],
)
def test_cron_slots(cron: str, after: str, expected: list[str]) -> None:
    slots = Slots(Schedule(cron=cron))
    found = []
    when = datetime.fromisoformat(after).replace(tzinfo=UTC)
    for _ in expected:
        when = slots.next_after(when)
        found.append(when)
    assert found == [datetime.fromisoformat(e).replace(tzinfo=UTC) for e in expected]


def test_bad_settings_are_refused(project: Project) -> None:
    for what in ("poll_seconds", "lease_seconds"):
        for bad in (0, -1.0, True, "1"):
            settings: dict[str, Any] = {what: bad}
            with pytest.raises(InvalidParameterError, match=what):
                MonitorScheduler(project, Schedule(every=HOUR), models=MODELS, **settings)
    scheduler = MonitorScheduler(project, Schedule(every=HOUR), models=MODELS, job=Recorder())
    scheduler.start()
    try:
        with pytest.raises(InvalidParameterError, match="started already"):
            scheduler.start()
    finally:
        assert scheduler.stop(timeout=WAIT)


# ---------------------------------------------------------------------------- runs
def test_nothing_runs_before_the_slot_then_each_model_once_per_slot(
    project: Project, clock: SimulatedClock, started: list[MonitorScheduler]
) -> None:
    job = Recorder()
    scheduler = _start(started, project, job)
    assert scheduler.next_due() == dict.fromkeys(MODELS, START + HOUR)
    _settle(scheduler)
    assert job.calls == []
    clock.advance(HOUR - timedelta(seconds=1))
    _settle(scheduler)
    assert job.calls == []
    clock.advance(timedelta(seconds=1))
    _until(lambda: len(job.calls) == 2, "the first slot")
    _settle(scheduler)  # no second run in the same slot
    assert sorted(job.calls) == [("churn", START + HOUR), ("price", START + HOUR)]
    assert {m: o.outcome for m, o in scheduler.outcomes.items()} == {"churn": "ok", "price": "ok"}
    assert scheduler.outcomes["churn"].due == START + HOUR
    clock.advance(HOUR / 2)
    _settle(scheduler)
    assert len(job.calls) == 2
    clock.advance(HOUR / 2)
    _until(lambda: len(job.calls) == 4, "the second slot")
    _settle(scheduler)
    assert job.names() == ["churn", "churn", "price", "price"]
    assert scheduler.next_due() == dict.fromkeys(MODELS, START + 3 * HOUR)


def test_a_clock_jump_over_several_slots_runs_once(
    project: Project, clock: SimulatedClock, started: list[MonitorScheduler]
) -> None:
    job = Recorder()
    scheduler = _start(started, project, job, models=["churn"])
    clock.advance(5 * HOUR + timedelta(minutes=10))
    _until(lambda: len(job.calls) == 1, "the run")
    _settle(scheduler)
    assert job.calls == [("churn", START + 5 * HOUR + timedelta(minutes=10))]
    assert scheduler.outcomes["churn"].due == START + HOUR  # the slot it was waiting for
    assert scheduler.next_due() == {"churn": START + 6 * HOUR}


def test_models_are_read_at_every_poll(
    project: Project, clock: SimulatedClock, started: list[MonitorScheduler]
) -> None:
    served = ["churn"]
    job = Recorder()
    scheduler = _start(started, project, job, models=lambda: list(served))
    clock.advance(HOUR / 2)
    served.append("price")  # deployed later: its first slot is the next one
    _settle(scheduler)
    assert scheduler.next_due() == {"churn": START + HOUR, "price": START + HOUR}
    clock.advance(HOUR / 2)
    _until(lambda: len(job.calls) == 2, "both models")
    assert job.names() == ["churn", "price"]


def test_a_held_lease_skips_the_slot(
    project: Project, clock: SimulatedClock, started: list[MonitorScheduler]
) -> None:
    assert acquire_lease(
        project.database, "monitor:churn", "another-replica", now=START, seconds=1.5 * 3600
    )
    job = Recorder()
    scheduler = _start(started, project, job)
    clock.advance(HOUR)
    _until(lambda: len(scheduler.outcomes) == 2, "both slots decided")
    _settle(scheduler)
    assert job.names() == ["price"]
    skipped = scheduler.outcomes["churn"]
    assert skipped.outcome == "skipped"
    clock.advance(HOUR)  # the other holder's lease has expired: this one takes it
    _until(lambda: len(job.calls) == 3, "the next slot")
    assert job.names() == ["churn", "price", "price"]
    assert scheduler.outcomes["churn"].outcome == "ok"
    assert skipped.to_dict()["outcome"] == "skipped"


def test_after_a_run_the_lease_is_kept_until_the_next_slot(
    project: Project, clock: SimulatedClock, started: list[MonitorScheduler]
) -> None:
    job = Recorder()
    scheduler = _start(started, project, job, models=["churn"], holder="worker-a")
    clock.advance(HOUR)
    _until(lambda: "churn" in scheduler.outcomes, "the run")
    # another worker polling later in the same slot cannot take it ...
    assert not acquire_lease(
        project.database, "monitor:churn", "worker-b", now=clock.now(), seconds=60
    )
    # ... until the next slot begins
    assert acquire_lease(
        project.database, "monitor:churn", "worker-b", now=START + 2 * HOUR, seconds=60
    )


def test_a_failing_job_is_logged_and_the_next_slot_still_runs(
    project: Project,
    clock: SimulatedClock,
    started: list[MonitorScheduler],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="watchkeeper.server")
    job = Recorder(fail=("churn",))
    scheduler = _start(started, project, job)
    clock.advance(HOUR)
    _until(lambda: len(scheduler.outcomes) == 2, "the first slot")
    failed = scheduler.outcomes["churn"]
    assert failed.outcome == "error"
    assert failed.error == "RuntimeError: the cycle of churn broke"
    assert scheduler.outcomes["price"].outcome == "ok"
    logged = [r for r in caplog.records if "scheduled monitor cycle of 'churn'" in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    clock.advance(HOUR)
    _until(lambda: len(job.calls) == 4, "the second slot")
    assert scheduler.running
    assert job.names() == ["churn", "churn", "price", "price"]


def test_a_failing_lease_is_logged_and_polling_goes_on(
    project: Project,
    clock: SimulatedClock,
    started: list[MonitorScheduler],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import watchkeeper.ops._history as history

    real = history.acquire_lease
    broken = {"on": True}

    def flaky(*args: Any, **kwargs: Any) -> bool:
        if broken["on"]:
            raise OSError("the database is gone")
        return real(*args, **kwargs)

    monkeypatch.setattr(history, "acquire_lease", flaky)
    caplog.set_level(logging.ERROR, logger="watchkeeper.server")
    job = Recorder()
    scheduler = _start(started, project, job, models=["churn"])
    clock.advance(HOUR)
    _until(lambda: "churn" in scheduler.outcomes, "the slot")
    assert scheduler.outcomes["churn"].outcome == "error"
    assert "the database is gone" in (scheduler.outcomes["churn"].error or "")
    assert job.calls == []
    assert any("Could not take the lease" in r.getMessage() for r in caplog.records)
    broken["on"] = False
    clock.advance(HOUR)
    _until(lambda: len(job.calls) == 1, "the next slot")


def test_stop_ends_the_thread_and_leaves_a_stuck_job_to_finish(
    project: Project, clock: SimulatedClock
) -> None:
    idle = MonitorScheduler(
        project, Schedule(every=HOUR), models=MODELS, job=Recorder(), poll_seconds=3600
    )
    idle.start()
    assert idle.running
    assert idle.stop(timeout=WAIT)  # a long poll interval does not delay the stop
    assert not idle.running

    entered, release = threading.Event(), threading.Event()

    def stuck(project: Project, name: str) -> None:
        entered.set()
        release.wait(WAIT)

    busy = MonitorScheduler(
        project, Schedule(every=HOUR), models=MODELS, job=stuck, poll_seconds=POLL
    )
    busy.start()
    clock.advance(HOUR)
    assert entered.wait(WAIT)
    assert busy.stop(timeout=0.05) is False  # the job is still running: not waited for
    release.set()
    assert busy.stop(timeout=WAIT)
    assert not busy.running
    # it stopped after the first model: the stop is honoured between models
    assert set(busy.outcomes) == {"churn"}


def test_a_cron_schedule_runs_at_its_fire_times(
    project: Project, clock: SimulatedClock, started: list[MonitorScheduler]
) -> None:
    job = Recorder()
    scheduler = _start(started, project, job, Schedule(cron="30 2 * * *"), models=["churn"])
    assert scheduler.next_due() == {"churn": START + timedelta(hours=2, minutes=30)}
    clock.advance(timedelta(hours=2, minutes=29))
    _settle(scheduler)
    assert job.calls == []
    clock.advance(timedelta(minutes=1))
    _until(lambda: len(job.calls) == 1, "02:30")
    clock.advance(timedelta(hours=23))
    _settle(scheduler)
    assert len(job.calls) == 1
    clock.advance(timedelta(hours=1))
    _until(lambda: len(job.calls) == 2, "the next day's 02:30")
    assert [t for _, t in job.calls] == [
        START + timedelta(hours=2, minutes=30),
        START + timedelta(days=1, hours=2, minutes=30),
    ]


# ---------------------------------------------------------------------------- two workers
def test_two_schedulers_on_one_database_run_each_slot_once(
    tmp_path: Path, database_url: str, clock: SimulatedClock
) -> None:
    folder = tmp_path / "shared"
    job = Recorder()
    with (
        Project.init(folder, database_url=database_url, clock=clock) as first,
        Project(folder, clock=clock) as second,
    ):
        workers = [
            MonitorScheduler(
                p, Schedule(every=HOUR), models=MODELS, job=job, poll_seconds=POLL, holder=h
            )
            for p, h in ((first, "worker-1"), (second, "worker-2"))
        ]
        for worker in workers:
            worker.start()
        try:
            for slot in range(1, 5):
                clock.advance(HOUR)
                _until(job.reached(2 * slot), f"slot {slot}")
                _settle(*workers)
                per_slot = Counter(job.calls)
                assert len(job.calls) == 2 * slot, job.calls
                assert set(per_slot.values()) == {1}
                assert sorted(per_slot) == sorted(
                    (m, START + k * HOUR) for m in MODELS for k in range(1, slot + 1)
                )
            outcomes = [o.outcome for w in workers for o in w.outcomes.values()]
            assert sorted(outcomes) == ["ok", "ok", "skipped", "skipped"]
        finally:
            for worker in workers:
                assert worker.stop(timeout=WAIT)


# ---------------------------------------------------------------------------- the app
def _write_monitor(folder: Path, **settings: Any) -> None:
    path = folder / "watchkeeper.yaml"
    data = yaml.safe_load(path.read_text()) or {}
    data.setdefault("monitor", {}).update(settings)
    path.write_text(yaml.safe_dump(data))


def test_the_app_runs_the_served_models_on_the_schedule_and_stops_it(
    sqlite_project: Path, monkeypatch: pytest.MonkeyPatch, churn_frames: dict[str, pd.DataFrame]
) -> None:
    job = Recorder()
    monkeypatch.setattr(_scheduler, "run_scheduled_cycle", job)
    _write_monitor(sqlite_project, schedule={"every": "1h"})
    clock = SimulatedClock(START + timedelta(minutes=5))
    with Project(sqlite_project, clock=clock) as project:
        app = create_app(project, environ={})
        with TestClient(app):
            scheduler = app.state.wk.scheduler
            assert scheduler is not None
            assert scheduler.running
            assert scheduler.poll_seconds == 1.0
            assert scheduler.next_due() == {"churn": START + HOUR}
            scheduler.poll_seconds = POLL  # read at each wait: no need to wait a second
            _settle(scheduler)
            clock.advance(HOUR)
            _until(lambda: len(job.calls) == 1, "the scheduled cycle")
            assert job.calls == [("churn", START + HOUR + timedelta(minutes=5))]
        assert not scheduler.running

    _write_monitor(sqlite_project, schedule=None)
    with Project(sqlite_project, clock=clock) as project:
        app = create_app(project, environ={})
        with TestClient(app):
            assert app.state.wk.scheduler is None


def test_the_default_job_runs_a_cycle_with_the_schedule_as_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys
    import types

    seen: list[tuple[Any, str, str]] = []
    loop = types.ModuleType("watchkeeper.ops._loop")

    def run_cycle(project: Any, name: str, *, source: str = "manual") -> str:
        seen.append((project, name, source))
        return "done"

    loop.run_cycle = run_cycle  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "watchkeeper.ops._loop", loop)
    assert _scheduler.run_scheduled_cycle("the project", "churn") == "done"  # type: ignore[arg-type]
    assert seen == [("the project", "churn", "schedule")]
