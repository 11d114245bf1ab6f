"""correct: Bonferroni and Holm by hand, BH against scipy, NaN and edge cases."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st

from watchkeeper.stats import CorrectionResult, correct

P = [0.01, 0.04, 0.03, 0.005]


def test_bonferroni_by_hand() -> None:
    # m = 4: 4 · (0.01, 0.04, 0.03, 0.005) = (0.04, 0.16, 0.12, 0.02)
    res = correct(P, "bonferroni")
    np.testing.assert_allclose(res.p_values, [0.04, 0.16, 0.12, 0.02], rtol=1e-15)
    np.testing.assert_array_equal(res.reject, [True, False, False, True])
    # 0.3 · 4 = 1.2 is capped at 1
    np.testing.assert_allclose(correct([0.3, 0.001, 0.2, 0.5], "bonferroni").p_values,
                               [1.0, 0.004, 0.8, 1.0])  # fmt: skip


def test_holm_by_hand() -> None:
    # sorted: 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04
    # running maximum: 0.02, 0.03, 0.06, 0.06 -> back in input order
    res = correct(P, "holm")
    np.testing.assert_allclose(res.p_values, [0.03, 0.06, 0.06, 0.02], rtol=1e-15)
    np.testing.assert_array_equal(res.reject, [True, False, False, True])
    # capped at 1: (0.4, 0.5, 0.45) sorted times 3, 2, 1 = 1.2, 0.9, 0.5 -> 1, 1, 1
    np.testing.assert_array_equal(correct([0.4, 0.5, 0.45], "holm").p_values, [1.0, 1.0, 1.0])


def test_holm_is_the_default() -> None:
    np.testing.assert_array_equal(correct(P).p_values, correct(P, "holm").p_values)


@pytest.mark.parametrize("seed", range(30))
def test_bh_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.uniform(size=int(rng.integers(1, 40))) ** rng.uniform(1, 4)
    if seed % 3 == 0:
        p = np.round(p, 2)  # ties
    res = correct(p, "bh", alpha=0.1)
    expected = st.false_discovery_control(p, method="bh")
    np.testing.assert_allclose(res.p_values, expected, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(res.reject, expected <= 0.1)


def test_nan_is_kept_never_rejected_and_not_counted() -> None:
    res = correct([0.01, np.nan, 0.02], "bonferroni")
    # m = 2, not 3
    np.testing.assert_allclose(res.p_values, [0.02, np.nan, 0.04])
    np.testing.assert_array_equal(res.reject, [True, False, True])
    bh = correct([np.nan, 0.5, 0.01], "bh")
    np.testing.assert_allclose(bh.p_values, [np.nan, *st.false_discovery_control([0.5, 0.01])])
    assert not correct([np.nan], "holm").reject[0]


def test_empty_family_and_single_test() -> None:
    res = correct([], "holm")
    assert res.p_values.shape == (0,)
    assert res.reject.shape == (0,)
    for method in ("bonferroni", "holm", "bh"):
        np.testing.assert_array_equal(correct([0.03], method).p_values, [0.03])


def test_result_is_frozen_and_read_only() -> None:
    res = correct(P)
    assert isinstance(res, CorrectionResult)
    with pytest.raises(ValueError, match="read-only"):
        res.p_values[0] = 0.0
    with pytest.raises(AttributeError):
        res.reject = np.zeros(4, dtype=bool)  # type: ignore[misc]
