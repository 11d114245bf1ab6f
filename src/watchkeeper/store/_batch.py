"""A batch of predictions to log: :func:`make_batch` builds one, as an Arrow table, from
the inputs (a DataFrame, or one array per column), the outputs and the key columns; ``_ipc``
and ``_read_ipc`` store and read its table as one Arrow IPC stream, and ``_copy_rows`` encodes
rows for PostgreSQL's binary ``COPY`` (see :mod:`watchkeeper.store.predictions`, which
re-exports what is public here)."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from watchkeeper.clock import as_utc
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


# ---------------------------------------------------------------------------- binary COPY
# PostgreSQL's binary COPY format: a signature, then per row a 16-bit field count and per field
# a 32-bit length (-1 for NULL) and the value in the type's binary form, then a trailer. All
# integers are big-endian; a timestamptz is microseconds since 2000-01-01 UTC.
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension
COPY_TRAILER = b"\xff\xff"
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_PG_EPOCH_US = 946_684_800_000_000  # the same, in microseconds since 1970-01-01


def _copy_rows(columns: Sequence[pa.Array | pa.ChunkedArray]) -> bytes:
    """The rows of equal-length ``columns`` in PostgreSQL's binary COPY format (without the
    header and trailer), built with whole-column numpy operations.

    A column is int64 (for ``bigint``), int32 (``integer``), a timestamp (``timestamptz``, a
    naive one taken as UTC) or text (``text``/``varchar``); nulls become NULL. Text must be
    valid UTF-8, which an Arrow string array is.

    Notes
    -----
    A row is a sequence of pieces: the field count, then per field its length and its value.
    The pieces of one width on every row (the count, the lengths, the values of a fixed-width
    column without nulls) are merged, while consecutive, into one block written by one
    scatter; a text value (or a fixed-width one that may be NULL) is copied from its column's
    data by one gather. With the fixed-width columns first, a row of the key table is two
    blocks and two gathers: what a batch of a few rows costs is the number of numpy calls.
    """
    import numpy as np

    n = len(columns[0])
    if n == 0:
        return b""
    pieces: list[Any] = [np.full(n, len(columns), dtype=">i2")]
    for column in columns:
        valid, value = _copy_field(column, n)
        if isinstance(value, tuple):  # variable width: (starts, lengths, data)
            starts, lengths, data = value
            if valid is not None:
                lengths = np.where(valid, lengths, 0)
            prefix = lengths if valid is None else np.where(valid, lengths, -1)
            pieces += [prefix.astype(">i4"), (starts, lengths, data)]
        elif valid is None:
            pieces += [np.full(n, value.shape[1], dtype=">i4"), value]
        else:
            width = value.shape[1]
            starts = np.arange(n, dtype=np.int64) * width
            pieces.append(np.where(valid, width, -1).astype(">i4"))
            pieces.append((starts, np.where(valid, width, 0), value.reshape(-1)))
    blocks: list[Any] = []  # (n, width) bytes, or (starts, lengths, data) to gather
    for piece in pieces:
        if isinstance(piece, tuple):
            blocks.append(piece)
            continue
        raw = piece if piece.ndim == 2 else piece.view(np.uint8).reshape(n, -1)
        if blocks and not isinstance(blocks[-1], tuple):
            blocks[-1] = np.concatenate([blocks[-1], raw], axis=1)
        else:
            blocks.append(raw)
    sizes = np.zeros(n, dtype=np.int64)
    for block in blocks:
        sizes += block[1] if isinstance(block, tuple) else block.shape[1]
    ends = np.cumsum(sizes)
    out = np.empty(int(ends[-1]), dtype=np.uint8)
    position = ends - sizes  # where each row's next piece goes
    for block in blocks:
        if isinstance(block, tuple):
            starts, lengths, data = block
            before = np.cumsum(lengths) - lengths  # the earlier rows' bytes of this piece
            step = np.arange(int(lengths.sum()), dtype=np.int64)
            out[step + np.repeat(position - before, lengths)] = data[
                step + np.repeat(starts - before, lengths)
            ]
            position = position + lengths
        else:
            out[position[:, None] + np.arange(block.shape[1])] = block
            position = position + block.shape[1]
    return out.tobytes()


def _copy_field(column: pa.Array | pa.ChunkedArray, n: int) -> tuple[Any, Any]:
    """A column's validity (None: no nulls) and its values in binary COPY form: big-endian
    ``(n, width)`` bytes, or for text the ``(starts, lengths, data)`` of its UTF-8 bytes."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        array = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    else:
        array = column
    valid = None if array.null_count == 0 else array.is_valid().to_numpy(zero_copy_only=False)
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        _, offsets, data = array.buffers()
        width = np.int32 if pa.types.is_string(kind) else np.int64
        bounds = np.frombuffer(offsets, dtype=width)[array.offset : array.offset + n + 1]
        bounds = bounds.astype(np.int64)
        chars = np.empty(0, np.uint8) if data is None else np.frombuffer(data, dtype=np.uint8)
        return valid, (bounds[:-1], np.diff(bounds), chars)
    shift = 0
    if pa.types.is_timestamp(kind):
        array = array.cast(pa.timestamp("us", kind.tz), safe=False).cast(pa.int64())
        shift = _PG_EPOCH_US
    elif kind not in (pa.int64(), pa.int32()):  # pragma: no cover - callers pass these only
        raise TypeError(f"No binary COPY encoding for {kind}.")
    if valid is not None:
        array = pc.fill_null(array, 0)  # a NULL's value is not written
    values = array.to_numpy() - shift if shift else array.to_numpy()
    big_endian = values.astype(values.dtype.newbyteorder(">"))
    return valid, big_endian.view(np.uint8).reshape(n, -1)


def _copy_batch_row(model_id: int, batch: PredictionBatch, logged_at: datetime, size: int) -> bytes:
    """The binary COPY row of ``batch`` in ``prediction_batches`` (model_id, version, role,
    n_rows, event_time_min, event_time_max, logged_at, payload) up to its payload's length:
    the payload's ``size`` bytes follow."""
    import pyarrow as pa
    import pyarrow.compute as pc

    times = batch.table["event_time"]
    micros = times.cast(pa.timestamp("us", times.type.tz), safe=False).cast(pa.int64())
    bounds = pc.min_max(micros)
    role = batch.role.encode()
    return b"".join(
        [
            struct.pack(">hiqii", 8, 8, model_id, 4, batch.version),
            struct.pack(">i", len(role)),
            role,
            struct.pack(
                ">iiiqiqiqi",
                4,
                batch.n_rows,
                8,
                bounds["min"].as_py() - _PG_EPOCH_US,
                8,
                bounds["max"].as_py() - _PG_EPOCH_US,
                8,
                (as_utc(logged_at) - _PG_EPOCH) // timedelta(microseconds=1),
                size,
            ),
        ]
    )
