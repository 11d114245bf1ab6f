"""The post-deploy guard: its checks against hand computation and scipy/scikit-learn, waiting
below the row minimums, and on a real project (SQLite, simulated clock) the rollback of a bad
version after failures across runs, a good version left alone, a racing move left alone, and
the shadow alias cleaned up when the guard period ends."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from sklearn.metrics import accuracy_score, mean_absolute_error, roc_auc_score

from watchkeeper.clock import SimulatedClock
from watchkeeper.config import RetrainConfig
from watchkeeper.config._ops import GateConfig, GuardConfig
from watchkeeper.datasets import CHURN_FEATURES, churn, train_churn_model
from watchkeeper.ops._deploy import deploy_challenger
from watchkeeper.ops._guard import GuardCheck, guard_checks, run_guard
from watchkeeper.registry import Project
from watchkeeper.store.predictions import make_batch
from watchkeeper.store.tables import rejected_requests

MODEL = "churn"
START = datetime(2026, 3, 1, tzinfo=UTC)
GOOD, BAD, OTHER = 1, 2, 3  # v1 the champion, v2 trained on inverted labels, v3 another good one


# ---------------------------------------------------------------------------- the project
Template = tuple[Path, pd.DataFrame, dict[int, Any]]
_BUILT: dict[str, Template] = {}  # test_deploy imports the fixture: build it once for both


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """A churn project (SQLite) with versions GOOD, BAD and OTHER, GOOD in production, plus
    the traffic to log and each version's outputs on it (computed once)."""
    if "template" not in _BUILT:
        _BUILT["template"] = _build(tmp_path_factory)
    return _BUILT["template"]


def _build(tmp_path_factory: pytest.TempPathFactory) -> Template:
    reference, validation = churn(1_500, seed=1), churn(400, seed=2)
    inverted = reference.assign(churned=1 - reference["churned"])
    models = {
        GOOD: train_churn_model(reference, C=1.0),
        BAD: train_churn_model(inverted, C=1.0),
        OTHER: train_churn_model(reference, C=0.3),
    }
    folder = tmp_path_factory.mktemp("template") / "project"
    clock = SimulatedClock(START - timedelta(days=1))
    with Project.init(folder, clock=clock) as project:
        for version, model in sorted(models.items()):
            record = project.register(
                MODEL,
                model,
                reference=reference,
                validation=validation,
                features=list(CHURN_FEATURES),
                target="churned",
                id="customer_id",
                store_data=False,
            )
            assert record.version == version
        project.deploy(MODEL, GOOD, reason="first model")
    traffic = churn(900, seed=3).reset_index(drop=True)
    x = traffic[list(CHURN_FEATURES)]
    outputs = {
        v: {
            "prediction": np.asarray(m.predict(x)),
            "prediction_proba": np.asarray(m.predict_proba(x))[:, 1],
        }
        for v, m in models.items()
    }
    return folder, traffic, outputs


class Setup:
    """A copy of the template project on a simulated clock, and a way to log paired rows."""

    def __init__(self, template: Template, folder: Path):
        source, self.traffic, self.outputs = template
        shutil.copytree(source, folder)
        self.clock = SimulatedClock(START)
        self.project = Project(folder, clock=self.clock, actor="tester")
        self.logged = 0

    def log(self, served: int, shadow: int | None, n: int, *, labels: bool = True) -> list[str]:
        """Log the next ``n`` traffic rows, served by ``served`` and scored by ``shadow``,
        one request each, at the clock's time; with their labels."""
        take = slice(self.logged, self.logged + n)
        self.logged += n
        rows = self.traffic.iloc[take]
        ids = [f"req-{i}" for i in range(take.start, take.stop)]
        inputs = rows[list(CHURN_FEATURES)]
        batches = []
        for version, role in ((served, "served"), (shadow, "shadow")):
            if version is None:
                continue
            out = {k: v[take] for k, v in self.outputs[version].items()}
            batches.append(
                make_batch(
                    MODEL,
                    version,
                    inputs,
                    out,
                    request_id=ids,
                    rows=[0] * n,
                    event_time=self.clock.now(),
                    role=role,
                )
            )
        self.project.log.append(batches)
        if labels:
            self.project.log_labels(
                MODEL,
                pd.DataFrame({"id": ids, "label": rows["churned"].to_numpy(), "row": 0}),
                row_col="row",
            )
            # Past monitor.label_grace, so the next check counts these labels.
            self.clock.advance(timedelta(minutes=2))
        return ids

    def events(self, kind: str) -> list[Any]:
        return [e for e in self.project.history(MODEL) if e.kind == kind]


@pytest.fixture
def setup(template: Template, tmp_path: Path) -> Iterator[Setup]:
    made = Setup(template, tmp_path / "project")
    try:
        yield made
    finally:
        made.project.close()


def retrain_config(**guard: Any) -> RetrainConfig:
    # Prediction times on a shared machine are noisy: the latency limit is out of the way here
    # and tested through guard_checks, where the ratio is given.
    settings: dict[str, Any] = {
        "min_rows": 200,
        "min_labeled_rows": 200,
        "failures": 2,
        "max_latency_ratio": 1000.0,
    }
    settings.update(guard)
    return RetrainConfig(guard=GuardConfig(**settings))


# ---------------------------------------------------------------------------- guard_checks
def _frames(n: int, seed: int, *, labelled: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    new_score = np.clip(0.5 * y + rng.uniform(0, 0.6, n), 0, 1)
    old_score = np.clip(0.35 * y + rng.uniform(0, 0.7, n), 0, 1)
    ids = [f"r{i // 3}" for i in range(n)]
    rows = [i % 3 for i in range(n)]
    label = pd.array(np.where(np.arange(n) < labelled, y, -1), dtype="Int64")
    label[np.arange(n) >= labelled] = pd.NA
    served = pd.DataFrame(
        {
            "request_id": ids,
            "row": rows,
            "pred": (new_score >= 0.5).astype(np.int64),
            "score": new_score,
            "label": label,
        }
    )
    shadow = pd.DataFrame(
        {
            "request_id": ids,
            "row": rows,
            "pred": (old_score >= 0.5).astype(np.int64),
            "score": old_score,
        }
    )
    # The shadow's rows in another order, and requests only one side has: pairing is by key.
    shadow = shadow.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    lonely = {"row": [0], "pred": [1], "score": [0.9]}
    only_served = pd.DataFrame({"request_id": ["lonely"], **lonely, "label": [1]})
    only_shadow = pd.DataFrame({"request_id": ["other"], **lonely})
    return (
        pd.concat([served, only_served], ignore_index=True),
        pd.concat([shadow, only_shadow], ignore_index=True),
    )


def _by_name(checks: tuple[GuardCheck, ...]) -> dict[str, GuardCheck]:
    return {c.name: c for c in checks}


@pytest.mark.parametrize("metric", ["roc_auc", "accuracy"])
def test_guard_checks_match_a_hand_computation(metric: str) -> None:
    n, labelled = 600, 450
    served, shadow = _frames(n, seed=7, labelled=labelled)
    config = GuardConfig(
        min_rows=100,
        min_labeled_rows=100,
        max_disagreement=0.1,
        max_prediction_drift=0.9,
        max_error_rate=0.05,
        max_performance_drop=0.0,
    )
    checks = _by_name(
        guard_checks(
            served,
            shadow,
            config=config,
            gate=GateConfig(metric=metric),
            task="binary",
            prediction_col="pred",
            score_col="score",
            positive_label=1,
            n_model_errors=12,
            n_requests=400,
        )
    )
    pairs = served.iloc[:n].merge(shadow, on=["request_id", "row"], suffixes=("_new", "_old"))
    assert len(pairs) == n
    differ = int((pairs["pred_new"] != pairs["pred_old"]).sum())
    assert checks["disagreement"].value == differ / n
    assert checks["disagreement"].n == n
    assert checks["disagreement"].status == ("failed" if differ / n > 0.1 else "ok")
    p = np.histogram(pairs["score_new"], bins=20, range=(0, 1))[0]
    q = np.histogram(pairs["score_old"], bins=20, range=(0, 1))[0]
    assert checks["prediction_drift"].value == pytest.approx(
        float(jensenshannon(p, q, base=2)), abs=1e-12
    )
    assert checks["prediction_drift"].status == "ok"
    assert (checks["error_rate"].value, checks["error_rate"].status) == (0.03, "ok")
    with_label = pairs[pairs["label"].notna()]
    y = with_label["label"].to_numpy(dtype=int)
    if metric == "roc_auc":
        new = roc_auc_score(y, with_label["score_new"])
        old = roc_auc_score(y, with_label["score_old"])
    else:
        new = accuracy_score(y, with_label["pred_new"])
        old = accuracy_score(y, with_label["pred_old"])
    performance = checks["performance"]
    assert performance.value == pytest.approx(old - new, abs=1e-12)
    assert performance.n == labelled
    assert performance.status == ("failed" if old - new > 0 else "ok")
    assert metric in performance.message


def test_guard_checks_wait_below_the_minimums() -> None:
    served, shadow = _frames(150, seed=3, labelled=40)
    common: dict[str, Any] = {
        "gate": GateConfig(),
        "task": "binary",
        "prediction_col": "pred",
        "score_col": "score",
        "positive_label": 1,
        "n_model_errors": 100,
        "n_requests": 150,
    }
    waiting = _by_name(
        guard_checks(
            served,
            shadow,
            config=GuardConfig(min_rows=len(served) + 1, min_labeled_rows=41),
            **common,
        )
    )
    assert {name: c.status for name, c in waiting.items()} == {
        "disagreement": "waiting",
        "prediction_drift": "waiting",
        "error_rate": "waiting",  # 100 of 150 requests refused, but too few rows served yet
        "latency": "waiting",  # not timed (guard_checks is given no ratio)
        "performance": "waiting",
    }
    assert all(c.value is None for c in waiting.values())
    assert waiting["performance"].n == 40
    assert "waits for 41" in waiting["performance"].message
    # At the minimums the label-free checks run; performance still waits for labels.
    ready = _by_name(
        guard_checks(
            served, shadow, config=GuardConfig(min_rows=150, min_labeled_rows=41), **common
        )
    )
    assert ready["disagreement"].status != "waiting"
    assert ready["error_rate"].status == "failed"
    assert ready["error_rate"].value == pytest.approx(100 / 150)
    assert ready["performance"].status == "waiting"
    # No rows at all (the log's empty window has no output columns): everything waits.
    empty = guard_checks(
        served.iloc[:0][["request_id", "row", "label"]],
        shadow.iloc[:0][["request_id", "row"]],
        config=GuardConfig(),
        **{**common, "n_model_errors": 0, "n_requests": 0},
    )
    assert [(c.status, c.n) for c in empty] == [("waiting", 0)] * 5


def test_guard_checks_multiclass_and_text_labels() -> None:
    rng = np.random.default_rng(11)
    n = 300
    classes = np.array(["basic", "plus", "pro"])
    y = rng.integers(0, 3, n)
    new = np.where(rng.uniform(size=n) < 0.8, y, rng.integers(0, 3, n))
    old = np.where(rng.uniform(size=n) < 0.6, y, rng.integers(0, 3, n))
    ids = [f"r{i}" for i in range(n)]
    served = pd.DataFrame(
        {"request_id": ids, "row": 0, "p": classes[new], "label": pd.array(classes[y])}
    )
    shadow = pd.DataFrame({"request_id": ids, "row": 0, "p": classes[old]})
    checks = _by_name(
        guard_checks(
            served,
            shadow,
            config=GuardConfig(min_rows=10, min_labeled_rows=10),
            gate=GateConfig(),  # auto: accuracy for a classifier without scores
            task="multiclass",
            prediction_col="p",
            score_col=None,
            positive_label=None,
            n_model_errors=0,
            n_requests=n,
        )
    )
    assert checks["disagreement"].value == np.mean(new != old)
    p = np.bincount(new, minlength=3)
    q = np.bincount(old, minlength=3)
    assert checks["prediction_drift"].value == pytest.approx(
        float(jensenshannon(p, q, base=2)), abs=1e-12
    )
    expected = accuracy_score(y, old) - accuracy_score(y, new)
    assert checks["performance"].value == pytest.approx(expected, abs=1e-12)
    assert checks["performance"].status == "ok"  # the new version is the better one


def test_guard_checks_regression() -> None:
    rng = np.random.default_rng(5)
    n = 250
    y = rng.normal(10, 2, n)
    new, old = y + rng.normal(0, 1.5, n), y + rng.normal(0, 0.5, n)
    ids = [f"r{i}" for i in range(n)]
    served = pd.DataFrame({"request_id": ids, "row": 0, "yhat": new, "label": y})
    shadow = pd.DataFrame({"request_id": ids, "row": 0, "yhat": old})
    checks = _by_name(
        guard_checks(
            served,
            shadow,
            config=GuardConfig(min_rows=10, min_labeled_rows=10, max_performance_drop=0.5),
            gate=GateConfig(),  # auto: MAE for regression
            task="regression",
            prediction_col="yhat",
            score_col=None,
            positive_label=None,
            n_model_errors=0,
            n_requests=n,
        )
    )
    assert "disagreement" not in checks  # a regression has no classes to disagree on
    edges = np.linspace(min(new.min(), old.min()), max(new.max(), old.max()), 21)
    p, q = np.histogram(new, bins=edges)[0], np.histogram(old, bins=edges)[0]
    assert checks["prediction_drift"].value == pytest.approx(
        float(jensenshannon(p, q, base=2)), abs=1e-12
    )
    drop = mean_absolute_error(y, new) - mean_absolute_error(y, old)  # an error metric
    assert checks["performance"].value == pytest.approx(drop, abs=1e-12)
    assert drop > 0.5
    assert checks["performance"].status == "failed"


# ---------------------------------------------------------------------------- run_guard
def test_a_bad_version_is_rolled_back_after_failures_across_two_runs(setup: Setup) -> None:
    config = retrain_config(failures=2, max_prediction_drift=1.0)
    promotion = deploy_challenger(setup.project, MODEL, BAD, config=config, reason="test")
    assert setup.project.model(MODEL).aliases == {"production": BAD, "shadow": GOOD}
    # First run: rows but no labels yet; only the disagreement can fail (drift cannot).
    setup.clock.advance(timedelta(hours=1))
    setup.log(BAD, GOOD, 300, labels=False)
    setup.clock.advance(timedelta(hours=1))
    first = run_guard(setup.project, MODEL, config=config, now=setup.clock.now())
    assert first is not None
    assert {c.name: c.status for c in first.checks} == {
        "disagreement": "failed",
        "prediction_drift": "ok",
        "error_rate": "ok",
        "latency": "ok",
        "performance": "waiting",
    }
    assert (first.failures, first.rollback, first.rolled_back) == (1, False, False)
    assert setup.project.model(MODEL).aliases["production"] == BAD
    # Second run: labels arrived; disagreement and performance fail: a second failed run.
    setup.log(BAD, GOOD, 300)
    setup.clock.advance(timedelta(hours=1))
    second = run_guard(setup.project, MODEL, config=config, now=setup.clock.now())
    assert second is not None
    statuses = {c.name: c.status for c in second.checks}
    assert statuses["performance"] == statuses["disagreement"] == "failed"
    assert (second.version, second.previous) == (BAD, GOOD)
    # One failure per run however many checks failed: 1 + 1 reaches failures=2.
    assert (second.failures, second.rollback, second.rolled_back) == (2, True, True)
    assert second.reasons[-1] == f"rolled back to version {GOOD}"
    assert setup.project.model(MODEL).aliases == {"production": GOOD}
    assert setup.project.get(MODEL, BAD).status == "rejected"
    checks = setup.events("guard_check")
    assert [e.details["failures"] for e in checks] == [1, 2]
    assert checks[-1].details == second.to_dict()
    moves = [e for e in setup.events("alias_move") if e.id > promotion.events[0]]
    assert [(e.alias, e.from_version, e.to_version, e.trigger) for e in moves] == [
        ("shadow", None, GOOD, "policy"),
        ("production", BAD, GOOD, "guard"),
        ("shadow", GOOD, None, "guard"),
    ]
    assert "disagreement" in moves[1].reason
    assert "roc_auc" in moves[1].reason
    # Nothing left to guard; a later run does nothing.
    assert run_guard(setup.project, MODEL, config=config, now=setup.clock.now()) is None
    assert len(setup.events("guard_check")) == 2


def test_a_good_version_is_not_rolled_back(setup: Setup) -> None:
    config = retrain_config(failures=1)
    deploy_challenger(setup.project, MODEL, OTHER, config=config, reason="test")
    for _ in range(2):
        setup.clock.advance(timedelta(hours=2))
        setup.log(OTHER, GOOD, 300)
        result = run_guard(setup.project, MODEL, config=config, now=setup.clock.now())
        assert result is not None
        assert {c.status for c in result.checks} == {"ok"}, result.checks
        assert (result.failures, result.rollback) == (0, False)
    assert setup.project.model(MODEL).aliases == {"production": OTHER, "shadow": GOOD}
    assert setup.project.get(MODEL, OTHER).status == "ready"
    assert [e.reason for e in setup.events("guard_check")] == ["no check failed"] * 2


def test_model_errors_since_the_promotion_count(setup: Setup) -> None:
    config = retrain_config(failures=5, max_error_rate=0.05)

    def refuse(n: int) -> None:
        with setup.project.database.write() as conn:
            conn.execute(
                rejected_requests.insert(),
                [
                    {
                        "model": MODEL,
                        "endpoint": "infer",
                        "status": 422,
                        "reason": "model_error",
                        "message": "boom",
                        "created_at": setup.clock.now(),
                    }
                ]
                * n,
            )

    refuse(50)  # before the promotion: not counted
    setup.clock.advance(timedelta(minutes=1))
    deploy_challenger(setup.project, MODEL, OTHER, config=config, reason="test")
    setup.clock.advance(timedelta(minutes=1))
    refuse(30)
    setup.log(OTHER, GOOD, 270, labels=False)
    result = run_guard(setup.project, MODEL, config=config, now=setup.clock.now())
    assert result is not None
    error = next(c for c in result.checks if c.name == "error_rate")
    assert (error.value, error.n, error.status) == (0.1, 300, "failed")


def test_a_racing_move_is_left_alone(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    config = retrain_config(failures=1)
    deploy_challenger(setup.project, MODEL, BAD, config=config, reason="test")
    setup.clock.advance(timedelta(hours=1))
    setup.log(BAD, GOOD, 300)
    rollback = setup.project.rollback

    def someone_moves_first(*args: Any, **kwargs: Any) -> Any:
        setup.project.deploy(MODEL, OTHER, reason="by hand, meanwhile")
        return rollback(*args, **kwargs)

    monkeypatch.setattr(setup.project, "rollback", someone_moves_first)
    result = run_guard(setup.project, MODEL, config=config, now=setup.clock.now())
    assert result is not None
    assert (result.rollback, result.rolled_back) == (True, False)
    assert "not rolled back" in result.reasons[-1]
    assert f"expected at version {BAD} but is at version {OTHER}" in result.reasons[-1]
    assert setup.project.model(MODEL).aliases == {"production": OTHER, "shadow": GOOD}
    assert setup.project.get(MODEL, BAD).status == "ready"
    assert setup.events("guard_check")[-1].details["rolled_back"] is False
    # The promotion it guarded is no longer the latest production move.
    monkeypatch.undo()
    assert run_guard(setup.project, MODEL, config=config, now=setup.clock.now()) is None


def test_the_shadow_alias_is_removed_when_the_period_ends(setup: Setup) -> None:
    config = retrain_config(period="2d")
    deploy_challenger(setup.project, MODEL, OTHER, config=config, reason="test")
    setup.clock.advance(timedelta(days=1))
    quiet = run_guard(setup.project, MODEL, config=config, now=setup.clock.now())
    assert quiet is not None
    assert {c.status for c in quiet.checks} == {"waiting"}  # no traffic yet
    setup.clock.advance(timedelta(days=1, seconds=1))
    assert run_guard(setup.project, MODEL, config=config, now=setup.clock.now()) is None
    assert setup.project.model(MODEL).aliases == {"production": OTHER}
    removal = setup.events("alias_move")[-1]
    assert (removal.alias, removal.from_version, removal.to_version) == ("shadow", GOOD, None)
    assert removal.trigger == "guard"
    assert "guard period (2d)" in removal.reason
    assert "ended without a rollback" in removal.reason
    n = len(setup.project.history(MODEL))
    assert run_guard(setup.project, MODEL, config=config, now=setup.clock.now()) is None
    assert len(setup.project.history(MODEL)) == n


def test_nothing_to_guard(setup: Setup) -> None:
    config = retrain_config()
    # Production was deployed by hand: no guarded promotion.
    assert run_guard(setup.project, MODEL, config=config, now=setup.clock.now()) is None
    off = RetrainConfig(guard=GuardConfig(enabled=False))
    deploy_challenger(setup.project, MODEL, OTHER, config=config, reason="test")
    assert run_guard(setup.project, MODEL, config=off, now=setup.clock.now()) is None
    # A later move by hand ends the guard.
    setup.project.deploy(MODEL, GOOD, reason="by hand")
    assert run_guard(setup.project, MODEL, config=config, now=setup.clock.now()) is None
    assert setup.events("guard_check") == []
