"""Open Inference Protocol v2 (KServe V2) infer requests to columns.

One input per column (tabular), shape ``[n]`` or ``[n, 1]``, flat or nested row-major data,
values checked against their datatype; MLServer's pandas content type is the same layout. The
shared helpers and :class:`~watchkeeper.server._decode.Decoded` live in
:mod:`watchkeeper.server._decode`.
"""

from __future__ import annotations

from itertools import chain
from typing import TYPE_CHECKING, Any

from watchkeeper.server._decode import (
    _NONE,
    _NUMBER_TYPES,
    Decoded,
    _check_columns,
    _check_rows,
    _fail,
    _load_json,
    _object_array,
    _parameters,
    _request_id,
    json_type,
    show,
)

if TYPE_CHECKING:
    import numpy as np

__all__ = ["decode_oip"]

# OIP datatype -> inclusive integer bounds (None for the non-integer datatypes).
_OIP_INT_BOUNDS: dict[str, tuple[int, int]] = {
    **{f"INT{b}": (-(2 ** (b - 1)), 2 ** (b - 1) - 1) for b in (8, 16, 32, 64)},
    **{f"UINT{b}": (0, 2**b - 1) for b in (8, 16, 32, 64)},
}
_OIP_DATATYPES = ("BOOL", *_OIP_INT_BOUNDS, "FP16", "FP32", "FP64", "BYTES")
# Per-input MLServer content types: plain tensors, or strings (ISO datetimes are strings too).
_OIP_INPUT_CONTENT_TYPES = ("np", "str", "datetime")


# -- Open Inference Protocol ----------------------------------------------------------------


def _oip_shape(shape: Any, name: str, i: int) -> int:
    """The number of rows of an input's shape: ``[n]`` or ``[n, 1]``."""
    if not isinstance(shape, list) or set(map(type, shape)) - {int} or any(d < 0 for d in shape):
        _fail(
            "malformed",
            f"Input {name!r} (inputs[{i}]): 'shape' must be an array of non-negative integers; "
            f"got {show(shape) if isinstance(shape, list) else json_type(shape)}.",
            name,
        )
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
        _fail(
            "shape_mismatch",
            f"Input {name!r}: shape {show(shape)} is not one column; each input is one column "
            "of the table, with shape [n] or [n, 1] for n rows.",
            name,
        )
    n: int = shape[0]
    return n


def _oip_values(data: Any, shape: list[int], name: str, i: int) -> list[Any]:
    """The input's values, flat: ``data`` is flat or nested as ``[[v], [v], ...]``."""
    if not isinstance(data, list):
        _fail(
            "malformed",
            f"Input {name!r} (inputs[{i}]): 'data' must be an array of values; got "
            f"{json_type(data)}.",
            name,
        )
    n = shape[0]
    kinds = set(map(type, data))
    if list in kinds:
        if kinds != {list} or len(shape) != 2 or set(map(len, data)) - {1}:
            _fail(
                "shape_mismatch",
                f"Input {name!r}: 'data' is nested but not as shape {shape} needs; send a flat "
                "array of n values, or (for shape [n, 1]) n arrays of one value.",
                name,
            )
        data = list(chain.from_iterable(data))
    values: list[Any] = data
    if len(values) != n:
        _fail(
            "shape_mismatch",
            f"Input {name!r}: 'data' has {len(values)} values but shape {shape} needs {n}.",
            name,
        )
    return values


def _oip_check_types(values: list[Any], datatype: str, name: str) -> None:
    """Every value is of ``datatype`` (or null); else ``wrong_type`` at the first that is not."""
    given = set(map(type, values))
    kinds = given - {_NONE}
    if datatype == "BYTES":
        ok, expected = kinds <= {str}, "a string"
    elif datatype == "BOOL":
        ok, expected = kinds <= {bool}, "a boolean (true or false)"
    elif datatype.startswith("FP"):
        ok, expected = kinds <= _NUMBER_TYPES, "a number"
    else:
        lo, hi = _OIP_INT_BOUNDS[datatype]
        expected = f"an integer in [{lo}, {hi}]"
        ok = kinds <= _NUMBER_TYPES
        if ok and float in kinds:
            ok = all(float.is_integer(v) for v in values if type(v) is float)
        if ok and kinds:
            present = [v for v in values if v is not None] if _NONE in given else values
            ok = lo <= min(present) and max(present) <= hi
    if ok:
        return
    for row, value in enumerate(values):
        if value is not None and not _oip_fits(value, datatype):
            _fail(
                "wrong_type",
                f"Input {name!r} ({datatype}): row {row} is {show(value)} ({json_type(value)}); "
                f"expected {expected}.",
                name,
            )


def _oip_fits(value: Any, datatype: str) -> bool:
    kind = type(value)
    if datatype == "BYTES":
        return kind is str
    if datatype == "BOOL":
        return kind is bool
    if datatype.startswith("FP"):
        return kind in _NUMBER_TYPES
    lo, hi = _OIP_INT_BOUNDS[datatype]
    if kind is float and not value.is_integer():
        return False
    return kind in _NUMBER_TYPES and lo <= value <= hi


def _oip_input(item: Any, i: int) -> tuple[str, list[Any], int]:
    """One OIP input: its name, flat values and number of rows."""
    if not isinstance(item, dict):
        _fail(
            "malformed",
            f"inputs[{i}] must be an object with name, shape, datatype and data; got "
            f"{json_type(item)}.",
            f"inputs[{i}]",
        )
    name = item.get("name")
    if not isinstance(name, str) or not name:
        _fail(
            "malformed",
            f"inputs[{i}].name must be a non-empty string (the column name); got "
            f"{show(name) if isinstance(name, str) else json_type(name)}.",
            f"inputs[{i}].name",
        )
    n_rows = _oip_shape(item.get("shape"), name, i)
    datatype = item.get("datatype")
    if datatype not in _OIP_DATATYPES:
        _fail(
            "malformed",
            f"Input {name!r} (inputs[{i}]): 'datatype' must be one of "
            f"{', '.join(_OIP_DATATYPES)}; got {show(datatype)}.",
            name,
        )
    parameters = item.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        _fail(
            "invalid_parameter",
            f"Input {name!r} (inputs[{i}]): 'parameters' must be an object; got "
            f"{json_type(parameters)}.",
            name,
        )
    content_type = (parameters or {}).get("content_type")
    if content_type is not None and content_type not in _OIP_INPUT_CONTENT_TYPES:
        _fail(
            "invalid_parameter",
            f"Input {name!r} (inputs[{i}]): content_type {show(content_type)} is not read "
            f"here; use {', '.join(map(repr, _OIP_INPUT_CONTENT_TYPES))} or none.",
            name,
        )
    values = _oip_values(item.get("data"), item["shape"], name, i)
    _oip_check_types(values, "BYTES" if content_type in ("str", "datetime") else datatype, name)
    return name, values, n_rows


def decode_oip(body: bytes) -> Decoded:
    """Decode an Open Inference Protocol (KServe V2) REST infer request, one input per column.

    Each input is one column of the table: shape ``[n]`` or ``[n, 1]``, data flat or nested
    row-major, values of its datatype or null. MLServer's pandas codec
    (``"parameters": {"content_type": "pd"}``) is read the same way, and an input whose
    ``parameters.content_type`` is ``"str"`` (or ``"datetime"``) holds strings.

    Raises
    ------
    RequestError
        ``malformed`` (not JSON, or an input without a name, shape, known datatype or data
        array, or a repeated name); ``invalid_parameter`` (an ``id`` that is not 1 to 128
        printable ASCII characters without spaces, bad ``parameters``, or
        a content type other than ``pd``); ``too_large`` (more inputs than
        :data:`~watchkeeper.server._decode.MAX_COLUMNS`); ``shape_mismatch`` (a shape that is
        not a column, data not matching it, inputs of different lengths); ``wrong_type`` (a
        value not of its datatype); ``empty``.

    Examples
    --------
    >>> body = (
    ...     b'{"id": "r1", "inputs": [{"name": "a", "shape": [2, 1], "datatype": "INT64",'
    ...     b' "data": [[1], [2]]}, {"name": "b", "shape": [2], "datatype": "BYTES",'
    ...     b' "data": ["x", null]}]}'
    ... )
    >>> decoded = decode_oip(body)
    >>> decoded.request_id, decoded.n_rows, decoded.columns["a"].tolist()
    ('r1', 2, [1, 2])
    """
    doc = _load_json(body)
    request_id = _request_id(doc.get("id"))
    parameters = _parameters(doc.get("parameters"), "parameters")
    content_type = parameters.get("content_type")
    if content_type is not None and content_type != "pd":
        _fail(
            "invalid_parameter",
            f"parameters.content_type {show(content_type)} is not read here: each input is "
            "one column of a table; use 'pd' or leave it out.",
            "parameters.content_type",
        )
    outputs = doc.get("outputs")
    if outputs is not None and not isinstance(outputs, list):
        _fail(
            "malformed",
            f"'outputs' must be an array of requested outputs; got {json_type(outputs)}.",
            "outputs",
        )
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        got = "an empty array" if inputs == [] else json_type(inputs)
        _fail(
            "malformed",
            f"'inputs' must be a non-empty array of inputs, one per column; got {got}.",
            "inputs",
        )
    _check_columns(len(inputs), "'inputs' has", "inputs")
    columns: dict[str, np.ndarray] = {}
    first, n_rows = "", -1
    for i, item in enumerate(inputs):
        name, values, rows = _oip_input(item, i)
        if name in columns:
            _fail("malformed", f"inputs[{i}]: input {name!r} is given more than once.", name)
        if n_rows < 0:
            first, n_rows = name, rows
        elif rows != n_rows:
            _fail(
                "shape_mismatch",
                f"Input {name!r} has {rows} rows but input {first!r} has {n_rows}; every input "
                "needs one value per row.",
                name,
            )
        columns[name] = _object_array(values, rows)
    _check_rows(n_rows)
    return Decoded(columns, n_rows, request_id, parameters, "oip")
