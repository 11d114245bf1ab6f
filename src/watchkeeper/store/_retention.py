"""Retention: deleting a model's logged predictions older than a cut-off
(:meth:`PredictionLog.prune <watchkeeper.store.predictions.PredictionLog.prune>`).

The batches' event-time ranges (indexed by ``(model_id, event_time_max)``) sort them into
three kinds without reading a payload: wholly before the cut-off (deleted by one statement),
wholly at or after it (untouched), and straddling it (read, filtered and rewritten in place:
the same id, so reads keep their logging order, with the same ``logged_at`` and
``event_time_max``). A served row's key and a label carry the prediction's event time, so
they go by one range delete each.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select, update

from watchkeeper.clock import as_utc
from watchkeeper.store._batch import _ipc, _read_ipc
from watchkeeper.store.tables import labels, prediction_batches, prediction_keys

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.engine import Connection

__all__ = ["PruneResult", "prune_batches"]


@dataclass(frozen=True)
class PruneResult:
    """What :meth:`~watchkeeper.store.predictions.PredictionLog.prune` deleted (in a dry run:
    would delete).

    Attributes
    ----------
    rows
        Logged predictions, served and shadow rows alike.
    batches_deleted
        Batches wholly before the cut-off, deleted.
    batches_rewritten
        Batches straddling the cut-off, rewritten with only their rows at or after it.
    labels
        Labels of the deleted predictions.
    """

    rows: int
    batches_deleted: int
    batches_rewritten: int
    labels: int

    def to_dict(self) -> dict[str, int]:
        """The counts as a plain dict (for JSON)."""
        return dataclasses.asdict(self)


def prune_batches(
    conn: Connection, model_id: int, before: datetime, *, dry_run: bool
) -> PruneResult:
    """Delete (unless ``dry_run``) the rows of model ``model_id`` with event time < ``before``
    (aware UTC), their keys and labels, in ``conn``'s transaction; returns the counts."""
    import pyarrow as pa
    import pyarrow.compute as pc

    batches = prediction_batches.c
    wholly_before = (batches.model_id == model_id) & (batches.event_time_max < before)
    n_deleted, rows = conn.execute(
        select(func.count(), func.coalesce(func.sum(batches.n_rows), 0)).where(wholly_before)
    ).one()
    straddling = conn.execute(
        select(batches.id, batches.payload)
        .where(batches.model_id == model_id)
        .where(batches.event_time_max >= before)
        .where(batches.event_time_min < before)
        .order_by(batches.id)
    ).all()
    rewritten: list[tuple[int, pa.Table]] = []
    for batch_id, payload in straddling:
        table = _read_ipc(payload)
        times = table["event_time"]
        kept = table.filter(pc.greater_equal(times, pa.scalar(before, times.type)))
        rows += table.num_rows - kept.num_rows
        rewritten.append((int(batch_id), kept.combine_chunks()))
    early_labels = (labels.c.model_id == model_id) & (labels.c.event_time < before)
    n_labels = conn.execute(select(func.count()).select_from(labels).where(early_labels))
    result = PruneResult(
        rows=int(rows),
        batches_deleted=int(n_deleted),
        batches_rewritten=len(rewritten),
        labels=int(n_labels.scalar_one()),
    )
    if dry_run:
        return result
    conn.execute(delete(prediction_batches).where(wholly_before))
    for batch_id, kept in rewritten:
        conn.execute(
            update(prediction_batches)
            .where(batches.id == batch_id)
            .values(
                n_rows=kept.num_rows,
                event_time_min=as_utc(pc.min(kept["event_time"]).as_py()),
                payload=_ipc(kept),
            )
        )
    conn.execute(
        delete(prediction_keys).where(
            (prediction_keys.c.model_id == model_id) & (prediction_keys.c.event_time < before)
        )
    )
    conn.execute(delete(labels).where(early_labels))
    return result
