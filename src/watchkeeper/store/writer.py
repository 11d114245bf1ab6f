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
import logging
import math
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sqlalchemy.exc import OperationalError

from watchkeeper.errors import InvalidParameterError, StoreError
from watchkeeper.store.predictions import PredictionBatch

if TYPE_CHECKING:
    from collections.abc import Callable

    from watchkeeper.store.predictions import PredictionLog

__all__ = ["DURABILITIES", "GroupCommitWriter"]

logger = logging.getLogger(__name__)

DURABILITIES = ("sync", "async")


@dataclass(eq=False)
class _Pending:
    """A queued batch, the future its submitter holds, and when it was queued."""

    batch: PredictionBatch
    future: Future[None]
    queued_at: float


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
    def submit(self, batch: PredictionBatch) -> Future[None]:
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
            ``batch`` is not a :class:`~watchkeeper.store.predictions.PredictionBatch`.
        """
        if not isinstance(batch, PredictionBatch):
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
            self._pending.append(_Pending(batch, future, time.monotonic()))
            self._cond.notify()
        if self.durability == "async":
            queued: Future[None] = Future()
            queued.set_result(None)
            return queued
        return future

    async def write(self, batch: PredictionBatch) -> None:
        """Submit ``batch`` and wait, without blocking the event loop, until it is committed.

        Raises what :meth:`submit` raises, and whatever prevented the batch from being
        written. Cancelling the awaiting task drops the batch only if the writer has not taken
        it into a group yet.
        """
        await asyncio.wrap_future(self.submit(batch))

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
        started = time.perf_counter()
        self.log.append([pending.batch for pending in group])
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
        for pending in group:
            pending.future.set_result(None)

    def _fail(self, pending: _Pending, exc: BaseException) -> None:
        if pending.future.done():
            return
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
