"""Decoded columns to the typed arrays a model takes, checked against its served schema.

:func:`validate_columns` checks the request as a whole (row count, missing and extra columns),
then each input by the family of its reference dtype: whole numbers, floats, booleans,
strings, datetimes. The first value that does not fit raises a
:class:`~watchkeeper.server._errors.RequestError` naming the column, its kind and dtype, the
row, the value and what was expected.

:func:`validate_id_values` turns the request's id column into prediction keys (text), by the
id rule of :mod:`watchkeeper.server._labels`.

Each column costs a few C-level passes (``set(map(type, ...))``, ``astype``, ``isfinite``);
Python loops run only to find the offending row of a request that is being rejected, and
for the text (CSV) parse of booleans.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, Literal, NoReturn

import numpy as np

from watchkeeper.server._decode import json_type, show
from watchkeeper.server._errors import RequestError
from watchkeeper.server._labels import BAD_ID_CHARS, ID_RULE, MAX_ID_LENGTH, id_problem, id_text

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from watchkeeper.registry._records import InputColumn, InputSchema
    from watchkeeper.server._decode import Decoded

__all__ = ["validate_columns", "validate_id_values"]

_NONE = type(None)
_NULL = np.array(None, dtype=object)  # compared elementwise with an object array: True at None
_Unit = Literal["s", "ms", "us", "ns"]
_INT_DTYPES = frozenset(f"{s}int{b}" for s in ("", "u") for b in (8, 16, 32, 64))
_FLOAT_DTYPES = frozenset({"float16", "float32", "float64", "float128", "double"})
_STR_DTYPES = frozenset({"str", "object", "string", "category"})
_KIND_FAMILIES = {
    "numeric": "float",
    "boolean": "bool",
    "datetime": "datetime",
    "categorical": "str",
    "text": "str",
}
_INT64_LIMIT = 2.0**63  # floats at or beyond it do not fit int64
_INT64_MIN, _INT64_END = -(2**63), 2**63
_NAN_TEXT = frozenset({"nan", "+nan", "-nan"})
_EXPECTED = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
    "datetime": "an ISO-8601 date/time string such as '2024-01-31T12:00:00Z'",
}
_EXPECTED_TEXT = {
    "int": "a whole number (text such as '42')",
    "float": "a number (text such as '4.2')",
    "bool": "'true', 'false', '1' or '0'",
}


@cache
def _family(kind: str, dtype: str) -> str:
    """How a column is validated: by its reference dtype, else by its kind."""
    name = dtype.lower()
    if name in _INT_DTYPES:
        return "int"
    if name in _FLOAT_DTYPES:
        return "float"
    if name in ("bool", "boolean"):
        return "bool"
    if name.startswith("datetime64"):
        return "datetime"
    if name in _STR_DTYPES or name.startswith("string"):
        return "str"
    return _KIND_FAMILIES.get(kind, "str")


def _is_null(values: np.ndarray) -> np.ndarray:
    """True where a value is None (one C-level comparison per value)."""
    nulls: np.ndarray = np.equal(values, _NULL)
    return nulls


def _where(column: InputColumn) -> str:
    return f"Column {column.name!r} ({column.kind}, {column.dtype})"


def _wrong(column: InputColumn, row: int, value: Any, expected: str) -> NoReturn:
    raise RequestError(
        "wrong_type",
        f"{_where(column)}: row {row} is {show(value)} ({json_type(value)}); expected {expected}.",
        field=column.name,
    )


def _first(values: np.ndarray, bad: Callable[[Any], bool]) -> int:
    """The index of the first value for which ``bad`` is true (on the error path only)."""
    return next(i for i, value in enumerate(values.tolist()) if bad(value))


def _wrong_first(
    column: InputColumn, values: np.ndarray, bad: Callable[[Any], bool], expected: str
) -> NoReturn:
    row = _first(values, bad)
    _wrong(column, row, values[row], expected)


def _check_nulls(column: InputColumn, nulls: np.ndarray) -> bool:
    """True if there are nulls (allowed); ``null_value`` if the column may not have them."""
    if not nulls.any():
        return False
    if not column.nullable:
        row = int(np.argmax(nulls))
        raise RequestError(
            "null_value",
            f"{_where(column)}: row {row} is null, but the column is not nullable (the model's "
            "reference data had no missing values in it); send a value.",
            field=column.name,
        )
    return True


def _expected(family: str, text: bool) -> str:
    return _EXPECTED_TEXT[family] if text and family in _EXPECTED_TEXT else _EXPECTED[family]


# -- numbers -------------------------------------------------------------------------------


def _floats(column: InputColumn, values: np.ndarray, text: bool, family: str) -> np.ndarray:
    """The values as float64 (NaN for null), before the finiteness and null checks."""
    kinds = set(map(type, values))
    expected = _expected(family, text)
    if text and kinds <= {str, _NONE}:
        return _parse_numbers(column, values, expected, family)
    if not kinds <= {int, float, _NONE}:
        numbers = (int, float) if not text else (int, float, str)
        _wrong_first(column, values, lambda v: v is not None and type(v) not in numbers, expected)
    if _NONE in kinds:
        values = values.copy()
        values[_is_null(values)] = np.nan
    try:
        return values.astype(np.float64)
    except OverflowError:  # an integer beyond the float range
        _wrong_first(column, values, lambda v: type(v) is int and abs(v) > 1e308, expected)


def _parse_numbers(
    column: InputColumn, values: np.ndarray, expected: str, family: str
) -> np.ndarray:
    import pandas as pd

    parsed = pd.to_numeric(values, errors="coerce")
    if parsed.dtype.kind in "iu" and family == "int":
        if parsed.dtype.kind == "u" and parsed.max() > np.iinfo(np.int64).max:
            limit = np.iinfo(np.int64).max
            row = int(np.argmax(parsed > limit))
            _wrong(column, row, values[row], f"{expected} within int64")
        return parsed.astype(np.int64)
    try:
        numbers = np.asarray(parsed, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):  # pragma: no cover - to_numeric gave objects
        numbers = np.array([_to_float(v) for v in values.tolist()])
    unparsed = np.isnan(numbers) & ~_is_null(values)
    if unparsed.any():
        bad = [i for i in np.flatnonzero(unparsed) if values[i].strip().lower() not in _NAN_TEXT]
        if bad:
            _wrong(column, int(bad[0]), values[bad[0]], expected)
    return numbers


def _to_float(value: Any) -> float:  # pragma: no cover - see _parse_numbers
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return float("nan")


def _finite(column: InputColumn, numbers: np.ndarray, values: np.ndarray) -> bool:
    """Reject ±inf; True if there are (allowed) nulls."""
    finite = np.isfinite(numbers)
    if finite.all():
        return False
    infinite = np.isinf(numbers)
    if infinite.any():
        row = int(np.argmax(infinite))
        raise RequestError(
            "non_finite",
            f"{_where(column)}: row {row} is {show(values[row])}; expected a finite number.",
            field=column.name,
        )
    return _check_nulls(column, ~finite)


def _validate_float(column: InputColumn, values: np.ndarray, text: bool) -> np.ndarray:
    numbers = _floats(column, values, text, "float")
    _finite(column, numbers, values)
    return numbers


def _validate_int(column: InputColumn, values: np.ndarray, text: bool) -> np.ndarray:
    kinds = set(map(type, values))
    expected = _expected("int", text)
    if kinds <= {int}:
        try:
            return values.astype(np.int64)
        except OverflowError:
            _wrong_first(
                column, values, lambda v: not -(2**63) <= v < 2**63, f"{expected} within int64"
            )
    numbers = _floats(column, values, text, "int")
    if numbers.dtype.kind == "i":  # text of whole numbers only, parsed exactly
        return numbers
    fractional = np.isfinite(numbers) & (numbers != np.trunc(numbers))
    if fractional.any():
        row = int(np.argmax(fractional))
        _wrong(column, row, values[row], expected)
    if _finite(column, numbers, values):
        return numbers  # nullable, with nulls: float64 with NaN
    too_big = np.abs(numbers) >= _INT64_LIMIT
    if too_big.any():
        row = int(np.argmax(too_big))
        _wrong(column, row, values[row], f"{expected} within int64")
    if text:
        return numbers.astype(np.int64)
    return values.astype(np.int64)  # exact for the Python ints, the floats are whole


# -- booleans, strings, datetimes ------------------------------------------------------------


def _validate_bool(column: InputColumn, values: np.ndarray, text: bool) -> np.ndarray:
    kinds = set(map(type, values))
    if kinds <= {bool}:
        return values.astype(bool)
    expected = _expected("bool", text)
    nulls = _is_null(values)
    if text and kinds <= {str, _NONE}:
        words = np.char.lower(np.char.strip(values[~nulls].astype(str)))
        truth = np.isin(words, ("true", "1"))
        known = truth | np.isin(words, ("false", "0"))
        if not known.all():
            row = int(np.flatnonzero(~nulls)[np.argmax(~known)])
            _wrong(column, row, values[row], expected)
        present = truth
    else:
        if not kinds <= {bool, int, _NONE}:
            _wrong_first(
                column, values, lambda v: v is not None and type(v) not in (bool, int), expected
            )
        present_values = values[~nulls]
        if int in kinds and not all(v in (0, 1) for v in present_values.tolist()):
            _wrong_first(column, values, lambda v: type(v) is int and v not in (0, 1), expected)
        present = present_values.astype(bool)
    if not _check_nulls(column, nulls):
        return present
    out = np.full(len(values), None, dtype=object)
    out[~nulls] = present.tolist()
    return out


def _check_strings(column: InputColumn, values: np.ndarray, expected: str) -> bool:
    """Every value is a string or null; True if there are (allowed) nulls."""
    kinds = set(map(type, values))
    if kinds <= {str}:
        return False
    if not kinds <= {str, _NONE}:
        _wrong_first(column, values, lambda v: v is not None and type(v) is not str, expected)
    return _check_nulls(column, _is_null(values))


def _validate_str(column: InputColumn, values: np.ndarray, text: bool) -> np.ndarray:
    if column.kind == "datetime":  # a reference of ISO strings: check them, serve strings
        _validate_datetime(column, values, text)
        return values
    _check_strings(column, values, _EXPECTED["str"])
    return values


def _unit(dtype: str) -> _Unit:
    inside = dtype[len("datetime64[") :].split(",")[0].rstrip("]").strip()
    for unit in ("s", "ms", "us", "ns"):
        if inside == unit:
            return unit
    return "ns"


def _timezone(dtype: str) -> str | None:
    if "," not in dtype:
        return None
    return dtype.split(",", 1)[1].rstrip("]").strip() or None


def _validate_datetime(column: InputColumn, values: np.ndarray, text: bool) -> np.ndarray:
    import pandas as pd

    expected = _EXPECTED["datetime"]
    nulls = _check_strings(column, values, expected)
    present = values[~_is_null(values)] if nulls else values
    if not all(v[:1].isdigit() for v in present.tolist()):  # pandas reads "now", "today"
        _wrong_first(column, values, lambda v: v is not None and not v[:1].isdigit(), expected)
    unit: _Unit = "ns" if column.dtype.lower() in ("str", "object") else _unit(column.dtype)
    parsed = pd.to_datetime(values, format="ISO8601", utc=True, errors="coerce")
    unparsed = np.asarray(parsed.isna()) & ~_is_null(values)
    if unparsed.any():  # (to the nanosecond, pandas holds only years 1678 to 2261)
        row = int(np.argmax(unparsed))
        _wrong(
            column, row, values[row], expected + (" (years 1678 to 2261)" if unit == "ns" else "")
        )
    try:
        stamps = parsed.as_unit(unit)
    except (ValueError, OverflowError):  # beyond what the unit can hold
        row = _first(values, lambda v: v is not None and not _fits_unit(v, unit))
        _wrong(column, row, values[row], f"{expected} within the range of datetime64[{unit}]")
    timezone = _timezone(column.dtype)
    if timezone is None:
        result: np.ndarray = stamps.tz_convert(None).to_numpy()
        return result
    aware: np.ndarray = stamps.tz_convert(timezone).to_numpy()  # aware Timestamps (objects)
    return aware


def _fits_unit(value: str, unit: _Unit) -> bool:
    import pandas as pd

    try:
        pd.Timestamp(value).as_unit(unit)
    except (ValueError, OverflowError):
        return False
    return True


_VALIDATORS: dict[str, Callable[[InputColumn, np.ndarray, bool], np.ndarray]] = {
    "int": _validate_int,
    "float": _validate_float,
    "bool": _validate_bool,
    "str": _validate_str,
    "datetime": _validate_datetime,
}


def _names(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(map(repr, names[:limit]))
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def validate_columns(
    decoded: Decoded,
    schema: InputSchema,
    *,
    max_rows: int,
    passthrough: Sequence[str] = (),
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Check a decoded request against the model's inputs and type its columns.

    Parameters
    ----------
    decoded
        The request, as a decoder returned it.
    schema
        The served inputs of the model version.
    max_rows
        The most rows one request may carry.
    passthrough
        Columns the request may carry besides the inputs (an id column, ``event_time``...):
        they are not rejected as extra, and are returned as sent.

    Returns
    -------
    inputs
        One array per input, in the schema's order: ``int64`` (``float64`` with NaN when a
        nullable whole-number column has nulls), ``float64`` (NaN for null), ``bool``
        (an object array with None when a nullable column has nulls), object arrays of
        ``str``/None, ``datetime64[unit]`` (naive, UTC) or, for a time-zone-aware dtype, an
        object array of aware Timestamps in that zone. A ``datetime`` column whose reference
        held ISO strings (dtype ``str``) is checked as datetimes and served as strings.
    passthrough
        The passthrough columns present in the request, as sent (object arrays).

    Raises
    ------
    RequestError
        ``too_many_rows``; ``missing_column`` (field: the first missing input);
        ``extra_column`` (field: the first unknown column); then, for the first input that
        fails, ``wrong_type``, ``non_finite`` or ``null_value`` (field: the input).

    Examples
    --------
    >>> from watchkeeper.registry._records import InputColumn, InputSchema
    >>> from watchkeeper.server._decode import decode_invocations
    >>> schema = InputSchema((InputColumn("age", "numeric", "int64", nullable=False),))
    >>> decoded = decode_invocations(b'{"inputs": {"age": [31, 40.0]}}', None)
    >>> inputs, _ = validate_columns(decoded, schema, max_rows=100)
    >>> inputs["age"]
    array([31, 40])
    """
    if decoded.n_rows > max_rows:
        raise RequestError(
            "too_many_rows",
            f"The request has {decoded.n_rows} rows; at most {max_rows} are accepted in one "
            "request. Send the rows in smaller requests.",
        )
    given = decoded.columns
    missing = [c.name for c in schema.columns if c.name not in given]
    if missing:
        raise RequestError(
            "missing_column",
            f"The request lacks the input column(s) {_names(missing)}; the model needs "
            f"{_names(schema.names)}.",
            field=missing[0],
        )
    if len(given) > len(schema.columns):
        allowed = {c.name for c in schema.columns}.union(passthrough)
        extra = [name for name in given if name not in allowed]
        if extra:
            also = f" (nor the passthrough columns {_names(passthrough)})" if passthrough else ""
            raise RequestError(
                "extra_column",
                f"The request has column(s) {_names(extra)} that are not inputs of the "
                f"model{also}; remove them. The model's inputs are {_names(schema.names)}.",
                field=extra[0],
            )
    text = decoded.text
    inputs = {
        c.name: _VALIDATORS[_family(c.kind, c.dtype)](c, given[c.name], text)
        for c in schema.columns
    }
    extras = {name: given[name] for name in passthrough if name in given}
    return inputs, extras


def validate_id_values(values: np.ndarray, column: str) -> list[str | None]:
    """The values of a request's id column as prediction keys: text, or None for null.

    Parameters
    ----------
    values
        The column as sent (the passthrough column of the version's id role).
    column
        Its name, for the error.

    Returns
    -------
    list of str or None
        One key per row: strings as sent, integers as their decimal text (``12`` and ``"12"``
        are the same key), None for null.

    Raises
    ------
    RequestError
        ``invalid_parameter`` (field: ``column``) naming the first row that is not a string of
        1 to 256 characters without control characters, an integer within int64 (booleans are
        not) or null: a float such as ``12.0``, an array, an object...

    Examples
    --------
    >>> validate_id_values(np.array(["c-1", 12, None], dtype=object), "customer_id")
    ['c-1', '12', None]
    """
    items = values.tolist()
    if not items:
        return []
    kinds = set(map(type, items))
    if kinds == {str}:  # the usual case: a few C-level passes
        text: list[str | None] = items
        if (
            min(map(len, items)) > 0
            and max(map(len, items)) <= MAX_ID_LENGTH
            and not BAD_ID_CHARS.search("".join(items))
        ):
            return text
    elif kinds == {int} and min(items) >= _INT64_MIN and max(items) < _INT64_END:
        return list(map(str, items))
    keys: list[str | None] = []
    for row, value in enumerate(items):
        key = None if value is None else id_text(value)
        if key is None and value is not None:
            raise RequestError(
                "invalid_parameter",
                f"Column {column!r} (the id column): row {row} is {show(value)}: "
                f"{id_problem(value)}; {ID_RULE}, or null.",
                field=column,
            )
        keys.append(key)
    return keys
