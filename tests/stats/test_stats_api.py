"""The public surface of watchkeeper.stats: the pinned __all__, result types, import cost."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import watchkeeper.stats as stats
from watchkeeper.stats import AndersonResult, DistanceResult, TestResult

EXPECTED_ALL = {
    "AndersonResult", "CorrectionResult", "DistanceResult", "TestResult",
    "anderson", "bin_counts", "bin_edges", "chi2", "chi2_counts", "correct",
    "cramer_von_mises", "energy", "hellinger", "hellinger_counts", "jensen_shannon",
    "jensen_shannon_counts", "kl", "kl_counts", "ks", "ks_sorted", "mann_whitney", "mmd",
    "psi", "psi_counts", "t_test", "wasserstein", "wasserstein_sorted", "z_proportions",
}  # fmt: skip


def test_all_is_pinned_and_importable() -> None:
    assert set(stats.__all__) == EXPECTED_ALL
    assert len(stats.__all__) == len(EXPECTED_ALL)
    for name in stats.__all__:
        assert getattr(stats, name).__doc__, name


def test_import_does_not_load_scipy_stats_pandas_or_sklearn() -> None:
    code = (
        "import sys, watchkeeper.stats; "
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('pandas', 'sklearn') "
        "or m.startswith('scipy.stats')]; "
        "print(loaded)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_results_are_frozen_plain_floats() -> None:
    res = TestResult(np.float64(0.5), np.float32(0.25))
    assert type(res.statistic) is float
    assert type(res.p_value) is float
    assert repr(res) == "TestResult(statistic=0.5, p_value=0.25)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.statistic = 1.0  # type: ignore[misc]
    distance = DistanceResult(np.float64(2.0))
    assert distance.p_value is None
    assert type(distance.statistic) is float
    assert isinstance(AndersonResult(1.0, 0.25, "capped"), TestResult)


def test_array_like_inputs_agree() -> None:
    x, y = [0.1, 0.5, 0.9, 1.3], [0.2, 1.7, 2.2]
    expected = stats.ks(np.array(x), np.array(y))
    assert stats.ks(x, y) == expected
    assert stats.ks(tuple(x), pd.Series(y)) == expected
    assert (
        stats.ks(pd.Series(x, dtype="Float64"), np.array(y, dtype=np.float32).astype(float))
        == expected
    )
    with_na = pd.Series([0.1, None, 0.5, 0.9, 1.3], dtype="Float64")
    assert stats.ks(with_na, y, nan_policy="omit") == expected
    ints = stats.ks(pd.Series([1, 2, None], dtype="Int64"), [3], nan_policy="omit")
    assert ints == stats.ks([1.0, 2.0], [3.0])
