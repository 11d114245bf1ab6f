"""The plot data a drift check leaves in its details: histogram counts golden against
``numpy.histogram`` of the clipped values, category counts against pandas' ``value_counts``,
unseen categories, the ``(other)`` entry, degenerate columns, JSON safety."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import watchkeeper
from watchkeeper.drift._plot import (
    MAX_BINS,
    MAX_CATEGORIES,
    OTHER,
    TAIL,
    TOP_UNSEEN,
    numeric_histogram,
)
from watchkeeper.results import CheckResult


def drift_check(report: watchkeeper.Report, column: str) -> CheckResult:
    (check,) = [c for c in report.checks if c.family == "drift" and c.column == column]
    return check


def expected_range(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    lo = min(np.quantile(ref, TAIL), np.quantile(cur, TAIL))
    hi = max(np.quantile(ref, 1 - TAIL), np.quantile(cur, 1 - TAIL))
    return float(lo), float(hi)


def numpy_counts(values: np.ndarray, edges: list[float]) -> list[int]:
    clipped = np.clip(values, edges[0], edges[-1])
    counts, _ = np.histogram(clipped, bins=np.asarray(edges))
    return counts.tolist()


def draw(rng: np.random.Generator, shape: str, n: int) -> np.ndarray:
    if shape == "normal":
        return rng.normal(rng.uniform(-5, 5), rng.uniform(0.1, 10), n)
    if shape == "lognormal":
        return rng.lognormal(0, rng.uniform(0.2, 2), n)
    if shape == "outliers":
        values = rng.normal(0, 1, n)
        values[: max(1, n // 50)] = rng.choice([-1e6, 1e6], max(1, n // 50))
        return values
    return rng.uniform(-1e-3, 1e-3, n)  # a narrow range


@pytest.mark.parametrize("seed", range(40))
def test_numeric_histogram_matches_numpy_on_clipped_values(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = ("normal", "lognormal", "outliers", "narrow")[seed % 4]
    ref = draw(rng, shape, int(rng.integers(1, 3_000)))
    cur = draw(rng, shape, int(rng.integers(1, 3_000))) + rng.normal(0, 0.5) * (shape != "narrow")
    h = numeric_histogram(np.sort(ref), np.sort(cur), discrete=False)
    assert h is not None
    lo, hi = expected_range(ref, cur)
    if lo < hi:
        np.testing.assert_allclose(h["edges"], np.linspace(lo, hi, MAX_BINS + 1), rtol=1e-12)
    assert h["reference"] == numpy_counts(ref, h["edges"])
    assert h["current"] == numpy_counts(cur, h["edges"])
    assert sum(h["reference"]) == ref.shape[0]
    assert sum(h["current"]) == cur.shape[0]
    assert h["discrete"] is False
    assert all(type(c) is int for c in h["reference"] + h["current"])
    assert all(type(e) is float for e in h["edges"])


@pytest.mark.parametrize("seed", range(12))
def test_discrete_columns_get_integer_aligned_bins(seed: int) -> None:
    rng = np.random.default_rng(seed)
    span = int(rng.integers(1, 200))
    ref = rng.integers(0, span + 1, 2_000).astype(np.float64)
    cur = rng.integers(0, span + 1, 1_500).astype(np.float64) + rng.integers(0, 3)
    h = numeric_histogram(np.sort(ref), np.sort(cur), discrete=True)
    assert h is not None
    edges = np.asarray(h["edges"])
    assert np.all(edges % 1 == 0.5)  # bin edges fall between integers
    widths = np.diff(edges)
    assert np.all(widths == widths[0])
    assert widths[0] == int(widths[0])
    assert len(widths) <= MAX_BINS
    lo, hi = expected_range(ref, cur)
    assert edges[0] <= math.floor(lo) - 0.5 + 1e-9
    assert edges[-1] >= math.ceil(hi) + 0.5 - 1e-9
    assert h["reference"] == numpy_counts(ref, h["edges"])
    assert h["current"] == numpy_counts(cur, h["edges"])


def test_small_integer_span_is_one_bin_per_integer() -> None:
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"calls": rng.poisson(1.5, 5_000).clip(0, 6)})
    cur = pd.DataFrame({"calls": rng.poisson(2.0, 4_000).clip(0, 6)})
    h = drift_check(watchkeeper.compare(ref, cur), "calls").details["histogram"]
    lo, hi = int(min(ref.calls.min(), cur.calls.min())), int(max(ref.calls.max(), cur.calls.max()))
    assert h["discrete"] is True
    assert h["edges"] == [v - 0.5 for v in range(lo, hi + 2)]
    expected_ref = ref.calls.value_counts().reindex(range(lo, hi + 1), fill_value=0)
    expected_cur = cur.calls.value_counts().reindex(range(lo, hi + 1), fill_value=0)
    assert h["reference"] == expected_ref.tolist()
    assert h["current"] == expected_cur.tolist()


def test_histogram_through_the_engine_skips_missing_and_infinite_values() -> None:
    rng = np.random.default_rng(7)
    ref_values = rng.normal(50, 10, 6_000)
    cur_values = rng.normal(55, 12, 5_000)
    cur_values[:200] = np.nan
    cur_values[200:230] = np.inf
    cur_values[230:240] = -np.inf
    report = watchkeeper.compare(pd.DataFrame({"x": ref_values}), pd.DataFrame({"x": cur_values}))
    check = drift_check(report, "x")
    h = check.details["histogram"]
    finite = cur_values[np.isfinite(cur_values)]
    assert sum(h["current"]) == finite.shape[0] == check.n
    assert h["reference"] == numpy_counts(ref_values, h["edges"])
    assert h["current"] == numpy_counts(finite, h["edges"])
    lo, hi = expected_range(ref_values, finite)
    np.testing.assert_allclose([h["edges"][0], h["edges"][-1]], [lo, hi], rtol=1e-12)
    json.dumps(check.details, allow_nan=False)  # JSON-safe
    assert watchkeeper.Report.from_json(report.to_json()) == report


def test_constant_column_is_one_bin() -> None:
    ref = pd.DataFrame({"f": np.full(500, 2.5), "i": np.full(500, 4, dtype=np.int64)})
    cur = pd.DataFrame({"f": np.full(300, 2.5), "i": np.full(300, 4, dtype=np.int64)})
    report = watchkeeper.compare(ref, cur)
    f = drift_check(report, "f").details["histogram"]
    assert len(f["edges"]) == 2
    assert f["edges"][0] < 2.5 < f["edges"][1]
    assert (f["reference"], f["current"]) == ([500], [300])
    i = drift_check(report, "i").details["histogram"]
    assert i["edges"] == [3.5, 4.5]
    assert (i["reference"], i["current"]) == ([500], [300])


def test_mostly_constant_column_widens_to_its_extremes() -> None:
    ref = np.zeros(10_000)
    ref[:20] = np.linspace(1, 100, 20)  # 0.2 %: inside the 0.5 % tail on each side
    cur = np.zeros(8_000)
    cur[:10] = -5.0
    h = numeric_histogram(np.sort(ref), np.sort(cur), discrete=False)
    assert h is not None
    assert (h["edges"][0], h["edges"][-1]) == (-5.0, 100.0)
    assert h["reference"] == numpy_counts(ref, h["edges"])
    assert h["current"] == numpy_counts(cur, h["edges"])


def test_empty_or_overflowing_samples_have_no_histogram() -> None:
    assert numeric_histogram(np.array([]), np.array([1.0]), discrete=False) is None
    assert numeric_histogram(np.array([1.0]), np.array([]), discrete=True) is None
    huge = np.array([-1e308, 1e308])
    assert numeric_histogram(huge, huge, discrete=False) is None
    ref = pd.DataFrame({"x": np.arange(100.0)})
    cur = pd.DataFrame({"x": np.full(100, np.nan)})
    check = drift_check(watchkeeper.compare(ref, cur), "x")
    assert check.status == "skipped"
    assert "histogram" not in check.details


def test_a_skipped_check_on_few_rows_still_carries_its_plot_data() -> None:
    ref = pd.DataFrame({"x": np.arange(500.0)})
    cur = pd.DataFrame({"x": np.arange(10.0)})
    check = drift_check(watchkeeper.compare(ref, cur), "x")
    assert check.status == "skipped"
    assert sum(check.details["histogram"]["current"]) == 10


# ---------------------------------------------------------------------------- categorical


def test_categorical_counts_match_value_counts() -> None:
    rng = np.random.default_rng(11)
    levels = ["a", "b", "c", "d", "e"]
    ref = pd.Series(rng.choice(levels, 3_000, p=[0.4, 0.3, 0.15, 0.1, 0.05]))
    cur = pd.Series(rng.choice(levels, 2_000, p=[0.2, 0.2, 0.2, 0.2, 0.2]))
    cur[:37] = None
    report = watchkeeper.compare(pd.DataFrame({"c": ref}), pd.DataFrame({"c": cur}))
    d = drift_check(report, "c").details["distribution"]
    ref_counts, cur_counts = ref.value_counts(), cur.value_counts()
    assert sorted(d["categories"]) == levels
    assert d["reference"] == [int(ref_counts[c]) for c in d["categories"]]
    assert d["current"] == [int(cur_counts[c]) for c in d["categories"]]
    assert sum(d["current"]) == cur.notna().sum()
    # largest share in either sample first
    weight = [
        max(ref_counts[c] / ref.shape[0], cur_counts[c] / cur.notna().sum())
        for c in d["categories"]
    ]
    assert weight == sorted(weight, reverse=True)
    assert (d["n_other"], d["unseen"], d["other_unseen"]) == (0, {}, 0)


def test_many_categories_are_summed_into_other() -> None:
    rng = np.random.default_rng(5)
    levels = [f"L{i:03d}" for i in range(60)]
    p = 1 / np.arange(1, 61)
    ref = pd.Series(rng.choice(levels, 20_000, p=p / p.sum()))
    cur = pd.Series(rng.choice(levels, 10_000, p=p / p.sum()))
    cur[:2_000] = "L059"  # the rarest reference level becomes one of the largest
    report = watchkeeper.compare(pd.DataFrame({"c": ref}), pd.DataFrame({"c": cur}))
    d = drift_check(report, "c").details["distribution"]
    assert len(d["categories"]) == MAX_CATEGORIES + 1
    assert d["categories"][-1] == OTHER
    assert d["n_other"] == 60 - MAX_CATEGORIES
    assert "L059" in d["categories"]
    named = d["categories"][:-1]
    ref_counts, cur_counts = ref.value_counts(), cur.value_counts()
    assert d["reference"][:-1] == [int(ref_counts.get(c, 0)) for c in named]
    assert d["reference"][-1] == int(ref_counts.drop(named).sum())
    assert d["current"][-1] == int(cur_counts.drop(named, errors="ignore").sum())
    assert sum(d["reference"]) == 20_000
    assert sum(d["current"]) == 10_000


def test_one_left_over_category_is_not_summed() -> None:
    levels = [f"L{i:02d}" for i in range(MAX_CATEGORIES + 1)]
    ref = pd.DataFrame({"c": levels * 50})
    report = watchkeeper.compare(ref, ref.copy())
    d = drift_check(report, "c").details["distribution"]
    assert sorted(d["categories"]) == levels
    assert d["n_other"] == 0


def test_unseen_categories_are_named_largest_first() -> None:
    ref = pd.DataFrame({"pay": ["card"] * 600 + ["cash"] * 400})
    new = {"crypto": 90, "gold": 70, "barter": 50, "iou": 30, "shells": 20, "beads": 20, "x": 5}
    cur_values = ["card"] * 300 + ["cash"] * 200
    for label, count in new.items():
        cur_values += [label] * count
    report = watchkeeper.compare(ref, pd.DataFrame({"pay": cur_values}))
    d = drift_check(report, "pay").details["distribution"]
    assert d["categories"] == ["card", "cash"]
    assert d["current"] == [300, 200]
    assert len(d["unseen"]) == TOP_UNSEEN
    assert d["unseen"] == {"crypto": 90, "gold": 70, "barter": 50, "iou": 30, "beads": 20}
    assert list(d["unseen"]) == ["crypto", "gold", "barter", "iou", "beads"]  # ties by name
    assert d["other_unseen"] == 20 + 5
    json.dumps(d, allow_nan=False)


def test_boolean_column_gets_a_distribution() -> None:
    ref = pd.DataFrame({"flag": [True] * 700 + [False] * 300})
    cur = pd.DataFrame({"flag": [True] * 200 + [False] * 300})
    d = drift_check(watchkeeper.compare(ref, cur), "flag").details["distribution"]
    counts = dict(zip(d["categories"], zip(d["reference"], d["current"], strict=True), strict=True))
    assert counts == {"True": (700, 200), "False": (300, 300)}
