"""Monitor gauges on /metrics: read from the newest stored run at scrape time, every value
equal to the stored check it comes from (and accuracy to scikit-learn's on the logged rows),
bounded feature labels, skipped checks left out, the scrape cache, a broken database counted,
and ``promtool check metrics`` on a live app's exposition."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sklearn.metrics import accuracy_score, roc_auc_score

from watchkeeper.clock import SimulatedClock
from watchkeeper.datasets import CHURN_FEATURES
from watchkeeper.ops import run_monitor
from watchkeeper.ops._history import StoredRun, latest_runs
from watchkeeper.registry import Project
from watchkeeper.results import CheckResult
from watchkeeper.server import create_app
from watchkeeper.server._metrics import ServerMetrics
from watchkeeper.server._monitor_metrics import (
    MAX_FEATURES,
    MonitorCollector,
    monitor_families,
)
from watchkeeper.store.database import Database

START = datetime(2026, 1, 1, tzinfo=UTC)
PROMTOOL = Path("/usr/bin/promtool")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _render(metrics: ServerMetrics) -> Samples:
    return _parse(metrics.render()[0].decode())


def _series(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: value for (n, labels), value in samples.items() if n == name}


def _labels(**labels: str) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


def every_series_run(model: str = "churn", version: int = 1) -> StoredRun:
    """A stored run with a check behind every monitor series (for exposition tests)."""

    def check(name: str, column: str | None, value: float, **kwargs: Any) -> CheckResult:
        return CheckResult(check=name, column=column, value=value, **kwargs)

    return StoredRun(
        id=1,
        model=model,
        version=version,
        alias="production",
        ran_at=START,
        window_start=START - timedelta(days=1),
        window_end=START,
        reference="baseline",
        source="schedule",
        status="alert",
        n_rows=100,
        n_labeled=40,
        label_coverage=0.4,
        duration_seconds=0.1,
        summary={},
        detectors={},
        checks=(
            check("drift.wasserstein", "tenure", 0.3, threshold=0.1, status="alert"),
            check("drift.dataset", None, 1.0, threshold=0.5, status="alert"),
            check("quality.missing_rate", "tenure", 0.02, threshold=0.05, status="ok"),
            check("quality.duplicate_rows", None, 0.0, threshold=0.01, status="ok"),
            check("monitor.label_coverage", None, 0.4, threshold=0.1, status="ok"),
            check("performance.accuracy", None, 0.8, reference_value=0.85, status="warning"),
            check("concept_drift.ddm", None, 0.2, status="ok"),
        ),
    )


# ---------------------------------------------------------------------------- a real run
def _monitored_project(
    folder: Path, frames: dict[str, pd.DataFrame], pipelines: list[Any], clock: SimulatedClock
) -> Project:
    """churn v1 in production; 500 logged predictions with tenure shifted, 400 labelled, and
    one monitor run over them (returned open)."""
    project = Project.init(folder, clock=clock)
    project.register(
        "churn",
        pipelines[0],
        reference=frames["reference"],
        validation=frames["validation"],
        features=list(CHURN_FEATURES),
        target="churned",
        id="customer_id",
    )
    project.deploy("churn", 1)
    production = frames["production"].copy()
    production["tenure_months"] = production["tenure_months"] * 1.5 + 12
    clock.advance(timedelta(hours=1))
    project.log_predictions("churn", production, request_id="batch-1")
    labels = production["churned"].astype(int).tolist()[:400]
    project.log_labels(
        "churn", [{"id": "batch-1", "row": i, "label": v} for i, v in enumerate(labels)]
    )
    clock.advance(timedelta(hours=1))
    run_monitor(project, "churn", source="schedule")
    return project


@pytest.fixture(scope="module")
def monitored(
    tmp_path_factory: pytest.TempPathFactory,
    churn_frames: dict[str, pd.DataFrame],
    churn_pipelines: list[Any],
) -> Iterator[Project]:
    """A monitored project shared by the tests that only read it."""
    folder = tmp_path_factory.mktemp("monitored") / "project"
    with _monitored_project(folder, churn_frames, churn_pipelines, SimulatedClock(START)) as p:
        yield p


def test_the_gauges_are_the_stored_run(monitored: Project) -> None:
    project = monitored
    (run,) = latest_runs(project.database)
    metrics = ServerMetrics()
    metrics.attach_monitor(project.database)
    samples = _render(metrics)
    mv = {"model": "churn", "version": "1"}

    assert _series(samples, "watchkeeper_monitor_run_timestamp_seconds") == {
        _labels(model="churn"): (START + timedelta(hours=2)).timestamp()
    }
    assert run.status == "alert"
    assert samples[("watchkeeper_monitor_status", _labels(**mv))] == 2.0
    statuses = Counter(c.status for c in run.checks)
    assert _series(samples, "watchkeeper_monitor_checks") == {
        _labels(**mv, status=s): float(statuses.get(s, 0))
        for s in ("ok", "warning", "alert", "skipped")
    }

    # per-feature drift: every non-skipped column check, with its threshold and alert flag
    drift = [c for c in run.checks if c.check.startswith("drift.") and c.column is not None]
    scored = [c for c in drift if c.status != "skipped"]
    assert len(scored) >= len(CHURN_FEATURES)
    expected = {_labels(**mv, feature=str(c.column), check=c.check): c.value for c in scored}
    assert _series(samples, "watchkeeper_feature_drift_score") == expected
    assert _series(samples, "watchkeeper_feature_drift_threshold") == {
        _labels(**mv, feature=str(c.column), check=c.check): c.threshold for c in scored
    }
    alerts = _series(samples, "watchkeeper_feature_drift_alert")
    assert alerts[_labels(**mv, feature="tenure_months", check="drift.wasserstein")] == 1.0
    assert alerts[_labels(**mv, feature="contract", check="drift.jensen_shannon")] == 0.0
    assert sum(alerts.values()) == sum(c.status == "alert" for c in scored)
    assert not any(dict(k)["feature"] == "churned" for k in alerts)  # skipped: no sample

    # dataset drift: the share of feature columns that alerted
    features = [c for c in drift if c.column in CHURN_FEATURES and c.status != "skipped"]
    ratio = sum(c.status == "alert" for c in features) / len(features)
    assert samples[("watchkeeper_drifted_features_ratio", _labels(**mv))] == pytest.approx(ratio)
    dataset = next(c for c in run.checks if c.check == "drift.dataset")
    assert samples[("watchkeeper_dataset_drift", _labels(**mv))] == float(dataset.status == "alert")

    # quality: rates per feature and per window, never counts
    rates = _series(samples, "watchkeeper_feature_quality_violation_ratio")
    missing = next(
        c for c in run.checks if c.check == "quality.missing_rate" and c.column == "monthly_charges"
    )
    assert rates[_labels(**mv, check="quality.missing_rate", feature="monthly_charges")] == (
        missing.value
    )
    assert all(0.0 <= v <= 1.0 for v in rates.values())
    assert {dict(k)["check"] for k in rates} <= {
        "quality.missing_rate",
        "quality.non_finite",
        "quality.outlier_rate",
        "quality.out_of_range",
        "quality.type_violations",
        "quality.unseen_categories",
    }
    window_level = _series(samples, "watchkeeper_quality_violation_ratio")
    assert set(window_level) <= {_labels(**mv, check="quality.duplicate_rows")}

    # performance against scikit-learn on the labelled rows the run read
    logged = project.read_log("churn", with_labels=True)
    labelled = logged[logged["label"].notna()]
    assert len(labelled) == 400
    truth = labelled["label"].astype(int)
    performance = _series(samples, "watchkeeper_performance_metric")
    assert performance[_labels(**mv, metric="accuracy")] == pytest.approx(
        accuracy_score(truth, labelled["prediction"].astype(int)), abs=1e-12
    )
    assert performance[_labels(**mv, metric="roc_auc")] == pytest.approx(
        roc_auc_score(truth, labelled["prediction_proba"]), abs=1e-12
    )
    reference = _series(samples, "watchkeeper_performance_reference")
    assert set(reference) == set(performance)
    for check in run.checks:
        if check.check.startswith("performance.") and check.status != "skipped":
            metric = check.check.split(".", 1)[1]
            assert performance[_labels(**mv, metric=metric)] == check.value
            assert reference[_labels(**mv, metric=metric)] == check.reference_value

    assert samples[("watchkeeper_label_coverage_ratio", _labels(**mv))] == 400 / 500
    detectors = {
        c.check.split(".", 1)[1]: float(c.status == "alert")
        for c in run.checks
        if c.check.startswith("concept_drift.") and c.status != "skipped"
    }
    assert detectors  # 400 new labels fed ddm and adwin
    assert _series(samples, "watchkeeper_concept_drift_detected") == {
        _labels(**mv, detector=d): v for d, v in detectors.items()
    }


def test_the_app_exposition_passes_promtool(monitored: Project) -> None:
    with TestClient(create_app(monitored, environ={})) as client:
        text = client.get("/metrics").text
    samples = _parse(text)
    assert samples[("watchkeeper_monitor_status", _labels(model="churn", version="1"))] == 2
    for name in (
        "watchkeeper_monitor_run_timestamp_seconds",
        "watchkeeper_feature_drift_score",
        "watchkeeper_performance_metric",
        "watchkeeper_feature_quality_violation_ratio",
        "watchkeeper_concept_drift_detected",
    ):
        assert f"\n{name}{{" in text, name
    if not PROMTOOL.exists():
        pytest.skip(f"promtool is not installed at {PROMTOOL} (Debian package 'prometheus')")
    done = subprocess.run(
        [str(PROMTOOL), "check", "metrics"], input=text.encode(), capture_output=True, timeout=60
    )
    report = (done.stdout + done.stderr).decode()
    assert done.returncode == 0, report
    assert report.strip() == "", report


def test_a_newer_run_replaces_the_gauges_at_the_next_read(
    tmp_path: Path, churn_frames: dict[str, pd.DataFrame], churn_pipelines: list[Any]
) -> None:
    clock = SimulatedClock(START)
    with (
        _monitored_project(tmp_path / "project", churn_frames, churn_pipelines, clock) as project,
        TestClient(create_app(project, environ={})) as client,
    ):
        before = _parse(client.get("/metrics").text)
        assert _series(before, "watchkeeper_feature_drift_score")
        clock.advance(timedelta(hours=1))
        # a run the CLI makes: the logged rows are now outside its window, so it is mostly
        # skipped
        newer = run_monitor(project, "churn", window=timedelta(minutes=30))
        stamp = ("watchkeeper_monitor_run_timestamp_seconds", _labels(model="churn"))
        deadline = time.monotonic() + 30  # the cache lasts 2 s; bounded wait for the re-read
        after = before
        while after[stamp] != newer.stored.ran_at.timestamp():
            assert time.monotonic() < deadline, "the newer run never showed"
            time.sleep(0.1)
            after = _parse(client.get("/metrics").text)
    assert before[stamp] == (START + timedelta(hours=2)).timestamp()
    assert not _series(after, "watchkeeper_feature_drift_score")  # skipped: no samples
    assert not _series(after, "watchkeeper_performance_metric")
    checks = Counter(c.status for c in newer.stored.checks)
    assert (
        after[("watchkeeper_monitor_checks", _labels(model="churn", version="1", status="skipped"))]
        == checks["skipped"]
    )


# ---------------------------------------------------------------------------- labels, caps
def _run(checks: list[CheckResult], status: str = "ok") -> StoredRun:
    return StoredRun(
        id=7,
        model="m",
        version=2,
        alias="production",
        ran_at=START,
        window_start=None,
        window_end=None,
        reference="baseline",
        source="manual",
        status=status,
        n_rows=10,
        n_labeled=0,
        label_coverage=None,
        duration_seconds=0.0,
        summary={},
        detectors={},
        checks=tuple(checks),
    )


def _by_name(runs: list[StoredRun], **kwargs: Any) -> dict[str, dict[tuple[str, ...], float]]:
    return {
        f.name: {tuple(s.labels[k] for k in sorted(s.labels)): s.value for s in f.samples}
        for f in monitor_families(runs, **kwargs)
    }


def test_features_are_capped_alphabetically_unless_configured() -> None:
    columns = [f"f{k:03d}" for k in range(MAX_FEATURES + 20)][::-1]
    checks = [
        CheckResult(check="drift.wasserstein", column=c, value=0.01, threshold=0.1, status="ok")
        for c in columns
    ] + [
        CheckResult(check="quality.missing_rate", column=c, value=0.0, status="ok") for c in columns
    ]
    found = _by_name([_run(checks)])
    drifted = {k[1] for k in found["watchkeeper_feature_drift_score"]}  # (check, feature, ...)
    assert drifted == {f"f{k:03d}" for k in range(MAX_FEATURES)}
    quality = {k[1] for k in found["watchkeeper_feature_quality_violation_ratio"]}
    assert quality == drifted
    chosen = _by_name([_run(checks)], features=["f069", "f001", "nope"])
    assert {k[1] for k in chosen["watchkeeper_feature_drift_score"]} == {"f069", "f001"}


def test_skipped_checks_and_missing_values_give_no_sample() -> None:
    checks = [
        CheckResult(check="drift.ks", column="a", value=None, status="skipped", reason="few"),
        CheckResult(check="drift.ks", column="b", value=0.2, threshold=None, status="ok"),
        CheckResult(check="drift.dataset", column=None, value=None, status="skipped"),
        CheckResult(check="performance", column=None, value=None, status="skipped"),
        CheckResult(check="performance.f1", column=None, value=0.5, status="skipped"),
        CheckResult(check="monitor.label_coverage", column=None, value=None, status="skipped"),
        CheckResult(check="concept_drift.adwin", column=None, value=None, status="skipped"),
        CheckResult(check="quality.cardinality", column="b", value=4.0, status="ok"),
        CheckResult(check="quality.empty_window", column=None, value=10.0, status="ok"),
        CheckResult(check="quality.missing_columns", column=None, value=0.0, status="ok"),
    ]
    found = _by_name([_run(checks, status="skipped")])
    assert set(found) == {
        "watchkeeper_monitor_run_timestamp_seconds",
        "watchkeeper_monitor_status",
        "watchkeeper_monitor_checks",
        "watchkeeper_feature_drift_score",
        "watchkeeper_feature_drift_alert",
    }
    assert found["watchkeeper_feature_drift_score"] == {("drift.ks", "b", "m", "2"): 0.2}
    assert found["watchkeeper_monitor_status"] == {("m", "2"): -1.0}
    assert found["watchkeeper_monitor_checks"] == {
        ("m", "ok", "2"): 4.0,
        ("m", "warning", "2"): 0.0,
        ("m", "alert", "2"): 0.0,
        ("m", "skipped", "2"): 6.0,
    }


def test_a_repeated_label_set_keeps_its_first_value_and_models_sort() -> None:
    checks = [
        CheckResult(check="performance.mae", column=None, value=1.5, status="ok"),
        CheckResult(check="performance.mae", column="segment", value=9.0, status="ok"),
        CheckResult(check="drift.ks", column="x", value=0.1, status="ok"),
        CheckResult(check="drift.ks", column="x", value=0.9, status="alert"),
    ]
    runs = [_run(checks), every_series_run(model="a")]
    families = monitor_families(runs)
    found = _by_name(runs)
    assert found["watchkeeper_performance_metric"][("mae", "m", "2")] == 1.5
    assert found["watchkeeper_feature_drift_score"][("drift.ks", "x", "m", "2")] == 0.1
    stamps = next(f for f in families if f.name == "watchkeeper_monitor_run_timestamp_seconds")
    assert [s.labels["model"] for s in stamps.samples] == ["a", "m"]


def test_every_series_run_covers_every_family() -> None:
    names = {f.name for f in monitor_families([every_series_run()])}
    from watchkeeper.server._monitor_metrics import _FAMILIES

    assert names == {f"watchkeeper_{n}" for n in _FAMILIES}


# ---------------------------------------------------------------------------- scrape time
def test_a_burst_of_scrapes_reads_once() -> None:
    now = [100.0]
    runs = [every_series_run()]
    reads: list[int] = []

    def source() -> list[StoredRun]:
        reads.append(1)
        return list(runs)

    collector = MonitorCollector(source, timer=lambda: now[0])
    collector()
    runs[0] = every_series_run(version=2)
    now[0] += 1.9
    cached = {s.labels.get("version") for f in collector() for s in f.samples}
    assert len(reads) == 1
    assert collector.reads == 1
    assert cached == {None, "1"}
    now[0] += 0.2  # 2.1 s after the read
    refreshed = {s.labels.get("version") for f in collector() for s in f.samples}
    assert len(reads) == 2
    assert refreshed == {None, "2"}  # the timestamp has no version label


def test_a_database_that_cannot_be_read_is_counted_not_fatal(tmp_path: Path) -> None:
    empty = Database(f"sqlite:///{tmp_path / 'no-tables.db'}")  # no monitor_runs table
    try:
        metrics = ServerMetrics()
        metrics.attach_monitor(empty)
        samples = _render(metrics)
    finally:
        empty.dispose()
    assert samples[("watchkeeper_scrape_errors_total", _labels(collector="monitor"))] == 1.0
    assert not any(name.startswith("watchkeeper_monitor") for name, _ in samples)
    assert ("watchkeeper_build_info", _labels(version=_version())) in samples


def _version() -> str:
    from watchkeeper._version import __version__

    return __version__
