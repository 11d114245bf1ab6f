"""chi2, chi2_counts and z_proportions against scipy and hand computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats as st

from watchkeeper.stats import chi2, chi2_counts, z_proportions

RTOL = 1e-12


def table_of(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    categories = sorted(set(reference.tolist()) | set(current.tolist()))
    return np.array(
        [
            [np.count_nonzero(reference == c) for c in categories],
            [np.count_nonzero(current == c) for c in categories],
        ]
    )


def test_chi2_counts_hand_fixture() -> None:
    # columns 80, 60, 60 of 200 -> expected 40, 30, 30 in both rows
    # (50-40)²/40 + 0 + (20-30)²/30 + (30-40)²/40 + 0 + (40-30)²/30 = 2.5 + 10/3 + 2.5 + 10/3
    res = chi2_counts([50, 30, 20], [30, 30, 40])
    assert res.statistic == pytest.approx(35.0 / 3.0, rel=1e-14)
    assert res.p_value == pytest.approx(math.exp(-35.0 / 6.0), rel=1e-12)  # chi2(2) sf = e^-x/2
    # goodness of fit: expected 100 · (0.5, 0.3, 0.2) = (50, 30, 20)
    # (30-50)²/50 + 0 + (40-20)²/20 = 8 + 20
    gof = chi2_counts([50, 30, 20], [30, 30, 40], kind="goodness_of_fit")
    assert gof.statistic == pytest.approx(28.0, rel=1e-14)
    assert gof.p_value == pytest.approx(math.exp(-14.0), rel=1e-12)


@pytest.mark.parametrize("correction", [False, True])
@pytest.mark.parametrize("seed", range(30))
def test_chi2_matches_chi2_contingency(seed: int, correction: bool) -> None:
    rng = np.random.default_rng(seed)
    labels = np.array(["red", "green", "blue", "cyan", "amber"])[: int(rng.integers(2, 6))]
    reference = rng.choice(labels, int(rng.integers(1, 300)))
    current = rng.choice(labels, int(rng.integers(1, 300)), p=rng.dirichlet(np.ones(labels.size)))
    table = table_of(reference, current)
    res = chi2(reference, current, correction=correction)
    counts = chi2_counts(table[0], table[1], correction=correction)
    assert counts == res
    if table.shape[1] == 1:
        assert (res.statistic, res.p_value) == (0.0, 1.0)
        return
    ref = st.chi2_contingency(table, correction=correction)
    np.testing.assert_allclose((res.statistic, res.p_value), (ref.statistic, ref.pvalue), RTOL)


@pytest.mark.parametrize("seed", range(30))
def test_chi2_goodness_of_fit_matches_chisquare(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.integers(0, 5, int(rng.integers(5, 300)))
    current = rng.integers(0, 7, int(rng.integers(5, 300)))  # 5 and 6 unseen in reference
    eps = (1e-4, 0.01, 0.05)[seed % 3]
    table = table_of(reference, current)
    ref_counts, cur_counts = table[0].astype(float), table[1].astype(float)
    proportions = np.where(ref_counts > 0, ref_counts / ref_counts.sum(), eps)
    expected = proportions / proportions.sum() * cur_counts.sum()
    res = chi2(reference, current, kind="goodness_of_fit", eps=eps)
    if table.shape[1] == 1:
        assert (res.statistic, res.p_value) == (0.0, 1.0)
        return
    ref = st.chisquare(cur_counts, expected)
    np.testing.assert_allclose((res.statistic, res.p_value), (ref.statistic, ref.pvalue), RTOL)


def test_chi2_drops_empty_columns_and_unseen_with_eps_zero() -> None:
    assert chi2_counts([5, 0, 5], [3, 0, 7]) == chi2_counts([5, 5], [3, 7])
    res = chi2_counts([5, 5, 0], [3, 3, 1], kind="goodness_of_fit", eps=0)
    assert (res.statistic, res.p_value) == (math.inf, 0.0)
    assert chi2(["a", "a"], ["a"]) == chi2_counts([2], [1])
    assert (chi2(["a", "a"], ["a"]).statistic, chi2(["a"], ["a"]).p_value) == (0.0, 1.0)


def test_chi2_accepts_mixed_inputs() -> None:
    expected = chi2(np.array(["a", "b", "b"]), np.array(["b", "c"]))
    assert chi2(pd.Series(["a", "b", "b"]), ["b", "c"]) == expected
    assert chi2(np.array(["a", "b", "b"], dtype=object), ("b", "c")) == expected
    assert chi2([1, 2, 2], [2.0, 3.0]) == expected  # 2 and 2.0 are one category
    assert chi2(["a", None, "b", "b"], ["b", "c"], nan_policy="omit") == expected


def test_z_proportions_hand_fixture() -> None:
    reference = [1, 0, 0, 0, 1, 0, 0, 0]  # 2 of 8
    current = [1, 1, 0, 1, 1, 0, 1, 0]  # 5 of 8
    # pooled 7/16; se = sqrt(7/16 · 9/16 · (1/8 + 1/8)); z = (5/8 - 2/8) / se
    res = z_proportions(reference, current)
    assert res.statistic == pytest.approx(1.5118578920369088, rel=1e-14)
    assert res.p_value == pytest.approx(math.erfc(1.5118578920369088 / math.sqrt(2)), rel=1e-14)
    flipped = z_proportions(current, reference)
    assert flipped.statistic == -res.statistic
    assert flipped.p_value == res.p_value


@pytest.mark.parametrize("seed", range(30))
def test_z_squared_is_uncorrected_chi2(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.random(int(rng.integers(1, 400))) < rng.uniform(0.05, 0.95)
    current = rng.random(int(rng.integers(1, 400))) < rng.uniform(0.05, 0.95)
    res = z_proportions(reference, current)
    table = table_of(reference.astype(int), current.astype(int))
    if table.shape[1] == 1:  # all zeros or all ones on both sides
        assert (res.statistic, res.p_value) == (0.0, 1.0)
        return
    ref = st.chi2_contingency(table, correction=False)
    np.testing.assert_allclose(res.statistic**2, ref.statistic, rtol=1e-10)
    np.testing.assert_allclose(res.p_value, ref.pvalue, rtol=1e-10)


def test_z_proportions_degenerate_and_input_kinds() -> None:
    assert z_proportions([0, 0], [0, 0, 0]) == z_proportions([1], [True, True])
    assert (z_proportions([0, 0], [0]).statistic, z_proportions([1], [1]).p_value) == (0.0, 1.0)
    expected = z_proportions([1, 0, 0], [1, 1, 0])
    assert z_proportions([True, False, False], np.array([1.0, 1.0, 0.0])) == expected
    assert z_proportions(pd.Series([True, False, None, False], dtype="boolean"), [1, 1, 0],
                         nan_policy="omit") == expected  # fmt: skip
