"""Validation of decoded columns against a model's served schema.

The expected arrays are written out by hand (or taken from the reference frame); every
rejection is checked for its reason, status, field (the column) and the row it names.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from watchkeeper.datasets import CHURN_FEATURES
from watchkeeper.registry._records import InputColumn, InputSchema
from watchkeeper.registry._register import _schema_from_frame
from watchkeeper.server._decode import Decoded, decode_invocations
from watchkeeper.server._decode_oip import decode_oip
from watchkeeper.server._errors import REASONS, RequestError
from watchkeeper.server._validate import validate_columns

from .test_decode_fuzz import _scalars, json_values, table_docs

NAN = float("nan")
INF = float("inf")
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def reference(churn_frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return churn_frames["reference"]


@pytest.fixture(scope="module")
def schema(reference: pd.DataFrame) -> InputSchema:
    """The churn inputs as registration records them."""
    return _schema_from_frame(reference, list(CHURN_FEATURES), None)


def _decoded(columns: dict[str, list[Any]], text: bool = False) -> Decoded:
    arrays = {k: np.fromiter(v, dtype=object, count=len(v)) for k, v in columns.items()}
    n = len(next(iter(columns.values())))
    return Decoded(arrays, n, None, {}, "csv" if text else "inputs", text)


def _expect(call: Callable[[], Any], reason: str, field: str | None, *words: str) -> str:
    with pytest.raises(RequestError) as caught:
        call()
    error = caught.value
    assert (error.reason, error.field) == (reason, field), error.message
    assert error.status == REASONS[reason]
    for word in words:
        assert word in error.message, (word, error.message)
    return error.message


def _json_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The frame's rows as a JSON client sends them (NaN -> null, times as ISO text)."""
    text = frame.to_json(orient="records", date_format="iso", date_unit="ns")
    rows: list[dict[str, Any]] = json.loads(text)
    return rows


def _same(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    assert got.shape == expected.shape
    if expected.dtype == object:
        assert [type(v) for v in got.tolist()] == [type(v) for v in expected.tolist()]
        assert [repr(v) for v in got.tolist()] == [repr(v) for v in expected.tolist()]
    else:
        np.testing.assert_array_equal(got, expected)


# -- the churn schema, end to end ------------------------------------------------------------


def test_the_churn_schema_is_what_the_tests_assume(schema: InputSchema) -> None:
    kinds = {(c.kind, c.dtype) for c in schema.columns}
    assert kinds == {
        ("numeric", "int64"),
        ("numeric", "float64"),
        ("categorical", "str"),
        ("boolean", "bool"),
    }
    assert {c.name for c in schema.columns if c.nullable} == {
        "total_charges",
        "payment_method",
        "avg_session_minutes",
    }


def _bodies(frame: pd.DataFrame) -> dict[str, Callable[[], Decoded]]:
    rows = _json_rows(frame)
    columns = {name: [row[name] for row in rows] for name in frame.columns}
    datatypes = {"int64": "INT64", "float64": "FP64", "bool": "BOOL"}
    oip = {
        "inputs": [
            {
                "name": name,
                "shape": [len(frame), 1],
                "datatype": datatypes.get(str(frame[name].dtype), "BYTES"),
                "data": [[v] for v in values],
            }
            for name, values in columns.items()
        ]
    }
    split = {"columns": list(columns), "data": [list(row.values()) for row in rows]}
    return {
        "oip": lambda: decode_oip(json.dumps(oip).encode()),
        "split": lambda: decode_invocations(
            json.dumps({"dataframe_split": split}).encode(), "application/json"
        ),
        "records": lambda: decode_invocations(
            json.dumps({"dataframe_records": rows}).encode(), None
        ),
        "csv": lambda: decode_invocations(frame.to_csv(index=False).encode(), "text/csv"),
    }


@pytest.mark.parametrize("fmt", ["oip", "split", "records", "csv"])
def test_churn_requests_validate_to_the_reference_values(
    reference: pd.DataFrame, schema: InputSchema, churn_pipelines: list[Any], fmt: str
) -> None:
    frame = reference.head(300)
    sent = frame[["customer_id", "event_time", *reversed(CHURN_FEATURES)]]
    decoded = _bodies(sent)[fmt]()
    inputs, passed = validate_columns(
        decoded, schema, max_rows=1000, passthrough=["customer_id", "event_time", "absent"]
    )
    assert list(inputs) == list(CHURN_FEATURES)  # schema order, whatever the request's
    assert list(passed) == ["customer_id", "event_time"]
    assert passed["customer_id"] is decoded.columns["customer_id"]  # as sent, untouched
    for column in schema.columns:
        got, want = inputs[column.name], frame[column.name]
        if column.dtype == "str":
            assert got.dtype == object
            assert got.tolist() == [None if pd.isna(v) else v for v in want], column.name
        else:
            assert got.dtype == np.dtype(column.dtype), column.name
            np.testing.assert_array_equal(got, want.to_numpy(), err_msg=column.name)
    model = churn_pipelines[0]
    served = model.predict_proba(pd.DataFrame(inputs))
    np.testing.assert_array_equal(served, model.predict_proba(frame[list(CHURN_FEATURES)]))


def test_the_message_names_column_kind_dtype_row_value_and_expectation(
    reference: pd.DataFrame, schema: InputSchema
) -> None:
    rows = _json_rows(reference[list(CHURN_FEATURES)].head(5))
    rows[3]["tenure_months"] = "abc"
    decoded = decode_invocations(json.dumps({"dataframe_records": rows}).encode(), None)
    message = _expect(
        lambda: validate_columns(decoded, schema, max_rows=10), "wrong_type", "tenure_months"
    )
    assert message == (
        "Column 'tenure_months' (numeric, int64): row 3 is 'abc' (a string); expected a whole "
        "number."
    )


def test_long_values_are_shortened_in_messages() -> None:
    schema = InputSchema((InputColumn("c", "numeric", "float64", False),))
    decoded = _decoded({"c": [1.0, "x" * 500]})
    message = _expect(lambda: validate_columns(decoded, schema, max_rows=5), "wrong_type", "c")
    shown = message.split("row 1 is ", 1)[1].split(" (a string)")[0]
    assert len(shown) == 40
    assert shown.startswith("'xxxx")
    assert "..." in shown


# -- whole-request checks --------------------------------------------------------------------

_SMALL = InputSchema(
    (
        InputColumn("tenure", "numeric", "int64", False),
        InputColumn("plan", "categorical", "str", False),
        InputColumn("age", "numeric", "int64", False),
    )
)


def test_too_many_rows_comes_first_and_gives_both_numbers() -> None:
    decoded = _decoded({"other": [1, 2, 3]})
    _expect(
        lambda: validate_columns(decoded, _SMALL, max_rows=2),
        "too_many_rows",
        None,
        "3 rows",
        "at most 2",
    )
    ok = _decoded({"tenure": [1, 2, 3], "plan": ["a", "b", "c"], "age": [1, 2, 3]})
    assert len(validate_columns(ok, _SMALL, max_rows=3)[0]["age"]) == 3


def test_missing_columns_are_all_listed_field_is_the_first_in_schema_order() -> None:
    decoded = _decoded({"plan": ["a"], "extra": [1]})
    _expect(
        lambda: validate_columns(decoded, _SMALL, max_rows=5),
        "missing_column",
        "tenure",
        "'tenure', 'age'",
        "'tenure', 'plan', 'age'",
    )


def test_extra_columns_are_all_listed_field_is_the_first_in_request_order() -> None:
    decoded = _decoded(
        {"zeta": [1], "tenure": [1], "plan": ["a"], "age": [2], "alpha": [0], "id": [7]}
    )
    _expect(
        lambda: validate_columns(decoded, _SMALL, max_rows=5),
        "extra_column",
        "zeta",
        "'zeta', 'alpha', 'id'",
    )
    _expect(
        lambda: validate_columns(decoded, _SMALL, max_rows=5, passthrough=["id"]),
        "extra_column",
        "zeta",
        "'zeta', 'alpha'",
        "passthrough columns 'id'",
    )
    inputs, passed = validate_columns(
        decoded, _SMALL, max_rows=5, passthrough=["zeta", "alpha", "id"]
    )
    assert list(passed) == ["zeta", "alpha", "id"]
    assert list(inputs) == ["tenure", "plan", "age"]


def test_a_passthrough_column_that_is_also_an_input_is_in_both() -> None:
    decoded = _decoded({"tenure": [1.0], "plan": ["a"], "age": [2]})
    inputs, passed = validate_columns(decoded, _SMALL, max_rows=5, passthrough=["tenure"])
    _same(inputs["tenure"], np.array([1], dtype=np.int64))
    assert passed["tenure"].tolist() == [1.0]


def test_the_first_failing_input_in_schema_order_is_reported() -> None:
    decoded = _decoded({"age": ["x"], "plan": [3], "tenure": [1]})
    _expect(lambda: validate_columns(decoded, _SMALL, max_rows=5), "wrong_type", "plan")


# -- each family of dtype --------------------------------------------------------------------

_OK_CASES: list[tuple[str, str, bool, bool, list[Any], np.ndarray]] = [
    # (kind, dtype, nullable, text, values, expected)
    ("numeric", "int64", False, False, [1, -2, 3.0], np.array([1, -2, 3])),
    ("numeric", "int64", True, False, [1, 2], np.array([1, 2])),
    ("numeric", "int64", True, False, [1, None], np.array([1.0, NAN])),
    ("numeric", "int64", True, False, [NAN, 4.0], np.array([NAN, 4.0])),
    ("numeric", "int64", False, False, [2**63 - 1, -(2**63)], np.array([2**63 - 1, -(2**63)])),
    ("numeric", "int64", False, False, [9007199254740993], np.array([9007199254740993])),
    ("numeric", "int32", False, False, [5], np.array([5])),
    ("numeric", "uint8", False, False, [0, 7], np.array([0, 7])),
    ("numeric", "Int64", True, False, [None, 1], np.array([NAN, 1.0])),
    ("categorical", "int64", False, False, [1, 2], np.array([1, 2])),
    ("numeric", "int64", False, True, ["1", " 2 ", "-4"], np.array([1, 2, -4])),
    ("numeric", "int64", False, True, ["1", "3.0", "+5"], np.array([1, 3, 5])),
    ("numeric", "int64", False, True, ["9007199254740993"], np.array([9007199254740993])),
    ("numeric", "int64", True, True, ["1", None, "nan"], np.array([1.0, NAN, NAN])),
    ("numeric", "float64", False, False, [1, 2.5, -0.0], np.array([1.0, 2.5, -0.0])),
    ("numeric", "float64", False, False, [10**20], np.array([1e20])),
    ("numeric", "float32", True, False, [None, 0.5], np.array([NAN, 0.5])),
    ("numeric", "float64", True, False, [NAN], np.array([NAN])),
    ("numeric", "Float64", False, False, [1], np.array([1.0])),
    (
        "numeric",
        "float64",
        True,
        True,
        ["1.5", " 2", "1e3", "NaN", None],
        np.array([1.5, 2, 1e3, NAN, NAN]),
    ),
    ("boolean", "bool", False, False, [True, False], np.array([True, False])),
    ("boolean", "bool", False, False, [1, 0, True], np.array([True, False, True])),
    ("boolean", "bool", True, False, [True, False], np.array([True, False])),
    ("boolean", "bool", True, False, [True, None, 0], np.array([True, None, False], dtype=object)),
    ("boolean", "boolean", False, False, [False], np.array([False])),
    ("categorical", "bool", False, False, [True], np.array([True])),
    (
        "boolean",
        "bool",
        False,
        True,
        ["true", "FALSE", " 1 ", "0", "True"],
        np.array([True, False, True, False, True]),
    ),
    ("boolean", "bool", True, True, ["true", None], np.array([True, None], dtype=object)),
    ("categorical", "str", False, False, ["a", ""], np.array(["a", ""], dtype=object)),
    ("categorical", "str", True, False, ["a", None], np.array(["a", None], dtype=object)),
    ("categorical", "str", False, True, ["1", "2.5"], np.array(["1", "2.5"], dtype=object)),
    ("text", "object", False, False, ["long text"], np.array(["long text"], dtype=object)),
    ("categorical", "category", False, False, ["x"], np.array(["x"], dtype=object)),
    ("categorical", "string", False, False, ["x"], np.array(["x"], dtype=object)),
    (
        "datetime",
        "datetime64[ns]",
        False,
        False,
        [
            "2024-01-31T12:00:00Z",
            "2024-01-31 13:00:00+01:00",
            "2024-02-01",
            "2024-02-01T00:00:00.000000001",
        ],
        np.array(
            ["2024-01-31T12:00", "2024-01-31T12:00", "2024-02-01", "2024-02-01T00:00:00.000000001"],
            dtype="datetime64[ns]",
        ),
    ),
    (
        "datetime",
        "datetime64[ns]",
        True,
        False,
        [None, "2024-01-01"],
        np.array(["NaT", "2024-01-01"], dtype="datetime64[ns]"),
    ),
    (
        "datetime",
        "datetime64[us]",
        False,
        False,
        ["3000-01-01T00:00:00"],
        np.array(["3000-01-01"], dtype="datetime64[us]"),
    ),
    (
        "datetime",
        "datetime64[s]",
        False,
        True,
        ["2024-05-01T10:00:00-02:00"],
        np.array(["2024-05-01T12:00:00"], dtype="datetime64[s]"),
    ),
    (
        "datetime",
        "datetime64[ns, UTC]",
        True,
        False,
        ["2024-01-31T12:00:00+01:00", None],
        np.array([pd.Timestamp("2024-01-31 11:00", tz="UTC"), pd.NaT], dtype=object),
    ),
    (
        "datetime",
        "datetime64[ns, Europe/Paris]",
        False,
        False,
        ["2024-01-31T12:00:00Z"],
        np.array([pd.Timestamp("2024-01-31 13:00", tz="Europe/Paris")], dtype=object),
    ),
    (
        "datetime",
        "datetime64[us, UTC+01:00]",
        False,
        True,
        ["2024-01-31T12:00:00Z"],
        np.array([pd.Timestamp("2024-01-31 13:00", tz="UTC+01:00")], dtype=object),
    ),
    # a reference of ISO strings: checked as datetimes, served as the strings
    (
        "datetime",
        "str",
        False,
        False,
        ["2024-01-01", "2024-01-02T10:00Z"],
        np.array(["2024-01-01", "2024-01-02T10:00Z"], dtype=object),
    ),
    # unknown dtypes: by kind
    ("numeric", "decimal", False, False, [1, 2.5], np.array([1.0, 2.5])),
    ("boolean", "mystery", False, False, [True], np.array([True])),
    ("categorical", "mystery", False, False, ["a"], np.array(["a"], dtype=object)),
    (
        "datetime",
        "mystery",
        False,
        False,
        ["2024-01-01"],
        np.array(["2024-01-01"], dtype="datetime64[ns]"),
    ),
]


@pytest.mark.parametrize(
    ("kind", "dtype", "nullable", "text", "values", "expected"),
    _OK_CASES,
    ids=[
        f"{c[0]}-{c[1]}-{'null' if c[2] else 'req'}-{'text' if c[3] else 'json'}-{i}"
        for i, c in enumerate(_OK_CASES)
    ],
)
def test_values_that_fit(
    kind: str,
    dtype: str,
    nullable: bool,
    text: bool,
    values: list[Any],
    expected: np.ndarray,
) -> None:
    schema = InputSchema((InputColumn("c", kind, dtype, nullable),))
    inputs, passed = validate_columns(_decoded({"c": values}, text), schema, max_rows=10)
    _same(inputs["c"], expected)
    assert passed == {}


_BAD_CASES: list[tuple[str, str, bool, bool, list[Any], str, int, list[str]]] = [
    # (kind, dtype, nullable, text, values, reason, row, words)
    (
        "numeric",
        "int64",
        False,
        False,
        [1, 3.5],
        "wrong_type",
        1,
        ["3.5 (a number)", "a whole number"],
    ),
    ("numeric", "int64", True, False, [True], "wrong_type", 0, ["True (a boolean)"]),
    ("numeric", "int64", False, False, [1, "3"], "wrong_type", 1, ["'3' (a string)"]),
    ("numeric", "int64", False, False, [1, [1]], "wrong_type", 1, ["[1] (an array)"]),
    ("numeric", "int64", False, False, [{"a": 1}], "wrong_type", 0, ["(an object)"]),
    ("numeric", "int64", False, False, [None], "null_value", 0, ["not nullable"]),
    ("numeric", "int64", False, False, [1, NAN], "null_value", 1, ["row 1 is null"]),
    ("numeric", "int64", True, False, [1, INF], "non_finite", 1, ["inf", "finite"]),
    ("numeric", "int64", False, False, [2**63], "wrong_type", 0, ["within int64"]),
    ("numeric", "int64", False, False, [1.0, 1e19], "wrong_type", 1, ["within int64"]),
    ("numeric", "int64", False, False, [10**400], "wrong_type", 0, ["within int64"]),
    (
        "numeric",
        "int64",
        False,
        True,
        ["1", "abc"],
        "wrong_type",
        1,
        ["'abc' (a string)", "text such as '42'"],
    ),
    ("numeric", "int64", False, True, ["1_000"], "wrong_type", 0, ["'1_000'"]),
    ("numeric", "int64", False, True, ["0x10"], "wrong_type", 0, []),
    ("numeric", "int64", False, True, ["1.5"], "wrong_type", 0, ["'1.5'"]),
    ("numeric", "int64", False, True, ["-inf"], "non_finite", 0, []),
    ("numeric", "int64", False, True, [None], "null_value", 0, []),
    ("numeric", "int64", False, True, ["18446744073709551615"], "wrong_type", 0, ["within int64"]),
    ("numeric", "int64", False, True, ["99999999999999999999"], "wrong_type", 0, ["within int64"]),
    ("categorical", "int64", False, False, ["a"], "wrong_type", 0, ["(categorical, int64)"]),
    (
        "numeric",
        "float64",
        False,
        False,
        [1.0, True],
        "wrong_type",
        1,
        ["True (a boolean)", "a number"],
    ),
    ("numeric", "float64", False, False, ["1.5"], "wrong_type", 0, ["'1.5' (a string)"]),
    ("numeric", "float64", False, False, [[1.0]], "wrong_type", 0, ["(an array)"]),
    ("numeric", "float64", False, False, [1, None], "null_value", 1, []),
    ("numeric", "float64", False, False, [NAN], "null_value", 0, []),
    ("numeric", "float64", True, False, [0.0, INF], "non_finite", 1, ["inf"]),
    ("numeric", "float64", True, False, [-INF], "non_finite", 0, ["-inf"]),
    ("numeric", "float64", True, False, [1, 10**400], "wrong_type", 1, []),
    ("numeric", "float64", True, True, ["1", "abc"], "wrong_type", 1, ["text such as '4.2'"]),
    ("numeric", "float64", True, True, ["1,5"], "wrong_type", 0, []),
    ("numeric", "float64", True, True, ["inf"], "non_finite", 0, ["'inf'"]),
    ("numeric", "float64", False, True, ["NaN"], "null_value", 0, []),
    (
        "boolean",
        "bool",
        False,
        False,
        [True, 2],
        "wrong_type",
        1,
        ["2 (a number)", "true or false"],
    ),
    ("boolean", "bool", False, False, [True, -1], "wrong_type", 1, []),
    ("boolean", "bool", False, False, [1.0], "wrong_type", 0, ["1.0 (a number)"]),
    ("boolean", "bool", False, False, ["true"], "wrong_type", 0, ["'true' (a string)"]),
    ("boolean", "bool", False, False, [True, None], "null_value", 1, []),
    ("boolean", "bool", True, False, [[True]], "wrong_type", 0, []),
    (
        "boolean",
        "bool",
        False,
        True,
        ["true", "yes"],
        "wrong_type",
        1,
        ["'yes'", "'true', 'false', '1' or '0'"],
    ),
    ("boolean", "bool", True, True, [None, "t"], "wrong_type", 1, ["'t'"]),
    ("boolean", "bool", False, True, ["1", None], "null_value", 1, []),
    ("categorical", "str", False, False, ["a", 1], "wrong_type", 1, ["1 (a number)", "a string"]),
    ("categorical", "str", True, False, [True], "wrong_type", 0, ["(a boolean)"]),
    ("categorical", "str", True, False, [NAN], "wrong_type", 0, ["(a number)"]),
    ("text", "str", True, False, [["a"]], "wrong_type", 0, ["(an array)"]),
    ("categorical", "str", False, False, ["a", None], "null_value", 1, []),
    ("categorical", "str", False, True, [None], "null_value", 0, []),
    ("datetime", "datetime64[ns]", False, False, ["2024-13-01"], "wrong_type", 0, ["ISO-8601"]),
    ("datetime", "datetime64[ns]", False, False, ["2024-01-01", "now"], "wrong_type", 1, ["'now'"]),
    ("datetime", "datetime64[ns]", False, False, ["today"], "wrong_type", 0, []),
    ("datetime", "datetime64[ns]", False, False, ["NaT"], "wrong_type", 0, []),
    ("datetime", "datetime64[ns]", False, False, [""], "wrong_type", 0, []),
    ("datetime", "datetime64[ns]", False, False, ["31/01/2024"], "wrong_type", 0, []),
    ("datetime", "datetime64[ns]", False, False, [1704067200], "wrong_type", 0, ["(a number)"]),
    ("datetime", "datetime64[ns]", False, False, [None], "null_value", 0, []),
    (
        "datetime",
        "datetime64[ns]",
        False,
        False,
        ["3000-01-01"],
        "wrong_type",
        0,
        ["datetime64[ns]"],
    ),
    (
        "datetime",
        "datetime64[ns]",
        False,
        False,
        ["2024-01-01T00:00:00.000000001", "3000-01-01"],
        "wrong_type",
        1,
        [],
    ),
    ("datetime", "str", False, False, ["2024-01-01", "soon"], "wrong_type", 1, ["'soon'"]),
    ("datetime", "datetime64[ns]", False, True, ["2024-01-01", "x"], "wrong_type", 1, []),
]


@pytest.mark.parametrize(
    ("kind", "dtype", "nullable", "text", "values", "reason", "row", "words"),
    _BAD_CASES,
    ids=[f"{c[0]}-{c[1]}-{c[5]}-{i}" for i, c in enumerate(_BAD_CASES)],
)
def test_values_that_do_not_fit(
    kind: str,
    dtype: str,
    nullable: bool,
    text: bool,
    values: list[Any],
    reason: str,
    row: int,
    words: list[str],
) -> None:
    schema = InputSchema((InputColumn("c", kind, dtype, nullable),))
    decoded = _decoded({"c": values}, text)
    _expect(
        lambda: validate_columns(decoded, schema, max_rows=10),
        reason,
        "c",
        f"Column 'c' ({kind}, {dtype}): row {row} is",
        *words,
    )


def test_the_first_offending_row_is_named_on_big_requests() -> None:
    schema = InputSchema(
        (
            InputColumn("i", "numeric", "int64", False),
            InputColumn("f", "numeric", "float64", False),
        )
    )
    values = list(range(5000))
    for column, bad, reason in [("i", 0.5, "wrong_type"), ("f", None, "null_value")]:
        sent: dict[str, list[Any]] = {"i": values, "f": [float(v) for v in values]}
        sent[column] = [*values[:4321], bad, *values[4322:]]
        _expect(
            partial(validate_columns, _decoded(sent), schema, max_rows=10_000),
            reason,
            column,
            "row 4321 is",
        )


# -- fuzzing: nothing but RequestError, and the documented output types -----------------------

_FAMILIES = [
    ("numeric", "int64"),
    ("numeric", "float64"),
    ("boolean", "bool"),
    ("categorical", "str"),
    ("datetime", "datetime64[ns]"),
    ("datetime", "datetime64[ns, UTC]"),
    ("datetime", "str"),
    ("categorical", "int32"),
]


@hs.composite
def schemas(draw: Any) -> InputSchema:
    columns = []
    for name in draw(
        hs.lists(hs.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True)
    ):
        kind, dtype = draw(hs.sampled_from(_FAMILIES))
        columns.append(InputColumn(name, kind, dtype, draw(hs.booleans())))
    return InputSchema(tuple(columns))


def _check_output(column: InputColumn, got: np.ndarray, n: int) -> None:
    assert got.shape == (n,)
    values = got.tolist()
    if column.dtype in ("int64", "int32"):
        assert got.dtype == np.int64 or (column.nullable and got.dtype == np.float64)
        assert not np.isinf(got.astype(np.float64)).any()
    elif column.dtype == "float64":
        assert got.dtype == np.float64
        assert not np.isinf(got).any()
        assert column.nullable or not np.isnan(got).any()
    elif column.dtype == "bool":
        assert got.dtype == bool or set(map(type, values)) <= {bool, type(None)}
    elif column.dtype == "str":
        assert set(map(type, values)) <= {str, type(None)}
    elif column.dtype == "datetime64[ns]":
        assert got.dtype == np.dtype("datetime64[ns]")
    else:
        assert all(v is pd.NaT or str(v.tz) == "UTC" for v in values)
    if not column.nullable and got.dtype.kind in "fM":
        assert not pd.isna(got).any()


def _validate_or_reject(decoded: Decoded, schema: InputSchema, passthrough: list[str]) -> None:
    try:
        inputs, passed = validate_columns(decoded, schema, max_rows=4, passthrough=passthrough)
    except RequestError as error:  # the only exception allowed; its reason is a known one
        if error.reason not in REASONS or not error.message:
            pytest.fail(f"bad RequestError: {error.reason!r}, {error.message!r}")
        return
    assert list(inputs) == schema.names
    assert set(passed) <= set(passthrough)
    for column in schema.columns:
        _check_output(column, inputs[column.name], decoded.n_rows)


_cells = hs.one_of(
    _scalars,
    hs.sampled_from([0, 1, 2.0, "2024-01-01T10:00:00Z", "3000-01-01", "true", "0", " 7 "]),
    json_values,
)
_fitting = {
    "int64": hs.one_of(
        hs.integers(-(2**64), 2**64),
        hs.floats().map(lambda f: f if not math.isfinite(f) else float(round(f))),
    ),
    "int32": hs.integers(-(2**40), 2**40),
    "float64": hs.one_of(hs.floats(), hs.integers()),
    "bool": hs.one_of(hs.booleans(), hs.integers(-1, 2)),
    "str": hs.one_of(hs.text(max_size=5), hs.sampled_from(["2024-01-01", "2024-02-30", "x"])),
    "datetime64[ns]": hs.one_of(
        hs.datetimes().map(lambda d: d.isoformat()),
        hs.sampled_from(["2024-01-01", "2024-01-01T10:00:00+05:30", "1600-01-01", "now"]),
    ),
}
_fitting["datetime64[ns, UTC]"] = _fitting["datetime64[ns]"]


@hs.composite
def requests(draw: Any) -> tuple[InputSchema, dict[str, list[Any]], bool]:
    """A schema and a request for it: mostly fitting values, now and then a wrong one."""
    schema = draw(schemas())
    n = draw(hs.integers(1, 4))
    text = draw(hs.booleans())
    columns = {}
    for column in schema.columns:
        cell = hs.one_of(_fitting[column.dtype], _fitting[column.dtype], hs.none(), _cells)
        values = draw(hs.lists(cell, min_size=n, max_size=n))
        if text:
            values = [None if v is None else _as_text(v) for v in values]
        columns[column.name] = values
    if draw(hs.integers(0, 4)) == 0:
        columns["customer_id"] = draw(hs.lists(_cells, min_size=n, max_size=n))
    return schema, columns, text


def _as_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@FUZZ
@given(request=requests(), passthrough=hs.sampled_from([[], ["customer_id"]]))
def test_fuzz_validate_decoded_columns(
    request: tuple[InputSchema, dict[str, list[Any]], bool], passthrough: list[str]
) -> None:
    schema, columns, text = request
    _validate_or_reject(_decoded(columns, text), schema, passthrough)


@FUZZ
@given(schema=schemas(), doc=table_docs(), passthrough=hs.sampled_from([[], ["customer_id"]]))
def test_fuzz_decode_then_validate(
    schema: InputSchema, doc: dict[str, Any], passthrough: list[str]
) -> None:
    try:
        decoded = decode_invocations(json.dumps(doc).encode(), None)
    except RequestError:
        return
    _validate_or_reject(decoded, schema, passthrough)


@FUZZ
@given(
    schema=schemas(),
    rows=hs.lists(
        hs.lists(
            hs.sampled_from(
                ["", "1", "2.5", "x", "true", "nan", "inf", "2024-01-01", "-3", "1e400"]
            ),
            min_size=3,
            max_size=3,
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_fuzz_csv_then_validate(schema: InputSchema, rows: list[list[str]]) -> None:
    body = "\n".join(",".join(row) for row in [["a", "b", "c"], *rows]).encode()
    try:
        decoded = decode_invocations(body, "text/csv")
    except RequestError:
        return
    _validate_or_reject(decoded, schema, [])


def test_nan_is_a_null_only_where_numbers_are_expected() -> None:
    assert math.isnan(NAN)  # the JSON NaN token decodes to a float NaN
    schema = InputSchema((InputColumn("c", "numeric", "float64", True),))
    decoded = decode_invocations(b'{"inputs": {"c": [NaN, 1]}}', None)
    _same(validate_columns(decoded, schema, max_rows=5)[0]["c"], np.array([NAN, 1.0]))
