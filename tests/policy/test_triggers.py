"""Each trigger's condition on one run: breach, no breach, the edge at the threshold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from watchkeeper.config import PolicyConfig
from watchkeeper.policy import RunRecord, TriggerOutcome, evaluate
from watchkeeper.results import CheckResult, Status

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _run(*checks: CheckResult, n_labeled: int = 1_000, **kwargs: Any) -> RunRecord:
    return RunRecord(T0, version=1, checks=checks, n_rows=2_000, n_labeled=n_labeled, **kwargs)


def _outcome(run: RunRecord, trigger: str, **settings: Any) -> TriggerOutcome:
    """The outcome of ``trigger`` (with ``settings``) on a history of one run."""
    policy = PolicyConfig.model_validate({"triggers": {trigger: settings}})
    decision = evaluate(policy, [run], now=run.ran_at)
    return next(t for t in decision.triggers if t.trigger == trigger)


def _perf(
    metric: str,
    value: float | None,
    reference: float | None = None,
    status: Status = "ok",
    **details: Any,
) -> CheckResult:
    return CheckResult(
        f"performance.{metric}", None, value, reference_value=reference, status=status,
        details=details,
    )  # fmt: skip


def _drift(column: str, status: Status = "ok", check: str = "drift.wasserstein") -> CheckResult:
    return CheckResult(check, column, 0.2 if status == "alert" else 0.01, status=status)


# --- performance ----------------------------------------------------------------------------


def test_performance_alert_breaches_and_names_the_band() -> None:
    auc = _perf("roc_auc", 0.71, 0.82, "alert", band_lower=0.78, band_upper=0.86)
    out = _outcome(_run(auc), "performance")
    assert (out.breached, out.fired, out.streak, out.action) == (True, True, 1, "retrain")
    assert out.reasons == ("performance.roc_auc 0.71 is below its band (0.78..0.86)",)
    assert out.details["failing"][0]["rule"] == "status"


@pytest.mark.parametrize("status", ["ok", "warning", "skipped"])
def test_performance_without_an_alert_does_not_breach(status: Status) -> None:
    out = _outcome(_run(_perf("roc_auc", 0.71, 0.82, status)), "performance")
    assert not out.breached
    assert not out.fired
    assert out.streak == 0


def test_performance_alert_without_a_band_quotes_the_check() -> None:
    check = CheckResult("performance.calibration", None, 0.2, status="alert", reason="Moved.")
    out = _outcome(_run(check), "performance")
    assert out.breached
    assert out.reasons == ("performance.calibration alerts: Moved",)


@pytest.mark.parametrize(
    ("metrics", "breached"),
    [(None, True), (["accuracy"], True), (["performance.accuracy"], True), (["roc_auc"], False)],
)
def test_performance_metrics_restrict_the_checks(metrics: list[str] | None, breached: bool) -> None:
    run = _run(_perf("accuracy", 0.7, 0.9, "alert"), _perf("roc_auc", 0.8, 0.8, "ok"))
    out = _outcome(run, "performance", metrics=metrics)
    assert out.breached is breached
    assert [f["check"] for f in out.details["failing"]] == (["performance.accuracy"] * breached)


@pytest.mark.parametrize(("value", "breached"), [(0.79, True), (0.8, False), (0.81, False)])
def test_performance_floor_of_a_higher_is_better_metric(value: float, breached: bool) -> None:
    # The floor replaces the stored status for its metric: "ok" below it breaches, "alert"
    # at or above it does not.
    status: Status = "ok" if breached else "alert"
    out = _outcome(
        _run(_perf("accuracy", value, 0.9, status)), "performance", floor={"accuracy": 0.8}
    )
    assert out.breached is breached
    if breached:
        assert out.reasons == ("performance.accuracy 0.79 is below its floor 0.8",)


@pytest.mark.parametrize(("value", "breached"), [(3.5, True), (3.0, False), (2.5, False)])
def test_performance_floor_of_an_error_metric_is_a_ceiling(value: float, breached: bool) -> None:
    out = _outcome(_run(_perf("mae", value, 2.0)), "performance", floor={"mae": 3.0})
    assert out.breached is breached
    if breached:
        assert out.reasons == ("performance.mae 3.5 is above its ceiling 3",)


def test_performance_floor_watches_its_metric_outside_metrics() -> None:
    run = _run(_perf("accuracy", 0.7, 0.9), _perf("roc_auc", 0.9, 0.9))
    out = _outcome(run, "performance", metrics=["roc_auc"], floor={"accuracy": 0.8, "f1": 0.5})
    assert out.breached
    assert out.details["floors_without_check"] == ["f1"]


@pytest.mark.parametrize(
    ("value", "breached"),
    [(0.49, True), (0.5, False), (0.6, False), (0.99, False)],  # 0.99: better by more than 0.25
)
def test_performance_max_drop_of_a_higher_is_better_metric(value: float, breached: bool) -> None:
    out = _outcome(_run(_perf("roc_auc", value, 0.75)), "performance", max_drop=0.25)
    assert out.breached is breached
    if breached:
        assert "performance.roc_auc fell by 0.26 from 0.75 to 0.49" in out.reasons[0]


@pytest.mark.parametrize(
    ("value", "breached"),
    [(2.51, True), (2.5, False), (2.2, False), (1.0, False)],  # 1.0: better by more than 0.5
)
def test_performance_max_drop_of_an_error_metric(value: float, breached: bool) -> None:
    out = _outcome(_run(_perf("mae", value, 2.0, "alert")), "performance", max_drop=0.5)
    assert out.breached is breached
    if breached:
        assert "performance.mae rose by 0.51 from 2 to 2.51" in out.reasons[0]


def test_performance_max_drop_equal_up_to_rounding_is_not_more() -> None:
    # 0.85 - 0.80 is 0.04999999999999993 in binary floating point, 0.84 - 0.79 0.05000000000000004.
    for reference, value in ((0.85, 0.80), (0.84, 0.79)):
        out = _outcome(_run(_perf("accuracy", value, reference)), "performance", max_drop=0.05)
        assert not out.breached


def test_performance_max_drop_without_reference_keeps_the_status() -> None:
    out = _outcome(_run(_perf("accuracy", 0.5, None, "alert")), "performance", max_drop=0.1)
    assert out.breached
    assert out.details["failing"][0]["rule"] == "status"


def test_performance_calibration_is_judged_by_status_only() -> None:
    calibration = CheckResult(
        "performance.calibration", None, 0.3, reference_value=0.0, status="ok"
    )
    out = _outcome(_run(calibration), "performance", max_drop=0.1, floor={"calibration": 0.1})
    assert not out.breached


def test_performance_floor_and_max_drop_both_reported() -> None:
    out = _outcome(
        _run(_perf("accuracy", 0.6, 0.9)), "performance", floor={"accuracy": 0.8}, max_drop=0.1
    )
    assert [f["rule"] for f in out.details["failing"]] == ["floor", "max_drop"]
    assert len(out.reasons) == 2


@pytest.mark.parametrize(("n_labeled", "breached"), [(199, False), (200, True)])
def test_performance_min_labeled_rows(n_labeled: int, breached: bool) -> None:
    run = _run(_perf("accuracy", 0.5, 0.9, "alert"), n_labeled=n_labeled)
    out = _outcome(run, "performance", min_labeled_rows=200)
    assert out.breached is breached
    assert out.details["evaluated"] is breached
    if not breached:
        assert "min_labeled_rows 200" in out.reasons[0]
        assert "199" in out.reasons[0]


def test_segment_results_never_breach() -> None:
    seg = CheckResult("performance.accuracy", None, 0.1, 0.9, status="alert", segment="plan=a")
    quality = CheckResult("quality.missing_rate", "age", 0.5, status="alert", segment="plan=a")
    drift = CheckResult("drift.wasserstein", "age", 0.5, status="alert", segment="plan=a")
    run = _run(seg, quality, drift)
    assert not _outcome(run, "performance").breached
    assert not _outcome(run, "data_quality").breached
    assert not _outcome(run, "drift", share=0.0).breached


# --- drift ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "breached"), [(2, False), (3, True), (4, True)])
def test_drift_share_of_feature_columns(k: int, breached: bool) -> None:
    columns = [f"x{i}" for i in range(10)]
    checks = [_drift(c, "alert" if i < k else "ok") for i, c in enumerate(columns)]
    out = _outcome(_run(*checks), "drift", share=0.3, multivariate=False)
    assert out.breached is breached
    assert out.details["drifted_features"] == columns[:k]
    assert out.details["share"] == pytest.approx(k / 10)
    if breached:
        assert out.reasons[0].startswith(f"{k} of 10 feature columns drifted ({k}0%)")
    else:
        assert "below the share 30%" in out.reasons[0]


def test_drift_share_counts_only_checked_feature_columns() -> None:
    checks = [_drift(f"a{i}", "alert") for i in range(3)]
    checks += [_drift(f"b{i}", "ok") for i in range(2)]
    checks += [_drift(f"c{i}", "skipped") for i in range(5)]
    checks += [
        _drift("prediction", "ok", "drift.prediction"),
        _drift("churned", "ok", "drift.target"),
    ]
    out = _outcome(_run(*checks), "drift", share=0.5, multivariate=False)
    assert out.breached
    assert out.details["n_features"] == 5


def test_drift_of_prediction_and_target_is_not_feature_drift() -> None:
    checks = [
        _drift("prediction", "alert", "drift.prediction"),
        _drift("churned", "alert", "drift.target"),
        _drift("age", "ok"),
    ]
    out = _outcome(_run(*checks), "drift", share=0.3, multivariate=False)
    assert not out.breached
    assert out.details["drifted_features"] == []


def test_drift_by_a_chosen_method_counts_as_feature_drift() -> None:
    out = _outcome(_run(_drift("age", "alert", "drift.ks")), "drift", share=1.0)
    assert out.breached
    assert out.details["drifted_features"] == ["age"]


def test_drift_named_features() -> None:
    checks = [_drift("age", "alert"), _drift("plan", "ok"), _drift("region", "ok")]
    settings: dict[str, Any] = {"share": None, "multivariate": False}
    assert _outcome(_run(*checks), "drift", features=["age"], **settings).breached
    out = _outcome(_run(*checks), "drift", features=["plan", "tenure"], **settings)
    assert not out.breached
    assert out.details["named_features_drifted"] == []
    named = _outcome(_run(*checks), "drift", features=["plan", "age"], **settings)
    assert named.reasons == ("named feature drifted: age",)


@pytest.mark.parametrize(
    "check",
    ["drift.dataset", "drift.pca_reconstruction", "drift.domain_classifier", "drift.manifold"],
)
def test_drift_multivariate(check: str) -> None:
    run = _run(CheckResult(check, None, 0.9, status="alert"), _drift("age", "ok"))
    on = _outcome(run, "drift", multivariate=True)
    assert on.breached
    assert on.details["multivariate"] == [check]
    assert on.reasons == (f"multivariate drift: {check}",)
    assert not _outcome(run, "drift", multivariate=False).breached


def test_drift_rules_all_off_never_breach() -> None:
    run = _run(_drift("age", "alert"), CheckResult("drift.dataset", None, 1.0, status="alert"))
    assert not _outcome(run, "drift", share=None, multivariate=False).breached


def test_drift_with_no_checks() -> None:
    out = _outcome(_run(), "drift")
    assert not out.breached
    assert out.reasons == ("no drift check to evaluate in the run",)


# --- data quality ---------------------------------------------------------------------------


def test_data_quality_lists_the_failing_checks_and_columns() -> None:
    run = _run(
        CheckResult("quality.missing_rate", "age", 0.4, status="alert"),
        CheckResult("quality.out_of_range", "age", 0.01, status="warning"),
        CheckResult("quality.duplicate_rows", None, 0.3, status="alert"),
        CheckResult("quality.missing_rate", "plan", 0.0),
    )
    out = _outcome(run, "data_quality")
    assert (out.breached, out.action) == (True, "notify")
    assert out.details["failing"] == [
        {"check": "quality.missing_rate", "column": "age"},
        {"check": "quality.duplicate_rows", "column": None},
    ]
    assert out.reasons == (
        "data-quality checks alert: quality.missing_rate on age, quality.duplicate_rows",
    )


@pytest.mark.parametrize(
    ("checks", "breached"),
    [(["out_of_range"], False), (["missing_rate"], True), (["quality.missing_rate"], True)],
)
def test_data_quality_checks_restriction(checks: list[str], breached: bool) -> None:
    run = _run(CheckResult("quality.missing_rate", "age", 0.4, status="alert"))
    assert _outcome(run, "data_quality", checks=checks).breached is breached


def test_data_quality_warnings_do_not_breach() -> None:
    run = _run(CheckResult("quality.missing_rate", "age", 0.4, status="warning"))
    out = _outcome(run, "data_quality")
    assert not out.breached
    assert out.reasons == ("no data-quality check alerts",)


# --- concept drift --------------------------------------------------------------------------

_DETECTORS = {
    "ddm": {"drift": True, "warning": True, "n": 640},
    "adwin": {"drift": False, "warning": False, "n": 640},
}


@pytest.mark.parametrize(
    ("detectors", "breached"), [(None, True), (["ddm"], True), (["adwin"], False)]
)
def test_concept_drift(detectors: list[str] | None, breached: bool) -> None:
    out = _outcome(_run(detectors=_DETECTORS), "concept_drift", detectors=detectors)
    assert out.breached is breached
    if breached:
        assert out.reasons == ("concept drift detected by ddm (n=640)",)
        assert out.details["drifted"] == ["ddm"]
        assert out.details["warning"] == ["ddm"]


def test_concept_drift_without_detectors() -> None:
    out = _outcome(_run(), "concept_drift", detectors=["kswin"])
    assert not out.breached
    assert out.details["missing"] == ["kswin"]


# --- schedule -------------------------------------------------------------------------------


def _schedule(now: datetime, last_trained: datetime | None, **schedule: Any) -> TriggerOutcome:
    policy = PolicyConfig.model_validate({"triggers": {"schedule": schedule}})
    decision = evaluate(policy, [_run()], now=now, last_trained=last_trained)
    assert decision.triggers[0].trigger == "schedule"
    return decision.triggers[0]


@pytest.mark.parametrize(
    ("age", "due"),
    [(timedelta(days=30), True), (timedelta(days=30) - timedelta(seconds=1), False)],
)
def test_schedule_every(age: timedelta, due: bool) -> None:
    out = _schedule(T0, T0 - age, every="30d")
    assert (out.breached, out.fired, out.streak, out.action) == (due, due, int(due), "retrain")
    assert out.details["due_at"] == (T0 - age + timedelta(days=30)).isoformat()
    assert out.details["every"] == "4w2d"


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (datetime(2026, 3, 2, 2, 0, tzinfo=UTC), True),
        (datetime(2026, 3, 2, 1, 59, 59, tzinfo=UTC), False),
    ],
)
def test_schedule_cron_is_read_in_utc(now: datetime, due: bool) -> None:
    # Trained at 03:00 in UTC+1, i.e. on the 02:00 UTC tick itself: the next tick after it is
    # 02:00 UTC the next day.
    trained = datetime(2026, 3, 1, 3, 0, tzinfo=timezone(timedelta(hours=1)))
    out = _schedule(now, trained, cron="0 2 * * *", action="notify")
    assert out.fired is due
    assert out.action == "notify"
    assert out.details["due_at"] == "2026-03-02T02:00:00+00:00"


def test_schedule_cron_weekly() -> None:
    # 2026-03-04 is a Wednesday; the next Monday 00:00 is 2026-03-09.
    trained = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
    out = _schedule(datetime(2026, 3, 9, tzinfo=UTC), trained, cron="0 0 * * 1")
    assert out.fired
    assert out.details["due_at"] == "2026-03-09T00:00:00+00:00"
    assert not _schedule(datetime(2026, 3, 8, 23, 59, tzinfo=UTC), trained, cron="0 0 * * 1").fired


@pytest.mark.parametrize("schedule", [{"every": "1s"}, {"cron": "* * * * *"}])
def test_schedule_without_last_trained_is_never_due(schedule: dict[str, str]) -> None:
    out = _schedule(T0, None, **schedule)
    assert not out.fired
    assert "no training time known" in out.reasons[0]
