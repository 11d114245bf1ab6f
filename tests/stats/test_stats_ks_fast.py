"""``ks_sorted(p_value="fast")``: scipy's p-value wherever it is cheap, the limiting Kolmogorov
distribution (under 1 % away where p > 1e-10) where scipy would sum an O(n) series."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import ks_2samp, kstwo

from watchkeeper.stats import ks_sorted


@pytest.mark.parametrize("shift", [0.0, 0.003, 0.006, 0.01, 0.02, 0.2])
@pytest.mark.parametrize(("n_ref", "n_cur"), [(60_000, 40_000), (300_000, 250_000)])
def test_fast_agrees_with_scipy(shift: float, n_ref: int, n_cur: int) -> None:
    rng = np.random.default_rng(int(shift * 1000) + n_ref)
    ref = np.sort(rng.normal(size=n_ref))
    cur = np.sort(rng.normal(shift, 1, size=n_cur))
    fast = ks_sorted(ref, cur, p_value="fast")
    exact = ks_2samp(ref, cur)
    assert fast.statistic == pytest.approx(exact.statistic, rel=1e-12)
    if exact.pvalue > 1e-10:
        assert fast.p_value == pytest.approx(exact.pvalue, rel=0.01)
    else:
        assert fast.p_value < 1e-9
    m, n = n_ref, n_cur
    en = round(m * n / (m + n))
    if en * fast.statistic**2 < 2.2:  # where scipy is cheap, fast is scipy
        assert fast.p_value == pytest.approx(float(kstwo.sf(fast.statistic, en)), rel=1e-12)


@pytest.mark.parametrize("nx2", [2.2, 3.0, 5.0, 8.0, 11.8])
def test_limiting_distribution_is_within_one_percent_in_the_decision_range(nx2: float) -> None:
    from scipy.special import kolmogorov

    en = 100_000
    d = math.sqrt(nx2 / en)
    assert kolmogorov(math.sqrt(en) * d) == pytest.approx(kstwo.sf(d, en), rel=0.01)


def test_fast_is_exact_in_the_exact_branch() -> None:
    rng = np.random.default_rng(9)
    ref, cur = np.sort(rng.normal(size=500)), np.sort(rng.normal(1.0, 1, size=400))
    assert ks_sorted(ref, cur, p_value="fast") == ks_sorted(ref, cur)
