"""Hypothesis properties: identical samples, p-value ranges, symmetry, row-order invariance."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as hs
from hypothesis.extra import numpy as hnp

from watchkeeper.stats import (
    chi2,
    correct,
    cramer_von_mises,
    energy,
    hellinger_counts,
    jensen_shannon_counts,
    ks,
    ks_sorted,
    mann_whitney,
    psi,
    psi_counts,
    t_test,
    wasserstein,
    wasserstein_sorted,
    z_proportions,
)

FAST = settings(max_examples=40, deadline=None)

values = hs.one_of(
    hs.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False),
    hs.integers(-5, 5).map(float),  # plenty of ties
)


def samples(min_size: int = 1, max_size: int = 60) -> hs.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, hs.integers(min_size, max_size), elements=values)


counts = (
    hs.integers(1, 12)
    .flatmap(
        lambda k: hs.tuples(
            hnp.arrays(np.int64, k, elements=hs.integers(0, 50)),
            hnp.arrays(np.int64, k, elements=hs.integers(0, 50)),
        )
    )
    .filter(lambda pair: pair[0].sum() > 0 and pair[1].sum() > 0)
)


@FAST
@given(samples())
def test_identical_samples_show_no_drift(x: np.ndarray) -> None:
    res = ks(x, x)
    assert res.statistic == 0.0
    assert res.p_value == 1.0
    assert ks_sorted(np.sort(x), np.sort(x)) == res
    assert wasserstein(x, x).statistic == 0.0
    assert energy(x, x).statistic == 0.0
    assert psi(x, x).statistic == 0.0


@FAST
@given(samples(), samples())
def test_p_values_lie_in_the_unit_interval(x: np.ndarray, y: np.ndarray) -> None:
    p_values = [ks(x, y).p_value, mann_whitney(x, y).p_value]
    if min(x.size, y.size) >= 2:
        p_values.append(cramer_von_mises(x, y).p_value)
        if np.ptp(x) > 0 or np.ptp(y) > 0:
            p_values.append(t_test(x, y).p_value)
    p_values.append(chi2(np.round(x) % 4, np.round(y) % 4).p_value)
    p_values.append(z_proportions(x > 0, y > 0).p_value)
    assert all(0.0 <= p <= 1.0 for p in p_values), p_values


@FAST
@given(samples(), samples())
def test_sorted_kernels_equal_raw_functions(x: np.ndarray, y: np.ndarray) -> None:
    assert ks_sorted(np.sort(x), np.sort(y)) == ks(x, y)
    assert wasserstein_sorted(np.sort(x), np.sort(y)) == wasserstein(x, y).statistic


@FAST
@given(counts, hs.sampled_from([0.0, 1e-4, 0.1]))
def test_symmetric_distances_are_symmetric_and_bounded(
    pair: tuple[np.ndarray, np.ndarray], eps: float
) -> None:
    ref, cur = pair
    for func in (jensen_shannon_counts, hellinger_counts):
        forward, backward = func(ref, cur, eps=eps).statistic, func(cur, ref, eps=eps).statistic
        assert abs(forward - backward) <= 1e-12
        assert 0.0 <= forward <= 1.0
    if eps > 0:
        forward, backward = psi_counts(ref, cur, eps=eps), psi_counts(cur, ref, eps=eps)
        assert abs(forward.statistic - backward.statistic) <= 1e-9 * max(1.0, forward.statistic)
        assert forward.statistic >= 0.0


@FAST
@given(samples(), samples(), hs.randoms(use_true_random=False))
def test_row_order_does_not_matter(x: np.ndarray, y: np.ndarray, random: object) -> None:
    rng = np.random.default_rng(random.getrandbits(32))  # type: ignore[attr-defined]
    xs, ys = x[rng.permutation(x.size)], y[rng.permutation(y.size)]
    assert ks(xs, ys) == ks(x, y)
    assert mann_whitney(xs, ys) == mann_whitney(x, y)
    assert wasserstein(xs, ys) == wasserstein(x, y)
    assert energy(xs, ys) == energy(x, y)
    assert psi(xs, ys) == psi(x, y)
    assert chi2(np.round(xs) % 3, np.round(ys) % 3) == chi2(np.round(x) % 3, np.round(y) % 3)


@FAST
@given(hnp.arrays(np.float64, hs.integers(1, 30), elements=hs.floats(0, 1)))
def test_corrections_are_ordered_and_monotone(p: np.ndarray) -> None:
    bonferroni = correct(p, "bonferroni").p_values
    holm = correct(p, "holm").p_values
    bh = correct(p, "bh").p_values
    assert np.all(p <= bh + 1e-15)
    assert np.all(bh <= holm + 1e-15)
    assert np.all(holm <= bonferroni + 1e-15)
    assert np.all(bonferroni <= 1.0)
    order = np.argsort(p, kind="stable")
    for adjusted in (bonferroni, holm, bh):
        assert np.all(np.diff(adjusted[order]) >= -1e-15)
