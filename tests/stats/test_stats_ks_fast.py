"""``ks_sorted(p_value="fast")``: scipy's p-value wherever a decision could depend on it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp

from watchkeeper.stats import ks_sorted


@pytest.mark.parametrize("shift", [0.0, 0.005, 0.01, 0.02, 0.2])
@pytest.mark.parametrize("seed", range(3))
def test_fast_equals_exact_unless_p_is_below_1e10(shift: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = np.sort(rng.normal(size=60_000))
    cur = np.sort(rng.normal(shift, 1, size=40_000))
    fast = ks_sorted(ref, cur, p_value="fast")
    scipy_res = ks_2samp(ref, cur)
    assert fast.statistic == pytest.approx(scipy_res.statistic, rel=1e-12)
    if scipy_res.pvalue > 1e-9:
        assert fast.p_value == pytest.approx(scipy_res.pvalue, rel=1e-12)
    else:
        # The limiting distribution: tiny either way, and within a factor 2 of scipy's value.
        assert fast.p_value < 1e-9
        if scipy_res.pvalue > 1e-300:
            assert 0.5 < fast.p_value / scipy_res.pvalue < 2.0


def test_fast_is_exact_in_the_exact_branch() -> None:
    rng = np.random.default_rng(9)
    ref, cur = np.sort(rng.normal(size=500)), np.sort(rng.normal(1.0, 1, size=400))
    assert ks_sorted(ref, cur, p_value="fast") == ks_sorted(ref, cur)
