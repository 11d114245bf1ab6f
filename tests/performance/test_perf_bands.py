"""Standard errors: DeLong on a hand-worked example, analytic formulas and the vectorized
bootstrap against a brute-force bootstrap loop over scikit-learn metrics."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from sklearn import metrics as skm

from watchkeeper.performance import PerformanceOptions, PerformanceReference
from watchkeeper.performance._bands import delong_se
from watchkeeper.performance._metrics import rank_groups


def test_delong_hand_worked_example() -> None:
    # Positives 0.9, 0.8, 0.4; negatives 0.7, 0.4, 0.2.
    # V10 (share of negatives below each positive, ties half) = 1, 1, 1/2 -> AUC = 5/6;
    # V01 (share of positives above each negative) = 2/3, 5/6, 1.
    # S10 = var(1, 1, 1/2) = 1/12, S01 = var(2/3, 5/6, 1) = 1/36 (ddof 1);
    # Var = S10/3 + S01/3 = 1/27.
    s = np.array([0.9, 0.8, 0.4, 0.7, 0.4, 0.2])
    y = np.array([1, 1, 1, 0, 0, 0], dtype=bool)
    ranks = rank_groups(y, s)
    assert delong_se(ranks) == pytest.approx(math.sqrt(1 / 27), rel=1e-14)
    assert skm.roc_auc_score(y, s) == pytest.approx(5 / 6)


def test_delong_matches_the_pairwise_definition() -> None:
    rng = np.random.default_rng(3)
    y = rng.random(300) < 0.4
    s = np.round(rng.normal(y * 0.8, 1.0), 1)  # ties
    pos, neg = s[y], s[~y]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    want = math.sqrt(v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size)
    assert delong_se(rank_groups(y, s)) == pytest.approx(want, rel=1e-12)


def _loop_bootstrap(
    n_rows: int, stat: Callable[[np.ndarray], float], n_boot: int, seed: int
) -> float:
    rng = np.random.default_rng(seed)
    values = [stat(rng.integers(0, n_rows, n_rows)) for _ in range(n_boot)]
    return float(np.std(values, ddof=1))


def _binary(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    eta = rng.normal(0, 1.5, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.int64)
    return y, 1 / (1 + np.exp(-eta - rng.normal(0, 0.6, n)))


def test_analytic_standard_errors_match_a_brute_force_bootstrap() -> None:
    y, s = _binary(1, 6_000)
    p = (s >= 0.5).astype(np.int64)
    ref = PerformanceReference.fit("binary", ("n", "y"), y, None, s)
    assert ref.methods == {
        "accuracy": "binomial",
        "precision": "binomial",
        "recall": "binomial",
        "f1": "bootstrap",
        "roc_auc": "delong",
        "average_precision": "bootstrap",
        "log_loss": "analytic",
        "brier": "analytic",
    }
    stats: dict[str, Callable[[np.ndarray], float]] = {
        "accuracy": lambda i: skm.accuracy_score(y[i], p[i]),
        "precision": lambda i: skm.precision_score(y[i], p[i]),
        "recall": lambda i: skm.recall_score(y[i], p[i]),
        "roc_auc": lambda i: skm.roc_auc_score(y[i], s[i]),
        "log_loss": lambda i: skm.log_loss(y[i], s[i], labels=[0, 1]),
        "brier": lambda i: skm.brier_score_loss(y[i], s[i], pos_label=1),
    }
    for name, stat in stats.items():
        brute = _loop_bootstrap(y.size, stat, 300, seed=7)
        assert ref.se[name] == pytest.approx(brute, rel=0.15), name


def test_regression_analytic_standard_errors_match_a_brute_force_bootstrap() -> None:
    rng = np.random.default_rng(2)
    t = rng.normal(5, 2, 8_000)
    p = t + rng.standard_t(5, 8_000)
    ref = PerformanceReference.fit("regression", (), t, p)
    assert ref.methods["rmse"] == "analytic"
    assert ref.methods["r2"] == "bootstrap"
    stats: dict[str, Callable[[np.ndarray], float]] = {
        "mae": lambda i: skm.mean_absolute_error(t[i], p[i]),
        "mse": lambda i: skm.mean_squared_error(t[i], p[i]),
        "rmse": lambda i: skm.root_mean_squared_error(t[i], p[i]),
        "mape": lambda i: skm.mean_absolute_percentage_error(t[i], p[i]),
        "r2": lambda i: skm.r2_score(t[i], p[i]),
    }
    for name, stat in stats.items():
        brute = _loop_bootstrap(t.size, stat, 300, seed=8)
        assert ref.se[name] == pytest.approx(brute, rel=0.2), name


def test_vectorized_bootstrap_matches_a_loop_on_small_windows() -> None:
    y, s = _binary(4, 400)
    p = (s >= 0.5).astype(np.int64)
    ref = PerformanceReference.fit("binary", ("n", "y"), y, None, s)
    assert set(ref.methods.values()) == {"bootstrap"}
    stats: dict[str, Callable[[np.ndarray], float]] = {
        "accuracy": lambda i: skm.accuracy_score(y[i], p[i]),
        "f1": lambda i: skm.f1_score(y[i], p[i]),
        "roc_auc": lambda i: skm.roc_auc_score(y[i], s[i]),
        "average_precision": lambda i: skm.average_precision_score(y[i], s[i]),
        "log_loss": lambda i: skm.log_loss(y[i], s[i], labels=[0, 1]),
    }
    for name, stat in stats.items():
        brute = _loop_bootstrap(y.size, stat, 400, seed=9)
        assert ref.se[name] == pytest.approx(brute, rel=0.15), name


def test_multiclass_bootstrap_matches_a_loop() -> None:
    rng = np.random.default_rng(5)
    logits = rng.normal(0, 1.2, (600, 4))
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (prob.cumsum(axis=1) > rng.random((600, 1))).argmax(axis=1).astype(np.int64)
    pred = prob.argmax(axis=1)
    ref = PerformanceReference.fit("multiclass", tuple("abcd"), y, None, prob)
    labels = [0, 1, 2, 3]
    stats: dict[str, Callable[[np.ndarray], float]] = {
        "f1_macro": lambda i: skm.f1_score(y[i], pred[i], average="macro", zero_division=0),
        "precision_macro": lambda i: skm.precision_score(
            y[i], pred[i], average="macro", zero_division=0
        ),
        "roc_auc": lambda i: skm.roc_auc_score(y[i], prob[i], multi_class="ovr", labels=labels),
        "brier": lambda i: skm.brier_score_loss(y[i], prob[i], labels=labels),
    }
    for name, stat in stats.items():
        brute = _loop_bootstrap(y.size, stat, 300, seed=10)
        assert ref.se[name] == pytest.approx(brute, rel=0.2), name


def test_subsample_bootstrap_scales_to_the_full_window() -> None:
    y, s = _binary(6, 20_000)
    options = PerformanceOptions(bootstrap_below=4_000, n_bootstrap=300)
    ref = PerformanceReference.fit("binary", ("n", "y"), y, None, s, options=options)
    assert ref.methods["average_precision"] == "bootstrap"
    brute = _loop_bootstrap(y.size, lambda i: skm.average_precision_score(y[i], s[i]), 150, seed=11)
    assert ref.se["average_precision"] == pytest.approx(brute, rel=0.25)


def test_bootstrap_is_seeded() -> None:
    y, s = _binary(8, 300)
    a = PerformanceReference.fit("binary", ("n", "y"), y, None, s)
    b = PerformanceReference.fit("binary", ("n", "y"), y, None, s)
    c = PerformanceReference.fit(
        "binary", ("n", "y"), y, None, s, options=PerformanceOptions(seed=1)
    )
    assert a.se == b.se
    assert a.se != c.se
