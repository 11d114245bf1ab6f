"""Comparisons running at the same time in threads give the same answers as one at a time,
and leave the process's BLAS thread settings as they found them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_info

from watchkeeper import Baseline


def _frame(n: int, seed: int, rho: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    cols = {"x": x, "y": rho * x + np.sqrt(1 - rho**2) * rng.normal(size=n)}
    cols.update({f"z{i}": rng.normal(size=n) for i in range(4)})
    return pd.DataFrame(cols)


def _same(a: object, b: object) -> bool:
    """Equal, floats to 1e-12 relative (a BLAS dot product's last bit depends on alignment)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12, abs=1e-300)
    return a == b


def _blas_threads() -> list[int]:
    return [int(i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"]


def test_concurrent_compares_on_a_lazy_baseline_agree_with_a_fitted_one() -> None:
    ref, cur = _frame(20_000, 1, 0.6), _frame(20_000, 2, -0.6)
    expected = Baseline.fit(ref).compare(cur).to_dict()["checks"]
    before = _blas_threads()
    lazy = Baseline.fit(ref, lazy=True)
    with ThreadPoolExecutor(4) as pool:
        reports = list(pool.map(lambda _: lazy.compare(cur), range(4)))
    for report in reports:
        assert _same(report.to_dict()["checks"], expected)
    pca = [c for c in reports[0].checks if c.check == "drift.pca_reconstruction"]
    assert [c.status for c in pca] == ["alert"]  # the broken correlation is seen
    assert _blas_threads() == before
