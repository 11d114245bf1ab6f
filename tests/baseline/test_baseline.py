"""The prepared-reference path agrees with the raw statistics, and a baseline round-trips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from watchkeeper import Baseline, stats
from watchkeeper.datasets import churn
from watchkeeper.errors import SerializationError


def _clean(values: pd.Series) -> np.ndarray:
    arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
    return arr[np.isfinite(arr)]


@pytest.mark.parametrize("seed", range(5))
def test_numeric_checks_equal_raw_functions(seed: int) -> None:
    ref = churn(3_000, seed=seed)
    cur = churn(2_500, seed=seed + 50, scenario="covariate_drift", magnitude=0.3)
    report = Baseline.fit(ref, multivariate=()).compare(cur, correction="none")
    for col in ("monthly_charges", "tenure_months", "total_charges", "avg_session_minutes"):
        check = next(c for c in report.checks if c.column == col)
        r, c = _clean(ref[col]), _clean(cur[col])
        ks = stats.ks(r, c)
        assert check.details["statistic"] == pytest.approx(ks.statistic, rel=1e-12)
        assert check.p_value == pytest.approx(ks.p_value, rel=1e-9)
        w = stats.wasserstein(r, c, normalize=True).statistic
        assert check.value == pytest.approx(w, rel=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_categorical_checks_equal_raw_functions(seed: int) -> None:
    ref = churn(3_000, seed=seed)
    cur = churn(2_500, seed=seed + 50, scenario="unseen_category", rate=0.03)
    report = Baseline.fit(ref, multivariate=()).compare(cur, correction="none")
    for col in ("payment_method", "city", "contract"):
        check = next(c for c in report.checks if c.column == col)
        r = ref[col].dropna().astype(str).to_numpy()
        c = cur[col].dropna().astype(str).to_numpy()
        assert check.p_value == pytest.approx(stats.chi2(r, c).p_value, rel=1e-9)
        js = stats.jensen_shannon(r, c, eps=1e-4).statistic
        assert check.value == pytest.approx(js, rel=1e-9)


@pytest.mark.parametrize("method", ["psi", "kl", "jensen_shannon", "hellinger"])
def test_binned_numeric_methods_equal_raw_functions(method: str) -> None:
    ref, cur = churn(4_000, seed=1), churn(4_000, seed=2, scenario="covariate_drift")
    report = Baseline.fit(ref, multivariate=()).compare(cur, methods={"numeric": method})
    check = next(c for c in report.checks if c.column == "monthly_charges")
    raw = getattr(stats, method)(_clean(ref["monthly_charges"]), _clean(cur["monthly_charges"]))
    assert check.value == pytest.approx(raw.statistic, rel=1e-9)


def test_save_load_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ref = churn(5_000, seed=5)
    cur = churn(3_000, seed=6, scenario="covariate_drift")
    baseline = Baseline.fit(ref, target="churned", prediction_proba="churn_score")
    path = baseline.save(tmp_path / "churn")
    assert path.name == "churn.npz"
    assert [p.name for p in tmp_path.iterdir()] == ["churn.npz"]  # no temporary left behind
    loaded = Baseline.load(path)
    assert loaded.schema == baseline.schema
    before = baseline.compare(cur).to_dict()["checks"]
    after = loaded.compare(cur).to_dict()["checks"]
    assert after == before


def test_load_rejects_non_baselines(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bogus = tmp_path / "x.npz"
    np.savez(bogus, a=np.arange(3))
    with pytest.raises(SerializationError, match="not a watchkeeper baseline"):
        Baseline.load(bogus)
    with pytest.raises(SerializationError, match="Cannot read baseline file"):
        Baseline.load(tmp_path / "missing.npz")


def test_arrow_and_pandas_inputs_agree() -> None:
    ref = churn(3_000, seed=7)
    cur = churn(3_000, seed=8, scenario="covariate_drift")
    b = Baseline.fit(ref, multivariate=())
    from_pandas = b.compare(cur).to_dict()["checks"]
    from_arrow = b.compare(pa.Table.from_pandas(cur, preserve_index=False)).to_dict()["checks"]
    assert from_arrow == from_pandas
