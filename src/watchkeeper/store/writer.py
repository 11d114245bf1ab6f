"""Group commit: the server's durable path into the prediction log.

A response is sent only after its rows are committed, so an acknowledged prediction survives
``kill -9`` of the server. Rather than one transaction (and WAL flush) per request, one writer
thread commits the batches of concurrent requests together (*group commit*): it waits for a
first batch, collects until ``max_delay`` seconds have passed since that batch was queued or
``max_rows`` rows are gathered, writes the group with
:meth:`~watchkeeper.store.predictions.PredictionLog.append` in one transaction, and only then
resolves the batches' futures. Under load the queue fills while a group commits, so the next
group goes out at once: transactions grow much more slowly than requests.

One bad batch does not sink its group: when the group's transaction fails, each of its batches
is retried in a transaction of its own, so only the batches that cannot be written (a request
id logged before, an unknown model) get an exception; the others are committed. If a retry
finds the database unavailable (a :class:`~watchkeeper.errors.StoreError` from a connection or
lock failure), the rest of the group fails with that error without further attempts.

What "committed" guarantees depends on the database:

* **SQLite** runs in WAL mode with ``synchronous=NORMAL`` (as
  :mod:`watchkeeper.store.database` configures it): a committed transaction is in the WAL file
  (in the operating system's cache) before the commit returns, so it survives a crash or
  ``kill -9`` of the process. It is fsynced at the next checkpoint, so an operating-system
  crash or power loss may lose the last transactions (the database stays consistent).
* **PostgreSQL** follows its ``synchronous_commit`` setting. With the default (``on``) a commit
  returns after its WAL is flushed to disk, so it survives a crash of the client, of the
  server and of the machine; with ``off`` a server crash may lose the commits of the last
  three ``wal_writer_delay`` (0.6 s by default). A client crash never loses a commit.

``durability="async"`` trades that guarantee for latency: a batch's future resolves as soon as
the batch is queued and the writer commits it in the background, so a crash loses whatever was
queued; batches that cannot be written are logged (logger ``watchkeeper.store.writer``) and
counted in :attr:`GroupCommitWriter.failed_batches`, as no caller waits for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from sqlalchemy.exc import OperationalError

from watchkeeper.errors import InvalidParameterError, StoreError
from watchkeeper.store.predictions import PredictionBatch

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    import numpy as np

    from watchkeeper.store.predictions import PredictionLog

__all__ = ["DURABILITIES", "GroupCommitWriter", "PendingRows"]

logger = logging.getLogger(__name__)

DURABILITIES = ("sync", "async")


@dataclass(frozen=True, eq=False)
class PendingRows:
    """One request's rows, not yet assembled into an Arrow table: the server's cheap form.

    The writer assembles the rows of a whole group at once (one
    :func:`~watchkeeper.store.predictions.make_batch` per model version and role, in its own
    thread), so a request pays only for building this record. ``inputs`` and ``outputs`` are
    1-D arrays of ``n_rows`` values; ``event_time`` is one UTC time for every row, or one per
    row; ``keys`` are the id-column values (or None).
    """

    model: str
    version: int
    role: str
    request_id: str
    inputs: Mapping[str, np.ndarray]
    outputs: Mapping[str, np.ndarray]
    event_time: datetime | Sequence[datetime] | Any
    keys: Sequence[str | None] | None
    n_rows: int

    def batch(self) -> PredictionBatch:
        """This request alone as a batch (what a retry after a failed group writes)."""
        from watchkeeper.store.predictions import make_batch

        return make_batch(
            self.model,
            self.version,
            dict(self.inputs),
            dict(self.outputs),
            request_id=self.request_id,
            event_time=self.event_time,
            keys=self.keys,
            role=self.role,
        )


@dataclass(eq=False)
class _Pending:
    """A queued batch, the future its submitter holds, and when it was queued."""

    batch: PredictionBatch | PendingRows
    future: Future[None]
    queued_at: float
    # An asyncio waiter (write()): resolved in one loop callback per group, not one per batch.
    waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None = None


class GroupCommitWriter:
    """Write prediction batches from many threads in few transactions (group commit).

    Parameters
    ----------
    log
        The prediction log the batches are appended to.
    max_delay
        Seconds a group stays open after its first batch was queued, to gather more batches.
    max_rows
        Rows that close a group early. A group never exceeds it, except a single batch that
        is larger on its own (it is written alone).
    max_queue
        Batches that may wait in the queue; :meth:`submit` refuses more (back-pressure).
    durability
        ``"sync"``: a batch's future resolves once its transaction has committed.
        ``"async"``: it resolves as soon as the batch is queued; a crash loses what was queued.
    on_commit
        Called in the writer's thread after each commit with its duration in seconds and its
        row count (the server's commit-latency histogram); an exception it raises is logged.

    Raises
    ------
    InvalidParameterError
        A parameter is out of range.

    Notes
    -----
    Batches submitted before :meth:`start` wait in the queue until the writer starts (or
    :meth:`close` flushes them). A future cancelled before the writer takes its batch is
    dropped (the batch is not written); once taken, ``cancel()`` returns False and the batch
    is written. The writer thread is a daemon: call :meth:`close` (or use the writer as a
    context manager) to flush the queue before the process exits.

    Examples
    --------
    >>> import tempfile, watchkeeper
    >>> from watchkeeper.datasets import churn, train_churn_model
    >>> from watchkeeper.store.predictions import make_batch
    >>> df = churn(500, seed=1)
    >>> project = watchkeeper.Project.init(tempfile.mkdtemp())
    >>> version = project.register(
    ...     "churn", train_churn_model(df), reference=df, target="churned", id="customer_id"
    ... )
    >>> X = df[version.input_schema.names]
    >>> batches = [
    ...     make_batch("churn", version.version, X.iloc[[i]],
    ...                {"prediction": [0], "prediction_proba": [0.25]},
    ...                request_id=f"req-{i}", event_time=df["event_time"].iloc[i])
    ...     for i in range(10)
    ... ]
    >>> with GroupCommitWriter(project.log) as writer:
    ...     futures = [writer.submit(batch) for batch in batches]
    ...     print([future.result() for future in futures] == [None] * 10)
    True
    >>> len(project.read_log("churn")), writer.rows_written, writer.queue_depth
    (10, 10, 0)
    >>> project.close()
    """

    def __init__(
        self,
        log: PredictionLog,
        *,
        max_delay: float = 0.002,
        max_rows: int = 20_000,
        max_queue: int = 10_000,
        durability: Literal["sync", "async"] = "sync",
        on_commit: Callable[[float, int], object] | None = None,
    ) -> None:
        if not _seconds(max_delay):
            raise InvalidParameterError(
                "The 'max_delay' parameter of GroupCommitWriter must be a finite number of "
                f"seconds >= 0. Got {max_delay!r} instead."
            )
        for name, value in (("max_rows", max_rows), ("max_queue", max_queue)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidParameterError(
                    f"The {name!r} parameter of GroupCommitWriter must be an integer >= 1. "
                    f"Got {value!r} instead."
                )
        if durability not in DURABILITIES:
            raise InvalidParameterError(
                "The 'durability' parameter of GroupCommitWriter must be 'sync' (acknowledge "
                "after commit) or 'async' (acknowledge when queued). "
                f"Got {durability!r} instead."
            )
        self.log = log
        self.max_delay = max_delay
        self.max_rows = max_rows
        self.max_queue = max_queue
        self.durability = durability
        self.on_commit = on_commit
        self._pending: deque[_Pending] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._commits = 0
        self._rows_written = 0
        self._failed_batches = 0
        self._last_commit_seconds = 0.0

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running" if self._thread else "not started"
        return (
            f"GroupCommitWriter({state}, durability={self.durability!r}, "
            f"queue_depth={self.queue_depth}, commits={self._commits})"
        )

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the writer thread (a no-op if it runs already).

        Raises
        ------
        StoreError
            The writer was closed.
        """
        with self._cond:
            if self._closed:
                raise StoreError("This GroupCommitWriter was closed; create a new one to write.")
            if self._thread is None:
                self._thread = self._spawn()

    def close(self, timeout: float = 10.0) -> None:
        """Stop accepting batches, commit everything queued, and stop the thread.

        Every queued batch's future is resolved before the thread ends. Calling it again is
        harmless (it waits for the thread again if the first call timed out).

        Raises
        ------
        StoreError
            The queue was not flushed within ``timeout`` seconds (the thread goes on writing
            while the process lives; call ``close`` again to wait longer).
        """
        if not _seconds(timeout):
            raise InvalidParameterError(
                f"close() needs a finite timeout in seconds >= 0. Got {timeout!r} instead."
            )
        with self._cond:
            self._closed = True
            if self._thread is None:  # never started: a thread flushes what was queued
                self._thread = self._spawn()
            thread = self._thread
            self._cond.notify_all()
        if thread is threading.current_thread():
            return  # called from a future's callback: the thread ends once the queue is empty
        thread.join(timeout)
        if thread.is_alive():
            raise StoreError(
                f"The prediction log writer did not finish flushing within {timeout:g} s "
                f"({self.queue_depth} batch(es) still queued, one group may be committing); "
                "it goes on writing while the process lives. Call close() again to wait longer."
            )

    def __enter__(self) -> GroupCommitWriter:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ submitting
    def submit(self, batch: PredictionBatch | PendingRows) -> Future[None]:
        """Queue ``batch``; the returned future resolves (to None) once it is committed.

        With ``durability="async"`` the future is already resolved when returned. In the
        ``"sync"`` mode it gets the exception if the batch could not be written (for example
        :class:`~watchkeeper.errors.InvalidInputError` for a request id logged before,
        :class:`~watchkeeper.errors.ModelNotFoundError` for an unknown model).

        Raises
        ------
        StoreError
            The writer is closed, or its queue holds ``max_queue`` batches (the database is
            not keeping up: retry later, e.g. answer HTTP 503).
        InvalidParameterError
            ``batch`` is neither a :class:`~watchkeeper.store.predictions.PredictionBatch`
            nor a :class:`PendingRows`.
        """
        return self._submit(batch, None)

    def _submit(
        self,
        batch: PredictionBatch | PendingRows,
        waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None,
    ) -> Future[None]:
        if not isinstance(batch, PredictionBatch | PendingRows):
            raise InvalidParameterError(
                "GroupCommitWriter.submit() takes a PredictionBatch (see "
                f"watchkeeper.store.predictions.make_batch). Got {type(batch).__name__}."
            )
        future: Future[None] = Future()
        with self._cond:
            if self._closed:
                raise StoreError("The prediction log writer is closed and accepts no more batches.")
            if self._thread is not None and not self._thread.is_alive():  # pragma: no cover
                raise StoreError("The prediction log writer's thread has stopped.")
            if len(self._pending) >= self.max_queue:
                raise StoreError(
                    f"The prediction log writer's queue is full ({len(self._pending)} batches "
                    f"waiting, max_queue={self.max_queue}): the database is not keeping up. "
                    "Retry later, or raise max_queue."
                )
            self._pending.append(_Pending(batch, future, time.monotonic(), waiter))
            self._cond.notify()
        if self.durability == "async":
            queued: Future[None] = Future()
            queued.set_result(None)
            return queued
        return future

    async def write(self, batch: PredictionBatch | PendingRows) -> None:
        """Submit ``batch`` and wait, without blocking the event loop, until it is committed.

        Raises what :meth:`submit` raises, and whatever prevented the batch from being
        written. Cancelling the awaiting task drops the batch only if the writer has not taken
        it into a group yet.
        """
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        future = self._submit(batch, (loop, waiter) if self.durability == "sync" else None)
        if self.durability == "async":
            return
        try:
            await waiter
        except asyncio.CancelledError:
            future.cancel()  # dropped only if the writer has not taken it yet
            raise

    # ------------------------------------------------------------------ observability
    @property
    def queue_depth(self) -> int:
        """Batches waiting to be taken into a group."""
        return len(self._pending)

    @property
    def commits(self) -> int:
        """Transactions committed so far."""
        return self._commits

    @property
    def last_commit_seconds(self) -> float:
        """How long the last committed transaction took, in seconds (0.0 before the first)."""
        return self._last_commit_seconds

    @property
    def rows_written(self) -> int:
        """Rows committed so far."""
        return self._rows_written

    @property
    def failed_batches(self) -> int:
        """Batches that could not be written (their futures got the exception)."""
        return self._failed_batches

    # ------------------------------------------------------------------ the writer thread
    def _spawn(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="watchkeeper-group-commit", daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        while (group := self._collect()) is not None:
            try:
                self._write(group)
            except Exception as exc:  # must reach the futures, never end the thread
                for pending in group:
                    self._fail(pending, exc)

    def _collect(self) -> list[_Pending] | None:
        """The next group (None once closed and drained)."""
        group: list[_Pending] = []
        rows = 0
        deadline = math.inf
        with self._cond:
            while True:
                while self._pending and not (
                    group and rows + self._pending[0].batch.n_rows > self.max_rows
                ):
                    pending = self._pending.popleft()
                    if not pending.future.set_running_or_notify_cancel():
                        continue  # cancelled before the writer took it: not written
                    if not group:
                        deadline = pending.queued_at + self.max_delay
                    group.append(pending)
                    rows += pending.batch.n_rows
                if group and (self._pending or rows >= self.max_rows or self._closed):
                    return group  # full, or closing (no reason to wait)
                if not group and self._closed:
                    return None
                timeout = deadline - time.monotonic() if group else None
                if timeout is not None and timeout <= 0:
                    return group
                self._cond.wait(timeout)

    def _write(self, group: list[_Pending]) -> None:
        try:
            self._commit(group)
        except Exception as exc:  # every failure goes to the futures
            if len(group) == 1:
                self._fail(group[0], exc)
                return
            logger.debug("A group of %d batches failed (%s); retrying each", len(group), exc)
            for index, pending in enumerate(group):
                try:
                    self._commit([pending])
                except Exception as retry_exc:  # as above
                    self._fail(pending, retry_exc)
                    if _unavailable(retry_exc):
                        for rest in group[index + 1 :]:
                            self._fail(rest, _not_attempted(retry_exc))
                        return

    def _commit(self, group: list[_Pending]) -> None:
        """Assemble and append the group in one transaction; resolve its futures after."""
        started = time.perf_counter()
        self.log.append(_merged([pending.batch for pending in group]))
        seconds = time.perf_counter() - started
        rows = sum(pending.batch.n_rows for pending in group)
        self._last_commit_seconds = seconds
        self._commits += 1
        self._rows_written += rows
        if self.on_commit is not None:
            try:
                self.on_commit(seconds, rows)
            except Exception:  # an observer must not fail a committed group
                logger.exception("The on_commit hook failed")
        waiters: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for pending in group:
            pending.future.set_result(None)
            if pending.waiter is not None:
                waiters.setdefault(pending.waiter[0], []).append(pending.waiter[1])
        for loop, futures in waiters.items():
            _wake(loop, _resolve_all, futures, None)

    def _fail(self, pending: _Pending, exc: BaseException) -> None:
        if pending.future.done():
            return
        if pending.waiter is not None:
            _wake(pending.waiter[0], _resolve_all, [pending.waiter[1]], exc)
        self._failed_batches += 1
        if self.durability == "async":
            batch = pending.batch
            logger.error(
                "Could not log %d prediction(s) of %r version %d: %s",
                batch.n_rows,
                batch.model,
                batch.version,
                exc,
            )
        pending.future.set_exception(exc)


def _resolve_all(futures: list[asyncio.Future[None]], exc: BaseException | None) -> None:
    """In the event loop: settle the waiters of a committed (or failed) group."""
    for future in futures:
        if not future.done():  # a cancelled request's waiter is done already
            if exc is None:
                future.set_result(None)
            else:
                future.set_exception(exc)


def _wake(loop: asyncio.AbstractEventLoop, callback: Any, *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
        loop.call_soon_threadsafe(callback, *args)


def _merged(batches: Sequence[PredictionBatch | PendingRows]) -> list[PredictionBatch]:
    """One batch per (model, version, role): a group of many small requests is written as
    one payload row (one IPC encoding, one insert) instead of one per request. Batches whose
    columns cannot be concatenated stay apart."""
    import pyarrow as pa

    by_target: dict[tuple[str, int, str], list[PredictionBatch | PendingRows]] = {}
    for batch in batches:
        by_target.setdefault((batch.model, batch.version, batch.role), []).append(batch)
    merged: list[PredictionBatch] = []
    for (model, version, role), same in by_target.items():
        tables = [b for b in same if isinstance(b, PredictionBatch)]
        pending = [b for b in same if isinstance(b, PendingRows)]
        if pending:
            tables.extend(_assembled(pending))
        if len(tables) == 1:
            merged.append(tables[0])
            continue
        try:
            table = pa.concat_tables([b.table for b in tables], promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            merged.extend(tables)
            continue
        merged.append(PredictionBatch(model=model, version=version, role=role, table=table))
    return merged


def _assembled(rows: list[PendingRows]) -> list[PredictionBatch]:
    """The rows of several requests for one version and role as one batch (per column
    layout: requests with other columns, e.g. after a schema change, form their own)."""
    import numpy as np

    from watchkeeper.store.predictions import make_batch

    if len(rows) == 1:
        return [rows[0].batch()]
    by_layout: dict[tuple[tuple[str, ...], tuple[str, ...], bool], list[PendingRows]] = {}
    for r in rows:
        layout = (tuple(r.inputs), tuple(r.outputs), r.keys is not None)
        by_layout.setdefault(layout, []).append(r)
    out = []
    for (inputs, outputs, keyed), same in by_layout.items():
        first = same[0]
        times = [_utc_times(r) for r in same]
        out.append(
            make_batch(
                first.model,
                first.version,
                {c: _concat([r.inputs[c] for r in same]) for c in inputs},
                {c: _concat([r.outputs[c] for r in same]) for c in outputs},
                # Arrays where make_batch takes sequences: it converts them with numpy.
                request_id=cast(
                    "Sequence[str]",
                    np.repeat(
                        np.asarray([r.request_id for r in same], dtype=object),
                        [r.n_rows for r in same],
                    ),
                ),
                rows=cast(
                    "Sequence[int]",
                    np.concatenate([np.arange(r.n_rows, dtype=np.int32) for r in same]),
                ),
                event_time=np.concatenate(times),
                keys=[k for r in same for k in (r.keys or ())] if keyed else None,
                role=first.role,
            )
        )
    return out


def _utc_times(rows: PendingRows) -> np.ndarray:
    """The rows' event times as naive-UTC ``datetime64[us]``."""
    import numpy as np
    import pandas as pd

    from watchkeeper.clock import as_utc

    if isinstance(rows.event_time, datetime):
        stamp = np.datetime64(as_utc(rows.event_time).replace(tzinfo=None), "us")
        return np.full(rows.n_rows, stamp)
    times = pd.to_datetime(pd.Series(rows.event_time), utc=True)
    return times.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")


def _concat(arrays: list[np.ndarray]) -> np.ndarray:
    """Concatenate one column's arrays; text or mixed kinds as objects (numpy would turn a
    NaN meeting a string column into the text 'nan')."""
    import numpy as np

    kinds = {a.dtype.kind for a in arrays}
    if len(kinds) > 1 and kinds & {"O", "U", "S"}:
        return np.concatenate([a.astype(object) for a in arrays])
    return np.concatenate(arrays)


def _seconds(value: object) -> bool:
    """Whether ``value`` is a finite, non-negative number of seconds."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def _unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached or locked (not the batch's fault)."""
    return isinstance(exc, StoreError) and isinstance(exc.__cause__, OperationalError)


def _not_attempted(exc: BaseException) -> StoreError:
    error = StoreError(f"Not written: the database became unavailable ({exc}).")
    error.__cause__ = exc
    return error
