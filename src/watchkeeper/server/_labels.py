"""The body of ``POST /v1/models/{name}/labels``, and the rule every prediction id follows.

A labels body (read by :func:`~watchkeeper.server._decode.load_json`) is a non-empty array of
items ``{"id": ..., "row": optional, "label": ...}``, or ``{"labels": [...]}``.
:func:`check_labels` checks every item and returns them normalized, so that the store only
ever sees values it can keep and give back unchanged:

- ``id``: a request id or a value of the model's id column. A string of 1 to
  :data:`MAX_ID_LENGTH` characters without control characters, or an integer within int64,
  turned into its decimal text (``12`` and ``"12"`` are the same id). A JSON float such as
  ``12.0`` is not an id.
- ``row``: optional, the row of the request (an integer in ``[0, 2**31)``).
- ``label``: a JSON scalar the label column can hold: a string of at most
  :data:`MAX_LABEL_LENGTH` characters without NUL, true or false, an integer within
  ``±2**53`` (the integers a JSON number carries exactly) or a finite float.

Errors are :class:`~watchkeeper.server._errors.RequestError`: ``malformed`` when the body or
an item is not shaped as above, ``too_many_rows`` past the limit, else ``invalid_parameter``;
``field`` is the item's path, e.g. ``"[3].label"``. :func:`id_text` and :func:`id_problem` are
the id rule on its own, for the values of a request's id column
(:func:`~watchkeeper.server._validate.validate_id_values`).
"""

from __future__ import annotations

import math
import re
from typing import Any, NoReturn

from watchkeeper.server._decode import json_type, show
from watchkeeper.server._errors import RequestError

__all__ = [
    "BAD_ID_CHARS",
    "ID_RULE",
    "MAX_ID_LENGTH",
    "MAX_LABEL_LENGTH",
    "check_labels",
    "id_problem",
    "id_text",
]

#: The longest id (request id or id-column value), in characters.
MAX_ID_LENGTH = 256
#: The longest text label, in characters.
MAX_LABEL_LENGTH = 1000
#: What an id may be, for messages.
ID_RULE = (
    f"an id is a string of 1 to {MAX_ID_LENGTH} characters without control characters, or an "
    "integer within int64 (12 and '12' are the same id)"
)

_ITEM_KEYS = ("id", "row", "label")
_INT64_MIN, _INT64_END = -(2**63), 2**63
_ROW_END = 2**31
_LABEL_INT_LIMIT = 2**53
#: Control characters (C0, DEL, C1) and unpaired surrogates (no UTF-8 text can carry them).
BAD_ID_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_LABEL_CHARS = re.compile("[\x00\ud800-\udfff]")
_SHAPE = '[{"id": ..., "row": optional, "label": ...}, ...]'


def _fail(reason: str, message: str, field: str | None) -> NoReturn:
    raise RequestError(reason, message, field=field)


def id_text(value: Any) -> str | None:
    """The id as text (integers in decimal), or None if ``value`` is not a valid id."""
    if isinstance(value, str):
        if 0 < len(value) <= MAX_ID_LENGTH and not BAD_ID_CHARS.search(value):
            return value
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(int(value)) if _INT64_MIN <= value < _INT64_END else None
    return None


def id_problem(value: Any) -> str:
    """Why ``value`` is not a valid id, to start a message (for a value :func:`id_text` refused)."""
    if value is None:
        return "the id is missing (null)"
    if isinstance(value, str):
        if not 0 < len(value) <= MAX_ID_LENGTH:
            return f"a string of {len(value)} characters"
        found = BAD_ID_CHARS.search(value)
        where = found.start() if found else 0
        what = "an unpaired surrogate" if value[where] >= "\ud800" else "the control character"
        return f"a string with {what} {value[where]!r} at position {where}"
    if isinstance(value, bool):
        return "true/false is not an id"
    if isinstance(value, int):
        return "an integer outside int64"
    if isinstance(value, float):
        return "a number with a decimal point or exponent (ids are strings or integers)"
    return f"{json_type(value)} is not an id"


def _items(body: Any) -> list[Any]:
    """The array of items: the body itself, or its ``labels`` member."""
    if isinstance(body, dict) and "labels" in body:
        extra = next((key for key in body if key != "labels"), None)
        if extra is not None:
            _fail(
                "invalid_parameter",
                f"The body has the key {show(extra)} besides 'labels'; send {{\"labels\": "
                f"{_SHAPE}}} or the array alone.",
                None,
            )
        body = body["labels"]
        if not isinstance(body, list):
            _fail(
                "malformed",
                f"'labels' must be an array of label items {_SHAPE}; got {json_type(body)}.",
                "labels",
            )
    if not isinstance(body, list):
        _fail(
            "malformed",
            f'The body must be an array of label items {_SHAPE} (or {{"labels": [...]}}); got '
            f"{json_type(body)}.",
            None,
        )
    return body


def _check_id(index: int, item: dict[Any, Any]) -> str:
    value = item.get("id")
    text = id_text(value)
    if text is None:
        where = f"[{index}].id"
        given = "" if value is None else f"{show(value)} is "
        _fail(
            "invalid_parameter",
            f"Label {where}: {given}{id_problem(value)}; {ID_RULE}. It names a request "
            "(its id, with 'row' for one of its rows) or a value of the model's id column.",
            where,
        )
    return text


def _check_row(index: int, item: dict[Any, Any]) -> int | None:
    row = item.get("row")
    if row is None:
        return None
    if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < _ROW_END:
        _fail(
            "invalid_parameter",
            f"Label [{index}].row: {show(row)} ({json_type(row)}) is not a row number; 'row' is "
            f"optional, an integer from 0 (the request's first row) below 2**31.",
            f"[{index}].row",
        )
    return int(row)


def _label_problem(label: Any) -> str | None:
    """Why ``label`` cannot be stored, or None if it can."""
    if isinstance(label, bool):
        return None
    if isinstance(label, int):
        if -_LABEL_INT_LIMIT <= label <= _LABEL_INT_LIMIT:
            return None
        return "an integer beyond ±2**53, which the label column cannot give back exactly"
    if isinstance(label, float):
        return None if math.isfinite(label) else "not a finite number"
    if isinstance(label, str):
        if len(label) > MAX_LABEL_LENGTH:
            return f"a string of {len(label)} characters, over {MAX_LABEL_LENGTH}"
        found = _BAD_LABEL_CHARS.search(label)
        if found:
            return "a string holding NUL" if found.group() == "\x00" else "not valid Unicode"
        return None
    if label is None:
        return "null is not a label"
    return f"{json_type(label)} is not a label"


def _check_label(index: int, item: dict[Any, Any]) -> Any:
    where = f"[{index}].label"
    if "label" not in item:
        _fail("invalid_parameter", f"Label {where} is missing; every item needs one.", where)
    label = item["label"]
    problem = _label_problem(label)
    if problem is not None:
        _fail(
            "invalid_parameter",
            f"Label {where}: {show(label)} is {problem}; a label is a string (at most "
            f"{MAX_LABEL_LENGTH} characters, no NUL), true/false, an integer within ±2**53 or "
            "a finite number.",
            where,
        )
    return label


def _check_item(index: int, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        _fail(
            "malformed",
            f'Label [{index}] must be an object {{"id": ..., "row": optional, "label": '
            f"...}}; got {json_type(item)}.",
            f"[{index}]",
        )
    extra = next((key for key in item if key not in _ITEM_KEYS), None)
    if extra is not None:
        _fail(
            "invalid_parameter",
            f"Label [{index}] has the key {show(extra)}; an item has only 'id', 'row' "
            "(optional) and 'label'.",
            f"[{index}]",
        )
    return {
        "id": _check_id(index, item),
        "row": _check_row(index, item),
        "label": _check_label(index, item),
    }


def check_labels(items: Any, *, max_items: int) -> list[dict[str, Any]]:
    """Check the body of a labels request and return its items normalized.

    Parameters
    ----------
    items
        The parsed JSON body: an array of items, or ``{"labels": [...]}``.
    max_items
        The most items one request may carry (``serve.max_rows``).

    Returns
    -------
    list of dict
        One ``{"id": str, "row": int | None, "label": scalar}`` per item, in order: integer
        ids as decimal text, ``row`` None when not given (or null).

    Raises
    ------
    RequestError
        ``malformed`` for a body that is not an array (nor ``{"labels": [...]}``) or an item
        that is not an object (field ``"[i]"``); ``empty`` for no items; ``too_many_rows`` for
        more than ``max_items``; ``invalid_parameter`` for an unknown key (field ``"[i]"``)
        or a bad ``id``, ``row`` or ``label`` (field ``"[i].id"``...).

    Examples
    --------
    >>> check_labels([{"id": 12, "label": 1}, {"id": "r-1", "row": 0, "label": "yes"}],
    ...              max_items=100)
    [{'id': '12', 'row': None, 'label': 1}, {'id': 'r-1', 'row': 0, 'label': 'yes'}]
    """
    array = _items(items)
    if not array:
        _fail("empty", f"The body has no labels; send at least one item {_SHAPE}.", None)
    if len(array) > max_items:
        _fail(
            "too_many_rows",
            f"The body has {len(array)} labels; at most {max_items} are accepted in one request "
            "(serve.max_rows). Send them in smaller requests.",
            None,
        )
    return [_check_item(index, item) for index, item in enumerate(array)]
