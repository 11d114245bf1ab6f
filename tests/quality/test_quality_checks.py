"""Each data-quality check against the defect it exists for, injected into the churn data.

Every test injects exactly one defect into a clean window and asserts that exactly that check
alerts, on exactly that column; the null tests assert that clean windows raise no quality alert.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from watchkeeper import Baseline
from watchkeeper.datasets import churn
from watchkeeper.errors import InvalidParameterError, UnknownMethodError
from watchkeeper.monitor.report import Report

ROLES = {"target": "churned", "prediction": "churn_pred", "prediction_proba": "churn_score"}
N = 5_000


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return Baseline.fit(churn(20_000, seed=1), **ROLES, reference_chunks=0)


@pytest.fixture
def window() -> pd.DataFrame:
    return churn(N, seed=2)


def _rows(fraction: float, seed: int = 0, n: int = N) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.choice(n, size=round(fraction * n), replace=False)


def _quality_alerts(report: Report) -> set[tuple[str, str | None]]:
    return {(c.check, c.column) for c in report.checks if c.status == "alert"}


def _check(report: Report, check: str, column: str | None = None):  # type: ignore[no-untyped-def]
    return next(c for c in report.checks if c.check == check and c.column == column)


def test_clean_windows_raise_no_quality_alert(baseline: Baseline) -> None:
    for seed in range(20):
        report = baseline.compare(churn(N, seed=100 + seed), checks=["quality"])
        assert _quality_alerts(report) == set(), seed


def test_clean_window_reports_every_check(baseline: Baseline, window: pd.DataFrame) -> None:
    report = baseline.compare(window, checks=["quality"])
    names = {c.check for c in report.checks}
    assert names == {
        "quality.missing_rate",
        "quality.non_finite",
        "quality.outlier_rate",
        "quality.out_of_range",
        "quality.type_violations",
        "quality.constant",
        "quality.unseen_categories",
        "quality.cardinality",
        "quality.missing_columns",
        "quality.unexpected_columns",
        "quality.duplicate_rows",
        "quality.empty_window",
    }
    assert {c.family for c in report.checks} == {"quality"}
    # Long-tailed columns have several percent of IQR outliers in the reference itself: the
    # expectation is the reference's own rate, so the clean window is ok.
    tail = _check(report, "quality.outlier_rate", "avg_session_minutes")
    assert tail.reference_value > 0.02
    assert tail.status == "ok"


def test_missing_values(baseline: Baseline, window: pd.DataFrame) -> None:
    window["age"] = window["age"].astype("float64")
    window.loc[_rows(0.15), "age"] = np.nan
    report = baseline.compare(window, checks=["quality"])
    assert _quality_alerts(report) == {("quality.missing_rate", "age")}
    c = _check(report, "quality.missing_rate", "age")
    assert c.value == pytest.approx(0.15)
    assert c.reference_value == 0.0
    assert c.threshold == pytest.approx(0.05)
    assert c.details["count"] == round(0.15 * N)


def test_missing_values_within_the_margin_only_warn(
    baseline: Baseline, window: pd.DataFrame
) -> None:
    window["age"] = window["age"].astype("float64")
    window.loc[_rows(0.035), "age"] = np.nan
    report = baseline.compare(window, checks=["quality.missing_rate"])
    assert _check(report, "quality.missing_rate", "age").status == "warning"
    assert _quality_alerts(report) == set()


def test_outliers(baseline: Baseline, window: pd.DataFrame) -> None:
    # Beyond the IQR fence but inside the reference range: outliers, not out of range.
    ref = baseline.profile("avg_session_minutes")
    high_fence = _check(
        baseline.compare(window, checks=["quality.outlier_rate"]),
        "quality.outlier_rate",
        "avg_session_minutes",
    ).details["high_fence"]
    value = (high_fence + float(ref.sorted[-1])) / 2
    window.loc[_rows(0.06), "avg_session_minutes"] = value
    report = baseline.compare(window, checks=["quality"])
    assert _quality_alerts(report) == {("quality.outlier_rate", "avg_session_minutes")}
    c = _check(report, "quality.outlier_rate", "avg_session_minutes")
    assert value in c.details["examples"]
    assert c.details["above"] > c.details["below"]


def test_zscore_rule(baseline: Baseline, window: pd.DataFrame) -> None:
    report = baseline.compare(
        window, checks=["quality.outlier_rate"], quality={"outlier_rule": "zscore", "z": 2.0}
    )
    c = _check(report, "quality.outlier_rate", "age")
    prof = baseline.profile("age")
    assert c.details["low_fence"] == pytest.approx(prof.mean - 2 * prof.std)
    assert c.details["rule"] == "zscore"


def test_out_of_range(baseline: Baseline, window: pd.DataFrame) -> None:
    # tenure is 0-72 in the reference; 73-80 is beyond its range but inside the IQR fences.
    rows = _rows(0.03)
    window.loc[rows, "tenure_months"] = 73 + (np.arange(rows.size) % 8)
    report = baseline.compare(window, checks=["quality"])
    assert _quality_alerts(report) == {("quality.out_of_range", "tenure_months")}
    c = _check(report, "quality.out_of_range", "tenure_months")
    assert (c.details["low"], c.details["high"]) == (0.0, 72.0)
    assert c.details["above"] == rows.size
    assert c.reference_value == pytest.approx(2 / (20_000 + 1))


def test_out_of_range_with_declared_bounds(baseline: Baseline, window: pd.DataFrame) -> None:
    # Ages above 80 exist in the reference; their share there is the expectation.
    report = baseline.compare(
        window, checks=["quality.out_of_range"], quality={"bounds": {"age": (18, 80)}}
    )
    clean = _check(report, "quality.out_of_range", "age")
    assert clean.status == "ok"
    assert clean.reference_value > 0
    window.loc[_rows(0.05), "age"] = 85
    report = baseline.compare(
        window, checks=["quality.out_of_range"], quality={"bounds": {"age": (18, 80)}}
    )
    assert _quality_alerts(report) == {("quality.out_of_range", "age")}
    assert _check(report, "quality.out_of_range", "age").details["source"] == "declared bounds"


def test_infinite_values(baseline: Baseline, window: pd.DataFrame) -> None:
    window.loc[_rows(0.002), "monthly_charges"] = np.inf
    report = baseline.compare(window, checks=["quality"])
    assert _quality_alerts(report) == {("quality.non_finite", "monthly_charges")}
    assert _check(report, "quality.non_finite", "monthly_charges").details["count"] == 10


def test_unseen_categories(baseline: Baseline) -> None:
    window = churn(N, seed=2, scenario="unseen_category", column="payment_method", rate=0.05)
    report = baseline.compare(window, checks=["quality"])
    assert _quality_alerts(report) == {("quality.unseen_categories", "payment_method")}
    c = _check(report, "quality.unseen_categories", "payment_method")
    assert c.value == pytest.approx(250 / c.n)
    assert c.details["examples"] == {"Crypto": 250}


def test_cardinality_explosion(baseline: Baseline, window: pd.DataFrame) -> None:
    # 15 rows, each a new region: few rows (unseen share 0.3 %, below the margin) but the
    # number of distinct values more than doubles.
    rows = _rows(0.003)
    window.loc[rows, "region"] = [f"R-{i}" for i in range(rows.size)]
    report = baseline.compare(window, checks=["quality"])
    assert _quality_alerts(report) == {("quality.cardinality", "region")}
    c = _check(report, "quality.cardinality", "region")
    assert (c.value, c.reference_value, c.threshold) == (27, 12, 24)


def test_type_violations(baseline: Baseline, window: pd.DataFrame) -> None:
    window["age"] = window["age"].astype(object)
    window.loc[_rows(0.02), "age"] = "unknown"
    report = baseline.compare(window, checks=["quality"])
    assert _quality_alerts(report) == {("quality.type_violations", "age")}
    c = _check(report, "quality.type_violations", "age")
    assert c.details["examples"] == ["unknown"]
    assert c.details["count"] == 100
    # The text was read as missing, but it is not counted as missing.
    assert _check(report, "quality.missing_rate", "age").details["count"] == 0


def test_numbers_as_strings_are_a_dtype_warning(baseline: Baseline, window: pd.DataFrame) -> None:
    window["age"] = window["age"].astype(str)
    report = baseline.compare(window, checks=["quality"])
    c = _check(report, "quality.type_violations", "age")
    assert c.status == "warning"
    assert (c.details["dtype"], c.details["reference_dtype"]) == ("string", "numeric")
    assert _quality_alerts(report) == set()


def test_constant_numeric_column(baseline: Baseline, window: pd.DataFrame) -> None:
    window["num_products"] = 1
    report = baseline.compare(window, checks=["quality"])
    assert _quality_alerts(report) == {("quality.constant", "num_products")}
    c = _check(report, "quality.constant", "num_products")
    assert c.value == 1.0
    assert c.details["top_value"] == 1.0


def test_constant_categorical_column(baseline: Baseline, window: pd.DataFrame) -> None:
    window["internet_service"] = "DSL"
    report = baseline.compare(window, checks=["quality"])
    assert _quality_alerts(report) == {("quality.constant", "internet_service")}


def test_missing_column(baseline: Baseline, window: pd.DataFrame) -> None:
    report = baseline.compare(window.drop(columns=["age"]), checks=["quality"])
    assert _quality_alerts(report) == {("quality.missing_columns", None)}
    c = _check(report, "quality.missing_columns")
    assert c.details["columns"] == ["age"]
    # Duplicates are judged over every hashed column; without one of them, they are skipped.
    assert _check(report, "quality.duplicate_rows").status == "skipped"


def test_unexpected_column(baseline: Baseline, window: pd.DataFrame) -> None:
    window["discount_code"] = "X"
    report = baseline.compare(window, checks=["quality"])
    assert _quality_alerts(report) == {("quality.unexpected_columns", None)}
    assert _check(report, "quality.unexpected_columns").details["columns"] == ["discount_code"]


def test_duplicate_rows(baseline: Baseline, window: pd.DataFrame) -> None:
    doubled = pd.concat([window, window.iloc[:250]], ignore_index=True)
    report = baseline.compare(doubled, checks=["quality"])
    assert _quality_alerts(report) == {("quality.duplicate_rows", None)}
    c = _check(report, "quality.duplicate_rows")
    assert c.details["count"] == 250
    assert c.value == pytest.approx(250 / 5_250)


def test_empty_window(baseline: Baseline, window: pd.DataFrame) -> None:
    report = baseline.compare(window.iloc[:0])
    assert [(c.check, c.status) for c in report.checks] == [("quality.empty_window", "alert")]
    with pytest.raises(Exception, match="no rows"):
        baseline.compare(window.iloc[:0], checks=["drift"])


def test_margins_per_column_and_kind(baseline: Baseline, window: pd.DataFrame) -> None:
    window["age"] = window["age"].astype("float64")
    window.loc[_rows(0.15), "age"] = np.nan
    per_column = {"overrides": {"age": {"missing_rate": 0.2}}}
    report = baseline.compare(window, checks=["quality.missing_rate"], quality=per_column)
    assert _check(report, "quality.missing_rate", "age").status == "warning"
    per_kind = {"overrides": {"numeric": {"missing_rate": 0.5}}}
    report = baseline.compare(window, checks=["quality.missing_rate"], quality=per_kind)
    assert _check(report, "quality.missing_rate", "age").status == "ok"
    both = {"overrides": {"numeric": {"missing_rate": 0.5}, "age": {"missing_rate": 0.01}}}
    report = baseline.compare(window, checks=["quality.missing_rate"], quality=both)
    assert _check(report, "quality.missing_rate", "age").status == "alert"
    report = baseline.compare(
        window, checks=["quality.missing_rate"], quality={"margins": {"missing_rate": 0.3}}
    )
    assert _check(report, "quality.missing_rate", "age").threshold == pytest.approx(0.3)


def test_bad_quality_options(baseline: Baseline, window: pd.DataFrame) -> None:
    with pytest.raises(UnknownMethodError, match="unknown rate 'missing'"):
        baseline.compare(window, quality={"margins": {"missing": 0.1}})
    with pytest.raises(InvalidParameterError, match="'nope', which is not a column"):
        baseline.compare(window, quality={"overrides": {"nope": {"missing_rate": 0.1}}})
    with pytest.raises(InvalidParameterError, match="Unknown quality option"):
        baseline.compare(window, quality={"marginz": {}})
    with pytest.raises(InvalidParameterError, match=r"bounds\['age'\]: low 9 is above high 1"):
        baseline.compare(window, quality={"bounds": {"age": (9, 1)}})
    with pytest.raises(InvalidParameterError, match="'iqr_k' parameter"):
        baseline.compare(window, quality={"iqr_k": -1})


def test_quality_survives_save_and_load(baseline: Baseline, window: pd.DataFrame, tmp_path) -> None:  # type: ignore[no-untyped-def]
    doubled = pd.concat([window, window.iloc[:250]], ignore_index=True)
    loaded = Baseline.load(baseline.save(tmp_path / "b.npz"))
    assert (
        loaded.compare(doubled, checks=["quality"]).to_dict()["checks"]
        == baseline.compare(doubled, checks=["quality"]).to_dict()["checks"]
    )


def test_tiny_windows_are_not_called_constant(baseline: Baseline, window: pd.DataFrame) -> None:
    report = baseline.compare(window.iloc[:1], checks=["quality"])
    assert _quality_alerts(report) == set()
    constant = _check(report, "quality.constant", "monthly_charges")
    assert constant.status == "skipped"


def test_quality_checks_are_holm_corrected_over_the_window(
    baseline: Baseline, window: pd.DataFrame
) -> None:
    report = baseline.compare(window, checks=["quality"])
    tested = [c for c in report.checks if c.details.get("correction") == "holm"]
    assert len(tested) > 50
    assert all(c.p_value >= c.details["p_value_raw"] for c in tested)
    assert {c.details["family"] for c in tested} == {len(tested)}


def test_segments_share_the_significance_level() -> None:
    from scipy.stats import binom

    windows, alerted = 0, 0
    for seed in range(3):
        b = Baseline.fit(
            churn(20_000, seed=seed),
            **ROLES,
            segments=["contract", "region"],
            reference_chunks=0,
            multivariate=(),
        )
        for w in range(5):
            report = b.compare(churn(2_000, seed=1_000 + 10 * seed + w), checks=["quality"])
            assert report.metadata["segment_alpha_divisor"] == len(report.metadata["segments"])
            windows += 1
            alerted += any(c.status == "alert" and c.segment for c in report.checks)
    # Holm within a window and Bonferroni over its segments: at most alpha (0.01) per window.
    assert alerted <= int(binom.ppf(0.999, windows, 0.01))
