"""Permutation importance at registration: stored in the version's metrics, equal to
scikit-learn's ``permutation_importance`` with the same settings, ~0 for an input the model
ignores, absent without validation data, and an error note (not a failed registration) when
the model breaks on shuffled inputs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LinearRegression, LogisticRegression, RidgeClassifier

from watchkeeper.datasets import CHURN_FEATURES
from watchkeeper.registry import Project, _register

SETTINGS: dict[str, Any] = {"n_repeats": 5, "random_state": 0, "n_jobs": 1}


@pytest.fixture
def sqlite_project(tmp_path: Path) -> Iterator[Project]:
    """A project on SQLite only: importance does not depend on the database."""
    with Project.init(tmp_path / "project", database_url=f"sqlite:///{tmp_path / 'r.db'}") as p:
        yield p


def _reference(model: Any, X: pd.DataFrame, y: Any, scoring: str) -> dict[str, float]:
    result = permutation_importance(model, X, y, scoring=scoring, **SETTINGS)
    return dict(zip(map(str, X.columns), result.importances_mean.tolist(), strict=True))


def test_churn_importance_equals_sklearns(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    model, val = churn_models[0], churn_data["validation"]
    version = project.register(
        "churn", model, reference=churn_data["reference"], validation=val, target="churned"
    )
    stored = version.metrics["importance"]
    assert stored["method"] == "permutation"
    assert stored["scoring"] == "roc_auc"
    assert stored["n_rows"] == len(val)
    expected = _reference(model, val[list(CHURN_FEATURES)], val["churned"], "roc_auc")
    assert list(stored["features"]) == list(CHURN_FEATURES)
    assert stored["features"] == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert max(stored["features"].values()) > 0.01  # churn depends on its inputs
    # The other metrics are untouched, and the record reads back the same.
    assert version.metrics["source"] == "validation"
    assert project.get("churn", version.version).metrics == version.metrics


def _numeric_data(seed: int, n: int, task: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"signal": rng.normal(size=n), "other": rng.normal(size=n), "noise": rng.normal(size=n)}
    )
    latent = 2.0 * frame["signal"] + 1.0 * frame["other"]
    if task == "regression":
        frame["y"] = latent + rng.normal(scale=0.3, size=n)
    elif task == "binary":
        frame["y"] = (latent + rng.logistic(size=n) > 0).astype(np.int64)
    else:  # three classes cut from the latent score
        frame["y"] = np.digitize(latent + rng.logistic(size=n), [-1.0, 1.0]).astype(np.int64)
    return frame


@pytest.mark.parametrize(
    ("task", "estimator", "scoring"),
    [
        ("binary", LogisticRegression(), "roc_auc"),
        # Without predict_proba (registering multiclass scores fails elsewhere for now).
        ("multiclass", RidgeClassifier(), "accuracy"),
        ("regression", LinearRegression(), "neg_mean_absolute_error"),
    ],
)
def test_an_ignored_input_scores_about_zero(
    sqlite_project: Project, task: str, estimator: Any, scoring: str
) -> None:
    features = ["signal", "other", "noise"]
    ref, val = _numeric_data(1, 2_000, task), _numeric_data(2, 1_500, task)
    model = estimator.fit(ref[features], ref["y"])
    version = sqlite_project.register("m", model, reference=ref, validation=val, target="y")
    stored = version.metrics["importance"]
    assert stored["scoring"] == scoring
    assert stored["features"] == pytest.approx(
        _reference(model, val[features], val["y"], scoring), rel=1e-12, abs=1e-15
    )
    imp = stored["features"]
    assert imp["signal"] > imp["other"] > 0.02
    assert abs(imp["noise"]) < 0.005  # fitted coefficient ~0: shuffling it changes nothing


def test_without_validation_data_there_is_no_importance(
    sqlite_project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    version = sqlite_project.register(
        "churn", churn_models[0], reference=churn_data["reference"], target="churned"
    )
    assert version.metrics["source"] == "reference"
    assert "importance" not in version.metrics


def test_rows_are_capped_with_a_seeded_sample(
    sqlite_project: Project,
    churn_data: dict[str, pd.DataFrame],
    churn_models: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_register, "_IMPORTANCE_MAX_ROWS", 300)
    model = churn_models[1]
    val = churn_data["validation"].copy()
    val.loc[val.index[:50], "churned"] = np.nan  # unlabelled rows are left out first
    version = sqlite_project.register(
        "churn", model, reference=churn_data["reference"], validation=val, target="churned"
    )
    stored = version.metrics["importance"]
    assert stored["n_rows"] == 300
    labelled = val.loc[val["churned"].notna()]
    sample = labelled.sample(n=300, random_state=0)
    expected = _reference(
        model, sample[list(CHURN_FEATURES)], sample["churned"].to_numpy(), "roc_auc"
    )
    assert stored["features"] == pytest.approx(expected, rel=1e-12, abs=1e-15)


class _ShortTenure:
    """Not a scikit-learn estimator: churn scored from tenure alone (age is ignored)."""

    feature_names_in_ = np.array(["tenure_months", "age"], dtype=object)
    classes_ = np.array([0, 1])

    def predict_proba(self, X: Any) -> Any:
        p = 1.0 / (1.0 + np.exp(np.asarray(X["tenure_months"], dtype=np.float64) / 12.0 - 1.0))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> Any:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)


class _ShortTenureEstimator(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """The same model as a scikit-learn estimator (scored by sklearn's own scorer)."""

    def fit(self, X: Any, y: Any) -> _ShortTenureEstimator:
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = np.array(["tenure_months", "age"], dtype=object)
        self.n_features_in_ = 2
        return self

    def predict_proba(self, X: Any) -> Any:
        return _ShortTenure().predict_proba(X)

    def predict(self, X: Any) -> Any:
        return _ShortTenure().predict(X)


def test_a_model_without_the_estimator_api_is_scored_the_same_way(
    sqlite_project: Project, churn_data: dict[str, pd.DataFrame]
) -> None:
    ref, val = churn_data["reference"], churn_data["validation"]
    plain = sqlite_project.register(
        "plain", _ShortTenure(), reference=ref, validation=val, target="churned", trust=True
    )
    twin = _ShortTenureEstimator().fit(ref[["tenure_months", "age"]], ref["churned"])
    sk = sqlite_project.register(
        "twin", twin, reference=ref, validation=val, target="churned", trust=True
    )
    expected = _reference(twin, val[["tenure_months", "age"]], val["churned"], "roc_auc")
    assert sk.metrics["importance"]["features"] == pytest.approx(expected, rel=1e-12)
    stored = plain.metrics["importance"]
    assert stored["scoring"] == "roc_auc"
    assert stored["features"] == pytest.approx(expected, rel=1e-12)
    assert stored["features"]["age"] == 0.0
    assert stored["features"]["tenure_months"] > 0.05


class _BreaksLater:
    """Scores the registration's data, then fails: the importance records why."""

    feature_names_in_ = np.array(["tenure_months", "age"], dtype=object)

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, X: Any) -> Any:
        self.calls += 1
        if self.calls > 2:  # reference, validation, then the permutations
            raise RuntimeError("model server went away")
        return np.asarray(X["tenure_months"] < 12, dtype=np.int64)


def test_a_model_that_fails_is_registered_with_the_reason(
    sqlite_project: Project, churn_data: dict[str, pd.DataFrame]
) -> None:
    version = sqlite_project.register(
        "flaky",
        _BreaksLater(),
        reference=churn_data["reference"],
        validation=churn_data["validation"],
        target="churned",
        trust=True,
    )
    assert version.metrics["importance"] == {"error": "RuntimeError: model server went away"}
    assert version.metrics["source"] == "validation"
    assert "accuracy" in version.metrics["values"]
