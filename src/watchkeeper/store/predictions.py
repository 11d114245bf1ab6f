"""The prediction log: every logged prediction, its version and role, and late labels.

Layout (chosen by ``benchmarks/prediction_log_layouts.py``): a *batch* (what one group commit
or one ingested chunk wrote for one model version and role) is one row of
``prediction_batches`` holding its rows as one Arrow IPC stream, with the batch's event-time
range for window queries. A million predictions read back as a few hundred blobs
(about 0.1 s on SQLite, 0.8 s on PostgreSQL for 1,000-row batches), where a row per prediction
read through pandas takes 6 s and JSON features 12 s. Small batches (a quiet server commits a
few rows at a time) cost up to 100 µs each to read, so :meth:`PredictionLog.compact` merges
them into large ones. ``prediction_keys`` keeps one narrow row per served prediction (request
id, row, the model's id-column value): labels find their predictions there, and a request id
cannot be logged twice. ``labels`` holds one label per (request id, row) with its arrival
time; a label for a request joins its served and shadow rows alike.

Reads, and appends on PostgreSQL, handle no Python object per row
(``benchmarks/prediction_log.py`` measures them). On PostgreSQL an append is two binary COPYs
built with numpy (keys, then batches), and a read fetches the payloads in the binary protocol
(a bytea in the text protocol is hex) and the labels as one CSV COPY parsed by pyarrow; on
SQLite the labels come as one JSON array per column. Labels join their rows by an Arrow hash
join, not a pandas merge on strings.

Every row of a batch's table has ``request_id`` (str), ``row`` (int32), ``key`` (str or null:
the model's id-column value), ``event_time`` (UTC timestamp), then the model's inputs and its
outputs (``prediction``, ``prediction_proba``...). :func:`make_batch` builds one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, delete, insert, select
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlalchemy.exc import IntegrityError

from watchkeeper.clock import as_utc
from watchkeeper.errors import (
    InvalidInputError,
    InvalidParameterError,
    LabelConflictError,
    ModelNotFoundError,
)
from watchkeeper.store._batch import (
    COPY_HEADER,
    COPY_TRAILER,
    KEY_COLUMNS,
    ROLES,
    PredictionBatch,
    _copy_batch_row,
    _copy_rows,
    _ipc,
    _read_ipc,
    make_batch,
)
from watchkeeper.store._retention import PruneResult
from watchkeeper.store._window import (
    _attach_labels,
    _driver_errors,
    _Labels,
    _labels_postgres,
    _labels_sqlite,
)
from watchkeeper.store.tables import labels, prediction_batches, prediction_keys, registered_models

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from sqlalchemy.engine import Connection

    from watchkeeper.clock import Clock
    from watchkeeper.store.database import Database

__all__ = [
    "LabelConflictError",
    "LabelResult",
    "PredictionBatch",
    "PredictionLog",
    "PruneResult",
    "make_batch",
]

_IN_CHUNK = 500  # ids per IN (...) lookup


@dataclass(frozen=True)
class LabelResult:
    """What :meth:`PredictionLog.add_labels` did: labels stored, already there (identical),
    the ids that matched no logged prediction, and for each label stored (in the order of
    the items, a request's rows in row order) its delay: seconds from the prediction's event
    time to the label's arrival (the clock's time when it was stored; negative for an event
    time in the future)."""

    stored: int
    unchanged: int
    unknown: list[Any] = field(default_factory=list)
    delays_seconds: list[float] = field(default_factory=list)


class PredictionLog:
    """Append predictions, read windows back, attach labels.

    Parameters
    ----------
    database
        The project database (at the head schema revision).
    clock
        Stamps ``logged_at`` and labels' ``arrived_at``.
    """

    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock
        self._model_ids: dict[str, int] = {}
        self._lz4: bool | None = None  # PostgreSQL: can TOAST compress with lz4 (checked once)

    # ------------------------------------------------------------------ writing
    def append(self, batches: Sequence[PredictionBatch]) -> None:
        """Write ``batches`` in one transaction (all or none).

        Raises
        ------
        ModelNotFoundError
            A batch names a model that is not registered.
        InvalidInputError
            A (request id, row) of a served batch was logged before.
        """
        if not batches:
            return
        now = self.clock.now()
        try:
            with self.database.write() as conn:
                if conn.dialect.name == "postgresql":
                    self._append_postgres(conn, batches, now)
                else:
                    for batch in batches:
                        self._append_one(conn, batch, now)
        except IntegrityError as exc:  # a (request id, row) logged twice; nothing was written
            raise self._duplicates(batches) from exc

    def _append_one(self, conn: Connection, batch: PredictionBatch, now: datetime) -> None:
        """SQLite: an INSERT of the batch's row, a prepared executemany of its keys."""
        import pyarrow.compute as pc

        model_id = self._model_id(conn, batch.model)
        table = batch.table
        times = table["event_time"]
        conn.execute(
            insert(prediction_batches).values(
                model_id=model_id,
                version=batch.version,
                role=batch.role,
                n_rows=table.num_rows,
                event_time_min=as_utc(pc.min(times).as_py()),
                event_time_max=as_utc(pc.max(times).as_py()),
                logged_at=now,
                payload=_ipc(table),
            )
        )
        if batch.role == "served":  # a shadow row shares its request's key with the served row
            _insert_keys(conn, model_id, table)

    def _append_postgres(
        self, conn: Connection, batches: Sequence[PredictionBatch], now: datetime
    ) -> None:
        """PostgreSQL: the served rows' keys in one binary COPY, then the batches in another.

        The keys are most of the server's time (per key about 8 µs: three index entries, and
        a foreign-key check that is nearly half of it), so the client encodes them a slice at
        a time while the server stores the previous slice. Payloads are TOAST-compressed with
        lz4 where the server has it: pglz, the default, spends about 6 ms on a 1,000-row
        batch's 200 kB; lz4 0.8 ms, for about 30% more bytes stored.
        """
        import numpy as np
        import pyarrow as pa

        model_ids = [self._model_id(conn, batch.model) for batch in batches]
        driver = conn.connection.driver_connection
        with (
            _driver_errors(conn, _KEYS_COPY),
            driver.cursor() as cursor,  # type: ignore[union-attr]
            cursor.copy(_KEYS_COPY) as copy,
        ):
            copy.write(COPY_HEADER)
            for model_id, batch in zip(model_ids, batches, strict=True):
                if batch.role != "served":  # a shadow row shares its request's key
                    continue
                # In slices, so that the server starts on a large batch's first keys early.
                for start in range(0, batch.n_rows, _COPY_SLICE):
                    part = batch.table.slice(start, _COPY_SLICE)
                    ids = pa.array(np.full(part.num_rows, model_id, dtype=np.int64))
                    columns = [part[name] for name in ("row", "event_time", "request_id", "key")]
                    copy.write(_copy_rows([ids, *columns]))
            copy.write(COPY_TRAILER)
        if self._lz4 is None:
            self._lz4 = _has_lz4(conn)
        with _driver_errors(conn, _BATCHES_COPY), driver.cursor() as cursor:  # type: ignore[union-attr]
            if self._lz4:  # for this transaction only
                cursor.execute("SELECT set_config('default_toast_compression', 'lz4', true)")
            with cursor.copy(_BATCHES_COPY) as copy:
                copy.write(COPY_HEADER)
                for model_id, batch in zip(model_ids, batches, strict=True):
                    payload = _ipc(batch.table)
                    copy.write(_copy_batch_row(model_id, batch, now, len(payload)))
                    copy.write(payload)
                copy.write(COPY_TRAILER)

    def _duplicates(self, batches: Sequence[PredictionBatch]) -> InvalidInputError:
        """The error for an append that logged some (request id, row) twice."""
        seen: set[tuple[str, str, int]] = set()
        repeated: list[tuple[str, str, int]] = []
        for batch in batches:
            if batch.role != "served":
                continue
            for pair in zip(
                batch.table["request_id"].to_pylist(), batch.table["row"].to_pylist(), strict=True
            ):
                item = (batch.model, *pair)
                if item in seen:
                    repeated.append(item)
                seen.add(item)
        with self.database.read() as conn:
            by_model: dict[str, list[tuple[str, int]]] = {}
            for model, rid, row in seen:
                by_model.setdefault(model, []).append((rid, row))
            for model, pairs in by_model.items():
                repeated += [
                    (model, *p) for p in self._existing(conn, self._model_id(conn, model), pairs)
                ]
        shown = ", ".join(f"{m}:{r}/{w}" for m, r, w in sorted(repeated)[:5])
        return InvalidInputError(
            f"{len(repeated)} prediction(s) were logged before or twice in one call (model:request "
            f"id/row {shown}{' ...' if len(repeated) > 5 else ''}); a request id and row are "
            "logged once. Nothing from this call was logged."
        )

    def _existing(
        self, conn: Connection, model_id: int, pairs: Sequence[tuple[str, int]]
    ) -> list[tuple[str, int]]:
        wanted = set(pairs)
        found: list[tuple[str, int]] = []
        # By request id, then filtered here: a (request_id, row) IN list makes PostgreSQL test
        # every row against the whole list.
        request_ids = sorted({rid for rid, _ in wanted})
        query = select(prediction_keys.c.request_id, prediction_keys.c.row).where(
            prediction_keys.c.model_id == model_id
        )
        for r in _where_in(conn, query, prediction_keys.c.request_id, request_ids):
            if (r.request_id, int(r.row)) in wanted:
                found.append((r.request_id, int(r.row)))
        return found

    def _model_id(self, conn: Connection, name: str) -> int:
        if name not in self._model_ids:
            row = conn.execute(
                select(registered_models.c.id).where(registered_models.c.name == name)
            ).first()
            if row is None:
                raise ModelNotFoundError(f"No registered model named {name!r}.")
            self._model_ids[name] = int(row.id)
        return self._model_ids[name]

    # ------------------------------------------------------------------ reading
    def read(
        self,
        model: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        versions: Iterable[int] | None = None,
        roles: Iterable[str] = ("served",),
        with_labels: bool = False,
    ) -> pd.DataFrame:
        """The logged predictions of ``model`` with ``since <= event_time < until``.

        Columns: ``version``, ``role``, ``logged_at``, the key columns, the inputs and outputs
        (columns a version lacks are null), and with ``with_labels`` the ``label`` and
        ``label_arrived_at`` (null where no label arrived yet). Ordered by logging order.
        """
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        wanted_roles = tuple(roles)
        unknown = set(wanted_roles) - set(ROLES)
        if unknown:
            raise InvalidParameterError(f"roles must be among {', '.join(ROLES)}; got {unknown}.")
        with self.database.read() as conn:
            model_id = self._model_id(conn, model)
            query = (
                select(
                    prediction_batches.c.version,
                    prediction_batches.c.role,
                    prediction_batches.c.logged_at,
                    prediction_batches.c.payload,
                )
                .where(prediction_batches.c.model_id == model_id)
                .where(prediction_batches.c.role.in_(wanted_roles))
                .order_by(prediction_batches.c.id)
            )
            if since is not None:
                query = query.where(prediction_batches.c.event_time_max >= as_utc(since))
            if until is not None:
                query = query.where(prediction_batches.c.event_time_min < as_utc(until))
            if versions is not None:
                query = query.where(prediction_batches.c.version.in_(list(versions)))
            batches = _fetch_binary(conn, query)
            found = self._labels(conn, model_id, since, until) if with_labels and batches else None
        if not batches:
            return self._empty(with_labels)
        tables = [_read_ipc(payload) for *_, payload in batches]
        table = pa.concat_tables(tables, promote_options="permissive")
        # Each row's batch, for the batch's version, role and logged_at: one take per column
        # rather than three columns built per batch (a window may hold many small batches).
        which = np.repeat(np.arange(len(batches)), [t.num_rows for t in tables])
        per_batch = {
            "version": pa.array([b[0] for b in batches], pa.int32()),
            "role": pa.array([b[1] for b in batches], pa.string()),
            "logged_at": pa.array([as_utc(b[2]) for b in batches], pa.timestamp("us", "UTC")),
        }
        for i, (name, values) in enumerate(per_batch.items()):
            table = table.add_column(i, name, values.take(which))
        mask = None
        if since is not None:
            mask = pc.greater_equal(
                table["event_time"], pa.scalar(as_utc(since), table["event_time"].type)
            )
        if until is not None:
            upper = pc.less(table["event_time"], pa.scalar(as_utc(until), table["event_time"].type))
            mask = upper if mask is None else pc.and_(mask, upper)
        if mask is not None:
            table = table.filter(mask)
        frame: pd.DataFrame = table.to_pandas()
        if found is not None:
            frame = _attach_labels(frame, table, found)
        return frame

    def _labels(
        self,
        conn: Connection,
        model_id: int,
        since: datetime | None,
        until: datetime | None,
    ) -> _Labels:
        """The labels of the predictions in the window (by the predictions' event time), read
        in bulk: a Python row per label would cost more than the rest of the read."""
        if conn.dialect.name == "postgresql":
            return _labels_postgres(conn, model_id, since, until)
        window = [labels.c.model_id == model_id]
        if since is not None:
            window.append(labels.c.event_time >= as_utc(since))
        if until is not None:
            window.append(labels.c.event_time < as_utc(until))
        return _labels_sqlite(conn, window)

    @staticmethod
    def _empty(with_labels: bool) -> pd.DataFrame:
        """An empty window, with the columns and dtypes a window of logged rows has."""
        import pyarrow as pa

        text, stamp = pa.string(), pa.timestamp("us", "UTC")
        types = {"version": pa.int32(), "role": text, "logged_at": stamp, "request_id": text}
        types |= {"row": pa.int32(), "key": text, "event_time": stamp}
        names = ("version", "role", "logged_at", *KEY_COLUMNS)
        table = pa.schema([(name, types[name]) for name in names]).empty_table()
        frame: pd.DataFrame = table.to_pandas()
        if with_labels:
            frame = _attach_labels(frame, table, _Labels.none())
        return frame

    # ------------------------------------------------------------------ labels
    def add_labels(self, model: str, items: Sequence[Mapping[str, Any]]) -> LabelResult:
        """Attach ground truth: items ``{"id": ..., "row": optional, "label": ...}``.

        ``id`` is a request id (with ``row``: that row; without: every row of the request) or
        a value of the model's id column (every prediction with that key). All items are
        checked first: one that contradicts a stored label raises
        :class:`LabelConflictError` and nothing is stored; an identical one is counted as
        unchanged; ids that match no logged prediction are returned in ``unknown``; each
        label stored has its delay (arrival minus the prediction's event time) in
        ``delays_seconds``.
        """
        parsed = [_parse_label(i, item) for i, item in enumerate(items)]
        now = self.clock.now()
        with self.database.write() as conn:
            model_id = self._model_id(conn, model)
            times: dict[tuple[str, int], datetime] = {}
            matches = self._match(conn, model_id, parsed, times)
            unknown = [item[0] for item, found in zip(parsed, matches, strict=True) if not found]
            wanted: dict[tuple[str, int], Any] = {}
            for (ident, _, label), found in zip(parsed, matches, strict=True):
                for pair in found:
                    if pair in wanted and not _same(wanted[pair], label):
                        raise LabelConflictError(
                            f"Two labels for request {pair[0]!r} row {pair[1]} in one call "
                            f"({wanted[pair]!r} and {label!r}, the second for id {ident!r})."
                        )
                    wanted[pair] = label
            stored = self._stored_labels(conn, model_id, list(wanted))
            conflicts = [
                (pair, stored[pair], label)
                for pair, label in wanted.items()
                if pair in stored and not _same(stored[pair], label)
            ]
            if conflicts:
                (rid, row), old, new = conflicts[0]
                raise LabelConflictError(
                    f"{len(conflicts)} label(s) contradict labels already recorded for {model!r} "
                    f"(request {rid!r} row {row}: recorded {old!r}, given {new!r}); nothing was "
                    "stored. Labels are ground truth and are not overwritten."
                )
            new_rows = [
                {
                    "model_id": model_id,
                    "request_id": rid,
                    "row": row,
                    "label": label,
                    "event_time": times[(rid, row)],
                    "arrived_at": now,
                }
                for (rid, row), label in wanted.items()
                if (rid, row) not in stored
            ]
            if new_rows:
                conn.execute(insert(labels), new_rows)
        return LabelResult(
            stored=len(new_rows),
            unchanged=len(wanted) - len(new_rows),
            unknown=unknown,
            delays_seconds=[(now - r["event_time"]).total_seconds() for r in new_rows],
        )

    def _match(
        self,
        conn: Connection,
        model_id: int,
        parsed: Sequence[tuple[Any, int | None, Any]],
        times: dict[tuple[str, int], datetime],
    ) -> list[list[tuple[str, int]]]:
        """The (request id, row) pairs each label names; ``times`` gets their event times."""
        ids = sorted({str(ident) for ident, _, _ in parsed})
        by_request: dict[str, list[int]] = {}
        by_key: dict[str, list[tuple[str, int]]] = {}
        model_keys = prediction_keys.c.model_id == model_id
        by_id = select(
            prediction_keys.c.request_id, prediction_keys.c.row, prediction_keys.c.event_time
        ).where(model_keys)
        for r in _where_in(conn, by_id, prediction_keys.c.request_id, ids):
            by_request.setdefault(r.request_id, []).append(int(r.row))
            times[(r.request_id, int(r.row))] = as_utc(r.event_time)
        by_value = select(
            prediction_keys.c.key,
            prediction_keys.c.request_id,
            prediction_keys.c.row,
            prediction_keys.c.event_time,
        ).where(model_keys)
        for k in _where_in(conn, by_value, prediction_keys.c.key, ids):
            by_key.setdefault(k.key, []).append((k.request_id, int(k.row)))
            times[(k.request_id, int(k.row))] = as_utc(k.event_time)
        out: list[list[tuple[str, int]]] = []
        for ident, row, _ in parsed:
            text = str(ident)
            found = [(text, r) for r in by_request.get(text, []) if row is None or r == row]
            if not found and row is None:
                found = by_key.get(text, [])
            out.append(sorted(found))  # in row order, whatever order the database answered
        return out

    def _stored_labels(
        self, conn: Connection, model_id: int, pairs: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], Any]:
        wanted = set(pairs)
        stored: dict[tuple[str, int], Any] = {}
        request_ids = sorted({rid for rid, _ in wanted})  # see _existing
        query = select(labels.c.request_id, labels.c.row, labels.c.label).where(
            labels.c.model_id == model_id
        )
        for r in _where_in(conn, query, labels.c.request_id, request_ids):
            if (r.request_id, int(r.row)) in wanted:
                stored[(r.request_id, int(r.row))] = r.label
        return stored

    # ------------------------------------------------------------------ upkeep
    def compact(self, model: str, *, target_rows: int = 100_000) -> tuple[int, int]:
        """Merge runs of small batches (same version and role, consecutive in logging order)
        into batches of up to ``target_rows`` rows; returns (batches before, after).

        Reading cost grows with the number of batches (about 100 µs each), and a quiet server
        commits a few rows at a time; compacting keeps a window's read time proportional to
        its rows. Rows and their order are kept; each row's ``logged_at`` becomes its merged
        batch's latest.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        if target_rows < 1:
            raise InvalidParameterError(f"target_rows must be positive. Got {target_rows}.")
        with self.database.write() as conn:
            model_id = self._model_id(conn, model)
            _lock_model(conn, model_id)
            rows = conn.execute(
                select(prediction_batches)
                .where(prediction_batches.c.model_id == model_id)
                .order_by(prediction_batches.c.id)
            ).all()
            groups: list[list[Any]] = []
            group_rows = 0
            for row in rows:
                last = groups[-1] if groups else None
                if (
                    last is not None
                    and (last[0].version, last[0].role) == (row.version, row.role)
                    and group_rows + row.n_rows <= target_rows
                ):
                    last.append(row)
                    group_rows += row.n_rows
                else:
                    groups.append([row])
                    group_rows = row.n_rows
            for group in groups:
                if len(group) == 1:
                    continue
                table = pa.concat_tables(
                    [_read_ipc(r.payload) for r in group], promote_options="permissive"
                ).combine_chunks()  # one record batch: reading many tiny ones is the slow part
                times = table["event_time"]
                conn.execute(
                    delete(prediction_batches).where(
                        prediction_batches.c.id.in_([r.id for r in group])
                    )
                )
                conn.execute(
                    insert(prediction_batches).values(
                        id=group[0].id,  # keeps the logging order of reads
                        model_id=model_id,
                        version=group[0].version,
                        role=group[0].role,
                        n_rows=table.num_rows,
                        event_time_min=as_utc(pc.min(times).as_py()),
                        event_time_max=as_utc(pc.max(times).as_py()),
                        logged_at=max(as_utc(r.logged_at) for r in group),
                        payload=_ipc(table),
                    )
                )
        return len(rows), len(groups)

    def prune(self, model: str, before: datetime, *, dry_run: bool = False) -> PruneResult:
        """Delete every logged prediction of ``model`` (served and shadow) with
        ``event_time < before``, with its keys and labels, in one transaction.

        A batch wholly before ``before`` is deleted without being read; one that straddles it
        is rewritten with only its rows at or after ``before``; later ones are not touched.
        Once its keys are gone, a pruned request id can be logged again. With ``dry_run``
        nothing changes and the result says what would be deleted.

        Parameters
        ----------
        model
            The registered model.
        before
            The cut-off event time; a naive datetime is UTC.
        dry_run
            Count, do not delete.

        Returns
        -------
        PruneResult
            Rows, batches deleted and rewritten, and labels deleted (or that would be).

        Raises
        ------
        ModelNotFoundError
            No registered model named ``model``.
        InvalidParameterError
            ``before`` is not a datetime.
        """
        from watchkeeper.store._retention import prune_batches

        if not isinstance(before, datetime):
            raise InvalidParameterError(
                f"before must be a datetime. Got {type(before).__name__} {before!r} instead."
            )
        cutoff = as_utc(before)
        if dry_run:
            with self.database.read() as conn:
                return prune_batches(conn, self._model_id(conn, model), cutoff, dry_run=True)
        with self.database.write() as conn:
            model_id = self._model_id(conn, model)
            _lock_model(conn, model_id)
            return prune_batches(conn, model_id, cutoff, dry_run=False)


_KEY_COLUMNS = '(model_id, request_id, "row", key, event_time)'
# Fixed-width columns first: fewer numpy calls per batch of keys (see _copy_rows).
_KEYS_COPY = (
    'COPY prediction_keys (model_id, "row", event_time, request_id, key) FROM STDIN (FORMAT binary)'
)
_BATCHES_COPY = (
    "COPY prediction_batches (model_id, version, role, n_rows, event_time_min, event_time_max, "
    "logged_at, payload) FROM STDIN (FORMAT binary)"
)
_COPY_SLICE = 5_000  # keys encoded and sent at a time


def _fetch_binary(conn: Connection, query: Select[Any]) -> Sequence[Sequence[Any]]:
    """The rows of ``query``; on PostgreSQL through the binary protocol, where a bytea in the
    text protocol is hex (twice the bytes for the server to send and the driver to decode)."""
    if conn.dialect.name != "postgresql":
        return conn.execute(query).all()
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    statement = str(compiled)
    driver = conn.connection.driver_connection
    with _driver_errors(conn, statement), driver.cursor(binary=True) as cursor:  # type: ignore[union-attr]
        cursor.execute(statement, compiled.params)
        rows: list[Sequence[Any]] = cursor.fetchall()
    return rows


def _has_lz4(conn: Connection) -> bool:
    """Whether this PostgreSQL server can TOAST-compress with lz4 (14 or later, with lz4)."""
    row = conn.exec_driver_sql(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    ).first()
    return bool(row is not None and row[0])


_LOOKUP = sa_table("wk_lookup_ids", sa_column("id"))


def _lock_model(conn: Connection, model_id: int) -> None:
    """Serialize the rewrites of one model's log (compact, prune) on PostgreSQL: each read
    batches and then replaces them, and two at once could bring back rows the other
    deleted. ``FOR NO KEY UPDATE`` leaves appends free (their foreign-key checks take only a
    key-share lock). SQLite's write transactions already hold the database's write lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            select(registered_models.c.id)
            .where(registered_models.c.id == model_id)
            .with_for_update(key_share=True)
        )


def _where_in(conn: Connection, query: Select[Any], column: Any, values: Sequence[str]) -> Any:
    """The rows of ``query`` whose ``column`` is one of ``values``.

    SQLite answers ``IN (...)`` lists from the index. PostgreSQL, right after a bulk load and
    before autovacuum has analyzed the table, may scan the whole table for each list; there the
    values go into a temporary table (COPY) and one semi-join answers them all.
    """
    if conn.dialect.name != "postgresql" or len(values) <= _IN_CHUNK:
        for start in range(0, len(values), _IN_CHUNK):
            yield from conn.execute(query.where(column.in_(values[start : start + _IN_CHUNK])))
        return
    conn.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS wk_lookup_ids (id text) ON COMMIT DELETE ROWS"
    )
    conn.exec_driver_sql("DELETE FROM wk_lookup_ids")
    statement = "COPY wk_lookup_ids (id) FROM STDIN"
    driver = conn.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        for value in values:
            copy.write_row((value,))
    conn.exec_driver_sql("ANALYZE wk_lookup_ids")
    yield from conn.execute(query.where(column.in_(select(_LOOKUP.c.id))))


def _same(a: Any, b: Any) -> bool:
    """Labels are equal when their JSON is (so True is not 1, and 1 is 1.0)."""
    return bool(a == b and isinstance(a, bool) == isinstance(b, bool))


def _insert_keys(conn: Connection, model_id: int, table: pa.Table) -> None:
    """SQLite: one ``prediction_keys`` row per row of ``table``, as a prepared executemany
    through the driver (per-row parameter handling in SQLAlchemy would cost more than the
    rest of the append)."""
    import pyarrow.compute as pc

    ids = table["request_id"].to_pylist()
    rows = table["row"].to_pylist()
    keys = table["key"].to_pylist()
    # SQLAlchemy's SQLite DateTime text format, so these compare with what it writes.
    times = pc.strftime(table["event_time"], format="%Y-%m-%d %H:%M:%S").to_pylist()
    conn.exec_driver_sql(
        f"INSERT INTO prediction_keys {_KEY_COLUMNS} VALUES (?, ?, ?, ?, ?)",
        [(model_id, *record) for record in zip(ids, rows, keys, times, strict=True)],
    )


def _parse_label(index: int, item: Mapping[str, Any]) -> tuple[Any, int | None, Any]:
    if not isinstance(item, Mapping):
        raise InvalidInputError(f"Label {index}: expected an object with id and label.")
    unknown = set(item) - {"id", "row", "label"}
    if unknown:
        raise InvalidInputError(
            f"Label {index}: unknown field(s) {sorted(unknown)}; expected id, row, label."
        )
    if "id" not in item or item["id"] is None or isinstance(item["id"], bool | float):
        raise InvalidInputError(f"Label {index}: 'id' (a request id or id value) is required.")
    if "label" not in item:
        raise InvalidInputError(f"Label {index}: 'label' is required.")
    label = item["label"]
    if label is None or (isinstance(label, float) and not math.isfinite(label)):
        raise InvalidInputError(f"Label {index}: 'label' must be a finite value. Got {label!r}.")
    if not isinstance(label, str | int | float | bool):
        raise InvalidInputError(
            f"Label {index}: 'label' must be a number, text or true/false. Got {label!r}."
        )
    json.dumps(label)
    row = item.get("row")
    if row is not None and (isinstance(row, bool) or not isinstance(row, int) or row < 0):
        raise InvalidInputError(f"Label {index}: 'row' must be a row number from 0. Got {row!r}.")
    return item["id"], row, label
