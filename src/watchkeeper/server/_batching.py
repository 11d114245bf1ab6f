"""Adaptive batching: concurrent requests for one model version merged into one ``predict`` call.

A scikit-learn pipeline spends most of a one-row request in per-call overhead (validation,
column selection, one small matrix product per step), so answering 32 concurrent one-row
requests with one 32-row call costs little more than answering one. :class:`AdaptiveBatcher`
queues the requests of one model version; a consumer task on the event loop takes everything
queued (up to ``max_rows`` rows), concatenates the requests' columns, runs ``predict`` once in
the batcher's own worker thread, and hands each request its slice of every output.

The batches adapt to the load without tuning: while one ``predict`` call runs, the requests
arriving meanwhile queue up and go out together in the next call. Only when the predictor is
idle and a single request is queued does the batcher wait, at most ``max_wait`` seconds, for
company (``max_wait=0`` never waits).

One bad request does not sink its batch: when the merged call fails (or cannot be built,
e.g. columns whose types have no common type), each request of the batch is predicted alone,
so only the requests that fail on their own get an exception.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from watchkeeper.errors import EmptyInputError, InvalidInputError, InvalidParameterError

__all__ = ["AdaptiveBatcher", "Columns"]

logger = logging.getLogger(__name__)

#: One 1-D array per input column, all of the same length (the request's rows).
Columns: TypeAlias = dict[str, npt.NDArray[Any]]

_Outputs: TypeAlias = dict[str, npt.NDArray[Any]]
_Outcome: TypeAlias = _Outputs | Exception | None  # None: cancelled, not predicted
_STRINGS = frozenset("USO")  # numpy kinds of str, bytes and object arrays


@dataclass(eq=False, slots=True)
class _Request:
    """A queued request: its columns, rows, column names (the merge key) and its future."""

    columns: Mapping[str, npt.NDArray[Any]]
    n_rows: int
    key: tuple[str, ...]
    future: asyncio.Future[_Outputs]


@dataclass(eq=False, slots=True)
class _Consumer:
    """The consumer task, the event loop it runs on, its wake-up event and its worker thread."""

    loop: asyncio.AbstractEventLoop
    wakeup: asyncio.Event
    executor: ThreadPoolExecutor
    task: asyncio.Task[None] = field(init=False)

    def running(self) -> bool:
        return not self.task.done()


class AdaptiveBatcher:
    """Merge concurrent ``predict`` requests for one model version into batched calls.

    Parameters
    ----------
    predict
        Called with the merged columns of a batch; returns a mapping of output name to an
        array (1-D or 2-D) whose first dimension is the number of rows it got. It runs in
        one worker thread per batcher, so it never blocks the event loop and is never called
        concurrently with itself.
    max_rows
        Rows a batch may hold. A single request with more rows is predicted alone; requests
        are never split.
    max_wait
        Seconds to wait for more requests when the predictor is idle and only one request is
        queued (0: never wait; merge only what queued up while the previous call ran).
    name
        The model version served (e.g. ``"churn/3"``), for error messages and the thread name.
    on_batch
        Called on the event loop after each batch as ``on_batch(rows, requests)``, e.g. to
        observe a batch-size histogram. An exception from it is logged, never raised.

    Raises
    ------
    InvalidParameterError
        A parameter is out of range or of the wrong kind.

    Notes
    -----
    Columns are merged with :func:`numpy.concatenate`, which promotes numeric types (an
    ``int64`` column of one request and a ``float64`` column with NaN of another merge to
    ``float64``). A column that mixes strings or objects with another kind across requests is
    merged as ``object`` (numpy would otherwise turn NaN and numbers into the strings
    ``"nan"``, ``"1"``). Only requests with the same column names in the same order share a
    batch. A request's outputs are views into the batch's output arrays.

    A request cancelled while queued is dropped; one cancelled while its batch runs is
    answered by nobody, the others of the batch are unaffected. The consumer starts on the
    first :meth:`predict`, on the running event loop; :meth:`aclose` finishes the queued work
    and stops the thread. If the loop shuts down without :meth:`aclose` (``asyncio.run``
    cancels the consumer), queued requests are cancelled and the thread ends.

    Examples
    --------
    >>> import asyncio
    >>> import numpy as np
    >>> def predict(columns):
    ...     return {"total": columns["a"] + columns["b"]}
    >>> batcher = AdaptiveBatcher(predict, name="adder")
    >>> async def main():
    ...     requests = [{"a": np.array([i, i]), "b": np.array([1, 2])} for i in range(3)]
    ...     results = await asyncio.gather(*(batcher.predict(r) for r in requests))
    ...     await batcher.aclose()
    ...     return [result["total"].tolist() for result in results]
    >>> asyncio.run(main())
    [[1, 2], [2, 3], [3, 4]]
    >>> batcher.calls, batcher.requests, batcher.rows
    (1, 3, 6)
    """

    def __init__(
        self,
        predict: Callable[[Columns], Mapping[str, npt.NDArray[Any]]],
        *,
        max_rows: int = 512,
        max_wait: float = 0.001,
        name: str = "",
        on_batch: Callable[[int, int], object] | None = None,
    ) -> None:
        if not callable(predict):
            raise InvalidParameterError(
                "The 'predict' parameter of AdaptiveBatcher must be callable. "
                f"Got {type(predict).__name__} instead."
            )
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
            raise InvalidParameterError(
                "The 'max_rows' parameter of AdaptiveBatcher must be an integer >= 1. "
                f"Got {max_rows!r} instead."
            )
        if (
            isinstance(max_wait, bool)
            or not isinstance(max_wait, int | float)
            or not math.isfinite(max_wait)
            or max_wait < 0
        ):
            raise InvalidParameterError(
                "The 'max_wait' parameter of AdaptiveBatcher must be a finite number of "
                f"seconds >= 0. Got {max_wait!r} instead."
            )
        if not isinstance(name, str):
            raise InvalidParameterError(
                f"The 'name' parameter of AdaptiveBatcher must be a str. Got {name!r} instead."
            )
        if on_batch is not None and not callable(on_batch):
            raise InvalidParameterError(
                "The 'on_batch' parameter of AdaptiveBatcher must be callable or None. "
                f"Got {type(on_batch).__name__} instead."
            )
        self._predict = predict
        self.max_rows = max_rows
        self.max_wait = max_wait
        self.name = name
        self.on_batch = on_batch
        self._queue: deque[_Request] = deque()
        self._queued_rows = 0
        self._closed = False
        self._consumer: _Consumer | None = None  # started by the first predict()
        self._calls = 0
        self._requests = 0
        self._rows = 0
        self._fallbacks = 0
        self._last_batch_rows = 0
        self._last_batch_requests = 0

    def __repr__(self) -> str:
        running = self._consumer is not None and self._consumer.running()
        state = "closed" if self._closed else "running" if running else "idle"
        return (
            f"AdaptiveBatcher({self.name!r}, {state}, max_rows={self.max_rows}, "
            f"max_wait={self.max_wait!r}, queue_depth={self.queue_depth}, calls={self._calls})"
        )

    @property
    def _label(self) -> str:
        return f"model {self.name!r}" if self.name else "the model"

    # ------------------------------------------------------------------ requests
    async def predict(self, columns: Mapping[str, npt.NDArray[Any]]) -> Columns:
        """This request's slice of each output of the batch it was predicted in.

        Raises
        ------
        InvalidInputError
            ``columns`` is empty, holds something other than 1-D numpy arrays, or arrays of
            different lengths (:class:`~watchkeeper.errors.EmptyInputError`: no rows).
        RuntimeError
            The batcher is closed, runs on another event loop, or the model returned a number
            of rows other than the request's.
        Exception
            Whatever ``predict`` raised on this request alone.
        """
        key, n_rows = self._check(columns)
        if self._closed:
            raise RuntimeError(f"The batcher of {self._label} is closed; it accepts no requests.")
        wakeup = self._ensure_running()
        future: asyncio.Future[_Outputs] = asyncio.get_running_loop().create_future()
        self._queue.append(_Request(columns, n_rows, key, future))
        self._queued_rows += n_rows
        wakeup.set()
        return await future

    def _check(self, columns: Mapping[str, npt.NDArray[Any]]) -> tuple[tuple[str, ...], int]:
        if not isinstance(columns, Mapping) or not columns:
            raise InvalidInputError(
                f"A request to {self._label} needs a mapping of at least one column name to a "
                f"1-D numpy array. Got {type(columns).__name__} {columns!r:.80}."
            )
        lengths: dict[str, int] = {}
        for column, values in columns.items():
            if not isinstance(values, np.ndarray) or values.ndim != 1:
                shape = getattr(values, "shape", None)
                raise InvalidInputError(
                    f"Column {column!r} of a request to {self._label} must be a 1-D numpy "
                    f"array. Got {type(values).__name__}"
                    + (f" of shape {shape}." if shape is not None else ".")
                )
            lengths[column] = len(values)
        if len(set(lengths.values())) > 1:
            raise InvalidInputError(
                f"The columns of a request to {self._label} must have one length each. "
                f"Got {lengths}."
            )
        n_rows = next(iter(lengths.values()))
        if n_rows == 0:
            raise EmptyInputError(f"A request to {self._label} has no rows.")
        return tuple(columns), n_rows

    async def aclose(self) -> None:
        """Finish the queued requests, then stop the consumer and the worker thread.

        Later :meth:`predict` calls raise RuntimeError. Calling it again is harmless.
        """
        self._closed = True
        consumer = self._consumer
        if consumer is None:
            return
        if consumer.running():
            if consumer.loop.is_closed():  # closed without cancelling it: nobody to answer
                self._queue.clear()
                self._queued_rows = 0
            elif consumer.loop is not asyncio.get_running_loop():
                raise RuntimeError(
                    f"The batcher of {self._label} runs on another event loop; close it there."
                )
            else:
                consumer.wakeup.set()
                await asyncio.shield(consumer.task)  # cancelling aclose() must not stop the drain
        consumer.executor.shutdown(wait=True)  # idle: the consumer awaited every call it made

    # ------------------------------------------------------------------ observability
    @property
    def queue_depth(self) -> int:
        """Requests waiting for a batch (requests cancelled while queued may still count)."""
        return len(self._queue)

    @property
    def calls(self) -> int:
        """``predict`` invocations so far (the per-request retries of failed batches included)."""
        return self._calls

    @property
    def requests(self) -> int:
        """Requests taken into batches so far."""
        return self._requests

    @property
    def rows(self) -> int:
        """Rows taken into batches so far."""
        return self._rows

    @property
    def fallbacks(self) -> int:
        """Batches whose merged call failed, so that each request was predicted alone."""
        return self._fallbacks

    @property
    def last_batch_rows(self) -> int:
        """Rows of the last batch (0 before the first)."""
        return self._last_batch_rows

    @property
    def last_batch_requests(self) -> int:
        """Requests of the last batch (0 before the first)."""
        return self._last_batch_requests

    # ------------------------------------------------------------------ the consumer
    def _ensure_running(self) -> asyncio.Event:
        """The consumer's wake-up event, starting the consumer on this loop if it is not running."""
        loop = asyncio.get_running_loop()
        old = self._consumer
        if old is not None and old.running():
            if old.loop is loop:
                return old.wakeup
            if not old.loop.is_closed():
                raise RuntimeError(
                    f"The batcher of {self._label} runs on another event loop; "
                    "use one batcher per event loop."
                )
            # Its loop was closed without cancelling the consumer: its requests are gone.
            self._queue.clear()
            self._queued_rows = 0
            old.executor.shutdown(wait=False)
        thread_name = f"watchkeeper-batcher-{self.name}".rstrip("-")
        consumer = _Consumer(loop, asyncio.Event(), ThreadPoolExecutor(1, thread_name))
        consumer.task = loop.create_task(self._consume(consumer), name=thread_name)
        self._consumer = consumer
        return consumer.wakeup

    async def _consume(self, consumer: _Consumer) -> None:
        loop, wakeup, executor = consumer.loop, consumer.wakeup, consumer.executor
        batch: list[_Request] = []
        try:
            while True:
                self._drop_cancelled()
                if not self._queue:
                    if self._closed:
                        return
                    wakeup.clear()
                    await wakeup.wait()
                    continue
                if self.max_wait > 0 and len(self._queue) == 1:
                    await self._linger(wakeup, loop.time() + self.max_wait)
                batch = self._take()
                if not batch:
                    continue
                outcomes, calls, fell_back = await loop.run_in_executor(
                    executor, self._run_batch, batch
                )
                self._settle(batch, outcomes, calls, fell_back)
                batch = []
        except GeneratorExit:  # destroyed with its loop: no future can be resolved any more
            raise
        except BaseException as exc:
            self._abandon([*batch, *self._queue], exc)
            raise
        finally:
            executor.shutdown(wait=False, cancel_futures=True)

    async def _linger(self, wakeup: asyncio.Event, deadline: float) -> None:
        """Wait until ``deadline``, ``max_rows`` rows are queued or the batcher closes."""
        loop = asyncio.get_running_loop()
        while not self._closed and self._queued_rows < self.max_rows:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            wakeup.clear()
            try:
                async with asyncio.timeout(remaining):
                    await wakeup.wait()
            except TimeoutError:
                return

    def _drop_cancelled(self) -> None:
        queue = self._queue
        while queue and queue[0].future.done():
            self._queued_rows -= queue.popleft().n_rows

    def _take(self) -> list[_Request]:
        """The next batch: the oldest request, then the next ones with its columns that fit."""
        queue = self._queue
        batch: list[_Request] = []
        skipped: list[_Request] = []  # other column names: they stay queued, in order
        rows = 0
        while queue:
            request = queue[0]
            if request.future.done():  # cancelled while queued
                queue.popleft()
            elif batch and request.key != batch[0].key:
                skipped.append(queue.popleft())
                continue
            elif batch and rows + request.n_rows > self.max_rows:
                break
            else:
                batch.append(queue.popleft())
                rows += request.n_rows
            self._queued_rows -= request.n_rows
        queue.extendleft(reversed(skipped))
        return batch

    def _settle(
        self, batch: list[_Request], outcomes: list[_Outcome], calls: int, fell_back: bool
    ) -> None:
        for request, outcome in zip(batch, outcomes, strict=True):
            if outcome is None or request.future.done():
                continue  # cancelled while its batch ran
            if isinstance(outcome, Exception):
                request.future.set_exception(outcome)
            else:
                request.future.set_result(outcome)
        rows = sum(request.n_rows for request in batch)
        self._calls += calls
        self._requests += len(batch)
        self._rows += rows
        self._fallbacks += fell_back
        self._last_batch_rows = rows
        self._last_batch_requests = len(batch)
        if self.on_batch is not None:
            try:
                self.on_batch(rows, len(batch))
            except Exception:  # metrics must not stop the serving
                logger.exception("The on_batch hook of the batcher of %s failed", self._label)

    def _abandon(self, requests: list[_Request], exc: BaseException) -> None:
        """Resolve the futures the consumer leaves behind when it stops abnormally."""
        for request in requests:
            if request.future.done():
                continue
            if isinstance(exc, asyncio.CancelledError):
                request.future.cancel()
            else:
                error = RuntimeError(f"The batcher of {self._label} stopped: {exc!r}")
                error.__cause__ = exc
                request.future.set_exception(error)
        self._queue.clear()
        self._queued_rows = 0

    # ------------------------------------------------------------------ the worker thread
    def _run_batch(self, batch: list[_Request]) -> tuple[list[_Outcome], int, bool]:
        """Each request's outputs or exception, the ``predict`` calls made, whether it fell back."""
        if len(batch) == 1:
            return [self._alone(batch[0])], 1, False
        total = sum(request.n_rows for request in batch)
        calls = 0
        try:
            merged = {
                column: _concatenate([request.columns[column] for request in batch])
                for column in batch[0].key
            }
            calls += 1
            outputs = self._call(merged, total)
        except Exception as exc:  # retried per request: each gets its own outcome
            logger.debug(
                "A batch of %d requests to %s failed (%r); predicting each alone",
                len(batch),
                self._label,
                exc,
            )
            # Reading a future's state from this thread is safe: it is one attribute.
            outcomes = [None if r.future.cancelled() else self._alone(r) for r in batch]
            return outcomes, calls + sum(o is not None for o in outcomes), True
        split: list[_Outcome] = []
        start = 0
        for request in batch:
            stop = start + request.n_rows
            split.append({name: values[start:stop] for name, values in outputs.items()})
            start = stop
        return split, calls, False

    def _alone(self, request: _Request) -> _Outputs | Exception:
        try:
            return self._call(dict(request.columns), request.n_rows)
        except Exception as exc:  # the request's own failure, raised from its predict()
            return exc

    def _call(self, columns: Columns, n_rows: int) -> _Outputs:
        returned = self._predict(columns)
        if not isinstance(returned, Mapping):
            raise RuntimeError(
                f"The predict function of {self._label} must return a mapping of output name "
                f"to array. Got {type(returned).__name__}."
            )
        outputs: _Outputs = {}
        for name, values in returned.items():
            array = np.asarray(values)
            if array.ndim == 0 or array.shape[0] != n_rows:
                got = "a scalar" if array.ndim == 0 else f"{array.shape[0]} rows"
                raise RuntimeError(
                    f"The predict function of {self._label} returned {got} in output {name!r} "
                    f"for {n_rows} input rows; it must return one row per input row."
                )
            outputs[name] = array
        return outputs


def _concatenate(arrays: list[npt.NDArray[Any]]) -> npt.NDArray[Any]:
    """One array of the requests' values of a column, in a type that holds them all unchanged."""
    kinds = {array.dtype.kind for array in arrays}
    if len(kinds) > 1 and kinds & _STRINGS:
        # numpy would make strings of NaN and numbers ('nan', '1'); objects keep the values.
        return np.concatenate(arrays, dtype=object, casting="unsafe")
    return np.concatenate(arrays)
