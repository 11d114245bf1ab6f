"""Performance checks through ``Baseline``: labels read from frames, baselines from validation
data, every task, windows without labels, and save/load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from watchkeeper import Baseline
from watchkeeper.datasets import churn
from watchkeeper.errors import InvalidParameterError, SchemaError

ROLES = {"target": "churned", "prediction": "churn_pred", "prediction_proba": "churn_score"}


def _perf(report) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {c.check: c for c in report.checks if c.family == "performance" and c.segment is None}


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return Baseline.fit(churn(20_000, seed=1), **ROLES, reference_chunks=0)


def test_reference_metrics_are_sklearns(baseline: Baseline) -> None:
    ref = churn(20_000, seed=1)
    y, pred, score = ref["churned"], ref["churn_pred"], ref["churn_score"]
    assert baseline.labels is not None
    assert baseline.labels.task == "binary"
    assert baseline.labels.classes == ("0", "1")
    m = baseline.performance.metrics  # type: ignore[union-attr]
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), rel=1e-12)
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred), rel=1e-12)
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, score), rel=1e-12)
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, score), rel=1e-12)


def test_window_metrics_and_a_clean_window(baseline: Baseline) -> None:
    window = churn(10_000, seed=2)
    checks = _perf(baseline.compare(window, checks=["performance"]))
    assert set(checks) == {
        "performance.accuracy",
        "performance.precision",
        "performance.recall",
        "performance.f1",
        "performance.roc_auc",
        "performance.average_precision",
        "performance.log_loss",
        "performance.brier",
        "performance.calibration",
    }
    auc = checks["performance.roc_auc"]
    assert auc.value == pytest.approx(skm.roc_auc_score(window["churned"], window["churn_score"]))
    assert auc.reference_value == baseline.performance.metrics["roc_auc"]  # type: ignore[union-attr]
    assert all(c.status != "alert" for c in checks.values())


def test_concept_drift_alerts_on_performance(baseline: Baseline) -> None:
    window = churn(10_000, seed=3, scenario="concept_drift")
    report = baseline.compare(window)
    checks = _perf(report)
    assert checks["performance.roc_auc"].status == "alert"
    assert checks["performance.calibration"].status == "alert"
    # The features did not move: no feature drift.
    assert not [
        c
        for c in report.checks
        if c.family == "drift" and c.status == "alert" and c.details.get("role") == "feature"
    ]


def test_window_without_labels_is_skipped_not_zero(baseline: Baseline) -> None:
    window = churn(5_000, seed=4).drop(columns=["churned"])
    checks = _perf(baseline.compare(window, checks=["performance"]))
    assert checks
    assert all(c.status == "skipped" for c in checks.values())
    assert "no labels" in checks["performance.accuracy"].reason.lower()
    # Labels partly arrived: the metrics use the labelled rows.
    partial = churn(5_000, seed=4)
    partial["churned"] = partial["churned"].astype("float64")
    partial.loc[partial.index[:4_000], "churned"] = np.nan
    acc = _perf(baseline.compare(partial, checks=["performance"]))["performance.accuracy"]
    labelled = partial.iloc[4_000:]
    assert acc.value == pytest.approx(
        skm.accuracy_score(labelled["churned"], labelled["churn_pred"])
    )
    assert acc.details["label_coverage"] == pytest.approx(0.2)


def test_validation_frame_and_tuple(baseline: Baseline) -> None:
    ref = churn(5_000, seed=5)
    val = churn(3_000, seed=6)
    from_frame = Baseline.fit(ref, **ROLES, validation=val, reference_chunks=0)
    from_tuple = Baseline.fit(
        ref,
        **ROLES,
        validation=(val["churned"], val["churn_pred"], val["churn_score"]),
        reference_chunks=0,
    )
    expected = skm.roc_auc_score(val["churned"], val["churn_score"])
    for b in (from_frame, from_tuple):
        assert b.performance.metrics["roc_auc"] == pytest.approx(expected, rel=1e-12)  # type: ignore[union-attr]
        assert b.performance.n_labelled == 3_000  # type: ignore[union-attr]
    with pytest.raises(SchemaError, match="no target column 'churned'"):
        Baseline.fit(ref, **ROLES, validation=val.drop(columns=["churned"]))
    with pytest.raises(InvalidParameterError, match="no target column"):
        Baseline.fit(ref.drop(columns=["churned"]), validation=val)


def test_multiclass_with_proba_columns() -> None:
    classes = np.array(["basic", "plus", "pro"])

    def frame(n: int, seed: int) -> pd.DataFrame:
        r = np.random.default_rng(seed)
        x = r.normal(size=(n, 3))
        logits = x * [2.0, 1.0, -1.5]
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        y = np.array([r.choice(3, p=row) for row in p])
        df = pd.DataFrame(x, columns=["a", "b", "c"])
        df["plan"] = classes[y]
        df["predicted"] = classes[p.argmax(axis=1)]
        for i, c in enumerate(classes):
            df[f"proba_{c}"] = p[:, i]
        return df

    ref, cur = frame(3_000, 1), frame(2_000, 2)
    b = Baseline.fit(
        ref,
        target="plan",
        prediction="predicted",
        prediction_proba=["proba_basic", "proba_plus", "proba_pro"],
        reference_chunks=0,
    )
    assert b.labels is not None
    assert b.labels.task == "multiclass"
    checks = _perf(b.compare(cur, checks=["performance"]))
    assert checks["performance.f1_macro"].value == pytest.approx(
        skm.f1_score(cur["plan"], cur["predicted"], average="macro")
    )
    proba = cur[["proba_basic", "proba_plus", "proba_pro"]].to_numpy()
    assert checks["performance.roc_auc"].value == pytest.approx(
        skm.roc_auc_score(cur["plan"], proba, multi_class="ovr", labels=list(classes))
    )
    assert checks["performance.log_loss"].value == pytest.approx(
        skm.log_loss(cur["plan"], proba, labels=list(classes))
    )


def test_regression() -> None:
    rng = np.random.default_rng(3)

    def frame(n: int, bias: float) -> pd.DataFrame:
        x = rng.normal(size=n)
        y = 3 * x + rng.normal(size=n) + 10
        return pd.DataFrame({"x": x, "spend": y, "predicted_spend": 3 * x + 10 + bias})

    b = Baseline.fit(
        frame(5_000, 0.0), target="spend", prediction="predicted_spend", reference_chunks=0
    )
    assert b.labels is not None
    assert b.labels.task == "regression"
    cur = frame(3_000, 0.0)
    checks = _perf(b.compare(cur, checks=["performance"]))
    assert checks["performance.mae"].value == pytest.approx(
        skm.mean_absolute_error(cur["spend"], cur["predicted_spend"])
    )
    assert checks["performance.r2"].value == pytest.approx(
        skm.r2_score(cur["spend"], cur["predicted_spend"])
    )
    assert all(c.status == "ok" for c in checks.values())
    biased = _perf(b.compare(frame(3_000, 1.0), checks=["performance"]))
    assert biased["performance.mae"].status == "alert"


def test_floors_and_selected_metrics(baseline: Baseline) -> None:
    window = churn(5_000, seed=8)
    report = baseline.compare(
        window, checks=["performance.accuracy"], performance={"floors": {"accuracy": 0.9}}
    )
    (acc,) = report.checks
    assert acc.check == "performance.accuracy"
    assert acc.status == "alert"  # 0.77 is credibly below the 0.9 floor
    assert acc.threshold == pytest.approx(0.9)


def test_performance_survives_save_and_load(baseline: Baseline, tmp_path) -> None:  # type: ignore[no-untyped-def]
    window = churn(2_000, seed=9, scenario="concept_drift")
    loaded = Baseline.load(baseline.save(tmp_path / "b"))
    assert loaded.labels == baseline.labels
    a = baseline.compare(window, checks=["performance"]).to_dict()["checks"]
    assert loaded.compare(window, checks=["performance"]).to_dict()["checks"] == a


def test_small_windows_rarely_alert_and_a_five_point_drop_does(baseline: Baseline) -> None:
    from collections import Counter

    windows, alpha = 300, 0.01
    pool = churn(windows * 200, seed=20)
    alerts: Counter[str] = Counter()
    for i in range(windows):
        report = baseline.compare(pool.iloc[i * 200 : (i + 1) * 200], checks=["performance"])
        alerts.update(c.check for c in report.checks if c.status == "alert")
    # At or below the level: alpha plus two binomial standard errors (6 of 300 at 1 %).
    allowed = int(windows * alpha + 2 * (windows * alpha * (1 - alpha)) ** 0.5)
    assert max(alerts.values(), default=0) <= allowed, alerts.most_common(3)

    window = churn(5_000, seed=21)
    correct = np.flatnonzero((window["churned"] == window["churn_pred"]).to_numpy())
    flip = np.random.default_rng(0).choice(correct, size=250, replace=False)  # 5 points
    window.loc[window.index[flip], "churned"] = 1 - window.loc[window.index[flip], "churned"]
    acc = _perf(baseline.compare(window, checks=["performance.accuracy"]))["performance.accuracy"]
    assert acc.reference_value - acc.value == pytest.approx(0.05, abs=0.02)
    assert acc.status == "alert"


def test_positive_class_of_string_labels_must_be_named() -> None:
    ref = churn(5_000, seed=30)
    ref["outcome"] = np.where(ref["churned"] == 1, "churn", "stay")
    ref = ref.drop(columns=["churned", "churn_pred"])
    with pytest.raises(InvalidParameterError, match="pos_label"):
        Baseline.fit(ref, target="outcome", prediction_proba="churn_score")
    b = Baseline.fit(
        ref, target="outcome", prediction_proba="churn_score", pos_label="churn", reference_chunks=0
    )
    assert b.labels is not None
    assert b.labels.classes == ("stay", "churn")
    cur = ref.iloc[:2_000]
    auc = _perf(b.compare(cur, checks=["performance.roc_auc"]))["performance.roc_auc"]
    assert auc.value == pytest.approx(
        skm.roc_auc_score(cur["outcome"] == "churn", cur["churn_score"]), rel=1e-12
    )
    with pytest.raises(InvalidParameterError, match="'pos_label' parameter"):
        Baseline.fit(ref, target="outcome", prediction_proba="churn_score", pos_label="gone")


def test_small_denominators_are_skipped_not_judged(baseline: Baseline) -> None:
    window = churn(200, seed=31)
    window.loc[window.index[:190], "churned"] = np.nan  # 10 labels have arrived
    window["churned"] = window["churned"].astype("float64")
    checks = _perf(baseline.compare(window, checks=["performance"]))
    assert all(c.status == "skipped" for c in checks.values())
    labelled = churn(100, seed=32)
    positives = labelled.index[labelled["churned"] == 1]
    labelled = labelled.drop(positives[:15])  # 20 actual positives left, fewer than 30
    checks = _perf(baseline.compare(labelled, checks=["performance"]))
    assert checks["performance.recall"].status == "skipped"
    assert "actual positives" in checks["performance.recall"].reason
    assert checks["performance.accuracy"].status != "skipped"


def test_segment_baselines_keep_the_fit_options_and_validation_keeps_its_band() -> None:
    ref, val = churn(20_000, seed=33), churn(5_000, seed=34)
    b = Baseline.fit(
        ref,
        **ROLES,
        segments=["contract"],
        performance={"threshold": 0.3},
        validation=val,
        reference_chunks=10,
        multivariate=(),
    )
    assert b.performance is not None
    assert b.performance.threshold == 0.3
    assert {c.performance.threshold for c in b.segments["contract"].values()} == {0.3}  # type: ignore[union-attr]
    assert b.chunk_stats is not None
    # With validation data the performance limits are not learned from training chunks.
    assert b.chunk_stats.n_reference_chunks("performance.accuracy", None, None) == 0
    assert b.chunk_stats.n_reference_chunks("quality.missing_rate", "total_charges", None) == 10


def test_validation_with_a_class_the_reference_lacks() -> None:
    ref = churn(3_000, seed=35)
    val = churn(1_000, seed=36)
    val.loc[val.index[:10], "churned"] = 2
    with pytest.raises(SchemaError, match=r"class\(es\) \['2'\] that the reference lacks"):
        Baseline.fit(ref, **ROLES, validation=val)


def test_mape_with_zero_targets_is_skipped() -> None:
    rng = np.random.default_rng(5)
    y = rng.poisson(2.0, 4_000).astype(np.float64)
    frame = pd.DataFrame({"x": rng.normal(size=4_000), "calls": y, "predicted": y + 0.5})
    b = Baseline.fit(
        frame, target="calls", prediction="predicted", task="regression", reference_chunks=0
    )
    checks = _perf(b.compare(frame.iloc[:1_000], checks=["performance"]))
    assert checks["performance.mape"].status == "skipped"
    assert "zero targets" in checks["performance.mape"].reason
    assert checks["performance.mae"].status == "ok"


def test_bool_prediction_of_a_01_target_is_binary() -> None:
    ref = churn(4_000, seed=40)
    ref["churn_pred"] = ref["churn_score"] >= 0.5  # bool, the target is int 0/1
    b = Baseline.fit(ref, **ROLES, reference_chunks=0)
    assert b.labels is not None
    assert (b.labels.task, b.labels.classes) == ("binary", ("0", "1"))
    acc = b.performance.metrics["accuracy"]  # type: ignore[union-attr]
    assert acc == pytest.approx(skm.accuracy_score(ref["churned"], ref["churn_pred"].astype(int)))


def test_one_shot_compare_takes_validation_and_family_options() -> None:
    import watchkeeper

    ref, val = churn(5_000, seed=41), churn(2_000, seed=42)
    cur = churn(2_000, seed=43, scenario="concept_drift")
    report = watchkeeper.compare(
        ref,
        cur,
        **ROLES,
        validation=val,
        performance={"floors": {"accuracy": 0.95}},
        quality={"margins": {"missing_rate": 0.2}},
    )
    acc = _perf(report)["performance.accuracy"]
    assert acc.reference_value == pytest.approx(
        skm.accuracy_score(val["churned"], val["churn_pred"]), rel=1e-12
    )
    assert acc.threshold == pytest.approx(0.95)
    missing = next(c for c in report.checks if c.check == "quality.missing_rate")
    assert missing.details["margin"] == pytest.approx(0.2)
