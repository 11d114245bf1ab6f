"""Scheduled monitor cycles: ``monitor.schedule`` run by the server, once per slot across
every worker and replica.

:class:`MonitorScheduler` runs in a daemon thread beside the event loop (a monitor run reads
and scores a whole window; it must never hold up requests). Every ``poll_seconds`` of wall
time it reads the *project clock* (a :class:`~watchkeeper.clock.SimulatedClock` in the demo and
the tests) and runs each monitored model whose slot is due, one model after another.

Slots
    ``cron``: the expression's fire times (five fields, UTC). ``every``: the multiples of the
    period counted from ``anchor`` (default the Unix epoch, so ``every: 1d`` runs at 00:00 UTC
    and ``every: 6h`` at 00:00, 06:00, 12:00 and 18:00). Every worker and replica computes the
    same slots without talking to the others, and a restart neither delays nor repeats one.
    A model's first run is at the first slot after the scheduler starts (or after the model
    is first served), so at most one period later. When the clock jumps over several slots
    (a busy or suspended process, a simulated clock moved by days) the model runs once, and
    its next slot is the first one after that run.
One run per slot
    Before running, a worker takes the lease ``monitor:<model>`` (holder
    ``host:pid:random``) for ``lease_seconds``; if another holder has it, the slot is
    skipped here. After the run the lease is kept until the model's next slot, rather than
    released: a worker that polls a moment later must not run the same slot again. A worker
    that dies mid-run keeps the lease for at most ``lease_seconds``, so at worst the slots
    within that time are missed. The lease works the same on SQLite (the workers of one
    server) and PostgreSQL (replicas).
Failures
    A job that raises is logged (logger ``watchkeeper.server``) and recorded in
    :attr:`MonitorScheduler.outcomes`; the thread goes on to the next model and the next
    slot. Nothing the job does can stop the server.

Examples
--------
>>> from datetime import UTC, datetime, timedelta
>>> from watchkeeper.config._ops import Schedule
>>> slots = Slots(Schedule(every=timedelta(hours=6)))
>>> slots.next_after(datetime(2026, 3, 1, 7, 30, tzinfo=UTC)).isoformat()
'2026-03-01T12:00:00+00:00'
>>> Slots(Schedule(cron="30 2 * * 1")).next_after(datetime(2026, 3, 1, tzinfo=UTC)).isoformat()
'2026-03-02T02:30:00+00:00'
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from watchkeeper.clock import as_utc
from watchkeeper.errors import InvalidParameterError

if TYPE_CHECKING:
    from watchkeeper.config._ops import Schedule
    from watchkeeper.registry import Project

__all__ = ["MonitorScheduler", "SlotOutcome", "Slots", "run_scheduled_cycle"]

logger = logging.getLogger("watchkeeper.server")

#: The start of ``every`` slots unless told otherwise.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: How long a lease taken for a run lasts if its holder never comes back (project clock).
LEASE_SECONDS = 15 * 60.0

Job = Callable[["Project", str], Any]


def run_scheduled_cycle(project: Project, name: str) -> Any:
    """The default job: one monitor cycle of ``name`` (monitor run, alerts, guard, policy and
    actions; :func:`watchkeeper.ops._loop.run_cycle`) with ``source="schedule"``."""
    from watchkeeper.ops._loop import run_cycle

    return run_cycle(project, name, source="schedule")


class Slots:
    """The slot times of a :class:`~watchkeeper.config._ops.Schedule` (see the module
    docstring): ``every`` counted from ``anchor``, or ``cron`` in UTC."""

    def __init__(self, schedule: Schedule, *, anchor: datetime = EPOCH) -> None:
        self.schedule = schedule
        self.anchor = as_utc(anchor)
        if schedule.every is not None and schedule.every <= timedelta(0):
            raise InvalidParameterError(
                f"A schedule's every must be a positive duration. Got {schedule.every}."
            )

    def next_after(self, when: datetime) -> datetime:
        """The first slot strictly after ``when``."""
        when = as_utc(when)
        every = self.schedule.every
        if every is not None:
            periods = (when - self.anchor) // every
            return self.anchor + (periods + 1) * every
        from croniter import croniter

        found: datetime = croniter(self.schedule.cron, when).get_next(datetime)
        return as_utc(found)


@dataclass(frozen=True, slots=True)
class SlotOutcome:
    """What became of one model's slot on this worker.

    ``outcome`` is ``ok`` (the job ran), ``error`` (the job or the lease raised; ``error``
    says what) or ``skipped`` (another worker or replica holds the lease). Times are the
    project clock's.
    """

    model: str
    due: datetime
    outcome: Literal["ok", "error", "skipped"]
    started_at: datetime
    finished_at: datetime
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, times in ISO 8601."""
        return {
            "model": self.model,
            "due": self.due.isoformat(),
            "outcome": self.outcome,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "error": self.error,
        }


def _holder() -> str:
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class MonitorScheduler:
    """Runs ``job(project, model)`` for every monitored model at each slot of ``schedule``.

    Parameters
    ----------
    project
        The open project: its clock decides when a slot is due, its database holds the leases.
    schedule
        ``monitor.schedule``.
    models
        The monitored models, or a function returning them (read at every poll, so models
        deployed later join): ``monitor.models``, or the models the server serves.
    job
        What runs per slot (default :func:`run_scheduled_cycle`); its return value is ignored.
    poll_seconds
        Wall-clock seconds between two reads of the project clock.
    lease_seconds
        How long a run's lease lasts if the worker never finishes it (project clock).
    anchor
        Where ``every`` slots are counted from (default the Unix epoch).
    holder
        This scheduler's name in the leases (default ``host:pid:random``).

    Raises
    ------
    InvalidParameterError
        ``poll_seconds`` or ``lease_seconds`` is not a positive number.
    """

    def __init__(
        self,
        project: Project,
        schedule: Schedule,
        *,
        models: Iterable[str] | Callable[[], Iterable[str]],
        job: Job | None = None,
        poll_seconds: float = 1.0,
        lease_seconds: float = LEASE_SECONDS,
        anchor: datetime = EPOCH,
        holder: str | None = None,
    ) -> None:
        for what, value in (("poll_seconds", poll_seconds), ("lease_seconds", lease_seconds)):
            if not (isinstance(value, int | float) and not isinstance(value, bool) and value > 0):
                raise InvalidParameterError(
                    f"MonitorScheduler's {what} must be a positive number of seconds. "
                    f"Got {value!r}."
                )
        self.project = project
        self.schedule = schedule
        self.slots = Slots(schedule, anchor=anchor)
        self.job: Job = job if job is not None else run_scheduled_cycle
        self.poll_seconds = float(poll_seconds)
        self.lease_seconds = float(lease_seconds)
        self.holder = holder or _holder()
        self._models: Callable[[], Iterable[str]]
        if callable(models):
            self._models = models
        else:
            fixed = list(models)
            self._models = lambda: fixed
        #: The newest outcome per model (for introspection; this worker's view only).
        self.outcomes: dict[str, SlotOutcome] = {}
        #: Completed polls (tests wait on it instead of on time).
        self.polls = 0
        self._due: dict[str, datetime] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"MonitorScheduler({self.schedule!r}, holder={self.holder!r})"

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Note the models' first slots (after now) and start polling in a daemon thread."""
        if self._thread is not None:
            raise InvalidParameterError("This MonitorScheduler was started already.")
        now = as_utc(self.project.clock.now())
        for name in self._model_names():
            self._due.setdefault(name, self.slots.next_after(now))
        self._thread = threading.Thread(
            target=self._loop, name="watchkeeper-monitor-scheduler", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> bool:
        """Stop polling and wait (up to ``timeout`` seconds) for a running job to end; returns
        whether the thread has ended (a job still running is left to finish on its own)."""
        self._stop.set()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            logger.warning(
                "The monitor scheduler is still running a job after %s s; not waiting for it.",
                timeout,
            )
            return False
        return True

    @property
    def running(self) -> bool:
        """Whether the polling thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def next_due(self) -> dict[str, datetime]:
        """Each known model's next slot."""
        return dict(self._due)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.tick()
            except Exception:  # the thread must outlive anything a poll runs into
                logger.exception("A poll of the monitor scheduler failed; it goes on.")

    # ------------------------------------------------------------------ one poll
    def _model_names(self) -> list[str]:
        return list(dict.fromkeys(self._models() or ()))

    def tick(self) -> list[SlotOutcome]:
        """One poll: run every model whose slot is due on the project clock; returns what
        became of them. (The thread calls it; a test may call it directly instead.)"""
        try:
            now = as_utc(self.project.clock.now())
            done = []
            for name in self._model_names():
                if self._stop.is_set():
                    break
                due = self._due.get(name)
                if due is None:  # a model served since the start: its first slot after now
                    self._due[name] = self.slots.next_after(now)
                    continue
                if now < due:
                    continue
                self._due[name] = self.slots.next_after(now)
                done.append(self._run(name, due, now))
                now = as_utc(self.project.clock.now())
            return done
        finally:
            self.polls += 1

    def _run(self, name: str, due: datetime, now: datetime) -> SlotOutcome:
        from watchkeeper.ops._history import acquire_lease

        lease = f"monitor:{name}"
        database = self.project.database
        try:
            taken = acquire_lease(database, lease, self.holder, now=now, seconds=self.lease_seconds)
        except Exception as exc:
            logger.exception("Could not take the lease %r; the slot due %s is skipped.", lease, due)
            return self._record(name, due, "error", now, f"lease: {type(exc).__name__}: {exc}")
        if not taken:
            logger.debug("Another worker holds %r: it runs the slot due %s.", lease, due)
            return self._record(name, due, "skipped", now, None)
        outcome: Literal["ok", "error"] = "ok"
        error = None
        try:
            self.job(self.project, name)
        except Exception as exc:
            outcome, error = "error", f"{type(exc).__name__}: {exc}"
            logger.exception("The scheduled monitor cycle of %r (slot %s) failed.", name, due)
        finally:
            self._keep_lease_until_next_slot(lease, name)
        return self._record(name, due, outcome, now, error)

    def _keep_lease_until_next_slot(self, lease: str, name: str) -> None:
        from watchkeeper.ops._history import acquire_lease, release_lease

        database = self.project.database
        try:
            now = as_utc(self.project.clock.now())
            left = (self._due[name] - now).total_seconds()
            if left > 0:
                acquire_lease(database, lease, self.holder, now=now, seconds=left)
            else:
                release_lease(database, lease, self.holder)
        except Exception:
            logger.exception("Could not update the lease %r after its run.", lease)

    def _record(
        self,
        name: str,
        due: datetime,
        outcome: Literal["ok", "error", "skipped"],
        started: datetime,
        error: str | None,
    ) -> SlotOutcome:
        result = SlotOutcome(
            model=name,
            due=due,
            outcome=outcome,
            started_at=started,
            finished_at=as_utc(self.project.clock.now()),
            error=error,
        )
        self.outcomes[name] = result
        return result
