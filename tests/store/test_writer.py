"""GroupCommitWriter: grouping, per-batch failures, flushing, async use, and durability under
kill -9, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import watchkeeper
from watchkeeper.datasets import CHURN_FEATURES, churn, train_churn_model
from watchkeeper.errors import (
    InvalidInputError,
    InvalidParameterError,
    ModelNotFoundError,
    StoreError,
)
from watchkeeper.store.predictions import PredictionBatch, make_batch
from watchkeeper.store.writer import GroupCommitWriter

MODEL = "churn"
WAIT = 60.0  # seconds: a bound on every wait, so that a hang fails instead of blocking


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return churn(2_000, seed=1)


@pytest.fixture(scope="module")
def model(reference: pd.DataFrame) -> Any:
    return train_churn_model(reference)


def _project(directory: Path, url: str, reference: pd.DataFrame, model: Any) -> Any:
    project = watchkeeper.Project.init(directory, database_url=url)
    project.register(MODEL, model, reference=reference, target="churned", id="customer_id")
    return project


@pytest.fixture
def project(
    tmp_path: Path, database_url: str, reference: pd.DataFrame, model: Any
) -> Iterator[Any]:
    """A project (SQLite, PostgreSQL) with the churn model registered as version 1."""
    with _project(tmp_path / "project", database_url, reference, model) as opened:
        yield opened


@pytest.fixture
def sqlite_project(tmp_path: Path, reference: pd.DataFrame, model: Any) -> Iterator[Any]:
    """The same on SQLite only, for behaviour that does not depend on the database."""
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    with _project(tmp_path / "project", url, reference, model) as opened:
        yield opened


def _batch(
    reference: pd.DataFrame, request_id: str, *, n: int = 1, start: int = 0, model: str = MODEL
) -> PredictionBatch:
    rows = reference.iloc[start : start + n]
    return make_batch(
        model,
        1,
        rows[list(CHURN_FEATURES)],
        {"prediction": [0] * n, "prediction_proba": [0.25] * n},
        request_id=request_id,
        event_time=list(rows["event_time"]),
        keys=list(rows["customer_id"]),
    )


def _logged(project: Any) -> list[str]:
    """The request ids in the log, one per logged row."""
    return [str(r) for r in project.read_log(MODEL)["request_id"]]


# ---------------------------------------------------------------------- grouping
def test_concurrent_submitters_are_grouped_and_every_row_is_logged_once(
    project: Any, reference: pd.DataFrame
) -> None:
    n_threads, per_thread = 16, 50
    batches = [
        [_batch(reference, f"t{t}-{i}", start=(t * per_thread + i) % 1_000) for i in range(50)]
        for t in range(n_threads)
    ]
    barrier = threading.Barrier(n_threads)

    def submit_each(mine: list[PredictionBatch]) -> int:
        barrier.wait(timeout=WAIT)
        for batch in mine:  # like a request handler: wait for the commit, then answer
            assert writer.submit(batch).result(timeout=WAIT) is None
        return len(mine)

    with GroupCommitWriter(project.log) as writer, ThreadPoolExecutor(n_threads) as pool:
        assert sum(pool.map(submit_each, batches, timeout=WAIT)) == n_threads * per_thread

    n_batches = n_threads * per_thread
    expected = sorted(f"t{t}-{i}" for t in range(n_threads) for i in range(per_thread))
    assert sorted(_logged(project)) == expected  # all there, none twice
    assert writer.rows_written == n_batches
    assert writer.failed_batches == 0
    assert 1 <= writer.commits < n_batches  # batches shared transactions
    assert writer.last_commit_seconds > 0
    assert writer.queue_depth == 0


def test_max_rows_closes_a_group_and_a_larger_batch_goes_alone(
    sqlite_project: Any, reference: pd.DataFrame
) -> None:
    writer = GroupCommitWriter(sqlite_project.log, max_rows=2, max_delay=60.0)
    sizes = [1, 1, 1, 3, 1]  # groups: [1, 1], [1], [3], [1]
    futures = [
        writer.submit(_batch(reference, f"r{k}", n=n, start=10 * k)) for k, n in enumerate(sizes)
    ]
    assert writer.queue_depth == len(sizes)
    writer.close(timeout=WAIT)  # flushes at once, without waiting for max_delay
    assert [f.result(timeout=0) for f in futures] == [None] * len(sizes)
    assert writer.commits == 4
    assert writer.rows_written == sum(sizes)
    assert sorted(set(_logged(sqlite_project))) == [f"r{k}" for k in range(len(sizes))]


# ---------------------------------------------------------------------- failures
def test_a_group_is_one_payload_row_per_version_and_role(
    project: Any, reference: pd.DataFrame, model: Any
) -> None:
    import sqlalchemy as sa

    from watchkeeper.store.tables import prediction_batches

    project.register(MODEL, model, reference=reference, target="churned", id="customer_id")
    batches = [_batch(reference, f"g{k}", n=1 + k % 3, start=5 * k) for k in range(12)]
    shadow = make_batch(
        MODEL, 2, reference.iloc[:2][list(CHURN_FEATURES)],
        {"prediction": [1, 1], "prediction_proba": [0.5, 0.75]},
        request_id="g0", event_time=list(reference.iloc[:2]["event_time"]), role="shadow",
    )  # fmt: skip
    # Missing values make one batch's column float64 where the others are int64.
    holes = reference.iloc[100:102][list(CHURN_FEATURES)].astype({"tenure_months": "float64"})
    holes.iloc[0, holes.columns.get_loc("tenure_months")] = float("nan")
    with_nan = make_batch(
        MODEL, 1, holes, {"prediction": [0, 1], "prediction_proba": [0.1, 0.9]},
        request_id="nan", event_time=list(reference.iloc[100:102]["event_time"]),
    )  # fmt: skip
    writer = GroupCommitWriter(project.log, max_delay=60.0)
    futures = [writer.submit(b) for b in [*batches, shadow, with_nan]]  # queued, then one group
    writer.close(timeout=WAIT)
    assert [f.result(timeout=0) for f in futures] == [None] * len(futures)
    assert writer.commits == 1
    with project.database.read() as conn:
        stored = conn.execute(
            sa.select(prediction_batches.c.version, prediction_batches.c.role)
        ).all()
    assert sorted(map(tuple, stored)) == [(1, "served"), (2, "shadow")]
    logged = project.read_log(MODEL)
    expected_ids = [b.table["request_id"][0].as_py() for b in batches for _ in range(b.n_rows)]
    assert logged["request_id"].tolist() == [*expected_ids, "nan", "nan"]
    assert logged["tenure_months"].isna().tolist()[-2:] == [True, False]
    sent = pd.concat([b.table.to_pandas() for b in batches], ignore_index=True)
    pd.testing.assert_series_equal(
        logged["monthly_charges"].head(len(sent)), sent["monthly_charges"], check_names=False
    )


def test_a_duplicate_request_id_fails_only_its_own_batch(
    project: Any, reference: pd.DataFrame
) -> None:
    project.log.append([_batch(reference, "logged-before")])
    writer = GroupCommitWriter(project.log)  # not started: everything below is one group
    names = ["a", "logged-before", "b", "a", "c"]
    futures = [writer.submit(_batch(reference, name, start=k)) for k, name in enumerate(names)]
    writer.close(timeout=WAIT)

    for index in (0, 2, 4):
        assert futures[index].result(timeout=0) is None
    for index in (1, 3):  # logged by an earlier commit / earlier in the same group
        with pytest.raises(InvalidInputError):
            futures[index].result(timeout=0)
    assert writer.failed_batches == 2
    assert writer.commits == 3  # the group failed; each good batch was retried on its own
    assert sorted(_logged(project)) == ["a", "b", "c", "logged-before"]
    # The first "a" was kept: its row is the one logged.
    log = project.read_log(MODEL)
    assert log.loc[log["request_id"] == "a", "key"].tolist() == [reference["customer_id"][0]]


def test_an_unknown_model_or_a_broken_batch_fails_alone_and_the_writer_goes_on(
    project: Any, reference: pd.DataFrame
) -> None:
    broken = PredictionBatch(
        model=MODEL, version=1, role="served", table=pa.table({"request_id": ["broken"]})
    )
    writer = GroupCommitWriter(project.log, max_delay=0.2)
    futures = [
        writer.submit(_batch(reference, "good-1")),
        writer.submit(_batch(reference, "lost", model="no-such-model")),
        writer.submit(broken),  # no event_time column: pyarrow raises KeyError
        writer.submit(_batch(reference, "good-2", start=1)),
    ]
    with writer:  # starts the thread: the four queued batches form one group
        assert futures[0].result(timeout=WAIT) is None
        assert isinstance(futures[1].exception(timeout=WAIT), ModelNotFoundError)
        assert isinstance(futures[2].exception(timeout=WAIT), KeyError)
        assert futures[3].result(timeout=WAIT) is None
        # The thread survived both failures and keeps writing.
        assert writer.submit(_batch(reference, "after", start=2)).result(timeout=WAIT) is None
    assert sorted(_logged(project)) == ["after", "good-1", "good-2"]
    assert writer.failed_batches == 2


# ---------------------------------------------------------------------- lifecycle
def test_close_flushes_the_queue_and_is_idempotent(project: Any, reference: pd.DataFrame) -> None:
    writer = GroupCommitWriter(project.log, max_delay=0.05)
    writer.start()
    writer.start()  # a no-op
    futures = [writer.submit(_batch(reference, f"q{i}", start=i)) for i in range(40)]
    writer.close(timeout=WAIT)
    assert all(f.done() for f in futures)
    assert [f.result(timeout=0) for f in futures] == [None] * 40
    assert writer.queue_depth == 0
    assert sorted(_logged(project)) == sorted(f"q{i}" for i in range(40))

    with pytest.raises(StoreError, match="closed"):
        writer.submit(_batch(reference, "late"))
    with pytest.raises(StoreError, match="closed"):
        writer.start()
    writer.close()  # twice is fine
    assert "late" not in _logged(project)


def test_a_full_queue_refuses_batches(sqlite_project: Any, reference: pd.DataFrame) -> None:
    writer = GroupCommitWriter(sqlite_project.log, max_queue=3)
    futures = [writer.submit(_batch(reference, f"r{i}", start=i)) for i in range(3)]
    with pytest.raises(StoreError, match=r"queue is full \(3 batches waiting, max_queue=3\)"):
        writer.submit(_batch(reference, "r3", start=3))
    assert writer.queue_depth == 3
    writer.close(timeout=WAIT)
    assert [f.result(timeout=0) for f in futures] == [None] * 3
    assert sorted(_logged(sqlite_project)) == ["r0", "r1", "r2"]


def test_a_batch_cancelled_while_queued_is_not_written(
    sqlite_project: Any, reference: pd.DataFrame
) -> None:
    writer = GroupCommitWriter(sqlite_project.log)
    kept = writer.submit(_batch(reference, "kept"))
    dropped = writer.submit(_batch(reference, "dropped", start=1))
    assert dropped.cancel()
    writer.close(timeout=WAIT)
    assert kept.result(timeout=0) is None
    assert _logged(sqlite_project) == ["kept"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_delay": -0.1}, "'max_delay' parameter of GroupCommitWriter must be a finite"),
        ({"max_delay": float("nan")}, "'max_delay'"),
        ({"max_rows": 0}, r"'max_rows' parameter of GroupCommitWriter must be an integer >= 1"),
        ({"max_queue": 2.5}, "'max_queue'"),
        ({"durability": "eventually"}, r"'sync' .* or 'async' .*Got 'eventually'"),
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, Any], message: str) -> None:
    log: Any = None  # validation comes first
    with pytest.raises(InvalidParameterError, match=message):
        GroupCommitWriter(log, **kwargs)


def test_submit_takes_only_prediction_batches() -> None:
    log: Any = None
    writer = GroupCommitWriter(log)
    with pytest.raises(InvalidParameterError, match=r"takes a PredictionBatch.*Got dict"):
        writer.submit({"request_id": "x"})  # type: ignore[arg-type]


# ---------------------------------------------------------------------- async use
def test_async_write_from_many_tasks(project: Any, reference: pd.DataFrame) -> None:
    batches = [_batch(reference, f"a{i}", start=i) for i in range(200)]

    async def main() -> None:
        await asyncio.gather(*(writer.write(batch) for batch in batches))
        with pytest.raises(InvalidInputError):
            await writer.write(_batch(reference, "a7"))

    with GroupCommitWriter(project.log) as writer:
        asyncio.run(asyncio.wait_for(main(), timeout=WAIT))
        assert sorted(_logged(project)) == sorted(f"a{i}" for i in range(200))
    assert writer.commits < len(batches)


def test_async_durability_acknowledges_before_commit(
    project: Any, reference: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    project.log.append([_batch(reference, "logged-before")])
    writer = GroupCommitWriter(project.log, durability="async")
    futures = [writer.submit(_batch(reference, f"f{i}", start=i)) for i in range(30)]
    futures.append(writer.submit(_batch(reference, "logged-before")))
    # Acknowledged although the writer has not even started: nothing is committed yet.
    assert all(f.done() and f.result(timeout=0) is None for f in futures)
    assert _logged(project) == ["logged-before"]

    with caplog.at_level(logging.ERROR, logger="watchkeeper.store.writer"):
        writer.start()
        writer.close(timeout=WAIT)
    assert sorted(_logged(project)) == sorted(["logged-before", *(f"f{i}" for i in range(30))])
    assert writer.failed_batches == 1  # the duplicate, which no caller waited for
    assert "Could not log 1 prediction(s) of 'churn' version 1" in caplog.text


# ---------------------------------------------------------------------- durability
CHILD = """
import sys, threading
from watchkeeper import Project
from watchkeeper.datasets import CHURN_FEATURES, churn
from watchkeeper.store.predictions import make_batch
from watchkeeper.store.writer import GroupCommitWriter

project = Project(sys.argv[1])
rows = churn(50, seed=3)
inputs = rows[list(CHURN_FEATURES)]
printing = threading.Lock()
writer = GroupCommitWriter(project.log)
writer.start()

def submitter(name):
    i = 0
    while True:
        k = i % len(rows)
        batch = make_batch(
            "churn", 1, inputs.iloc[[k]], {"prediction": [0], "prediction_proba": [0.5]},
            request_id=f"{name}-{i}", event_time=rows["event_time"].iloc[k],
        )
        writer.submit(batch).result()
        with printing:  # acknowledged only once committed
            print(f"{name}-{i}", flush=True)
        i += 1

for t in range(4):
    threading.Thread(target=submitter, args=(f"w{t}",), daemon=True).start()
threading.Event().wait()
"""


def test_acknowledged_predictions_survive_kill_9(
    project: Any, reference: pd.DataFrame, tmp_path: Path
) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    errors = tmp_path / "child.err"
    acked: list[str] = []
    enough = threading.Event()

    def read(stdout: Any) -> None:
        for line in stdout:
            if line.endswith("\n"):  # a whole line: printed after its commit
                acked.append(line.strip())
            if len(acked) >= 300:
                enough.set()

    with (
        errors.open("w", encoding="utf-8") as stderr,
        subprocess.Popen(
            [sys.executable, str(script), str(project.path)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        ) as child,
    ):
        reader = threading.Thread(target=read, args=(child.stdout,), daemon=True)
        reader.start()
        try:
            enough.wait(timeout=WAIT)
        finally:
            if child.poll() is None:
                os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=WAIT)
            reader.join(timeout=WAIT)  # reads what was acknowledged before the kill
    assert len(acked) >= 300, f"the child acknowledged {len(acked)}: {errors.read_text()[-3000:]}"
    assert child.returncode == -signal.SIGKILL

    with watchkeeper.Project(project.path) as reopened:
        logged = [str(r) for r in reopened.read_log(MODEL)["request_id"]]
        assert len(logged) == len(set(logged))
        missing = set(acked) - set(logged)
        assert not missing, f"{len(missing)} acknowledged predictions were lost"
        # The database is usable after the crash.
        reopened.log.append([_batch(reference, "after-kill")])
        assert "after-kill" in [str(r) for r in reopened.read_log(MODEL)["request_id"]]


def test_pending_rows_of_a_group_are_assembled_once_and_read_back_as_sent(
    project: Any, reference: pd.DataFrame
) -> None:
    import numpy as np

    from watchkeeper.store.writer import PendingRows

    def rows(k: int, n: int) -> PendingRows:
        part = reference.iloc[10 * k : 10 * k + n]
        inputs = {c: part[c].to_numpy() for c in CHURN_FEATURES}
        if k == 1:  # a missing value: float64 here where the others are int64
            inputs["tenure_months"] = np.array([np.nan, *part["tenure_months"][1:]], float)
        return PendingRows(
            model=MODEL,
            version=1,
            role="served",
            request_id=f"p{k}",
            inputs=inputs,
            outputs={"prediction": np.full(n, k % 2), "prediction_proba": np.full(n, k / 10)},
            event_time=list(part["event_time"]) if k == 2 else part["event_time"].iloc[0],
            keys=list(part["customer_id"]),
            n_rows=n,
        )

    pending = [rows(k, n) for k, n in enumerate([3, 2, 4, 1])]

    async def write_all(writer: GroupCommitWriter) -> None:
        await asyncio.gather(*(writer.write(r) for r in pending))

    writer = GroupCommitWriter(project.log, max_delay=0.5)
    with writer:
        asyncio.run(write_all(writer))
    assert writer.commits == 1
    logged = project.read_log(MODEL)
    expected = pd.concat(
        [reference.iloc[10 * k : 10 * k + r.n_rows] for k, r in enumerate(pending)],
        ignore_index=True,
    )
    assert logged["request_id"].tolist() == [
        f"p{k}" for k, r in enumerate(pending) for _ in range(r.n_rows)
    ]
    assert logged["row"].tolist() == [i for r in pending for i in range(r.n_rows)]
    assert logged["key"].tolist() == expected["customer_id"].tolist()
    assert logged["contract"].tolist() == expected["contract"].tolist()
    tenure = logged["tenure_months"].tolist()
    assert np.isnan(tenure[3])
    assert tenure[4] == expected["tenure_months"].iloc[4]
    times = pd.to_datetime(expected["event_time"]).dt.tz_localize("UTC")
    firsts = [times.iloc[0]] * 3 + [times.iloc[3]] * 2 + list(times.iloc[5:9]) + [times.iloc[9]]
    assert logged["event_time"].tolist() == firsts
    labels = project.log_labels(MODEL, [{"id": c, "label": 1} for c in expected["customer_id"]])
    assert labels.stored == len(expected)
