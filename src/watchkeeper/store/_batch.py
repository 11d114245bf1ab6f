"""A batch of predictions to log: :func:`make_batch` builds one, as an Arrow table, from
the inputs (a DataFrame, or one array per column), the outputs and the key columns; ``_ipc``
and ``_read_ipc`` store and read its table as one Arrow IPC stream (see
:mod:`watchkeeper.store.predictions`, which re-exports what is public here)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from watchkeeper.errors import InvalidInputError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import numpy as np
    import pandas as pd
    import pyarrow as pa

__all__ = ["KEY_COLUMNS", "ROLES", "PredictionBatch", "make_batch"]

ROLES = ("served", "shadow")
KEY_COLUMNS = ("request_id", "row", "key", "event_time")


@dataclass(frozen=True)
class PredictionBatch:
    """Rows to log for one model version and role (see :func:`make_batch`)."""

    model: str
    version: int
    role: str
    table: pa.Table

    @property
    def n_rows(self) -> int:
        return int(self.table.num_rows)


def make_batch(
    model: str,
    version: int,
    inputs: pd.DataFrame | Mapping[str, np.ndarray[Any, Any]],
    outputs: Mapping[str, Any],
    *,
    request_id: str | Sequence[str],
    event_time: datetime | Sequence[datetime] | Any,
    rows: Sequence[int] | None = None,
    keys: Sequence[Any] | None = None,
    role: str = "served",
) -> PredictionBatch:
    """Assemble a batch: the key columns, the inputs as given, and the outputs.

    ``inputs`` is a DataFrame, or one 1-D array per column (equal lengths; what the server
    has once it validated a request), built into Arrow directly: object arrays of text and
    None become strings, datetime64 timestamps, NaN in a float or object array null, as
    ``pyarrow.Table.from_pandas`` does with a DataFrame, so both forms give equal tables.
    Text is stored as Arrow ``large_string`` either way. ``request_id`` is one id for the
    whole batch (rows 0..n-1) or one per row (then ``rows`` numbers each row within its
    request). ``keys`` are the values of the model's id column, used instead of (request id,
    row) to find a prediction's label.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    if role not in ROLES:
        raise InvalidParameterError(f"role must be one of {', '.join(ROLES)}. Got {role!r}.")
    if isinstance(inputs, pd.DataFrame):
        names = list(inputs.columns)
        n = len(inputs)
    else:
        names = list(inputs)
        n = _n_rows(inputs, outputs)
    if n == 0:
        raise InvalidInputError("A prediction batch needs at least one row.")
    clash = [c for c in (*KEY_COLUMNS, *outputs) if c in names]
    if clash:
        raise InvalidInputError(
            f"Input column(s) {', '.join(map(repr, clash))} clash with the log's own columns "
            f"({', '.join(KEY_COLUMNS)}) or the outputs."
        )
    if isinstance(request_id, str):
        ids = np.full(n, request_id, dtype=object)
        row_numbers = np.arange(n, dtype=np.int32) if rows is None else np.asarray(rows)
    else:
        ids = np.asarray(list(request_id), dtype=object)
        if rows is None:
            raise InvalidParameterError("Give rows= with one request id per row.")
        row_numbers = np.asarray(rows)
    times = pd.to_datetime(
        pd.Series(event_time if not isinstance(event_time, datetime) else [event_time] * n),
        utc=True,
    )
    columns: dict[str, Any] = {
        "request_id": pa.array(ids, pa.string()),
        "row": pa.array(row_numbers, pa.int32()),
        "key": pa.array(
            [None] * n if keys is None else [None if k is None else str(k) for k in keys],
            pa.string(),
        ),
        "event_time": pa.array(times.to_numpy(dtype="datetime64[us]"), pa.timestamp("us", "UTC")),
    }
    checked: list[tuple[str, Any]] = [("ids", ids), ("rows", row_numbers), ("event times", times)]
    if keys is not None:
        checked.append(("keys", keys))
    for name, values in checked:
        if len(values) != n:
            raise InvalidInputError(f"{len(values)} {name} for {n} rows.")
    table = pa.Table.from_pydict(columns)
    for name, column in _input_columns(inputs):
        table = table.append_column(name, column)
    for name, values in outputs.items():
        column = pa.array(np.asarray(values))
        if len(column) != n:
            raise InvalidInputError(f"Output {name!r} has {len(column)} values for {n} rows.")
        table = table.append_column(name, column)
    return PredictionBatch(model=model, version=int(version), role=role, table=table)


def _n_rows(inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> int:
    """The number of rows of inputs given as arrays (of the outputs, if there is no input)."""
    lengths = {name: len(values) for name, values in inputs.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name!r}: {k}" for name, k in lengths.items())
        raise InvalidInputError(f"The input arrays have different lengths ({shown}).")
    if lengths:
        return next(iter(lengths.values()))
    if outputs:
        return len(next(iter(outputs.values())))
    raise InvalidInputError("A prediction batch needs at least one input or output column.")


def _input_columns(inputs: pd.DataFrame | Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The inputs as Arrow columns, text as ``large_string`` (what pandas 3 gives for its
    string dtype, whichever form and pandas version built the column)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    out: list[tuple[str, Any]] = []
    if isinstance(inputs, pd.DataFrame):
        try:
            body = pa.Table.from_pandas(inputs.reset_index(drop=True), preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise InvalidInputError(f"The inputs cannot be logged: {exc}") from exc
        out = [(name, body[name]) for name in body.column_names]
    else:
        for name, values in inputs.items():
            array = np.asarray(values)
            if array.ndim != 1:
                raise InvalidInputError(
                    f"Input {name!r} must be a 1-D array (one value per row). "
                    f"Got shape {array.shape}."
                )
            try:
                out.append((name, pa.array(array, from_pandas=True)))
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
                raise InvalidInputError(f"Input {name!r} cannot be logged: {exc}") from exc
    return [
        (name, column.cast(pa.large_string()) if column.type == pa.string() else column)
        for name, column in out
    ]


def _ipc(table: pa.Table) -> bytes:
    import pyarrow as pa

    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _read_ipc(payload: bytes) -> pa.Table:
    import pyarrow as pa

    return pa.ipc.open_stream(payload).read_all()
