"""Reading labels for a window of the prediction log, and joining them to its rows.

On SQLite the labels come back as one JSON array per column (a chunk holding a float label is
read row by row, since SQLite prints floats in JSON with 15 digits); on PostgreSQL as one
``COPY ... TO STDOUT`` parsed by pyarrow. The join is an Arrow hash join that keeps the
log's order. ``PredictionLog.read`` (:mod:`watchkeeper.store.predictions`) is the caller.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from watchkeeper.clock import as_utc
from watchkeeper.store.tables import labels

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    import pandas as pd
    import pyarrow as pa
    from sqlalchemy.engine import Connection


_LABEL_CHUNK = 250_000  # labels per query on SQLite: each JSON array stays far below 1 GB


@dataclass(frozen=True)
class _Labels:
    """A window's labels: ``keys`` (request_id, row, arrived_at) and the label ``values``
    (as JSON decodes them), in the same order."""

    keys: pa.Table
    values: list[Any]

    @staticmethod
    def none() -> _Labels:
        import pyarrow as pa

        keys = pa.table(
            {
                "request_id": pa.array([], pa.string()),
                "row": pa.array([], pa.int32()),
                "arrived_at": pa.array([], pa.timestamp("us", "UTC")),
            }
        )
        return _Labels(keys, [])


def _labels_sqlite(conn: Connection, window: list[Any]) -> _Labels:
    """SQLite: the labels in ``window``, each column as one JSON array per chunk of
    ``_LABEL_CHUNK`` labels (``json_group_array``) decoded by one ``json.loads``, where a
    Python row per label through the driver costs 1.5 to 2 times as much.

    A label is stored as its JSON text, except that the column's numeric affinity has turned
    numbers into numbers: texts are decoded and integers taken as they are. SQLite would
    print a REAL in JSON with 15 significant digits, so a chunk holding one has its labels
    read row by row instead, exactly. Chunks follow the ``(model_id, event_time)`` index
    (ties in rowid order), so LIMIT and OFFSET split the labels without sorting.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    from sqlalchemy import Text, case, func, literal_column, type_coerce

    ordered = (
        select(labels.c.request_id, labels.c.row, labels.c.label, labels.c.arrived_at)
        .where(*window)
        .order_by(labels.c.event_time, literal_column("labels.rowid"))
    )
    columns: list[list[Any]] = [[], [], [], []]
    start = 0
    while True:
        chunk = ordered.limit(_LABEL_CHUNK).offset(start).subquery()
        kind = func.typeof(chunk.c.label)
        text_or_integer = case(
            (kind == "text", func.json(chunk.c.label)), (kind == "integer", chunk.c.label)
        )  # NULL for a REAL
        arrays = [chunk.c.request_id, chunk.c.row, text_or_integer, chunk.c.arrived_at]
        *texts, n, reals = conn.execute(
            select(
                *[type_coerce(func.json_group_array(a), Text) for a in arrays],
                func.count(),
                func.coalesce(func.sum(case((kind == "real", 1), else_=0)), 0),
            )
        ).one()
        decoded = [json.loads(text) for text in texts]
        if reals:
            raw = conn.execute(select(type_coerce(chunk.c.label, Text))).scalars()
            decoded[2] = [json.loads(v) if isinstance(v, str) else v for v in raw]
        for column, values in zip(columns, decoded, strict=True):
            column.extend(values)
        if n < _LABEL_CHUNK:
            break
        start += _LABEL_CHUNK
    request_ids, rows, values, arrivals = columns
    # SQLAlchemy's SQLite DateTime text (UTC, as it was written).
    arrived = pc.assume_timezone(pa.array(arrivals, pa.string()).cast(pa.timestamp("us")), "UTC")
    keys = pa.table(
        {
            "request_id": pa.array(request_ids, pa.string()),
            "row": pa.array(rows, pa.int32()),
            "arrived_at": arrived,
        }
    )
    return _Labels(keys, values)


def _labels_postgres(
    conn: Connection, model_id: int, since: datetime | None, until: datetime | None
) -> _Labels:
    """PostgreSQL: the labels of model ``model_id`` with ``since <= event_time < until``
    through ``COPY ... TO STDOUT`` as CSV, parsed by pyarrow, their JSON texts decoded by one
    ``json.loads`` (as the driver decodes each label, but without a Python row per label)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    from psycopg import sql

    window = [sql.SQL("model_id = {}").format(sql.Literal(model_id))]
    if since is not None:
        window.append(sql.SQL("event_time >= {}").format(sql.Literal(as_utc(since))))
    if until is not None:
        window.append(sql.SQL("event_time < {}").format(sql.Literal(as_utc(until))))
    # The arrival as microseconds since 1970: no dependence on the session's time zone.
    statement = sql.SQL(
        'COPY (SELECT request_id, "row", label::text, '
        "(EXTRACT(EPOCH FROM arrived_at) * 1000000)::bigint FROM labels WHERE {}) "
        "TO STDOUT (FORMAT csv)"
    ).format(sql.SQL(" AND ").join(window))
    driver = conn.connection.driver_connection
    data = bytearray()
    with (
        _driver_errors(conn, str(statement)),
        driver.cursor() as cursor,  # type: ignore[union-attr]
        cursor.copy(statement) as copy,
    ):
        for block in copy:
            data += block
    if not data:
        return _Labels.none()
    names = ["request_id", "row", "label", "arrived_at"]
    table = pa_csv.read_csv(
        pa.py_buffer(data),
        # One block (as fast here): a row, a long text label say, never straddles two.
        read_options=pa_csv.ReadOptions(column_names=names, block_size=min(len(data), 2**30)),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types={
                "request_id": pa.string(),
                "row": pa.int32(),
                "label": pa.large_string(),
                "arrived_at": pa.int64(),
            },
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    keys = pa.table(
        {
            "request_id": table["request_id"],
            "row": table["row"],
            "arrived_at": table["arrived_at"].cast(pa.timestamp("us", "UTC")),
        }
    )
    return _Labels(keys, _json_values(table["label"]))


def _json_values(texts: pa.ChunkedArray) -> list[Any]:
    """The values of JSON ``texts``, decoded as one JSON array by one ``json.loads``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    lists = pa.LargeListArray.from_arrays(
        pa.array([0, len(texts)], pa.int64()), texts.combine_chunks()
    )
    joined = pc.binary_join(lists, pa.scalar(",", pa.large_string()))[0].as_py()
    values: list[Any] = json.loads(f"[{joined}]")
    return values


def _attach_labels(frame: pd.DataFrame, table: pa.Table, found: _Labels) -> pd.DataFrame:
    """``frame`` (the rows of ``table``) with the ``label`` and ``label_arrived_at`` of each
    row: as ``frame.merge(labels, on=["request_id", "row"], how="left")`` would give them,
    matched by an Arrow hash join instead (labels are unique per request id and row).

    Labels get the dtype pandas' ``convert_dtypes`` infers from their values (nullable, so
    integer labels stay integers where some rows have none; ``Int64`` if there are none).
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    n, m = table.num_rows, found.keys.num_rows
    position = np.full(n, -1, dtype=np.int64)  # of each row's label in ``found``, -1: none
    if n and m:
        # On string keys: Arrow's hash join is several times slower on large_string.
        key = ["request_id", "row"]
        left = pa.table(
            {
                "request_id": table["request_id"].cast(pa.string()),
                "row": table["row"],
                "at": np.arange(n, dtype=np.int64),
            }
        )
        right = pa.table(
            {
                "request_id": found.keys["request_id"].cast(pa.string()),
                "row": found.keys["row"],
                "label_at": np.arange(m, dtype=np.int64),
            }
        )
        matched = left.join(right, key, join_type="inner")
        position[matched["at"].to_numpy()] = matched["label_at"].to_numpy()
    values = pd.Series(found.values).convert_dtypes() if m else pd.Series([], dtype="Int64")
    label = pd.api.extensions.take(values.array, position, allow_fill=True)
    arrived = found.keys["arrived_at"].take(pa.array(position, mask=position < 0))
    added = {"label": label, "label_arrived_at": arrived.to_pandas().array}
    clash = [name for name in added if name in frame.columns]  # merge's suffixes
    if clash:
        frame = frame.rename(columns={name: f"{name}_x" for name in clash})
        added = {(f"{k}_y" if k in clash else k): v for k, v in added.items()}
    return frame.assign(**added)


@contextlib.contextmanager
def _driver_errors(conn: Connection, statement: str) -> Iterator[None]:
    """Raise the driver's errors as SQLAlchemy raises its own statements' (IntegrityError for
    a duplicate key, OperationalError for a lost connection), so that the callers' handlers
    see the same types on both databases."""
    dbapi = conn.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, dbapi.Error) from exc
