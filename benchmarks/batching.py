"""Adaptive batching benchmark: one-row requests to the churn pipeline, with and without batching.

Run::

    .venv/bin/python benchmarks/batching.py [--seconds 0.8] [--concurrency 1,8,32]

The model is ``train_churn_model`` fitted on ``churn(10_000, seed=1)``; each request is one row
of ``churn(2_000, seed=2)`` as the server hands it over (a dict of 1-D arrays), predicted the
way the server does (a DataFrame of the columns, then ``predict`` and ``predict_proba``).
``--concurrency`` clients (asyncio tasks in one process, on one event loop) each send their
next request as soon as the previous one is answered, for ``--seconds`` after an untimed
warm-up of a quarter of that. The ways of predicting compared:

* ``to_thread``: every request calls the model on its own, in ``asyncio.to_thread`` (the
  default executor's threads, concurrently): no batching;
* ``max_rows=1``: an :class:`~watchkeeper.server._batching.AdaptiveBatcher` that never merges
  (one worker thread, one call per request): no batching, same machinery;
* ``max_wait=0`` and ``max_wait=1ms``: batching (``max_rows=512``), never waiting for company
  or waiting up to 1 ms when the predictor is idle and one request is queued.

Columns: rows (= requests) answered per second, ``predict`` calls per request (1.0 without
batching), the median and 99th-percentile latency of a request, and the throughput relative
to ``max_rows=1`` at the same concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from watchkeeper.server._batching import Columns

MODES = ("to_thread", "max_rows=1", "max_wait=0", "max_wait=1ms")


@dataclass(frozen=True)
class Cell:
    rows_per_second: float
    calls_per_request: float
    p50_ms: float
    p99_ms: float


async def drive(
    call: Callable[[Columns], Awaitable[Any]],
    requests: list[Columns],
    concurrency: int,
    seconds: float,
) -> tuple[int, float, list[float]]:
    """Requests answered, elapsed seconds and each request's latency, ``concurrency`` clients."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client(first: int) -> None:
        index = first
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await call(requests[index % len(requests)])
            latencies.append(time.perf_counter() - started)
            index += concurrency

    started = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(concurrency)))
    return len(latencies), time.perf_counter() - started, latencies


async def measure(
    mode: str,
    predict: Callable[[Columns], dict[str, np.ndarray]],
    requests: list[Columns],
    concurrency: int,
    seconds: float,
) -> Cell:
    from watchkeeper.server._batching import AdaptiveBatcher

    if mode == "to_thread":

        async def direct(columns: Columns) -> dict[str, np.ndarray]:
            return await asyncio.to_thread(predict, columns)

        await drive(direct, requests, concurrency, seconds / 4)
        done, elapsed, latencies = await drive(direct, requests, concurrency, seconds)
        calls = done
    else:
        batcher = AdaptiveBatcher(
            predict,
            max_rows=1 if mode == "max_rows=1" else 512,
            max_wait=0.001 if mode == "max_wait=1ms" else 0.0,
            name="bench",
        )
        await drive(batcher.predict, requests, concurrency, seconds / 4)
        before = batcher.calls
        done, elapsed, latencies = await drive(batcher.predict, requests, concurrency, seconds)
        calls = batcher.calls - before
        await batcher.aclose()
    p50, p99 = np.percentile(latencies, [50, 99]) * 1000
    return Cell(done / elapsed, calls / done, float(p50), float(p99))


def make_workload() -> tuple[Callable[[Columns], dict[str, np.ndarray]], list[Columns]]:
    import pandas as pd

    from watchkeeper.datasets import CHURN_FEATURES, churn, train_churn_model

    model = train_churn_model(churn(10_000, seed=1))
    X = churn(2_000, seed=2)[list(CHURN_FEATURES)]
    arrays = {c: X[c].to_numpy() for c in CHURN_FEATURES}
    requests = [{c: values[i : i + 1] for c, values in arrays.items()} for i in range(len(X))]

    def predict(columns: Columns) -> dict[str, np.ndarray]:
        frame = pd.DataFrame(columns, copy=False)
        return {"labels": model.predict(frame), "proba": model.predict_proba(frame)}

    return predict, requests


def print_table(cells: dict[tuple[int, str], Cell]) -> None:
    print("| clients | predicting | rows/s | calls/request | p50 ms | p99 ms | vs max_rows=1 |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for (concurrency, mode), cell in cells.items():
        base = cells[concurrency, "max_rows=1"].rows_per_second
        print(
            f"| {concurrency} | {mode} | {cell.rows_per_second:,.0f} | "
            f"{cell.calls_per_request:.3f} | {cell.p50_ms:.1f} | {cell.p99_ms:.1f} | "
            f"{cell.rows_per_second / base:.2f}× |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.8)
    parser.add_argument("--concurrency", default="1,8,32")
    args = parser.parse_args(argv)
    levels = [int(part) for part in args.concurrency.split(",")]

    started = time.perf_counter()
    predict, requests = make_workload()
    print(f"# model and requests ready in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    cells: dict[tuple[int, str], Cell] = {}
    for concurrency in levels:
        for mode in MODES:
            cells[concurrency, mode] = asyncio.run(
                measure(mode, predict, requests, concurrency, args.seconds)
            )
            print(f"#   {concurrency} clients, {mode}: done", file=sys.stderr, flush=True)

    print(
        f"Adaptive batching, churn pipeline (predict + predict_proba), one-row requests, "
        f"{args.seconds:g} s per cell. Python {platform.python_version()}, "
        f"scikit-learn {metadata.version('scikit-learn')}, {os.cpu_count()} CPUs."
    )
    print()
    print_table(cells)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
