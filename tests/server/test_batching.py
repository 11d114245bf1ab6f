"""Adaptive batching: requests queued while ``predict`` runs go out in one call, each request
gets exactly what predicting it alone gives (a real scikit-learn pipeline, and a hypothesis
property), a failing request fails alone, cancellation and closing leave nothing behind.

Every test is deterministic: a predict function that blocks on a ``threading.Event`` holds the
worker thread while requests queue up, and the tests wait for states (queue depth, a call
entered), never for time.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchkeeper.datasets import CHURN_FEATURES, churn, train_churn_model
from watchkeeper.errors import EmptyInputError, InvalidInputError, InvalidParameterError
from watchkeeper.server._batching import AdaptiveBatcher, Columns, _concatenate

# Seconds any one wait may take before the test gives up (a safety net, never asserted on).
PATIENCE = 60.0
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, PATIENCE))


async def until(condition: Callable[[], bool]) -> None:
    """Let the event loop run until ``condition()`` holds."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


def request(*values: float, offset: float = 0.0) -> Columns:
    a = np.asarray(values, dtype=np.float64)
    return {"a": a, "b": a * 10 + offset}


def simple(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Row sums (1-D) and the rows themselves (2-D): deterministic, row by row."""
    a, b = columns["a"], columns["b"]
    return {"sum": a + b, "pair": np.column_stack([a, b])}


class Gate:
    """A predict function that records each call and blocks until ``release`` is set."""

    def __init__(self, predict: Callable[[Columns], Mapping[str, np.ndarray]] = simple) -> None:
        self.predict = predict
        self.entered = threading.Event()
        self.release = threading.Event()
        self.sizes: list[int] = []
        self.keys: list[tuple[str, ...]] = []
        self.dtypes: list[dict[str, np.dtype[Any]]] = []
        self.threads: set[int] = set()

    def __call__(self, columns: Columns) -> Mapping[str, np.ndarray]:
        self.sizes.append(len(next(iter(columns.values()))))
        self.keys.append(tuple(columns))
        self.dtypes.append({name: values.dtype for name, values in columns.items()})
        self.threads.add(threading.get_ident())
        self.entered.set()
        if not self.release.wait(PATIENCE):
            raise RuntimeError("the test never released the gate")
        return self.predict(columns)

    async def wait_entered(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, PATIENCE)


async def held(
    batcher: AdaptiveBatcher, gate: Gate, requests: list[Columns]
) -> tuple[asyncio.Task[Columns], list[asyncio.Task[Columns]]]:
    """A first one-row request holding the worker, then ``requests`` queued behind it."""
    first = asyncio.create_task(batcher.predict(request(-1.0)))
    await gate.wait_entered()
    tasks = [asyncio.create_task(batcher.predict(r)) for r in requests]
    await until(lambda: batcher.queue_depth == len(requests))
    return first, tasks


def assert_outputs(result: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray]) -> None:
    assert list(result) == list(expected)
    for name in expected:
        np.testing.assert_array_equal(result[name], expected[name])


def worker_threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"watchkeeper-batcher-{name}")]


# ---------------------------------------------------------------------------- merging
def test_requests_queued_while_predicting_go_out_in_one_call() -> None:
    gate = Gate()
    batcher = AdaptiveBatcher(gate, max_wait=0, name="merge")
    requests = [request(*range(k, 2 * k + 1), offset=k) for k in range(8)]

    async def main() -> list[Columns]:
        first, tasks = await held(batcher, gate, requests)
        gate.release.set()
        results = await asyncio.gather(*tasks)
        await first
        await batcher.aclose()
        return results

    results = run(main())
    rows = sum(len(r["a"]) for r in requests)
    assert gate.sizes == [1, rows]
    assert len(gate.threads) == 1
    assert threading.get_ident() not in gate.threads
    for result, columns in zip(results, requests, strict=True):
        assert_outputs(result, simple(columns))
    assert (batcher.calls, batcher.requests, batcher.rows) == (2, 9, rows + 1)
    assert (batcher.last_batch_rows, batcher.last_batch_requests) == (rows, 8)
    assert batcher.fallbacks == 0


@pytest.mark.parametrize(
    ("max_rows", "sizes", "calls"),
    [
        (7, [3, 3, 3, 3], [6, 6]),
        (6, [1, 2, 3, 1], [6, 1]),
        (5, [2, 10, 2], [2, 10, 2]),  # larger than max_rows: alone, and never split
        (5, [10], [10]),
        (1, [1, 1, 1], [1, 1, 1]),
    ],
)
def test_batches_hold_at_most_max_rows(max_rows: int, sizes: list[int], calls: list[int]) -> None:
    gate = Gate()
    batcher = AdaptiveBatcher(gate, max_rows=max_rows, max_wait=0)
    requests = [request(*np.arange(n) + 100 * k) for k, n in enumerate(sizes)]

    async def main() -> list[Columns]:
        first, tasks = await held(batcher, gate, requests)
        gate.release.set()
        await first
        results = await asyncio.gather(*tasks)
        await batcher.aclose()
        return results

    results = run(main())
    assert gate.sizes == [1, *calls]
    for result, columns in zip(results, requests, strict=True):
        assert_outputs(result, simple(columns))


def test_only_requests_with_the_same_columns_share_a_batch() -> None:
    gate = Gate()
    batcher = AdaptiveBatcher(gate, max_wait=0)
    ab, ba = request(1.0, 2.0), request(3.0)
    ba = {"b": ba["b"], "a": ba["a"]}  # the same names in another order
    requests = [ab, ba, request(4.0, 5.0, 6.0)]

    async def main() -> list[Columns]:
        first, tasks = await held(batcher, gate, requests)
        gate.release.set()
        await first
        results = await asyncio.gather(*tasks)
        await batcher.aclose()
        return results

    results = run(main())
    assert gate.sizes == [1, 5, 1]
    assert gate.keys[1:] == [("a", "b"), ("b", "a")]
    for result, columns in zip(results, requests, strict=True):
        assert_outputs(result, simple(columns))


def test_a_lone_request_waits_up_to_max_wait_for_company() -> None:
    # max_wait is far beyond PATIENCE: the test finishes only if the second request (or the
    # row limit, or closing) ends the wait.
    gate = Gate()
    gate.release.set()
    batcher = AdaptiveBatcher(gate, max_rows=3, max_wait=10 * PATIENCE)

    async def main() -> None:
        one = asyncio.create_task(batcher.predict(request(1.0)))
        await until(lambda: batcher.queue_depth == 1)
        for _ in range(20):  # the consumer is waiting for company now
            await asyncio.sleep(0)
        two = asyncio.create_task(batcher.predict(request(2.0, 3.0)))  # 3 rows: full
        await asyncio.gather(one, two)
        assert gate.sizes == [3]
        three = asyncio.create_task(batcher.predict(request(4.0)))
        await until(lambda: batcher.queue_depth == 1)
        await asyncio.sleep(0)
        await batcher.aclose()  # closing sends the waiting request at once
        assert_outputs(await three, simple(request(4.0)))
        assert gate.sizes == [3, 1]

    run(main())


# ---------------------------------------------------------------------------- equivalence
@pytest.fixture(scope="module")
def churn_model() -> tuple[pd.DataFrame, Any]:
    df = churn(3000, seed=1)
    return df, train_churn_model(df)


def test_churn_batches_equal_predicting_each_request_alone(
    churn_model: tuple[pd.DataFrame, Any],
) -> None:
    df, model = churn_model
    X = df[list(CHURN_FEATURES)]

    def predict(columns: Columns) -> dict[str, np.ndarray]:
        frame = pd.DataFrame(columns)
        return {"labels": model.predict(frame), "proba": model.predict_proba(frame)}

    rng = np.random.default_rng(7)
    sizes = rng.integers(1, 40, size=60)
    starts = rng.integers(0, len(X) - 40, size=60)
    requests: list[Columns] = []
    for k, (start, n) in enumerate(zip(starts, sizes, strict=True)):
        columns = {c: X[c].to_numpy()[start : start + n] for c in CHURN_FEATURES}
        if k % 3 == 0:  # other dtypes than the neighbours: float with NaN, numpy str
            tenure = columns["tenure_months"].astype(np.float64)
            tenure[0] = np.nan
            columns["tenure_months"] = tenure
            columns["contract"] = columns["contract"].astype(str)
        requests.append(columns)
    expected = [predict(columns) for columns in requests]
    batcher = AdaptiveBatcher(predict, max_rows=200, name="churn/1")

    async def main() -> list[Columns]:
        results = await asyncio.gather(*(batcher.predict(r) for r in requests))
        await batcher.aclose()
        return results

    results = run(main())
    assert batcher.calls < len(requests)
    assert batcher.fallbacks == 0
    for result, alone in zip(results, expected, strict=True):
        np.testing.assert_array_equal(result["labels"], alone["labels"])
        np.testing.assert_allclose(result["proba"], alone["proba"], rtol=1e-10, atol=1e-14)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 12), min_size=1, max_size=25),
    pauses=st.lists(st.integers(0, 3), min_size=25, max_size=25),
    order=st.randoms(use_true_random=False),
    max_rows=st.integers(1, 40),
    max_wait=st.sampled_from([0.0, 0.0002]),
)
def test_outputs_equal_per_request_computation(
    sizes: list[int], pauses: list[int], order: Any, max_rows: int, max_wait: float
) -> None:
    requests = [request(*np.arange(n) + 1000 * k, offset=k) for k, n in enumerate(sizes)]
    arrival = list(range(len(requests)))
    order.shuffle(arrival)
    calls: list[int] = []

    def predict(columns: Columns) -> dict[str, np.ndarray]:
        calls.append(len(columns["a"]))
        return simple(columns)

    batcher = AdaptiveBatcher(predict, max_rows=max_rows, max_wait=max_wait)

    async def main() -> dict[int, Columns]:
        tasks: dict[int, asyncio.Task[Columns]] = {}
        for index, pause in zip(arrival, pauses, strict=False):
            for _ in range(pause):
                await asyncio.sleep(0)
            tasks[index] = asyncio.create_task(batcher.predict(requests[index]))
        results = {index: await task for index, task in tasks.items()}
        await batcher.aclose()
        return results

    results = run(main())
    for index, columns in enumerate(requests):
        assert_outputs(results[index], simple(columns))
    assert sum(calls) == sum(sizes)
    assert all(n <= max_rows or n in sizes for n in calls)


def test_column_types_merge_without_changing_values() -> None:
    ints, floats = np.array([1, 2]), np.array([np.nan, 2.5])
    merged = _concatenate([ints, floats])
    assert merged.dtype == np.float64
    np.testing.assert_array_equal(merged, [1.0, 2.0, np.nan, 2.5])
    merged = _concatenate([np.array(["north", "south"]), np.array([np.nan])])
    assert merged.dtype == object
    assert merged[:2].tolist() == ["north", "south"]
    assert np.isnan(merged[2])
    merged = _concatenate([np.array(["a"], dtype=object), np.array(["bb"]), np.array([b"c"])])
    assert merged.tolist() == ["a", "bb", b"c"]
    merged = _concatenate([np.array(["a"]), np.array(["bbb"])])
    assert merged.dtype == np.dtype("<U3")
    assert _concatenate([np.array([True]), np.array([3])]).tolist() == [1, 3]


def test_requests_of_different_dtypes_merge_to_a_common_one() -> None:
    gate = Gate(lambda columns: {"a": columns["a"]})
    batcher = AdaptiveBatcher(gate, max_wait=0)
    requests: list[Columns] = [{"a": np.array([1, 2])}, {"a": np.array([np.nan])}]

    async def main() -> list[Columns]:
        first = asyncio.create_task(batcher.predict({"a": np.array([0])}))
        await gate.wait_entered()
        tasks = [asyncio.create_task(batcher.predict(r)) for r in requests]
        await until(lambda: batcher.queue_depth == 2)
        gate.release.set()
        await first
        results = await asyncio.gather(*tasks)
        await batcher.aclose()
        return results

    results = run(main())
    assert gate.sizes == [1, 3]
    assert gate.dtypes[1]["a"] == np.float64
    np.testing.assert_array_equal(results[0]["a"], [1.0, 2.0])
    assert np.isnan(results[1]["a"]).all()


# ---------------------------------------------------------------------------- errors
def test_a_bad_request_fails_alone(churn_model: tuple[pd.DataFrame, Any]) -> None:
    df, model = churn_model
    X = df[list(CHURN_FEATURES)]

    def predict(columns: Columns) -> dict[str, np.ndarray]:
        frame = pd.DataFrame(columns)
        return {"labels": model.predict(frame), "proba": model.predict_proba(frame)}

    requests = [{c: X[c].to_numpy()[k * 5 : k * 5 + 5] for c in CHURN_FEATURES} for k in range(6)]
    bad = dict(requests[2])
    bad["monthly_charges"] = bad["monthly_charges"].astype(object)
    bad["monthly_charges"][1] = "a lot"
    requests[2] = bad
    gate = Gate(predict)
    batcher = AdaptiveBatcher(gate, max_wait=0, name="churn/2")

    async def main() -> list[Columns | BaseException]:
        first = asyncio.create_task(batcher.predict(requests[0]))
        await gate.wait_entered()
        tasks = [asyncio.create_task(batcher.predict(r)) for r in requests[1:]]
        await until(lambda: batcher.queue_depth == 5)
        gate.release.set()
        results = await asyncio.gather(first, *tasks, return_exceptions=True)
        await batcher.aclose()
        return results

    results = run(main())
    assert gate.sizes == [5, 25, 5, 5, 5, 5, 5]  # the merged call failed; each alone
    assert batcher.fallbacks == 1
    assert batcher.calls == 7
    error = results[2]
    assert isinstance(error, ValueError)
    assert "a lot" in str(error)
    for k in (0, 1, 3, 4, 5):
        result = results[k]
        assert isinstance(result, dict)
        np.testing.assert_array_equal(result["labels"], predict(requests[k])["labels"])


def test_an_exception_is_raised_from_its_own_request() -> None:
    def predict(columns: Columns) -> dict[str, np.ndarray]:
        if (columns["a"] < 0).any():
            raise ValueError("negative input")
        return simple(columns)

    batcher = AdaptiveBatcher(predict)
    requests = [request(1.0), request(-1.0), request(2.0, 3.0)]

    async def main() -> list[Columns | BaseException]:
        results = await asyncio.gather(
            *(batcher.predict(r) for r in requests), return_exceptions=True
        )
        await batcher.aclose()
        return results

    ok, failed, ok2 = run(main())
    assert isinstance(failed, ValueError)
    assert str(failed) == "negative input"
    assert isinstance(ok, dict)
    assert isinstance(ok2, dict)
    assert_outputs(ok2, simple(requests[2]))
    assert batcher.fallbacks == 1


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (lambda c: {"sum": c["a"][:-1]}, r"returned 1 rows in output 'sum' for 2 input rows"),
        (lambda c: {"sum": np.float64(1.0)}, r"returned a scalar in output 'sum'"),
        (lambda c: [c["a"]], r"must return a mapping"),
    ],
)
@pytest.mark.parametrize("together", [False, True])
def test_wrong_outputs_are_a_runtime_error_naming_the_model(
    returned: Callable[[Columns], Any], message: str, together: bool
) -> None:
    batcher = AdaptiveBatcher(returned, name="churn/7")
    requests = [request(1.0, 2.0), request(3.0, 4.0)] if together else [request(1.0, 2.0)]

    async def main() -> list[Columns | BaseException]:
        results = await asyncio.gather(
            *(batcher.predict(r) for r in requests), return_exceptions=True
        )
        await batcher.aclose()
        return results

    for error in run(main()):
        assert isinstance(error, RuntimeError)
        assert "model 'churn/7'" in str(error)
        with pytest.raises(RuntimeError, match=message):
            raise error


@pytest.mark.parametrize(
    ("columns", "error", "message"),
    [
        ({}, InvalidInputError, "at least one column"),
        ({"a": [1.0, 2.0]}, InvalidInputError, "Column 'a' .* 1-D numpy array. Got list"),
        ({"a": np.zeros((2, 2))}, InvalidInputError, r"of shape \(2, 2\)"),
        ({"a": np.zeros(2), "b": np.zeros(3)}, InvalidInputError, "one length"),
        ({"a": np.zeros(0)}, EmptyInputError, "no rows"),
    ],
)
def test_malformed_requests_are_refused(columns: Any, error: type[Exception], message: str) -> None:
    batcher = AdaptiveBatcher(simple)
    with pytest.raises(error, match=message):
        run(batcher.predict(columns))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_rows": 0}, "'max_rows' .* integer >= 1. Got 0"),
        ({"max_rows": True}, "'max_rows'"),
        ({"max_rows": 2.0}, "'max_rows'"),
        ({"max_wait": -0.001}, "'max_wait' .* >= 0. Got -0.001"),
        ({"max_wait": float("nan")}, "'max_wait'"),
        ({"max_wait": "1ms"}, "'max_wait'"),
        ({"name": 3}, "'name'"),
        ({"on_batch": 3}, "'on_batch'"),
    ],
)
def test_parameters_are_validated(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        AdaptiveBatcher(simple, **kwargs)


def test_predict_must_be_callable() -> None:
    with pytest.raises(InvalidParameterError, match=r"'predict' .* callable. Got NoneType"):
        AdaptiveBatcher(None)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- cancellation
def test_a_request_cancelled_while_queued_is_dropped() -> None:
    gate = Gate()
    batcher = AdaptiveBatcher(gate, max_wait=0)
    requests = [request(1.0), request(2.0, 3.0), request(4.0)]

    async def main() -> None:
        first, (one, cancelled, three) = await held(batcher, gate, requests)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        gate.release.set()
        await first
        assert_outputs(await one, simple(requests[0]))
        assert_outputs(await three, simple(requests[2]))
        await batcher.aclose()

    run(main())
    assert gate.sizes == [1, 2]
    assert batcher.requests == 3


def test_a_request_cancelled_while_its_batch_runs_does_not_break_the_others() -> None:
    gate = Gate()
    batcher = AdaptiveBatcher(gate, max_wait=0)
    requests = [request(1.0), request(2.0, 3.0), request(4.0)]

    async def main() -> None:
        one, cancelled, three = (asyncio.create_task(batcher.predict(r)) for r in requests)
        await gate.wait_entered()  # all three are in the running call
        assert batcher.queue_depth == 0
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        gate.release.set()
        assert_outputs(await one, simple(requests[0]))
        assert_outputs(await three, simple(requests[2]))
        assert_outputs(await batcher.predict(request(5.0)), simple(request(5.0)))
        await batcher.aclose()

    run(main())
    assert gate.sizes == [4, 1]


# ---------------------------------------------------------------------------- lifecycle
def test_aclose_finishes_queued_work_then_refuses_requests() -> None:
    gate = Gate()
    batcher = AdaptiveBatcher(gate, max_wait=0, name="closing")
    requests = [request(1.0), request(2.0)]

    async def main() -> list[Columns]:
        first, tasks = await held(batcher, gate, requests)
        closing = asyncio.create_task(batcher.aclose())
        await until(lambda: "closed" in repr(batcher))
        with pytest.raises(RuntimeError, match="'closing' is closed"):
            await batcher.predict(request(3.0))
        gate.release.set()
        await closing
        assert all(task.done() for task in [first, *tasks])
        await batcher.aclose()  # again: harmless
        return [await task for task in tasks]

    results = run(main())
    for result, columns in zip(results, requests, strict=True):
        assert_outputs(result, simple(columns))
    assert gate.sizes == [1, 2]
    assert worker_threads("closing") == []


def test_aclose_of_an_unused_batcher() -> None:
    batcher = AdaptiveBatcher(simple)
    run(batcher.aclose())
    with pytest.raises(RuntimeError, match="is closed"):
        run(batcher.predict(request(1.0)))


def test_loop_shutdown_without_aclose_leaves_nothing_behind() -> None:
    # Created outside any loop; used in two loops one after the other, never closed in the
    # first: asyncio.run cancels the consumer, which stops the thread; the second starts anew.
    batcher = AdaptiveBatcher(simple, name="reuse")

    async def once(value: float) -> Columns:
        return await batcher.predict(request(value))

    assert_outputs(run(once(1.0)), simple(request(1.0)))
    for thread in worker_threads("reuse"):
        thread.join(PATIENCE)
    assert worker_threads("reuse") == []
    assert_outputs(run(once(2.0)), simple(request(2.0)))
    run(batcher.aclose())
    assert batcher.calls == 2


def test_a_running_batcher_refuses_another_event_loop() -> None:
    batcher = AdaptiveBatcher(simple, name="bound")
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(batcher.predict(request(1.0)))
        with pytest.raises(RuntimeError, match="another event loop"):
            run(batcher.predict(request(2.0)))
        loop.run_until_complete(batcher.aclose())
    finally:
        loop.close()
    assert worker_threads("bound") == []


def test_on_batch_reports_each_batch_and_its_failures_are_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[tuple[int, int]] = []

    def on_batch(rows: int, requests: int) -> None:
        seen.append((rows, requests))
        raise ZeroDivisionError("metrics are down")

    batcher = AdaptiveBatcher(simple, on_batch=on_batch, name="hooked")

    async def main(awaitables: list[Awaitable[Columns]]) -> list[Columns]:
        results = await asyncio.gather(*awaitables)
        await batcher.aclose()
        return results

    with caplog.at_level(logging.ERROR, logger="watchkeeper.server._batching"):
        results = run(main([batcher.predict(request(1.0, 2.0)), batcher.predict(request(3.0))]))
    assert len(results) == 2
    assert seen == [(3, 2)]
    assert "on_batch hook of the batcher of model 'hooked' failed" in caplog.text
