"""Request decoding: the shared JSON reader, the column limit, MLflow /invocations (JSON and
CSV) and TF Serving predict.

Every bad body must come out as a RequestError with the documented reason, status and field.
The Open Inference Protocol is in test_decode_oip.py, the hypothesis fuzzing (random JSON and
bytes, nothing but RequestError accepted) in test_decode_fuzz.py.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from watchkeeper.datasets import CHURN_FEATURES
from watchkeeper.server._decode import (
    MAX_COLUMNS,
    STYLES,
    Decoded,
    decode_invocations,
    decode_tfserving,
    load_json,
)
from watchkeeper.server._decode_oip import decode_oip
from watchkeeper.server._errors import REASONS, RequestError


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


def sample_rows(churn_frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Twelve churn rows with every feature, the id and the event time; a few missing values."""
    frame = churn_frames["reference"]
    rows = frame[frame["total_charges"].isna() | frame["payment_method"].isna()].head(4)
    rows = pd.concat([rows, frame.head(8)])
    return rows[["customer_id", "event_time", *CHURN_FEATURES]].reset_index(drop=True)


@pytest.fixture(scope="module")
def sample(churn_frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return sample_rows(churn_frames)


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


# -- load_json: the reader for bodies that may be arrays (labels) ------------------------------


@pytest.mark.parametrize(
    ("body", "expect", "doc"),
    [
        (b'[{"id": "r-1", "label": 1}]', list, [{"id": "r-1", "label": 1}]),
        (b'[{"id": "r-1", "label": 1}]', (dict, list), [{"id": "r-1", "label": 1}]),
        (b'{"labels": []}', (dict, list), {"labels": []}),
        (b'{"a": 1}', dict, {"a": 1}),
        (b' ["\\ud83d\\ude00", "\\\\ud800"] ', list, ["\U0001f600", "\\ud800"]),
        (b'"text"', str, "text"),
    ],
)
def test_load_json_returns_the_document_of_the_expected_type(
    body: bytes, expect: type | tuple[type, ...], doc: Any
) -> None:
    assert load_json(body, expect=expect) == doc


@pytest.mark.parametrize("expect", [list, (dict, list)], ids=["list", "dict-or-list"])
@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"[" * 50_000 + b"]" * 50_000, ["cannot be read as JSON"]),
        (b"[{}, " * 50_000 + b"{}" + b"]" * 50_000, ["cannot be read as JSON"]),
        (b'["\\ud800"]', ["surrogate"]),
        (b'[{"id": "r-1", "label": ["ok", "x\\udfff"]}]', ["surrogate"]),
        (b'[{"\\udc00": 1}]', ["surrogate"]),
        (b"[\xff]", ["UTF-8", "offset 1"]),
        (b'["\xc3"]', ["UTF-8"]),
        (b"", ["empty", "JSON array"]),
        (b"[1,", ["not valid JSON"]),
        (b"[" + b"9" * 5000 + b"]", ["cannot be read as JSON"]),
        (b"3", ["JSON array", "got a number"]),
        (b'"labels"', ["JSON array", "got a string"]),
        (b"true", ["got a boolean"]),
        (b"null", ["got null"]),
    ],
    ids=[
        "deep-nesting",
        "deep-nesting-after-items",
        "lone-surrogate",
        "lone-surrogate-nested",
        "lone-surrogate-key",
        "bad-utf8",
        "truncated-utf8",
        "empty",
        "truncated",
        "huge-integer",
        "scalar-number",
        "scalar-string",
        "scalar-boolean",
        "scalar-null",
    ],
)
def test_load_json_rejects_as_malformed(
    body: bytes, expect: type | tuple[type, ...], words: list[str]
) -> None:
    _expect(lambda: load_json(body, expect=expect), "malformed", None, *words)


def test_load_json_names_every_expected_type() -> None:
    _expect(
        lambda: load_json(b"3", expect=(dict, list)),
        "malformed",
        None,
        "a JSON object ({...}) or a JSON array ([...]); got a number",
    )
    _expect(lambda: load_json(b"[]"), "malformed", None, "a JSON object", "got an array")


# -- the column limit ------------------------------------------------------------------------

_WIDE = 3000


def _names(n: int) -> list[str]:
    return [f"c{i}" for i in range(n)]


def _wide_bodies(n: int) -> dict[str, tuple[Callable[[], Decoded], str]]:
    """``n`` columns of one row in every format: the call, and the field a refusal names."""
    names = _names(n)
    row = dict.fromkeys(names, 1)
    columns = {name: [1] for name in names}
    oip = [{"name": name, "shape": [1], "datatype": "INT64", "data": [1]} for name in names]
    split = {"columns": names, "data": [[1] * n]}
    csv = (",".join(names) + "\n" + ",".join(["1"] * n) + "\n").encode()
    return {
        "oip": (lambda: decode_oip(_json({"inputs": oip})), "inputs"),
        "split": (lambda: _mlflow({"dataframe_split": split}), "dataframe_split.columns"),
        "records": (lambda: _mlflow({"dataframe_records": [row]}), "dataframe_records"),
        "instances": (lambda: _mlflow({"instances": [row]}), "instances"),
        "instances-columns": (lambda: _mlflow({"instances": columns}), "instances"),
        "inputs-columns": (lambda: _mlflow({"inputs": columns}), "inputs"),
        "inputs-records": (lambda: _mlflow({"inputs": [row]}), "inputs"),
        "tf-instances": (lambda: decode_tfserving(_json({"instances": [row]})), "instances"),
        "tf-columns": (lambda: decode_tfserving(_json({"inputs": columns})), "inputs"),
        "csv": (lambda: decode_invocations(csv, "text/csv"), "header"),
        "csv-after-blank-lines": (
            lambda: decode_invocations(b"\n  \n\t\n" + csv, "text/csv"),
            "header",
        ),
    }


_FORMATS = list(_wide_bodies(1))


@pytest.mark.parametrize("fmt", _FORMATS)
def test_more_columns_than_the_limit_are_too_large(fmt: str) -> None:
    call, field = _wide_bodies(_WIDE)[fmt]
    _expect(call, "too_large", field, f"{_WIDE} columns", f"at most {MAX_COLUMNS}")


@pytest.mark.parametrize("fmt", _FORMATS)
def test_as_many_columns_as_the_limit_are_read(fmt: str) -> None:
    call, _ = _wide_bodies(MAX_COLUMNS)[fmt]
    decoded = call()
    assert list(decoded.columns) == _names(MAX_COLUMNS)
    assert decoded.n_rows == 1


@pytest.mark.parametrize("key", ["dataframe_records", "instances", "inputs"])
def test_records_stop_gathering_keys_past_the_limit(key: str) -> None:
    rows = [{f"c{i}": 1} for i in range(20_000)]  # one key per row, each new
    message = _expect(lambda: _mlflow({key: rows}), "too_large", key, f"at most {MAX_COLUMNS}")
    count = int(message.split("at least ")[1].split(" ")[0])
    assert MAX_COLUMNS < count < 20_000


def test_a_csv_of_twenty_thousand_columns_is_refused_before_it_is_parsed() -> None:
    body = (",".join(_names(20_000)) + "\n" + ",".join(["1"] * 20_000)).encode()  # 170 KB
    _expect(lambda: decode_invocations(body, "text/csv"), "too_large", "header", "20000 columns")


def test_repeated_names_among_many_columns_are_found() -> None:
    names = [*_names(MAX_COLUMNS - 1), "c5"]
    csv = (",".join(names) + "\n" + ",".join(["1"] * MAX_COLUMNS)).encode()
    _expect(lambda: decode_invocations(csv, "text/csv"), "malformed", "header", "'c5' appears")
    split = {"columns": names, "data": [[1] * MAX_COLUMNS]}
    _expect(
        lambda: _mlflow({"dataframe_split": split}),
        "malformed",
        "dataframe_split.columns",
        "'c5' more than once",
    )


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
