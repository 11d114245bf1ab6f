"""``Baseline.compare_chunks`` on the churn data: chunking, learned thresholds scaled to the
chunk size, the consecutive-breach rule, and segments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from watchkeeper import Baseline
from watchkeeper.datasets import churn
from watchkeeper.errors import InvalidParameterError

ROLES = {"target": "churned", "prediction": "churn_pred", "prediction_proba": "churn_score"}


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    # 20 reference chunks of 2,500 rows each.
    return Baseline.fit(churn(50_000, seed=1), **ROLES, reference_chunks=20)


def _result(chunked, i: int, check: str, column: str | None = None):  # type: ignore[no-untyped-def]
    report = chunked.reports[i]
    return next(
        c for c in report.checks if c.check == check and c.column == column and c.segment is None
    )


def test_reference_chunk_statistics_cover_rates_and_metrics(baseline: Baseline) -> None:
    stats = baseline.chunk_stats
    assert stats is not None
    assert stats.n_reference_chunks("quality.missing_rate", "total_charges", None) == 20
    assert stats.n_reference_chunks("performance.roc_auc", None, None) == 20
    # Drift distances and range checks keep their own rules (a reference chunk is biased).
    assert stats.n_reference_chunks("drift.wasserstein", "age", None) == 0
    assert stats.n_reference_chunks("quality.out_of_range", "age", None) == 0


def test_clean_chunks_by_period_raise_no_alert(baseline: Baseline) -> None:
    data = churn(20_000, seed=2, days=28)
    chunked = baseline.compare_chunks(data, by="period", period="W")
    assert len(chunked) == 4
    assert [c.key for c in chunked.chunks] == [
        "2024-01-01",
        "2024-01-08",
        "2024-01-15",
        "2024-01-22",
    ]
    assert sum(c.n for c in chunked.chunks) == 20_000
    assert chunked.status != "alert", chunked.to_text()
    frame = chunked.to_frame()
    assert {"chunk", "check", "column", "segment", "value", "lower", "upper", "status"} <= set(
        frame.columns
    )
    learned = _result(chunked, 0, "performance.accuracy")
    assert learned.details["threshold_source"] == "reference_chunks"


def test_learned_band_scales_with_the_chunk_size(baseline: Baseline) -> None:
    data = churn(12_500, seed=3)
    small = baseline.compare_chunks(data, by="size", size=2_500)
    large = baseline.compare_chunks(data, by="number", number=1)
    a = _result(small, 0, "quality.missing_rate", "total_charges").details
    b = _result(large, 0, "quality.missing_rate", "total_charges").details
    assert a["band_mean"] == pytest.approx(b["band_mean"])
    # Five times the rows: the band is sqrt(5) times narrower.
    width_small = a["band_upper"] - a["band_mean"]
    width_large = b["band_upper"] - b["band_mean"]
    assert width_small / width_large == pytest.approx(np.sqrt(5), rel=1e-9)


def test_learned_threshold_catches_a_rise_and_consecutive_rule(baseline: Baseline) -> None:
    data = churn(15_000, seed=4)
    data["age"] = data["age"].astype("float64")
    rng = np.random.default_rng(0)
    # Missing ages in chunk 1 only (a spike) and in chunks 3-5 (sustained): 2 % of rows each,
    # well inside the fixed 5-point margin but far outside what reference chunks show.
    for chunk in (1, 3, 4, 5):
        rows = chunk * 2_500 + rng.choice(2_500, size=50, replace=False)
        data.loc[data.index[rows], "age"] = np.nan
    fixed = baseline.compare_chunks(data, by="size", size=2_500, thresholds="fixed")
    assert all(_result(fixed, i, "quality.missing_rate", "age").status != "alert" for i in range(6))
    learned = baseline.compare_chunks(data, by="size", size=2_500)
    statuses = [_result(learned, i, "quality.missing_rate", "age").status for i in range(6)]
    assert statuses == ["ok", "alert", "ok", "alert", "alert", "alert"]
    two = baseline.compare_chunks(data, by="size", size=2_500, consecutive=2)
    statuses = [_result(two, i, "quality.missing_rate", "age").status for i in range(6)]
    assert statuses == ["ok", "warning", "ok", "warning", "alert", "alert"]
    assert "consecutive" in _result(two, 1, "quality.missing_rate", "age").reason


def test_too_few_reference_chunks_is_skipped(baseline: Baseline) -> None:
    few = Baseline.fit(churn(10_000, seed=5), **ROLES, reference_chunks=3, multivariate=())
    chunked = few.compare_chunks(churn(5_000, seed=6), by="number", number=2)
    c = _result(chunked, 0, "quality.missing_rate", "total_charges")
    assert c.status == "skipped"
    assert "3 reference chunks" in c.reason
    none = Baseline.fit(churn(5_000, seed=5), **ROLES, reference_chunks=0, multivariate=())
    assert none.chunk_stats is None
    with pytest.raises(InvalidParameterError, match="reference"):
        none.compare_chunks(churn(2_000, seed=6), by="number", number=2, thresholds="reference")


def test_segments_find_drift_in_one_segment_only() -> None:
    ref = churn(30_000, seed=7)
    b = Baseline.fit(ref, **ROLES, segments=["contract"], reference_chunks=0, multivariate=())
    # Every contract type is common: no rows are left to pool as "__other__".
    assert set(b.segments["contract"]) == {"Month-to-month", "One year", "Two year"}
    cur = churn(15_000, seed=8)
    two_year = (cur["contract"] == "Two year").to_numpy()
    cur.loc[two_year, "monthly_charges"] += 15.0  # only two-year customers pay more
    report = b.compare(cur, checks=["drift.columns"])
    alerts = {(c.segment, c.column) for c in report.checks if c.status == "alert"}
    assert ("contract=Two year", "monthly_charges") in alerts
    assert ("contract=Month-to-month", "monthly_charges") not in alerts
    assert ("contract=One year", "monthly_charges") not in alerts
    assert report.metadata["segments"]["contract=Two year"] == int(two_year.sum())
    # Rows of a contract type the reference never had have no segment baseline to go to.
    cur.loc[cur.index[:300], "contract"] = "Three year"
    report = b.compare(cur, checks=["drift.columns"])
    assert report.metadata["segments_unassigned"] == {"contract": 300}


def test_rare_values_pool_into_other_and_segments_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ref = churn(20_000, seed=9)
    b = Baseline.fit(
        ref, **ROLES, segments="region", segment_min_rows=2_000, reference_chunks=0, multivariate=()
    )
    counts = ref["region"].value_counts()
    big = set(counts[counts >= 2_000].index)
    assert set(b.segments["region"]) == big | {"__other__"}
    assert b.segments["region"]["__other__"].n_reference == int(counts[counts < 2_000].sum())
    loaded = Baseline.load(b.save(tmp_path / "seg.npz"))
    cur = churn(4_000, seed=10)
    assert loaded.compare(cur).to_dict()["checks"] == b.compare(cur).to_dict()["checks"]


def test_chunk_stats_round_trip(baseline: Baseline, tmp_path) -> None:  # type: ignore[no-untyped-def]
    loaded = Baseline.load(baseline.save(tmp_path / "b.npz"))
    data = churn(5_000, seed=11)
    a = baseline.compare_chunks(data, by="number", number=2).to_dict()
    b = loaded.compare_chunks(data, by="number", number=2).to_dict()
    assert [c["report"]["checks"] for c in a["chunks"]] == [
        c["report"]["checks"] for c in b["chunks"]
    ]


def test_compare_chunks_in_row_order_without_timestamps(baseline: Baseline) -> None:
    data = churn(6_000, seed=12).drop(columns=["event_time"])
    chunked = baseline.compare_chunks(data, by="size", size=2_500)
    assert [c.n for c in chunked.chunks] == [2_500, 2_500, 1_000]
    assert isinstance(chunked.to_frame(), pd.DataFrame)


def test_learned_thresholds_rarely_fire_on_clean_chunks(baseline: Baseline) -> None:
    from collections import Counter

    chunks = 80
    data = churn(chunks * 1_250, seed=13)
    chunked = baseline.compare_chunks(
        data, by="size", size=2_500, checks=["quality", "performance"]
    )
    learned = Counter()
    alerts = Counter()
    for report in chunked.reports:
        for c in report.checks:
            if c.details.get("threshold_source") == "reference_chunks":
                learned[(c.check, c.column)] += 1
                alerts[(c.check, c.column)] += c.status == "alert"
    assert len(learned) > 50  # quality rates of every column and every performance metric
    # Nominal k = 3 is one-sided 0.13 % per check: over all learned checks together allow
    # 0.4 %, and no single check may alert in more than 2 of the 80 chunks.
    total = sum(learned.values())
    assert sum(alerts.values()) <= 0.004 * total, alerts.most_common(5)
    assert max(alerts.values()) <= 2, alerts.most_common(3)
