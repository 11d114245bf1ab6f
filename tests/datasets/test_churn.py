"""The synthetic churn table: shape, determinism, distributions and scenarios."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency, ks_2samp, skew
from sklearn.metrics import roc_auc_score

import watchkeeper.datasets as datasets
from watchkeeper.datasets import (
    CHURN_LEVELS,
    CHURN_REFERENCE_SD,
    CHURN_SCENARIOS,
    churn,
    churn_schema_hints,
)
from watchkeeper.errors import InvalidParameterError, UnknownMethodError

N = 200_000
HINTS = churn_schema_hints()
NUMERIC = HINTS.numeric
CATEGORICAL = HINTS.categorical
COLUMNS = [
    "customer_id", "event_time", "tenure_months", "contract", "monthly_charges",
    "total_charges", "internet_service", "num_products", "payment_method",
    "paperless_billing", "support_calls", "support_wait_minutes", "avg_session_minutes",
    "age", "region", "city", "plan_code", "churned", "churn_score", "churn_pred",
]  # fmt: skip


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return churn(N, seed=1)


@pytest.fixture(scope="module")
def ref_other_seed() -> pd.DataFrame:
    return churn(N, seed=2)


def _ks_p(a: pd.Series, b: pd.Series) -> float:
    return float(ks_2samp(a.dropna().to_numpy(float), b.dropna().to_numpy(float)).pvalue)


def _chi2_p(a: pd.Series, b: pd.Series) -> float:
    counts = pd.concat([a.value_counts(dropna=False), b.value_counts(dropna=False)], axis=1).fillna(
        0
    )
    return float(chi2_contingency(counts.to_numpy()).pvalue)


def _untouched_p(a: pd.DataFrame, b: pd.DataFrame, column: str) -> float:
    if column in CATEGORICAL or column == "paperless_billing":
        return _chi2_p(a[column], b[column])
    return _ks_p(a[column], b[column])


# -- shape, dtypes, determinism ---------------------------------------------------------------


def test_exported_members() -> None:
    assert set(datasets.__all__) == {
        "CHURN_FEATURES",
        "CHURN_LEVELS",
        "CHURN_REFERENCE_SD",
        "CHURN_SCENARIOS",
        "ChurnSchemaHints",
        "churn",
        "churn_schema_hints",
        "retrain_churn_model",
        "train_churn_model",
    }


def test_columns_and_dtypes(ref: pd.DataFrame) -> None:
    assert list(ref.columns) == COLUMNS
    assert ref.shape == (N, 20)
    assert isinstance(ref.index, pd.RangeIndex)
    for column in (*CATEGORICAL, "customer_id"):
        assert ref[column].dtype == pd.Series(["a"]).dtype, column  # pandas' default string
    for column in ("monthly_charges", "total_charges", "avg_session_minutes"):
        assert ref[column].dtype == np.float64
    assert ref["support_wait_minutes"].dtype == np.float64
    assert ref["churn_score"].dtype == np.float64
    for column in (*HINTS.integer, "churned", "churn_pred"):
        assert ref[column].dtype == np.int64, column
    assert ref["paperless_billing"].dtype == np.bool_
    assert ref["event_time"].dtype == "datetime64[ns]"


def test_as_category_gives_the_same_values_as_categories() -> None:
    plain = churn(5_000, seed=3)
    cat = churn(5_000, seed=3, as_category=True)
    for column in CATEGORICAL:
        assert isinstance(cat[column].dtype, pd.CategoricalDtype)
        assert list(cat[column].cat.categories) == list(CHURN_LEVELS[column])
        pd.testing.assert_series_equal(
            cat[column].astype(object), plain[column].astype(object), check_dtype=False
        )
    others = [c for c in COLUMNS if c not in CATEGORICAL]
    pd.testing.assert_frame_equal(cat[others], plain[others])


@pytest.mark.parametrize("scenario", CHURN_SCENARIOS)
def test_same_seed_gives_identical_frame(scenario: str) -> None:
    pd.testing.assert_frame_equal(
        churn(3_000, seed=11, scenario=scenario), churn(3_000, seed=11, scenario=scenario)
    )


def test_different_seeds_give_different_frames() -> None:
    a, b = churn(1_000, seed=0), churn(1_000, seed=1)
    assert not a["monthly_charges"].equals(b["monthly_charges"])
    assert set(a["customer_id"]).isdisjoint(b["customer_id"])


def test_numpy_integer_arguments_and_a_single_row() -> None:
    df = churn(np.int64(1), seed=np.int32(5))  # type: ignore[arg-type]
    assert df.shape == (1, 20)


# -- ranges, levels, missing values, target ---------------------------------------------------


def test_ranges(ref: pd.DataFrame) -> None:
    assert ref["tenure_months"].between(0, 72).all()
    assert ref["monthly_charges"].between(18.25, 118.75).all()
    assert (ref["total_charges"].dropna() >= 0).all()
    assert ref["num_products"].between(1, 6).all()
    assert ref["age"].between(18, 90).all()
    assert (ref["support_calls"] >= 0).all()
    assert (ref["support_wait_minutes"] >= 0).all()
    assert ((ref["support_wait_minutes"] == 0) == (ref["support_calls"] == 0)).all()
    assert (ref["avg_session_minutes"].dropna() > 0).all()
    assert skew(ref["avg_session_minutes"].dropna().to_numpy()) > 2  # lognormal: long tail
    assert set(ref["churned"].unique()) == {0, 1}
    assert ref["churn_score"].between(0, 1, inclusive="neither").all()
    assert (ref["churn_pred"] == (ref["churn_score"] >= 0.5)).all()
    assert ref["customer_id"].is_unique
    assert ref["customer_id"].str.fullmatch(r"C\d{10}").all()


def test_total_charges_is_tenure_times_monthly(ref: pd.DataFrame) -> None:
    ratio = ref["total_charges"] / (ref["tenure_months"] * ref["monthly_charges"])
    assert ratio.dropna().between(0.7, 1.4).all()
    assert ref.loc[ref["tenure_months"] == 0, "total_charges"].isna().all()


def test_event_time_is_sorted_within_the_window() -> None:
    df = churn(10_000, seed=4, start="2025-03-01", days=7)
    times = df["event_time"]
    assert times.is_monotonic_increasing
    assert times.min() >= pd.Timestamp("2025-03-01")
    assert times.max() < pd.Timestamp("2025-03-08")
    per_day = times.dt.floor("D").value_counts()
    assert len(per_day) == 7
    assert per_day.between(0.85 * 10_000 / 7, 1.15 * 10_000 / 7).all()  # uniform in time


def test_event_time_keeps_the_time_zone_of_start() -> None:
    df = churn(100, start=pd.Timestamp("2024-06-01", tz="Europe/Paris"))
    assert str(df["event_time"].dt.tz) == "Europe/Paris"
    assert df["event_time"].min() >= pd.Timestamp("2024-06-01", tz="Europe/Paris")


def test_levels(ref: pd.DataFrame) -> None:
    for column in CATEGORICAL:
        seen = set(ref[column].dropna().unique())
        assert seen <= set(CHURN_LEVELS[column]), column
    assert len(CHURN_LEVELS["city"]) == 300
    assert len(set(CHURN_LEVELS["city"])) == 300
    assert len(CHURN_LEVELS["plan_code"]) == 40
    assert len(CHURN_LEVELS["region"]) == 12
    assert set(ref["internet_service"].unique()) == {"Fiber optic", "DSL", "No"}
    city = ref["city"].value_counts(normalize=True)
    assert len(city) > 250
    assert city.iloc[0] > 0.15
    assert city.iloc[:10].sum() > 0.4  # Zipf: a few cities hold most of the rows
    assert ref.groupby("city")["region"].nunique().max() == 1  # each city lies in one region


def test_missing_value_rates(ref: pd.DataFrame) -> None:
    rates = ref.isna().mean()
    assert rates["total_charges"] == pytest.approx(0.0215, abs=0.002)
    assert rates["avg_session_minutes"] == pytest.approx(0.03, abs=0.002)
    assert rates["payment_method"] == pytest.approx(0.02, abs=0.002)
    with_missing = {"total_charges", "avg_session_minutes", "payment_method"}
    assert (rates.drop(list(with_missing)) == 0).all()


def test_target_rate_and_score_quality(ref: pd.DataFrame) -> None:
    assert ref["churned"].mean() == pytest.approx(0.265, abs=0.005)
    assert roc_auc_score(ref["churned"], ref["churn_score"]) == pytest.approx(0.80, abs=0.015)
    # the target is driven by the features: month-to-month customers churn more
    by_contract = ref.groupby("contract")["churned"].mean()
    assert by_contract["Month-to-month"] > 2 * by_contract["Two year"]


def test_reference_sd_matches_a_large_sample(ref: pd.DataFrame) -> None:
    for column in NUMERIC:
        sample_sd = ref[column].dropna().std()
        assert sample_sd == pytest.approx(CHURN_REFERENCE_SD[column], rel=0.02), column


def test_schema_hints_cover_every_column(ref: pd.DataFrame) -> None:
    assert HINTS.roles == {
        "id": "customer_id",
        "timestamp": "event_time",
        "target": "churned",
        "prediction": "churn_pred",
        "prediction_proba": "churn_score",
    }
    assert sorted([*HINTS.roles.values(), *HINTS.features]) == sorted(ref.columns)
    assert set(HINTS.features) == {*HINTS.numeric, *HINTS.categorical, *HINTS.boolean}
    assert set(HINTS.integer) < set(HINTS.numeric)


# -- "none": two seeds, one distribution ------------------------------------------------------


def test_two_seeds_have_close_marginals(ref: pd.DataFrame, ref_other_seed: pd.DataFrame) -> None:
    for column in NUMERIC:
        a, b = ref[column].dropna(), ref_other_seed[column].dropna()
        standard_error = CHURN_REFERENCE_SD[column] * math.sqrt(1 / len(a) + 1 / len(b))
        assert abs(a.mean() - b.mean()) < 4.5 * standard_error, column
    for column in (*HINTS.features, "churned", "churn_score"):
        assert _untouched_p(ref, ref_other_seed, column) > 0.001, column


# -- covariate drift --------------------------------------------------------------------------


@pytest.mark.parametrize("magnitude", [0.02, 0.2, 0.5, -0.3, 2.0])
def test_covariate_drift_shifts_float_columns_exactly(ref: pd.DataFrame, magnitude: float) -> None:
    columns = ["monthly_charges", "total_charges", "support_wait_minutes", "avg_session_minutes"]
    cur = churn(N, seed=1, scenario="covariate_drift", drift_columns=columns, magnitude=magnitude)
    for column in columns:
        shift = (cur[column] - ref[column]).dropna()
        expected = magnitude * CHURN_REFERENCE_SD[column]
        np.testing.assert_allclose(shift.to_numpy(), expected, rtol=1e-9, atol=1e-9)
        assert cur[column].isna().equals(ref[column].isna())


@pytest.mark.parametrize("magnitude", [0.02, 0.2, 0.5, -0.3])
def test_covariate_drift_shifts_integer_columns_by_the_magnitude_on_average(
    ref: pd.DataFrame, magnitude: float
) -> None:
    columns = list(HINTS.integer)
    cur = churn(N, seed=1, scenario="covariate_drift", drift_columns=columns, magnitude=magnitude)
    for column in columns:
        expected = magnitude * CHURN_REFERENCE_SD[column]
        shift = cur[column] - ref[column]
        assert cur[column].dtype == np.int64
        assert set(shift.unique()) <= {math.floor(expected), math.floor(expected) + 1}
        # a Bernoulli(frac) per row: the mean shift is exact up to its sampling error
        assert shift.mean() == pytest.approx(expected, abs=4 * 0.5 / math.sqrt(N)), column


@pytest.mark.parametrize("magnitude", [0.02, 0.2, 0.5])
def test_covariate_drift_moves_the_mean_against_an_independent_reference(
    ref_other_seed: pd.DataFrame, magnitude: float
) -> None:
    columns = ["monthly_charges", "tenure_months", "age", "avg_session_minutes"]
    cur = churn(N, seed=3, scenario="covariate_drift", drift_columns=columns, magnitude=magnitude)
    for column in columns:
        a, b = ref_other_seed[column].dropna(), cur[column].dropna()
        sd = CHURN_REFERENCE_SD[column]
        standard_error = sd * math.sqrt(1 / len(a) + 1 / len(b))
        assert b.mean() - a.mean() == pytest.approx(magnitude * sd, abs=4.5 * standard_error)


def test_covariate_drift_leaves_the_other_features_unchanged(
    ref: pd.DataFrame, ref_other_seed: pd.DataFrame
) -> None:
    drifted = ("monthly_charges", "tenure_months", "contract")
    cur = churn(N, seed=2, scenario="covariate_drift")  # the defaults
    same_seed = churn(N, seed=1, scenario="covariate_drift")
    for column in HINTS.features:
        if column in drifted:
            assert _untouched_p(ref_other_seed, cur, column) < 1e-12, column
            continue
        # identical values to "none" with the same seed, same distribution as another seed
        pd.testing.assert_series_equal(same_seed[column], ref[column])
        assert _untouched_p(ref, cur, column) > 0.001, column
    pd.testing.assert_series_equal(same_seed["customer_id"], ref["customer_id"])
    pd.testing.assert_series_equal(same_seed["event_time"], ref["event_time"])


def test_covariate_drift_of_a_categorical_moves_mass_between_levels(ref: pd.DataFrame) -> None:
    cur = churn(N, seed=1, scenario="covariate_drift", drift_columns=["contract"], magnitude=0.5)
    p = ref["contract"].value_counts(normalize=True)[list(CHURN_LEVELS["contract"])].to_numpy()
    observed = cur["contract"].value_counts(normalize=True)[list(CHURN_LEVELS["contract"])]
    expected = 0.5 * np.array([0.55, 0.21, 0.24]) + 0.5 * np.array([0.24, 0.21, 0.55])
    np.testing.assert_allclose(observed.to_numpy(), expected, atol=0.005)
    assert 0.5 * np.abs(observed.to_numpy() - p).sum() > 0.1  # clearly visible
    assert (cur["contract"] != ref["contract"]).mean() < 0.5


def test_covariate_drift_of_a_boolean_swaps_mass(ref: pd.DataFrame) -> None:
    cur = churn(N, seed=1, scenario="covariate_drift", drift_columns="paperless_billing")
    assert ref["paperless_billing"].mean() == pytest.approx(0.59, abs=0.005)
    assert cur["paperless_billing"].mean() == pytest.approx(0.5, abs=0.005)
    assert cur["paperless_billing"].dtype == np.bool_


def test_covariate_drift_moves_targets_only_through_model_features(ref: pd.DataFrame) -> None:
    outside = churn(N, seed=1, scenario="covariate_drift", drift_columns=["city", "age"])
    for column in ("churned", "churn_score", "churn_pred", "region"):
        pd.testing.assert_series_equal(outside[column], ref[column])
    inside = churn(N, seed=1, scenario="covariate_drift", drift_columns=["monthly_charges"])
    assert inside["churn_score"].mean() > ref["churn_score"].mean()
    assert inside["churned"].mean() > ref["churned"].mean()


# -- the other scenarios ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "column", "value"),
    [
        ({}, "payment_method", "Crypto"),
        ({"rate": 0.2, "column": "city", "unseen_value": "Atlantis"}, "city", "Atlantis"),
        ({"rate": 0.001, "column": "contract"}, "contract", "Unseen"),
    ],
)
def test_unseen_category_at_the_requested_rate(
    ref: pd.DataFrame, options: dict[str, Any], column: str, value: str
) -> None:
    cur = churn(N, seed=1, scenario="unseen_category", **options)
    rate = options.get("rate", 0.05)
    assert (cur[column] == value).sum() == round(rate * N)
    assert value not in set(ref[column].dropna())
    changed = cur[column].ne(ref[column]) & ~(cur[column].isna() & ref[column].isna())
    assert (cur.loc[changed, column] == value).all()
    others = [c for c in COLUMNS if c != column]
    pd.testing.assert_frame_equal(cur[others], ref[others])


def test_unseen_category_with_category_dtype() -> None:
    cur = churn(1_000, seed=1, scenario="unseen_category", rate=0.1, as_category=True)
    assert "Crypto" in cur["payment_method"].cat.categories
    assert (cur["payment_method"] == "Crypto").sum() == 100


def test_concept_drift_changes_only_the_target(ref: pd.DataFrame) -> None:
    cur = churn(N, seed=1, scenario="concept_drift")
    unchanged = [c for c in COLUMNS if c != "churned"]
    pd.testing.assert_frame_equal(cur[unchanged], ref[unchanged])
    assert (cur["churned"] != ref["churned"]).mean() > 0.1
    assert roc_auc_score(cur["churned"], cur["churn_score"]) < 0.70
    assert roc_auc_score(ref["churned"], ref["churn_score"]) > 0.78
    half = churn(N, seed=1, scenario="concept_drift", magnitude=0.5)
    auc_half = roc_auc_score(half["churned"], half["churn_score"])
    assert roc_auc_score(cur["churned"], cur["churn_score"]) < auc_half < 0.78


def test_quality_incident(ref: pd.DataFrame) -> None:
    rate = 0.1
    cur = churn(N, seed=1, scenario="quality_incident", rate=rate)
    tol = 4 * math.sqrt(rate * (1 - rate) / N)
    new_missing = cur["monthly_charges"].isna().mean()
    assert new_missing == pytest.approx(rate, abs=tol)
    assert cur["contract"].isna().mean() == pytest.approx(rate, abs=tol)
    assert (cur["age"] == -1).mean() == pytest.approx(rate, abs=tol)
    assert (cur["total_charges"] < 0).mean() == pytest.approx(rate * 0.9785, abs=tol)
    scaled = cur["support_wait_minutes"] == 60 * ref["support_wait_minutes"]
    assert (scaled & (ref["support_wait_minutes"] > 0)).mean() > 0.5 * rate
    untouched = ["churned", "churn_score", "churn_pred", "city", "tenure_months"]
    pd.testing.assert_frame_equal(cur[untouched], ref[untouched])


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, -5, 1.5, True, "10", None])
def test_invalid_n(n: Any) -> None:
    with pytest.raises(InvalidParameterError, match=r"'n' parameter of churn must be an int >= 1"):
        churn(n)


@pytest.mark.parametrize("seed", [-1, 0.5, False])
def test_invalid_seed(seed: Any) -> None:
    with pytest.raises(InvalidParameterError, match=r"'seed' parameter .* int >= 0"):
        churn(10, seed=seed)


def test_unknown_scenario_lists_the_valid_names() -> None:
    with pytest.raises(UnknownMethodError, match=r"'drift'.*'none', 'covariate_drift'"):
        churn(10, scenario="drift")


@pytest.mark.parametrize(
    ("scenario", "options", "match"),
    [
        ("none", {"magnitude": 0.5}, r"'magnitude' option .* 'covariate_drift' or 'concept"),
        ("none", {"rate": 0.1}, r"'rate' option"),
        ("concept_drift", {"drift_columns": ["age"]}, r"'drift_columns' option"),
        ("covariate_drift", {"column": "city"}, r"'column' option"),
        ("quality_incident", {"unseen_value": "x"}, r"'unseen_value' option"),
        ("covariate_drift", {"drift_columns": ["nope"]}, r"'drift_columns' .* Got \['nope'\]"),
        ("covariate_drift", {"drift_columns": ["churned"]}, r"'drift_columns'"),
        ("covariate_drift", {"drift_columns": []}, r"'drift_columns'"),
        ("covariate_drift", {"drift_columns": ["age", "age"]}, r"distinct"),
        ("covariate_drift", {"magnitude": math.nan}, r"'magnitude' .* finite number"),
        ("covariate_drift", {"magnitude": math.inf}, r"'magnitude'"),
        ("covariate_drift", {"magnitude": "big"}, r"'magnitude'"),
        ("covariate_drift", {"drift_columns": "city", "magnitude": 1.5}, r"\[-1, 1\]"),
        ("unseen_category", {"rate": -0.1}, r"'rate' .* in \[0, 1\]. Got -0.1"),
        ("quality_incident", {"rate": 1.5}, r"'rate'"),
        ("unseen_category", {"column": "age"}, r"'column' .* string columns"),
        ("unseen_category", {"unseen_value": "Mailed check"}, r"'unseen_value'"),
        ("unseen_category", {"unseen_value": ""}, r"'unseen_value'"),
        ("none", {"days": 0}, r"'days'"),
        ("none", {"start": "not a date"}, r"'start'"),
    ],
)
def test_invalid_options(scenario: str, options: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        churn(10, scenario=scenario, **options)


def test_a_large_magnitude_is_allowed_for_numeric_columns() -> None:
    df = churn(100, scenario="covariate_drift", drift_columns=["age"], magnitude=3.0)
    assert df["age"].max() > 90  # a location shift may leave the reference range
