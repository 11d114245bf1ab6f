"""Manifold check: the permutation statistics (golden), null, power, determinism, state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from scipy.stats import energy_distance

from watchkeeper.baseline._manifold import ManifoldReference
from watchkeeper.baseline._manifold import permutation_two_sample as _permutation_test
from watchkeeper.drift.multivariate import manifold
from watchkeeper.errors import InvalidInputError, InvalidParameterError, UnknownMethodError

Draw = Callable[[int, int], np.ndarray]


@pytest.fixture(scope="module")
def model(draw: Draw) -> ManifoldReference:
    return ManifoldReference.fit(draw(5000, 0), max_rows=1000, seed=0)


def test_energy_statistic_matches_scipy_in_one_dimension() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=150), rng.normal(0.3, 1.2, size=90)
    stat, p, bw = _permutation_test(
        a[:, None], b[:, None], statistic="energy", n_permutations=10, rng=rng
    )
    assert bw is None
    assert stat == pytest.approx(energy_distance(a, b) ** 2, rel=1e-10)
    assert 0 < p <= 1


@pytest.mark.parametrize("statistic", ["energy", "mmd"])
def test_statistics_match_the_naive_formulas(statistic: str) -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(120, 3)), rng.normal(0.2, 1.0, size=(80, 3))
    stat, _, bw = _permutation_test(
        a, b, statistic=statistic, n_permutations=5, rng=rng, bandwidth=1.7
    )
    if statistic == "energy":
        expected = 2 * cdist(a, b).mean() - cdist(a, a).mean() - cdist(b, b).mean()
    else:
        assert bw == 1.7

        def k(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            return np.exp(-cdist(x, y, "sqeuclidean") / (2 * 1.7**2))

        expected = k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean()
    assert stat == pytest.approx(expected, rel=1e-10)


def test_permutation_p_value_convention() -> None:
    rng = np.random.default_rng(2)
    far_a, far_b = rng.normal(size=(60, 2)), rng.normal(5.0, 1.0, size=(60, 2))
    _, p, _ = _permutation_test(far_a, far_b, statistic="energy", n_permutations=99, rng=rng)
    assert p == pytest.approx(1 / 100)  # (b + 1) / (B + 1) with b = 0
    same = rng.normal(size=(60, 2))
    _, p_same, _ = _permutation_test(same, same, statistic="energy", n_permutations=99, rng=rng)
    assert p_same > 0.05
    assert p_same * 100 == pytest.approx(round(p_same * 100))


def test_blocked_computation_equals_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    from watchkeeper.baseline import _manifold

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(70, 2)), rng.normal(0.5, 1.0, size=(50, 2))
    whole = _permutation_test(
        a, b, statistic="mmd", n_permutations=20, rng=np.random.default_rng(9), bandwidth=1.0
    )
    monkeypatch.setattr(_manifold, "_BLOCK_ELEMENTS", 7 * 120)  # 7 rows per block
    blocked = _permutation_test(
        a, b, statistic="mmd", n_permutations=20, rng=np.random.default_rng(9), bandwidth=1.0
    )
    assert blocked[0] == pytest.approx(whole[0], rel=1e-12)
    assert blocked[1] == whole[1]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("statistic", ["energy", "mmd"])
def test_null_windows_are_ok(
    model: ManifoldReference, draw: Draw, seed: int, statistic: Any
) -> None:
    result = manifold(model, draw(2000, 100 + seed), seed=seed, statistic=statistic)
    assert result.status == "ok"
    assert result.p_value is not None
    assert result.p_value >= 0.05


@pytest.mark.parametrize("statistic", ["energy", "mmd"])
def test_strong_shift_alerts(model: ManifoldReference, draw: Draw, statistic: Any) -> None:
    window = draw(2000, 50)
    window[:, :3] += 1.0
    result = manifold(model, window, statistic=statistic)
    assert result.status == "alert"
    assert result.p_value == pytest.approx(1 / 201)
    assert result.threshold == 0.05
    assert result.value is not None
    assert result.value > 0
    assert result.check == "drift.manifold"
    assert (result.n, result.n_reference) == (2000, 500)
    if statistic == "mmd":
        assert result.details["bandwidth"] > 0


def test_is_deterministic_and_survives_a_state_round_trip(
    model: ManifoldReference, draw: Draw, round_trip: Callable[..., Any]
) -> None:
    window = draw(1500, 60)
    window[:, 0] += 0.3
    first = manifold(model, window, seed=4)
    assert manifold(model, window, seed=4).to_dict() == first.to_dict()
    back = ManifoldReference.from_state(*round_trip(model.to_state()))
    np.testing.assert_array_equal(back.fit_rows_, model.fit_rows_)
    np.testing.assert_array_equal(back.holdout_rows_, model.holdout_rows_)
    # the Isomap is refitted lazily on first use and embeds identically
    np.testing.assert_allclose(
        back.holdout_embedding(), model.holdout_embedding(), rtol=1e-9, atol=1e-9
    )
    again = manifold(back, window, seed=4)
    assert again.p_value == first.p_value
    assert again.value == pytest.approx(first.value, rel=1e-9)


def test_reference_split_and_validation(draw: Draw) -> None:
    m = ManifoldReference.fit(draw(300, 1), max_rows=200, n_neighbors=5)
    assert m.fit_rows_.shape == (100, 6)
    assert m.holdout_rows_.shape == (100, 6)
    with pytest.raises(InvalidInputError, match="neighbours"):
        ManifoldReference.fit(draw(15, 1), n_neighbors=10)
    with pytest.raises(InvalidParameterError, match="max_rows"):
        ManifoldReference.fit(draw(100, 1), max_rows=50_000)
    with pytest.raises(UnknownMethodError, match="statistic"):
        manifold(m, draw(100, 2), statistic="wasserstein")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="alpha"):
        manifold(m, draw(100, 2), alpha=1.5)
