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


def test_polars_input_agrees_with_pandas() -> None:
    pl = pytest.importorskip("polars", reason="polars is in the dev extra")
    import watchkeeper

    ref = churn(4_000, seed=9)
    cur = churn(4_000, seed=10, scenario="covariate_drift")
    from_polars = watchkeeper.compare(pl.from_pandas(ref), pl.from_pandas(cur))
    assert from_polars.to_dict()["checks"] == watchkeeper.compare(ref, cur).to_dict()["checks"]
    assert from_polars.summary.status == "alert"


def test_constant_and_empty_features_do_not_blind_the_pca_check() -> None:
    rng = np.random.default_rng(3)

    def frame(rho: float) -> pd.DataFrame:
        x = rng.normal(size=20_000)
        return pd.DataFrame(
            {
                "x": x,
                "y": rho * x + np.sqrt(1 - rho**2) * rng.normal(size=20_000),
                "z": rng.normal(size=20_000),
                "country": pd.Series(["US"] * 20_000, dtype="str"),
                "empty": np.full(20_000, np.nan),
            }
        )

    report = Baseline.fit(frame(0.5)).compare(frame(-0.5))
    pca = next(c for c in report.checks if c.check == "drift.pca_reconstruction")
    assert pca.status == "alert", pca.reason


def test_arrow_nan_in_a_float_coded_categorical_is_missing_as_in_pandas() -> None:
    from watchkeeper import ColumnSpec, Schema

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"code": rng.choice([1.0, 2.0, np.nan], 3_000), "x": rng.normal(size=3_000)})
    schema = Schema([ColumnSpec("code", "categorical"), ColumnSpec("x", "numeric")])
    baseline = Baseline.fit(df, schema, multivariate=())
    from_arrow = baseline.compare(pa.Table.from_pandas(df, preserve_index=False))
    code = next(c for c in from_arrow.checks if c.column == "code")
    assert code.details["n_unseen"] == 0
    assert code.details["n_missing"] == int(np.isnan(df["code"]).sum())
    assert code.value == 0.0


def test_declared_but_unused_categories_do_not_change_the_result() -> None:
    def frames(unused: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        rng = np.random.default_rng(0)
        cats = [f"c{i}" for i in range(3 + unused)]

        def one(p: list[float]) -> pd.DataFrame:
            values = rng.choice(["c0", "c1", "c2"], 2_000, p=p)
            return pd.DataFrame({"a": pd.Categorical(values, categories=cats)})

        return one([0.4, 0.3, 0.3]), one([0.6, 0.3, 0.1])

    results = []
    for unused in (0, 50, 5_000):
        ref, cur = frames(unused)
        check = Baseline.fit(ref, multivariate=()).compare(cur).checks[0]
        results.append((check.value, check.p_value))
    assert results[0] == results[1] == results[2]
