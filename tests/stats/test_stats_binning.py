"""bin_edges and bin_counts: the edge rules, the side each edge belongs to, both code paths."""

from __future__ import annotations

import numpy as np
import pytest

from watchkeeper.stats import bin_counts, bin_edges


def naive_counts(values: np.ndarray, edges: np.ndarray) -> list[int]:
    """The documented convention, one value at a time (independent of the vectorised code)."""
    m = len(edges) - 1
    counts = [0] * (m + 2)
    for x in values:
        if x < edges[0]:
            counts[0] += 1
        elif x > edges[-1]:
            counts[m + 1] += 1
        elif x == edges[-1]:
            counts[m] += 1  # the last inner bin is closed on the right
        else:
            i = next(i for i in range(1, m + 1) if edges[i - 1] <= x < edges[i])
            counts[i] += 1
    return counts


def expected_quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    return np.array([edges[0], edges[0]]) if edges.size == 1 else edges


@pytest.mark.parametrize("seed", range(30))
def test_quantile_edges_equal_numpy_quantiles_deduplicated(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, bins = int(rng.integers(1, 400)), int(rng.integers(1, 25))
    reference = rng.normal(size=n) if seed % 2 else rng.integers(0, 6, n).astype(float)
    edges = bin_edges(reference, bins=bins)
    np.testing.assert_array_equal(edges, expected_quantile_edges(reference, bins))
    np.testing.assert_array_equal(bin_edges(np.sort(reference), bins=bins, presorted=True), edges)
    assert edges[0] == reference.min()
    assert edges[-1] == reference.max()


@pytest.mark.parametrize("seed", range(10))
def test_uniform_edges_are_linspace(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.exponential(size=100)
    edges = bin_edges(reference, bins=7, binning="uniform")
    np.testing.assert_array_equal(edges, np.linspace(reference.min(), reference.max(), 8))
    sorted_edges = bin_edges(np.sort(reference), bins=7, binning="uniform", presorted=True)
    np.testing.assert_array_equal(sorted_edges, edges)


def test_edge_fixtures() -> None:
    np.testing.assert_array_equal(bin_edges(np.arange(1.0, 11.0), bins=2), [1.0, 5.5, 10.0])
    np.testing.assert_array_equal(bin_edges([3.0, 1.0, 2.0], bins=1), [1.0, 3.0])
    # quantiles of [0, 0, 0, 0, 1] at 0, .25, .5, .75, 1 are 0, 0, 0, 0, 1
    np.testing.assert_array_equal(bin_edges([0, 0, 0, 0, 1], bins=4), [0.0, 1.0])
    np.testing.assert_array_equal(bin_edges([4, 4], bins=10), [4.0, 4.0])
    np.testing.assert_array_equal(bin_edges([4, 4], bins=10, binning="uniform"), [4.0, 4.0])


def test_counts_follow_the_documented_sides() -> None:
    edges = np.array([1.0, 3.0, 5.0])
    values = np.array([0.99, 1.0, 2.0, 3.0, 4.99, 5.0, 5.01, -np.inf, np.inf])
    # below 1: 0.99, -inf | [1, 3): 1, 2 | [3, 5]: 3, 4.99, 5 | above 5: 5.01, inf
    expected = [2, 2, 3, 2]
    np.testing.assert_array_equal(bin_counts(values, edges), expected)
    np.testing.assert_array_equal(bin_counts(np.sort(values), edges, presorted=True), expected)


def test_constant_reference_counts_below_equal_above() -> None:
    edges = bin_edges([2.0, 2.0, 2.0])
    values = [1.0, 2.0, 2.0, 3.0, 4.0]
    np.testing.assert_array_equal(bin_counts(values, edges), [1, 2, 2])
    np.testing.assert_array_equal(bin_counts(sorted(values), edges, presorted=True), [1, 2, 2])


@pytest.mark.parametrize("seed", range(30))
def test_sorted_and_unsorted_paths_agree_with_the_naive_rule(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.integers(0, 8, 200).astype(float) if seed % 3 == 0 else rng.normal(size=200)
    edges = bin_edges(
        reference, bins=int(rng.integers(1, 12)), binning=("quantile", "uniform")[seed % 2]
    )
    current = np.concatenate([rng.normal(0, 2, 150), edges, rng.choice(reference, 20)])
    expected = naive_counts(current, edges)
    np.testing.assert_array_equal(bin_counts(current, edges), expected)
    np.testing.assert_array_equal(bin_counts(np.sort(current), edges, presorted=True), expected)
    ref_counts = bin_counts(reference, edges)
    assert ref_counts[0] == 0
    assert ref_counts[-1] == 0
    assert ref_counts.sum() == reference.size
    assert ref_counts.dtype == np.int64
    assert ref_counts.size == edges.size + 1


def test_empty_values_give_zero_counts() -> None:
    np.testing.assert_array_equal(bin_counts([], [0.0, 1.0]), [0, 0, 0])
    np.testing.assert_array_equal(bin_counts([], [0.0, 1.0], presorted=True), [0, 0, 0])
