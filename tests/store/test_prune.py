"""Retention (``PredictionLog.prune`` / ``Project.prune_log``) on SQLite and PostgreSQL.

What is left is compared with a pandas filter of what was logged; the counts with the batches'
event-time ranges and the labels, computed from the source frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import func, select

import watchkeeper.store._retention as retention_module
from watchkeeper.clock import SimulatedClock, as_utc
from watchkeeper.datasets import CHURN_FEATURES, churn, train_churn_model
from watchkeeper.errors import InvalidInputError, InvalidParameterError, ModelNotFoundError
from watchkeeper.registry import Project
from watchkeeper.store.predictions import PruneResult, make_batch
from watchkeeper.store.tables import labels as labels_table
from watchkeeper.store.tables import prediction_batches, prediction_keys

FEATURES = list(CHURN_FEATURES)
START = datetime(2024, 3, 1, tzinfo=UTC)
BOTH = ("served", "shadow")
CHUNK = 500


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return churn(1_000, seed=1)


@pytest.fixture(scope="module")
def model(reference: pd.DataFrame) -> Any:
    return train_churn_model(reference)


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def project(
    tmp_path: Path, database_url: str, clock: SimulatedClock, reference: pd.DataFrame, model: Any
) -> Iterator[Project]:
    """``churn`` and ``other`` (the same model), each v1 in production."""
    with Project.init(tmp_path / "p", database_url=database_url, clock=clock) as opened:
        for name in ("churn", "other"):
            opened.register(
                name, model, reference=reference.head(300), target="churned", id="customer_id"
            )
            opened.deploy(name, 1)
        yield opened


def utc(frame: pd.DataFrame) -> pd.Series:
    """The source frame's (naive) event times as the log stores them: UTC, µs."""
    times: pd.Series = frame["event_time"].dt.tz_localize("UTC").dt.as_unit("us")
    return times


class Logged:
    """What the ``logged`` fixture wrote: the sorted frame (four served 500-row batches
    ``s0``..``s3`` in event-time order), a shuffled 500-row served batch ``mix``, a shadow
    batch for ``s1`` and labels for every third row of each served request."""

    def __init__(self, sorted_frame: pd.DataFrame, mixed: pd.DataFrame) -> None:
        self.sorted = sorted_frame
        self.mixed = mixed
        times = sorted(utc(sorted_frame))
        # Inside s1: s0 wholly before, s1 and the shuffled batch (and s1's shadow) straddle.
        self.cutoff: datetime = (times[CHUNK + 200] + pd.Timedelta(seconds=1)).to_pydatetime()
        self.ranges = {
            "s0": (times[0], times[CHUNK - 1]),
            "s1": (times[CHUNK], times[2 * CHUNK - 1]),
            "s2": (times[2 * CHUNK], times[3 * CHUNK - 1]),
            "s3": (times[3 * CHUNK], times[4 * CHUNK - 1]),
            "mix": (utc(mixed).min(), utc(mixed).max()),
        }


@pytest.fixture
def logged(project: Project, clock: SimulatedClock) -> Logged:
    frame = churn(2_500, seed=3).sample(frac=1.0, random_state=3).reset_index(drop=True)
    sorted_frame = frame.iloc[:2_000].sort_values("event_time", kind="stable")
    sorted_frame = sorted_frame.reset_index(drop=True)
    mixed = frame.iloc[2_000:].reset_index(drop=True)
    for i in range(4):
        clock.advance(timedelta(minutes=1))
        part = sorted_frame.iloc[i * CHUNK : (i + 1) * CHUNK]
        project.log_predictions("churn", part, event_time_col="event_time", request_id=f"s{i}")
    project.log_predictions("churn", mixed, event_time_col="event_time", request_id="mix")
    s1 = sorted_frame.iloc[CHUNK : 2 * CHUNK]
    shadow = make_batch(
        "churn",
        1,
        s1[FEATURES],
        {"prediction": np.zeros(CHUNK, dtype=np.int64), "prediction_proba": np.full(CHUNK, 0.5)},
        request_id="s1",
        event_time=s1["event_time"],
        keys=s1["customer_id"].tolist(),
        role="shadow",
    )
    project.log.append([shadow])
    project.log_predictions("other", frame.head(300), event_time_col="event_time")
    clock.advance(timedelta(days=30))
    items = [
        {"id": rid, "row": row, "label": row % 2}
        for rid in ("s0", "s1", "s2", "s3", "mix")
        for row in range(0, CHUNK, 3)
    ]
    assert project.log_labels("churn", items).stored == len(items)
    other = [{"id": c, "label": 1} for c in frame["customer_id"][:50]]
    assert project.log_labels("other", other).stored == 50
    return Logged(sorted_frame, mixed)


def table_rows(project: Project, table: Any, model: str = "churn") -> set[tuple[str, int]]:
    """The (request id, row) pairs of ``model`` in ``prediction_keys`` or ``labels``."""
    with project.database.read() as conn:
        model_id = project.log._model_id(conn, model)
        rows = conn.execute(
            select(table.c.request_id, table.c.row).where(table.c.model_id == model_id)
        ).all()
    return {(r.request_id, int(r.row)) for r in rows}


def batch_rows(project: Project, model: str = "churn") -> list[Any]:
    """The rows of ``prediction_batches`` of ``model``, in logging order."""
    with project.database.read() as conn:
        model_id = project.log._model_id(conn, model)
        query = select(prediction_batches).where(prediction_batches.c.model_id == model_id)
        return list(conn.execute(query.order_by(prediction_batches.c.id)).all())


def counts(project: Project) -> tuple[int, ...]:
    with project.database.read() as conn:
        return tuple(
            int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (prediction_batches, prediction_keys, labels_table)
        )


def expected_result(logged: Logged, window: pd.DataFrame) -> PruneResult:
    """The counts a prune at ``logged.cutoff`` must report, from the source frames."""
    cutoff = pd.Timestamp(logged.cutoff)
    early = window["event_time"] < cutoff
    served_early = early & (window["role"] == "served")
    kinds = {
        name: ("before" if hi < cutoff else "after" if lo >= cutoff else "straddles")
        for name, (lo, hi) in logged.ranges.items()
    }
    assert kinds == {
        "s0": "before",
        "s1": "straddles",
        "s2": "after",
        "s3": "after",
        "mix": "straddles",
    }
    return PruneResult(
        rows=int(early.sum()),
        batches_deleted=1,
        batches_rewritten=3,  # s1, its shadow batch, mix
        labels=int((served_early & window["label"].notna()).sum()),
    )


# ---------------------------------------------------------------------------- pruning
def test_prune_keeps_exactly_the_rows_at_or_after_the_cutoff(
    project: Project, logged: Logged, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = project.read_log("churn", roles=BOTH, with_labels=True)
    other_before = project.read_log("other", roles=BOTH, with_labels=True)
    keys_before = table_rows(project, prediction_keys)
    labels_before = table_rows(project, labels_table)
    batches_before = batch_rows(project)
    cutoff = pd.Timestamp(logged.cutoff)
    expected = expected_result(logged, before)
    assert 0 < expected.rows < len(before)
    assert expected.labels > 0

    reads: list[int] = []
    real_read = retention_module._read_ipc

    def counting_read(payload: bytes) -> Any:
        reads.append(len(payload))
        return real_read(payload)

    monkeypatch.setattr(retention_module, "_read_ipc", counting_read)
    assert project.prune_log("churn", logged.cutoff) == expected
    # Only the straddling batches were read: not s0 (deleted whole), nor s2, s3, other's.
    assert len(reads) == expected.batches_rewritten
    monkeypatch.undo()

    after = project.read_log("churn", roles=BOTH, with_labels=True)
    kept = before[before["event_time"] >= cutoff].reset_index(drop=True)
    assert len(kept) == len(before) - expected.rows
    pd.testing.assert_frame_equal(after, kept)  # logged_at and order kept
    assert after["event_time"].min() >= cutoff
    assert set(after["request_id"]) == {"s1", "s2", "s3", "mix"}
    assert after.loc[after["role"] == "shadow", "request_id"].eq("s1").all()
    # The same rows, from the frames that were logged.
    source = pd.concat([logged.sorted, logged.mixed], ignore_index=True)
    late = source.loc[(utc(source) >= cutoff).to_numpy(), "customer_id"]
    s1 = logged.sorted.iloc[CHUNK : 2 * CHUNK]
    late_s1 = s1.loc[(utc(s1) >= cutoff).to_numpy(), "customer_id"]
    served_after = after[after["role"] == "served"]
    assert sorted(served_after["key"]) == sorted(late)
    assert after.loc[after["role"] == "shadow", "key"].tolist() == late_s1.tolist()

    # Keys and labels of the pruned rows are gone, the others intact.
    served = before[before["role"] == "served"]
    early = served["event_time"] < cutoff
    pairs = {(r, int(w)) for r, w in zip(served["request_id"], served["row"], strict=True)}
    early_pairs = {
        (r, int(w)) for r, w in zip(served["request_id"][early], served["row"][early], strict=True)
    }
    assert keys_before == pairs
    assert table_rows(project, prediction_keys) == pairs - early_pairs
    assert table_rows(project, labels_table) == labels_before - early_pairs
    assert len(labels_before) - len(table_rows(project, labels_table)) == expected.labels

    # The straddling batches were rewritten in place: same id, logged_at and event_time_max,
    # n_rows and event_time_min those of the rows kept; the batch wholly before is gone; the
    # others are untouched.
    batches_after = {b.id: b for b in batch_rows(project)}
    assert len(batches_after) == len(batches_before) - 1
    changed = 0
    for old in batches_before:
        if as_utc(old.event_time_max) < logged.cutoff:
            assert old.id not in batches_after
            continue
        new = batches_after[old.id]
        assert (new.logged_at, new.event_time_max) == (old.logged_at, old.event_time_max)
        if as_utc(old.event_time_min) >= logged.cutoff:
            assert (new.n_rows, new.event_time_min, new.payload) == (
                old.n_rows,
                old.event_time_min,
                old.payload,
            )
            continue
        changed += 1
        table = pa.ipc.open_stream(new.payload).read_all()
        times = table["event_time"].to_pandas()
        assert new.n_rows == table.num_rows < old.n_rows
        assert as_utc(new.event_time_min) == times.min().to_pydatetime() >= logged.cutoff
    assert changed == expected.batches_rewritten

    # Other models are untouched.
    pd.testing.assert_frame_equal(
        project.read_log("other", roles=BOTH, with_labels=True), other_before
    )


def test_dry_run_changes_nothing(project: Project, logged: Logged) -> None:
    before = project.read_log("churn", roles=BOTH, with_labels=True)
    batches = batch_rows(project)
    stored = counts(project)
    expected = expected_result(logged, before)
    assert project.prune_log("churn", logged.cutoff, dry_run=True) == expected
    assert project.log.prune("churn", logged.cutoff, dry_run=True) == expected
    assert batch_rows(project) == batches
    assert counts(project) == stored
    pd.testing.assert_frame_equal(project.read_log("churn", roles=BOTH, with_labels=True), before)
    # The real prune then does what the dry run said.
    assert project.prune_log("churn", logged.cutoff) == expected


def test_prune_is_idempotent_and_a_naive_cutoff_is_utc(project: Project, logged: Logged) -> None:
    expected = expected_result(logged, project.read_log("churn", roles=BOTH, with_labels=True))
    naive = logged.cutoff.replace(tzinfo=None)
    assert project.prune_log("churn", naive) == expected
    after = project.read_log("churn", roles=BOTH, with_labels=True)
    stored = counts(project)
    assert project.prune_log("churn", logged.cutoff) == PruneResult(0, 0, 0, 0)
    assert project.prune_log("churn", naive, dry_run=True) == PruneResult(0, 0, 0, 0)
    assert counts(project) == stored
    pd.testing.assert_frame_equal(project.read_log("churn", roles=BOTH, with_labels=True), after)
    assert after["event_time"].min() >= pd.Timestamp(logged.cutoff)


def test_a_pruned_request_id_can_be_logged_again(
    project: Project, logged: Logged, clock: SimulatedClock
) -> None:
    s0 = logged.sorted.iloc[:CHUNK]
    with pytest.raises(InvalidInputError, match="logged before"):
        project.log_predictions("churn", s0, event_time_col="event_time", request_id="s0")
    project.prune_log("churn", logged.cutoff)
    assert len(project.read_log("churn", until=logged.cutoff)) == 0

    # s0 again, now at a later event time (its keys and labels went with the prune).
    clock.advance(timedelta(days=1))
    again = s0.assign(event_time=clock.now().replace(tzinfo=None))
    assert project.log_predictions("churn", again, event_time_col="event_time", request_id="s0")
    out = project.read_log("churn", with_labels=True)
    relogged = out[out["request_id"] == "s0"]
    assert relogged["row"].tolist() == list(range(CHUNK))
    assert relogged["label"].isna().all()  # its old labels were deleted with it
    result = project.log_labels("churn", [{"id": "s0", "row": 0, "label": 1}])
    assert (result.stored, result.unchanged) == (1, 0)


def test_prune_of_everything_and_of_nothing(project: Project, logged: Logged) -> None:
    stored = counts(project)
    early = datetime(2020, 1, 1, tzinfo=UTC)
    assert project.prune_log("churn", early) == PruneResult(0, 0, 0, 0)
    assert counts(project) == stored
    everything = project.read_log("churn", roles=BOTH, with_labels=True)
    result = project.prune_log("churn", datetime(2030, 1, 1, tzinfo=UTC))
    assert result == PruneResult(
        rows=len(everything),
        batches_deleted=6,
        batches_rewritten=0,
        labels=int(everything.loc[everything["role"] == "served", "label"].notna().sum()),
    )
    assert len(project.read_log("churn", roles=BOTH)) == 0
    assert table_rows(project, prediction_keys) == set()
    assert table_rows(project, labels_table) == set()
    assert len(project.read_log("other")) == 300


def test_prune_errors(project: Project) -> None:
    with pytest.raises(ModelNotFoundError, match="'nope'"):
        project.prune_log("nope", START)
    with pytest.raises(ModelNotFoundError, match="'nope'"):
        project.prune_log("nope", START, dry_run=True)
    with pytest.raises(InvalidParameterError, match="before must be a datetime"):
        project.prune_log("churn", "2024-01-01")  # type: ignore[arg-type]
