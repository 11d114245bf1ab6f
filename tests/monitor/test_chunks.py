"""Tests for chunked monitoring: splitting, row cutting, reference-chunk statistics, learned
thresholds, the consecutive-breach rule, ChunkedReport and the compare_chunks driver.

Everything runs on synthetic Reports and a fake ``run``, so every value is known exactly.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from watchkeeper.errors import (
    EmptyInputError,
    InvalidInputError,
    InvalidParameterError,
    SerializationError,
    UnknownMethodError,
)
from watchkeeper.monitor._chunks import Chunk, ChunkInfo, split_chunks, take_rows
from watchkeeper.monitor.chunked import (
    ChunkedReport,
    ChunkSeries,
    ChunkStats,
    apply_consecutive,
    apply_learned_thresholds,
    compare_chunks,
    reference_chunk_stats,
    result_direction,
)
from watchkeeper.monitor.report import Report
from watchkeeper.results import CheckResult, Status


def ts(*values: str) -> np.ndarray[Any, Any]:
    return np.array(values, dtype="datetime64[s]")


def keys(chunks: list[Chunk]) -> list[str]:
    return [c.key for c in chunks]


def rows(chunk: Chunk) -> list[int]:
    r = chunk.rows
    return list(range(r.start, r.stop)) if isinstance(r, slice) else r.tolist()


# ---------------------------------------------------------------------- split by size / number


def test_size_without_timestamps_keeps_row_order_and_flags_the_partial_last_chunk() -> None:
    chunks = split_chunks(10, by="size", size=4)
    assert keys(chunks) == ["rows 0-3", "rows 4-7", "rows 8-9"]
    assert [c.rows for c in chunks] == [slice(0, 4), slice(4, 8), slice(8, 10)]
    assert [(c.index, c.n, c.partial) for c in chunks] == [
        (0, 4, False),
        (1, 4, False),
        (2, 2, True),
    ]
    assert all(c.start is None and c.end is None for c in chunks)


def test_size_dividing_the_rows_has_no_partial_chunk_and_a_large_size_gives_one() -> None:
    assert [c.partial for c in split_chunks(8, by="size", size=4)] == [False, False]
    (only,) = split_chunks(3, by="size", size=100)
    assert (only.n, only.partial, only.rows) == (3, True, slice(0, 3))


def test_size_with_unsorted_timestamps_sorts_stably_and_drops_nat() -> None:
    times = ts(
        "2026-01-03", "2026-01-01", "NaT", "2026-01-02", "2026-01-01", "2026-01-05", "2026-01-04"
    )
    chunks = split_chunks(7, by="size", size=4, timestamps=times)
    assert [rows(c) for c in chunks] == [[1, 4, 3, 0], [6, 5]]  # ties (1, 4) keep row order
    assert [(c.start, c.end) for c in chunks] == [
        ("2026-01-01T00:00:00", "2026-01-03T00:00:00"),
        ("2026-01-04T00:00:00", "2026-01-05T00:00:00"),
    ]
    assert [c.partial for c in chunks] == [False, True]
    assert 7 - sum(c.n for c in chunks) == 1  # the NaT row is in no chunk
    assert all(c.rows.dtype == np.int64 for c in chunks if isinstance(c.rows, np.ndarray))


@pytest.mark.parametrize(("n", "number"), [(10, 3), (7, 7), (100, 6), (5, 1)])
def test_number_follows_array_split(n: int, number: int) -> None:
    chunks = split_chunks(n, by="number", number=number)
    expected = [a.tolist() for a in np.array_split(np.arange(n), number)]
    assert [rows(c) for c in chunks] == expected
    assert not any(c.partial for c in chunks)


def test_number_with_timestamps_splits_in_time_order() -> None:
    times = ts("2026-01-04", "2026-01-02", "2026-01-03", "2026-01-01", "NaT")
    chunks = split_chunks(5, by="number", number=2, timestamps=times)
    assert [rows(c) for c in chunks] == [[3, 1], [2, 0]]
    assert keys(chunks) == ["rows 0-1", "rows 2-3"]


# ---------------------------------------------------------------------- split by period


def test_period_day_with_unsorted_timestamps_nat_and_a_gap() -> None:
    times = ts(
        "2026-01-07T08:00",
        "2026-01-05T23:59",
        "NaT",
        "2026-01-05T00:00",
        "2026-01-07T00:00",
        "NaT",
        "2026-01-10T12:30",
    )
    chunks = split_chunks(7, by="period", period="D", timestamps=times)
    assert keys(chunks) == ["2026-01-05", "2026-01-07", "2026-01-10"]  # no empty days
    assert [rows(c) for c in chunks] == [[1, 3], [0, 4], [6]]
    assert chunks[0].start == "2026-01-05T00:00:00"
    assert chunks[0].end == "2026-01-06T00:00:00"
    assert [c.n for c in chunks] == [2, 2, 1]
    assert 7 - sum(c.n for c in chunks) == 2  # the NaT rows


def test_period_week_runs_monday_to_sunday_keyed_by_its_monday() -> None:
    times = ts("2026-01-11T23:00", "2026-01-05T00:00", "2026-01-12T00:00", "2026-01-04T12:00")
    chunks = split_chunks(4, by="period", period="W", timestamps=times)
    assert keys(chunks) == ["2025-12-29", "2026-01-05", "2026-01-12"]
    assert [rows(c) for c in chunks] == [[3], [0, 1], [2]]
    assert (chunks[1].start, chunks[1].end) == ("2026-01-05T00:00:00", "2026-01-12T00:00:00")


def test_period_month_start_and_month_end_give_calendar_months() -> None:
    times = ts("2026-02-28T23:00", "2026-01-31", "2026-01-01", "2026-03-01")
    for alias in ("MS", "ME", "M"):
        chunks = split_chunks(4, by="period", period=alias, timestamps=times)
        assert keys(chunks) == ["2026-01-01", "2026-02-01", "2026-03-01"]
        assert [rows(c) for c in chunks] == [[1, 2], [0], [3]]
        assert chunks[0].end == "2026-02-01T00:00:00"


def test_period_hours_are_keyed_with_the_time_and_multiples_count_from_the_epoch() -> None:
    times = ts("2026-01-05T13:59", "2026-01-05T13:00", "2026-01-05T15:10")
    hours = split_chunks(3, by="period", period="h", timestamps=times)
    assert keys(hours) == ["2026-01-05T13:00", "2026-01-05T15:00"]
    assert hours[0].end == "2026-01-05T14:00:00"
    # 2026-01-05 is day 20458 after 1970-01-01 (even), so 2-day periods start on it.
    two_days = split_chunks(2, by="period", period="2D", timestamps=ts("2026-01-06", "2026-01-07"))
    assert [(c.key, c.end) for c in two_days] == [
        ("2026-01-05", "2026-01-07T00:00:00"),
        ("2026-01-07", "2026-01-09T00:00:00"),
    ]


def test_period_chunks_partition_the_rows_with_a_timestamp() -> None:
    rng = np.random.default_rng(0)
    seconds = rng.integers(0, 90 * 86_400, size=2_000)
    times = np.datetime64("2026-01-01", "s") + seconds.astype("timedelta64[s]")
    times[rng.choice(2_000, 50, replace=False)] = np.datetime64("NaT")
    chunks = split_chunks(2_000, by="period", period="W-MON", timestamps=times)
    together = np.concatenate([c.rows for c in chunks if isinstance(c.rows, np.ndarray)])
    assert np.array_equal(np.sort(together), np.flatnonzero(~np.isnat(times)))
    assert keys(chunks) == sorted(keys(chunks))
    for c in chunks:
        assert isinstance(c.rows, np.ndarray)
        inside = times[c.rows]
        assert np.all(inside >= np.datetime64(c.start))
        assert np.all(inside < np.datetime64(c.end))


# ---------------------------------------------------------------------- split errors


def test_unknown_by_is_an_unknown_method() -> None:
    with pytest.raises(UnknownMethodError, match=r"'by' parameter of split_chunks.*'rows'"):
        split_chunks(10, by="rows", size=3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"by": "size"}, r"'size' parameter of split_chunks must be an integer >= 1\. Got None"),
        ({"by": "size", "size": 0}, r"'size' .* >= 1\. Got 0 instead"),
        ({"by": "size", "size": 2.5}, r"'size' .* Got 2\.5 instead"),
        ({"by": "number"}, r"'number' .* Got None instead"),
        ({"by": "number", "number": 11}, r"at most the number of rows to split \(10\)\. Got 11"),
        (
            {"by": "number", "number": 2, "size": 5},
            r"'size' parameter .* applies only to by='size'",
        ),
        ({"by": "size", "size": 5, "period": "D"}, r"'period' parameter .* only to by='period'"),
        ({"by": "period", "timestamps": np.zeros(10, "M8[s]")}, r"'period' .* is required"),
        ({"by": "period", "period": "D"}, r"'timestamps' .* required with by='period'"),
        (
            {"by": "period", "period": "fortnight", "timestamps": np.zeros(10, "M8[s]")},
            r"pandas offset alias .* Got 'fortnight' instead",
        ),
        (
            {"by": "period", "period": "B", "timestamps": np.zeros(10, "M8[s]")},
            r"fixed duration .* Got 'B' \(BusinessDay\) instead",
        ),
        (
            {"by": "period", "period": "0D", "timestamps": np.zeros(10, "M8[s]")},
            r"positive number of periods\. Got '0D'",
        ),
        ({"by": "size", "size": 2, "timestamps": np.arange(10)}, r"datetime64 array\. Got dtype"),
        ({"by": "size", "size": 2, "timestamps": np.zeros(9, "M8[s]")}, r"per row \(10\)\. Got 9"),
    ],
)
def test_invalid_parameters_are_named(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        split_chunks(10, **kwargs)


def test_no_rows_or_only_nat_is_empty_input() -> None:
    with pytest.raises(EmptyInputError, match="no rows"):
        split_chunks(0, by="size", size=3)
    with pytest.raises(EmptyInputError, match="every one is NaT"):
        split_chunks(2, by="period", period="D", timestamps=ts("NaT", "NaT"))


# ---------------------------------------------------------------------- take_rows


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"x": [0.0, 1.0, 2.0, 3.0, 4.0], "c": list("abcde")}, index=[10, 11, 12, 13, 14]
    )


def test_take_rows_pandas_by_position(frame: pd.DataFrame) -> None:
    part = take_rows(frame, slice(1, 3))
    assert part["x"].tolist() == [1.0, 2.0]
    assert part.index.tolist() == [11, 12]
    picked = take_rows(frame, np.array([4, 0], dtype=np.int64))
    assert picked["c"].tolist() == ["e", "a"]


def test_take_rows_pyarrow(frame: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    part = take_rows(table, slice(3, 5))
    assert isinstance(part, pa.Table)
    assert part.column("x").to_pylist() == [3.0, 4.0]
    picked = take_rows(table, np.array([2, 1], dtype=np.int64))
    assert picked.column("c").to_pylist() == ["c", "b"]
    batch = table.to_batches()[0]
    assert take_rows(batch, np.array([0], dtype=np.int64)).column(1).to_pylist() == ["a"]


def test_take_rows_polars(frame: pd.DataFrame) -> None:
    df = pl.from_pandas(frame.reset_index(drop=True))
    part = take_rows(df, slice(0, 2))
    assert isinstance(part, pl.DataFrame)
    assert part["x"].to_list() == [0.0, 1.0]
    picked = take_rows(df, np.array([3, 1], dtype=np.int64))
    assert isinstance(picked, pl.DataFrame)
    assert picked["c"].to_list() == ["d", "b"]


def test_take_rows_mapping_and_unknown_type() -> None:
    part = take_rows({"x": [5, 6, 7]}, slice(1, 3))
    assert part["x"].tolist() == [6, 7]
    with pytest.raises(InvalidInputError, match="Got list instead"):
        take_rows([1, 2, 3], slice(0, 1))


# ---------------------------------------------------------------------- reference statistics


def result(
    value: float | None,
    *,
    check: str = "quality.missing_rate",
    column: str | None = "age",
    segment: str | None = None,
    n: int = 100,
    status: Status = "ok",
    details: dict[str, Any] | None = None,
    threshold: float | None = 0.5,
    reason: str = "fixed",
) -> CheckResult:
    return CheckResult(
        check,
        column,
        value,
        threshold=threshold,
        status=status,
        reason=reason,
        n=n,
        details=details or {},
        segment=segment,
    )


def stats_of(
    values: list[float],
    sizes: list[int],
    *,
    check: str = "quality.missing_rate",
    column: str | None = "age",
    segment: str | None = None,
) -> ChunkStats:
    return ChunkStats({(check, column, segment): ChunkSeries(tuple(values), tuple(sizes))}, 10)


def test_from_reports_collects_values_and_sizes_and_ignores_skipped_and_missing() -> None:
    reports = [
        Report([result(0.1, n=100), result(None, column="b"), result(0.3, column="c", n=0)]),
        Report(
            [result(0.2, n=50), result(9.0, column="b", status="skipped")],
            metadata={"chunk_rows": 40},
        ),
        Report([result(0.3, n=0, column="b")], metadata={"n_current": 30}),
    ]
    stats = ChunkStats.from_reports(reports)
    assert stats.n_chunks == 3
    assert stats.series == {
        ("quality.missing_rate", "age", None): ChunkSeries((0.1, 0.2), (100, 50)),
        ("quality.missing_rate", "b", None): ChunkSeries((0.3,), (30,)),
    }  # "c" had neither n nor a chunk size
    assert stats.n_reference_chunks("quality.missing_rate", "age", None) == 2
    assert stats.n_reference_chunks("quality.missing_rate", "zzz", None) == 0


def test_state_round_trips_exactly_through_npz_without_pickle() -> None:
    stats = ChunkStats(
        {
            ("drift.wasserstein", "age", None): ChunkSeries((0.1, 1 / 3, 2e-17), (10, 20, 30)),
            ("drift.dataset", None, None): ChunkSeries((0.25,), (7,)),
            ("performance.accuracy", None, "plan=pro"): ChunkSeries((0.9, 0.8), (5, 6)),
        },
        n_chunks=3,
    )
    meta, arrays = stats.to_state()
    assert arrays["values"].dtype == np.float64
    assert arrays["sizes"].dtype == np.int64
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as loaded:
        back = ChunkStats.from_state(json.loads(json.dumps(meta)), dict(loaded))
    assert back == stats
    assert list(back.series) == list(stats.series)


def test_from_state_refuses_malformed_state() -> None:
    meta, arrays = stats_of([0.1, 0.2], [10, 10]).to_state()
    with pytest.raises(SerializationError, match="format"):
        ChunkStats.from_state({**meta, "version": 99}, arrays)
    with pytest.raises(SerializationError, match="offsets do not match"):
        ChunkStats.from_state(meta, {**arrays, "values": np.array([0.1])})
    with pytest.raises(SerializationError, match="malformed"):
        ChunkStats.from_state({k: v for k, v in meta.items() if k != "keys"}, arrays)


def test_learned_band_matches_a_hand_computation_with_unequal_chunk_sizes() -> None:
    # mean 0.3; deviations -0.3, 0, 0.3; squared x sizes 9, 0, 27 -> sum 36 over C - 1 = 2
    # chunks' freedom -> sigma_1 = √18. The spread is estimated from 3 chunks, so the nominal
    # k = 2 becomes the Student-t prediction multiplier t_2(Φ(2))·√(1 + 1/3).
    from scipy.stats import norm, t

    stats = stats_of([0.0, 0.3, 0.6], [100, 50, 300])
    band = stats.learned_band("quality.missing_rate", "age", None, 48, k=2)
    assert band is not None
    half = t.ppf(norm.cdf(2), df=2) * np.sqrt(4 / 3) * np.sqrt(18) / np.sqrt(48)
    assert band == pytest.approx((0.3, 0.3 - half, 0.3 + half), abs=1e-12)
    assert stats.learned_band("quality.missing_rate", "other", None, 48, k=2) is None


def test_band_for_four_times_the_chunk_size_is_half_as_wide() -> None:
    stats = stats_of([0.1, 0.4, 0.2, 0.3, 0.25], [1_000] * 5)
    _, lo1, hi1 = stats.learned_band("quality.missing_rate", "age", None, 1_000, k=3) or (0, 0, 0)
    mu, lo4, hi4 = stats.learned_band("quality.missing_rate", "age", None, 4_000, k=3) or (0, 0, 0)
    assert hi4 - lo4 == pytest.approx((hi1 - lo1) / 2, rel=1e-12)
    assert (lo4 + hi4) / 2 == pytest.approx(mu) == pytest.approx(0.25)


def test_learned_band_validates_n_and_k() -> None:
    stats = stats_of([0.1, 0.2], [10, 10])
    with pytest.raises(InvalidParameterError, match=r"'n' parameter .* >= 1\. Got 0"):
        stats.learned_band("quality.missing_rate", "age", None, 0, k=3)
    with pytest.raises(InvalidParameterError, match=r"'k' parameter"):
        stats.learned_band("quality.missing_rate", "age", None, 10, k=-1)


# ---------------------------------------------------------------------- learned thresholds


def band(stats: ChunkStats, n: int, k: float, key: tuple[str, str | None, str | None]) -> Any:
    return stats.learned_band(*key, n, k=k)


UPPER_STATS = stats_of([0.02, 0.04, 0.03, 0.01, 0.05], [100] * 5)  # mean 0.03
UPPER_KEY = ("quality.missing_rate", "age", None)


@pytest.mark.parametrize(("value", "status"), [(0.2, "alert"), (0.1, "warning"), (0.035, "ok")])
def test_upper_direction_alerts_beyond_k_and_warns_beyond_warning_k(
    value: float, status: Status
) -> None:
    mu, _, upper = band(UPPER_STATS, 100, 3, UPPER_KEY)
    _, _, w_upper = band(UPPER_STATS, 100, 2, UPPER_KEY)
    # sigma_1 = √(0.1 / 4); over 5 chunks k = 3 and 2 become t_4 prediction multipliers.
    from scipy.stats import norm, t

    def limit(k: float) -> float:
        return 0.03 + t.ppf(norm.cdf(k), df=4) * np.sqrt(1.2) * np.sqrt(0.1 / 4) / np.sqrt(100)

    assert (mu, upper, w_upper) == pytest.approx((0.03, limit(3), limit(2)), rel=1e-12)
    report = Report([result(value, status="alert" if status == "ok" else "ok")])
    (out,) = apply_learned_thresholds(report, UPPER_STATS).checks
    assert out.status == status
    assert out.threshold == pytest.approx(upper)
    assert out.warning_threshold == pytest.approx(w_upper)
    assert out.details["threshold_source"] == "reference_chunks"
    assert out.details["band_mean"] == pytest.approx(0.03)
    assert out.details["band_upper"] == pytest.approx(upper)
    assert out.details["n_reference_chunks"] == 5
    assert out.details["fixed_threshold"] == 0.5
    assert (out.value, out.n, out.column) == (value, 100, "age")


def test_reasons_say_which_learned_limit_and_why() -> None:
    stats = stats_of([0.031] * 9 + [0.061], [5_000] * 10)
    report = Report([result(0.082, n=5000), result(0.0311, n=5000, column="b")])
    stats = ChunkStats(
        {**stats.series, ("quality.missing_rate", "b", None): stats.series[UPPER_KEY]}, 10
    )
    alert, ok = apply_learned_thresholds(report, stats).checks
    mu, _, upper = band(stats, 5000, 3, UPPER_KEY)
    assert alert.reason == (
        f"0.082 > learned limit {upper:.3g} (mean {mu:.3g} + 3 x spread at n=5000 over 10 "
        "reference chunks)"
    )
    assert ok.status == "ok"
    assert ok.reason.startswith("0.0311 <= learned warning limit ")
    assert "(mean 0.034 + 2 x spread at n=5000 over 10 reference chunks)" in ok.reason


def test_lower_direction_for_accuracy_breaches_below_the_band() -> None:
    key = ("performance.accuracy", None, None)
    stats = stats_of([0.90, 0.92, 0.88, 0.91, 0.89], [200] * 5, check=key[0], column=None)
    mu, lower, _ = band(stats, 200, 3, key)
    _, w_lower, _ = band(stats, 200, 2, key)
    checks = [
        result(lower - 0.01, check=key[0], column=None, n=200),
        result(0.99, check=key[0], column=None, n=200),  # better than ever: fine
        result((lower + w_lower) / 2, check=key[0], column=None, n=200),
    ]
    low, high, middle = apply_learned_thresholds(Report(checks), stats).checks
    assert (low.status, high.status, middle.status) == ("alert", "ok", "warning")
    assert low.threshold == pytest.approx(lower)
    assert low.warning_threshold == pytest.approx(w_lower)
    assert f"< learned limit {lower:.3g} (mean {mu:.3g} - 3 x spread" in low.reason


@pytest.mark.parametrize(
    ("check", "details", "direction"),
    [
        ("drift.wasserstein", {}, "upper"),
        ("drift.dataset", {}, "upper"),
        ("quality.missing_rate", {}, "upper"),
        ("performance.log_loss", {}, "upper"),
        ("performance.brier_score", {}, "upper"),
        ("performance.rmse", {}, "upper"),
        ("performance.calibration", {}, "upper"),
        ("performance.accuracy", {}, "lower"),
        ("performance.f1_macro", {}, "lower"),
        ("performance.roc_auc", {}, "lower"),
        ("performance.r2", {}, "lower"),
        ("performance.accuracy", {"direction": "lower_is_better"}, "upper"),
        ("drift.wasserstein", {"direction": "higher_is_better"}, "lower"),
        ("performance.mae", {"direction": "sideways"}, "upper"),
    ],
)
def test_direction_rule_and_override(check: str, details: dict[str, Any], direction: str) -> None:
    assert result_direction(result(1.0, check=check, details=details)) == direction


def test_details_direction_override_changes_the_decision() -> None:
    key = ("custom.score", "age", None)
    stats = stats_of([1.0, 1.1, 0.9, 1.0, 1.0], [100] * 5, check=key[0])
    high, low = 5.0, -5.0
    as_upper = Report([result(high, check=key[0]), result(low, check=key[0])])
    assert [c.status for c in apply_learned_thresholds(as_upper, stats).checks] == ["alert", "ok"]
    better = {"direction": "higher_is_better"}
    as_lower = Report(
        [result(high, check=key[0], details=better), result(low, check=key[0], details=better)]
    )
    assert [c.status for c in apply_learned_thresholds(as_lower, stats).checks] == ["ok", "alert"]


def test_too_few_reference_chunks_skip_and_unknown_keys_keep_fixed_thresholds() -> None:
    stats = stats_of([0.1, 0.11, 0.12], [100] * 3)
    fixed = result(0.9, column="other", status="alert", reason="fixed alert")
    skipped = result(None, status="skipped", reason="too few rows")
    report = Report([result(0.9, status="alert"), fixed, skipped], metadata={"n_current": 100})
    out = apply_learned_thresholds(report, stats, min_chunks=5)
    assert out.checks[0].status == "skipped"
    assert out.checks[0].reason == (
        "only 3 reference chunks (min_chunks=5) to learn a threshold from"
    )
    assert out.checks[0].threshold is None
    assert out.checks[0].details["n_reference_chunks"] == 3
    assert out.checks[1:] == (fixed, skipped)
    assert out.metadata == report.metadata
    assert apply_learned_thresholds(report, stats, min_chunks=3).checks[0].status == "alert"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": 0}, r"'k' parameter of apply_learned_thresholds must be in \(0, inf\]"),
        ({"warning_k": 4}, r"'warning_k' .* must be in \(0, 3\]\. Got 4 instead"),
        ({"min_chunks": 1}, r"'min_chunks' .* >= 2\. Got 1 instead"),
    ],
)
def test_learned_threshold_parameters_are_validated(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        apply_learned_thresholds(Report([]), UPPER_STATS, **kwargs)


# ---------------------------------------------------------------------- consecutive breaches


def series_of(statuses: str, *, column: str = "age") -> list[CheckResult]:
    """One result per character: A = alert, w = warning, . = ok."""
    names: dict[str, Status] = {"A": "alert", "w": "warning", ".": "ok"}
    return [result(0.5, column=column, status=names[s], reason="moved") for s in statuses]


def statuses(reports: list[Report], column: str = "age") -> str:
    letters = {"alert": "A", "warning": "w", "ok": "."}
    return "".join(letters[r.for_column(column)[0].status] for r in reports)


@pytest.mark.parametrize(
    ("n", "given", "expected"),
    [
        (1, ".A.AA", ".A.AA"),
        (2, ".A.AA", ".w.wA"),
        (2, "AAAA.A", "wAAA.w"),
        (3, "AA.AAAA", "ww.wwAA"),
        (3, "AwAAAw", "wwwwAw"),  # a warning breaks the streak
    ],
)
def test_consecutive_rule(n: int, given: str, expected: str) -> None:
    reports = [Report([c], metadata={"i": i}) for i, c in enumerate(series_of(given))]
    out = apply_consecutive(reports, n)
    assert statuses(out) == expected
    assert [r.metadata for r in out] == [r.metadata for r in reports]


def test_consecutive_reason_and_other_fields() -> None:
    reports = [Report([c]) for c in series_of("AA")]
    first, second = (r.checks[0] for r in apply_consecutive(reports, 2))
    assert first.reason == "moved; alert 1 of 2 consecutive needed"
    assert first == CheckResult(
        **{**reports[0].checks[0].to_dict(), "status": "warning", "reason": first.reason}
    )
    assert second == reports[1].checks[0]
    bare = Report([result(1.0, status="alert", reason="")])
    assert apply_consecutive([bare], 3)[0].checks[0].reason == "alert 1 of 3 consecutive needed"


def test_consecutive_counts_columns_and_segments_separately() -> None:
    age, income = series_of("AAA"), series_of(".AA", column="income")
    seg = [result(0.5, status="alert", segment=s) for s in ("a", "b", "a")]
    reports = [Report([age[i], income[i], seg[i]]) for i in range(3)]
    out = apply_consecutive(reports, 2)
    assert statuses(out, "age") == "wAA"
    assert statuses(out, "income") == ".wA"
    assert [r.checks[2].status for r in out] == ["warning", "warning", "warning"]


def test_consecutive_validates_n() -> None:
    with pytest.raises(InvalidParameterError, match=r"'n' parameter of apply_consecutive"):
        apply_consecutive([], 0)


# ---------------------------------------------------------------------- the driver


def mean_run(chunk: pd.DataFrame) -> Report:
    """The fake comparison: value = mean of x, fixed alert above 0.5."""
    mean = float(chunk["x"].mean())
    status: Status = "alert" if mean > 0.5 else "ok"
    return Report(
        [result(mean, check="quality.mean", column="x", n=len(chunk), status=status)],
        metadata={"n_current": len(chunk)},
    )


def blocks(*means: float, size: int = 100) -> pd.DataFrame:
    """A frame whose consecutive blocks of ``size`` rows have exactly these means."""
    return pd.DataFrame({"x": np.repeat(np.asarray(means, dtype=np.float64), size)})


REFERENCE = blocks(0.30, 0.32, 0.28, 0.31, 0.29, 0.30, 0.33, 0.27, 0.30, 0.30)
KEY = ("quality.mean", "x", None)


def test_reference_chunk_stats_collects_chunk_means() -> None:
    stats = reference_chunk_stats(REFERENCE, run=mean_run, n_rows=1_000, number=10)
    assert stats.n_chunks == 10
    assert stats.series[KEY].values == pytest.approx(REFERENCE["x"].to_numpy()[::100])
    assert stats.series[KEY].sizes == (100,) * 10


def test_compare_chunks_with_fixed_thresholds_keeps_each_decision() -> None:
    seen: list[str] = []
    window = blocks(0.3, 0.9, 0.2, size=50)
    chunked = compare_chunks(
        window, run=mean_run, n_rows=150, by="size", size=50, progress=seen.append
    )
    assert [r.status for r in chunked.reports] == ["ok", "alert", "ok"]
    assert seen == [f"Comparing chunk {i}/3: rows {50 * (i - 1)}-{50 * i - 1}" for i in (1, 2, 3)]
    assert chunked.reports[1].metadata == {
        "n_current": 50,
        "chunk": "rows 50-99",
        "chunk_start": None,
        "chunk_end": None,
        "chunk_rows": 50,
    }
    assert chunked.metadata["thresholds"] == "fixed"
    assert chunked.status == "alert"
    assert [(key, r.value) for key, r in chunked.alerts] == [("rows 50-99", 0.9)]


def test_compare_chunks_with_learned_thresholds_by_period() -> None:
    stats = reference_chunk_stats(REFERENCE, run=mean_run, n_rows=1_000, number=10)
    _, lower, upper = band(stats, 100, 3, KEY)
    _, _, w_upper = band(stats, 100, 2, KEY)
    assert lower < 0.3 < w_upper < upper < 0.5  # the fixed 0.5 would never alert below
    means = [0.30, upper + 0.01, (w_upper + upper) / 2, 0.29]
    window = blocks(*means)
    days = np.repeat(
        np.array(["2026-01-08", "2026-01-05", "2026-01-06", "2026-01-07"], "M8[D]"), 100
    )
    # days are out of row order: the 2nd block of rows is the first day.
    chunked = compare_chunks(
        window, run=mean_run, n_rows=400, timestamps=days, by="period", period="D", stats=stats
    )
    assert [c.key for c in chunked.chunks] == [
        "2026-01-05",
        "2026-01-06",
        "2026-01-07",
        "2026-01-08",
    ]
    assert [r.status for r in chunked.reports] == ["alert", "warning", "ok", "ok"]
    first = chunked.reports[0].checks[0]
    assert first.value == pytest.approx(upper + 0.01)
    assert first.threshold == pytest.approx(upper)
    assert chunked.reports[0].metadata["chunk_start"] == "2026-01-05T00:00:00"
    assert chunked.metadata["thresholds"] == "reference"
    assert chunked.metadata["n_reference_chunks"] == 10
    fixed = compare_chunks(
        window, run=mean_run, n_rows=400, by="number", number=4, stats=stats, thresholds="fixed"
    )
    assert [r.status for r in fixed.reports] == ["ok", "ok", "ok", "ok"]


def test_compare_chunks_applies_the_consecutive_rule_after_learning() -> None:
    stats = reference_chunk_stats(REFERENCE, run=mean_run, n_rows=1_000, number=10)
    window = blocks(0.3, 0.45, 0.3, 0.45, 0.45, 0.45)
    chunked = compare_chunks(
        window, run=mean_run, n_rows=600, by="size", size=100, stats=stats, consecutive=2
    )
    assert [r.status for r in chunked.reports] == [
        "ok",
        "warning",
        "ok",
        "warning",
        "alert",
        "alert",
    ]
    assert chunked.reports[1].checks[0].reason.endswith("; alert 1 of 2 consecutive needed")
    assert chunked.metadata["consecutive"] == 2


def test_compare_chunks_with_pyarrow_and_polars_data() -> None:
    def run(chunk: Any) -> Report:
        x = np.asarray(chunk["x"], dtype=np.float64)
        return Report([result(float(x.mean()), check="quality.mean", column="x", n=len(x))])

    window = blocks(0.1, 0.2, 0.3, size=10)
    for data in (pa.Table.from_pandas(window), pl.from_pandas(window)):
        chunked = compare_chunks(data, run=run, n_rows=30, by="number", number=3)
        assert [r.checks[0].value for r in chunked.reports] == pytest.approx([0.1, 0.2, 0.3])


def test_compare_chunks_errors() -> None:
    window = blocks(0.3, 0.3)
    with pytest.raises(InvalidParameterError, match="Fit the baseline with reference chunks"):
        compare_chunks(window, run=mean_run, n_rows=200, size=100, thresholds="reference")
    with pytest.raises(UnknownMethodError, match=r"'thresholds' parameter of compare_chunks"):
        compare_chunks(window, run=mean_run, n_rows=200, size=100, thresholds="learned")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match=r"rows of the data \(200\)\. Got 150 instead"):
        compare_chunks(window, run=mean_run, n_rows=150, size=100)
    with pytest.raises(InvalidParameterError, match=r"must return a Report\. Got dict for chunk"):
        compare_chunks(window, run=lambda c: {}, n_rows=200, size=100)  # type: ignore[arg-type, return-value]
    with pytest.raises(InvalidParameterError, match=r"'size' parameter of compare_chunks"):
        compare_chunks(window, run=mean_run, n_rows=200)
    with pytest.raises(InvalidParameterError, match=r"'consecutive' .* >= 1\. Got 0"):
        compare_chunks(window, run=mean_run, n_rows=200, size=100, consecutive=0)
    with pytest.raises(InvalidParameterError, match=r"'stats' parameter .* Got dict"):
        compare_chunks(window, run=mean_run, n_rows=200, size=100, stats={})  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match=r"'number' parameter of reference_chunk_stats"):
        reference_chunk_stats(window, run=mean_run, n_rows=200, number=1)


# ---------------------------------------------------------------------- ChunkedReport


@pytest.fixture
def chunked() -> ChunkedReport:
    stats = reference_chunk_stats(REFERENCE, run=mean_run, n_rows=1_000, number=10)
    window = blocks(0.3, 0.6, 0.3, size=100)
    days = np.repeat(np.array(["2026-01-05", "2026-01-06", "2026-01-07"], "M8[D]"), 100)
    days[0] = np.datetime64("NaT")
    return compare_chunks(
        window, run=mean_run, n_rows=300, by="period", period="D", timestamps=days, stats=stats
    )


FRAME_COLUMNS = [
    "chunk",
    "start",
    "end",
    "chunk_rows",
    "check",
    "column",
    "segment",
    "value",
    "reference_value",
    "threshold",
    "warning_threshold",
    "lower",
    "upper",
    "status",
    "reason",
]


def test_chunked_report_access(chunked: ChunkedReport) -> None:
    assert len(chunked) == 3
    assert [(c.key, c.n, r.status) for c, r in chunked] == [
        ("2026-01-05", 99, "ok"),
        ("2026-01-06", 100, "alert"),
        ("2026-01-07", 100, "ok"),
    ]
    assert chunked.metadata["n_unassigned"] == 1
    assert repr(chunked) == "<ChunkedReport status=alert chunks=3 alerting=1>"
    assert [k for k, _ in chunked.alerts] == ["2026-01-06"]


def test_to_frame_columns_and_values(chunked: ChunkedReport) -> None:
    frame = chunked.to_frame()
    assert list(frame.columns) == FRAME_COLUMNS
    assert frame["chunk_rows"].tolist() == [99, 100, 100]
    assert frame["chunk_rows"].dtype == np.int64
    assert frame["upper"].dtype == np.float64
    alert = chunked.reports[1].checks[0]
    assert frame.loc[1, "upper"] == alert.details["band_upper"] == alert.threshold
    assert frame.loc[1, "lower"] == alert.details["band_lower"]
    assert frame.loc[1, "start"] == "2026-01-06T00:00:00"
    assert frame["status"].tolist() == ["ok", "alert", "ok"]
    fixed = compare_chunks(blocks(0.3), run=mean_run, n_rows=100, size=100).to_frame()
    assert math.isnan(fixed.loc[0, "lower"])
    assert math.isnan(fixed.loc[0, "upper"])
    empty = ChunkedReport([], []).to_frame()
    assert list(empty.columns) == FRAME_COLUMNS
    assert len(empty) == 0


def test_json_round_trip(chunked: ChunkedReport) -> None:
    text = chunked.to_json()
    data = json.loads(text)
    assert data["schema_version"] == ChunkedReport.SCHEMA_VERSION == 1
    assert data["status"] == "alert"
    assert ChunkedReport.from_json(text) == chunked
    assert ChunkedReport.from_dict(chunked.to_dict()) == chunked


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([], "must be a mapping"),
        ({"chunks": []}, "schema_version None"),
        ({"schema_version": 2, "chunks": []}, "schema_version 2"),
        ({"schema_version": 1, "chunks": {}}, "a list under 'chunks'"),
        ({"schema_version": 1, "chunks": [{"report": {}}]}, r"chunks\[0\] .* cannot be read"),
        ({"schema_version": 1, "chunks": [], "metadata": [1]}, "a mapping under 'metadata'"),
    ],
)
def test_from_dict_errors(data: Any, match: str) -> None:
    with pytest.raises(SerializationError, match=match):
        ChunkedReport.from_dict(data)
    with pytest.raises(SerializationError, match="not valid JSON"):
        ChunkedReport.from_json("{")


def test_to_text(chunked: ChunkedReport) -> None:
    assert chunked.to_text() == (
        "Status: alert — 3 chunks: 1 alert, 0 warnings, 2 ok\n"
        "2026-01-05  n=99   ok\n"
        "2026-01-06  n=100  alert  quality.mean[x]\n"
        "2026-01-07  n=100  ok"
    )
    partial = compare_chunks(blocks(0.3, 0.3), run=mean_run, n_rows=200, size=150)
    assert partial.to_text().splitlines()[2] == "rows 150-199  n=50 (partial)  ok"


def test_chunked_report_validates_its_parts() -> None:
    info = ChunkInfo(0, "rows 0-9", None, None, 10)
    with pytest.raises(
        InvalidParameterError, match=r"one Report per ChunkInfo\. Got 1 chunks and 0"
    ):
        ChunkedReport([info], [])
    with pytest.raises(InvalidParameterError, match="items of type str"):
        ChunkedReport([info], ["report"])  # type: ignore[list-item]
    assert ChunkedReport([], []).status == "skipped"
