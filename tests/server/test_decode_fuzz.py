"""Fuzzing the decoders: random JSON documents and bytes, nothing but RequestError comes out.

The strategies (``json_values``, ``table_docs``...) are shared with test_validate.py and
test_labels_input.py.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from watchkeeper.server._decode import STYLES, Decoded, decode_invocations, decode_tfserving
from watchkeeper.server._decode_oip import decode_oip
from watchkeeper.server._errors import REASONS, RequestError

from .test_decode import DECODERS, _json, _mlflow

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


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
    values: list[Any] = draw(hs.lists(cell, min_size=n, max_size=n))
    return values


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
        _only_request_errors(partial(decoder, body))
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
