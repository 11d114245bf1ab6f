"""The id column of a request: :func:`validate_id_values` turns it into prediction keys.

Keys are strings of 1 to 256 characters without control characters, integers within int64
(as their decimal text) or null; anything else is a RequestError naming the column and row,
before the store could fail on it (PostgreSQL refuses NUL and keys over 256 characters).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from watchkeeper.server._decode import decode_invocations
from watchkeeper.server._decode_oip import decode_oip
from watchkeeper.server._errors import REASONS, RequestError
from watchkeeper.server._validate import validate_id_values

from .test_decode_fuzz import _scalars

COLUMN = "customer_id"


def _array(values: list[Any]) -> np.ndarray:
    return np.fromiter(values, dtype=object, count=len(values))


@pytest.mark.parametrize(
    ("values", "keys"),
    [
        (["c-1", "c-2"], ["c-1", "c-2"]),
        ([1, 2, -3], ["1", "2", "-3"]),
        (["c-1", 12, None], ["c-1", "12", None]),
        ([None, None], [None, None]),
        ([12, "12"], ["12", "12"]),  # the same key
        ([2**63 - 1, -(2**63)], [str(2**63 - 1), str(-(2**63))]),
        (["x" * 256], ["x" * 256]),
        (["请求 1", "😀", "a b", "\u2028"], ["请求 1", "😀", "a b", "\u2028"]),
        ([None, "c-1", 5], [None, "c-1", "5"]),
        ([], []),
    ],
)
def test_values_that_are_keys(values: list[Any], keys: list[str | None]) -> None:
    got = validate_id_values(_array(values), COLUMN)
    assert got == keys
    assert all(key is None or type(key) is str for key in got)


@pytest.mark.parametrize(
    ("values", "row", "words"),
    [
        ([12.0], 0, ["12.0", "strings or integers"]),
        (["c-1", 1.5], 1, ["1.5"]),
        ([1, math.nan], 1, ["nan"]),
        ([True], 0, ["True", "true/false"]),
        (["a", False], 1, ["False"]),
        ([{"a": 1}], 0, ["an object"]),
        ([None, [1]], 1, ["an array"]),
        (["x" * 257], 0, ["257 characters", "1 to 256"]),
        (["ok", ""], 1, ["0 characters"]),
        (["a\x00b"], 0, ["'\\x00'", "position 1"]),
        (["a", "b", "c\nd"], 2, ["control character"]),
        (["\x9f"], 0, ["control character"]),
        (["a\udc00"], 0, []),
        ([2**63], 0, ["int64"]),
        ([1, -(2**63) - 1], 1, ["int64"]),
        ([1, "a", 2**64], 2, ["int64"]),
    ],
)
def test_values_that_are_not_keys(values: list[Any], row: int, words: list[str]) -> None:
    with pytest.raises(RequestError) as caught:
        validate_id_values(_array(values), COLUMN)
    error = caught.value
    assert (error.reason, error.field, error.status) == (
        "invalid_parameter",
        COLUMN,
        REASONS["invalid_parameter"],
    )
    for word in [f"'{COLUMN}'", f"row {row} is", *words]:
        assert word in error.message, (word, error.message)


def test_the_first_bad_row_of_a_big_column_is_named() -> None:
    values: list[Any] = [f"c-{i}" for i in range(10_000)]
    values[7_321] = "c\x00"
    values[9_000] = 1.0
    with pytest.raises(RequestError, match="row 7321 is"):
        validate_id_values(_array(values), COLUMN)


def test_keys_from_each_format() -> None:
    rows = [{COLUMN: "c-1"}, {COLUMN: 12}, {COLUMN: None}]
    body = json.dumps({"dataframe_records": rows}).encode()
    records = decode_invocations(body, None).columns[COLUMN]
    assert validate_id_values(records, COLUMN) == ["c-1", "12", None]
    csv = decode_invocations(f"{COLUMN},x\nc-1,1\n12,2\n,3\n".encode(), "text/csv")
    assert validate_id_values(csv.columns[COLUMN], COLUMN) == ["c-1", "12", None]
    oip = {"inputs": [{"name": COLUMN, "shape": [2], "datatype": "INT64", "data": [7, None]}]}
    column = decode_oip(json.dumps(oip).encode()).columns[COLUMN]
    assert validate_id_values(column, COLUMN) == ["7", None]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=hs.lists(hs.one_of(_scalars, hs.integers(-(2**64), 2**64)), max_size=6))
def test_fuzz_keys_or_a_request_error(values: list[Any]) -> None:
    try:
        keys = validate_id_values(_array(values), COLUMN)
    except RequestError as error:
        if (error.reason, error.field) != ("invalid_parameter", COLUMN):
            pytest.fail(f"bad RequestError: {error.reason!r}, {error.field!r}")
        return
    assert len(keys) == len(values)
    for key, value in zip(keys, values, strict=True):
        if value is None:
            assert key is None
            continue
        assert type(key) is str
        assert 1 <= len(key) <= 256
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in key)
        key.encode("utf-8")
        assert key == (value if type(value) is str else str(value))
