"""``row_mask``: the rows that fail the quality rules, and why."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from watchkeeper import Baseline
from watchkeeper.datasets import churn
from watchkeeper.errors import UnknownMethodError
from watchkeeper.quality import ROW_REASONS, row_mask
from watchkeeper.quality._rows import DatasetReference, duplicate_mask, row_hashes


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return Baseline.fit(churn(5_000, seed=1), target="churned", reference_chunks=0)


def test_each_reason_flags_exactly_its_rows(baseline: Baseline) -> None:
    df = churn(200, seed=2)
    # A clean sample has a few rows of its own beyond the reference's range; keep them apart.
    natural_mask, natural_why = row_mask(baseline, df)
    natural = set(np.flatnonzero(natural_mask).tolist())
    df["age"] = df["age"].astype(object)
    df.loc[3, "age"] = "n/a"  # type violation
    df.loc[5, "contract"] = "Lifetime"  # unseen category
    df.loc[7, "monthly_charges"] = np.inf  # non-finite
    df.loc[9, "tenure_months"] = 500  # out of range
    df.loc[11, "num_products"] = np.nan  # missing where the reference never was
    df.loc[13, "total_charges"] = np.nan  # missing, but the reference has missing values
    df = pd.concat([df, df.iloc[[20]]], ignore_index=True)  # duplicate of row 20
    mask, why = row_mask(baseline, df)
    assert set(np.flatnonzero(mask).tolist()) == natural | {3, 5, 7, 9, 11, 200}
    assert natural.isdisjoint({3, 5, 7, 9, 11, 20})
    assert set(why.columns) - set(natural_why.columns) == {
        "type_violation:age",
        "unseen_category:contract",
        "non_finite:monthly_charges",
        "out_of_range:tenure_months",
        "missing:num_products",
        "duplicate",
    }
    assert np.flatnonzero(why["duplicate"].to_numpy()).tolist() == [200]
    assert why.index.equals(df.index)


def test_clean_rows_pass_and_outliers_are_opt_in(baseline: Baseline) -> None:
    df = churn(500, seed=3)
    mask, _ = row_mask(baseline, df)
    # A clean sample only fails where it leaves the reference range (rare) or repeats a row.
    assert mask.mean() < 0.02
    mask_o, why_o = row_mask(baseline, df, reasons=ROW_REASONS)
    assert mask_o.sum() > mask.sum()
    assert any(c.startswith("outlier:") for c in why_o.columns)
    # Fences that collapse to one value (a 0/1 column, mostly 0) flag nothing, as in the check.
    assert "outlier:num_products" not in why_o.columns or why_o["outlier:num_products"].any()
    assert "outlier:churned" not in why_o.columns


def test_arrow_input_and_bad_reason(baseline: Baseline) -> None:
    df = churn(100, seed=4)
    df.loc[0, "contract"] = "Lifetime"
    mask, _ = row_mask(baseline, pa.Table.from_pandas(df))
    assert mask[0]
    with pytest.raises(UnknownMethodError, match="Unknown row_mask reason"):
        row_mask(baseline, df, reasons=["ugly"])


def test_row_hashes_see_every_column_and_value() -> None:
    from watchkeeper._convert import to_columns
    from watchkeeper.schema import Schema

    df = pd.DataFrame(
        {"x": [1.0, 1.0, -0.0, 0.0, np.nan, np.nan], "c": ["a", "a", "b", "b", None, None]}
    )
    cols = to_columns(df, Schema.infer(df), ["x", "c"], what="current")
    h = row_hashes(cols, ["x", "c"])
    assert duplicate_mask(h).tolist() == [False, True, False, True, False, True]
    assert len(set(row_hashes(cols, ["x"]).tolist())) == 3
    ref = DatasetReference.fit(cols, ["x", "c"])
    assert ref.duplicate_share == pytest.approx(3 / 6)
    # Three atoms of probability 1/3: a window of 2 rows repeats one with probability 1/3.
    assert ref.expected_duplicates(2) == pytest.approx(1 / 3)
