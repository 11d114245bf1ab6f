"""Monitor runs over the prediction log (``watchkeeper.ops.run_monitor``): window selection,
the stored run and its check results, drift against the baseline and the previous window,
label coverage and performance against scikit-learn, the error stream fed exactly once across
runs with the detectors' state resumed (and reset when the alias is deployed anew), and concept
drift. Real projects on a SQLite file, and on PostgreSQL for the storage-heavy cases.

Registering a version (baseline fit, permutation importance, skops) costs about a second, so a
template project (churn v1 and v2, v1 deployed to ``production``) is built once per module and
database kind and cloned into each test: a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE``
on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from tests.conftest import PG_ENV

from watchkeeper.clock import SimulatedClock
from watchkeeper.config import MonitorConfig
from watchkeeper.datasets import CHURN_FEATURES, churn, train_churn_model
from watchkeeper.detectors import ADWIN, DDM
from watchkeeper.errors import InvalidParameterError, ModelNotFoundError, NotEnoughDataError
from watchkeeper.ops import MonitorRun, run_monitor
from watchkeeper.ops._history import (
    load_detector_states,
    load_runs,
    load_watermark,
    model_id,
)
from watchkeeper.registry import Project
from watchkeeper.store.database import Database
from watchkeeper.store.predictions import PredictionLog
from watchkeeper.store.tables import check_results, monitor_runs

T0 = datetime(2026, 1, 5, tzinfo=UTC)  # midnight at the start of day 0 of the log
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
NAME = "churn"
DRIFT_CHECKS = ("drift.wasserstein", "drift.jensen_shannon")  # the per-feature drift checks


# ---------------------------------------------------------------------- template projects
def _admin(statement: str) -> None:
    """Run ``statement`` on the PostgreSQL server of ``WATCHKEEPER_TEST_DATABASE_URL``."""
    engine = create_engine(os.environ[PG_ENV], isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


@dataclass
class Templates:
    """Template projects, built on first use per database kind (the PostgreSQL template
    database is dropped at the end)."""

    root: Path
    reference: pd.DataFrame
    validation: pd.DataFrame
    models: tuple[Any, Any]
    sqlite_dir: Path | None = None
    pg_name: str | None = None

    def _build(self, url: str, artifacts: Path) -> None:
        database = Database(url)
        try:
            database.upgrade()
        finally:
            database.dispose()
        clock = SimulatedClock(T0 - 2 * DAY)
        with Project(url, artifacts=artifacts, clock=clock) as project:
            kwargs: dict[str, Any] = {
                "reference": self.reference.drop(columns=["churn_pred", "churn_score"]),
                "target": "churned",
                "id": "customer_id",
            }
            # v1 with validation data (a performance baseline); v2 without, to keep it quick
            project.register(NAME, self.models[0], validation=self.validation, **kwargs)
            project.register(NAME, self.models[1], **kwargs)
            project.deploy(NAME, 1)

    def sqlite(self) -> Path:
        """The folder holding the template's ``registry.db`` and ``artifacts``."""
        folder = self.root / "sqlite"
        if self.sqlite_dir is None:
            folder.mkdir()
            self._build(f"sqlite:///{folder / 'registry.db'}", folder / "artifacts")
            self.sqlite_dir = folder
        return folder

    def postgres(self) -> tuple[str, Path]:
        """The template database's name and its artifact folder."""
        artifacts = self.root / "pg-artifacts"
        if self.pg_name is None:
            name = f"wk_monitor_template_{uuid.uuid4().hex[:12]}"
            _admin(f'CREATE DATABASE "{name}"')
            self.pg_name = name
            url = make_url(os.environ[PG_ENV]).set(database=name)
            self._build(url.render_as_string(hide_password=False), artifacts)
        return self.pg_name, artifacts

    def close(self) -> None:
        if self.pg_name is not None:
            _admin(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    reference, validation = churn(2_000, seed=1), churn(1_000, seed=2)
    models = (train_churn_model(reference), train_churn_model(reference, C=0.05))
    made = Templates(tmp_path_factory.mktemp("templates"), reference, validation, models)
    try:
        yield made
    finally:
        made.close()


def _clone(url: str, tmp_path: Path, templates: Templates) -> Project:
    artifacts = tmp_path / "artifacts"
    if url.startswith("sqlite:///"):
        source = templates.sqlite()
        target = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            if (source / f"registry.db{suffix}").exists():
                shutil.copy(source / f"registry.db{suffix}", f"{target}{suffix}")
        shutil.copytree(source / "artifacts", artifacts)
    else:
        name = make_url(url).database
        template, made = templates.postgres()
        # replace the empty test database with a copy of the template
        _admin(f'DROP DATABASE "{name}" WITH (FORCE)')
        _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        shutil.copytree(made, artifacts)
    return Project(url, artifacts=artifacts, clock=SimulatedClock(T0))


@pytest.fixture
def project(database_url: str, tmp_path: Path, templates: Templates) -> Iterator[Project]:
    """The template project on SQLite and PostgreSQL, the clock at the start of day 0."""
    with _clone(database_url, tmp_path, templates) as opened:
        yield opened


@pytest.fixture
def sqlite_project(tmp_path: Path, templates: Templates) -> Iterator[Project]:
    """The template project on SQLite only."""
    with _clone(f"sqlite:///{tmp_path / 'registry.db'}", tmp_path, templates) as opened:
        yield opened


# ---------------------------------------------------------------------- helpers
def clock_of(project: Project) -> SimulatedClock:
    assert isinstance(project.clock, SimulatedClock)
    return project.clock


def log_day(
    project: Project,
    day: int,
    n: int,
    seed: int,
    *,
    alias: str = "production",
    **scenario: Any,
) -> pd.DataFrame:
    """Log ``n`` predictions with event times over day ``day`` (the clock moves to the end of
    that day first) and return them as logged (read back from the log), with their true
    ``churned`` label."""
    start = T0 + day * DAY
    frame = churn(n, seed=seed, start=pd.Timestamp(start.replace(tzinfo=None)), days=1, **scenario)
    assert frame["customer_id"].is_unique
    clock = clock_of(project)
    clock.set(max(clock.now(), start + DAY))
    rid = f"day{day}-{alias}"
    logged = project.log_predictions(
        NAME,
        frame.drop(columns=["churned"]),
        alias=alias,
        event_time_col="event_time",
        request_id=rid,
    )
    assert logged == n
    back = project.read_log(NAME, since=start, until=start + DAY)
    back = back.loc[back["request_id"] == rid]
    merged = back.merge(frame[["customer_id", "churned"]], left_on="key", right_on="customer_id")
    assert len(merged) == n
    return merged.sort_values("event_time", kind="stable").reset_index(drop=True)


def post_labels(project: Project, rows: pd.DataFrame) -> None:
    """Labels for ``rows`` (as :func:`log_day` returns them), arriving at the clock's now."""
    items = [
        {"id": rid, "row": int(r), "label": int(y)}
        for rid, r, y in zip(rows["request_id"], rows["row"], rows["churned"], strict=True)
    ]
    assert project.log_labels(NAME, items).stored == len(rows)


def errors_of(rows: pd.DataFrame) -> np.ndarray:
    """Each row's 0/1 misclassification, computed by hand."""
    wrong: np.ndarray = rows["prediction"].to_numpy() != rows["churned"].to_numpy()
    return wrong.astype(np.float64)


def checks_named(run: MonitorRun, prefix: str) -> list[Any]:
    return [c for c in run.report.checks if c.check.startswith(prefix)]


def feature_drift_alerts(run: MonitorRun) -> set[str]:
    return {
        str(c.column)
        for c in run.report.checks
        if c.check in DRIFT_CHECKS and c.column in CHURN_FEATURES and c.status == "alert"
    }


def watermark(project: Project) -> datetime | None:
    with project.database.read() as conn:
        return load_watermark(conn, model_id(conn, NAME), 1)


def detector_state(project: Project, version: int) -> dict[str, dict[str, Any]]:
    with project.database.read() as conn:
        return load_detector_states(conn, model_id(conn, NAME), version)


def no_nan(value: Any) -> Any:
    return None if isinstance(value, float) and not np.isfinite(value) else value


ONLY_DRIFT = MonitorConfig(checks=["drift"], detectors={})


# ---------------------------------------------------------------------- windows
def test_default_window_is_the_configured_span_ending_now(sqlite_project: Project) -> None:
    day0 = log_day(sqlite_project, 0, 400, seed=10)
    day1 = log_day(sqlite_project, 1, 300, seed=11)
    now = clock_of(sqlite_project).now()
    assert now == T0 + 2 * DAY

    run = run_monitor(sqlite_project, NAME, config=ONLY_DRIFT)
    assert (run.stored.window_start, run.stored.window_end) == (now - DAY, now)
    assert run.stored.n_rows == len(day1) == run.report.metadata["n_current"]
    assert run.stored.ran_at == now

    two_days = run_monitor(
        sqlite_project, NAME, config=ONLY_DRIFT.model_copy(update={"window": 2 * DAY})
    )
    assert two_days.stored.n_rows == len(day0) + len(day1)

    clock_of(sqlite_project).advance(6 * HOUR)  # the window slides with the clock
    later = run_monitor(sqlite_project, NAME, config=ONLY_DRIFT)
    expected = int((day1["event_time"] >= T0 + DAY + 6 * HOUR).sum())
    assert 0 < expected < len(day1)
    assert later.stored.n_rows == expected
    assert later.stored.window_start == T0 + DAY + 6 * HOUR


def test_since_until_and_window_options(sqlite_project: Project) -> None:
    both = pd.concat(
        [log_day(sqlite_project, 0, 400, seed=10), log_day(sqlite_project, 1, 300, seed=11)]
    )
    times = both["event_time"]

    def count(lo: datetime, hi: datetime) -> int:
        return int(((times >= lo) & (times < hi)).sum())

    since, until = T0 + 12 * HOUR, T0 + DAY + 6 * HOUR
    run = run_monitor(sqlite_project, NAME, config=ONLY_DRIFT, since=since, until=until)
    assert (run.stored.window_start, run.stored.window_end) == (since, until)
    assert run.stored.n_rows == count(since, until) > 0

    run = run_monitor(sqlite_project, NAME, config=ONLY_DRIFT, window=6 * HOUR, until=until)
    assert run.stored.window_start == until - 6 * HOUR
    assert run.stored.n_rows == count(until - 6 * HOUR, until) > 0

    now = clock_of(sqlite_project).now()
    run = run_monitor(sqlite_project, NAME, config=ONLY_DRIFT, window=3 * HOUR)
    assert (run.stored.window_start, run.stored.window_end) == (now - 3 * HOUR, now)
    assert run.stored.n_rows == count(now - 3 * HOUR, now) > 0

    naive = run_monitor(  # naive datetimes are UTC
        sqlite_project,
        NAME,
        config=ONLY_DRIFT,
        since=since.replace(tzinfo=None),
        until=until.replace(tzinfo=None),
    )
    assert naive.stored.n_rows == count(since, until)


def test_last_n_takes_the_newest_served_predictions(project: Project) -> None:
    both = pd.concat([log_day(project, 0, 400, seed=10), log_day(project, 1, 300, seed=11)])
    newest_first = both["event_time"].sort_values(ascending=False).reset_index(drop=True)
    # event times are whole seconds: the N chosen below fall between two distinct times
    for n in (250, 500):
        assert newest_first[n - 1] > newest_first[n]

    run = run_monitor(project, NAME, config=ONLY_DRIFT, last=250)
    assert run.stored.n_rows == 250
    assert run.stored.window_start == newest_first[249].to_pydatetime()
    assert run.stored.window_end == clock_of(project).now()

    run = run_monitor(project, NAME, config=ONLY_DRIFT, last=500)  # reaches into day 0
    assert run.stored.n_rows == 500

    run = run_monitor(project, NAME, config=ONLY_DRIFT, last=10_000)  # more than were logged
    assert run.stored.n_rows == len(both)
    assert run.stored.window_start == newest_first.iloc[-1].to_pydatetime()

    # with until, the N newest before it
    until = T0 + 18 * HOUR
    before = newest_first[newest_first < until].reset_index(drop=True)
    assert before[49] > before[50]
    run = run_monitor(project, NAME, config=ONLY_DRIFT, last=50, until=until)
    assert run.stored.n_rows == 50
    assert run.stored.window_start == before[49].to_pydatetime()


def test_last_n_counts_the_monitored_versions_rows(sqlite_project: Project) -> None:
    project = sqlite_project
    log_day(project, 0, 300, seed=10)
    project.deploy(NAME, 2)
    log_day(project, 1, 300, seed=11)
    project.rollback(NAME)
    log_day(project, 2, 100, seed=12)
    run = run_monitor(project, NAME, config=ONLY_DRIFT, last=300)
    assert run.stored.version == 1
    assert run.stored.n_rows == 300  # 100 from day 2 and the 200 newest of day 0


def test_window_options_are_checked(sqlite_project: Project) -> None:
    project = sqlite_project
    with pytest.raises(NotEnoughDataError, match="no logged predictions"):
        run_monitor(project, NAME, config=ONLY_DRIFT, last=5)
    log_day(project, 0, 50, seed=10)
    now = clock_of(project).now()
    bad: list[tuple[dict[str, Any], str]] = [
        ({"since": now - DAY, "window": DAY}, "at most one of since, window and last"),
        ({"since": now - DAY, "last": 5}, "at most one of since, window and last"),
        ({"window": DAY, "last": 5}, "at most one of since, window and last"),
        ({"last": 0}, "last must be at least 1; got 0"),
        ({"since": now, "until": now}, "The window is empty"),
        ({"since": now, "until": now - HOUR}, "The window is empty"),
        ({"reference": "yesterday"}, "reference must be 'baseline' or 'previous'"),
    ]
    for kwargs, message in bad:
        with pytest.raises(InvalidParameterError, match=message):
            run_monitor(project, NAME, config=ONLY_DRIFT, **kwargs)
    with pytest.raises(ModelNotFoundError):
        run_monitor(project, "nosuchmodel", config=ONLY_DRIFT)
    assert load_runs(project.database, NAME) == []  # nothing stored by a refused run


def test_a_zero_window_is_refused(sqlite_project: Project) -> None:
    log_day(sqlite_project, 0, 50, seed=10)
    with pytest.raises(InvalidParameterError, match="The window is empty"):
        run_monitor(sqlite_project, NAME, config=ONLY_DRIFT, window=timedelta(0))


def test_a_window_without_rows_is_still_stored(sqlite_project: Project) -> None:
    project = sqlite_project
    log_day(project, 0, 100, seed=10)
    clock_of(project).advance(3 * DAY)  # the default window (1 day) now holds no rows
    run = run_monitor(project, NAME, config=MonitorConfig())
    window = [c for c in run.report.checks if c.check == "monitor.window"]
    assert len(window) == 1
    assert window[0].status == "skipped"
    assert window[0].reason.startswith("no served predictions in")
    assert not checks_named(run, "drift.")
    assert run.stored.n_rows == 0
    assert run.status == "skipped"
    (stored,) = load_runs(project.database, NAME)
    assert stored.id == run.id
    assert [c.check for c in stored.checks] == [c.check for c in run.report.checks]


# ---------------------------------------------------------------------- the stored run
def test_a_run_is_stored_with_one_row_per_check(project: Project) -> None:
    rows = log_day(project, 0, 500, seed=10)
    post_labels(project, rows.iloc[::3])
    run = run_monitor(project, NAME, config=MonitorConfig(), source="manual")
    checks = run.report.checks
    assert len(checks) > 50

    (stored,) = load_runs(project.database, NAME)
    assert stored.id == run.id
    assert stored.to_dict() == json.loads(json.dumps(run.to_dict(), allow_nan=False))
    assert len(stored.checks) == len(checks)
    for got, made in zip(stored.checks, checks, strict=True):
        want = made.to_dict()
        want.update({k: no_nan(want[k]) for k in ("value", "reference_value", "p_value")})
        want.update({k: no_nan(want[k]) for k in ("threshold", "warning_threshold")})
        assert got.to_dict() == json.loads(json.dumps(want, allow_nan=False))

    assert stored.status == run.status == run.report.status
    assert stored.summary["counts"] == run.report.summary.to_dict()["counts"]
    assert stored.summary["alerts"] == [
        {"check": c.check, "column": c.column} for c in run.report.alerts
    ]
    assert (stored.model, stored.version, stored.alias) == (NAME, 1, "production")
    assert (stored.source, stored.reference) == ("manual", "baseline")
    assert stored.ran_at == clock_of(project).now()
    assert stored.duration_seconds > 0
    with project.database.read() as conn:
        assert conn.execute(select(func.count()).select_from(monitor_runs)).scalar_one() == 1
        ordinals = conn.execute(
            select(check_results.c.ordinal)
            .where(check_results.c.run_id == run.id)
            .order_by(check_results.c.ordinal)
        ).scalars()
        assert list(ordinals) == list(range(len(checks)))


# ---------------------------------------------------------------------- drift
def test_covariate_drift_alerts_on_the_drifted_column(sqlite_project: Project) -> None:
    log_day(
        sqlite_project,
        0,
        600,
        seed=10,
        scenario="covariate_drift",
        drift_columns=["monthly_charges"],
        magnitude=1.0,
    )
    run = run_monitor(sqlite_project, NAME, config=MonitorConfig(checks=["drift"], detectors={}))
    assert feature_drift_alerts(run) == {"monthly_charges"}
    drifted = [d["column"] for d in run.stored.summary["drifted_columns"]]
    assert [c for c in drifted if c in CHURN_FEATURES] == ["monthly_charges"]
    assert {"check": "drift.wasserstein", "column": "monthly_charges"} in run.stored.summary[
        "alerts"
    ]
    assert run.status == "alert"


def test_clean_data_raises_no_feature_drift_alert(sqlite_project: Project) -> None:
    log_day(sqlite_project, 0, 600, seed=10)
    run = run_monitor(sqlite_project, NAME, config=MonitorConfig(checks=["drift"], detectors={}))
    per_feature = [c for c in run.report.checks if c.check in DRIFT_CHECKS]
    assert {c.column for c in per_feature} == set(CHURN_FEATURES)
    assert feature_drift_alerts(run) == set()
    assert run.stored.summary["drifted_columns"] == []


def test_reference_previous_compares_with_the_window_before(sqlite_project: Project) -> None:
    project = sqlite_project
    shifted: dict[str, Any] = {
        "scenario": "covariate_drift",
        "drift_columns": ["monthly_charges"],
        "magnitude": 1.0,
    }
    cfg = MonitorConfig(checks=["drift"], detectors={})
    # day 0 clean, day 1 shifted: day 1 drifts against day 0
    log_day(project, 0, 600, seed=10)
    log_day(project, 1, 600, seed=11, **shifted)
    run = run_monitor(project, NAME, config=cfg, reference="previous")
    assert run.stored.reference == "previous"
    assert feature_drift_alerts(run) == {"monthly_charges"}
    # day 2 shifted like day 1: no drift against day 1, drift against the baseline
    log_day(project, 2, 600, seed=12, **shifted)
    run = run_monitor(project, NAME, config=cfg.model_copy(update={"reference": "previous"}))
    assert feature_drift_alerts(run) == set()
    assert feature_drift_alerts(run_monitor(project, NAME, config=cfg)) == {"monthly_charges"}
    # days 3 and 4 clean: two clean windows agree
    log_day(project, 3, 600, seed=13)
    log_day(project, 4, 600, seed=14)
    assert (
        feature_drift_alerts(run_monitor(project, NAME, config=cfg, reference="previous")) == set()
    )


def test_reference_previous_without_a_previous_window_uses_the_baseline(
    sqlite_project: Project,
) -> None:
    log_day(sqlite_project, 0, 400, seed=10)
    cfg = MonitorConfig(checks=["drift"], detectors={})
    previous = run_monitor(sqlite_project, NAME, config=cfg, reference="previous")
    baseline = run_monitor(sqlite_project, NAME, config=cfg)
    assert [(c.check, c.column, c.value, c.status) for c in previous.report.checks] == [
        (c.check, c.column, c.value, c.status) for c in baseline.report.checks
    ]


# ---------------------------------------------------------------------- labels and performance
def test_label_coverage_and_performance_equal_sklearn(project: Project) -> None:
    day0 = log_day(project, 0, 500, seed=10)
    day1 = log_day(project, 1, 400, seed=11)
    rng = np.random.default_rng(5)
    labelled = pd.concat(
        [day0.loc[rng.random(len(day0)) < 0.45], day1.loc[rng.random(len(day1)) < 0.3]]
    )
    post_labels(project, labelled)
    cfg = MonitorConfig(window=DAY, performance_window=2 * DAY, detectors={})
    run = run_monitor(project, NAME, config=cfg)

    assert run.stored.n_rows == len(day1)  # drift and quality read one day
    assert run.stored.n_labeled == len(labelled)  # performance reads two
    assert run.stored.label_coverage == pytest.approx(len(labelled) / (len(day0) + len(day1)))
    (coverage,) = checks_named(run, "monitor.label_coverage")
    assert coverage.value == run.stored.label_coverage
    assert coverage.n == len(labelled)

    found = {c.check: c for c in checks_named(run, "performance.")}
    y = labelled["churned"].to_numpy()
    assert found["performance.accuracy"].value == pytest.approx(
        accuracy_score(y, labelled["prediction"].to_numpy()), rel=1e-12
    )
    assert found["performance.roc_auc"].value == pytest.approx(
        roc_auc_score(y, labelled["prediction_proba"].to_numpy()), rel=1e-12
    )
    assert found["performance.accuracy"].n == len(labelled)


def test_performance_is_skipped_below_the_minimum_label_coverage(sqlite_project: Project) -> None:
    rows = log_day(sqlite_project, 0, 600, seed=10)
    post_labels(sqlite_project, rows.iloc[:59])  # 59 / 600 < 10 %
    run = run_monitor(sqlite_project, NAME, config=MonitorConfig(detectors={}))
    assert run.stored.n_labeled == 59
    assert run.stored.label_coverage == pytest.approx(59 / 600)
    (skipped,) = checks_named(run, "performance")
    assert (skipped.check, skipped.status) == ("performance", "skipped")
    assert skipped.reason == "label coverage 9.8% is below the minimum 10.0%"

    post_labels(sqlite_project, rows.iloc[59:60])  # exactly 10 %: performance is measured
    run = run_monitor(sqlite_project, NAME, config=MonitorConfig(detectors={}))
    found = {c.check: c for c in checks_named(run, "performance")}
    assert "performance" not in found
    labelled = rows.iloc[:60]
    assert found["performance.accuracy"].value == pytest.approx(
        accuracy_score(labelled["churned"], labelled["prediction"]), rel=1e-12
    )

    lower = MonitorConfig(detectors={}, min_label_coverage=0.5)
    assert [
        c.check for c in checks_named(run_monitor(sqlite_project, NAME, config=lower), "perf")
    ] == ["performance"]


# ---------------------------------------------------------------------- the error stream
def test_the_error_stream_is_fed_exactly_once_across_runs(project: Project) -> None:
    clean0 = log_day(project, 0, 400, seed=20)
    clean1 = log_day(project, 1, 400, seed=21)
    drifted = log_day(project, 2, 500, seed=22, scenario="concept_drift", magnitude=2.0)
    stream = pd.concat([clean0, clean1, drifted]).sort_values("event_time", kind="stable")
    batches = [stream.iloc[:300], stream.iloc[300:850], stream.iloc[850:]]
    cfg = MonitorConfig(checks=["drift"], detectors={"ddm": {}, "adwin": {}})
    clock = clock_of(project)
    runs: list[MonitorRun] = []
    marks: list[datetime | None] = []
    for batch in batches:
        clock.advance(HOUR)
        post_labels(project, batch)
        clock.advance(HOUR)
        runs.append(run_monitor(project, NAME, config=cfg))
        marks.append(watermark(project))

    seen = 0
    for run, batch, mark in zip(runs, batches, marks, strict=True):
        seen += len(batch)
        for name in ("ddm", "adwin"):
            outcome = run.stored.detectors[name]
            assert outcome["n"] == len(batch)
            assert outcome["n_seen"] == seen
            assert outcome["error_rate"] == pytest.approx(errors_of(batch).mean(), rel=1e-12)
        assert run.stored.detectors["_stream"] == {
            "n_new_labels": len(batch),
            "n_this_version": len(batch),
        }
        # the watermark moves to each run's time, less the grace for late commits
        assert mark == run.stored.ran_at - cfg.label_grace
    assert seen == len(stream)

    # One fresh detector fed the whole stream in prediction-time order finds what the runs
    # found between them: their state was resumed, no row was fed twice or skipped.
    times = stream["event_time"].to_numpy()
    for name, fresh in (("ddm", DDM()), ("adwin", ADWIN())):
        found = fresh.update_many(errors_of(stream))
        expected = [pd.Timestamp(times[i]).isoformat() for i in found]
        got = [d for run in runs for d in run.stored.detectors[name]["detections"]]
        assert got == expected
        assert fresh.n_seen_ == detector_state(project, 1)[name]["detector"]["n_seen"]
    # (seeded so that DDM fires in the first batch and both fire in the last, on resumed state)
    assert runs[0].stored.detectors["ddm"]["detections"]
    assert runs[-1].stored.detectors["ddm"]["detections"]
    assert runs[-1].stored.detectors["adwin"]["detections"]

    # No new labels: nothing is fed, the watermark stays.
    post_labels_again = project.log_labels(
        NAME,
        [
            {"id": r, "row": int(i), "label": int(y)}
            for r, i, y in batches[0][["request_id", "row", "churned"]].itertuples(index=False)
        ],
    )
    assert (post_labels_again.stored, post_labels_again.unchanged) == (0, len(batches[0]))
    clock.advance(HOUR)
    idle = run_monitor(project, NAME, config=cfg)
    assert idle.stored.detectors["ddm"] == {"drift": False, "warning": False, "n": 0}
    (ddm,) = checks_named(idle, "concept_drift.ddm")
    assert (ddm.status, ddm.reason) == ("skipped", "no labels arrived since the last run")
    assert watermark(project) == marks[-1]


def test_a_label_committed_after_a_run_is_still_fed(sqlite_project: Project) -> None:
    project = sqlite_project
    first = log_day(project, 0, 200, seed=10)
    second = log_day(project, 1, 200, seed=11)
    cfg = MonitorConfig(checks=["drift"], detectors={"adwin": {}})
    clock = clock_of(project)
    post_labels(project, first)
    clock.advance(HOUR)
    stamped = clock.now()  # a label request reads the clock here...
    clock.advance(timedelta(seconds=30))  # (within monitor.label_grace)
    run_monitor(project, NAME, config=cfg)  # ...a run happens meanwhile...
    slow_writer = PredictionLog(project.database, SimulatedClock(stamped))
    slow_writer.add_labels(  # ...and the label request commits afterwards
        NAME,
        [
            {"id": r, "row": int(i), "label": int(y)}
            for r, i, y in second[["request_id", "row", "churned"]].itertuples(index=False)
        ],
    )
    clock.advance(HOUR)
    run = run_monitor(project, NAME, config=cfg)
    assert run.stored.detectors["adwin"]["n"] == len(second)


def test_detector_state_is_kept_per_version_and_reset_on_a_new_deploy(project: Project) -> None:
    cfg = MonitorConfig(checks=["drift"], detectors={"ddm": {}, "adwin": {}})

    def labelled_run(day: int, n: int) -> MonitorRun:
        rows = log_day(project, day, n, seed=20 + day)
        clock_of(project).advance(HOUR)
        post_labels(project, rows)
        clock_of(project).advance(HOUR)
        return run_monitor(project, NAME, config=cfg)

    def n_seen(run: MonitorRun) -> int:
        return int(run.stored.detectors["adwin"]["n_seen"])

    first = labelled_run(0, 300)
    assert (first.stored.version, n_seen(first)) == (1, 300)

    project.deploy(NAME, 2)
    v2 = labelled_run(1, 250)
    assert (v2.stored.version, n_seen(v2)) == (2, 250)  # v2's own detectors, fresh
    assert detector_state(project, 1)["adwin"]["detector"]["n_seen"] == 300  # v1's are kept
    v2_more = labelled_run(2, 200)
    assert n_seen(v2_more) == 450  # resumed: same version, same deployment

    move = project.deploy(NAME, 1)  # v1 again: a new deployment starts afresh
    back = labelled_run(3, 150)
    assert (back.stored.version, n_seen(back)) == (1, 150)
    assert back.stored.detectors["ddm"]["n_seen"] == 150
    states = detector_state(project, 1)
    assert {s["deployed_by"] for s in states.values()} == {move.id}
    assert detector_state(project, 2)["adwin"]["detector"]["n_seen"] == 450


def test_the_alias_argument_keys_the_detector_reset(sqlite_project: Project) -> None:
    project = sqlite_project
    cfg = MonitorConfig(checks=["drift"], detectors={"adwin": {}})
    project.deploy(NAME, 2, "challenger")
    rows = log_day(project, 0, 200, seed=10, alias="challenger")
    post_labels(project, rows)
    clock_of(project).advance(HOUR)
    first = run_monitor(project, NAME, config=cfg, alias="challenger")
    assert (first.stored.version, first.stored.detectors["adwin"]["n_seen"]) == (2, 200)
    project.deploy(NAME, 1, "challenger")
    project.deploy(NAME, 2, "challenger")  # deployed anew
    rows = log_day(project, 1, 150, seed=11, alias="challenger")
    post_labels(project, rows)
    clock_of(project).advance(HOUR)
    again = run_monitor(project, NAME, config=cfg, alias="challenger")
    assert again.stored.detectors["adwin"]["n_seen"] == 150


def test_concept_drift_alerts_once_the_drifted_labels_arrive(sqlite_project: Project) -> None:
    project = sqlite_project
    cfg = MonitorConfig(checks=["drift"], detectors={"adwin": {}, "ddm": {"warm_start": 300}})
    clock = clock_of(project)
    statuses: list[set[str]] = []
    detections: list[str] = []
    for day in range(5):
        scenario: dict[str, Any] = (
            {"scenario": "concept_drift", "magnitude": 2.0} if day >= 3 else {}
        )
        rows = log_day(project, day, 500, seed=30 + day, **scenario)
        clock.advance(2 * HOUR)
        post_labels(project, rows)
        clock.advance(HOUR)
        run = run_monitor(project, NAME, config=cfg)
        statuses.append({c.status for c in checks_named(run, "concept_drift.")})
        detections += [d for n in ("adwin", "ddm") for d in run.stored.detectors[n]["detections"]]
    assert all("alert" not in s for s in statuses[:3])  # clean days: no concept drift
    assert any("alert" in s for s in statuses[3:])
    assert detections
    assert all(datetime.fromisoformat(d) >= T0 + 3 * DAY for d in detections)
