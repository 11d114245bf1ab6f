"""Statistical behaviour: false alarms on null windows stay at the level, a real drop alerts,
miscalibrated scores alert on calibration and clean ones do not. Seeded, so deterministic."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy import stats

from watchkeeper.performance import (
    METRICS,
    PerformanceOptions,
    PerformanceReference,
    performance_checks,
)

ALPHA = 0.01
N_WINDOWS = 1_000
# At or below the level, allowing the binomial 99.9 % quantile: 20 of 1,000 (2 %) at 1 %.
MAX_ALERTS = int(stats.binom.ppf(0.999, N_WINDOWS, ALPHA))


def _logistic(rng: np.random.Generator, n: int, shift: float = 0.0) -> tuple[np.ndarray, ...]:
    """y ~ Bernoulli(sigmoid(eta)), score = sigmoid(eta + noise + shift)."""
    eta = rng.normal(0.2, 1.6, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.int64)
    score = 1 / (1 + np.exp(-(eta + rng.normal(0, 0.6, n) + shift)))
    return y, score


@pytest.mark.slow
def test_binary_false_alarms_stay_at_the_level() -> None:
    rng = np.random.default_rng(2024)
    y_ref, s_ref = _logistic(rng, 20_000)
    ref = PerformanceReference.fit("binary", ("no", "yes"), y_ref, None, s_ref)
    options = PerformanceOptions(alpha=ALPHA)
    alerts: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for _ in range(N_WINDOWS):
        y, s = _logistic(rng, 200)
        for r in performance_checks(ref, y, None, s, options=options):
            statuses[r.status] += 1
            if r.status == "alert":
                alerts[r.check] += 1
    assert statuses["skipped"] == 0
    for name in (*METRICS["binary"], "calibration"):
        assert alerts[f"performance.{name}"] <= MAX_ALERTS, (name, alerts)


@pytest.mark.slow
def test_multiclass_and_regression_false_alarms_stay_at_the_level() -> None:
    rng = np.random.default_rng(7)

    def multiclass(n: int) -> tuple[np.ndarray, np.ndarray]:
        logits = rng.normal(0, 1.3, (n, 4))
        prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        y = (prob.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1).astype(np.int64)
        noisy = np.exp(logits + rng.normal(0, 0.4, (n, 4)))
        return y, noisy / noisy.sum(axis=1, keepdims=True)

    def regression(n: int) -> tuple[np.ndarray, np.ndarray]:
        t = rng.normal(10, 3, n)
        return t, t + rng.normal(0, 1.5, n)

    y_mc, prob_mc = multiclass(20_000)
    mc_ref = PerformanceReference.fit("multiclass", tuple("abcd"), y_mc, None, prob_mc)
    y_ref, p_ref = regression(20_000)
    reg_ref = PerformanceReference.fit("regression", (), y_ref, p_ref)
    alerts: Counter[str] = Counter()
    for _ in range(N_WINDOWS):
        y, prob = multiclass(200)
        t, p = regression(200)
        for r in [*performance_checks(mc_ref, y, None, prob), *performance_checks(reg_ref, t, p)]:
            assert r.status != "skipped", r.reason
            alerts[f"{r.check}"] += r.status == "alert"
    assert max(alerts.values()) <= MAX_ALERTS, alerts


def test_a_five_point_accuracy_drop_alerts() -> None:
    rng = np.random.default_rng(11)
    y_ref, s_ref = _logistic(rng, 20_000)
    ref = PerformanceReference.fit("binary", ("no", "yes"), y_ref, None, s_ref)
    y, s = _logistic(rng, 5_000)
    clean = {r.check: r for r in performance_checks(ref, y, None, s)}
    assert clean["performance.accuracy"].status == "ok", clean["performance.accuracy"].reason
    # Flip just enough correctly classified labels to lose five points of accuracy.
    pred = (s >= 0.5).astype(np.int64)
    correct = np.flatnonzero(pred == y)
    target = ref.metrics["accuracy"] - 0.05
    n_flip = round((float(np.mean(pred == y)) - target) * y.size)
    flip = rng.choice(correct, n_flip, replace=False)
    y_bad = y.copy()
    y_bad[flip] = 1 - y_bad[flip]
    checks = {r.check: r for r in performance_checks(ref, y_bad, None, s)}
    acc = checks["performance.accuracy"]
    assert acc.value == pytest.approx(target, abs=1e-3)
    assert acc.status == "alert", acc.reason
    assert acc.p_value is not None
    assert acc.p_value < 1e-6
    assert acc.details["band_method"] == "binomial_at_baseline"
    assert acc.threshold == pytest.approx(ref.metrics["accuracy"] - 0.01)


@pytest.mark.parametrize("seed", range(3))
def test_miscalibrated_scores_alert_and_clean_ones_do_not(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    y_ref, s_ref = _logistic(rng, 20_000)
    ref = PerformanceReference.fit("binary", ("no", "yes"), y_ref, None, s_ref)
    y, s = _logistic(rng, 20_000)
    clean = performance_checks(ref, y, None, s)[-1]
    assert clean.check == "performance.calibration"
    assert clean.status != "alert", clean.reason
    y2, s2 = _logistic(rng, 20_000, shift=0.8)  # the same labels, scores pushed up
    shifted = performance_checks(ref, y2, None, s2)[-1]
    assert shifted.status == "alert", shifted.reason
    assert shifted.value is not None
    assert shifted.value >= 0.05
    assert len(shifted.details["window_rates"]) == len(ref.calibration.counts)  # type: ignore[union-attr]


def test_improvements_never_alert() -> None:
    rng = np.random.default_rng(5)
    y_ref, s_ref = _logistic(rng, 5_000)
    ref = PerformanceReference.fit("binary", ("no", "yes"), y_ref, None, s_ref)
    y, _ = _logistic(rng, 2_000)
    perfect = np.where(y == 1, 0.99, 0.01)
    results = performance_checks(
        ref,
        y,
        None,
        perfect,
        options=PerformanceOptions(metrics=("accuracy", "f1", "roc_auc", "log_loss", "brier")),
    )
    for r in results:
        assert r.status == "ok", r.reason
        assert "improved" in r.reason
