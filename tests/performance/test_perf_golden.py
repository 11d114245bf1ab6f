"""Every metric against scikit-learn 1.9, on seeded inputs of many shapes, and the documented
outcome of every undefined case (where scikit-learn warns, returns NaN or raises)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

from watchkeeper.performance import METRICS, compute_metrics

RTOL = 1e-12


def _binary(seed: int, n: int, *, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    eta = rng.normal(0.3, 1.5, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.int64)
    s = 1 / (1 + np.exp(-eta - rng.normal(0, 0.7, n)))
    return y, np.round(s, 1) if ties else s


def _sk_binary(y: np.ndarray, p: np.ndarray, s: np.ndarray | None) -> dict[str, float]:
    out = {
        "accuracy": skm.accuracy_score(y, p),
        "precision": skm.precision_score(y, p),
        "recall": skm.recall_score(y, p),
        "f1": skm.f1_score(y, p),
    }
    if s is not None:
        out |= {
            "roc_auc": skm.roc_auc_score(y, s),
            "average_precision": skm.average_precision_score(y, s),
            "log_loss": skm.log_loss(y, s, labels=[0, 1]),
            "brier": skm.brier_score_loss(y, s, pos_label=1),
        }
    return out


def _assert_close(ours: dict[str, float], theirs: dict[str, float]) -> None:
    assert set(ours) == set(theirs)
    for name, value in theirs.items():
        np.testing.assert_allclose(ours[name], value, rtol=RTOL, atol=1e-15, err_msg=name)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("n", [40, 1_000])
@pytest.mark.parametrize("ties", [False, True])
def test_binary_metrics_match_sklearn(seed: int, n: int, ties: bool) -> None:
    y, s = _binary(seed, n, ties=ties)
    m = compute_metrics("binary", y, None, s, threshold=0.5)
    _assert_close(dict(m.values), _sk_binary(y, (s >= 0.5).astype(np.int64), s))
    assert m.undefined == {}
    np.testing.assert_array_equal(m.confusion, skm.confusion_matrix(y, s >= 0.5))


@pytest.mark.parametrize("seed", range(6))
def test_binary_missing_labels_predictions_and_scores_are_excluded(seed: int) -> None:
    y, s = _binary(seed, 800)
    rng = np.random.default_rng(100 + seed)
    p = (rng.random(800) < 0.5).astype(np.int64)
    y_obs, p_obs, s_obs = y.copy(), p.copy(), s.copy()
    y_obs[rng.random(800) < 0.2] = -1
    p_obs[rng.random(800) < 0.1] = -1
    s_obs[rng.random(800) < 0.1] = np.nan
    m = compute_metrics("binary", y_obs, p_obs, s_obs)
    lab = (y_obs >= 0) & (p_obs >= 0)
    sco = (y_obs >= 0) & np.isfinite(s_obs)
    want = _sk_binary(y[lab], p[lab], None)
    want |= {k: v for k, v in _sk_binary(y[sco], y[sco], s[sco]).items() if k not in want}
    _assert_close(dict(m.values), want)
    assert m.n_labelled == int((y_obs >= 0).sum())
    assert m.n_used["accuracy"] == int(lab.sum())
    # Ranking metrics count the rarer class among the scored rows.
    positives = int((y[sco] == 1).sum())
    assert m.n_used["roc_auc"] == min(positives, int(sco.sum()) - positives)
    assert m.n_used["log_loss"] == int(sco.sum())


def test_binary_predictions_derived_at_the_threshold_and_nan_scores_have_none() -> None:
    y, s = _binary(3, 500)
    s[:25] = np.nan
    m = compute_metrics("binary", y, None, s, threshold=0.3)
    ok = np.isfinite(s)
    assert m.n_used["accuracy"] == int(ok.sum())
    want = skm.accuracy_score(y[ok], (s[ok] >= 0.3).astype(np.int64))
    assert m.values["accuracy"] == pytest.approx(want, rel=RTOL)


def test_binary_one_class_window() -> None:
    y = np.zeros(60, dtype=np.int64)
    s = np.linspace(0.05, 0.95, 60)
    m = compute_metrics("binary", y, None, s)
    # scikit-learn: NaN AUC and 0.0 AP, each with a warning; here both are undefined.
    with pytest.warns(UndefinedMetricWarning, match="Only one class"):
        assert np.isnan(skm.roc_auc_score(y, s))
    with pytest.warns(UserWarning, match="No positive class"):
        assert skm.average_precision_score(y, s) == 0.0
    assert m.undefined["roc_auc"] == m.undefined["average_precision"]
    assert "single class" in m.undefined["roc_auc"]
    # Label metrics: no actual positives, so recall (scikit-learn: 0.0 + warning) is undefined.
    with pytest.warns(UndefinedMetricWarning, match="Recall is ill-defined"):
        assert skm.recall_score(y, s >= 0.5) == 0.0
    assert m.undefined["recall"] == "no actual positives"
    assert m.values["accuracy"] == skm.accuracy_score(y, s >= 0.5)
    # log loss and Brier stay defined (scikit-learn computes them with labels=[0, 1]).
    assert m.values["log_loss"] == pytest.approx(skm.log_loss(y, s, labels=[0, 1]), rel=RTOL)
    assert m.values["brier"] == pytest.approx(skm.brier_score_loss(y, s, pos_label=1), rel=RTOL)
    # All positives: scikit-learn's AP is 1.0 silently; the convention here is still undefined.
    m1 = compute_metrics("binary", 1 - y, None, s)
    assert "roc_auc" not in m1.values
    assert "average_precision" not in m1.values


def test_binary_constant_predictions() -> None:
    y, s = _binary(5, 300)
    zeros = np.zeros(300, dtype=np.int64)
    m = compute_metrics("binary", y, zeros, s)
    with pytest.warns(UndefinedMetricWarning, match="Precision is ill-defined"):
        assert skm.precision_score(y, zeros) == 0.0
    assert m.undefined["precision"] == "no predicted positives"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert m.values["recall"] == skm.recall_score(y, zeros) == 0.0
        assert m.values["f1"] == skm.f1_score(y, zeros) == 0.0
    ones = np.ones(300, dtype=np.int64)
    m1 = compute_metrics("binary", y, ones, s)
    assert m1.values["precision"] == pytest.approx(y.mean(), rel=RTOL)
    assert m1.values["recall"] == 1.0
    # Constant scores: AUC 0.5 and AP the prevalence, as scikit-learn.
    flat = np.full(300, 0.4)
    m2 = compute_metrics("binary", y, None, flat)
    assert m2.values["roc_auc"] == skm.roc_auc_score(y, flat) == 0.5
    assert m2.values["average_precision"] == pytest.approx(
        skm.average_precision_score(y, flat), rel=RTOL
    )
    assert m2.undefined["precision"] == "no predicted positives"


def test_binary_no_positives_anywhere_leaves_f1_undefined() -> None:
    y = np.zeros(50, dtype=np.int64)
    m = compute_metrics("binary", y, y.copy())
    with pytest.warns(UndefinedMetricWarning, match="F-score is ill-defined"):
        assert skm.f1_score(y, y) == 0.0
    assert m.undefined["f1"] == "no predicted or actual positives"
    assert m.values["accuracy"] == 1.0


def test_scores_outside_unit_interval_leave_probability_metrics_undefined() -> None:
    y, s = _binary(7, 200)
    margin = np.log(s / (1 - s))  # a decision function, not a probability
    m = compute_metrics("binary", y, None, margin, threshold=0.0)
    with pytest.raises(ValueError, match="greater than 1"):
        skm.log_loss(y, margin)
    assert (
        m.undefined["log_loss"]
        == m.undefined["brier"]
        == ("the scores are not probabilities in [0, 1]")
    )
    assert m.values["roc_auc"] == pytest.approx(skm.roc_auc_score(y, margin), rel=RTOL)


def _multiclass(seed: int, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.2, (n, k))
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (prob.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1).astype(np.int64)
    noisy = np.exp(logits + rng.normal(0, 0.5, (n, k)))
    return y, noisy / noisy.sum(axis=1, keepdims=True)


def _sk_labels(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {
        "accuracy": skm.accuracy_score(y, p),
        "precision_macro": skm.precision_score(y, p, average="macro", zero_division=0),
        "recall_macro": skm.recall_score(y, p, average="macro", zero_division=0),
        "f1_macro": skm.f1_score(y, p, average="macro", zero_division=0),
        "f1_weighted": skm.f1_score(y, p, average="weighted", zero_division=0),
    }


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [3, 4, 5])
@pytest.mark.parametrize("n", [60, 2_000])
def test_multiclass_metrics_match_sklearn(seed: int, k: int, n: int) -> None:
    y, prob = _multiclass(seed, n, k)
    labels = list(range(k))
    if len(np.unique(y)) < k:
        pytest.skip("a tiny sample missed a class (covered by the missing-class test)")
    m = compute_metrics("multiclass", y, None, prob)
    want = _sk_labels(y, prob.argmax(axis=1))
    want |= {
        "roc_auc": skm.roc_auc_score(y, prob, multi_class="ovr", average="macro", labels=labels),
        "average_precision": skm.average_precision_score(y, prob, average="macro"),
        "log_loss": skm.log_loss(y, prob, labels=labels),
        "brier": skm.brier_score_loss(y, prob, labels=labels),
    }
    _assert_close(dict(m.values), want)


@pytest.mark.parametrize("seed", range(5))
def test_multiclass_window_missing_classes(seed: int) -> None:
    y, prob = _multiclass(seed, 400, 5)
    keep = y != 2  # class 2 never true in the window
    y, prob = y[keep], prob[keep]
    pred = prob.argmax(axis=1)
    pred[pred == 4] = 0  # and class 4 never predicted
    m = compute_metrics("multiclass", y, pred, prob, classes=tuple("abcde"))
    labels = list(range(5))
    want = _sk_labels(y, pred)
    present = np.unique(y)
    want["roc_auc"] = float(np.mean([skm.roc_auc_score(y == c, prob[:, c]) for c in present]))
    want["average_precision"] = float(
        np.mean([skm.average_precision_score(y == c, prob[:, c]) for c in present])
    )
    want["log_loss"] = skm.log_loss(y, prob, labels=labels)
    want["brier"] = skm.brier_score_loss(y, prob, labels=labels)
    _assert_close(dict(m.values), want)
    # scikit-learn's own OvR AUC is NaN here (an absent class has no AUC): documented deviation.
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(skm.roc_auc_score(y, prob, multi_class="ovr", labels=labels))


def test_multiclass_labels_new_to_the_reference() -> None:
    y, prob = _multiclass(11, 500, 3)
    y[:40] = 3  # a label the reference (and the score columns) never had
    pred = prob.argmax(axis=1)
    m = compute_metrics("multiclass", y, pred, prob, classes=("a", "b", "c", "new"))
    want = _sk_labels(y, pred)
    known = y < 3
    want |= {
        "roc_auc": skm.roc_auc_score(y[known], prob[known], multi_class="ovr", labels=[0, 1, 2]),
        "average_precision": skm.average_precision_score(y[known], prob[known]),
        "log_loss": skm.log_loss(y[known], prob[known], labels=[0, 1, 2]),
        "brier": skm.brier_score_loss(y[known], prob[known], labels=[0, 1, 2]),
    }
    _assert_close(dict(m.values), want)
    assert m.confusion is not None
    assert m.confusion.shape == (4, 4)
    # Ranking metrics count the rarest class among the scored rows (those of known classes).
    rarest = int(np.bincount(y[known], minlength=3).min())
    assert m.n_used["roc_auc"] == min(rarest, int(known.sum()) - rarest)
    assert m.n_used["log_loss"] == int(known.sum())


def test_multiclass_single_class_in_scored_rows() -> None:
    y, prob = _multiclass(2, 100, 3)
    y[:] = 1
    m = compute_metrics("multiclass", y, None, prob)
    assert "single class" in m.undefined["roc_auc"]
    assert "single class" in m.undefined["average_precision"]
    assert m.values["log_loss"] == pytest.approx(skm.log_loss(y, prob, labels=[0, 1, 2]), rel=RTOL)


def _regression(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = rng.normal(3, 2, n)
    t[rng.random(n) < 0.05] = 0.0  # zero targets: MAPE divides by eps
    return t, t + rng.normal(0, 0.8, n)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("n", [5, 50, 5_000])
def test_regression_metrics_match_sklearn(seed: int, n: int) -> None:
    t, p = _regression(seed, n)
    m = compute_metrics("regression", t, p)
    want = {
        "mae": skm.mean_absolute_error(t, p),
        "mse": skm.mean_squared_error(t, p),
        "rmse": skm.root_mean_squared_error(t, p),
        "mape": skm.mean_absolute_percentage_error(t, p),
        "r2": skm.r2_score(t, p),
    }
    _assert_close(dict(m.values), want)


def test_regression_nan_rows_are_excluded() -> None:
    t, p = _regression(4, 300)
    t_obs, p_obs = t.copy(), p.copy()
    t_obs[:30] = np.nan
    p_obs[280:] = np.nan
    m = compute_metrics("regression", t_obs, p_obs)
    assert m.n_labelled == 270
    assert m.n_used["mae"] == 250
    assert m.values["mae"] == pytest.approx(skm.mean_absolute_error(t[30:280], p[30:280]), rel=RTOL)


def test_regression_r2_undefined_cases() -> None:
    t = np.full(20, 2.0)
    p = t + np.linspace(-1, 1, 20)
    m = compute_metrics("regression", t, p)
    assert m.undefined["r2"] == "y_true is constant"
    assert skm.r2_score(t, p) == 0.0  # scikit-learn's force_finite replacement
    with pytest.warns(RuntimeWarning):
        assert skm.r2_score(t, p, force_finite=False) == -np.inf
    one = compute_metrics("regression", np.array([1.0]), np.array([2.0]))
    assert one.undefined["r2"] == "fewer than two rows"
    with pytest.warns(UndefinedMetricWarning, match="less than two samples"):
        assert np.isnan(skm.r2_score([1.0], [2.0]))
    assert one.values["mae"] == 1.0


def test_every_task_reports_its_metric_names_in_order() -> None:
    y, s = _binary(0, 100)
    assert tuple(compute_metrics("binary", y, None, s).values) == METRICS["binary"]
    y3, prob = _multiclass(0, 300, 3)
    assert tuple(compute_metrics("multiclass", y3, None, prob).values) == METRICS["multiclass"]
    t, p = _regression(0, 100)
    assert tuple(compute_metrics("regression", t, p).values) == METRICS["regression"]


def test_no_usable_rows_leave_every_metric_undefined_without_warnings() -> None:
    y = np.full(10, -1, dtype=np.int64)
    m = compute_metrics("binary", y, None, np.full(10, 0.5))
    assert m.values == {}
    assert set(m.undefined) == set(METRICS["binary"])
    r = compute_metrics("regression", np.full(5, np.nan), np.ones(5))
    assert r.values == {}
