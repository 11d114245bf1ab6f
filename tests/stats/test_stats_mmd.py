"""mmd: the statistic against a brute-force computation, determinism, p-value conventions,
and its false-alarm rate and power on seeded data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist

from watchkeeper.stats import mmd


def brute_force_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    pooled = np.vstack([x, y])
    sigma = np.median(pdist(pooled))

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.exp(-np.sum((a - b) ** 2) / (2 * sigma**2)))

    kxx = np.mean([[k(a, b) for b in x] for a in x])
    kyy = np.mean([[k(a, b) for b in y] for a in y])
    kxy = np.mean([[k(a, b) for b in y] for a in x])
    return float(kxx + kyy - 2 * kxy)


@pytest.mark.parametrize("seed", range(12))
def test_statistic_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 4))
    x = rng.normal(size=(int(rng.integers(2, 25)), d))
    y = rng.normal(rng.uniform(0, 1), size=(int(rng.integers(2, 25)), d))
    res = mmd(x, y, n_permutations=10)
    assert res.statistic == pytest.approx(brute_force_mmd2(x, y), rel=1e-9, abs=1e-14)


def test_deterministic_for_a_seed_and_one_dimensional_equals_one_column() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=60), rng.normal(0.3, size=50)
    assert mmd(x, y, seed=7) == mmd(x, y, seed=7)
    assert mmd(x, y, seed=7) == mmd(x[:, None], pd.DataFrame({"a": y}), seed=7)
    p_values = {mmd(x, y, seed=s, n_permutations=19).p_value for s in range(10)}
    assert len(p_values) > 1  # the seed drives the permutations


def test_p_value_conventions() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=40), rng.normal(5.0, size=40)  # far apart: no permutation beats it
    assert mmd(x, y, n_permutations=49).p_value == 1 / 50
    assert mmd(x, y, n_permutations=49, plus_one=False).p_value == 0.0
    same = rng.normal(size=30)
    assert mmd(same, same, n_permutations=20).p_value > 0.05


def test_subsampling_caps_rows_deterministically() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(500, 2)), rng.normal(size=(300, 2))
    res = mmd(x, y, max_samples=100, n_permutations=20, seed=5)
    assert res == mmd(x, y, max_samples=100, n_permutations=20, seed=5)
    assert res != mmd(x, y, max_samples=100, n_permutations=20, seed=6)


def test_row_order_within_samples_does_not_change_the_statistic() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(40, 3)), rng.normal(0.5, size=(30, 3))
    res = mmd(x, y, n_permutations=5)
    shuffled = mmd(x[rng.permutation(40)], y[rng.permutation(30)], n_permutations=5)
    assert shuffled.statistic == pytest.approx(res.statistic, rel=1e-10)


def test_degenerate_constant_samples() -> None:
    res = mmd([1.0, 1.0, 1.0], [1.0, 1.0], n_permutations=9)
    assert res.statistic == pytest.approx(0.0, abs=1e-15)
    assert res.p_value == 1.0
    # more than half of the pairs at distance 0: the median of the positive distances is used
    res = mmd([0.0] * 10, [0.0] * 9 + [1.0], n_permutations=9)
    assert np.isfinite(res.statistic)
    assert res.statistic > 0


@pytest.mark.slow
def test_false_alarm_rate_and_power() -> None:
    rng = np.random.default_rng(2024)
    null_p = [
        mmd(rng.normal(size=40), rng.normal(size=40), n_permutations=99, seed=i).p_value
        for i in range(60)
    ]
    assert np.mean(np.array(null_p) <= 0.05) <= 0.15  # nominal 0.05
    drift_p = [
        mmd(rng.normal(size=40), rng.normal(1.0, size=40), n_permutations=99, seed=i).p_value
        for i in range(20)
    ]
    assert np.mean(np.array(drift_p) <= 0.05) >= 0.9
