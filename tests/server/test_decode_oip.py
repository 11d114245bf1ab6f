"""Decoding Open Inference Protocol (KServe V2) infer requests, one input per column.

Every bad body must come out as a RequestError with the documented reason, status and field;
request ids must be what the X-Request-Id header can carry back.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from watchkeeper.server._decode_oip import decode_oip
from watchkeeper.server._errors import RequestError

from .test_decode import _as_json_values, _columns, _expect, _json, sample_rows


@pytest.fixture(scope="module")
def sample(churn_frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return sample_rows(churn_frames)


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


_HEADER_SAFE = re.compile(r"[\x21-\x7e]{1,128}")  # what the X-Request-Id header carries


@pytest.mark.parametrize(
    "request_id",
    ["r", "x" * 128, "req-1_a.b:c/d", "!~", "#%&'()*+,;<=>?@[]^`{|}\\\"", "0", None],
)
def test_oip_request_ids_that_are_accepted(request_id: str | None) -> None:
    decoded = decode_oip(_json({"id": request_id, "inputs": [_input()]}))
    assert decoded.request_id == request_id


@pytest.mark.parametrize(
    "request_id",
    [
        "请求-1",
        "😀",
        "\u2028",
        "réq-1",
        "a b",
        " r",
        "r ",
        "a\u00a0b",
        "a\tb",
        "\ufeffr",
        "r\u200b",
    ],
)
def test_oip_request_ids_beyond_printable_ascii_are_refused(request_id: str) -> None:
    _expect(
        lambda: decode_oip(_json({"id": request_id, "inputs": [_input()]})),
        "invalid_parameter",
        "id",
        "1 to 128 printable ASCII characters without spaces",
        "X-Request-Id",
    )


_near_ascii = hs.characters(min_codepoint=0x1F, max_codepoint=0x80)


@settings(max_examples=300, deadline=None)
@given(request_id=hs.one_of(hs.text(max_size=130), hs.text(_near_ascii, max_size=130)))
def test_an_id_is_accepted_exactly_when_a_header_can_carry_it_back(request_id: str) -> None:
    body = _json({"id": request_id, "inputs": [_input()]})
    if _HEADER_SAFE.fullmatch(request_id):
        assert decode_oip(body).request_id == request_id
        assert request_id.encode("latin-1").decode("latin-1") == request_id
        return
    with pytest.raises(RequestError) as caught:
        decode_oip(body)
    assert caught.value.reason in ("invalid_parameter", "malformed")  # malformed: surrogates


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
        ({"id": ""}, "invalid_parameter", "id", ["1 to 128", "(0 characters)"]),
        ({"id": "x" * 129}, "invalid_parameter", "id", ["1 to 128", "(129 characters)"]),
        ({"id": "a\nb"}, "invalid_parameter", "id", ["printable ASCII", "'a\\nb'"]),
        ({"id": "a\x00"}, "invalid_parameter", "id", ["printable ASCII"]),
        ({"id": "a\x7f"}, "invalid_parameter", "id", ["printable ASCII"]),
        ({"id": "a\x85"}, "invalid_parameter", "id", ["printable ASCII"]),
        ({"id": "请求-1"}, "invalid_parameter", "id", ["printable ASCII", "'请求-1'"]),
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
