"""ServerMetrics: every method moves the right series, labels stay bounded, the database
collector (SQLite and PostgreSQL), a broken database, multiprocess mode across processes,
the docs table, and ``promtool check metrics`` on the exposition."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from prometheus_client import CollectorRegistry, Histogram, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families
from tests.server.test_monitor_metrics import every_series_run

import watchkeeper
from watchkeeper.datasets import CHURN_FEATURES, churn, train_churn_model
from watchkeeper.errors import InvalidInputError, InvalidParameterError
from watchkeeper.server._metrics import (
    CONTENT_TYPE,
    LABEL_DELAY_BUCKETS,
    MAX_FIELDS,
    REQUEST_BUCKETS,
    SCORE_BUCKETS,
    VALUE_BUCKETS,
    ServerMetrics,
    _observe_many,
)
from watchkeeper.server._monitor_metrics import MonitorCollector
from watchkeeper.store.database import Database
from watchkeeper.store.predictions import make_batch
from watchkeeper.store.writer import GroupCommitWriter

PROMTOOL = Path("/usr/bin/promtool")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
INFER = "/v2/models/{name}/infer"
WAIT = 60.0  # seconds: a bound on every wait, so that a hang fails instead of blocking

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


# ---------------------------------------------------------------------------- helpers
def _samples(metrics: ServerMetrics) -> Samples:
    body, content_type = metrics.render()
    assert content_type == CONTENT_TYPE
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def _get(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def _series(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: value for (n, labels), value in samples.items() if n == name}


def _cumulative(observed: np.ndarray, bounds: tuple[float, ...]) -> list[float]:
    """Prometheus bucket counts: how many values are <= each bound (then +Inf)."""
    return [float(np.sum(observed <= b)) for b in bounds] + [float(observed.size)]


def _buckets(samples: Samples, name: str, **labels: str) -> list[float]:
    found = {
        dict(key)["le"]: value
        for key, value in _series(samples, f"{name}_bucket").items()
        if {k: v for k, v in key if k != "le"} == labels
    }
    return [found[le] for le in sorted(found, key=float)]


@dataclass
class FakeWriter:
    """The counters a GroupCommitWriter exposes, set by hand."""

    queue_depth: int = 0
    commits: int = 0
    rows_written: int = 0
    failed_batches: int = 0
    last_commit_seconds: float = 0.0


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return churn(800, seed=1)


@pytest.fixture(scope="module")
def pipelines(reference: pd.DataFrame) -> list[Any]:
    return [train_churn_model(reference, C=c) for c in (1.0, 0.01)]


def _register(project: Any, name: str, pipeline: Any, reference: pd.DataFrame) -> None:
    project.register(
        name, pipeline, reference=reference, target="churned", id="customer_id", store_data=False
    )


@pytest.fixture(scope="module")
def sqlite_project(
    tmp_path_factory: pytest.TempPathFactory, reference: pd.DataFrame, pipelines: list[Any]
) -> Iterator[Any]:
    """A SQLite project with churn v1 in production (for the fully exercised renders)."""
    with watchkeeper.Project.init(tmp_path_factory.mktemp("project")) as project:
        _register(project, "churn", pipelines[0], reference)
        project.deploy("churn", 1)
        yield project


def _exercise(metrics: ServerMetrics, database: Database) -> None:
    """Give every watchkeeper metric at least one sample."""
    rng = np.random.default_rng(0)
    metrics.set_model_inputs("churn", list(CHURN_FEATURES))
    metrics.set_model_inputs("price", ["area"])
    metrics.observe_request(endpoint=INFER, model="churn", code=200, seconds=0.004)
    metrics.observe_request(endpoint="/v2/health/live", model="", code=200, seconds=0.0002)
    metrics.observe_rows(model="churn", version=1, role="served", n=10)
    metrics.observe_rows(model="churn", version=2, role="shadow", n=10)
    proba = rng.uniform(size=10)
    metrics.observe_outputs(
        model="churn",
        version=1,
        labels=(proba > 0.5).astype(int),
        proba=np.column_stack([1 - proba, proba]),
        classes=[0, 1],
    )
    metrics.observe_outputs(
        model="price", version=1, labels=rng.normal(size=10), proba=None, classes=None
    )
    metrics.observe_rejected(
        model="churn", endpoint=INFER, reason="wrong_type", field=CHURN_FEATURES[0]
    )
    metrics.observe_labels(
        model="churn", received=5, joined=4, unknown=1, delays_seconds=np.full(4, 3600.0)
    )
    metrics.observe_shadow_skipped(model="churn", reason="schema")
    metrics.observe_model_load(model="churn", version=1, seconds=0.3, ok=True)
    metrics.observe_model_load(model="churn", version=3, seconds=0.1, ok=False)
    metrics.set_served(model="churn", alias="production", version=1, flavour="sklearn", ready=True)
    metrics.attach_writer(FakeWriter(queue_depth=2, commits=3, rows_written=30, failed_batches=1))
    metrics.observe_commit(0.003)
    metrics.attach_database(database)
    metrics.add_scrape_collector("monitor", MonitorCollector(lambda: [every_series_run()]))


def _families(body: bytes) -> dict[str, Any]:
    """The watchkeeper families of an exposition, by exposed name (counters with _total)."""
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        if family.name.startswith("watchkeeper_") and not family.name.endswith("_created"):
            name = family.name + ("_total" if family.type == "counter" else "")
            found[name] = family
    return found


def _docs_table() -> set[str]:
    return set(re.findall(r"^\| `(watchkeeper_\w+)`", DOCS.read_text(encoding="utf-8"), re.M))


def _promtool(body: bytes) -> None:
    if not PROMTOOL.exists():
        pytest.skip(f"promtool is not installed at {PROMTOOL} (Debian package 'prometheus')")
    done = subprocess.run(
        [str(PROMTOOL), "check", "metrics"], input=body, capture_output=True, timeout=WAIT
    )
    report = (done.stdout + done.stderr).decode()
    assert done.returncode == 0, report
    assert report.strip() == "", report  # any lint warning fails the test


@pytest.fixture
def multiprocess_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """This process in multiprocess mode for one test (variable and file-backed values),
    as if PROMETHEUS_MULTIPROC_DIR had been set before prometheus-client was imported."""
    folder = tmp_path / "prometheus"
    folder.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    value_class = values.MultiProcessValue()
    monkeypatch.setattr(values, "ValueClass", value_class)
    yield folder
    close = getattr(value_class, "close_all_files", None)
    if close is not None:
        close()


# ---------------------------------------------------------------------------- requests
def test_requests_are_counted_by_endpoint_model_and_code() -> None:
    metrics = ServerMetrics()
    metrics.set_model_inputs("churn", ["tenure"])
    calls = [
        (INFER, "churn", 200, 0.0004),
        (INFER, "churn", 200, 0.003),
        (INFER, "churn", 422, 0.001),
        (INFER, "churn", 200, 0.25),
        ("/v2/health/live", "", 200, 0.0001),
        (INFER, "churn", 200, 12.0),
    ]
    for endpoint, model, code, seconds in calls:
        metrics.observe_request(endpoint=endpoint, model=model, code=code, seconds=seconds)
    samples = _samples(metrics)
    expected = Counter((e, m, str(c)) for e, m, c, _ in calls)
    assert _series(samples, "watchkeeper_requests_total") == {
        frozenset({"endpoint": e, "model": m, "code": c}.items()): float(n)
        for (e, m, c), n in expected.items()
    }
    infer = np.array([s for e, _, _, s in calls if e == INFER])
    name = "watchkeeper_request_duration_seconds"
    assert _buckets(samples, name, endpoint=INFER, model="churn") == _cumulative(
        infer, REQUEST_BUCKETS
    )
    assert _get(samples, f"{name}_count", endpoint=INFER, model="churn") == infer.size
    assert _get(samples, f"{name}_sum", endpoint=INFER, model="churn") == pytest.approx(infer.sum())


def test_unknown_model_names_become_other() -> None:
    metrics = ServerMetrics()
    metrics.observe_request(endpoint=INFER, model="no-such-model", code=404, seconds=0.001)
    metrics.set_served(model="churn", alias="production", version=1, flavour="sklearn", ready=True)
    metrics.observe_request(endpoint=INFER, model="churn", code=200, seconds=0.001)
    series = _series(_samples(metrics), "watchkeeper_requests_total")
    assert {dict(labels)["model"] for labels in series} == {"other", "churn"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"code": 1000}, "HTTP status"),
        ({"code": True}, "HTTP status"),
        ({"seconds": -1.0}, "seconds >= 0"),
        ({"seconds": float("nan")}, "seconds >= 0"),
        ({"seconds": float("inf")}, "finite"),
    ],
)
def test_observe_request_refuses_bad_values(kwargs: dict[str, Any], match: str) -> None:
    call: dict[str, Any] = {"endpoint": INFER, "model": "", "code": 200, "seconds": 0.1}
    with pytest.raises(InvalidParameterError, match=match):
        ServerMetrics().observe_request(**(call | kwargs))


# ---------------------------------------------------------------------------- predictions
def test_rows_are_counted_by_version_and_role() -> None:
    metrics = ServerMetrics()
    metrics.set_model_inputs("churn", ["tenure"])
    metrics.observe_rows(model="churn", version=1, role="served", n=7)
    metrics.observe_rows(model="churn", version=1, role="served", n=5)
    metrics.observe_rows(model="churn", version=2, role="shadow", n=12)
    samples = _samples(metrics)
    name = "watchkeeper_predictions_total"
    assert _get(samples, name, model="churn", version="1", role="served") == 12
    assert _get(samples, name, model="churn", version="2", role="shadow") == 12
    with pytest.raises(InvalidParameterError, match="role"):
        metrics.observe_rows(model="churn", version=1, role="canary", n=1)
    with pytest.raises(InvalidParameterError, match="integer >= 0"):
        metrics.observe_rows(model="churn", version=1, role="served", n=-1)


def test_predicted_classes_are_counted_per_class() -> None:
    rng = np.random.default_rng(7)
    classes = ["bronze", "silver", "gold", "platinum"]
    metrics = ServerMetrics()
    metrics.set_model_inputs("tier", ["x"])
    batches = [rng.choice(classes[:3], size=n) for n in (50, 1, 200)]
    for predicted in batches:
        metrics.observe_outputs(
            model="tier", version=3, labels=predicted, proba=None, classes=classes
        )
    metrics.observe_outputs(
        model="tier", version=3, labels=np.array(["wood"]), proba=None, classes=classes
    )
    expected = Counter(np.concatenate(batches).tolist()) + Counter({"other": 1})
    series = _series(_samples(metrics), "watchkeeper_predicted_class_total")
    assert series == {
        frozenset({"model": "tier", "version": "3", "class": c}.items()): float(expected[c])
        for c in [*classes, "other"]  # platinum was never predicted: it shows 0
    }


def test_binary_scores_go_to_the_score_histogram() -> None:
    rng = np.random.default_rng(3)
    proba = np.concatenate([rng.uniform(size=500), [0.05, 0.5, 1.0, np.nan]])
    metrics = ServerMetrics()
    metrics.set_model_inputs("churn", ["tenure"])
    metrics.observe_outputs(
        model="churn",
        version=1,
        labels=(proba[:300] > 0.5).astype(np.int64),
        proba=np.column_stack([1 - proba[:300], proba[:300]]),
        classes=np.array([0, 1]),
    )
    metrics.observe_outputs(  # the positive-class column alone
        model="churn", version=1, labels=np.zeros(204, int), proba=proba[300:], classes=[0, 1]
    )
    samples = _samples(metrics)
    finite = proba[np.isfinite(proba)]
    name = "watchkeeper_prediction_score"
    assert _buckets(samples, name, model="churn", version="1") == _cumulative(finite, SCORE_BUCKETS)
    assert _get(samples, f"{name}_count", model="churn", version="1") == finite.size
    assert _get(samples, f"{name}_sum", model="churn", version="1") == pytest.approx(finite.sum())
    counted = Counter((proba[:300] > 0.5).astype(int).tolist())
    assert _get(
        samples, "watchkeeper_predicted_class_total", model="churn", version="1", **{"class": "1"}
    ) == float(counted[1])


def test_multiclass_scores_are_not_histogrammed() -> None:
    metrics = ServerMetrics()
    metrics.set_model_inputs("tier", ["x"])
    metrics.observe_outputs(
        model="tier", version=1, labels=np.array([0, 2]), proba=np.full((2, 3), 1 / 3),
        classes=[0, 1, 2],
    )  # fmt: skip
    assert not _series(_samples(metrics), "watchkeeper_prediction_score_count")


def test_regression_and_many_classes_go_to_the_value_histogram() -> None:
    rng = np.random.default_rng(11)
    values_ = np.concatenate([rng.normal(0, 300, size=1_000), [0.0, -0.01, 5.0, np.nan, np.inf]])
    many = rng.integers(0, 30, size=100)
    metrics = ServerMetrics()
    metrics.set_model_inputs("price", ["area"])
    metrics.observe_outputs(model="price", version=1, labels=values_, proba=None, classes=None)
    metrics.observe_outputs(
        model="price", version=2, labels=many, proba=None, classes=list(range(30))
    )
    samples = _samples(metrics)
    name = "watchkeeper_prediction_value"
    finite = values_[np.isfinite(values_)]
    assert _buckets(samples, name, model="price", version="1") == _cumulative(finite, VALUE_BUCKETS)
    assert _buckets(samples, name, model="price", version="2") == _cumulative(
        many.astype(float), VALUE_BUCKETS
    )
    assert not _series(samples, "watchkeeper_predicted_class_total")  # 30 classes: too many


def test_bulk_observation_equals_one_observe_per_value() -> None:
    rng = np.random.default_rng(5)
    bounds = (0.1, 0.5, 1.0, 2.0)
    observed = np.concatenate([rng.uniform(-1, 3, size=1_000), bounds, [-5.0, 10.0]])
    registry = CollectorRegistry()
    bulk = Histogram("bulk", "vectorized", registry=registry, buckets=bounds)
    one = Histogram("one", "per value", registry=registry, buckets=bounds)
    _observe_many(bulk, observed)
    for value in observed:
        one.observe(float(value))

    def samples(name: str) -> dict[tuple[str, str], float]:
        family = next(f for f in registry.collect() if f.name == name)
        return {
            (s.name.removeprefix(name), s.labels.get("le", "")): s.value
            for s in family.samples
            if s.name.endswith(("_bucket", "_count"))
        }

    assert samples("bulk") == samples("one")
    assert len(samples("bulk")) == len(bounds) + 2  # +Inf and _count
    assert registry.get_sample_value("bulk_sum") == pytest.approx(
        registry.get_sample_value("one_sum")
    )
    assert hasattr(bulk, "_buckets")  # the vectorized path, not the per-value fallback


# ---------------------------------------------------------------------------- rejections
def test_rejected_fields_are_capped_to_the_models_inputs() -> None:
    metrics = ServerMetrics()
    names = [f"f{i}" for i in range(MAX_FIELDS + 20)]
    metrics.set_model_inputs("churn", names)
    cases = [
        ("wrong_type", "f3", "f3"),
        ("wrong_type", "f3", "f3"),
        ("missing_column", None, ""),
        ("malformed", "inputs[0].data", "other"),
        ("extra_column", names[MAX_FIELDS + 1], "other"),  # beyond the first MAX_FIELDS
        ("invented_reason", "f0", "f0"),
    ]
    for reason, field, _ in cases:
        metrics.observe_rejected(model="churn", endpoint=INFER, reason=reason, field=field)
    metrics.observe_rejected(model="ghost", endpoint=INFER, reason="not_found", field="f3")
    expected = Counter(
        (reason if reason != "invented_reason" else "other", label) for reason, _, label in cases
    )
    series = _series(_samples(metrics), "watchkeeper_rejected_requests_total")
    assert series == {
        **{
            frozenset(
                {"model": "churn", "endpoint": INFER, "reason": r, "field": f}.items()
            ): float(n)
            for (r, f), n in expected.items()
        },
        frozenset(
            {"model": "other", "endpoint": INFER, "reason": "not_found", "field": "other"}.items()
        ): 1.0,
    }


# ---------------------------------------------------------------------------- labels
def test_labels_and_their_delays() -> None:
    delays = np.array([30.0, 60.0, 61.0, 3_600.0, 86_400.0 * 2, 86_400.0 * 100, -5.0, np.nan])
    metrics = ServerMetrics()
    metrics.set_model_inputs("churn", ["tenure"])
    metrics.observe_labels(model="churn", received=10, joined=8, unknown=2, delays_seconds=delays)
    metrics.observe_labels(model="churn", received=1, joined=0, unknown=1, delays_seconds=[])
    samples = _samples(metrics)
    assert _get(samples, "watchkeeper_labels_received_total", model="churn") == 11
    assert _get(samples, "watchkeeper_labels_joined_total", model="churn") == 8
    assert _get(samples, "watchkeeper_labels_unknown_total", model="churn") == 3
    kept = np.maximum(delays[np.isfinite(delays)], 0.0)  # negative (clock skew) counts as 0
    name = "watchkeeper_label_delay_seconds"
    assert _buckets(samples, name, model="churn") == _cumulative(kept, LABEL_DELAY_BUCKETS)
    assert _get(samples, f"{name}_sum", model="churn") == pytest.approx(kept.sum())
    with pytest.raises(InvalidParameterError, match="joined"):
        metrics.observe_labels(model="churn", received=1, joined=-1, unknown=0, delays_seconds=[])


# ---------------------------------------------------------------------------- models
def test_model_loads_and_failures() -> None:
    metrics = ServerMetrics()
    loads = [(1, 0.2, True), (2, 1.5, True), (3, 0.05, False), (3, 0.07, False)]
    for version, seconds, ok in loads:
        metrics.observe_model_load(model="churn", version=version, seconds=seconds, ok=ok)
    samples = _samples(metrics)
    name = "watchkeeper_model_load_duration_seconds"
    assert _get(samples, f"{name}_count", model="churn", outcome="ok") == 2
    assert _get(samples, f"{name}_count", model="churn", outcome="error") == 2
    assert _get(samples, f"{name}_sum", model="churn", outcome="ok") == pytest.approx(1.7)
    assert _series(samples, "watchkeeper_model_load_failures_total") == {
        frozenset({"model": "churn", "version": "3"}.items()): 2.0
    }


def test_set_served_keeps_one_info_series_per_alias() -> None:
    metrics = ServerMetrics()
    metrics.set_served(model="churn", alias="production", version=1, flavour="sklearn", ready=True)
    metrics.set_served(model="churn", alias="shadow", version=2, flavour="sklearn", ready=False)
    metrics.set_served(model="churn", alias="production", version=2, flavour="sklearn", ready=True)
    metrics.set_served(model="churn", alias="production", version=2, flavour="sklearn", ready=True)
    samples = _samples(metrics)
    info = {
        (labels["alias"], labels["version"]): value
        for labels, value in (
            (dict(key), v) for key, v in _series(samples, "watchkeeper_model_info").items()
        )
    }
    assert info == {("production", "2"): 1.0, ("shadow", "2"): 1.0}
    assert _get(samples, "watchkeeper_model_ready", model="churn", alias="production") == 1
    assert _get(samples, "watchkeeper_model_ready", model="churn", alias="shadow") == 0


def test_build_info() -> None:
    samples = _samples(ServerMetrics())
    assert _get(samples, "watchkeeper_build_info", version=watchkeeper.__version__) == 1


# ---------------------------------------------------------------------------- the log writer
def test_writer_counters_follow_the_writer() -> None:
    metrics = ServerMetrics()
    writer = FakeWriter(queue_depth=4, commits=2, rows_written=20, failed_batches=1)
    metrics.attach_writer(writer)
    samples = _samples(metrics)
    assert _get(samples, "watchkeeper_log_queue_depth") == 4
    assert _get(samples, "watchkeeper_log_commits_total") == 2
    assert _get(samples, "watchkeeper_log_rows_written_total") == 20
    assert _get(samples, "watchkeeper_log_failed_batches_total") == 1
    writer.queue_depth, writer.commits, writer.rows_written = 0, 5, 57
    metrics.refresh()  # a refresh between renders counts nothing twice
    samples = _samples(metrics)
    assert _get(samples, "watchkeeper_log_queue_depth") == 0
    assert _get(samples, "watchkeeper_log_commits_total") == 5
    assert _get(samples, "watchkeeper_log_rows_written_total") == 57
    metrics.attach_writer(FakeWriter(commits=1, rows_written=3))  # a new writer: added on top
    samples = _samples(metrics)
    assert _get(samples, "watchkeeper_log_commits_total") == 6
    assert _get(samples, "watchkeeper_log_rows_written_total") == 60
    for seconds in (0.0004, 0.002, 0.002, 0.3):
        metrics.observe_commit(seconds)
    name = "watchkeeper_log_commit_duration_seconds"
    assert _get(_samples(metrics), f"{name}_count") == 4
    assert _get(_samples(metrics), f"{name}_bucket", le="0.0025") == 3


def test_a_real_writer(
    tmp_path: Path, database_url: str, reference: pd.DataFrame, pipelines: list[Any]
) -> None:
    with watchkeeper.Project.init(tmp_path / "project", database_url=database_url) as project:
        _register(project, "churn", pipelines[0], reference)

        def batch(request_id: str, start: int, n: int) -> Any:
            rows = reference.iloc[start : start + n]
            return make_batch(
                "churn", 1, rows[list(CHURN_FEATURES)],
                {"prediction": [0] * n, "prediction_proba": [0.25] * n},
                request_id=request_id, event_time=list(rows["event_time"]),
            )  # fmt: skip

        metrics = ServerMetrics()
        writer = GroupCommitWriter(project.log)
        metrics.attach_writer(writer)
        futures = [writer.submit(batch(f"r{i}", 10 * i, i)) for i in (1, 2, 3)]
        samples = _samples(metrics)  # not started: all three wait
        assert _get(samples, "watchkeeper_log_queue_depth") == 3
        assert _get(samples, "watchkeeper_log_commits_total") == 0
        writer.start()  # takes the three queued batches as one group
        for future in futures:
            future.result(timeout=WAIT)
        duplicate = writer.submit(batch("r1", 0, 1))
        with pytest.raises(InvalidInputError, match="logged before"):
            duplicate.result(timeout=WAIT)
        writer.close()
        samples = _samples(metrics)
        assert _get(samples, "watchkeeper_log_queue_depth") == 0
        assert _get(samples, "watchkeeper_log_commits_total") == 1 == writer.commits
        assert _get(samples, "watchkeeper_log_rows_written_total") == 6 == writer.rows_written
        assert _get(samples, "watchkeeper_log_failed_batches_total") == 1


# ---------------------------------------------------------------------------- scrape time
def test_alias_moves_come_from_the_database(
    tmp_path: Path, database_url: str, reference: pd.DataFrame, pipelines: list[Any]
) -> None:
    with watchkeeper.Project.init(tmp_path / "project", database_url=database_url) as project:
        for pipeline in pipelines:
            _register(project, "churn", pipeline, reference)
        _register(project, "fraud", pipelines[0], reference)
        metrics = ServerMetrics()
        metrics.attach_database(project.database)
        assert not _series(_samples(metrics), "watchkeeper_alias_moves_total")
        project.deploy("churn", 1)
        project.deploy("churn", 2)
        project.deploy("churn", 2, alias="challenger")
        project.rollback("churn")
        project.deploy("fraud", 1, trigger="policy")
        project.deploy("fraud", 1)  # already there: nothing recorded
        from_history = Counter(
            (name, event.alias, event.trigger)
            for name in ("churn", "fraud")
            for event in project.history(name)
            if event.kind == "alias_move"
        )
        series = _series(_samples(metrics), "watchkeeper_alias_moves_total")
    expected = {
        ("churn", "production", "manual"): 2,
        ("churn", "production", "rollback"): 1,
        ("churn", "challenger", "manual"): 1,
        ("fraud", "production", "policy"): 1,
    }
    assert from_history == expected
    assert series == {
        frozenset({"model": m, "alias": a, "trigger": t}.items()): float(n)
        for (m, a, t), n in expected.items()
    }


@pytest.mark.parametrize("broken", ["no_tables", "no_folder"])
def test_a_broken_database_does_not_break_the_scrape(
    tmp_path: Path, broken: str, caplog: pytest.LogCaptureFixture
) -> None:
    if broken == "no_tables":
        database = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    else:
        database = Database(f"sqlite:///{tmp_path / 'missing' / 'registry.db'}")
    metrics = ServerMetrics()
    metrics.attach_database(database)
    metrics.observe_request(endpoint="/ping", model="", code=200, seconds=0.001)
    with caplog.at_level(logging.WARNING, logger="watchkeeper.server._metrics"):
        first = _samples(metrics)
        second = _samples(metrics)
    database.dispose()
    for samples, errors in ((first, 1), (second, 2)):
        assert not _series(samples, "watchkeeper_alias_moves_total")
        assert _get(samples, "watchkeeper_scrape_errors_total", collector="alias_moves") == errors
        assert _get(samples, "watchkeeper_requests_total", endpoint="/ping", model="", code="200")
    assert [r.getMessage() for r in caplog.records] == [
        "The metrics collector 'alias_moves' failed; its series are left out of this scrape"
    ] * 2


def test_scrape_collectors_can_be_added() -> None:
    def drift() -> list[GaugeMetricFamily]:
        family = GaugeMetricFamily("watchkeeper_test_gauge", "A test gauge.", labels=["model"])
        family.add_metric(["churn"], 0.25)
        return [family]

    def failing() -> list[GaugeMetricFamily]:
        raise RuntimeError("the source is down")

    metrics = ServerMetrics()
    metrics.add_scrape_collector("drift", drift)
    metrics.add_scrape_collector("down", failing)
    samples = _samples(metrics)
    assert _get(samples, "watchkeeper_test_gauge", model="churn") == 0.25
    assert _get(samples, "watchkeeper_scrape_errors_total", collector="drift") == 0
    assert _get(samples, "watchkeeper_scrape_errors_total", collector="down") == 1


# ---------------------------------------------------------------------------- modes
def test_single_process_mode_refuses_a_multiprocess_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with pytest.raises(InvalidParameterError, match="multiprocess_dir="):
        ServerMetrics()


def test_multiprocess_dir_must_be_the_variables_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InvalidParameterError, match="not a folder"):
        ServerMetrics(multiprocess_dir=tmp_path / "missing")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "a"))
    with pytest.raises(InvalidParameterError, match="give the same folder"):
        ServerMetrics(multiprocess_dir=tmp_path / "b")
    assert not values.ValueClass._multiprocess  # refused before touching prometheus-client


_CHILD = """
import os, sys, warnings
folder, late, durations = sys.argv[1], sys.argv[2] == "late", sys.argv[3].split(",")
if late:  # the client is imported before the variable is set: ServerMetrics switches it
    import prometheus_client
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
from watchkeeper.server._metrics import ServerMetrics
warnings.simplefilter("error")  # remove() would warn in multiprocess mode
metrics = ServerMetrics(multiprocess_dir=folder)
for seconds in durations:
    metrics.observe_request(endpoint="/ping", model="", code=200, seconds=float(seconds))
metrics.set_served(model="churn", alias="production", version=1, flavour="sklearn", ready=True)
metrics.set_served(model="churn", alias="production", version=2, flavour="sklearn", ready=True)
metrics.attach_writer(type("W", (), dict(queue_depth=2, commits=1, rows_written=5,
                                          failed_batches=0))())
metrics.observe_request(endpoint="/ping", model="", code=503, seconds=0.5)
"""


def test_multiprocess_mode_sums_the_workers(tmp_path: Path, multiprocess_dir: Path) -> None:
    durations = {"early": [0.002, 0.03, 0.004], "late": [0.0005, 2.0, 0.02, 0.02, 7.5]}
    for mode, seconds in durations.items():
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        if mode == "early":
            env["PROMETHEUS_MULTIPROC_DIR"] = str(multiprocess_dir)
        args = [str(multiprocess_dir), mode, ",".join(map(str, seconds))]
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, *args],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=WAIT,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    metrics = ServerMetrics(multiprocess_dir=multiprocess_dir)
    samples = _samples(metrics)
    every = np.array([*durations["early"], *durations["late"], 0.5, 0.5])
    ok = sum(len(s) for s in durations.values())
    assert _series(samples, "watchkeeper_requests_total") == {
        frozenset({"endpoint": "/ping", "model": "", "code": "200"}.items()): float(ok),
        frozenset({"endpoint": "/ping", "model": "", "code": "503"}.items()): 2.0,
    }
    name = "watchkeeper_request_duration_seconds"
    assert _buckets(samples, name, endpoint="/ping", model="") == _cumulative(
        every, REQUEST_BUCKETS
    )
    assert _get(samples, f"{name}_sum", endpoint="/ping", model="") == pytest.approx(every.sum())
    info = {dict(k)["version"]: v for k, v in _series(samples, "watchkeeper_model_info").items()}
    assert info == {"1": 0.0, "2": 1.0}  # the replaced series stays, at 0
    assert _get(samples, "watchkeeper_model_ready", model="churn", alias="production") == 1
    assert _get(samples, "watchkeeper_log_queue_depth") == 4  # livesum of two workers
    assert _get(samples, "watchkeeper_log_rows_written_total") == 10
    assert _get(samples, "watchkeeper_build_info", version=watchkeeper.__version__) == 1
    assert len(list(multiprocess_dir.glob("counter_*.db"))) == 3  # two workers and this one


# ---------------------------------------------------------------------------- docs, promtool
def test_the_docs_table_lists_every_metric(sqlite_project: Any) -> None:
    metrics = ServerMetrics()
    _exercise(metrics, sqlite_project.database)
    families = _families(metrics.render()[0])
    assert set(families) == _docs_table()
    assert [name for name, family in families.items() if not family.samples] == []


@pytest.mark.parametrize("mode", ["single", "multiprocess"])
def test_promtool_accepts_the_exposition(
    mode: str, sqlite_project: Any, request: pytest.FixtureRequest
) -> None:
    if mode == "single":
        metrics = ServerMetrics()
    else:
        metrics = ServerMetrics(multiprocess_dir=request.getfixturevalue("multiprocess_dir"))
    _exercise(metrics, sqlite_project.database)
    body, _ = metrics.render()
    families = _families(body)
    assert set(families) == _docs_table()
    assert all(family.samples for family in families.values())
    _promtool(body)


def test_promtool_flags_a_bad_exposition() -> None:
    """The check above can fail: a counter without _total is a lint problem."""
    bad = b"# HELP requests Requests.\n# TYPE requests counter\nrequests 1\n"
    with pytest.raises(AssertionError, match="_total"):
        _promtool(bad)


def test_the_docs_queries_parse(tmp_path: Path) -> None:
    if not PROMTOOL.exists():
        pytest.skip(f"promtool is not installed at {PROMTOOL} (Debian package 'prometheus')")
    queries = re.findall(r"```promql\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert len(queries) >= 3
    rules = [{"record": f"docs:query_{i}", "expr": q} for i, q in enumerate(queries)]
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "docs", "rules": rules}]}))
    done = subprocess.run(
        [str(PROMTOOL), "check", "rules", str(path)], capture_output=True, timeout=WAIT
    )
    assert done.returncode == 0, (done.stdout + done.stderr).decode()


def test_shadow_skips_are_counted_by_a_bounded_reason() -> None:
    metrics = ServerMetrics()
    metrics.set_model_inputs("churn", CHURN_FEATURES)
    for reason in ("schema", "schema", "busy", "anything else"):
        metrics.observe_shadow_skipped(model="churn", reason=reason)
    samples = {
        s.labels["reason"]: s.value
        for s in _families(metrics.render()[0])["watchkeeper_shadow_skipped_total"].samples
        if s.name.endswith("_total")
    }
    assert samples == {"schema": 2.0, "busy": 1.0, "other": 1.0}
