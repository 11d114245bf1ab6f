"""PSI, KL, Jensen-Shannon and Hellinger: hand-computed fixtures, scipy, binning of raw samples."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats as st
from scipy.spatial.distance import jensenshannon

from watchkeeper.stats import (
    bin_counts,
    bin_edges,
    hellinger,
    hellinger_counts,
    jensen_shannon,
    jensen_shannon_counts,
    kl,
    kl_counts,
    psi,
    psi_counts,
)

REF = [50, 30, 20]  # p = (0.5, 0.3, 0.2)
CUR = [30, 30, 40]  # q = (0.3, 0.3, 0.4)


def test_psi_hand_fixture() -> None:
    # (0.3 - 0.5) ln(0.3/0.5) + 0 + (0.4 - 0.2) ln(0.4/0.2)
    # = 0.2 ln(5/3) + 0.2 ln 2 = 0.2 (0.5108256237659907 + 0.6931471805599453)
    assert psi_counts(REF, CUR, eps=0).statistic == pytest.approx(0.2407945608651872, rel=1e-14)


def test_kl_hand_fixture() -> None:
    # KL(p‖q) = 0.5 ln(0.5/0.3) + 0.3 ln 1 + 0.2 ln(0.2/0.4) = 0.5 ln(5/3) - 0.2 ln 2
    expected = 0.11678337577100631
    assert kl_counts(REF, CUR, eps=0).statistic == pytest.approx(expected, rel=1e-14)
    # in bits: / ln 2
    bits = kl_counts(REF, CUR, eps=0, base=2).statistic
    assert bits == pytest.approx(0.16848279708310313, rel=1e-14)
    # not symmetric: KL(q‖p) = 0.3 ln(0.3/0.5) + 0.4 ln(0.4/0.2) = 0.12401118509418088
    assert kl_counts(CUR, REF, eps=0).statistic == pytest.approx(0.12401118509418088, rel=1e-14)


def test_jensen_shannon_hand_fixture() -> None:
    # m = (0.4, 0.3, 0.3); KL(p‖m) = 0.5 ln 1.25 + 0.2 ln(2/3) = 0.030478...,
    # KL(q‖m) = 0.3 ln 0.75 + 0.4 ln(4/3) = 0.028768...; JS = sqrt((sum / 2) / ln 2)
    res = jensen_shannon_counts(REF, CUR, eps=0)
    assert res.statistic == pytest.approx(0.2067308603321408, rel=1e-14)
    nats = jensen_shannon_counts(REF, CUR, eps=0, base=math.e)
    assert nats.statistic == pytest.approx(0.1721147310381218, rel=1e-14)


def test_hellinger_hand_fixture() -> None:
    # sqrt(1 - (sqrt(0.15) + sqrt(0.09) + sqrt(0.08)))
    res = hellinger_counts(REF, CUR, eps=0)
    assert res.statistic == pytest.approx(0.17279743315408114, rel=1e-14)


def test_eps_smoothing_hand_fixture() -> None:
    # counts [1, 0] vs [0, 1], eps 0.1: p = (1.1, 0.1)/1.2, q = (0.1, 1.1)/1.2
    # PSI = 2 (1/1.2) ln 11; KL(p‖q) = (1.1/1.2 - 0.1/1.2) ln 11 = (1/1.2) ln 11
    assert psi_counts([1, 0], [0, 1], eps=0.1).statistic == pytest.approx(
        3.996492121330618, rel=1e-14
    )
    assert kl_counts([1, 0], [0, 1], eps=0.1).statistic == pytest.approx(
        1.998246060665309, rel=1e-14
    )
    # Hellinger: sqrt(1 - 2 sqrt(1.1 * 0.1) / 1.2)
    assert hellinger_counts([1, 0], [0, 1], eps=0.1).statistic == pytest.approx(
        0.6687519731615251, rel=1e-14
    )


def test_eps_zero_on_disjoint_supports() -> None:
    assert psi_counts([1, 0], [0, 1], eps=0).statistic == math.inf
    assert kl_counts([1, 0], [0, 1], eps=0).statistic == math.inf
    assert jensen_shannon_counts([1, 0], [0, 1], eps=0).statistic == 1.0
    assert hellinger_counts([1, 0], [0, 1], eps=0).statistic == 1.0
    # KL(p‖q) only needs q > 0 where p > 0: ref [1, 0], cur [1, 1] gives 1 · ln(1/0.5)
    assert kl_counts([1, 0], [1, 1], eps=0).statistic == pytest.approx(0.6931471805599453)
    assert psi_counts([1, 0], [1, 1], eps=0).statistic == math.inf


def test_identical_counts_give_zero() -> None:
    for func in (psi_counts, kl_counts, jensen_shannon_counts, hellinger_counts):
        assert func([3, 0, 5], [6, 0, 10]).statistic == 0.0


@pytest.mark.parametrize("seed", range(30))
def test_counts_kernels_match_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 12))
    ref = rng.integers(0, 30, k)
    cur = rng.integers(0, 30, k)
    ref[0] += 1
    cur[-1] += 1
    eps = (0.0, 1e-4, 0.01)[seed % 3]
    p = ref / ref.sum() + eps
    q = cur / cur.sum() + eps
    p, q = p / p.sum(), q / q.sum()
    expected_js = jensenshannon(p, q, base=2)
    assert jensen_shannon_counts(ref, cur, eps=eps).statistic == pytest.approx(expected_js, 1e-12)
    if eps > 0:
        assert kl_counts(ref, cur, eps=eps).statistic == pytest.approx(st.entropy(p, q), rel=1e-12)
        expected_psi = st.entropy(p, q) + st.entropy(q, p)
        assert psi_counts(ref, cur, eps=eps).statistic == pytest.approx(expected_psi, rel=1e-12)


def test_numeric_raw_fixture_uses_reference_bins_and_overflow() -> None:
    reference = np.arange(1.0, 11.0)  # quantile edges for bins=2: [1, 5.5, 10]
    current = [0.0, 3.0, 6.0, 11.0]  # one value below, in each inner bin, above
    # reference counts [0, 5, 5, 0], current [1, 1, 1, 1]
    # Hellinger: sqrt(1 - (0 + sqrt(0.5 · 0.25) · 2 + 0)) = sqrt(1 - 2 sqrt(0.125))
    res = hellinger(reference, current, bins=2, eps=0)
    assert res.statistic == pytest.approx(0.5411961001461969, rel=1e-14)
    assert psi(reference, current, bins=2, eps=0).statistic == math.inf


def test_categorical_raw_fixture_has_an_unseen_bin() -> None:
    reference = ["a", "a", "b", "c"]
    current = ["a", "b", "b", "d", "e"]  # "d" and "e" share the unseen bin
    # bins (a, b, c, unseen): p = (0.5, 0.25, 0.25, 0), q = (0.2, 0.4, 0, 0.4)
    # Hellinger: sqrt(1 - (sqrt(0.1) + sqrt(0.1)))
    res = hellinger(reference, current, eps=0)
    assert res.statistic == pytest.approx(0.6062544581001645, rel=1e-14)
    expected_js = jensenshannon([2, 1, 1, 0], [1, 2, 0, 2], base=2)
    assert jensen_shannon(reference, current, eps=0).statistic == pytest.approx(expected_js)
    assert psi(reference, current).statistic == psi_counts([2, 1, 1, 0], [1, 2, 0, 2]).statistic


def test_bool_and_pandas_input_are_categorical() -> None:
    res = psi([True, True, False], [True, False, False])
    assert res.statistic == psi_counts([1, 2, 0], [2, 1, 0]).statistic  # False, True, unseen
    series = pd.Series(["x", "y", None, "x"])
    omitted = kl(series, ["x", "y"], nan_policy="omit")
    assert omitted.statistic == kl(["x", "y", "x"], ["x", "y"]).statistic


@pytest.mark.parametrize("seed", range(30))
def test_raw_functions_are_the_counts_kernels_on_reference_bins(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.normal(size=int(rng.integers(5, 500)))
    current = rng.normal(rng.uniform(-1, 1), rng.uniform(0.5, 2), int(rng.integers(5, 500)))
    if seed % 3 == 0:
        reference, current = np.round(reference), np.round(current)  # ties, duplicate edges
    bins, binning = int(rng.integers(1, 20)), ("quantile", "uniform")[seed % 2]
    edges = bin_edges(reference, bins=bins, binning=binning)
    ref_counts, cur_counts = bin_counts(reference, edges), bin_counts(current, edges)
    for raw, kernel in [
        (psi, psi_counts),
        (kl, kl_counts),
        (jensen_shannon, jensen_shannon_counts),
        (hellinger, hellinger_counts),
    ]:
        expected = kernel(ref_counts, cur_counts).statistic
        assert raw(reference, current, bins=bins, binning=binning).statistic == expected


def test_integer_and_float_input_bin_the_same() -> None:
    reference = [1, 2, 2, 3, 3, 3, 4, 4, 4, 4]
    current = [1, 1, 2, 5, 4]
    as_float = psi(np.asarray(reference, float), np.asarray(current, float), bins=3)
    assert psi(reference, current, bins=3).statistic == as_float.statistic
