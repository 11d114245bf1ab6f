"""Options validation, state round trips, skipped checks with their reasons, input errors,
floors, and the check results' shape."""

from __future__ import annotations

import doctest
import importlib
import io
import json

import numpy as np
import pytest

from watchkeeper import CheckResult
from watchkeeper.errors import (
    EmptyInputError,
    InvalidInputError,
    InvalidParameterError,
    SerializationError,
    UnknownMethodError,
)
from watchkeeper.performance import (
    CHECK_NAMES,
    METRICS,
    PerformanceOptions,
    PerformanceReference,
    metric_direction,
    performance_checks,
)

# --------------------------------------------------------------------------- helpers


def _binary(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    eta = rng.normal(0, 1.5, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.int64)
    return y, 1 / (1 + np.exp(-eta - rng.normal(0, 0.6, n)))


def _multiclass(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.2, (n, 3))
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (prob.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1).astype(np.int64)
    return y, prob


@pytest.fixture(scope="module")
def binary_ref() -> PerformanceReference:
    y, s = _binary(0, 3_000)
    return PerformanceReference.fit("binary", ("no", "yes"), y, None, s)


def _by_check(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.check: r for r in results}


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"alpha": 1.5}, InvalidParameterError, r"'alpha' .* must be in \(0, 1\)\. Got 1\.5"),
        ({"alpha": "x"}, InvalidParameterError, r"'alpha' .* must be a number"),
        ({"max_drop": -0.1}, InvalidParameterError, r"'max_drop' .* \[0, inf\]\. Got -0\.1"),
        ({"threshold": float("inf")}, InvalidParameterError, r"'threshold' .* finite"),
        ({"n_bootstrap": 5}, InvalidParameterError, r"'n_bootstrap' .* integer >= 10\. Got 5"),
        ({"min_rows": 1.5}, InvalidParameterError, r"'min_rows' .* integer >= 2"),
        ({"calibration_bins": 1}, InvalidParameterError, r"'calibration_bins'"),
        ({"calibration_delta": 0}, InvalidParameterError, r"'calibration_delta' .* \(0, 1\]"),
        ({"floors": {"acuracy": 0.9}}, UnknownMethodError, r"unknown metric 'acuracy'.*accuracy"),
        ({"floors": {"accuracy": "high"}}, InvalidParameterError, r"floors\['accuracy'\]"),
        ({"floors": [0.9]}, InvalidParameterError, r"'floors' .* mapping"),
        ({"metrics": ("auc",)}, UnknownMethodError, r"unknown check 'auc'.*roc_auc"),
        ({"metrics": ()}, InvalidParameterError, r"at least one check"),
        ({"metrics": "accuracy"}, InvalidParameterError, r"tuple of check names"),
        ({"seed": -1}, InvalidParameterError, r"'seed'"),
    ],
)
def test_options_validation_messages(
    kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        PerformanceOptions(**kwargs)


def test_options_round_trip_and_names() -> None:
    o = PerformanceOptions(floors={"accuracy": 0.8, "mae": 2}, metrics=["accuracy", "mae"])
    assert o.floors == {"accuracy": 0.8, "mae": 2.0}
    assert o.metrics == ("accuracy", "mae")
    d = o.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert PerformanceOptions.from_dict(d) == o
    assert set(PerformanceOptions.field_names()) == set(d)
    assert "calibration" in CHECK_NAMES


def test_metric_direction() -> None:
    assert metric_direction("mape") == "lower_is_better"
    assert metric_direction("r2") == "higher_is_better"
    with pytest.raises(UnknownMethodError, match="valid metrics are"):
        metric_direction("auc")


def test_metrics_not_applying_to_the_task_raise(binary_ref: PerformanceReference) -> None:
    y, s = _binary(1, 200)
    with pytest.raises(InvalidParameterError, match=r"\['mae'\].*binary task"):
        performance_checks(binary_ref, y, None, s, options=PerformanceOptions(metrics=("mae",)))


def test_metrics_option_selects_checks(binary_ref: PerformanceReference) -> None:
    y, s = _binary(1, 200)
    options = PerformanceOptions(metrics=("roc_auc", "accuracy"))
    assert [r.check for r in performance_checks(binary_ref, y, None, s, options=options)] == [
        "performance.accuracy",
        "performance.roc_auc",
    ]


# --------------------------------------------------------------------------- state


def _round_trip(ref: PerformanceReference) -> PerformanceReference:
    meta, arrays = ref.to_state()
    text = json.dumps(meta, allow_nan=False)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as npz:
        loaded = {k: npz[k] for k in npz.files}
    return PerformanceReference.from_state(json.loads(text), loaded)


def _assert_same(a: PerformanceReference, b: PerformanceReference) -> None:
    for name in ("task", "classes", "metrics", "methods", "undefined", "n_used", "n"):
        assert getattr(a, name) == getattr(b, name), name
    assert (a.n_labelled, a.has_scores, a.threshold) == (b.n_labelled, b.has_scores, b.threshold)
    assert a.options == b.options
    np.testing.assert_equal(a.se, b.se)
    if a.confusion is None:
        assert b.confusion is None
    else:
        np.testing.assert_array_equal(a.confusion, b.confusion)
    if a.calibration is None:
        assert b.calibration is None
    else:
        assert b.calibration is not None
        np.testing.assert_array_equal(a.calibration.edges, b.calibration.edges)
        np.testing.assert_array_equal(a.calibration.counts, b.calibration.counts)
        np.testing.assert_array_equal(a.calibration.positives, b.calibration.positives)


def test_state_round_trip_is_exact() -> None:
    y, s = _binary(2, 1_500)
    refs = [
        PerformanceReference.fit(
            "binary", ("no", "yes"), y, None, s, options=PerformanceOptions(threshold=0.4)
        ),
        PerformanceReference.fit("binary", ("no", "yes"), y, (s > 0.5).astype(np.int64)),
        PerformanceReference.fit(
            "multiclass", ("a", "b", "c"), *_multiclass(3, 800)[:1], None, _multiclass(3, 800)[1]
        ),
        PerformanceReference.fit("regression", (), s * 10, s * 10 + 0.1 * y),
    ]
    for ref in refs:
        back = _round_trip(ref)
        _assert_same(ref, back)
        assert back.to_state()[0] == ref.to_state()[0]
    # The restored reference decides identically.
    yw, sw = _binary(4, 400)
    a = [r.to_dict() for r in performance_checks(refs[0], yw, None, sw)]
    b = [r.to_dict() for r in performance_checks(_round_trip(refs[0]), yw, None, sw)]
    assert a == b


def test_state_of_another_kind_or_version_is_refused(binary_ref: PerformanceReference) -> None:
    meta, arrays = binary_ref.to_state()
    with pytest.raises(SerializationError, match="Expected a PerformanceReference state"):
        PerformanceReference.from_state({**meta, "kind": "Baseline"}, arrays)
    with pytest.raises(SerializationError, match="version 1"):
        PerformanceReference.from_state({**meta, "version": 99}, arrays)
    broken = dict(meta)
    del broken["metrics"]
    with pytest.raises(SerializationError, match="incomplete"):
        PerformanceReference.from_state(broken, arrays)


# --------------------------------------------------------------------------- skipped checks


def test_window_without_labels_skips_everything(binary_ref: PerformanceReference) -> None:
    _, s = _binary(5, 300)
    results = performance_checks(binary_ref, np.full(300, -1, dtype=np.int64), None, s)
    assert [r.check for r in results] == [
        *(f"performance.{m}" for m in METRICS["binary"]),
        "performance.calibration",
    ]
    for r in results:
        assert r.status == "skipped"
        assert r.reason == "No labels in the window."
        assert r.value is None
        assert r.details["label_coverage"] == 0.0


def test_too_few_labelled_rows_skip_everything(binary_ref: PerformanceReference) -> None:
    y, s = _binary(6, 300)
    y[20:] = -1
    results = performance_checks(binary_ref, y, None, s)
    assert {r.status for r in results} == {"skipped"}
    assert all(r.reason.startswith("Only 20 labelled rows in the window") for r in results)


def test_window_without_scores_skips_the_score_checks(binary_ref: PerformanceReference) -> None:
    y, s = _binary(7, 500)
    results = _by_check(performance_checks(binary_ref, y, (s >= 0.5).astype(np.int64), None))
    for name in ("roc_auc", "average_precision", "log_loss", "brier", "calibration"):
        r = results[f"performance.{name}"]
        assert r.status == "skipped"
        assert "window has no scores" in r.reason
    assert results["performance.accuracy"].status == "ok"


def test_reference_without_scores_skips_the_score_checks() -> None:
    y, s = _binary(8, 1_000)
    ref = PerformanceReference.fit("binary", ("no", "yes"), y, (s >= 0.5).astype(np.int64))
    assert not ref.has_scores
    assert ref.calibration is None
    assert ref.undefined["roc_auc"] == "no scores were given"
    results = _by_check(performance_checks(ref, *_binary(9, 300)[:1], None, _binary(9, 300)[1]))
    assert results["performance.roc_auc"].status == "skipped"
    assert "reference has no scores" in results["performance.roc_auc"].reason
    assert "reference has no scores" in results["performance.calibration"].reason
    assert results["performance.f1"].status in ("ok", "warning", "alert")


def test_one_class_and_no_positive_windows(binary_ref: PerformanceReference) -> None:
    _, s = _binary(10, 300)
    y = np.zeros(300, dtype=np.int64)
    results = _by_check(performance_checks(binary_ref, y, None, s))
    auc = results["performance.roc_auc"]
    assert auc.status == "skipped"
    assert auc.reason == "roc_auc is undefined in the window: the scored rows hold a single class."
    assert results["performance.recall"].status == "skipped"
    assert "no actual positives" in results["performance.recall"].reason
    low = np.full(300, 0.01)  # nothing predicted positive
    y2, _ = _binary(10, 300)
    prec = _by_check(performance_checks(binary_ref, y2, None, low))["performance.precision"]
    assert prec.status == "skipped"
    assert prec.reason == "precision is undefined in the window: no predicted positives."


def test_metric_undefined_on_the_reference_is_skipped() -> None:
    t = np.full(100, 3.0)
    ref = PerformanceReference.fit("regression", (), t, t + np.linspace(-1, 1, 100))
    assert "r2" not in ref.metrics
    rng = np.random.default_rng(0)
    tw = rng.normal(3, 1, 100)
    r2 = _by_check(performance_checks(ref, tw, tw + 0.1))["performance.r2"]
    assert r2.status == "skipped"
    assert r2.reason == "r2 is undefined on the reference: y_true is constant."


# --------------------------------------------------------------------------- decisions


def test_result_fields_and_details(binary_ref: PerformanceReference) -> None:
    y, s = _binary(11, 1_000)
    y[:100] = -1
    results = performance_checks(binary_ref, y, None, s)
    json.dumps([r.to_dict() for r in results], allow_nan=False)
    acc = results[0]
    assert acc.column is None
    assert acc.details["direction"] == "higher_is_better"
    assert acc.details["label_coverage"] == pytest.approx(0.9)
    assert acc.details["confusion_labels"] == ["no", "yes"]
    assert np.asarray(acc.details["confusion_matrix"]).sum() == 900
    # A rate's window error is taken at the baseline rate (a score test): sqrt(p0 (1 - p0) / n).
    assert acc.details["band_method"] == "binomial_at_baseline"
    p0 = acc.reference_value
    assert acc.details["se"] == pytest.approx((p0 * (1 - p0) / 900) ** 0.5, rel=1e-12)
    assert acc.details["band_method_reference"] == "bootstrap"
    f1 = next(r for r in results if r.check == "performance.f1")
    assert f1.details["band_method"] == "bootstrap"
    assert acc.n == 900
    assert acc.n_reference == 3_000
    se = (acc.details["se"] ** 2 + acc.details["se_reference"] ** 2) ** 0.5
    assert acc.details["band_lower"] == pytest.approx(acc.reference_value - 2.3263478740 * se)
    assert acc.warning_threshold == pytest.approx(acc.details["band_lower"])
    loss = _by_check(results)["performance.log_loss"]
    assert loss.details["direction"] == "lower_is_better"
    assert loss.threshold == pytest.approx(loss.reference_value * 1.1)
    cal = results[-1]
    assert cal.check == "performance.calibration"
    assert len(cal.details["edges"]) == 9


def test_floor_alerts_when_credibly_below_even_without_a_drop() -> None:
    y, s = _binary(12, 3_000)
    ref = PerformanceReference.fit("binary", ("no", "yes"), y, None, s)
    floor = PerformanceOptions(floors={"accuracy": ref.metrics["accuracy"] + 0.08})
    same = _by_check(performance_checks(ref, y, None, s, options=floor))["performance.accuracy"]
    assert same.status == "alert"  # a floor is the user's limit, whatever the baseline was
    assert "credibly below its floor" in same.reason
    assert same.threshold == pytest.approx(ref.metrics["accuracy"] + 0.08)
    yw, sw = _binary(13, 3_000)
    worse = sw.copy()
    worse[:60] = 1 - worse[:60]  # a few more mistakes: a small, insignificant drop
    r = _by_check(performance_checks(ref, yw, None, worse, options=floor))["performance.accuracy"]
    assert r.value is not None
    assert r.value < ref.metrics["accuracy"]
    assert r.status == "alert"
    assert "credibly below its floor" in r.reason


def test_ceiling_for_an_error_metric() -> None:
    rng = np.random.default_rng(14)
    t = rng.normal(0, 1, 2_000)
    ref = PerformanceReference.fit("regression", (), t, t + rng.normal(0, 1, 2_000))
    ceiling = PerformanceOptions(floors={"mae": 0.5})
    tw = rng.normal(0, 1, 2_000)
    r = _by_check(performance_checks(ref, tw, tw + rng.normal(0, 1.05, 2_000), options=ceiling))
    mae = r["performance.mae"]
    assert mae.status == "alert"
    assert "credibly above its ceiling 0.5" in mae.reason
    assert mae.threshold == 0.5


def test_new_label_in_the_window() -> None:
    y, s = _binary(15, 2_000)
    ref = PerformanceReference.fit("binary", ("no", "yes"), y, None, s)
    yw, sw = _binary(16, 1_000)
    yw[:300] = 2  # a label the reference never saw: always a mistake, no score metric
    results = _by_check(performance_checks(ref, yw, None, sw, classes=("no", "yes", "maybe")))
    acc = results["performance.accuracy"]
    assert acc.details["confusion_labels"] == ["no", "yes", "maybe"]
    assert acc.status == "alert"
    # The 700 scored rows; a ranking metric counts the rarer class among them.
    scored = yw[300:]
    assert results["performance.roc_auc"].n == min((scored == 1).sum(), (scored == 0).sum())
    with pytest.raises(InvalidInputError, match="codes must be in"):
        performance_checks(ref, yw, None, sw)
    with pytest.raises(InvalidInputError, match="reference classes"):
        performance_checks(ref, yw, None, sw, classes=("yes", "no", "maybe"))


# --------------------------------------------------------------------------- input errors


def test_input_errors(binary_ref: PerformanceReference) -> None:
    y, s = _binary(17, 100)
    with pytest.raises(InvalidInputError, match="integer class codes"):
        performance_checks(binary_ref, y.astype(float), None, s)
    with pytest.raises(InvalidInputError, match=r"shape \(100,\)"):
        performance_checks(binary_ref, y, None, np.c_[1 - s, s])
    with pytest.raises(InvalidInputError, match="'y_pred' or 'y_score'"):
        performance_checks(binary_ref, y)
    with pytest.raises(InvalidInputError, match="'y_pred' has 99 rows"):
        performance_checks(binary_ref, y, y[:99])
    with pytest.raises(InvalidInputError, match="exactly 2 classes"):
        PerformanceReference.fit("binary", ("a", "b", "c"), y, None, s)
    with pytest.raises(InvalidInputError, match="task='binary'"):
        PerformanceReference.fit("multiclass", ("a", "b"), y, None, None)
    with pytest.raises(UnknownMethodError, match="'task'"):
        PerformanceReference.fit("ranking", (), y, y)
    with pytest.raises(InvalidInputError, match="no 'y_score'"):
        PerformanceReference.fit("regression", (), s, s, s)
    with pytest.raises(EmptyInputError, match="no labelled row"):
        PerformanceReference.fit("binary", ("a", "b"), np.full(5, -1, dtype=np.int64), None, s[:5])


@pytest.mark.parametrize(
    "module",
    [
        "watchkeeper.performance._options",
        "watchkeeper.performance.metrics",
        "watchkeeper.performance.reference",
        "watchkeeper.performance.checks",
    ],
)
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0
    assert result.failed == 0


def test_multiclass_window_missing_a_class_is_checked() -> None:
    y, prob = _multiclass(20, 3_000)
    ref = PerformanceReference.fit("multiclass", ("a", "b", "c"), y, None, prob)
    yw, pw = _multiclass(21, 600)
    keep = yw != 2
    results = _by_check(performance_checks(ref, yw[keep], None, pw[keep]))
    assert list(results) == [f"performance.{m}" for m in METRICS["multiclass"]]
    for r in results.values():
        assert r.status != "skipped", r.reason
    assert results["performance.recall_macro"].details["band_method"] == "bootstrap"


def test_metric_values_do_not_depend_on_row_order() -> None:
    y, s = _binary(22, 2_000)
    s = np.round(s, 2)
    base = PerformanceReference.fit("binary", ("no", "yes"), y, None, s).metrics
    perm = np.random.default_rng(0).permutation(y.size)
    shuffled = PerformanceReference.fit("binary", ("no", "yes"), y[perm], None, s[perm]).metrics
    for name, value in base.items():
        assert shuffled[name] == pytest.approx(value, rel=1e-12), name
