"""The body of ``POST /v1/models/{name}/labels``: :func:`check_labels` after :func:`load_json`.

Every rule has a case that passes and one that fails with the documented reason, status and
field (the item's path, ``"[3].label"``); a hypothesis test feeds random JSON and accepts only
RequestError or items the store can keep.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from watchkeeper.server._decode import load_json
from watchkeeper.server._errors import REASONS, RequestError
from watchkeeper.server._labels import MAX_ID_LENGTH, MAX_LABEL_LENGTH, check_labels

from .test_decode_fuzz import json_values

MAX_ITEMS = 10
OK = {"id": "r-1", "label": 1}


def _check(body: Any, max_items: int = MAX_ITEMS) -> list[dict[str, Any]]:
    return check_labels(body, max_items=max_items)


def _from_bytes(raw: bytes) -> list[dict[str, Any]]:
    return _check(load_json(raw, expect=(dict, list)))


def _rejects(body: Any, reason: str, field: str | None, *words: str, max_items: int = 10) -> str:
    with pytest.raises(RequestError) as caught:
        _check(body, max_items)
    error = caught.value
    assert (error.reason, error.field) == (reason, field), error.message
    assert error.status == REASONS[reason]
    for word in words:
        assert word in error.message, (word, error.message)
    return error.message


# -- what passes, normalized -----------------------------------------------------------------


def test_items_come_back_normalized_in_order() -> None:
    body = [
        {"id": "r-1", "row": 0, "label": 1},
        {"id": 12, "label": "churned"},
        {"label": False, "id": "c-7", "row": None},
    ]
    assert _check(body) == [
        {"id": "r-1", "row": 0, "label": 1},
        {"id": "12", "row": None, "label": "churned"},
        {"id": "c-7", "row": None, "label": False},
    ]


def test_the_labels_wrapper_is_the_same_as_the_array() -> None:
    body = [OK, {"id": 3, "row": 2, "label": 0.5}]
    assert _check({"labels": body}) == _check(body)


@pytest.mark.parametrize(
    ("given_id", "expected"),
    [
        ("r-1", "r-1"),
        ("x" * MAX_ID_LENGTH, "x" * MAX_ID_LENGTH),
        ("请求 1 😀", "请求 1 😀"),  # ids of the id column are any text without controls
        ("12", "12"),
        (12, "12"),  # 12 and "12" are the same id
        (0, "0"),
        (-5, "-5"),
        (2**63 - 1, str(2**63 - 1)),
        (-(2**63), str(-(2**63))),
    ],
)
def test_ids_that_are_accepted(given_id: Any, expected: str) -> None:
    assert _check([{"id": given_id, "label": 1}])[0]["id"] == expected


@pytest.mark.parametrize(("given_row", "expected"), [(0, 0), (7, 7), (2**31 - 1, 2**31 - 1)])
def test_rows_that_are_accepted(given_row: int, expected: int) -> None:
    assert _check([{"id": "r", "row": given_row, "label": 1}])[0]["row"] == expected


@pytest.mark.parametrize(
    "label",
    [
        "yes",
        "",
        "x" * MAX_LABEL_LENGTH,
        "é😀\n\t",
        True,
        False,
        0,
        -3,
        2**53,
        -(2**53),
        1.5,
        -0.0,
        1e308,
    ],
)
def test_labels_that_are_accepted(label: Any) -> None:
    got = _check([{"id": "r", "label": label}])[0]["label"]
    assert (type(got), got) == (type(label), label)


def test_as_many_items_as_the_limit_are_accepted() -> None:
    assert len(_check([OK] * MAX_ITEMS)) == MAX_ITEMS


# -- the body as a whole ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason", "field", "words"),
    [
        (3, "malformed", None, ["array of label items", "a number"]),
        ("r-1", "malformed", None, ["a string"]),
        (None, "malformed", None, ["null"]),
        ({}, "malformed", None, ["an object"]),
        ({"items": [OK]}, "malformed", None, ['{"labels": [...]}', "an object"]),
        ({"labels": 3}, "malformed", "labels", ["'labels' must be an array", "a number"]),
        ({"labels": {"id": "r"}}, "malformed", "labels", ["an object"]),
        ({"labels": [OK], "model": "churn"}, "invalid_parameter", None, ["'model'"]),
        ([], "empty", None, ["no labels"]),
        ({"labels": []}, "empty", None, ["no labels"]),
    ],
)
def test_bodies_that_are_not_a_list_of_items(
    body: Any, reason: str, field: str | None, words: list[str]
) -> None:
    _rejects(body, reason, field, *words)


def test_more_items_than_the_limit_are_too_many_rows() -> None:
    _rejects([OK] * 4, "too_many_rows", None, "4 labels", "at most 3", max_items=3)
    _rejects({"labels": [OK] * 4}, "too_many_rows", None, max_items=3)


def test_the_limit_is_checked_before_the_items() -> None:
    _rejects([None] * 11, "too_many_rows", None)


# -- each item -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "reason", "field", "words"),
    [
        # not an object
        (None, "malformed", "[2]", ["Label [2]", "null"]),
        (["r-1", 1], "malformed", "[2]", ["an array"]),
        ("r-1", "malformed", "[2]", ["a string"]),
        (1, "malformed", "[2]", ["a number"]),
        # keys other than id, row, label
        ({**OK, "rows": 0}, "invalid_parameter", "[2]", ["[2]", "'rows'", "'id'", "'label'"]),
        ({**OK, "": 0}, "invalid_parameter", "[2]", ["''"]),
        # id
        ({"label": 1}, "invalid_parameter", "[2].id", ["missing"]),
        ({"id": None, "label": 1}, "invalid_parameter", "[2].id", ["missing"]),
        ({"id": 12.0, "label": 1}, "invalid_parameter", "[2].id", ["12.0", "strings or integers"]),
        ({"id": 1e3, "label": 1}, "invalid_parameter", "[2].id", ["1000.0"]),
        ({"id": math.inf, "label": 1}, "invalid_parameter", "[2].id", ["inf"]),
        ({"id": True, "label": 1}, "invalid_parameter", "[2].id", ["True", "true/false"]),
        ({"id": 2**63, "label": 1}, "invalid_parameter", "[2].id", [str(2**63), "int64"]),
        ({"id": -(2**63) - 1, "label": 1}, "invalid_parameter", "[2].id", ["int64"]),
        ({"id": "", "label": 1}, "invalid_parameter", "[2].id", ["0 characters", "1 to 256"]),
        ({"id": "x" * 257, "label": 1}, "invalid_parameter", "[2].id", ["257 characters"]),
        ({"id": "a\x00b", "label": 1}, "invalid_parameter", "[2].id", ["'\\x00'", "position 1"]),
        ({"id": "a\nb", "label": 1}, "invalid_parameter", "[2].id", ["control character"]),
        ({"id": "\x7f", "label": 1}, "invalid_parameter", "[2].id", ["control character"]),
        ({"id": "ab\x85", "label": 1}, "invalid_parameter", "[2].id", ["position 2"]),
        ({"id": "a\udc00", "label": 1}, "invalid_parameter", "[2].id", []),
        ({"id": ["r-1"], "label": 1}, "invalid_parameter", "[2].id", ["an array"]),
        ({"id": {"r": 1}, "label": 1}, "invalid_parameter", "[2].id", ["an object"]),
        # row
        ({**OK, "row": -1}, "invalid_parameter", "[2].row", ["-1", "from 0"]),
        ({**OK, "row": 2**31}, "invalid_parameter", "[2].row", [str(2**31), "2**31"]),
        ({**OK, "row": True}, "invalid_parameter", "[2].row", ["a boolean"]),
        ({**OK, "row": 1.0}, "invalid_parameter", "[2].row", ["1.0", "a number"]),
        ({**OK, "row": "0"}, "invalid_parameter", "[2].row", ["a string"]),
        ({**OK, "row": [0]}, "invalid_parameter", "[2].row", ["an array"]),
        # label
        ({"id": "r"}, "invalid_parameter", "[2].label", ["missing"]),
        ({"id": "r", "label": None}, "invalid_parameter", "[2].label", ["null is not a label"]),
        ({"id": "r", "label": [1]}, "invalid_parameter", "[2].label", ["an array"]),
        ({"id": "r", "label": {"y": 1}}, "invalid_parameter", "[2].label", ["an object"]),
        ({"id": "r", "label": "x" * 1001}, "invalid_parameter", "[2].label", ["1001", "1000"]),
        ({"id": "r", "label": "a\x00"}, "invalid_parameter", "[2].label", ["NUL"]),
        ({"id": "r", "label": "\ud800"}, "invalid_parameter", "[2].label", ["Unicode"]),
        ({"id": "r", "label": 2**53 + 1}, "invalid_parameter", "[2].label", ["2**53"]),
        ({"id": "r", "label": -(2**53) - 1}, "invalid_parameter", "[2].label", ["2**53"]),
        ({"id": "r", "label": 10**4000}, "invalid_parameter", "[2].label", ["2**53"]),
        ({"id": "r", "label": math.nan}, "invalid_parameter", "[2].label", ["nan", "finite"]),
        ({"id": "r", "label": math.inf}, "invalid_parameter", "[2].label", ["finite"]),
        ({"id": "r", "label": -math.inf}, "invalid_parameter", "[2].label", ["finite"]),
    ],
)
def test_each_bad_item_names_its_index_and_field(
    item: Any, reason: str, field: str, words: list[str]
) -> None:
    _rejects([OK, {"id": 5, "label": 0}, item, OK], reason, field, *words)
    _rejects({"labels": [OK, OK, item]}, reason, field, *words)


def test_the_first_bad_item_is_reported() -> None:
    body = [OK, OK, OK, {"id": "r", "label": None}, {"id": 1.5, "label": 1}]
    _rejects(body, "invalid_parameter", "[3].label")


# -- from the bytes of a request -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        (b'[{"id": 12.0, "label": 1}]', "[0].id", ["12.0"]),
        (b'[{"id": 1e400, "label": 1}]', "[0].id", ["inf"]),
        (b'[{"id": "r", "label": NaN}]', "[0].label", ["finite"]),
        (b'[{"id": "r", "label": -Infinity}]', "[0].label", ["finite"]),
        (b'[{"id": "r", "label": 1e400}]', "[0].label", ["finite"]),
        (b'[{"id": "r", "label": 1' + b"0" * 4000 + b"}]", "[0].label", ["2**53"]),
        (b'[{"id": "a\\u0000b", "label": 1}]', "[0].id", ["control"]),
        (b'{"labels": [{"id": "r", "label": "\\u0000"}]}', "[0].label", ["NUL"]),
    ],
)
def test_json_values_no_column_can_keep_are_refused(
    raw: bytes, field: str, words: list[str]
) -> None:
    with pytest.raises(RequestError) as caught:
        _from_bytes(raw)
    assert (caught.value.reason, caught.value.field) == ("invalid_parameter", field)
    for word in words:
        assert word in caught.value.message, (word, caught.value.message)


def test_integer_and_text_ids_from_json_are_the_same_id() -> None:
    items = _from_bytes(b'[{"id": 12, "label": 1}, {"id": "12", "row": 3, "label": true}]')
    assert [item["id"] for item in items] == ["12", "12"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "malformed"),
        (b"[" * 50_000 + b"]" * 50_000, "malformed"),
        (b'[{"id": "\\ud800", "label": 1}]', "malformed"),
        (b'[{"id": "r", "label": "\xff"}]', "malformed"),
        (b"7", "malformed"),
        (b"[]", "empty"),
    ],
)
def test_bodies_load_json_refuses(raw: bytes, reason: str) -> None:
    with pytest.raises(RequestError) as caught:
        _from_bytes(raw)
    assert caught.value.reason == reason


# -- fuzzing: nothing but RequestError, or items the store can keep ----------------------------

_ids = hs.one_of(
    hs.text(max_size=6),
    hs.integers(-(2**64), 2**64),
    hs.floats(),
    hs.booleans(),
    hs.none(),
    hs.sampled_from(["", "x" * 257, "a\x00", "\udc00", 12.0]),
)
_labels = hs.one_of(
    hs.text(max_size=6),
    hs.integers(-(2**60), 2**60),
    hs.floats(),
    hs.booleans(),
    hs.none(),
    hs.lists(hs.integers(), max_size=2),
    hs.sampled_from(["x" * 1001, "\x00", 2**53, 2**53 + 1]),
)
_items = hs.fixed_dictionaries(
    {},
    optional={
        "id": _ids,
        "row": hs.one_of(hs.integers(-2, 2**32), hs.none(), hs.booleans(), hs.floats()),
        "label": _labels,
        "extra": hs.integers(),
    },
)
_good_items = hs.fixed_dictionaries(
    {
        "id": hs.one_of(hs.text(min_size=1, max_size=8), hs.integers(-(2**63), 2**63 - 1)),
        "label": hs.one_of(
            hs.text(max_size=6),
            hs.integers(-(2**53), 2**53),
            hs.floats(allow_nan=False, allow_infinity=False),
            hs.booleans(),
        ),
    },
    optional={"row": hs.integers(0, 2**31 - 1)},
)
_mixed = hs.one_of(_good_items, _good_items, _good_items, _items, json_values)
_bodies = hs.one_of(
    hs.lists(_good_items, min_size=1, max_size=5),
    hs.lists(_mixed, max_size=5),
    hs.lists(_mixed, max_size=5).map(lambda items: {"labels": items}),
    json_values,
)


def _storable(item: dict[str, Any]) -> bool:
    ident, row, label = item["id"], item["row"], item["label"]
    json.dumps(item, allow_nan=False).encode("utf-8")  # round-trips through a JSON column
    return (
        list(item) == ["id", "row", "label"]
        and type(ident) is str
        and 1 <= len(ident) <= MAX_ID_LENGTH
        and not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in ident)
        and (row is None or (type(row) is int and 0 <= row < 2**31))
        and type(label) in (str, bool, int, float)
        and json.loads(json.dumps(label)) == label
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_bodies, through_json=hs.booleans())
def test_fuzz_check_labels(body: Any, through_json: bool) -> None:
    try:
        # json.dumps writes ASCII: surrogates go through as \u escapes
        items = _from_bytes(json.dumps(body).encode()) if through_json else _check(body)
    except RequestError as error:  # the only exception allowed; its reason is a known one
        if error.reason not in REASONS or not error.message:
            pytest.fail(f"bad RequestError: {error.reason!r}, {error.message!r}")
        return
    assert 1 <= len(items) <= MAX_ITEMS
    assert all(_storable(item) for item in items)
