"""The monitoring history in the project database: runs and their check results, the state a
run hands to the next (detectors, the label watermark), alert de-duplication state and leases.

Plain functions over a :class:`~watchkeeper.store.database.Database`; every write that must
happen together (a run, its results, the detector state and the watermark it consumed up to)
takes a connection inside one write transaction from the caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, func, insert, select, update

from watchkeeper.clock import as_utc
from watchkeeper.errors import ModelNotFoundError
from watchkeeper.results import CheckResult
from watchkeeper.store.tables import (
    alert_states,
    check_results,
    detector_states,
    label_watermarks,
    leases,
    monitor_runs,
    registered_models,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from sqlalchemy.engine import Connection

    from watchkeeper.store.database import Database

__all__ = [
    "StoredRun",
    "acquire_lease",
    "latest_runs",
    "load_alert_states",
    "load_detector_states",
    "load_runs",
    "load_watermark",
    "model_id",
    "release_lease",
    "save_alert_states",
    "save_detector_states",
    "save_run",
    "save_watermark",
]


@dataclass(frozen=True, slots=True)
class StoredRun:
    """A monitor run as stored: where it looked, what it found, and its check results."""

    id: int
    model: str
    version: int
    alias: str | None
    ran_at: datetime
    window_start: datetime | None
    window_end: datetime | None
    reference: str
    source: str
    status: str
    n_rows: int
    n_labeled: int
    label_coverage: float | None
    duration_seconds: float
    summary: Mapping[str, Any]
    detectors: Mapping[str, Mapping[str, Any]]
    checks: tuple[CheckResult, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: times in ISO 8601, checks as their dicts."""
        return {
            "id": self.id,
            "model": self.model,
            "version": self.version,
            "alias": self.alias,
            "ran_at": self.ran_at.isoformat(),
            "window_start": None if self.window_start is None else self.window_start.isoformat(),
            "window_end": None if self.window_end is None else self.window_end.isoformat(),
            "reference": self.reference,
            "source": self.source,
            "status": self.status,
            "n_rows": self.n_rows,
            "n_labeled": self.n_labeled,
            "label_coverage": self.label_coverage,
            "duration_seconds": self.duration_seconds,
            "summary": dict(self.summary),
            "detectors": {k: dict(v) for k, v in self.detectors.items()},
            "checks": [c.to_dict() for c in self.checks],
        }


def model_id(conn: Connection, name: str) -> int:
    """The id of registered model ``name``; ModelNotFoundError if there is none."""
    row = conn.execute(
        select(registered_models.c.id).where(registered_models.c.name == name)
    ).first()
    if row is None:
        raise ModelNotFoundError(f"No registered model named {name!r}.")
    return int(row.id)


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def save_run(conn: Connection, run: StoredRun) -> int:
    """Insert ``run`` (its ``id`` is ignored) and its check results; returns the new id."""
    mid = model_id(conn, run.model)
    run_id = conn.execute(
        insert(monitor_runs)
        .values(
            model_id=mid,
            version=run.version,
            alias=run.alias,
            ran_at=as_utc(run.ran_at),
            window_start=None if run.window_start is None else as_utc(run.window_start),
            window_end=None if run.window_end is None else as_utc(run.window_end),
            reference=run.reference,
            source=run.source,
            status=run.status,
            n_rows=run.n_rows,
            n_labeled=run.n_labeled,
            label_coverage=_finite(run.label_coverage),
            duration_seconds=run.duration_seconds,
            summary=dict(run.summary),
            detectors={k: dict(v) for k, v in run.detectors.items()},
        )
        .returning(monitor_runs.c.id)
    ).scalar_one()
    rows = [
        {
            "run_id": run_id,
            "ordinal": i,
            "model_id": mid,
            "version": run.version,
            "ran_at": as_utc(run.ran_at),
            "check": c.check,
            "column": c.column,
            "status": c.status,
            "value": _finite(c.value),
            "reference_value": _finite(c.reference_value),
            "p_value": _finite(c.p_value),
            "threshold": _finite(c.threshold),
            "warning_threshold": _finite(c.warning_threshold),
            "n": c.n,
            "n_reference": c.n_reference,
            "reason": c.reason,
            "details": c.to_dict().get("details") or {},
        }
        for i, c in enumerate(run.checks)
    ]
    if rows:
        conn.execute(insert(check_results), rows)
    return int(run_id)


def load_runs(
    database: Database,
    name: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    version: int | None = None,
    last: int | None = None,
    with_checks: bool = True,
) -> list[StoredRun]:
    """``name``'s runs with ``since <= ran_at < until`` (of one ``version``, or the ``last``
    N), oldest first, each with its check results unless ``with_checks`` is False."""
    with database.read() as conn:
        mid = model_id(conn, name)
        query = select(monitor_runs).where(monitor_runs.c.model_id == mid)
        if since is not None:
            query = query.where(monitor_runs.c.ran_at >= as_utc(since))
        if until is not None:
            query = query.where(monitor_runs.c.ran_at < as_utc(until))
        if version is not None:
            query = query.where(monitor_runs.c.version == version)
        query = query.order_by(monitor_runs.c.ran_at.desc(), monitor_runs.c.id.desc())
        if last is not None:
            query = query.limit(last)
        rows = list(conn.execute(query))[::-1]
        checks: dict[int, list[CheckResult]] = {int(r.id): [] for r in rows}
        if with_checks and rows:
            found = conn.execute(
                select(check_results)
                .where(check_results.c.run_id.in_(list(checks)))
                .order_by(check_results.c.run_id, check_results.c.ordinal)
            )
            for c in found:
                checks[int(c.run_id)].append(_check(c))
    return [_run(name, r, tuple(checks[int(r.id)])) for r in rows]


def _check(row: Any) -> CheckResult:
    return CheckResult(
        check=row.check,
        column=row.column,
        value=row.value,
        reference_value=row.reference_value,
        p_value=row.p_value,
        threshold=row.threshold,
        warning_threshold=row.warning_threshold,
        status=row.status,
        reason=row.reason,
        n=row.n or 0,
        n_reference=row.n_reference or 0,
        details=row.details or {},
    )


def _run(name: str, row: Any, checks: tuple[CheckResult, ...]) -> StoredRun:
    def when(value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)

    return StoredRun(
        id=int(row.id),
        model=name,
        version=int(row.version),
        alias=row.alias,
        ran_at=as_utc(row.ran_at),
        window_start=when(row.window_start),
        window_end=when(row.window_end),
        reference=row.reference,
        source=row.source,
        status=row.status,
        n_rows=int(row.n_rows),
        n_labeled=int(row.n_labeled),
        label_coverage=row.label_coverage,
        duration_seconds=float(row.duration_seconds),
        summary=row.summary or {},
        detectors=row.detectors or {},
        checks=checks,
    )


def latest_runs(database: Database) -> list[StoredRun]:
    """The newest run of every model, with its check results (what ``/metrics`` shows)."""
    with database.read() as conn:
        newest = (
            select(monitor_runs.c.model_id, func.max(monitor_runs.c.id).label("id"))
            .group_by(monitor_runs.c.model_id)
            .subquery()
        )
        rows = list(
            conn.execute(
                select(monitor_runs, registered_models.c.name.label("model_name"))
                .join(newest, newest.c.id == monitor_runs.c.id)
                .join(registered_models, registered_models.c.id == monitor_runs.c.model_id)
            )
        )
        ids = [int(r.id) for r in rows]
        checks: dict[int, list[CheckResult]] = {i: [] for i in ids}
        if ids:
            for c in conn.execute(
                select(check_results)
                .where(check_results.c.run_id.in_(ids))
                .order_by(check_results.c.run_id, check_results.c.ordinal)
            ):
                checks[int(c.run_id)].append(_check(c))
    return [_run(r.model_name, r, tuple(checks[int(r.id)])) for r in rows]


# ---------------------------------------------------------------------- detector state
def load_detector_states(conn: Connection, mid: int, version: int) -> dict[str, dict[str, Any]]:
    """The saved detector states of (model, version), by detector name."""
    rows = conn.execute(
        select(detector_states.c.name, detector_states.c.state).where(
            and_(detector_states.c.model_id == mid, detector_states.c.version == version)
        )
    )
    return {r.name: dict(r.state) for r in rows}


def save_detector_states(
    conn: Connection, mid: int, version: int, states: Mapping[str, Mapping[str, Any]], now: datetime
) -> None:
    """Replace the detector states of (model, version)."""
    conn.execute(
        delete(detector_states).where(
            and_(detector_states.c.model_id == mid, detector_states.c.version == version)
        )
    )
    if states:
        conn.execute(
            insert(detector_states),
            [
                {
                    "model_id": mid,
                    "version": version,
                    "name": name,
                    "state": dict(state),
                    "updated_at": as_utc(now),
                }
                for name, state in states.items()
            ],
        )


def load_watermark(conn: Connection, mid: int, version: int) -> datetime | None:
    """The label arrival time (model, version)'s error stream has consumed up to (None:
    nothing yet)."""
    row = conn.execute(
        select(label_watermarks.c.arrived_at).where(
            and_(label_watermarks.c.model_id == mid, label_watermarks.c.version == version)
        )
    ).first()
    return None if row is None else as_utc(row.arrived_at)


def save_watermark(
    conn: Connection,
    mid: int,
    version: int,
    previous: datetime | None,
    arrived_at: datetime,
    now: datetime,
) -> None:
    """Move (model, version)'s label watermark from ``previous`` to ``arrived_at``, only if it
    is still at ``previous`` (compare-and-set): two runs racing over the same labels cannot
    both feed them. Raises LoopError when another run moved it first."""
    from sqlalchemy.exc import IntegrityError

    from watchkeeper.errors import LoopError

    where = and_(label_watermarks.c.model_id == mid, label_watermarks.c.version == version)
    if previous is not None:
        moved = conn.execute(
            update(label_watermarks)
            .where(where)
            .where(label_watermarks.c.arrived_at == as_utc(previous))
            .values(arrived_at=as_utc(arrived_at), updated_at=as_utc(now))
        ).rowcount
    else:
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(label_watermarks).values(
                        model_id=mid,
                        version=version,
                        arrived_at=as_utc(arrived_at),
                        updated_at=as_utc(now),
                    )
                )
            moved = 1
        except IntegrityError:
            moved = 0
    if moved != 1:
        raise LoopError(
            f"Another monitor run of version {version} consumed the same labels first; this "
            "run was not stored (run it again)."
        )


# ---------------------------------------------------------------------- alert state
def load_alert_states(
    database: Database, name: str
) -> dict[tuple[str, str, str], tuple[str, datetime | None]]:
    """Per (model, check, column or ""), the last status alerted on and when it was sent."""
    with database.read() as conn:
        mid = model_id(conn, name)
        rows = conn.execute(select(alert_states).where(alert_states.c.model_id == mid))
        return {
            (name, r.check, r.column): (r.status, None if r.sent_at is None else as_utc(r.sent_at))
            for r in rows
        }


def save_alert_states(
    database: Database,
    name: str,
    states: Mapping[tuple[str, str, str], tuple[str, datetime | None]],
    now: datetime,
) -> None:
    """Upsert the alert states of ``name`` (keys as :func:`load_alert_states` gives them)."""
    if not states:
        return
    with database.write() as conn:
        mid = model_id(conn, name)
        for (_, check, column), (status, sent_at) in states.items():
            values = {
                "status": status,
                "sent_at": None if sent_at is None else as_utc(sent_at),
                "updated_at": as_utc(now),
            }
            where = and_(
                alert_states.c.model_id == mid,
                alert_states.c.check == check,
                alert_states.c.column == column,
            )
            if conn.execute(update(alert_states).where(where).values(**values)).rowcount == 0:
                conn.execute(
                    insert(alert_states).values(model_id=mid, check=check, column=column, **values)
                )


# ---------------------------------------------------------------------- leases
def acquire_lease(
    database: Database, name: str, holder: str, *, now: datetime, seconds: float
) -> bool:
    """Take (or renew) the lease ``name`` for ``holder`` until ``now + seconds``; False when
    another holder's lease has not expired. One replica at a time runs a scheduled job."""
    from datetime import timedelta

    until = as_utc(now) + timedelta(seconds=seconds)
    with database.write() as conn:
        if conn.dialect.name == "postgresql":  # the row may not exist yet: lock the name
            conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(name))))
        row = conn.execute(select(leases).where(leases.c.name == name)).first()
        if row is None:
            conn.execute(insert(leases).values(name=name, holder=holder, expires_at=until))
            return True
        if row.holder != holder and as_utc(row.expires_at) > as_utc(now):
            return False
        conn.execute(
            update(leases).where(leases.c.name == name).values(holder=holder, expires_at=until)
        )
        return True


def release_lease(database: Database, name: str, holder: str) -> None:
    """Give up ``holder``'s lease ``name`` (nothing if another holder has it)."""
    with database.write() as conn:
        conn.execute(delete(leases).where(and_(leases.c.name == name, leases.c.holder == holder)))
