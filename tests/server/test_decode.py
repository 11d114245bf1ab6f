"""Request decoding: OIP v2, MLflow /invocations (JSON and CSV), TF Serving predict.

Every bad body must come out as a RequestError with the documented reason, status and field;
the hypothesis tests at the end feed random JSON and bytes and accept nothing else.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from watchkeeper.datasets import CHURN_FEATURES
from watchkeeper.server._decode import STYLES, Decoded, decode_invocations, decode_tfserving
from watchkeeper.server._decode_oip import decode_oip
from watchkeeper.server._errors import REASONS, RequestError

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _json(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def _mlflow(doc: Any) -> Decoded:
    return decode_invocations(_json(doc), "application/json")


def _expect(call: Callable[[], Any], reason: str, field: str | None, *words: str) -> str:
    """Run ``call``; it must raise RequestError(reason, field) whose message has ``words``."""
    with pytest.raises(RequestError) as caught:
        call()
    error = caught.value
    assert (error.reason, error.field) == (reason, field), error.message
    assert error.status == REASONS[reason]
    for word in words:
        assert word in error.message, (word, error.message)
    return error.message


def _columns(decoded: Decoded) -> dict[str, list[Any]]:
    for values in decoded.columns.values():
        assert values.dtype == object
        assert values.shape == (decoded.n_rows,)
    return {name: values.tolist() for name, values in decoded.columns.items()}


def _as_json_values(frame: pd.DataFrame) -> dict[str, list[Any]]:
    """The frame's columns as JSON would carry them (NaN -> None, times as ISO text)."""
    out = {}
    for name in frame.columns:
        series = frame[name]
        if series.dtype.kind == "M":
            values = [None if pd.isna(v) else v.isoformat() for v in series]
        else:
            values = [None if _missing(v) else _py(v) for v in series.tolist()]
        out[name] = values
    return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _py(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


@pytest.fixture(scope="module")
def sample(churn_frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Twelve churn rows with every feature, the id and the event time; a few missing values."""
    frame = churn_frames["reference"]
    rows = frame[frame["total_charges"].isna() | frame["payment_method"].isna()].head(4)
    rows = pd.concat([rows, frame.head(8)])
    return rows[["customer_id", "event_time", *CHURN_FEATURES]].reset_index(drop=True)


# -- JSON shared by the three decoders -------------------------------------------------------

DECODERS: dict[str, Callable[[bytes], Decoded]] = {
    "oip": decode_oip,
    "mlflow": lambda body: decode_invocations(body, "application/json"),
    "tf": decode_tfserving,
}


@pytest.mark.parametrize("decoder", DECODERS.values(), ids=DECODERS.keys())
@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", ["empty"]),
        (b"  \n", ["empty"]),
        (b"{", ["not valid JSON", "line 1"]),
        (b'{"inputs": [1, 2,]}', ["not valid JSON"]),
        (b"{'inputs': []}", ["not valid JSON"]),
        (b"\xff\xfe{}", ["UTF-8", "offset 0"]),
        (b'{"a": "\xc3"}', ["UTF-8"]),
        (b"[1, 2]", ["JSON object", "an array"]),
        (b'"inputs"', ["JSON object", "a string"]),
        (b"3", ["JSON object", "a number"]),
        (b"null", ["JSON object", "null"]),
        (b"[" * 100_000 + b"]" * 100_000, []),
        (b'{"a": ' + b"9" * 5000 + b"}", []),
    ],
    ids=[
        "empty",
        "blank",
        "truncated",
        "trailing-comma",
        "single-quotes",
        "bad-utf8-bom",
        "bad-utf8-continuation",
        "array",
        "string",
        "number",
        "null",
        "deep-nesting",
        "huge-integer",
    ],
)
def test_bodies_that_are_not_json_objects_are_malformed(
    decoder: Callable[[bytes], Decoded], body: bytes, words: list[str]
) -> None:
    _expect(lambda: decoder(body), "malformed", None, *words)


# -- Open Inference Protocol -----------------------------------------------------------------

_OIP_DATATYPE = {"int64": "INT64", "float64": "FP64", "bool": "BOOL"}


def _oip_body(frame: pd.DataFrame, nested: bool = False, **extra: Any) -> dict[str, Any]:
    values = _as_json_values(frame)
    inputs = []
    for name in frame.columns:
        data: list[Any] = values[name]
        shape = [len(frame)]
        if nested:
            data, shape = [[v] for v in data], [len(frame), 1]
        datatype = _OIP_DATATYPE.get(str(frame[name].dtype), "BYTES")
        inputs.append({"name": name, "shape": shape, "datatype": datatype, "data": data})
    return {"inputs": inputs, **extra}


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
def test_oip_decodes_one_column_per_input(sample: pd.DataFrame, nested: bool) -> None:
    body = _oip_body(sample, nested, id="req-1", parameters={"event_time": "2026-01-01"})
    decoded = decode_oip(_json(body))
    assert decoded.n_rows == len(sample)
    assert _columns(decoded) == _as_json_values(sample)
    assert list(decoded.columns) == list(sample.columns)
    assert decoded.request_id == "req-1"
    assert decoded.parameters == {"event_time": "2026-01-01"}
    assert (decoded.style, decoded.text) == ("oip", False)


def test_oip_reads_mlserver_pandas_requests_and_string_inputs() -> None:
    body = {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {
                "name": "city",
                "shape": [2, 1],
                "datatype": "BYTES",
                "parameters": {"content_type": "str"},
                "data": ["Ashbury", "Bexley"],
            },
            # content_type "str" makes the values strings whatever the datatype says
            {
                "name": "plan",
                "shape": [2],
                "datatype": "INT64",
                "parameters": {"content_type": "str"},
                "data": ["A", "B"],
            },
            {"name": "age", "shape": [2], "datatype": "INT32", "data": [30, 41]},
        ],
    }
    decoded = decode_oip(_json(body))
    assert _columns(decoded) == {"city": ["Ashbury", "Bexley"], "plan": ["A", "B"], "age": [30, 41]}
    assert decoded.parameters == {"content_type": "pd"}


def test_oip_accepts_requested_outputs_and_datetime_strings() -> None:
    body = {
        "outputs": [{"name": "predict_proba"}],
        "inputs": [
            {
                "name": "when",
                "shape": [1],
                "datatype": "BYTES",
                "parameters": {"content_type": "datetime"},
                "data": ["2024-01-31T12:00:00Z"],
            }
        ],
    }
    assert _columns(decode_oip(_json(body))) == {"when": ["2024-01-31T12:00:00Z"]}


@pytest.mark.parametrize(
    ("datatype", "data"),
    [
        ("BOOL", [True, None, False]),
        ("INT8", [-128, None, 127]),
        ("INT64", [-(2**63), None, 2**63 - 1]),
        ("UINT8", [0, None, 255]),
        ("UINT64", [0, None, 2**64 - 1]),
        ("INT32", [3.0, None, -2.0]),  # whole floats are whole numbers
        ("FP16", [1, None, 2.5]),
        ("FP32", [1e30, None, -0.0]),
        ("FP64", [float("nan"), None, float("inf")]),  # kept: validation rejects them
        ("BYTES", ["x", None, ""]),
    ],
)
def test_oip_accepts_values_of_each_datatype_and_null(datatype: str, data: list[Any]) -> None:
    body = {"inputs": [{"name": "c", "shape": [3], "datatype": datatype, "data": data}]}
    got = decode_oip(_json(body)).columns["c"].tolist()
    assert [type(v) for v in got] == [type(v) for v in data]
    assert [str(v) for v in got] == [str(v) for v in data]


@pytest.mark.parametrize("request_id", ["r", "x" * 128, "réq 1", "😀-42", "a b\u00a0c", None])
def test_oip_request_ids_that_are_accepted(request_id: str | None) -> None:
    decoded = decode_oip(_json({"id": request_id, "inputs": [_input()]}))
    assert decoded.request_id == request_id


@pytest.mark.parametrize(
    "body",
    [
        b'{"inputs": {"a": ["x\\udc00"]}}',
        b'{"inputs": {"\\ud800": [1]}}',
        b'{"inputs": [{"a": 1}], "params": {"k": ["\\uDBFF"]}}',
    ],
)
def test_lone_surrogate_escapes_are_malformed(body: bytes) -> None:
    _expect(lambda: decode_invocations(body, None), "malformed", None, "surrogate")


def test_surrogate_pairs_are_characters() -> None:
    body = b'{"inputs": {"a": ["\\ud83d\\ude00", "\\\\ud800"]}}'
    assert decode_invocations(body, None).columns["a"].tolist() == ["\U0001f600", "\\ud800"]


def _input(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "age", "shape": [2], "datatype": "INT64", "data": [1, 2]}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP = object()
_OK_INPUT = _input()


@pytest.mark.parametrize(
    ("doc", "reason", "field", "words"),
    [
        # id
        ({"id": 5}, "invalid_parameter", "id", ["'id'", "string", "a number"]),
        ({"id": True}, "invalid_parameter", "id", ["a boolean"]),
        ({"id": ["a"]}, "invalid_parameter", "id", ["an array"]),
        ({"id": ""}, "invalid_parameter", "id", ["1 to 128"]),
        ({"id": "x" * 129}, "invalid_parameter", "id", ["1 to 128", "129"]),
        ({"id": "a\nb"}, "invalid_parameter", "id", ["control"]),
        ({"id": "a\x00"}, "invalid_parameter", "id", ["control"]),
        ({"id": "a\x7f"}, "invalid_parameter", "id", ["control"]),
        ({"id": "a\x85"}, "invalid_parameter", "id", ["control"]),
        ({"id": "a\udc00"}, "malformed", None, ["surrogate"]),
        # parameters
        ({"parameters": []}, "invalid_parameter", "parameters", ["object", "an array"]),
        ({"parameters": "pd"}, "invalid_parameter", "parameters", ["a string"]),
        (
            {"parameters": {"content_type": "np"}},
            "invalid_parameter",
            "parameters.content_type",
            ["'np'", "'pd'"],
        ),
        (
            {"parameters": {"content_type": 1}},
            "invalid_parameter",
            "parameters.content_type",
            ["1"],
        ),
        # outputs
        ({"outputs": {"name": "predict"}}, "malformed", "outputs", ["array", "an object"]),
        # inputs
        ({"inputs": _DROP}, "malformed", "inputs", ["non-empty array", "null"]),
        ({"inputs": []}, "malformed", "inputs", ["an empty array"]),
        ({"inputs": {"age": [1]}}, "malformed", "inputs", ["an object"]),
        ({"inputs": "age"}, "malformed", "inputs", ["a string"]),
        ({"inputs": [_OK_INPUT, 3]}, "malformed", "inputs[1]", ["inputs[1]", "a number"]),
        ({"inputs": [None]}, "malformed", "inputs[0]", ["null"]),
        # name
        ({"inputs": [_input(name=_DROP)]}, "malformed", "inputs[0].name", ["null"]),
        ({"inputs": [_input(name=7)]}, "malformed", "inputs[0].name", ["a number"]),
        ({"inputs": [_input(name="")]}, "malformed", "inputs[0].name", ["non-empty"]),
        (
            {"inputs": [_OK_INPUT, _input(data=[3, 4])]},
            "malformed",
            "age",
            ["inputs[1]", "more than once"],
        ),
        # shape
        ({"inputs": [_input(shape=_DROP)]}, "malformed", "age", ["'shape'", "null"]),
        ({"inputs": [_input(shape="2")]}, "malformed", "age", ["'shape'", "a string"]),
        ({"inputs": [_input(shape=[-2])]}, "malformed", "age", ["non-negative"]),
        ({"inputs": [_input(shape=[2.0])]}, "malformed", "age", ["integers"]),
        ({"inputs": [_input(shape=[True])]}, "malformed", "age", ["integers"]),
        ({"inputs": [_input(shape=[])]}, "shape_mismatch", "age", ["[n] or [n, 1]"]),
        ({"inputs": [_input(shape=[1, 2])]}, "shape_mismatch", "age", ["[1, 2]", "one column"]),
        ({"inputs": [_input(shape=[2, 1, 1])]}, "shape_mismatch", "age", ["[2, 1, 1]"]),
        # datatype
        ({"inputs": [_input(datatype=_DROP)]}, "malformed", "age", ["'datatype'", "None"]),
        ({"inputs": [_input(datatype="FP8")]}, "malformed", "age", ["'FP8'", "INT64", "BYTES"]),
        ({"inputs": [_input(datatype="int64")]}, "malformed", "age", ["'int64'"]),
        ({"inputs": [_input(datatype=64)]}, "malformed", "age", ["64"]),
        # per-input parameters
        ({"inputs": [_input(parameters=[1])]}, "invalid_parameter", "age", ["an array"]),
        (
            {"inputs": [_input(parameters={"content_type": "base64"})]},
            "invalid_parameter",
            "age",
            ["'base64'", "'str'"],
        ),
        # data
        ({"inputs": [_input(data=_DROP)]}, "malformed", "age", ["'data'", "null"]),
        ({"inputs": [_input(data="1,2")]}, "malformed", "age", ["'data'", "a string"]),
        ({"inputs": [_input(data={"0": 1})]}, "malformed", "age", ["an object"]),
        ({"inputs": [_input(data=[1, 2, 3])]}, "shape_mismatch", "age", ["3 values", "[2]"]),
        ({"inputs": [_input(data=[1])]}, "shape_mismatch", "age", ["1 values", "needs 2"]),
        ({"inputs": [_input(data=[[1], [2]])]}, "shape_mismatch", "age", ["nested"]),
        (
            {"inputs": [_input(shape=[2, 1], data=[[1], 2])]},
            "shape_mismatch",
            "age",
            ["nested"],
        ),
        (
            {"inputs": [_input(shape=[2, 1], data=[[1, 2], [3, 4]])]},
            "shape_mismatch",
            "age",
            ["nested"],
        ),
        (
            {"inputs": [_input(shape=[3, 1], data=[[1], [2]])]},
            "shape_mismatch",
            "age",
            ["2 values", "needs 3"],
        ),
        # inputs of different lengths
        (
            {"inputs": [_OK_INPUT, _input(name="tenure", shape=[3], data=[1, 2, 3])]},
            "shape_mismatch",
            "tenure",
            ["'tenure' has 3 rows", "'age' has 2"],
        ),
        # no rows
        ({"inputs": [_input(shape=[0], data=[])]}, "empty", None, ["no rows"]),
        ({"inputs": [_input(shape=[0, 1], data=[])]}, "empty", None, ["no rows"]),
    ],
)
def test_oip_rejects_each_bad_field(
    doc: dict[str, Any], reason: str, field: str | None, words: list[str]
) -> None:
    body = {"inputs": [_OK_INPUT]}
    body.update(doc)
    body = {k: v for k, v in body.items() if v is not _DROP}
    _expect(lambda: decode_oip(_json(body)), reason, field, *words)


@pytest.mark.parametrize(
    ("datatype", "data", "row", "words"),
    [
        ("INT64", [1, "2"], 1, ["'2' (a string)", "an integer"]),
        ("INT64", [True, 1], 0, ["True (a boolean)"]),
        ("INT64", [1, 1.5], 1, ["1.5 (a number)"]),
        ("INT64", [1, float("nan")], 1, ["nan"]),
        ("INT64", [1, 2**63], 1, [str(2**63), "[-9223372036854775808, 9223372036854775807]"]),
        ("INT8", [127, 128], 1, ["128", "[-128, 127]"]),
        ("INT16", [-32769, 0], 0, ["-32769"]),
        ("UINT8", [0, -1], 1, ["-1", "[0, 255]"]),
        ("UINT16", [65536, 0], 0, ["65536"]),
        ("UINT32", [1.0, 2.5], 1, ["2.5"]),
        ("FP32", [1.5, "1.5"], 1, ["'1.5' (a string)", "a number"]),
        ("FP64", [False, 1.0], 0, ["False (a boolean)"]),
        ("FP16", [[1.0], 1.0], None, []),  # nested data for shape [n]: a shape error first
        ("BOOL", [True, 1], 1, ["1 (a number)", "a boolean"]),
        ("BOOL", ["true", False], 0, ["'true' (a string)"]),
        ("BYTES", ["a", 1], 1, ["1 (a number)", "a string"]),
        ("BYTES", [{"a": 1}, "b"], 0, ["{'a': 1} (an object)"]),
    ],
)
def test_oip_rejects_values_not_of_their_datatype(
    datatype: str, data: list[Any], row: int | None, words: list[str]
) -> None:
    body = {"inputs": [{"name": "c", "shape": [2], "datatype": datatype, "data": data}]}
    if row is None:
        _expect(lambda: decode_oip(_json(body)), "shape_mismatch", "c")
        return
    _expect(lambda: decode_oip(_json(body)), "wrong_type", "c", f"row {row} is", *words)


def test_oip_json_nan_and_infinity_tokens_stay_floats() -> None:
    body = (
        b'{"inputs": [{"name": "x", "shape": [3], "datatype": "FP64",'
        b' "data": [NaN, Infinity, -Infinity]}]}'
    )
    values = decode_oip(body).columns["x"].tolist()
    assert math.isnan(values[0])
    assert values[1:] == [math.inf, -math.inf]


# -- MLflow /invocations (JSON) --------------------------------------------------------------


def _mlflow_bodies(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    values = _as_json_values(frame)
    records = [dict(zip(values, row, strict=True)) for row in zip(*values.values(), strict=True)]
    return {
        "split": {
            "dataframe_split": {
                "columns": list(values),
                "index": list(range(len(frame))),  # ignored, as pandas' split orient has it
                "data": [list(row) for row in zip(*values.values(), strict=True)],
            }
        },
        "records": {"dataframe_records": records},
        "instances": {"instances": records},
        "instances-columns": {"instances": values},
        "inputs": {"inputs": values},
        "inputs-records": {"inputs": records},
    }


@pytest.mark.parametrize(
    "variant", ["split", "records", "instances", "instances-columns", "inputs", "inputs-records"]
)
def test_mlflow_json_formats_decode_to_the_same_columns(sample: pd.DataFrame, variant: str) -> None:
    doc = _mlflow_bodies(sample)[variant]
    doc["params"] = {"threshold": 0.3}
    decoded = _mlflow(doc)
    assert _columns(decoded) == _as_json_values(sample)
    assert list(decoded.columns) == list(sample.columns)
    assert decoded.n_rows == len(sample)
    assert decoded.parameters == {"threshold": 0.3}
    assert decoded.request_id is None
    assert decoded.style == variant.split("-")[0]
    assert decoded.style in STYLES
    assert decoded.text is False


def test_mlflow_records_with_different_keys_fill_nulls_in_first_seen_order() -> None:
    doc = {"dataframe_records": [{"a": 1}, {"b": "x", "a": 2}, {}, {"c": None}]}
    decoded = _mlflow(doc)
    assert _columns(decoded) == {
        "a": [1, 2, None, None],
        "b": [None, "x", None, None],
        "c": [None, None, None, None],
    }
    assert decoded.parameters == {}


def test_mlflow_records_with_no_keys_decode_to_rows_without_columns() -> None:
    decoded = _mlflow({"dataframe_records": [{}, {}]})
    assert (decoded.columns, decoded.n_rows) == ({}, 2)


def test_mlflow_cells_keep_nested_values_for_validation_to_reject() -> None:
    decoded = _mlflow({"dataframe_split": {"columns": ["a"], "data": [[[1, 2]], [{"k": 1}]]}})
    assert decoded.columns["a"].tolist() == [[1, 2], {"k": 1}]


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON ; charset=UTF-8",
        "application/json;format=pandas-split",
    ],
)
def test_mlflow_json_content_types(content_type: str | None) -> None:
    decoded = decode_invocations(_json({"inputs": {"a": [1]}}), content_type)
    assert _columns(decoded) == {"a": [1]}


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/octet-stream",
        "application/vnd.apache.parquet",
        "multipart/form-data; boundary=x",
        "text/json",
    ],
)
def test_mlflow_other_content_types_are_unsupported_media(content_type: str) -> None:
    _expect(
        lambda: decode_invocations(_json({"inputs": {"a": [1]}}), content_type),
        "unsupported_media_type",
        "Content-Type",
        repr(content_type),
        "application/json",
        "text/csv",
    )


_KEYS = ["'dataframe_split'", "'dataframe_records'", "'instances'", "'inputs'"]


@pytest.mark.parametrize(
    ("doc", "reason", "field", "words"),
    [
        # the format key
        ({}, "unsupported_format", None, [*_KEYS, "none"]),
        ({"data": [[1]], "columns": ["a"]}, "unsupported_format", None, ["'data', 'columns'"]),
        (
            {"inputs": {"a": [1]}, "instances": [{"a": 1}]},
            "unsupported_format",
            None,
            ["exactly one"],
        ),
        (
            {"dataframe_split": {}, "dataframe_records": []},
            "unsupported_format",
            None,
            ["exactly one"],
        ),
        # params
        ({"inputs": {"a": [1]}, "params": [1]}, "invalid_parameter", "params", ["an array"]),
        ({"inputs": {"a": [1]}, "params": "x"}, "invalid_parameter", "params", ["a string"]),
        # dataframe_split
        ({"dataframe_split": [[1]]}, "malformed", "dataframe_split", ["an array"]),
        (
            {"dataframe_split": {"data": [[1]]}},
            "malformed",
            "dataframe_split.columns",
            ["null"],
        ),
        (
            {"dataframe_split": {"columns": "a", "data": [[1]]}},
            "malformed",
            "dataframe_split.columns",
            ["a string"],
        ),
        (
            {"dataframe_split": {"columns": [], "data": [[]]}},
            "malformed",
            "dataframe_split.columns",
            ["non-empty"],
        ),
        (
            {"dataframe_split": {"columns": ["a", 1], "data": [[1, 2]]}},
            "malformed",
            "dataframe_split.columns",
            ["strings"],
        ),
        (
            {"dataframe_split": {"columns": ["a", "b", "a"], "data": [[1, 2, 3]]}},
            "malformed",
            "dataframe_split.columns",
            ["'a' more than once"],
        ),
        (
            {"dataframe_split": {"columns": ["a"]}},
            "malformed",
            "dataframe_split.data",
            ["null"],
        ),
        (
            {"dataframe_split": {"columns": ["a"], "data": {"a": [1]}}},
            "malformed",
            "dataframe_split.data",
            ["an object"],
        ),
        (
            {"dataframe_split": {"columns": ["a"], "data": [[1], 2]}},
            "malformed",
            "dataframe_split.data",
            ["row 1 is a number"],
        ),
        (
            {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3]]}},
            "shape_mismatch",
            "dataframe_split.data",
            ["row 1 has 1 values", "2 columns"],
        ),
        (
            {"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}},
            "shape_mismatch",
            "dataframe_split.data",
            ["row 0 has 2 values"],
        ),
        ({"dataframe_split": {"columns": ["a"], "data": []}}, "empty", None, ["no rows"]),
        # dataframe_records
        ({"dataframe_records": {"a": [1]}}, "malformed", "dataframe_records", ["an object"]),
        ({"dataframe_records": []}, "empty", None, ["no rows"]),
        (
            {"dataframe_records": [{"a": 1}, [1]]},
            "malformed",
            "dataframe_records[1]",
            ["row 1 is an array"],
        ),
        # instances
        ({"instances": "a"}, "malformed", "instances", ["a string"]),
        ({"instances": [[1, 2]]}, "malformed", "instances[0]", ["an array"]),
        ({"instances": [1, 2]}, "malformed", "instances[0]", ["a number"]),
        ({"instances": []}, "empty", None, []),
        ({"instances": {}}, "empty", "instances", ["no columns"]),
        (
            {"instances": {"a": [1, 2], "b": [1]}},
            "shape_mismatch",
            "b",
            ["'b' has 1 values", "'a' has 2"],
        ),
        # inputs
        ({"inputs": 3}, "malformed", "inputs", ["a number"]),
        ({"inputs": {"a": 1}}, "malformed", "a", ["column 'a'", "a number"]),
        ({"inputs": {"a": [1], "b": "x"}}, "malformed", "b", ["a string"]),
        ({"inputs": {"a": [], "b": []}}, "empty", None, []),
        ({"inputs": {}}, "empty", "inputs", []),
        ({"inputs": [{"a": 1}, None]}, "malformed", "inputs[1]", ["null"]),
        (
            {"inputs": {"a": [1, 2], "b": [1, 2], "c": [1, 2, 3]}},
            "shape_mismatch",
            "c",
            ["3 values", "'a' has 2"],
        ),
    ],
)
def test_mlflow_json_rejects_each_bad_field(
    doc: dict[str, Any], reason: str, field: str | None, words: list[str]
) -> None:
    _expect(lambda: _mlflow(doc), reason, field, *words)


# -- MLflow /invocations (CSV) ---------------------------------------------------------------


def test_csv_reads_every_value_as_text(sample: pd.DataFrame) -> None:
    body = sample.to_csv(index=False).encode()
    decoded = decode_invocations(body, "text/csv")
    assert (decoded.style, decoded.text, decoded.n_rows) == ("csv", True, len(sample))
    assert list(decoded.columns) == list(sample.columns)
    for name, values in _columns(decoded).items():
        expected = [None if pd.isna(v) else str(v) for v in sample[name].astype(object)]
        assert values == expected, name
        assert all(v is None or type(v) is str for v in values)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a,b\n1,x\n", {"a": ["1"], "b": ["x"]}),
        ("a,b\r\n1,x\r\n2,y", {"a": ["1", "2"], "b": ["x", "y"]}),
        ('a,b\n"1,5","say ""hi"""\n', {"a": ["1,5"], "b": ['say "hi"']}),
        ("a,b\n,\n", {"a": [None], "b": [None]}),
        ("a,b\nNA,NaN\nnull,None\n", {"a": ["NA", "null"], "b": ["NaN", "None"]}),
        ("a,b\n1\n", {"a": ["1"], "b": [None]}),  # a short row: the rest is missing
        ("\ufeffa,b\n1,2\n", {"a": ["1"], "b": ["2"]}),  # a byte-order mark
        ("a,b\n 1 ,x y\n", {"a": [" 1 "], "b": ["x y"]}),
        ("a\nÉcole\n", {"a": ["École"]}),
        ("a,b\n1,2\n\n3,4\n", {"a": ["1", "3"], "b": ["2", "4"]}),
    ],
    ids=[
        "simple",
        "crlf",
        "quoted",
        "empty-fields",
        "na-words-stay-text",
        "short-row",
        "bom",
        "spaces-kept",
        "unicode",
        "blank-line",
    ],
)
def test_csv_parsing(text: str, expected: dict[str, list[Any]]) -> None:
    decoded = decode_invocations(text.encode(), "text/csv; charset=utf-8")
    assert _columns(decoded) == expected
    assert decoded.parameters == {}


@pytest.mark.parametrize(
    ("body", "reason", "field", "words"),
    [
        (b"", "empty", None, ["empty"]),
        (b"\n\n", "empty", None, ["empty"]),
        (b"a,b\n", "empty", None, ["no rows"]),
        (b"a,b,a\n1,2,3\n", "malformed", "header", ["'a' appears more than once"]),
        (b",a\n0,1\n", "malformed", "header", ["column 0 has no name", "index=False"]),
        (b"a,,b\n0,1,2\n", "malformed", "header", ["column 1 has no name"]),
        (b"a,b\n1,2,3\n", "malformed", None, ["cannot be parsed", "Expected 2 fields"]),
        (b'a,b\n"1,2\n', "malformed", None, ["cannot be parsed"]),
        (b"a,b\n\xff,1\n", "malformed", None, ["UTF-8", "offset 4"]),
    ],
    ids=[
        "empty",
        "blank-lines",
        "header-only",
        "duplicate-header",
        "index-column",
        "unnamed-column",
        "long-row",
        "open-quote",
        "bad-utf8",
    ],
)
def test_csv_rejects(body: bytes, reason: str, field: str | None, words: list[str]) -> None:
    _expect(lambda: decode_invocations(body, "text/csv"), reason, field, *words)


# -- TF Serving ------------------------------------------------------------------------------


def test_tfserving_row_and_column_formats(sample: pd.DataFrame) -> None:
    values = _as_json_values(sample)
    records = [dict(zip(values, row, strict=True)) for row in zip(*values.values(), strict=True)]
    for doc, style in [
        ({"instances": records, "signature_name": "serving_default"}, "tf_instances"),
        ({"inputs": values}, "tf_columns"),
        ({"inputs": records, "signature_name": 3}, "tf_columns"),
    ]:
        decoded = decode_tfserving(_json(doc))
        assert _columns(decoded) == values
        assert (decoded.style, decoded.n_rows, decoded.parameters) == (
            style,
            len(sample),
            {},
        )
        assert decoded.request_id is None


@pytest.mark.parametrize(
    ("doc", "reason", "field", "words"),
    [
        ({}, "unsupported_format", None, ["'instances'", "'inputs'"]),
        ({"signature_name": "x"}, "unsupported_format", None, ["exactly one"]),
        ({"instances": [{"a": 1}], "inputs": {"a": [1]}}, "unsupported_format", None, []),
        ({"dataframe_split": {"columns": ["a"], "data": [[1]]}}, "unsupported_format", None, []),
        ({"instances": {"a": [1]}}, "malformed", "instances", ["an object"]),
        ({"instances": [1.0, 2.0]}, "malformed", "instances[0]", ["a number"]),
        ({"instances": [{"a": 1}, "b"]}, "malformed", "instances[1]", ["a string"]),
        ({"instances": []}, "empty", None, []),
        ({"inputs": "x"}, "malformed", "inputs", ["a string"]),
        ({"inputs": {"a": 1.0}}, "malformed", "a", ["a number"]),
        ({"inputs": {"a": [1], "b": [1, 2]}}, "shape_mismatch", "b", ["2 values"]),
        ({"inputs": {"a": []}}, "empty", None, []),
    ],
)
def test_tfserving_rejects(
    doc: dict[str, Any], reason: str, field: str | None, words: list[str]
) -> None:
    _expect(lambda: decode_tfserving(_json(doc)), reason, field, *words)


# -- fuzzing: nothing but RequestError comes out ---------------------------------------------

_scalars = hs.one_of(
    hs.none(),
    hs.booleans(),
    hs.integers(min_value=-(2**70), max_value=2**70),
    hs.floats(allow_nan=True, allow_infinity=True),
    hs.text(max_size=8),
    hs.sampled_from(["", "a", "1", "1.5", "true", "2024-01-01", "nan", "\x00", "é", "\udc00"]),
)
json_values = hs.recursive(
    _scalars,
    lambda inner: hs.one_of(
        hs.lists(inner, max_size=5),
        hs.dictionaries(hs.sampled_from(["a", "b", "name", "data", "x"]), inner, max_size=4),
    ),
    max_leaves=25,
)
_DATATYPES = ["BOOL", "INT8", "UINT8", "INT32", "INT64", "FP32", "FP64", "BYTES"]
_typed = {
    "BOOL": hs.booleans(),
    "INT8": hs.integers(-130, 130),
    "UINT8": hs.integers(-2, 260),
    "INT32": hs.integers(-(2**31), 2**31),
    "INT64": hs.one_of(hs.integers(-(2**64), 2**64), hs.floats(-1e20, 1e20).map(round)),
    "FP32": hs.floats(),
    "FP64": hs.one_of(hs.floats(), hs.integers()),
    "BYTES": hs.one_of(hs.text(max_size=6), hs.sampled_from(["2024-01-01", "1", "true"])),
}


def _values(draw: Any, n: int, typed: hs.SearchStrategy[Any]) -> list[Any]:
    """``n`` values, mostly of ``typed``, some null, a few of any JSON type."""
    cell = hs.one_of(typed, typed, typed, hs.none(), _scalars)
    return draw(hs.lists(cell, min_size=n, max_size=n))


def _corrupt(draw: Any, doc: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """A third of the time, drop one of ``keys`` or replace it with any JSON value."""
    if draw(hs.integers(0, 2)) == 0:
        key = draw(hs.sampled_from(keys))
        if draw(hs.booleans()):
            doc.pop(key, None)
        else:
            doc[key] = draw(json_values)
    return doc


@hs.composite
def oip_docs(draw: Any) -> dict[str, Any]:
    """OIP requests, mostly well formed, with one field broken half the time."""
    n = draw(hs.integers(0, 3))
    inputs = []
    for name in draw(hs.lists(hs.sampled_from(["a", "b", "c"]), min_size=1, max_size=3)):
        datatype = draw(hs.sampled_from(_DATATYPES))
        data: list[Any] = _values(draw, n, _typed[datatype])
        nested = draw(hs.booleans())
        item = {
            "name": name,
            "shape": [n, 1] if nested else [n],
            "datatype": datatype,
            "data": [[v] for v in data] if nested else data,
        }
        if draw(hs.integers(0, 3)) == 0:
            item["parameters"] = {"content_type": draw(hs.sampled_from(["str", "np", "x"]))}
        inputs.append(_corrupt(draw, item, ["name", "shape", "datatype", "data", "parameters"]))
    doc: dict[str, Any] = {"inputs": inputs}
    if draw(hs.booleans()):
        doc["id"] = draw(hs.one_of(hs.text("req-0123456789", min_size=1), hs.text(max_size=8)))
    if draw(hs.booleans()):
        doc["parameters"] = {"content_type": "pd"}
    return _corrupt(draw, doc, ["id", "parameters", "inputs", "outputs"])


_COLUMN_NAMES = ["a", "b", "c", "customer_id"]


@hs.composite
def table_docs(draw: Any) -> dict[str, Any]:
    """MLflow and TF Serving requests, mostly well formed, one field broken half the time."""
    n = draw(hs.integers(0, 3))
    names = draw(hs.lists(hs.sampled_from(_COLUMN_NAMES), min_size=1, max_size=4, unique=True))
    columns = {name: _values(draw, n, _scalars) for name in names}
    rows = [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]
    key = draw(hs.sampled_from(["dataframe_split", "dataframe_records", "instances", "inputs"]))
    doc: dict[str, Any]
    if key == "dataframe_split":
        split = {"columns": names, "data": [list(r.values()) for r in rows]}
        doc = {key: _corrupt(draw, split, ["columns", "data"])}
    else:
        doc = {key: draw(hs.sampled_from([rows, columns]))}
    if draw(hs.booleans()):
        doc["params"] = {"threshold": 0.5}
    return _corrupt(draw, doc, [key, "params", "instances", "signature_name"])


def _only_request_errors(call: Callable[[], Decoded]) -> Decoded | None:
    try:
        decoded = call()
    except RequestError as error:  # the only exception allowed; its reason is a known one
        if error.reason not in REASONS or not error.message:
            pytest.fail(f"bad RequestError: {error.reason!r}, {error.message!r}")
        return None
    assert decoded.n_rows >= 1
    assert decoded.style in STYLES
    for values in decoded.columns.values():
        assert values.dtype == object
        assert values.shape == (decoded.n_rows,)
    return decoded


@FUZZ
@given(doc=hs.one_of(oip_docs(), json_values))
def test_fuzz_oip(doc: Any) -> None:
    _only_request_errors(lambda: decode_oip(_json(doc)))


@FUZZ
@given(doc=hs.one_of(table_docs(), json_values))
def test_fuzz_mlflow_and_tfserving_json(doc: Any) -> None:
    _only_request_errors(lambda: _mlflow(doc))
    _only_request_errors(lambda: decode_tfserving(_json(doc)))


@FUZZ
@given(body=hs.one_of(hs.binary(max_size=60), hs.text(max_size=60).map(str.encode)))
def test_fuzz_raw_bytes(body: bytes) -> None:
    for decoder in DECODERS.values():
        _only_request_errors(lambda decoder=decoder: decoder(body))
    _only_request_errors(lambda: decode_invocations(body, "text/csv"))


_csv_cells = hs.one_of(
    hs.sampled_from(["", "1", "x", '"', '""', "a,b", "\n", "\r", "true", "1e999", " ", "\x00"]),
    hs.text(max_size=4),
)


@FUZZ
@given(rows=hs.lists(hs.lists(_csv_cells, min_size=1, max_size=4), max_size=5))
def test_fuzz_csv(rows: list[list[str]]) -> None:
    body = "\n".join(",".join(row) for row in rows).encode()
    _only_request_errors(lambda: decode_invocations(body, "text/csv"))
