"""The prediction log (``watchkeeper.store.predictions``) through ``Project``: logging, windows,
versions and roles, duplicate request ids, late labels and compaction, on SQLite and PostgreSQL.

Every expectation is computed independently of the log: from the source frame with pandas, and
from the churn model's own ``predict``/``predict_proba``.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import Text, delete, func, select, type_coerce

from watchkeeper.clock import SimulatedClock
from watchkeeper.datasets import CHURN_FEATURES, churn, train_churn_model
from watchkeeper.errors import (
    InvalidInputError,
    InvalidParameterError,
    ModelNotFoundError,
    RegistryError,
)
from watchkeeper.registry import Project
from watchkeeper.store import _window as window_module
from watchkeeper.store._batch import COPY_HEADER, COPY_TRAILER, _copy_rows
from watchkeeper.store.predictions import (
    KEY_COLUMNS,
    LabelConflictError,
    LabelResult,
    make_batch,
)
from watchkeeper.store.tables import labels as labels_table
from watchkeeper.store.tables import prediction_batches, prediction_keys, registered_models

FEATURES = list(CHURN_FEATURES)
START = datetime(2024, 3, 1, tzinfo=UTC)
LOG_COLUMNS = ["version", "role", "logged_at", *KEY_COLUMNS]


# ---------------------------------------------------------------------- fixtures and helpers
@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return churn(2_000, seed=1)


@pytest.fixture(scope="module")
def models(reference: pd.DataFrame) -> tuple[Any, Any]:
    """Two distinct churn pipelines (v1 and, where a test registers it, v2)."""
    return train_churn_model(reference), train_churn_model(reference, C=0.01)


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def project(
    tmp_path: Path,
    database_url: str,
    clock: SimulatedClock,
    reference: pd.DataFrame,
    models: tuple[Any, Any],
) -> Iterator[Project]:
    """A project on each backend with ``churn`` v1 registered and deployed to production."""
    with Project.init(tmp_path / "p", database_url=database_url, clock=clock) as opened:
        opened.register(
            "churn", models[0], reference=reference.head(500), target="churned", id="customer_id"
        )
        opened.deploy("churn", 1)
        yield opened


def _register_v2(project: Project, reference: pd.DataFrame, models: tuple[Any, Any]) -> None:
    record = project.register(
        "churn", models[1], reference=reference.head(500), target="churned", id="customer_id"
    )
    assert record.version == 2


def _utc_times(frame: pd.DataFrame) -> pd.Series:
    """The source frame's (naive, whole-second) event times as the log stores them: UTC, µs."""
    times: pd.Series = frame["event_time"].dt.tz_localize("UTC").dt.as_unit("us")
    return times


def _expected_keys(
    frame: pd.DataFrame, since: datetime | None, until: datetime | None
) -> list[str]:
    """customer_id of the rows of ``frame`` (in its order) with since <= event_time < until."""
    times = _utc_times(frame)
    mask = pd.Series(True, index=frame.index)
    if since is not None:
        mask &= times >= pd.Timestamp(since)
    if until is not None:
        mask &= times < pd.Timestamp(until)
    return frame.loc[mask, "customer_id"].tolist()


def _constant_outputs(n: int, prediction: int = 0, proba: float = 0.5) -> dict[str, Any]:
    return {"prediction": np.full(n, prediction), "prediction_proba": np.full(n, proba)}


def _n_batches(project: Project) -> int:
    with project.database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(prediction_batches)).scalar_one())


def _n_labels(project: Project) -> int:
    with project.database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(labels_table)).scalar_one())


def _delays(frame: pd.DataFrame, positions: list[int], arrival: datetime) -> list[float]:
    """Seconds from the event times of ``frame``'s rows at ``positions`` to ``arrival``."""
    times = _utc_times(frame).iloc[positions]
    return [(arrival - t.to_pydatetime()).total_seconds() for t in times]


def _labels_by_key(project: Project, **read: Any) -> dict[str, Any]:
    """{key: label} of every labelled row of the log."""
    out = project.read_log("churn", with_labels=True, **read)
    got = out.loc[out["label"].notna(), ["key", "label"]]
    return dict(zip(got["key"], got["label"], strict=True))


# ---------------------------------------------------------------------- logging and reading
def test_log_predictions_round_trip(
    project: Project, models: tuple[Any, Any], clock: SimulatedClock
) -> None:
    frame = churn(3_000, seed=3)
    clock.advance(timedelta(hours=5))
    assert project.log_predictions("churn", frame, event_time_col="event_time") == 3_000
    out = project.read_log("churn")

    assert len(out) == 3_000
    assert list(out.columns) == [*LOG_COLUMNS, *FEATURES, "prediction", "prediction_proba"]
    # The inputs come back exactly (same dtypes too: str, int64, float64, bool; NaN kept).
    pd.testing.assert_frame_equal(out[FEATURES], frame[FEATURES])
    # The outputs were computed with the registered model (skops round trip): identical values.
    np.testing.assert_array_equal(out["prediction"], models[0].predict(frame[FEATURES]))
    np.testing.assert_array_equal(
        out["prediction_proba"], models[0].predict_proba(frame[FEATURES])[:, 1]
    )
    # Event times are stored in UTC at microsecond resolution (the source is naive, ns).
    pd.testing.assert_series_equal(out["event_time"], _utc_times(frame), check_names=False)
    assert out["key"].tolist() == frame["customer_id"].tolist()
    assert out["row"].tolist() == list(range(3_000))
    assert out["row"].dtype == np.int32
    (request_id,) = out["request_id"].unique()
    assert request_id.startswith("batch-")
    assert len(request_id) == len("batch-") + 32
    assert (out["version"] == 1).all()
    assert out["version"].dtype == np.int32
    assert (out["role"] == "served").all()
    assert (out["logged_at"] == pd.Timestamp(START + timedelta(hours=5))).all()


def test_outputs_in_the_frame_are_taken_as_given(project: Project, clock: SimulatedClock) -> None:
    frame = churn(40, seed=4)
    frame["prediction"] = 7
    frame["prediction_proba"] = 0.125
    clock.advance(timedelta(minutes=3))
    project.log_predictions("churn", frame, request_id="given")
    out = project.read_log("churn")
    assert out["prediction"].tolist() == [7] * 40
    assert out["prediction_proba"].tolist() == [0.125] * 40
    assert (out["request_id"] == "given").all()
    # Without event_time_col every row's event time is the clock's time.
    assert (out["event_time"] == pd.Timestamp(clock.now())).all()
    # Columns that are neither inputs nor outputs (target, id, the dataset's own scores) are
    # not logged; the id column is the key.
    assert not {"churned", "churn_score", "churn_pred", "customer_id", "city"} & set(out.columns)


def test_a_given_output_is_kept_when_another_is_computed(
    project: Project, models: tuple[Any, Any]
) -> None:
    frame = churn(30, seed=4)
    frame["prediction"] = 7
    project.log_predictions("churn", frame, request_id="half-given")
    out = project.read_log("churn")
    np.testing.assert_array_equal(
        out["prediction_proba"], models[0].predict_proba(frame[FEATURES])[:, 1]
    )
    assert out["prediction"].tolist() == [7] * 30


@pytest.mark.parametrize("layout", ["sorted", "shuffled"])
def test_windows_select_exactly_since_inclusive_until_exclusive(
    project: Project, layout: str
) -> None:
    frame = churn(3_000, seed=3)
    if layout == "shuffled":  # every batch spans the whole month: rows are filtered in batches
        frame = frame.sample(frac=1.0, random_state=11).reset_index(drop=True)
    for start in range(0, 3_000, 750):  # four batches; sorted: disjoint event-time ranges
        project.log_predictions(
            "churn", frame.iloc[start : start + 750], event_time_col="event_time"
        )
    times = sorted(_utc_times(frame))
    t = [ts.to_pydatetime() for ts in times]
    us = timedelta(microseconds=1)
    windows: list[tuple[datetime | None, datetime | None]] = [
        (None, None),
        (t[750], None),
        (None, t[1500]),
        (t[750], t[1500]),  # exactly the batch boundaries (sorted)
        (t[749], t[751]),  # straddles a boundary
        (t[100] + us, t[2900]),
        (t[2999], None),  # the last instant alone
        (t[0] - timedelta(days=1), t[0]),  # before everything: empty
        (t[2999] + us, t[2999] + timedelta(days=1)),  # after everything: empty
    ]
    for since, until in windows:
        out = project.read_log("churn", since=since, until=until)
        expected = _expected_keys(frame, since, until)
        assert out["key"].tolist() == expected, (since, until)
        if expected:
            assert out["event_time"].min() >= pd.Timestamp(since or t[0])
            if until is not None:
                assert out["event_time"].max() < pd.Timestamp(until)
    assert len(_expected_keys(frame, t[750], t[1500])) >= 750  # non-trivial windows
    assert _expected_keys(frame, t[0] - timedelta(days=1), t[0]) == []
    # Naive datetimes are taken as UTC.
    naive = project.read_log(
        "churn", since=t[750].replace(tzinfo=None), until=t[1500].replace(tzinfo=None)
    )
    assert naive["key"].tolist() == _expected_keys(frame, t[750], t[1500])


def test_more_than_50000_rows_are_logged_in_chunks(project: Project) -> None:
    frame = churn(50_500, seed=5).sample(frac=1.0, random_state=5).reset_index(drop=True)
    frame["prediction"] = np.arange(50_500) % 2
    frame["prediction_proba"] = np.linspace(0.0, 1.0, 50_500)
    assert project.log_predictions("churn", frame, event_time_col="event_time") == 50_500
    with project.database.read() as conn:
        sizes = conn.execute(
            select(prediction_batches.c.n_rows).order_by(prediction_batches.c.id)
        ).all()
    assert [s.n_rows for s in sizes] == [50_000, 500]  # one call, two chunks

    out = project.read_log("churn")
    assert out["key"].tolist() == frame["customer_id"].tolist()
    assert out["row"].tolist() == list(range(50_500))  # rows keep counting across chunks
    assert out["request_id"].nunique() == 1
    np.testing.assert_array_equal(out["prediction_proba"], frame["prediction_proba"])
    t = sorted(_utc_times(frame))
    for since, until in [(t[20_000], t[40_000]), (t[50_400], None), (None, t[77])]:
        window = project.read_log("churn", since=since, until=until)
        assert window["key"].tolist() == _expected_keys(frame, since, until)


# ---------------------------------------------------------------------- versions and roles
def test_versions_and_roles(
    project: Project, reference: pd.DataFrame, models: tuple[Any, Any]
) -> None:
    _register_v2(project, reference, models)
    served = churn(300, seed=6)
    project.log_predictions("churn", served, event_time_col="event_time", request_id="req-1")
    shadow_proba = models[1].predict_proba(served[FEATURES])[:, 1]
    shadow = make_batch(
        "churn",
        2,
        served[FEATURES],
        {
            "prediction": models[1].predict(served[FEATURES]),
            "prediction_proba": shadow_proba,
            "shadow_only": np.arange(300, dtype=np.float64),
        },
        request_id="req-1",  # a shadow row shares its request with the served row
        event_time=served["event_time"],
        keys=served["customer_id"].tolist(),
        role="shadow",
    )
    project.log.append([shadow])

    default = project.read_log("churn")
    assert len(default) == 300
    assert set(default["role"]) == {"served"}
    assert set(default["version"]) == {1}
    np.testing.assert_array_equal(
        default["prediction_proba"], models[0].predict_proba(served[FEATURES])[:, 1]
    )
    assert "shadow_only" not in default.columns

    both = project.read_log("churn", roles=("served", "shadow"))
    assert both["role"].tolist() == ["served"] * 300 + ["shadow"] * 300  # logging order
    assert both["version"].tolist() == [1] * 300 + [2] * 300
    assert both["key"].tolist() == served["customer_id"].tolist() * 2
    np.testing.assert_array_equal(both["prediction_proba"].iloc[300:], shadow_proba)
    # Columns a version lacks are null.
    assert both["shadow_only"].iloc[:300].isna().all()
    assert both["shadow_only"].iloc[300:].tolist() == list(range(300))

    v2_both = project.read_log("churn", versions=[2], roles=("served", "shadow"))
    assert len(v2_both) == 300
    assert set(v2_both["role"]) == {"shadow"}
    assert len(project.read_log("churn", versions=[2])) == 0  # v2 served nothing yet
    assert len(project.read_log("churn", roles=("shadow",))) == 300

    project.deploy("churn", 2)
    later = churn(100, seed=7)
    project.log_predictions("churn", later, event_time_col="event_time", request_id="req-2")
    v2 = project.read_log("churn", versions=[2])
    assert v2["key"].tolist() == later["customer_id"].tolist()
    assert set(v2["role"]) == {"served"}
    np.testing.assert_array_equal(
        v2["prediction_proba"], models[1].predict_proba(later[FEATURES])[:, 1]
    )
    assert project.read_log("churn", versions=[1])["key"].tolist() == served["customer_id"].tolist()
    assert len(project.read_log("churn", versions=[1, 2])) == 400
    assert len(project.read_log("churn", versions=[2], roles=("served", "shadow"))) == 400
    with pytest.raises(InvalidParameterError, match="roles"):
        project.read_log("churn", roles=("canary",))


# ---------------------------------------------------------------------- request ids
def test_a_request_id_is_logged_once_and_appends_are_atomic(project: Project) -> None:
    frame = churn(40, seed=8)
    project.log_predictions("churn", frame.head(10), event_time_col="event_time", request_id="r1")
    before = project.read_log("churn")
    batches = _n_batches(project)

    with pytest.raises(
        InvalidInputError, match=r"^10 prediction\(s\) were logged before.*churn:r1/0, churn:r1/1"
    ):
        project.log_predictions(
            "churn", frame.iloc[10:20], event_time_col="event_time", request_id="r1"
        )
    # Partial overlap: rows 5..14 of r1, of which 5..9 exist.
    overlap = make_batch(
        "churn",
        1,
        frame[FEATURES].iloc[10:20],
        _constant_outputs(10),
        request_id="r1",
        rows=list(range(5, 15)),
        event_time=START,
    )
    with pytest.raises(InvalidInputError, match=r"^5 prediction\(s\).*churn:r1/5, churn:r1/6"):
        project.log.append([overlap])

    # A fresh batch and a duplicate one in one append: neither is stored.
    fresh = make_batch(
        "churn",
        1,
        frame[FEATURES].iloc[20:25],
        _constant_outputs(5),
        request_id="fresh",
        event_time=START,
        keys=frame["customer_id"].iloc[20:25].tolist(),
    )
    dup = make_batch(
        "churn",
        1,
        frame[FEATURES].iloc[25:28],
        _constant_outputs(3),
        request_id="r1",
        event_time=START,
    )
    with pytest.raises(InvalidInputError, match=r"^3 prediction\(s\).*churn:r1/0.*Nothing"):
        project.log.append([fresh, dup])
    # Two batches of the same new request in one append: the second sees the first.
    twice = [
        make_batch(
            "churn",
            1,
            frame[FEATURES].iloc[i : i + 2],
            _constant_outputs(2),
            request_id="twice",
            event_time=START,
        )
        for i in (30, 32)
    ]
    with pytest.raises(InvalidInputError, match=r"^2 prediction\(s\).*churn:twice/0"):
        project.log.append(twice)

    pd.testing.assert_frame_equal(project.read_log("churn"), before)
    assert _n_batches(project) == batches
    # Nothing of "fresh" reached the key table either: its ids label nothing.
    result = project.log_labels("churn", [{"id": "fresh", "label": 1}, {"id": "twice", "label": 1}])
    assert result == LabelResult(stored=0, unchanged=0, unknown=["fresh", "twice"])

    # The same request logged as shadow is not a duplicate; a new id is accepted.
    project.log.append(
        [
            make_batch(
                "churn",
                1,
                frame[FEATURES].head(10),
                _constant_outputs(10),
                request_id="r1",
                event_time=START,
                role="shadow",
            ),
            fresh,
        ]
    )
    out = project.read_log("churn", roles=("served", "shadow"))
    assert out["request_id"].tolist() == ["r1"] * 20 + ["fresh"] * 5


def test_a_pair_repeated_within_one_batch_is_invalid_input(project: Project) -> None:
    frame = churn(2, seed=8)
    batch = make_batch(
        "churn",
        1,
        frame[FEATURES],
        _constant_outputs(2),
        request_id=["d", "d"],
        rows=[0, 0],
        event_time=START,
    )
    with pytest.raises(InvalidInputError, match=r"1 prediction\(s\).*churn:d/0\)"):
        project.log.append([batch])
    assert _n_batches(project) == 0


# ---------------------------------------------------------------------- labels
@pytest.fixture
def labelled(project: Project) -> pd.DataFrame:
    """60 served predictions: req-A (frame rows 0..19), req-B (20..29), req-C (30..59)."""
    frame = churn(60, seed=9)
    for rid, part in (("req-A", slice(0, 20)), ("req-B", slice(20, 30)), ("req-C", slice(30, 60))):
        project.log_predictions(
            "churn", frame.iloc[part], event_time_col="event_time", request_id=rid
        )
    return frame


def test_labels_by_request_row_request_and_key(
    project: Project, labelled: pd.DataFrame, clock: SimulatedClock
) -> None:
    cid = labelled["customer_id"].tolist()
    arrival = clock.advance(timedelta(days=2))
    items = [
        {"id": "req-A", "row": 3, "label": 1},  # one row of a request
        {"id": "req-B", "label": 0},  # every row of a request
        {"id": cid[35], "label": 1},  # an id-column value (req-C row 5)
    ]
    assert project.log_labels("churn", items) == LabelResult(
        stored=12,
        unchanged=0,
        unknown=[],
        # One delay per label stored, in the order the items name them.
        delays_seconds=_delays(labelled, [3, *range(20, 30), 35], arrival),
    )
    expected = {cid[3]: 1, **{cid[i]: 0 for i in range(20, 30)}, cid[35]: 1}
    assert _labels_by_key(project) == expected
    out = project.read_log("churn", with_labels=True)
    has = out["label"].notna()
    assert (out.loc[has, "label_arrived_at"] == pd.Timestamp(arrival)).all()
    assert out.loc[~has, "label_arrived_at"].isna().all()

    # Identical labels again: unchanged, arrival time not overwritten.
    clock.advance(timedelta(days=1))
    assert project.log_labels("churn", items) == LabelResult(stored=0, unchanged=12, unknown=[])
    again = project.read_log("churn", with_labels=True)
    pd.testing.assert_frame_equal(again, out)

    # Unknown ids are reported and not stored; the known item beside them is.
    later = clock.advance(timedelta(hours=1))
    result = project.log_labels(
        "churn",
        [
            {"id": "nope", "label": 1},
            {"id": "req-A", "row": 20, "label": 1},  # req-A has rows 0..19
            {"id": cid[36], "row": 0, "label": 1},  # a row number only with a request id
            {"id": "req-A", "row": 4, "label": 0},
        ],
    )
    assert result == LabelResult(
        stored=1,
        unchanged=0,
        unknown=["nope", "req-A", cid[36]],
        delays_seconds=_delays(labelled, [4], later),
    )
    assert _labels_by_key(project) == {**expected, cid[4]: 0}
    assert _n_labels(project) == 13
    final = project.read_log("churn", with_labels=True)
    assert final.loc[final["key"] == cid[4], "label_arrived_at"].tolist() == [pd.Timestamp(later)]


def test_log_labels_from_a_dataframe(project: Project, labelled: pd.DataFrame) -> None:
    truth = labelled.iloc[::4][["customer_id", "churned"]]  # numpy int64 labels
    result = project.log_labels("churn", truth, id_col="customer_id", label_col="churned")
    assert result == LabelResult(
        stored=15,
        unchanged=0,
        unknown=[],
        delays_seconds=_delays(labelled, [*range(0, 60, 4)], START),
    )
    assert _labels_by_key(project) == dict(zip(truth["customer_id"], truth["churned"], strict=True))
    by_row = pd.DataFrame({"rid": ["req-B", "req-C"], "r": [1, 1], "y": [1, 0]})
    assert project.log_labels("churn", by_row, id_col="rid", label_col="y", row_col="r") == (
        LabelResult(
            stored=2, unchanged=0, unknown=[], delays_seconds=_delays(labelled, [21, 31], START)
        )
    )
    with pytest.raises(InvalidInputError, match="'target'"):
        project.log_labels("churn", truth, id_col="customer_id", label_col="target")


def test_a_conflicting_label_stores_nothing(project: Project, labelled: pd.DataFrame) -> None:
    cid = labelled["customer_id"].tolist()
    long = churn(400, seed=10)
    project.log_predictions("churn", long, event_time_col="event_time", request_id="req-L")
    assert project.log_labels("churn", [{"id": "req-A", "row": 3, "label": 1}]).stored == 1

    conflicts: list[list[dict[str, Any]]] = [
        [{"id": "req-A", "row": 5, "label": 1}, {"id": "req-A", "row": 3, "label": 0}],
        # 400 fresh labels, then the conflict (by id-column value) last.
        [{"id": "req-L", "row": i, "label": i % 2} for i in range(400)]
        + [{"id": cid[3], "label": 0}],
        # The whole request: its row 3 conflicts.
        [{"id": "req-B", "label": 1}, {"id": "req-A", "label": 0}],
    ]
    for items in conflicts:
        with pytest.raises(LabelConflictError, match=r"request 'req-A' row 3: recorded 1, given 0"):
            project.log_labels("churn", items)
    assert _n_labels(project) == 1
    assert _labels_by_key(project) == {cid[3]: 1}

    # Two different labels for one prediction within one call, however they are addressed.
    within: list[list[dict[str, Any]]] = [
        [{"id": "req-B", "row": 1, "label": 1}, {"id": "req-B", "row": 1, "label": 0}],
        [{"id": "req-B", "label": 0}, {"id": cid[21], "label": 1}],
        [{"id": cid[22], "label": "yes"}, {"id": "req-B", "row": 2, "label": "no"}],
    ]
    for items in within:
        with pytest.raises(LabelConflictError, match="in one call"):
            project.log_labels("churn", items)
    assert _n_labels(project) == 1

    with pytest.raises(LabelConflictError) as caught:
        project.log_labels("churn", conflicts[0])
    assert isinstance(caught.value, RegistryError)
    assert isinstance(caught.value, ValueError)

    # The same label twice in one call is one label.
    twice = [{"id": "req-B", "row": 2, "label": 1}] * 2
    assert project.log_labels("churn", twice) == LabelResult(
        stored=1, unchanged=0, unknown=[], delays_seconds=_delays(labelled, [22], START)
    )


def test_a_label_joins_served_and_shadow_rows(
    project: Project, reference: pd.DataFrame, models: tuple[Any, Any]
) -> None:
    _register_v2(project, reference, models)
    frame = churn(8, seed=12)
    project.log_predictions("churn", frame.head(5), event_time_col="event_time", request_id="S")
    project.log_predictions("churn", frame.tail(3), event_time_col="event_time", request_id="T")
    project.log.append(
        [
            make_batch(
                "churn",
                2,
                frame[FEATURES],
                _constant_outputs(8),
                request_id=["S"] * 5 + ["T"] * 3,
                rows=[0, 1, 2, 3, 4, 0, 1, 2],
                event_time=frame["event_time"],
                role="shadow",
            )
        ]
    )
    # Labels are counted per served prediction; they attach to both roles.
    assert project.log_labels("churn", [{"id": "S", "label": 1}]).stored == 5
    assert project.log_labels("churn", [{"id": "T", "row": 1, "label": 0}]).stored == 1
    out = project.read_log("churn", roles=("served", "shadow"), with_labels=True)
    expected = [1.0] * 5 + [np.nan, 0.0, np.nan]
    assert out["role"].tolist() == ["served"] * 8 + ["shadow"] * 8
    np.testing.assert_array_equal(out["label"].astype(float), expected * 2)
    served_only = project.read_log("churn", with_labels=True)
    np.testing.assert_array_equal(served_only["label"].astype(float), expected)


def test_invalid_label_items_name_their_index(project: Project, labelled: pd.DataFrame) -> None:
    good = {"id": "req-A", "row": 0, "label": 1}
    bad_items: list[tuple[Any, str]] = [
        ({"label": 1}, "'id'"),
        ({"id": None, "label": 1}, "'id'"),
        ({"id": 1.5, "label": 1}, "'id'"),
        ({"id": "req-A"}, "'label' is required"),
        ({"id": "req-A", "label": None}, "finite"),
        ({"id": "req-A", "label": float("nan")}, "finite"),
        ({"id": "req-A", "label": float("inf")}, "finite"),
        ({"id": "req-A", "label": [1]}, "number, text"),
        ({"id": "req-A", "row": -1, "label": 1}, "'row'"),
        ({"id": "req-A", "row": 1.0, "label": 1}, "'row'"),
        ({"id": "req-A", "row": True, "label": 1}, "'row'"),
        ({"id": "req-A", "label": 1, "weight": 2}, "unknown field"),
        ("req-A", "expected an object"),
        (("req-A", 1), "expected an object"),
    ]
    for bad, message in bad_items:
        with pytest.raises(InvalidInputError, match=rf"^Label 1: .*{message}"):
            project.log_labels("churn", [good, bad])
    assert _n_labels(project) == 0  # items are checked before anything is stored


def test_read_with_labels_matches_a_pandas_merge(project: Project, clock: SimulatedClock) -> None:
    frame = churn(500, seed=13)
    project.log_predictions("churn", frame.head(250), event_time_col="event_time", request_id="p1")
    project.log_predictions("churn", frame.tail(250), event_time_col="event_time", request_id="p2")
    first = clock.advance(timedelta(days=3))
    truth = frame.iloc[::3][["customer_id", "churned"]]
    assert project.log_labels(
        "churn", truth, id_col="customer_id", label_col="churned"
    ).stored == len(truth)
    second = clock.advance(timedelta(days=1))
    # p2 row 10 is frame row 260, not a multiple of 3: not labelled yet.
    assert project.log_labels("churn", [{"id": "p2", "row": 10, "label": 1}]).stored == 1

    plain = project.read_log("churn")
    arrivals = pd.DataFrame(
        {
            "key": [*truth["customer_id"], frame["customer_id"].iloc[260]],
            "label": [*truth["churned"], 1],
            "label_arrived_at": [pd.Timestamp(first)] * len(truth) + [pd.Timestamp(second)],
        }
    )
    expected = plain.merge(arrivals, on="key", how="left")
    out = project.read_log("churn", with_labels=True)
    assert list(out.columns) == [*plain.columns, "label", "label_arrived_at"]
    pd.testing.assert_frame_equal(out.drop(columns=["label", "label_arrived_at"]), plain)
    pd.testing.assert_series_equal(out["label"].astype(float), expected["label"].astype(float))
    pd.testing.assert_series_equal(
        out["label_arrived_at"], expected["label_arrived_at"], check_dtype=False
    )
    assert out["label"].notna().sum() == len(truth) + 1

    # With a window: the same labels on the window's rows.
    times = sorted(_utc_times(frame))
    since, until = times[100].to_pydatetime(), times[400].to_pydatetime()
    window = project.read_log("churn", since=since, until=until, with_labels=True)
    keys = _expected_keys(frame, since, until)
    assert window["key"].tolist() == keys
    by_key = expected.set_index("key")["label"].astype(float)
    np.testing.assert_array_equal(window["label"].astype(float), by_key.loc[keys].to_numpy())


# ---------------------------------------------------------------------- compaction
def test_compact_merges_small_batches_and_keeps_every_row(
    project: Project, clock: SimulatedClock
) -> None:
    frame = churn(1_000, seed=14)
    for i in range(200):
        clock.advance(timedelta(minutes=1))
        part = frame.iloc[5 * i : 5 * i + 5]
        project.log.append(
            [
                make_batch(
                    "churn",
                    1,
                    part[FEATURES],
                    {"prediction": np.full(5, i % 2), "prediction_proba": np.full(5, i / 200)},
                    request_id=f"c{i}",
                    event_time=part["event_time"],
                    keys=part["customer_id"].tolist(),
                )
            ]
        )
    before = project.read_log("churn", with_labels=True)
    assert before["logged_at"].nunique() == 200
    times = sorted(_utc_times(frame))
    window = (times[300].to_pydatetime(), times[700].to_pydatetime())
    window_before = project.read_log("churn", since=window[0], until=window[1])

    assert project.log.compact("churn", target_rows=100) == (200, 10)
    after = project.read_log("churn", with_labels=True)
    # Rows and their order are kept; each merged batch takes the latest logged_at of its
    # parts (the docstring's "logging times are kept" holds per batch, not per row).
    expected = before.copy()
    expected["logged_at"] = before.groupby(np.arange(1_000) // 100)["logged_at"].transform("max")
    pd.testing.assert_frame_equal(after, expected)
    assert after["logged_at"].nunique() == 10
    window_after = project.read_log("churn", since=window[0], until=window[1])
    pd.testing.assert_frame_equal(
        window_after.drop(columns="logged_at"), window_before.drop(columns="logged_at")
    )
    assert _n_batches(project) == 10

    # Compacting again changes nothing.
    assert project.log.compact("churn", target_rows=100) == (10, 10)
    pd.testing.assert_frame_equal(project.read_log("churn", with_labels=True), after)
    # Labels still find the compacted predictions.
    assert project.log_labels("churn", [{"id": "c150", "label": 1}]).stored == 5


def test_compact_merges_only_runs_of_one_version_and_role(project: Project) -> None:
    frame = churn(40, seed=15)
    roles = ["served"] * 3 + ["shadow"] * 2 + ["served"] * 3
    for i, role in enumerate(roles):
        part = frame.iloc[5 * i : 5 * i + 5]
        project.log.append(
            [
                make_batch(
                    "churn",
                    1,
                    part[FEATURES],
                    _constant_outputs(5, proba=i / 10),
                    request_id=f"b{i}",
                    event_time=part["event_time"],
                    role=role,
                )
            ]
        )
    before = project.read_log("churn", roles=("served", "shadow"))
    assert project.log.compact("churn", target_rows=1_000) == (8, 3)
    after = project.read_log("churn", roles=("served", "shadow"))
    pd.testing.assert_frame_equal(after.drop(columns="logged_at"), before.drop(columns="logged_at"))
    assert after["role"].tolist() == [r for r in roles for _ in range(5)]
    # A batch never grows past target_rows: 5-row batches pair up.
    assert project.log.compact("churn", target_rows=10) == (3, 3)
    with pytest.raises(InvalidParameterError, match="target_rows"):
        project.log.compact("churn", target_rows=0)


# ---------------------------------------------------------------------- errors and edges
def test_unknown_model(project: Project) -> None:
    frame = churn(3, seed=16)
    with pytest.raises(ModelNotFoundError, match="'nope'"):
        project.read_log("nope")
    with pytest.raises(ModelNotFoundError, match="'nope'"):
        project.log_predictions("nope", frame)
    with pytest.raises(ModelNotFoundError, match="'nope'"):
        project.log.append(
            [make_batch("nope", 1, frame[FEATURES], {}, request_id="x", event_time=START)]
        )
    with pytest.raises(ModelNotFoundError, match="'nope'"):
        project.log_labels("nope", [{"id": "x", "label": 1}])
    with pytest.raises(ModelNotFoundError, match="'nope'"):
        project.log.compact("nope")
    assert _n_batches(project) == 0


def test_make_batch_argument_errors() -> None:
    frame = churn(3, seed=17)[FEATURES]
    outputs = _constant_outputs(3)
    with pytest.raises(InvalidInputError, match="at least one row"):
        make_batch("churn", 1, frame.head(0), {}, request_id="x", event_time=START)
    for clashing in ("request_id", "row", "key", "event_time", "prediction"):
        with pytest.raises(InvalidInputError, match=f"'{clashing}'"):
            make_batch(
                "churn",
                1,
                frame.assign(**{clashing: 1}),
                outputs,
                request_id="x",
                event_time=START,
            )
    with pytest.raises(InvalidInputError, match="2 ids for 3 rows"):
        make_batch("churn", 1, frame, outputs, request_id=["a", "b"], rows=[0, 1], event_time=START)
    with pytest.raises(InvalidInputError, match="2 rows for 3 rows"):
        make_batch("churn", 1, frame, outputs, request_id="a", rows=[0, 1], event_time=START)
    with pytest.raises(InvalidInputError, match="2 event times for 3 rows"):
        make_batch("churn", 1, frame, outputs, request_id="a", event_time=[START, START])
    with pytest.raises(InvalidInputError, match="'prediction' has 2 values for 3 rows"):
        make_batch("churn", 1, frame, {"prediction": [0, 1]}, request_id="a", event_time=START)
    with pytest.raises(InvalidParameterError, match="rows="):
        make_batch("churn", 1, frame, outputs, request_id=["a", "b", "c"], event_time=START)
    with pytest.raises(InvalidParameterError, match="role must be one of served, shadow"):
        make_batch("churn", 1, frame, outputs, request_id="a", event_time=START, role="canary")

    batch = make_batch(
        "churn", 1, frame, outputs, request_id="a", event_time=START, keys=[1, None, "c"]
    )
    assert batch.n_rows == 3
    assert batch.table.column_names == [*KEY_COLUMNS, *FEATURES, "prediction", "prediction_proba"]
    assert batch.table["key"].to_pylist() == ["1", None, "c"]
    assert batch.table["row"].to_pylist() == [0, 1, 2]


def test_make_batch_checks_the_number_of_keys() -> None:
    frame = churn(3, seed=17)[FEATURES]
    with pytest.raises(InvalidInputError, match="keys"):
        make_batch("churn", 1, frame, {}, request_id="a", event_time=START, keys=["k"])


def test_read_log_accepts_a_naive_since_with_an_aware_until(project: Project) -> None:
    frame = churn(10, seed=19)
    project.log_predictions("churn", frame, event_time_col="event_time")
    since = datetime(2024, 1, 1)
    out = project.read_log("churn", since=since, until=datetime(2024, 3, 1, tzinfo=UTC))
    assert out["key"].tolist() == frame["customer_id"].tolist()


def test_log_predictions_input_errors(project: Project) -> None:
    frame = churn(5, seed=18)
    with pytest.raises(InvalidInputError, match="'tenure_months'"):
        project.log_predictions("churn", frame.drop(columns="tenure_months"))
    with pytest.raises(InvalidInputError, match="no rows"):
        project.log_predictions("churn", frame.head(0))
    with pytest.raises(InvalidInputError, match="'when'"):
        project.log_predictions("churn", frame, event_time_col="when")
    gap = frame.assign(event_time=frame["event_time"].where(frame.index != 2))
    with pytest.raises(InvalidInputError, match="missing event times"):
        project.log_predictions("churn", gap, event_time_col="event_time")
    with pytest.raises(InvalidParameterError, match="before until"):
        project.read_log("churn", since=START, until=START)
    assert _n_batches(project) == 0


def test_reading_an_empty_log(project: Project) -> None:
    out = project.read_log("churn")
    assert len(out) == 0
    assert list(out.columns) == LOG_COLUMNS
    labelled = project.read_log("churn", with_labels=True)
    assert len(labelled) == 0
    assert list(labelled.columns) == [*LOG_COLUMNS, "label", "label_arrived_at"]


def test_true_is_not_the_same_label_as_one(project: Project, labelled: pd.DataFrame) -> None:
    # Labels compare by their JSON: 1 and 1.0 are the same label, 1 and true are not.
    assert project.log_labels("churn", [{"id": "req-A", "row": 7, "label": 1}]).stored == 1
    assert project.log_labels("churn", [{"id": "req-A", "row": 7, "label": 1.0}]).unchanged == 1
    with pytest.raises(LabelConflictError, match="recorded 1, given True"):
        project.log_labels("churn", [{"id": "req-A", "row": 7, "label": True}])


def test_label_delays_are_seconds_from_event_time_to_arrival(
    project: Project, clock: SimulatedClock, reference: pd.DataFrame, models: tuple[Any, Any]
) -> None:
    _register_v2(project, reference, models)
    hours = [1, 2, 3, 4, 5, -72]  # the last event time is three days after START
    frame = churn(6, seed=21).assign(
        event_time=[(START - timedelta(hours=h)).replace(tzinfo=None) for h in hours]
    )
    project.log_predictions("churn", frame, event_time_col="event_time", request_id="d")
    shadow = make_batch(
        "churn",
        2,
        frame[FEATURES],
        _constant_outputs(6),
        request_id="d",
        event_time=frame["event_time"],
        role="shadow",
    )
    project.log.append([shadow])  # a label joins both roles, and is one label, one delay
    cid = frame["customer_id"].tolist()
    day = 24 * 3600.0

    clock.advance(timedelta(days=2))
    first = project.log_labels(
        "churn", [{"id": "d", "row": 4, "label": 1}, {"id": cid[1], "label": 0}]
    )
    assert first == LabelResult(
        stored=2, unchanged=0, unknown=[], delays_seconds=[2 * day + 5 * 3600, 2 * day + 2 * 3600]
    )

    clock.advance(timedelta(minutes=30))
    labels = [1 if r == 4 else 0 for r in range(6)]
    second = project.log_labels(
        "churn", [{"id": "d", "row": r, "label": labels[r]} for r in (5, 4, 3, 2, 1, 0)]
    )
    late = 2 * day + 1800
    assert second == LabelResult(
        stored=4,
        unchanged=2,
        unknown=[],
        # Only the labels stored, in the items' order; an event time after the arrival gives
        # a negative delay.
        delays_seconds=[late - 3 * day, late + 4 * 3600, late + 3 * 3600, late + 3600],
    )
    assert project.log_labels("churn", []) == LabelResult(0, 0, [], [])


def test_make_batch_from_arrays_equals_from_a_dataframe() -> None:
    frame = churn(300, seed=20)
    inputs = frame[FEATURES].assign(
        signup=frame["event_time"],  # datetime64 -> timestamp
        note=np.array([None if i % 7 == 0 else f"n{i}" for i in range(300)], dtype=object),
        code=np.array([f"c{i % 5}" for i in range(300)]),  # a numpy string array
        empty=np.array([None] * 300, dtype=object),
    )
    inputs.loc[inputs.index % 11 == 0, "contract"] = None
    inputs.loc[inputs.index % 13 == 0, "monthly_charges"] = np.nan
    arrays = {name: column.to_numpy() for name, column in inputs.items()}
    assert arrays["contract"].dtype == object
    assert arrays["signup"].dtype.kind == "M"
    outputs = _constant_outputs(300)
    common: dict[str, Any] = {
        "request_id": "r",
        "event_time": frame["event_time"],
        "keys": frame["customer_id"].tolist(),
    }
    from_frame = make_batch("churn", 1, inputs, outputs, **common).table
    from_arrays = make_batch("churn", 1, arrays, outputs, **common).table
    assert from_arrays.equals(from_frame)
    assert from_arrays.column_names == [*KEY_COLUMNS, *inputs.columns, *outputs]
    types = {name: str(from_arrays.schema.field(name).type) for name in from_arrays.column_names}
    assert types["contract"] == types["note"] == types["code"] == "large_string"
    assert types["signup"].startswith("timestamp[")
    assert types["empty"] == "null"
    assert from_arrays["note"].null_count == len(range(0, 300, 7))
    assert from_arrays["contract"].null_count == len(range(0, 300, 11))
    assert from_arrays["monthly_charges"].null_count == inputs["monthly_charges"].isna().sum()
    # A batch of outputs only (every input excluded from the log) has its outputs' rows.
    assert make_batch("churn", 1, {}, outputs, request_id="r", event_time=START).n_rows == 300


def test_make_batch_from_arrays_argument_errors() -> None:
    outputs = _constant_outputs(3)
    ok = {"a": np.arange(3), "b": np.array(["x", "y", "z"])}
    with pytest.raises(InvalidInputError, match=r"different lengths \('a': 3, 'b': 2\)"):
        make_batch("m", 1, {**ok, "b": ok["b"][:2]}, outputs, request_id="r", event_time=START)
    with pytest.raises(InvalidInputError, match=r"'c' must be a 1-D array.*\(3, 2\)"):
        make_batch("m", 1, {**ok, "c": np.zeros((3, 2))}, outputs, request_id="r", event_time=START)
    mixed = np.array(["x", 1, None], dtype=object)
    with pytest.raises(InvalidInputError, match="Input 'm' cannot be logged"):
        make_batch("m", 1, {"m": mixed}, outputs, request_id="r", event_time=START)
    with pytest.raises(InvalidInputError, match="'row'"):
        make_batch("m", 1, {**ok, "row": ok["a"]}, outputs, request_id="r", event_time=START)
    with pytest.raises(InvalidInputError, match="at least one input or output"):
        make_batch("m", 1, {}, {}, request_id="r", event_time=START)
    with pytest.raises(InvalidInputError, match="at least one row"):
        make_batch("m", 1, {"a": np.arange(0)}, {}, request_id="r", event_time=START)
    with pytest.raises(InvalidInputError, match="'prediction' has 3 values for 2 rows"):
        make_batch("m", 1, {"a": np.arange(2)}, outputs, request_id="r", event_time=[START, START])


# ---------------------------------------------------------------------- golden: the fast paths
# The log reads labels in bulk and joins them in Arrow, and writes PostgreSQL rows in binary
# COPY: each is compared here with the straightforward code it replaced.
ODD_TEXT = [
    "a,b",
    'say "hi"',
    "line\nbreak",
    "cr\r\n",
    "tab\there",
    "é ü 中",
    "back\\slash",
    " ",
    "",
]
LABEL_KINDS: dict[str, Any] = {
    "int": lambda rng: int(rng.integers(-3, 4)),
    "float": lambda rng: float(
        rng.choice([0.1 + 0.2, 1e20, -0.5, 1e-300, 5e-324, 1.7976931348623157e308, rng.normal()])
    ),
    "integral float": lambda rng: float(rng.integers(0, 3)),  # all integral: Int64
    "text": lambda rng: str(rng.choice([*ODD_TEXT, "yes", "no"])),
    "bool": lambda rng: bool(rng.integers(2)),
    "int or float": lambda rng: int(rng.integers(3)) if rng.random() < 0.5 else rng.normal(),
    "text or int": lambda rng: "yes" if rng.random() < 0.5 else int(rng.integers(3)),
    "bool or int": lambda rng: bool(rng.integers(2)) if rng.random() < 0.5 else 1,
    "big int": lambda rng: 2**70 + int(rng.integers(3)),  # beyond int64
    "anything": lambda rng: [1, 2.5, "x,y", True, 0.1 + 0.2, 'q"'][int(rng.integers(6))],
}


def _reference_labels(
    project: Project, since: datetime | None, until: datetime | None
) -> pd.DataFrame:
    """The window's labels as the log read them before its bulk path: rows through
    SQLAlchemy, each JSON text decoded, dtypes converted by pandas."""
    with project.database.read() as conn:
        model_id = conn.execute(
            select(registered_models.c.id).where(registered_models.c.name == "churn")
        ).scalar_one()
        query = select(
            labels_table.c.request_id,
            labels_table.c.row,
            type_coerce(labels_table.c.label, Text).label("label"),
            type_coerce(labels_table.c.arrived_at, Text).label("arrived_at"),
        ).where(labels_table.c.model_id == model_id)
        if since is not None:
            query = query.where(labels_table.c.event_time >= since)
        if until is not None:
            query = query.where(labels_table.c.event_time < until)
        rows = conn.execute(query).all()
        sqlite = conn.dialect.name == "sqlite"
    names = ["request_id", "row", "label", "label_arrived_at"]
    columns = list(zip(*rows, strict=True)) or [()] * len(names)
    frame = pd.DataFrame(dict(zip(names, map(list, columns), strict=True)))
    if sqlite:  # numbers are numbers already (the column's numeric affinity)
        frame["label"] = [json.loads(v) if isinstance(v, str) else v for v in frame["label"]]
    frame["row"] = frame["row"].astype("int32")
    frame["label"] = frame["label"].convert_dtypes()
    frame["label_arrived_at"] = pd.to_datetime(frame["label_arrived_at"], utc=True)
    return frame


def _random_log(project: Project, clock: SimulatedClock, seed: int, kind: str) -> None:
    """Served batches (and shadow copies of some) of versions 1 and 2 whose request ids, keys
    and text inputs hold commas, quotes, newlines and non-ASCII text, then labels of ``kind``
    in two calls an hour or more apart: some requests by request id, some by row, some by key,
    a third of them unlabelled."""
    rng = np.random.default_rng(seed)
    make = LABEL_KINDS[kind]
    batches, requests = [], []
    for b in range(int(rng.integers(2, 7))):
        sizes = [int(k) for k in rng.integers(1, 6, size=int(rng.integers(1, 12)))]
        ids = [f"{seed}/{b}/{r}{ODD_TEXT[r % len(ODD_TEXT)]}" for r in range(len(sizes))]
        n = sum(sizes)
        keys = [None if rng.random() < 0.2 else f'k{seed}/{b}/{i},"{i}"' for i in range(n)]
        text = [ODD_TEXT[i] if i < len(ODD_TEXT) else None for i in rng.integers(10, size=n)]
        inputs: dict[str, Any] = {"x": rng.normal(size=n), "c": np.array(text, dtype=object)}
        if seed % 4 == 0:  # an input named like the label column: merge's suffixes
            inputs["label"] = rng.integers(5, size=n)
        common: dict[str, Any] = {
            "request_id": [rid for rid, size in zip(ids, sizes, strict=True) for _ in range(size)],
            "rows": [row for size in sizes for row in range(size)],
            "keys": keys,
            "event_time": [START + timedelta(seconds=int(s)) for s in rng.integers(0, 3600, n)],
        }
        version = int(rng.integers(1, 3))
        outputs = _constant_outputs(n)
        batches.append(make_batch("churn", version, inputs, outputs, **common))
        if rng.random() < 0.4:
            shadow = make_batch("churn", 3 - version, inputs, outputs, role="shadow", **common)
            batches.append(shadow)
        ends = np.cumsum(sizes)
        requests += [
            (rid, size, keys[end - size : end])
            for rid, size, end in zip(ids, sizes, ends, strict=True)
        ]
    order = rng.permutation(len(batches))
    for start in range(0, len(batches), 3):  # a few appends of a few batches each
        project.log.append([batches[i] for i in order[start : start + 3]])
    shuffled = [requests[i] for i in rng.permutation(len(requests))]
    third = len(shuffled) // 3 + 1
    for call in range(2):
        clock.advance(timedelta(hours=int(rng.integers(1, 48))))
        items: list[dict[str, Any]] = []
        for rid, size, keys in shuffled[call * third : (call + 1) * third]:
            how = int(rng.integers(3))
            if how == 0:
                items.append({"id": rid, "label": make(rng)})
            elif how == 1:
                items += [{"id": rid, "row": row, "label": make(rng)} for row in range(size)]
            else:
                items += [{"id": key, "label": make(rng)} for key in keys if key is not None]
        project.log.add_labels("churn", items)


def _clear_log(project: Project) -> None:
    with project.database.write() as conn:
        for table in (labels_table, prediction_keys, prediction_batches):
            conn.execute(delete(table))


def test_read_with_labels_equals_a_pandas_merge_on_random_logs(
    project: Project, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks of 7 labels on SQLite: many chunks, some with a REAL among them, some without.
    monkeypatch.setattr(window_module, "_LABEL_CHUNK", 7)
    kinds = list(LABEL_KINDS)
    for seed in range(3 * len(kinds)):
        _clear_log(project)
        kind = kinds[seed % len(kinds)]
        _random_log(project, clock, seed, kind)
        rng = np.random.default_rng(1000 + seed)
        seconds = sorted(int(s) for s in rng.integers(0, 3600, size=2))
        windows: list[dict[str, Any]] = [
            {},
            {"roles": ("served", "shadow")},
            {"roles": ("shadow", "served"), "versions": [2]},
            {
                "since": START + timedelta(seconds=seconds[0]),
                "until": START + timedelta(seconds=seconds[1] + 1),
                "roles": ("served", "shadow"),
            },
            {"until": START + timedelta(seconds=seconds[0])},
        ]
        for window in windows:
            plain = project.read_log("churn", **window)
            if plain.empty:
                continue
            reference = _reference_labels(project, window.get("since"), window.get("until"))
            expected = plain.merge(reference, on=["request_id", "row"], how="left")
            if reference.empty:
                # pandas gives an empty to_datetime seconds; the log keeps microseconds.
                expected["label_arrived_at"] = expected["label_arrived_at"].dt.as_unit("us")
            out = project.read_log("churn", with_labels=True, **window)
            pd.testing.assert_frame_equal(out, expected, obj=f"seed {seed} ({kind}) {window}")
        assert _n_labels(project) > 0


def test_an_empty_window_has_the_dtypes_of_a_full_one(project: Project) -> None:
    dtypes = {
        "version": "int32",
        "role": "str",
        "logged_at": "datetime64[us, UTC]",
        "request_id": "str",
        "row": "int32",
        "key": "str",
        "event_time": "datetime64[us, UTC]",
    }
    labelled = {**dtypes, "label": "Int64", "label_arrived_at": "datetime64[us, UTC]"}
    empty = project.read_log("churn")
    assert {c: str(t) for c, t in empty.dtypes.items()} == dtypes
    empty_labelled = project.read_log("churn", with_labels=True)
    assert {c: str(t) for c, t in empty_labelled.dtypes.items()} == labelled

    frame = churn(20, seed=5)
    project.log_predictions("churn", frame, event_time_col="event_time", request_id="e")
    project.log_labels("churn", [{"id": "e", "row": 3, "label": 1}])
    full = project.read_log("churn", with_labels=True)
    assert {c: str(full[c].dtype) for c in labelled} == labelled
    # A window before every batch, one between two rows of a batch, and one with no labels
    # yet: the same dtypes.
    first = _utc_times(frame).min().to_pydatetime()
    before = project.read_log("churn", until=first, with_labels=True)
    assert {c: str(t) for c, t in before.dtypes.items()} == labelled
    between = project.read_log(
        "churn",
        since=first + timedelta(milliseconds=1),
        until=first + timedelta(milliseconds=2),
        with_labels=True,
    )
    assert len(between) == 0
    assert {c: str(between[c].dtype) for c in labelled} == labelled
    _clear_log(project)
    project.log_predictions("churn", frame, event_time_col="event_time", request_id="e")
    unlabelled = project.read_log("churn", with_labels=True)
    assert {c: str(unlabelled[c].dtype) for c in labelled} == labelled
    assert unlabelled["label"].isna().all()
    assert unlabelled["label_arrived_at"].isna().all()


def _reference_copy_rows(columns: list[pa.Array]) -> bytes:
    """PostgreSQL's binary COPY rows of ``columns``, value by value with ``struct``."""
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    out = bytearray()
    for i in range(len(columns[0])):
        out += struct.pack(">h", len(columns))
        for column in columns:
            value = column[i].as_py()
            if value is None:
                out += struct.pack(">i", -1)
            elif pa.types.is_timestamp(column.type):
                out += struct.pack(">iq", 8, (value - epoch) // timedelta(microseconds=1))
            elif isinstance(value, str):
                out += struct.pack(">i", len(value.encode())) + value.encode()
            elif column.type == pa.int32():
                out += struct.pack(">ii", 4, value)
            else:
                out += struct.pack(">iq", 8, value)
    return bytes(out)


@pytest.mark.parametrize("seed", range(20))
def test_binary_copy_rows_equal_a_value_by_value_encoding(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))

    def maybe_null(values: list[Any]) -> list[Any]:
        return [None if rng.random() < 0.2 else v for v in values]

    strings = [ODD_TEXT[i % len(ODD_TEXT)] * int(rng.integers(0, 4)) + str(i) for i in range(n)]
    micros = rng.integers(-(2**40), 2**52, size=n)  # before and after 2000, µs
    columns = [
        pa.array(maybe_null([int(v) for v in rng.integers(-(2**62), 2**62, size=n)]), pa.int64()),
        pa.array(maybe_null(strings), pa.string()),
        pa.array(maybe_null([int(v) for v in rng.integers(-(2**31), 2**31, size=n)]), pa.int32()),
        pa.array(maybe_null(strings[::-1]), pa.large_string()),
        pa.array(maybe_null([int(v) for v in micros]), pa.timestamp("us", "UTC")),
    ]
    assert _copy_rows(columns) == _reference_copy_rows(columns)
    # Slices (an offset into the buffers) and chunked columns, as a table's columns come.
    start = int(rng.integers(0, n))
    sliced = [c.slice(start) for c in columns]
    assert _copy_rows(sliced) == _reference_copy_rows(sliced)
    chunked = [pa.chunked_array([c.slice(0, start), c.slice(start)]) for c in columns]
    assert _copy_rows(chunked) == _reference_copy_rows(columns)


def test_binary_copy_round_trips_through_postgresql(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("binary COPY is PostgreSQL's")
    from watchkeeper.store.database import Database

    rng = np.random.default_rng(3)
    n = 500
    strings = [None if i % 9 == 0 else f"{ODD_TEXT[i % len(ODD_TEXT)]}{i}" for i in range(n)]
    times = [START + timedelta(microseconds=int(v)) for v in rng.integers(-(10**15), 10**15, n)]
    columns = [
        pa.array(rng.integers(-(2**62), 2**62, size=n), pa.int64()),
        pa.array(strings, pa.string()),
        pa.array(rng.integers(-(2**31), 2**31, size=n, dtype=np.int64), pa.int32()),
        pa.array(times, pa.timestamp("us", "UTC")),
    ]
    database = Database(database_url)
    try:
        with database.write() as conn:
            conn.exec_driver_sql("CREATE TEMP TABLE t (a bigint, b text, c integer, d timestamptz)")
            driver = conn.connection.driver_connection
            with (
                driver.cursor() as cursor,
                cursor.copy("COPY t FROM STDIN (FORMAT binary)") as copy,
            ):
                copy.write(COPY_HEADER + _copy_rows(columns) + COPY_TRAILER)
            back = conn.exec_driver_sql("SELECT a, b, c, d FROM t").all()
    finally:
        database.engine.dispose()
    assert [tuple(r) for r in back] == list(zip(*(c.to_pylist() for c in columns), strict=True))


def test_payloads_are_lz4_compressed_where_postgresql_has_it(project: Project) -> None:
    if project.database.dialect != "postgresql":
        pytest.skip("TOAST compression is PostgreSQL's")
    setting = "SHOW default_toast_compression"
    with project.database.read() as conn:
        has_lz4 = conn.exec_driver_sql(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        ).scalar()
        default = conn.exec_driver_sql(setting).scalar() if has_lz4 is not None else None
    if has_lz4 is None:
        pytest.skip("PostgreSQL before 14 compresses with pglz only")
    frame = churn(2_000, seed=6)
    project.log_predictions("churn", frame, event_time_col="event_time", request_id="z")
    with project.database.read() as conn:
        compressed = "SELECT DISTINCT pg_column_compression(payload) FROM prediction_batches"
        methods = conn.exec_driver_sql(compressed).scalars().all()
        after = conn.exec_driver_sql(setting).scalar()
    assert methods == ["lz4" if has_lz4 else default]
    assert after == default  # set for the log's transactions only
    assert len(project.read_log("churn")) == 2_000
