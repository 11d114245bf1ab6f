"""Retraining (``watchkeeper.ops._retrain``): the challenger's training rows and the gate's
holdout taken from the labelled log by event time (checked against the logged frames by
hand), the champion's reference data, seeded sampling, rows left out for data quality (broken
rows and the rows of a failed feed a stored monitor run alerted on, not shifted ones), the
errors, and end to end with the subprocess trainer ``watchkeeper.datasets:retrain_churn_model``:
lineage, events, a rejected challenger and a dry run.

A template project (churn v1 in ``production``, SQLite) is built once per session and copied
into each test; ``tests/ops/test_loop.py`` uses it too.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from watchkeeper.clock import SimulatedClock
from watchkeeper.config import MonitorConfig, RetrainConfig
from watchkeeper.config._ops import GateConfig, RetrainDataConfig
from watchkeeper.datasets import CHURN_FEATURES, churn, train_churn_model
from watchkeeper.errors import LoopError, NotEnoughDataError
from watchkeeper.ops import run_monitor
from watchkeeper.ops._retrain import TrainingData, retrain, training_data
from watchkeeper.quality import row_mask
from watchkeeper.registry import Project

NAME = "churn"
T0 = datetime(2026, 3, 2, tzinfo=UTC)  # midnight at the start of day 0 of the log
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
TRAINER = "watchkeeper.datasets:retrain_churn_model"
INPUTS = list(CHURN_FEATURES)


# ---------------------------------------------------------------------------- the project
Template = tuple[Path, Any]
_BUILT: dict[str, Template] = {}  # test_loop imports the fixture: build it once for both


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """A project folder (``Project.init``, SQLite) with churn v1 registered a day before T0
    (reference and validation data stored, target ``churned``, id ``customer_id``) and in
    ``production``; and v1's model, to compute logged outputs without loading it again."""
    if "template" not in _BUILT:
        reference = churn(1_500, seed=1).drop(columns=["churn_pred", "churn_score"])
        validation = churn(500, seed=2).drop(columns=["churn_pred", "churn_score"])
        model = train_churn_model(reference)
        folder = tmp_path_factory.mktemp("retrain-template") / "project"
        with Project.init(folder, clock=SimulatedClock(T0 - DAY)) as project:
            project.register(
                NAME,
                model,
                reference=reference,
                validation=validation,
                target="churned",
                id="customer_id",
            )
            project.deploy(NAME, 1, reason="first model")
        _BUILT["template"] = (folder, model)
    return _BUILT["template"]


class Setup:
    """A copy of the template project on a simulated clock at T0, a way to log a day of
    traffic (with labels), and a way to rewrite ``watchkeeper.yaml``."""

    def __init__(self, template: Template, folder: Path) -> None:
        source, self.model = template
        shutil.copytree(source, folder)
        self.folder = folder
        self.clock = SimulatedClock(T0)
        self.project = Project(folder, clock=self.clock, actor="tester")

    def log_day(
        self,
        day: int,
        n: int,
        seed: int,
        *,
        labelled: Callable[[pd.DataFrame], np.ndarray] | None = None,
        change: Callable[[pd.DataFrame], None] | None = None,
        **scenario: Any,
    ) -> pd.DataFrame:
        """Log ``n`` churn rows with event times over day ``day`` (the clock moves to the end
        of the day first), the model's outputs computed on the rows as drawn (``change`` then
        edits the inputs in place, e.g. to break them); then their labels, for the rows
        ``labelled`` selects (default: all). Returns the rows as drawn and changed, with
        ``labelled`` and ``day`` columns."""
        start = T0 + day * DAY
        frame = churn(
            n, seed=seed, start=pd.Timestamp(start.replace(tzinfo=None)), days=1, **scenario
        )
        frame["prediction"] = self.model.predict(frame[INPUTS])
        frame["prediction_proba"] = self.model.predict_proba(frame[INPUTS])[:, 1]
        if change is not None:
            change(frame)
        self.clock.set(max(self.clock.now(), start + DAY))
        rid = f"day{day}"
        self.project.log_predictions(
            NAME, frame.drop(columns=["churned"]), event_time_col="event_time", request_id=rid
        )
        mask = np.ones(n, dtype=bool) if labelled is None else np.asarray(labelled(frame))
        if mask.any():
            self.project.log_labels(
                NAME,
                pd.DataFrame(
                    {"id": rid, "row": np.flatnonzero(mask), "label": frame["churned"][mask]}
                ),
                row_col="row",
            )
        frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True)
        frame["labelled"] = mask
        frame["day"] = day
        return frame

    def configure(self, **sections: dict[str, Any]) -> None:
        """Merge ``sections`` into ``watchkeeper.yaml`` (one level deep) and reopen the
        project, so the file is validated as a user's would be."""
        path = self.folder / "watchkeeper.yaml"
        text = yaml.safe_load(path.read_text())
        for key, values in sections.items():
            text[key] = {**(text.get(key) or {}), **values}
        path.write_text(yaml.safe_dump(text))
        self.project.close()
        self.project = Project(self.folder, clock=self.clock, actor="tester")

    def kinds(self) -> list[str]:
        return [e.kind for e in self.project.history(NAME)]

    def events(self, kind: str) -> list[Any]:
        return [e for e in self.project.history(NAME) if e.kind == kind]

    def data(self, config: RetrainConfig) -> TrainingData:
        project = self.project
        champion = project.get(NAME, alias="production")
        return training_data(project, NAME, champion, config, self.clock.now())


@pytest.fixture
def setup(template: Template, tmp_path: Path) -> Iterator[Setup]:
    made = Setup(template, tmp_path / "project")
    try:
        yield made
    finally:
        made.project.close()


def config(*, window: timedelta = 2 * DAY, holdout: timedelta = DAY, **data: Any) -> RetrainConfig:
    settings: dict[str, Any] = {"include_reference": False, "window": window, **data}
    return RetrainConfig(
        data=RetrainDataConfig(**settings), gate=GateConfig(holdout=holdout, min_holdout_rows=10)
    )


def expected_split(
    logged: pd.DataFrame, window: timedelta, holdout: timedelta
) -> tuple[set[str], set[str], datetime]:
    """The training ids, holdout ids and the latest labelled time, by hand from the frames."""
    with_label = logged.loc[logged["labelled"]]
    latest = with_label["event_time"].max()
    cut = latest - holdout
    times = with_label["event_time"]
    held = set(with_label.loc[times > cut, "customer_id"])
    train = set(with_label.loc[(times <= cut) & (times > cut - window), "customer_id"])
    return train, held, latest.to_pydatetime()


def ids(frame: pd.DataFrame) -> set[str]:
    return set(frame["customer_id"])


# ---------------------------------------------------------------------------- the split
def six_days(setup: Setup) -> pd.DataFrame:
    """Days 0-5, 120 rows each; on day 4 every third row has no label yet, on day 5 only the
    rows before noon have one (the latest rows of the log are unlabelled)."""
    frames = []
    noon = pd.Timestamp(T0 + 5 * DAY + 12 * HOUR).tz_convert(None)
    for day in range(6):
        if day == 4:
            frame = setup.log_day(day, 120, seed=20 + day, labelled=lambda f: f.index % 3 != 0)
        elif day == 5:
            frame = setup.log_day(
                day, 120, seed=20 + day, labelled=lambda f: (f["event_time"] < noon).to_numpy()
            )
        else:
            frame = setup.log_day(day, 120, seed=20 + day)
        frames.append(frame)
    logged = pd.concat(frames, ignore_index=True)
    assert logged["customer_id"].is_unique
    return logged


def test_holdout_is_the_latest_labelled_rows_and_training_the_window_before(
    setup: Setup,
) -> None:
    logged = six_days(setup)
    window, holdout = 2 * DAY, DAY
    data = setup.data(config(window=window, holdout=holdout))
    train_ids, held_ids, latest = expected_split(logged, window, holdout)
    # the latest labelled row is before noon of day 5, earlier than the latest logged row
    assert latest < T0 + 5 * DAY + 12 * HOUR < logged["event_time"].max()

    assert ids(data.holdout) == held_ids
    assert len(data.holdout) == len(held_ids)
    assert ids(data.train) == train_ids
    assert len(data.train) == len(train_ids)
    assert not ids(data.train) & ids(data.holdout)
    by_id = logged.set_index("customer_id")
    train_times = by_id.loc[list(train_ids), "event_time"]
    held_times = by_id.loc[list(held_ids), "event_time"]
    assert held_times.min() > train_times.max()
    unlabelled = set(logged.loc[~logged["labelled"], "customer_id"])
    assert len(unlabelled) == 40 + int((~logged["labelled"][logged["day"] == 5]).sum())
    assert not unlabelled & (ids(data.train) | ids(data.holdout))
    # days 0 and 1 are older than the window
    old = set(logged.loc[logged["day"] <= 1, "customer_id"])
    assert not old & ids(data.train)

    assert data.holdout_window == (latest - holdout, latest)
    assert data.window == (train_times.min().to_pydatetime(), latest - holdout)
    assert data.target == "churned"
    assert data.id_column == "customer_id"
    assert data.inputs == INPUTS
    assert list(data.train.columns) == [*INPUTS, "churned", "customer_id"]
    # each row carries its own label and inputs
    for part in (data.train, data.holdout):
        merged = part.merge(logged, on="customer_id", suffixes=("", "_logged"))
        assert len(merged) == len(part)
        assert (merged["churned"] == merged["churned_logged"]).all()
        assert np.allclose(merged["monthly_charges"], merged["monthly_charges_logged"])
        assert (merged["contract"] == merged["contract_logged"]).all()

    described = data.describe()
    assert described["rows"] == {
        "train": len(train_ids),
        "reference": 0,
        "production": len(train_ids),
        "excluded_by_quality": 0,
        "holdout": len(held_ids),
    }
    assert described["holdout_window"] == [(latest - holdout).isoformat(), latest.isoformat()]


def test_reference_data_only_with_include_reference(setup: Setup) -> None:
    logged = six_days(setup)
    train_ids, held_ids, _ = expected_split(logged, 2 * DAY, DAY)
    reference = setup.project.load_data(NAME, 1, "reference")
    assert len(reference) == 1_500

    without = setup.data(config(include_reference=False))
    assert without.n_reference == 0
    assert ids(without.train) == train_ids

    data = setup.data(config(include_reference=True))
    assert data.n_reference == len(reference)
    assert data.n_production == len(train_ids)
    assert len(data.train) == len(reference) + len(train_ids)
    assert ids(data.train) == ids(reference) | train_ids
    assert ids(data.holdout) == held_ids  # the holdout never takes reference rows
    from_reference = data.train.loc[data.train["customer_id"].isin(ids(reference))]
    merged = from_reference.merge(reference, on="customer_id", suffixes=("", "_ref"))
    assert (merged["churned"] == merged["churned_ref"]).all()
    assert list(data.train.columns) == [*INPUTS, "churned", "customer_id"]
    rows = data.describe()["rows"]
    assert rows["train"] == rows["reference"] + rows["production"] == len(data.train)
    assert rows["reference"] == len(reference)


def test_max_rows_takes_a_seeded_sample_of_the_window(setup: Setup) -> None:
    logged = six_days(setup)
    train_ids, held_ids, _ = expected_split(logged, 2 * DAY, DAY)
    assert len(train_ids) > 60

    first = setup.data(config(max_rows=60, sample_seed=3))
    again = setup.data(config(max_rows=60, sample_seed=3))
    other = setup.data(config(max_rows=60, sample_seed=4))
    assert list(first.train["customer_id"]) == list(again.train["customer_id"])
    assert ids(first.train) != ids(other.train)
    for data in (first, other):
        assert len(data.train) == data.n_production == 60
        assert ids(data.train) <= train_ids
        assert ids(data.holdout) == held_ids  # the holdout is never sampled
        assert data.describe()["rows"]["production"] == 60

    with_reference = setup.data(config(max_rows=60, sample_seed=3, include_reference=True))
    assert with_reference.n_production == 60  # the cap is on the production rows only
    assert len(with_reference.train) == 1_500 + 60


# ---------------------------------------------------------------------------- exclusion
def test_broken_rows_are_left_out_and_shifted_rows_kept(setup: Setup) -> None:
    reference = setup.project.load_data(NAME, 1, "reference")
    assert reference["monthly_charges"].notna().all()  # so a missing value is broken
    broken_rows = {"avg_session_minutes": [5, 17, 33], "monthly_charges": [8, 40]}

    def breaks(frame: pd.DataFrame) -> None:
        frame.loc[broken_rows["avg_session_minutes"], "avg_session_minutes"] = np.inf
        frame.loc[broken_rows["monthly_charges"], "monthly_charges"] = np.nan

    first = setup.log_day(0, 150, seed=30)
    broken = setup.log_day(1, 150, seed=31, change=breaks)
    shifted = setup.log_day(
        2,
        150,
        seed=32,
        scenario="covariate_drift",
        drift_columns="monthly_charges",
        magnitude=4.0,
    )
    last = setup.log_day(3, 150, seed=33)
    logged = pd.concat([first, broken, shifted, last], ignore_index=True)
    train_ids, _, _ = expected_split(logged, 3 * DAY, DAY)
    bad_ids = {broken.loc[i, "customer_id"] for rows in broken_rows.values() for i in rows}
    assert len(bad_ids) == 5
    # The shift leaves the reference's range for many rows: a rule the exclusion skips.
    above = shifted["monthly_charges"] > reference["monthly_charges"].max()
    assert above.sum() > 30
    baseline = setup.project.load_baseline(NAME, 1)
    out_of_range, _ = row_mask(baseline, shifted[INPUTS], reasons=("out_of_range",))
    assert out_of_range[above.to_numpy()].all()

    # the window holds day 1 and (but for its last minutes, in the holdout) day 2
    assert ids(broken) <= train_ids
    assert len(ids(shifted) & train_ids) > 140
    data = setup.data(config(window=3 * DAY))
    assert ids(data.train) == train_ids - bad_ids
    assert data.n_excluded == 5
    assert data.n_production == len(data.train) == len(train_ids) - 5
    assert data.describe()["rows"]["excluded_by_quality"] == 5

    kept = setup.data(config(window=3 * DAY, exclude_quality_failures=False))
    assert kept.n_excluded == 0
    assert bad_ids <= ids(kept.train)
    assert len(kept.train) == len(data.train) + 5


def test_rows_of_a_window_whose_missing_rate_alerted_are_left_out(setup: Setup) -> None:
    column = "avg_session_minutes"

    def feed_fails(frame: pd.DataFrame) -> None:
        frame[column] = np.nan

    days = [
        setup.log_day(day, 300, seed=40 + day, change=feed_fails if day == 2 else None)
        for day in range(5)
    ]
    window = 3 * DAY
    before = setup.data(config(window=window))
    assert before.n_excluded == 0  # the reference had missing values there: rows look fine
    assert ids(days[2]) <= ids(before.train)

    run = run_monitor(
        setup.project,
        NAME,
        config=MonitorConfig(checks=["quality"], detectors={}),
        since=T0 + 2 * DAY,
        until=T0 + 3 * DAY,
    )
    alerted = {
        c.column
        for c in run.stored.checks
        if c.check == "quality.missing_rate" and c.status == "alert"
    }
    assert column in alerted

    data = setup.data(config(window=window))
    assert not ids(days[2]) & ids(data.train)
    assert data.n_excluded == len(days[2])
    assert len(data.train) == len(before.train) - len(days[2])
    # the column's ordinary missing values on the other days are kept
    in_window = pd.concat([days[1], days[3]])
    in_window = in_window.loc[in_window["customer_id"].isin(ids(before.train))]
    ordinary = set(in_window.loc[in_window[column].isna(), "customer_id"])
    assert len(ordinary) >= 3
    assert ordinary <= ids(data.train)
    assert data.train[column].isna().sum() == len(ordinary)
    assert data.describe()["rows"]["excluded_by_quality"] == len(days[2])


# ---------------------------------------------------------------------------- errors
def test_no_labelled_rows_is_not_enough_data(setup: Setup) -> None:
    setup.log_day(0, 100, seed=50, labelled=lambda f: np.zeros(len(f), dtype=bool))
    setup.log_day(1, 100, seed=51, labelled=lambda f: np.zeros(len(f), dtype=bool))
    with pytest.raises(NotEnoughDataError, match="No labelled predictions of 'churn'"):
        setup.data(config())


def test_too_small_a_holdout_is_refused_before_training(setup: Setup) -> None:
    logged = pd.concat([setup.log_day(day, 100, seed=60 + day) for day in range(3)])
    _, held_ids, _ = expected_split(logged, 2 * DAY, DAY)
    cfg = RetrainConfig(
        trainer=TRAINER,
        data=RetrainDataConfig(window=2 * DAY),
        gate=GateConfig(holdout=DAY, min_holdout_rows=len(held_ids) + 1),
    )
    before = setup.kinds()
    with pytest.raises(NotEnoughDataError) as caught:
        retrain(setup.project, NAME, config=cfg)
    message = str(caught.value)
    assert f"Only {len(held_ids)} labelled rows" in message
    assert f"{len(held_ids) + 1} are needed" in message
    assert setup.kinds() == before
    assert [v.version for v in setup.project.versions(NAME)] == [1]


def test_no_trainer_configured(setup: Setup) -> None:
    setup.log_day(0, 100, seed=70)
    with pytest.raises(LoopError, match=r"retrain\.trainer"):
        retrain(setup.project, NAME, config=RetrainConfig())
    # and from the project's configuration, which names none by default
    assert setup.project.config is not None
    assert setup.project.config.retrain.trainer is None
    with pytest.raises(LoopError, match=r"retrain\.trainer"):
        retrain(setup.project, NAME)


# ---------------------------------------------------------------------------- end to end
def test_retrain_end_to_end_dry_run_then_a_rejected_challenger(setup: Setup) -> None:
    """Both runs spawn the trainer (a few seconds each)."""
    logged = pd.concat([setup.log_day(day, 200, seed=80 + day) for day in range(4)])
    train_ids, held_ids, _ = expected_split(logged, 2 * DAY, DAY)
    setup.configure(
        retrain={
            "trainer": TRAINER,
            "data": {"window": "2d"},
            "gate": {"holdout": "1d", "min_holdout_rows": 100, "floor": 0.99},
        }
    )
    before = setup.kinds()

    dry = retrain(setup.project, NAME, reason="by hand", dry_run=True)
    assert dry.dry_run
    assert dry.challenger is None
    assert dry.deployed is None
    assert dry.gate is not None
    assert not dry.accepted
    assert [v.version for v in setup.project.versions(NAME)] == [1]
    assert setup.kinds() == before  # nothing recorded
    assert setup.project.get(NAME, alias="production").version == 1

    result = retrain(setup.project, NAME, reason="by hand", trigger="manual")
    assert (result.champion, result.challenger, result.dry_run) == (1, 2, False)
    assert result.gate is not None
    assert not result.accepted
    assert result.deployed is None
    # the same data, trainer and seed: the same verdict as the dry run
    assert result.gate.to_dict() == dry.gate.to_dict()
    assert result.data == dry.data
    assert result.gate.n == len(held_ids)
    floor = [c for c in result.gate.checks if c.name == "floor"]
    assert len(floor) == 1
    assert not floor[0].passed
    assert result.reasons[0].startswith("rejected")

    rows = {
        "train": 1_500 + len(train_ids),
        "reference": 1_500,
        "production": len(train_ids),
        "excluded_by_quality": 0,
        "holdout": len(held_ids),
    }
    assert result.data["rows"] == rows
    version = setup.project.get(NAME, 2)
    assert version.status == "rejected"
    assert version.parent_version == 1
    source = version.source
    assert source["kind"] == "retrain"
    assert source["entry_point"] == TRAINER
    assert source["data_window"] == result.data["window"]
    assert source["holdout_window"] == result.data["holdout_window"]
    assert source["rows_by_source"] == rows
    assert source["reason"] == "by hand"
    assert source["trainer_seconds"] > 0
    # the challenger's reference data is what it was trained on
    assert len(setup.project.load_data(NAME, 2, "reference")) == rows["train"]
    assert len(setup.project.load_data(NAME, 2, "validation")) == rows["holdout"]
    assert setup.project.get(NAME, alias="production").version == 1

    (event,) = setup.events("retrain")
    assert event.version == 2
    assert event.reason == "by hand"
    assert event.details["champion"] == 1
    assert event.details["trigger"] == "manual"
    assert event.details["data"] == result.data
    (gate,) = setup.events("gate")
    assert gate.version == 2
    assert gate.reason == result.gate.reasons[0]
    verdict = {k: v for k, v in result.gate.to_dict().items() if k != "champion"}
    assert {k: v for k, v in gate.details.items() if k in verdict} == verdict
    assert gate.details["passed"] is False
    assert not setup.events("promotion")


def in_process_trainer(monkeypatch: pytest.MonkeyPatch) -> list[pd.DataFrame]:
    """Replace the subprocess with :func:`retrain_churn_model` called here (fast); returns
    the list the training frames it is given are appended to."""
    from watchkeeper.datasets import retrain_churn_model
    from watchkeeper.ops import _trainer

    seen: list[pd.DataFrame] = []

    def run(entry_point: str, data: pd.DataFrame, context: Any, **_: Any) -> Any:
        seen.append(data)
        model = retrain_churn_model(data, context)
        return _trainer.TrainerRun(model, 0.5, "", entry_point)

    monkeypatch.setattr(_trainer, "run_trainer", run)
    return seen


def test_gate_event_names_the_champion_version(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    for day in range(3):
        setup.log_day(day, 150, seed=90 + day)
    seen = in_process_trainer(monkeypatch)
    cfg = RetrainConfig(
        trainer=TRAINER,
        data=RetrainDataConfig(window=2 * DAY, include_reference=False),
        gate=GateConfig(holdout=DAY, min_holdout_rows=50, n_bootstrap=200),
    )
    result = retrain(setup.project, NAME, config=cfg)
    assert len(seen) == 1
    assert result.challenger == 2
    (gate,) = setup.events("gate")
    assert (gate.details["champion_version"], gate.details["challenger_version"]) == (1, 2)
    assert gate.details["champion"] == result.gate.champion  # the champion's metric value


def test_an_accepted_challenger_is_deployed_with_its_training_frame(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    logged = pd.concat([setup.log_day(day, 150, seed=95 + day) for day in range(3)])
    train_ids, held_ids, _ = expected_split(logged, 2 * DAY, DAY)
    seen = in_process_trainer(monkeypatch)
    cfg = RetrainConfig(
        trainer=TRAINER,
        data=RetrainDataConfig(window=2 * DAY, include_reference=True),
        gate=GateConfig(holdout=DAY, min_holdout_rows=50, n_bootstrap=200, tolerance=0.1),
    )
    result = retrain(setup.project, NAME, config=cfg, reason="drift")
    assert result.accepted
    assert result.challenger == 2
    assert result.deployed is not None
    assert setup.project.get(NAME, alias="production").version == 2
    assert setup.project.get(NAME, 2).status != "rejected"
    (frame,) = seen
    assert len(frame) == 1_500 + len(train_ids)
    assert set(frame["customer_id"]) - ids(setup.project.load_data(NAME, 1)) == train_ids
    assert result.gate is not None
    assert result.gate.n == len(held_ids)
    kinds = setup.kinds()
    assert kinds.index("retrain") < kinds.index("gate") < kinds.index("promotion")
    (move,) = [e for e in setup.events("alias_move") if e.to_version == 2]
    assert (move.alias, move.from_version) == ("production", 1)
