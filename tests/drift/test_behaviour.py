"""Statistical behaviour of the default drift decision on the project's churn data.

* exactly the drifted feature columns alert, at 10k, 100k and 1M rows;
* on 200 seeded null windows no column, and no dataset-level check, alerts more often than
  alpha allows (with a binomial allowance, so the test is not flaky by construction);
* at 1M rows a negligible 0.02-SD shift does not alert, a 0.2-SD shift does.
"""

from __future__ import annotations

from collections import Counter

import pytest
from scipy.stats import binom

from watchkeeper import Baseline
from watchkeeper.datasets import churn

DRIFTED = ("monthly_charges", "tenure_months", "contract")
ROLES = {"target": "churned", "prediction": "churn_pred", "prediction_proba": "churn_score"}


def _alerting_features(report) -> set[str]:  # type: ignore[no-untyped-def]
    return {
        str(c.column)
        for c in report.checks
        if c.status == "alert" and c.column is not None and c.details.get("role") == "feature"
    }


@pytest.fixture(scope="module")
def baseline_1m() -> Baseline:
    return Baseline.fit(churn(1_000_000, seed=11), **ROLES)


@pytest.mark.parametrize("n", [10_000, 100_000])
def test_exactly_the_drifted_columns_alert(n: int) -> None:
    baseline = Baseline.fit(churn(n, seed=1), **ROLES)
    report = baseline.compare(churn(n, seed=2, scenario="covariate_drift", drift_columns=DRIFTED))
    assert _alerting_features(report) == set(DRIFTED)
    dataset = next(c for c in report.checks if c.check == "drift.dataset")
    assert dataset.details["n_drifted"] == 3


def test_exactly_the_drifted_columns_alert_at_1m(baseline_1m: Baseline) -> None:
    current = churn(1_000_000, seed=12, scenario="covariate_drift", drift_columns=DRIFTED)
    assert _alerting_features(baseline_1m.compare(current)) == set(DRIFTED)


def test_null_windows_alert_no_more_often_than_alpha() -> None:
    alpha, windows = 0.05, 200
    baseline = Baseline.fit(churn(50_000, seed=100), **ROLES)
    per_check: Counter[str] = Counter()
    any_feature = 0
    for seed in range(windows):
        report = baseline.compare(churn(10_000, seed=1_000 + seed), alpha=alpha)
        alerts = [c for c in report.checks if c.status == "alert"]
        per_check.update(f"{c.check}:{c.column}" for c in alerts)
        any_feature += bool(_alerting_features(report))
    # Holm controls the family-wise error over the features at alpha, so even "any feature
    # alerts" must stay within alpha; allow the binomial 99.9 % quantile for sampling error.
    allowed = int(binom.ppf(0.999, windows, alpha))
    assert any_feature <= allowed
    assert all(count <= allowed for count in per_check.values()), per_check.most_common(5)


def test_negligible_shift_at_1m_does_not_alert_but_a_real_one_does(baseline_1m: Baseline) -> None:
    def status(magnitude: float) -> str:
        window = churn(
            1_000_000,
            seed=13,
            scenario="covariate_drift",
            drift_columns=["monthly_charges"],
            magnitude=magnitude,
        )
        report = baseline_1m.compare(window, checks=["drift.columns"])
        return next(c.status for c in report.checks if c.column == "monthly_charges")

    assert status(0.02) == "ok"
    assert status(0.2) == "alert"


def test_unseen_category_alerts_and_is_named() -> None:
    baseline = Baseline.fit(churn(20_000, seed=3), **ROLES)
    report = baseline.compare(churn(20_000, seed=4, scenario="unseen_category", rate=0.1))
    check = next(c for c in report.checks if c.column == "payment_method")
    assert check.status == "alert"
    assert check.details["unseen_examples"] == {"Crypto": 2_000}
    assert _alerting_features(report) == {"payment_method"}
