"""Every drift method runs end to end through a comparison, on the kinds it supports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import watchkeeper
from watchkeeper.drift import METHODS


def _frames(shift: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(5)
    n = 3_000

    def frame(offset: float, p: list[float]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "x": rng.normal(offset, 1, n),
                "c": pd.Series(rng.choice(["a", "b", "c"], n, p=p), dtype="str"),
                "flag": rng.random(n) < 0.3 + offset / 2,
            }
        )

    return frame(0.0, [0.5, 0.3, 0.2]), frame(shift, [0.2, 0.3, 0.5] if shift else [0.5, 0.3, 0.2])


@pytest.mark.parametrize("name", sorted(n for n, m in METHODS.items() if m.numeric))
def test_numeric_methods_detect_a_shift_and_pass_a_null(name: str) -> None:
    ref, drifted = _frames(0.8)
    _, same = _frames(0.0)
    by_col = {
        c.column: c
        for c in watchkeeper.compare(ref, drifted, methods={"x": name}).checks
        if c.family == "drift"
    }
    assert by_col["x"].check == f"drift.{name}"
    assert by_col["x"].status == "alert", by_col["x"].reason
    null = {
        c.column: c
        for c in watchkeeper.compare(ref, same, methods={"x": name}).checks
        if c.family == "drift"
    }
    assert null["x"].status == "ok", null["x"].reason


@pytest.mark.parametrize("name", sorted(n for n, m in METHODS.items() if m.categorical))
def test_categorical_methods_run_on_categorical_and_boolean_columns(name: str) -> None:
    ref, drifted = _frames(0.8)
    column = "flag" if name == "z_proportions" else "c"
    report = watchkeeper.compare(ref, drifted, methods={column: name})
    check = next(c for c in report.checks if c.family == "drift" and c.column == column)
    assert check.check == f"drift.{name}"
    assert check.status == "alert", check.reason


def test_boolean_kind_key_applies_to_boolean_columns() -> None:
    ref, drifted = _frames(0.8)
    report = watchkeeper.compare(ref, drifted, methods={"boolean": "z_proportions"})
    assert (
        next(c.check for c in report.checks if c.family == "drift" and c.column == "flag")
        == "drift.z_proportions"
    )
    assert (
        next(c.check for c in report.checks if c.family == "drift" and c.column == "c")
        == "drift.jensen_shannon"
    )
