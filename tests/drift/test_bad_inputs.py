"""Bad input gets a clear WatchkeeperError subclass or a skipped check, never a crash."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import watchkeeper
from watchkeeper import Baseline
from watchkeeper.errors import (
    EmptyInputError,
    InvalidInputError,
    InvalidParameterError,
    MixedTypeColumnError,
    NoCommonColumnsError,
    UnknownMethodError,
)


def _frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1, n),
            "y": rng.exponential(1, n),
            "c": pd.Series(rng.choice(["a", "b", "c"], n), dtype="str"),
        }
    )


def test_empty_frames() -> None:
    with pytest.raises(EmptyInputError, match="reference data has no rows"):
        watchkeeper.compare(_frame(0, 1), _frame(100, 2))
    # An empty window is a data-quality finding (the feed stopped), not an error...
    report = watchkeeper.compare(_frame(100, 1), _frame(0, 2))
    assert [(c.check, c.status) for c in report.checks] == [("quality.empty_window", "alert")]
    # ...unless only drift was asked for, which an empty window cannot answer.
    with pytest.raises(EmptyInputError, match="current data has no rows"):
        watchkeeper.compare(_frame(100, 1), _frame(0, 2), checks=["drift"])


def test_no_common_columns() -> None:
    with pytest.raises(NoCommonColumnsError, match="none of the baseline's columns"):
        watchkeeper.compare(_frame(100, 1), pd.DataFrame({"z": [1.0, 2.0]}))


def test_missing_column_is_skipped_not_fatal() -> None:
    report = watchkeeper.compare(_frame(500, 1), _frame(500, 2).drop(columns=["y"]))
    y = [c for c in report.checks if c.family == "drift" and c.column == "y"]
    assert [(c.status, c.reason) for c in y] == [
        ("skipped", "column is missing from the current data")
    ]


def test_all_nan_column_is_skipped() -> None:
    cur = _frame(500, 2)
    cur["x"] = np.nan
    report = watchkeeper.compare(_frame(500, 1), cur)
    x = next(c for c in report.checks if c.family == "drift" and c.column == "x")
    assert x.status == "skipped"
    assert "missing" in x.reason


def test_inf_values_are_excluded_and_counted() -> None:
    ref, cur = _frame(2_000, 1), _frame(2_000, 2)
    cur.loc[:9, "x"] = np.inf
    cur.loc[10:14, "x"] = -np.inf
    cur.loc[15:19, "x"] = np.nan
    x = next(
        c for c in watchkeeper.compare(ref, cur).checks if c.family == "drift" and c.column == "x"
    )
    assert x.details["n_inf"] == 15
    assert x.details["n_missing"] == 5
    assert x.n == 2_000 - 20
    assert x.status == "ok"


def test_too_few_rows_is_skipped() -> None:
    report = watchkeeper.compare(_frame(1_000, 1), _frame(10, 2, shift=5.0))
    cols = [c for c in report.checks if c.family == "drift" and c.column is not None]
    assert {c.status for c in cols} == {"skipped"}
    assert "min_rows=30" in cols[0].reason
    assert report.filter(family="drift").summary.status == "skipped"


def test_mixed_type_object_column() -> None:
    ref = _frame(100, 1)
    ref["m"] = pd.Series(["a", 1.5] * 50, dtype=object)
    with pytest.raises(MixedTypeColumnError, match="'m' mixes value types"):
        watchkeeper.compare(ref, ref)


def test_numeric_column_with_text_in_current_is_a_type_violation() -> None:
    from watchkeeper.errors import SchemaError

    cur = _frame(100, 2)
    cur["x"] = "oops"
    report = watchkeeper.compare(_frame(100, 1), cur)
    typed = next(
        c for c in report.checks if c.check == "quality.type_violations" and c.column == "x"
    )
    assert (typed.status, typed.value, typed.details["examples"]) == ("alert", 1.0, ["oops"])
    # Every value of x was unreadable: drift on x has nothing to compare.
    drift = next(c for c in report.checks if c.family == "drift" and c.column == "x")
    assert drift.status == "skipped"
    # The reference is held to its schema: text there is an error naming the column.
    ref = _frame(100, 1)
    ref["x"] = ref["x"].astype(object)
    ref.loc[0, "x"] = "oops"
    with pytest.raises(SchemaError, match="Column 'x' of the reference data is numeric"):
        watchkeeper.compare(ref, _frame(100, 2), schema=watchkeeper.Schema.infer(_frame(100, 1)))


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"methods": {"x": "kolmogorov"}}, UnknownMethodError, "unknown drift method 'kolmogorov'"),
        ({"correction": "sidak"}, UnknownMethodError, "'correction'"),
        (
            {"alpha": 1.5},
            InvalidParameterError,
            r"'alpha' parameter of compare must be in \(0, 1\)",
        ),
        ({"methods": {"x": ("ks", 2.0)}}, InvalidParameterError, "threshold"),
        ({"delta_numeric": -1}, InvalidParameterError, "delta_numeric"),
        ({"bins": 0}, InvalidParameterError, "'bins' parameter of Baseline.fit"),
        ({"multivariate": ["umap"]}, UnknownMethodError, "multivariate method 'umap'"),
        ({"colour": "red"}, InvalidParameterError, r"Unknown option\(s\) \['colour'\]"),
        ({"methods": {"c": "ks"}}, InvalidParameterError, "does not apply to categorical"),
    ],
)
def test_bad_options(options: dict[str, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        watchkeeper.compare(_frame(200, 1), _frame(200, 2), **options)


def test_unknown_check_name() -> None:
    baseline = Baseline.fit(_frame(200, 1))
    with pytest.raises(UnknownMethodError, match=r"Unknown check 'drift\.everything'"):
        baseline.compare(_frame(200, 2), checks=["drift.everything"])


def test_chosen_method_and_threshold_per_column_and_kind() -> None:
    report = watchkeeper.compare(
        _frame(3_000, 1),
        _frame(3_000, 2, shift=0.3),
        methods={"numeric": "psi", "x": ("ks", 0.01), "c": {"method": "hellinger"}},
    )
    by_col = {c.column: c for c in report.checks if c.family == "drift" and c.column}
    assert by_col["x"].check == "drift.ks"
    assert by_col["x"].threshold == 0.01
    assert by_col["x"].status == "alert"
    assert by_col["y"].check == "drift.psi"
    assert by_col["y"].threshold == 0.2
    assert by_col["c"].check == "drift.hellinger"


def test_non_string_column_names_are_compared_by_their_string_form() -> None:
    ref, cur = _frame(500, 1), _frame(500, 2, shift=1.0)
    ref.columns = [0, 1, 2]
    cur.columns = [0, 1, 2]
    report = watchkeeper.compare(ref, cur)
    assert {c.column for c in report.checks if c.family == "drift" and c.column} == {"0", "1", "2"}
    assert (
        next(c.status for c in report.checks if c.family == "drift" and c.column == "0") == "alert"
    )


def test_multiindex_columns_are_refused() -> None:
    ref = _frame(100, 1)
    ref.columns = pd.MultiIndex.from_tuples([("a", "x"), ("a", "y"), ("b", "c")])
    with pytest.raises(InvalidInputError, match="MultiIndex"):
        watchkeeper.compare(ref, ref)


@pytest.mark.parametrize("side", ["reference", "current"])
def test_duplicate_column_names_are_refused(side: str) -> None:
    ok, dup = _frame(100, 1), _frame(100, 2)
    dup.columns = ["x", "x", "c"]
    ref, cur = (dup, ok) if side == "reference" else (ok, dup)
    with pytest.raises(InvalidInputError, match=f"The {side} data has duplicate column names: 'x'"):
        watchkeeper.compare(ref, cur)


def test_schema_naming_a_missing_column_is_a_schema_error() -> None:
    from watchkeeper import ColumnSpec, Schema
    from watchkeeper.errors import SchemaError

    schema = Schema([ColumnSpec("x", "numeric"), ColumnSpec("zip_code", "categorical")])
    with pytest.raises(SchemaError, match="names column\\(s\\) 'zip_code' that the reference"):
        watchkeeper.compare(_frame(100, 1), _frame(100, 2), schema)


def test_schema_and_role_arguments_together_are_refused() -> None:
    from watchkeeper import Schema

    ref = _frame(100, 1)
    with pytest.raises(InvalidParameterError, match="got a schema and also target"):
        Baseline.fit(ref, Schema.infer(ref), target="x")


@pytest.mark.parametrize("key", ["numerc", "zip_code"])
def test_methods_key_that_is_no_column_or_kind_is_refused(key: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"methods names '{key}'"):
        watchkeeper.compare(_frame(200, 1), _frame(200, 2), methods={key: "psi"})


def test_method_undefined_on_a_column_skips_that_column_only() -> None:
    ref, cur = _frame(400, 1), _frame(400, 2, shift=1.0)
    ref["x"] = 1.0
    cur["x"] = 1.0
    report = watchkeeper.compare(ref, cur, methods={"x": "anderson"})
    x = next(c for c in report.checks if c.family == "drift" and c.column == "x")
    assert x.status == "skipped"
    assert x.reason.startswith("anderson is undefined here")
    assert next(c.status for c in report.checks if c.family == "drift" and c.column == "y") == "ok"
