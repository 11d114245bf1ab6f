"""The champion/challenger gate: weighted metrics against scikit-learn, the bootstrap against a
row-by-row bootstrap with scikit-learn, McNemar against scipy's binomial test, and the
verdicts (better, worse, identical, tolerance, floor, degenerate, failed checks, too few rows)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from scipy.stats import binomtest, norm
from sklearn import metrics as skm

from watchkeeper.config._ops import GateConfig
from watchkeeper.errors import InvalidInputError, InvalidParameterError
from watchkeeper.ops._gate import (
    GATE_METRICS,
    GateCheck,
    GateResult,
    Predictions,
    _kernel,
    choose_metric,
    paired_gate,
)

CLASSIFICATION = ("accuracy", "f1", "precision", "recall")


# --------------------------------------------------------------------- weighted metrics
def _sklearn(metric: str, y: Any, p: Predictions, w: Any, task: str, positive: Any) -> float:
    if metric == "accuracy":
        return float(skm.accuracy_score(y, p.labels, sample_weight=w))
    if metric in ("f1", "precision", "recall"):
        score = {"f1": skm.f1_score, "precision": skm.precision_score, "recall": skm.recall_score}
        kw: dict[str, Any] = (
            {"pos_label": positive, "average": "binary"}
            if task == "binary"
            else {"average": "macro"}
        )
        return float(score[metric](y, p.labels, sample_weight=w, zero_division=0, **kw))
    if metric == "roc_auc":
        return float(skm.roc_auc_score(y == positive, p.scores, sample_weight=w))
    if metric == "log_loss":
        return float(skm.log_loss(y == positive, p.scores, sample_weight=w, labels=[False, True]))
    if metric == "brier":
        return float(skm.brier_score_loss(y == positive, p.scores, sample_weight=w))
    regression = {
        "mae": skm.mean_absolute_error,
        "mse": skm.mean_squared_error,
        "rmse": skm.root_mean_squared_error,
        "r2": skm.r2_score,
    }
    return float(regression[metric](y, p.labels, sample_weight=w))


def _classification(seed: int, task: str) -> tuple[Any, Predictions, Any]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 400))
    if task == "binary":
        names = np.array(["stay", "churn"])
        y = names[rng.integers(0, 2, n)]
        y[:2] = names  # both classes present
        # few distinct scores on odd seeds: ties the AUC must count one half
        scores = rng.random(n).round(1 if seed % 2 else 6)
        scores = np.where(rng.random(n) < 0.5, scores, scores * 0.5 + 0.5 * (y == "churn"))
        return y, Predictions(np.where(scores >= 0.5, "churn", "stay"), scores), "churn"
    k = int(rng.integers(3, 6))
    y = rng.integers(0, k, n)
    labels = np.where(rng.random(n) < 0.6, y, rng.integers(0, k + 1, n))  # an unseen class too
    return y, Predictions(labels), None


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_weighted_classification_metrics_match_sklearn(seed: int, task: str) -> None:
    y, pred, positive = _classification(seed, task)
    rng = np.random.default_rng(1_000 + seed)
    weights = np.vstack(
        [rng.integers(0, 4, len(y)), rng.random(len(y)) * 3, np.ones(len(y))]
    ).astype(float)
    names = [*CLASSIFICATION, *(("roc_auc", "log_loss", "brier") if task == "binary" else ())]
    for metric in names:
        got = _kernel(metric, y, pred, positive, task)(weights)
        want = [_sklearn(metric, y, pred, w, task, positive) for w in weights]
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=metric)


@pytest.mark.parametrize("seed", range(25))
def test_weighted_regression_metrics_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    y = rng.normal(100, 20, n)
    pred = Predictions(y + rng.normal(0, 10, n))
    weights = np.vstack([rng.integers(0, 4, n), rng.random(n) * 3, np.ones(n)]).astype(float)
    weights[0, :2] = 1  # at least two rows weighted
    for metric in ("mae", "mse", "rmse", "r2"):
        got = _kernel(metric, y, pred, None, "regression")(weights)
        want = [_sklearn(metric, y, pred, w, "regression", None) for w in weights]
        np.testing.assert_allclose(got, want, rtol=1e-9, err_msg=metric)


def test_r2_of_a_constant_target_follows_sklearn() -> None:
    y = np.full(10, 3.0)
    w = np.ones((1, 10))
    for pred in (y.copy(), y + np.arange(10)):
        got = _kernel("r2", y, Predictions(pred), None, "regression")(w)[0]
        assert got == skm.r2_score(y, pred)


# ---------------------------------------------------------------------------- the gate
def _scored(seed: int, n: int, noise: tuple[float, float]) -> tuple[Any, Predictions, Predictions]:
    """Labels and two models whose scores are the label plus noise of the given spreads."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)

    def model(spread: float) -> Predictions:
        scores = 1 / (1 + np.exp(-(2 * y - 1 + rng.normal(0, spread, n))))
        return Predictions((scores >= 0.5).astype(int), scores)

    return y, model(noise[0]), model(noise[1])


def _cfg(**kw: Any) -> GateConfig:
    return GateConfig(**{"n_bootstrap": 400, "min_holdout_rows": 100, "tolerance": 0.0, **kw})


def test_clearly_better_passes_and_clearly_worse_is_rejected() -> None:
    y, champion, challenger = _scored(1, 1_500, (2.0, 0.8))
    better = paired_gate(y, champion, challenger, config=_cfg(), task="binary")
    assert better.passed
    assert better.metric == "roc_auc"
    assert better.higher_is_better
    assert better.challenger == pytest.approx(skm.roc_auc_score(y, challenger.scores))
    assert better.champion == pytest.approx(skm.roc_auc_score(y, champion.scores))
    assert better.difference == pytest.approx(
        skm.roc_auc_score(y, challenger.scores) - skm.roc_auc_score(y, champion.scores)
    )
    assert better.ci_low is not None
    assert better.ci_low > 0
    assert better.reasons[0].startswith("accepted: roc_auc")
    worse = paired_gate(y, challenger, champion, config=_cfg(), task="binary")
    assert not worse.passed
    assert worse.ci_high is not None
    assert worse.ci_high < 0
    assert worse.p_value == 1.0
    assert worse.reasons[0].startswith("rejected: roc_auc")
    assert "95% CI" in worse.reasons[0]
    assert (
        "not shown to be no worse than the champion within the tolerance 0.000"
        in (worse.reasons[0])
    )
    assert [c.name for c in worse.checks] == ["holdout_size", "non_degenerate", "paired_comparison"]


def test_identical_predictions_pass_with_zero_tolerance() -> None:
    y, champion, _ = _scored(2, 500, (1.0, 1.0))
    for metric in ("roc_auc", "accuracy", "f1", "log_loss"):
        result = paired_gate(y, champion, champion, config=_cfg(metric=metric), task="binary")
        assert result.passed, metric
        assert (result.difference, result.ci_low, result.ci_high) == (0.0, 0.0, 0.0)
        assert result.p_value == 0.0


def test_tolerance_decides_for_a_slightly_worse_challenger() -> None:
    y, champion, challenger = _scored(3, 1_500, (1.0, 1.15))
    strict = paired_gate(y, champion, challenger, config=_cfg(), task="binary")
    lenient = paired_gate(y, champion, challenger, config=_cfg(tolerance=0.1), task="binary")
    assert strict.difference is not None
    assert -0.1 < strict.difference < 0
    assert not strict.passed
    assert lenient.passed
    assert lenient.reasons[0].endswith(
        "shown no worse than the champion within the tolerance 0.100"
    )


def test_bootstrap_matches_a_row_by_row_bootstrap_with_sklearn() -> None:
    y, champion, challenger = _scored(4, 300, (1.0, 1.1))
    config = _cfg(n_bootstrap=200, seed=5, confidence=0.9, tolerance=0.01)
    result = paired_gate(y, champion, challenger, config=config, task="binary")
    rng = np.random.default_rng(5)
    diffs = []
    for _ in range(200):  # the gate draws the same row indices, one resample after another
        rows = rng.integers(0, 300, 300)
        diffs.append(
            skm.roc_auc_score(y[rows], challenger.scores[rows])  # type: ignore[index]
            - skm.roc_auc_score(y[rows], champion.scores[rows])  # type: ignore[index]
        )
    lo, hi = np.quantile(diffs, [0.05, 0.95])
    assert result.ci_low == pytest.approx(lo, abs=1e-12)
    assert result.ci_high == pytest.approx(hi, abs=1e-12)
    assert result.p_value == pytest.approx(np.mean(np.array(diffs) < -0.01))
    assert result.passed == (np.quantile(diffs, 0.1) >= -0.01)


def test_same_seed_same_result_other_seed_other_interval() -> None:
    y, champion, challenger = _scored(5, 800, (1.0, 1.1))
    first, again = (
        paired_gate(y, champion, challenger, config=_cfg(seed=3), task="binary") for _ in range(2)
    )
    other = paired_gate(y, champion, challenger, config=_cfg(seed=4), task="binary")
    assert first == again
    assert other.ci_low != first.ci_low


def test_too_few_rows_computes_nothing() -> None:
    y, champion, challenger = _scored(6, 50, (2.0, 0.5))
    result = paired_gate(y, champion, challenger, config=_cfg(min_holdout_rows=200), task="binary")
    assert not result.passed
    assert result.checks[0] == GateCheck(
        "holdout_size", False, "only 50 labelled holdout rows; the gate needs 200"
    )
    assert result.reasons[0] == "rejected: only 50 labelled holdout rows; the gate needs 200"
    assert (result.champion, result.challenger, result.ci_low, result.p_value) == (None,) * 4
    assert result.n == 50


def test_floor_rejects_a_better_challenger_below_it() -> None:
    y, champion, challenger = _scored(7, 1_000, (3.0, 1.5))
    auc = skm.roc_auc_score(y, challenger.scores)
    below = paired_gate(y, champion, challenger, config=_cfg(floor=0.99), task="binary")
    assert not below.passed
    assert below.reasons[0] == f"rejected: roc_auc {auc:.3f} is below the floor 0.990"
    above = paired_gate(y, champion, challenger, config=_cfg(floor=0.6), task="binary")
    assert above.passed
    assert above.checks[-1] == GateCheck(
        "floor", True, f"roc_auc {auc:.3f} is at or above the floor 0.600"
    )


def test_degenerate_challengers_are_rejected() -> None:
    y, champion, _ = _scored(8, 400, (1.0, 1.0))
    constant = Predictions(np.ones(400, dtype=int), np.full(400, 0.7))
    result = paired_gate(y, champion, constant, config=_cfg(metric="accuracy"), task="binary")
    assert not result.passed
    check = next(c for c in result.checks if c.name == "non_degenerate")
    assert check.message == (
        "the challenger is degenerate: one class (1) for every row; "
        "the same score (0.7) for every row"
    )
    rng = np.random.default_rng(8)
    target = rng.normal(size=400)
    flat = paired_gate(
        target,
        Predictions(target + rng.normal(0, 5, 400)),
        Predictions(np.full(400, target.mean())),
        config=_cfg(),
        task="regression",
    )
    assert not flat.passed
    assert flat.reasons[0].startswith("rejected: the challenger is degenerate: the same prediction")


def test_a_failed_extra_check_rejects() -> None:
    y, champion, challenger = _scored(9, 500, (2.0, 0.5))
    checks = [
        GateCheck("schema", True, "inputs match"),
        GateCheck("predicts", False, "KeyError: 'x'"),
    ]
    result = paired_gate(y, champion, challenger, config=_cfg(), task="binary", extra_checks=checks)
    assert not result.passed
    assert result.reasons[0] == "rejected: KeyError: 'x'"
    assert result.checks[1:3] == tuple(checks)
    assert next(c for c in result.checks if c.name == "paired_comparison").passed


def test_regression_mae_signs() -> None:
    rng = np.random.default_rng(10)
    y = rng.normal(50, 10, 1_000)
    champion, challenger = (
        Predictions(y + rng.normal(0, 4, 1_000)),
        Predictions(y + rng.normal(0, 2, 1_000)),
    )
    better = paired_gate(y, champion, challenger, config=_cfg(), task="regression")
    assert better.metric == "mae"
    assert not better.higher_is_better
    mae_champion = skm.mean_absolute_error(y, champion.labels)
    mae_challenger = skm.mean_absolute_error(y, challenger.labels)
    assert better.champion == pytest.approx(mae_champion)
    assert better.challenger == pytest.approx(mae_challenger)
    assert better.difference == pytest.approx(mae_champion - mae_challenger)
    assert mae_champion - mae_challenger > 0.5
    assert better.passed
    worse = paired_gate(y, challenger, champion, config=_cfg(floor=3.0), task="regression")
    assert not worse.passed
    assert worse.difference == pytest.approx(mae_challenger - mae_champion)
    assert any(
        r.startswith(f"mae {mae_champion:.3f} is above the floor 3.000") for r in worse.reasons
    )


# ------------------------------------------------------------------------------ McNemar
def _paired_accuracy(
    b: int, c: int, both: int, neither: int
) -> tuple[Any, Predictions, Predictions]:
    """Rows where only the champion is right (b), only the challenger (c), both, neither."""
    y = np.zeros(b + c + both + neither, dtype=int)
    right = np.array([True] * b + [False] * c + [True] * both + [False] * neither)
    right2 = np.array([False] * b + [True] * c + [True] * both + [False] * neither)
    return y, Predictions(np.where(right, 0, 1)), Predictions(np.where(right2, 0, 1))


@pytest.mark.parametrize(("b", "c"), [(10, 25), (20, 30), (30, 10), (0, 9), (5, 5)])
def test_mcnemar_exact_at_zero_tolerance(b: int, c: int) -> None:
    y, champion, challenger = _paired_accuracy(b, c, 150, 40)
    result = paired_gate(
        y, champion, challenger, config=_cfg(metric="accuracy", test="mcnemar"), task="binary"
    )
    expected = binomtest(c, b + c, 0.5, alternative="greater").pvalue
    by_hand = sum(math.comb(b + c, k) for k in range(c, b + c + 1)) / 2 ** (b + c)
    assert result.p_value == pytest.approx(expected, rel=1e-12)
    assert result.p_value == pytest.approx(by_hand, rel=1e-12)
    assert result.passed == (by_hand < 0.05)
    assert result.test == "mcnemar"
    assert result.difference == pytest.approx((c - b) / len(y))
    assert f"McNemar b={b}, c={c}" in result.reasons[0]


def test_mcnemar_wald_with_a_margin() -> None:
    b, c = 30, 22
    y, champion, challenger = _paired_accuracy(b, c, 300, 48)
    n = len(y)
    d = (c - b) / n
    se = math.sqrt(b + c - (c - b) ** 2 / n) / n
    for tol, passes in ((0.05, True), (0.005, False)):
        config = _cfg(metric="accuracy", test="mcnemar", tolerance=tol)
        result = paired_gate(y, champion, challenger, config=config, task="binary")
        assert result.p_value == pytest.approx(norm.sf((d + tol) / se), rel=1e-12)
        assert result.passed is passes
        assert result.ci_low == pytest.approx(d - norm.ppf(0.975) * se)


def test_mcnemar_with_no_discordant_rows_passes() -> None:
    y, champion, _ = _paired_accuracy(0, 0, 200, 20)
    result = paired_gate(
        y, champion, champion, config=_cfg(metric="accuracy", test="mcnemar"), task="binary"
    )
    assert result.passed
    assert result.p_value is None
    assert "exactly the same rows" in result.reasons[0]


def test_mcnemar_needs_accuracy() -> None:
    y, champion, challenger = _scored(11, 300, (1.0, 1.0))
    with pytest.raises(InvalidParameterError, match="mcnemar test compares accuracy only"):
        paired_gate(y, champion, challenger, config=_cfg(test="mcnemar"), task="binary")


# ------------------------------------------------------------------------------- the rest
def test_round_trip_through_json() -> None:
    y, champion, challenger = _scored(12, 400, (1.0, 0.9))
    checks = [GateCheck("schema", True, "inputs match")]
    for config in (_cfg(floor=0.5), _cfg(min_holdout_rows=1_000)):
        result = paired_gate(
            y, champion, challenger, config=config, task="binary", extra_checks=checks
        )
        text = json.dumps(result.to_dict(), allow_nan=False)
        data = json.loads(text)
        assert data["passed"] is result.passed
        assert data["checks"][1] == {"name": "schema", "passed": True, "message": "inputs match"}
        assert GateResult.from_dict(data) == result


def test_length_mismatch_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="challenger's labels have 3 rows; y_true has 4"):
        paired_gate(
            [0, 1, 0, 1],
            Predictions(np.array([0, 1, 0, 1])),
            Predictions(np.array([0, 1, 0])),
            config=_cfg(metric="accuracy"),
            task="binary",
        )


@pytest.mark.parametrize(
    ("metric", "task", "scores", "want"),
    [
        ("auto", "binary", True, "roc_auc"),
        ("auto", "binary", False, "accuracy"),
        ("auto", "multiclass", False, "accuracy"),
        ("auto", "regression", False, "mae"),
        ("f1", "multiclass", False, "f1"),
        ("rmse", "regression", False, "rmse"),
        ("brier", "binary", True, "brier"),
    ],
)
def test_choose_metric(metric: str, task: str, scores: bool, want: str) -> None:
    assert choose_metric(metric, task=task, has_scores=scores) == want


@pytest.mark.parametrize(
    ("metric", "task", "scores", "words"),
    [
        ("auc", "binary", True, "must be 'auto' or one of roc_auc, accuracy"),
        ("mae", "binary", True, "'mae' is a regression metric; the model is a binary model"),
        ("accuracy", "regression", False, "is a classification metric"),
        ("roc_auc", "binary", False, "needs positive-class scores"),
        ("log_loss", "multiclass", False, "needs positive-class scores"),
        ("auto", "ranking", False, "task of the gate must be one of"),
    ],
)
def test_choose_metric_refuses(metric: str, task: str, scores: bool, words: str) -> None:
    with pytest.raises(InvalidParameterError, match=words):
        choose_metric(metric, task=task, has_scores=scores)
    assert set(GATE_METRICS) >= {"roc_auc", "accuracy", "mae", "r2"}
