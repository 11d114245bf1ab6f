"""Golden tests: every two-sample test and CDF distance against scipy on seeded inputs.

The 30 cases cycle through six shapes: continuous, integer data with ties, tiny samples
(n = 1..5), very unequal sizes, constant columns, and large samples (20k vs 15k, which takes
scipy's asymptotic KS branch). The prepared kernels (ks_sorted, wasserstein_sorted) are checked
on the same cases against both scipy and the raw functions.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats as st

from watchkeeper.errors import InvalidInputError
from watchkeeper.stats import (
    anderson,
    cramer_von_mises,
    energy,
    ks,
    ks_sorted,
    mann_whitney,
    t_test,
    wasserstein,
    wasserstein_sorted,
)

RTOL = 1e-12
SHAPES = ("continuous", "ties", "tiny", "unequal", "constant", "large")


def make_case(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = SHAPES[seed % len(SHAPES)]
    if shape == "continuous":
        n1, n2 = rng.integers(20, 300, size=2)
        return rng.normal(size=n1), rng.normal(rng.uniform(0, 0.5), rng.uniform(0.8, 1.5), n2)
    if shape == "ties":
        n1, n2 = rng.integers(10, 200, size=2)
        top = int(rng.integers(2, 7))
        return (
            rng.integers(0, top, n1).astype(float),
            rng.integers(0, top + 1, n2).astype(float),
        )
    if shape == "tiny":
        n1, n2 = rng.integers(1, 6, size=2)
        if seed % 4 == 2:
            return rng.integers(0, 3, n1).astype(float), rng.integers(0, 3, n2).astype(float)
        return rng.normal(size=n1), rng.normal(0.5, size=n2)
    if shape == "unequal":
        small, big = int(rng.integers(2, 9)), int(rng.integers(200, 2000))
        a, b = rng.normal(size=small), rng.normal(0.3, size=big)
        return (a, b) if seed % 4 == 3 else (b, a)
    if shape == "constant":
        c = float(rng.integers(-3, 4))
        n1, n2 = rng.integers(2, 30, size=2)
        choice = seed % 3
        if choice == 0:  # both constant, equal
            return np.full(n1, c), np.full(n2, c)
        if choice == 1:  # both constant, different
            return np.full(n1, c), np.full(n2, c + 1.0)
        return np.full(n1, c), rng.integers(-3, 4, n2).astype(float)
    # large: the asymptotic KS branch (max(n1, n2) > 10 000)
    if seed % 4 == 1:
        return rng.integers(0, 40, 20_000).astype(float), rng.integers(0, 40, 15_000).astype(float)
    return rng.normal(size=20_000), rng.normal(0.02, size=15_000)


SEEDS = list(range(30))


def close(actual: float | tuple[float, ...], expected: float | tuple[float, ...]) -> None:
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=0)


@pytest.mark.parametrize("seed", SEEDS)
def test_ks_matches_scipy(seed: int) -> None:
    x, y = make_case(seed)
    ref = st.ks_2samp(x, y)
    res = ks(x, y)
    close((res.statistic, res.p_value), (ref.statistic, ref.pvalue))


@pytest.mark.parametrize("alternative", ["less", "greater"])
@pytest.mark.parametrize("seed", SEEDS[::3])
def test_ks_one_sided_matches_scipy(seed: int, alternative: str) -> None:
    x, y = make_case(seed)
    with warnings.catch_warnings():  # scipy may announce its exact -> asymptotic fallback
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = st.ks_2samp(x, y, alternative=alternative)
    res = ks(x, y, alternative=alternative)
    close((res.statistic, res.p_value), (ref.statistic, ref.pvalue))


@pytest.mark.parametrize("method", ["exact", "asymp"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 6, 8])
def test_ks_methods_match_scipy(seed: int, method: str) -> None:
    x, y = make_case(seed)
    ref = st.ks_2samp(x, y, method=method)
    res = ks(x, y, method=method)
    close((res.statistic, res.p_value), (ref.statistic, ref.pvalue))


@pytest.mark.parametrize("seed", SEEDS)
def test_ks_sorted_matches_scipy_and_ks(seed: int) -> None:
    x, y = make_case(seed)
    res = ks_sorted(np.sort(x), np.sort(y))
    ref = st.ks_2samp(x, y)
    close((res.statistic, res.p_value), (ref.statistic, ref.pvalue))
    raw = ks(x, y)
    close((res.statistic, res.p_value), (raw.statistic, raw.p_value))


@pytest.mark.parametrize("seed", SEEDS)
def test_t_test_matches_scipy(seed: int) -> None:
    x, y = make_case(seed)
    if min(x.size, y.size) < 2:
        with pytest.raises(InvalidInputError, match="needs at least 2 values"):
            t_test(x, y)
        return
    for equal_var in (False, True):
        with warnings.catch_warnings():  # scipy's precision-loss warning on constant columns
            warnings.simplefilter("ignore", RuntimeWarning)
            ref = st.ttest_ind(x, y, equal_var=equal_var)
        res = t_test(x, y, equal_var=equal_var)
        np.testing.assert_allclose(
            (res.statistic, res.p_value), (ref.statistic, ref.pvalue), rtol=1e-10, atol=0
        )


def test_t_test_constant_columns_are_decided_exactly() -> None:
    # equal constants: 0/0, as scipy -> nan; different constants: c/0 -> inf, p = 0
    res = t_test([2.0, 2.0, 2.0], [2.0, 2.0])
    assert np.isnan(res.statistic)
    assert np.isnan(res.p_value)
    assert t_test([1.0, 1.0], [2.0, 2.0, 2.0]) == t_test([1.0, 1.0], [2.0, 2.0])
    res = t_test([3.0, 3.0], [2.0, 2.0])
    assert (res.statistic, res.p_value) == (np.inf, 0.0)
    # 0.1 * 5 / 5 != 0.1 in floating point; scipy then reports t = -1.41, p = 0.29
    res = t_test([0.1] * 5, [0.1] * 3)
    assert np.isnan(res.p_value)


@pytest.mark.parametrize("seed", SEEDS)
def test_mann_whitney_matches_scipy(seed: int) -> None:
    x, y = make_case(seed)
    ref = st.mannwhitneyu(x, y, alternative="two-sided")
    res = mann_whitney(x, y)
    close((res.statistic, res.p_value), (ref.statistic, ref.pvalue))
    ref = st.mannwhitneyu(x, y, alternative="two-sided", use_continuity=False, method="asymptotic")
    res = mann_whitney(x, y, use_continuity=False, method="asymptotic")
    close((res.statistic, res.p_value), (ref.statistic, ref.pvalue))


@pytest.mark.parametrize("seed", [s for s in SEEDS if s % 6 in (2, 3)])
def test_mann_whitney_exact_matches_scipy(seed: int) -> None:
    x, y = make_case(seed)
    ref = st.mannwhitneyu(x, y, alternative="two-sided", method="exact")
    res = mann_whitney(x, y, method="exact")
    close((res.statistic, res.p_value), (ref.statistic, ref.pvalue))


@pytest.mark.parametrize("seed", SEEDS)
def test_cramer_von_mises_matches_scipy(seed: int) -> None:
    x, y = make_case(seed)
    if min(x.size, y.size) < 2:
        with pytest.raises(InvalidInputError, match="needs at least 2 values"):
            cramer_von_mises(x, y)
        return
    ref = st.cramervonmises_2samp(x, y)
    res = cramer_von_mises(x, y)
    close((res.statistic, res.p_value), (ref.statistic, ref.pvalue))
    if max(x.size, y.size) <= 300:
        ref = st.cramervonmises_2samp(x, y, method="asymptotic")
        res = cramer_von_mises(x, y, method="asymptotic")
        close((res.statistic, res.p_value), (ref.statistic, ref.pvalue))


@pytest.mark.parametrize("midrank", [True, False])
@pytest.mark.parametrize("seed", SEEDS)
def test_anderson_matches_scipy(seed: int, midrank: bool) -> None:
    x, y = make_case(seed)
    variant = "midrank" if midrank else "right"
    pooled = np.concatenate([x, y])
    if pooled.size < 4 or np.unique(pooled).size < 2:
        with pytest.raises(InvalidInputError, match="anderson needs at least"):
            anderson(x, y, midrank=midrank)
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ref = st.anderson_ksamp([x, y], variant=variant)
    res = anderson(x, y, midrank=midrank)
    close((res.statistic, res.p_value), (ref.statistic, ref.pvalue))
    messages = " ".join(str(w.message) for w in caught)
    expected = "capped" if "capped" in messages else "floored" if "floored" in messages else None
    assert res.p_value_clipped == expected
    if expected == "capped":
        assert res.p_value == 0.25
    if expected == "floored":
        assert res.p_value == 0.001


@pytest.mark.parametrize("seed", SEEDS)
def test_wasserstein_matches_scipy_and_sorted_kernel(seed: int) -> None:
    x, y = make_case(seed)
    expected = st.wasserstein_distance(x, y)
    close(wasserstein(x, y).statistic, expected)
    close(wasserstein_sorted(np.sort(x), np.sort(y)), expected)


@pytest.mark.parametrize("seed", SEEDS)
def test_wasserstein_normalized_divides_by_reference_std(seed: int) -> None:
    x, y = make_case(seed)
    for ddof in (0, 1):
        if x.size <= ddof:
            with pytest.raises(InvalidInputError, match="needs at least 2 values in reference"):
                wasserstein(x, y, normalize=True, ddof=ddof)
            continue
        scale = np.std(x, ddof=ddof)
        raw = st.wasserstein_distance(x, y)
        expected = raw / scale if scale > 0 else raw  # the constant-reference fallback
        close(wasserstein(x, y, normalize=True, ddof=ddof).statistic, expected)


def test_wasserstein_constant_reference_is_unscaled_not_nan() -> None:
    # |5 - 5| = 0 for two values and |7 - 5| = 2 for one: mean 2/3, reference std 0
    res = wasserstein([5.0, 5.0, 5.0], [5.0, 5.0, 7.0], normalize=True)
    assert res.statistic == pytest.approx(2.0 / 3.0, rel=1e-15)
    assert wasserstein([5.0, 5.0], [5.0], normalize=True).statistic == 0.0


@pytest.mark.parametrize("seed", SEEDS)
def test_energy_matches_scipy(seed: int) -> None:
    x, y = make_case(seed)
    close(energy(x, y).statistic, st.energy_distance(x, y))
