"""Request bodies to columns: the Open Inference Protocol, MLflow scoring and TF Serving formats.

Each decoder reads one body and returns a :class:`Decoded`: one 1-D object array per column
(the values as sent, ``None`` for null), the number of rows, the request id and parameters, and
the *style* the answer must be shaped in. Decoders check the shape of the request only (one
value per row in every column, the OIP datatypes); whether the values fit the model is the
job of :func:`watchkeeper.server._validate.validate_columns`.

Every way a body can be wrong raises :class:`~watchkeeper.server._errors.RequestError` and
nothing else, so that a bad request is always a 4xx. ``field`` names the column (an OIP input
or a column of the request) when the fault is in one, else the JSON path (``"inputs[2]"``,
``"dataframe_split.data"``, ``"id"``...). No request may carry more than :data:`MAX_COLUMNS`
columns, checked before any per-column work. :func:`load_json` is the shared JSON reader, for
routes whose body may also be an array (labels).
"""

from __future__ import annotations

import csv
import io
import json
import re
import reprlib
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from watchkeeper.server._errors import RequestError

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pandas as pd

__all__ = [
    "MAX_COLUMNS",
    "STYLES",
    "Decoded",
    "decode_invocations",
    "decode_tfserving",
    "load_json",
]

#: Every answer style a :class:`Decoded` may carry.
STYLES: tuple[str, ...] = (
    "oip",
    "split",
    "records",
    "instances",
    "inputs",
    "csv",
    "tf_instances",
    "tf_columns",
)

#: The most columns (OIP inputs, keys of the rows, CSV header fields) one request may carry.
MAX_COLUMNS = 2048

_MAX_ID_LENGTH = 128
# Printable ASCII without spaces: the rule of the X-Request-Id header the id is sent back in.
_REQUEST_ID = re.compile(rf"[\x21-\x7e]{{1,{_MAX_ID_LENGTH}}}")
# A \uD800-\uDFFF escape: JSON may spell a lone surrogate, which no UTF-8 answer can carry.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_JSON_TYPES = ("application/json",)
_CSV_TYPES = ("text/csv",)
_NONE = type(None)
_NUMBER_TYPES = frozenset({int, float})
_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 40
_repr.maxlist = _repr.maxdict = 4
_repr.maxlevel = 2
_RECORDS_CHUNK = 64  # rows whose keys are gathered between two checks of the column count
_EXPECTED_JSON: dict[type[Any], str] = {dict: "a JSON object ({...})", list: "a JSON array ([...])"}


@dataclass(frozen=True)
class Decoded:
    """A decoded request: its columns as sent, and how the answer must be shaped.

    Attributes
    ----------
    columns
        One 1-D object array per column (or OIP input), all ``n_rows`` long, holding the
        values as sent (``None`` for null). Arrays are shared, not copied: do not modify.
    n_rows
        The number of rows (at least 1).
    request_id
        The OIP ``id``, or None.
    parameters
        The OIP request ``parameters`` or the MLflow ``params``; ``{}`` if none.
    style
        One of :data:`STYLES`: the format the request came in, which the answer follows.
    text
        True when the values came from text (CSV): validation may then parse strings.
    """

    columns: dict[str, np.ndarray]
    n_rows: int
    request_id: str | None
    parameters: dict[str, Any]
    style: str
    text: bool = False


def _fail(reason: str, message: str, field: str | None = None) -> NoReturn:
    raise RequestError(reason, message, field=field)


def show(value: Any) -> str:
    """``repr(value)`` shortened to at most 40 characters (cheap even for huge values)."""
    text = _repr.repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def json_type(value: Any) -> str:
    """The JSON type of a decoded value, for messages: ``a string``, ``null``, ``an array``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _object_array(values: Iterable[Any], n: int) -> np.ndarray:
    # fromiter keeps lists and dicts as elements (np.array would build a 2-D array from them).
    return np.fromiter(values, dtype=object, count=n)


def load_json(body: bytes, *, expect: type[Any] | tuple[type[Any], ...] = dict) -> Any:
    """Parse a UTF-8 JSON body whose top level must be of type ``expect``.

    Parameters
    ----------
    body
        The request body.
    expect
        The Python type (or tuple of types) the top-level value must be an instance of:
        ``dict`` for an object, ``list`` for an array, ``(dict, list)`` for either.

    Returns
    -------
    Any
        The parsed document.

    Raises
    ------
    RequestError
        ``malformed`` for a body that is not UTF-8, is empty, is not JSON, nests too deeply,
        holds an integer too long to read or an unpaired surrogate escape (``"\\ud800"``), or
        whose top level is not of ``expect``.

    Examples
    --------
    >>> load_json(b'[{"id": "r-1", "label": 1}]', expect=(dict, list))
    [{'id': 'r-1', 'label': 1}]
    """
    kinds = expect if isinstance(expect, tuple) else (expect,)
    wanted = " or ".join(_EXPECTED_JSON.get(kind, f"a JSON {kind.__name__}") for kind in kinds)
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(
            "malformed", f"The body is not valid UTF-8 (bad byte at offset {exc.start})."
        ) from exc
    if not text.strip():
        _fail("malformed", f"The body is empty; expected {wanted}.")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RequestError(
            "malformed",
            f"The body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
        ) from exc
    except (ValueError, RecursionError) as exc:  # an integer with too many digits, deep nesting
        raise RequestError("malformed", f"The body cannot be read as JSON: {exc}.") from exc
    if not isinstance(doc, kinds):
        _fail("malformed", f"The body must be {wanted}; got {json_type(doc)}.")
    if _SURROGATE_ESCAPE.search(text):  # rare: look for an unpaired one
        _reject_lone_surrogates(doc)
    return doc


def _load_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object (see :func:`load_json`)."""
    doc: dict[str, Any] = load_json(body, expect=dict)
    return doc


def _reject_lone_surrogates(doc: Any) -> None:
    pending: list[Any] = [doc]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                _fail(
                    "malformed",
                    f"The string {show(item)} holds an unpaired surrogate escape (\\uD800 to "
                    "\\uDFFF); strings must be valid Unicode.",
                )


def _parameters(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail(
            "invalid_parameter",
            f"'{where}' must be an object of name: value pairs; got {json_type(value)}.",
            where,
        )
    return value


def _request_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        _fail("invalid_parameter", f"'id' must be a string; got {json_type(value)}.", "id")
    if not _REQUEST_ID.fullmatch(value):
        _fail(
            "invalid_parameter",
            f"'id' must be 1 to {_MAX_ID_LENGTH} printable ASCII characters without spaces "
            "(letters, digits and punctuation such as - _ . :), as the X-Request-Id header it is "
            f"sent back in; got {show(value)} ({len(value)} characters).",
            "id",
        )
    return value


def _check_columns(n: int, what: str, field: str | None) -> None:
    """``too_large`` if ``n`` columns are over :data:`MAX_COLUMNS`: call before per-column work.

    ``what`` starts the message and says where they were counted (``"'inputs' has"``).
    """
    if n > MAX_COLUMNS:
        _fail(
            "too_large",
            f"{what} {n} columns; at most {MAX_COLUMNS} are accepted in one request. Send only "
            "the model's inputs (and the id and event_time columns).",
            field,
        )


def _check_rows(n_rows: int) -> None:
    if n_rows == 0:
        _fail("empty", "The request has no rows; send at least one.")


def _from_columns(mapping: dict[str, Any], where: str) -> tuple[dict[str, np.ndarray], int]:
    """``{column: [values]}`` to columns, every column the same length."""
    if not mapping:
        _fail("empty", f"'{where}' has no columns (and so no rows); send at least one row.", where)
    _check_columns(len(mapping), f"'{where}' has", where)
    columns: dict[str, np.ndarray] = {}
    first, n_rows = "", -1
    for name, values in mapping.items():
        if not isinstance(values, list):
            _fail(
                "malformed",
                f"'{where}': column {name!r} must be an array with one value per row; "
                f"got {json_type(values)}.",
                name,
            )
        if n_rows < 0:
            first, n_rows = name, len(values)
        elif len(values) != n_rows:
            _fail(
                "shape_mismatch",
                f"'{where}': column {name!r} has {len(values)} values but column {first!r} has "
                f"{n_rows}; every column needs one value per row.",
                name,
            )
        columns[name] = _object_array(values, len(values))
    _check_rows(n_rows)
    return columns, n_rows


def _from_records(rows: Any, where: str) -> tuple[dict[str, np.ndarray], int]:
    """``[{column: value}, ...]`` to columns; a key missing from a row is a null there."""
    if not isinstance(rows, list):
        _fail(
            "malformed",
            f"'{where}' must be an array of row objects ([{{column: value}}, ...]); got "
            f"{json_type(rows)}.",
            where,
        )
    n_rows = len(rows)
    _check_rows(n_rows)
    if set(map(type, rows)) != {dict}:
        i = next(i for i, row in enumerate(rows) if not isinstance(row, dict))
        _fail(
            "malformed",
            f"'{where}' must be an array of objects, one {{column: value}} per row; row {i} is "
            f"{json_type(rows[i])}.",
            f"{where}[{i}]",
        )
    names = _record_keys(rows, where)
    k = len(names)
    if k == 0:
        return {}, n_rows
    if set(map(len, rows)) == {k}:  # every row has every key: one C-level pass per row
        if k == 1:
            return {names[0]: _object_array(map(itemgetter(names[0]), rows), n_rows)}, n_rows
        table = list(map(itemgetter(*names), rows))
        return {
            name: _object_array(column, n_rows)
            for name, column in zip(names, zip(*table, strict=True), strict=True)
        }, n_rows
    return {name: _object_array((row.get(name) for row in rows), n_rows) for name in names}, n_rows


def _record_keys(rows: list[dict[str, Any]], where: str) -> list[str]:
    """The distinct keys of the rows, in first-seen order; ``too_large`` past the cap."""
    widest = max(map(len, rows))
    _check_columns(widest, f"'{where}': a row has", where)
    seen: dict[str, None] = {}
    for start in range(0, len(rows), _RECORDS_CHUNK):
        seen.update(dict.fromkeys(chain.from_iterable(rows[start : start + _RECORDS_CHUNK])))
        if len(seen) > MAX_COLUMNS:  # stop gathering: at most a chunk's keys past the cap
            _check_columns(len(seen), f"'{where}': the rows have at least", where)
    return list(seen)


def _rows_or_columns(value: Any, where: str) -> tuple[dict[str, np.ndarray], int]:
    if isinstance(value, list):
        return _from_records(value, where)
    if isinstance(value, dict):
        return _from_columns(value, where)
    _fail(
        "malformed",
        f"'{where}' must be an array of row objects ([{{column: value}}, ...]) or an object "
        f"of column arrays ({{column: [values]}}); got {json_type(value)}.",
        where,
    )


def _from_split(split: Any) -> tuple[dict[str, np.ndarray], int]:
    if not isinstance(split, dict):
        _fail(
            "malformed",
            '\'dataframe_split\' must be an object {"columns": [...], "data": [[...], ...]}; '
            f"got {json_type(split)}.",
            "dataframe_split",
        )
    names = split.get("columns")
    if not isinstance(names, list) or not names or set(map(type, names)) != {str}:
        _fail(
            "malformed",
            "'dataframe_split.columns' must be a non-empty array of column names (strings); "
            f"got {show(names) if isinstance(names, list) else json_type(names)}.",
            "dataframe_split.columns",
        )
    _check_columns(len(names), "'dataframe_split.columns' has", "dataframe_split.columns")
    if len(set(names)) != len(names):
        repeated = _first_repeated(names)
        _fail(
            "malformed",
            f"'dataframe_split.columns' names column {repeated!r} more than once.",
            "dataframe_split.columns",
        )
    data = split.get("data")
    if not isinstance(data, list):
        _fail(
            "malformed",
            "'dataframe_split.data' must be an array of rows, each an array of values; got "
            f"{json_type(data)}.",
            "dataframe_split.data",
        )
    n_rows, k = len(data), len(names)
    _check_rows(n_rows)
    if set(map(type, data)) != {list}:
        i = next(i for i, row in enumerate(data) if not isinstance(row, list))
        _fail(
            "malformed",
            f"'dataframe_split.data' must hold one array per row; row {i} is {json_type(data[i])}.",
            "dataframe_split.data",
        )
    if set(map(len, data)) != {k}:
        i = next(i for i, row in enumerate(data) if len(row) != k)
        _fail(
            "shape_mismatch",
            f"'dataframe_split.data': row {i} has {len(data[i])} values but there are {k} "
            "columns; every row needs one value per column.",
            "dataframe_split.data",
        )
    columns = zip(*data, strict=True)
    return {
        name: _object_array(column, n_rows) for name, column in zip(names, columns, strict=True)
    }, n_rows


def _first_repeated(names: Iterable[Any]) -> Any:
    """The first name seen twice (one pass, a set), or None."""
    seen: set[Any] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def _csv_header_width(text: str) -> int:
    """The number of fields of the CSV row pandas will read as the header (0 if unknown).

    Counted with :mod:`csv` on that one line, so that a body of many thousands of columns is
    refused before pandas builds a column for each. pandas skips the lines that hold only
    whitespace: the header is the first line with something else on it.
    """
    stripped = text.lstrip()
    if not stripped:
        return 0
    first = len(text) - len(stripped)
    start = max(text.rfind("\n", 0, first), text.rfind("\r", 0, first)) + 1
    try:
        return len(next(csv.reader(io.StringIO(text[start:])), []))
    except csv.Error:  # a field over csv's size limit: leave it to pandas, count after
        return 0


def _strings(series: pd.Series[Any]) -> np.ndarray:
    """A column of strings as an object array, None where missing."""
    values = series.to_numpy(dtype=object)
    values[series.isna().to_numpy()] = None
    return values


def _decode_csv(body: bytes) -> Decoded:
    import pandas as pd

    try:
        text = bytes(body).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RequestError(
            "malformed", f"The CSV body is not valid UTF-8 (bad byte at offset {exc.start})."
        ) from exc
    if not text.strip():
        _fail("empty", "The CSV body is empty; send a header row and at least one row.")
    _check_columns(_csv_header_width(text), "The CSV header has", "header")
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            header=None,  # the header is read as a row, to see duplicate and empty names
            dtype=str,
            keep_default_na=False,
            na_values=[""],
        )
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise RequestError("malformed", f"The CSV body cannot be parsed: {exc}".strip()) from exc
    _check_columns(len(frame.columns), "The CSV header has", "header")
    cells = [_strings(frame[c]) for c in frame.columns]
    header = [column[0] for column in cells]
    if None in header:
        _fail(
            "malformed",
            f"CSV header: column {header.index(None)} has no name (was the file written with "
            "its index? write it with index=False).",
            "header",
        )
    if len(set(header)) != len(header):
        repeated = _first_repeated(header)
        _fail("malformed", f"CSV header: column {repeated!r} appears more than once.", "header")
    n_rows = len(frame) - 1
    _check_rows(n_rows)
    return Decoded(
        columns={name: column[1:] for name, column in zip(header, cells, strict=True)},
        n_rows=n_rows,
        request_id=None,
        parameters={},
        style="csv",
        text=True,
    )


def _media_type(content_type: str | None) -> str:
    if content_type is None:
        return "application/json"
    return content_type.split(";", 1)[0].strip().lower() or "application/json"


def decode_invocations(body: bytes, content_type: str | None) -> Decoded:
    """Decode an MLflow scoring request (``POST /invocations``).

    Parameters
    ----------
    body
        The request body.
    content_type
        The ``Content-Type`` header: ``application/json`` (the default when absent) or
        ``text/csv``; parameters such as ``charset`` are ignored (bodies are UTF-8).

    Returns
    -------
    Decoded
        Style ``split``, ``records``, ``instances``, ``inputs`` (JSON, after the key used) or
        ``csv`` (every value a string or None, ``text=True``).

    Raises
    ------
    RequestError
        ``unsupported_media_type`` for another content type; ``malformed`` for a body that is
        not JSON (or CSV) or not shaped as its format needs; ``unsupported_format`` unless
        exactly one of ``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs`` is
        given; ``invalid_parameter`` for ``params`` that is not an object; ``shape_mismatch``
        for columns or rows of different lengths; ``empty`` for no rows; ``too_large`` for
        more than :data:`MAX_COLUMNS` columns.

    Examples
    --------
    >>> body = b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1, "x"], [2, null]]}}'
    >>> decoded = decode_invocations(body, "application/json")
    >>> decoded.style, decoded.n_rows, decoded.columns["b"].tolist()
    ('split', 2, ['x', None])
    """
    media = _media_type(content_type)
    if media in _CSV_TYPES:
        return _decode_csv(body)
    if media not in _JSON_TYPES:
        _fail(
            "unsupported_media_type",
            f"Content type {content_type!r} is not read here; send application/json or text/csv.",
            "Content-Type",
        )
    doc = _load_json(body)
    keys = [key for key in _MLFLOW_KEYS if key in doc]
    if len(keys) != 1:
        given = ", ".join(map(repr, list(doc)[:10])) or "none"
        _fail(
            "unsupported_format",
            "The body must have exactly one of the keys "
            f"{', '.join(map(repr, _MLFLOW_KEYS))} (MLflow scoring format); its keys are "
            f"{given}.",
        )
    parameters = _parameters(doc.get("params"), "params")
    key = keys[0]
    if key == "dataframe_split":
        columns, n_rows = _from_split(doc[key])
    elif key == "dataframe_records":
        columns, n_rows = _from_records(doc[key], key)
    else:
        columns, n_rows = _rows_or_columns(doc[key], key)
    style = {"dataframe_split": "split", "dataframe_records": "records"}.get(key, key)
    return Decoded(columns, n_rows, None, parameters, style)


def decode_tfserving(body: bytes) -> Decoded:
    """Decode a TF Serving REST predict request (``{"instances": ...}`` or ``{"inputs": ...}``).

    ``instances`` is the row format (an array of ``{column: value}`` objects, style
    ``tf_instances``); ``inputs`` the columnar one (``{column: [values]}``, or an array of row
    objects; style ``tf_columns``). ``signature_name`` is ignored.

    Raises
    ------
    RequestError
        ``malformed``, ``unsupported_format`` (neither or both keys), ``shape_mismatch``,
        ``empty``, ``too_large`` (more than :data:`MAX_COLUMNS` columns).

    Examples
    --------
    >>> decoded = decode_tfserving(b'{"inputs": {"a": [1, 2], "b": ["x", "y"]}}')
    >>> decoded.style, decoded.n_rows, decoded.columns["a"].tolist()
    ('tf_columns', 2, [1, 2])
    """
    doc = _load_json(body)
    if ("instances" in doc) == ("inputs" in doc):
        _fail(
            "unsupported_format",
            "The body must have exactly one of the keys 'instances' (rows) and 'inputs' "
            "(columns) (TF Serving predict format).",
        )
    if "instances" in doc:
        columns, n_rows = _from_records(doc["instances"], "instances")
        return Decoded(columns, n_rows, None, {}, "tf_instances")
    columns, n_rows = _rows_or_columns(doc["inputs"], "inputs")
    return Decoded(columns, n_rows, None, {}, "tf_columns")
