"""The prediction-log side of :class:`~watchkeeper.Project`: batch ingestion, labels, reads.

Many churn models are scored in batch, not online; these methods feed the same log the
server writes (:mod:`watchkeeper.store.predictions`), without a server.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from watchkeeper.clock import as_utc
from watchkeeper.errors import InvalidInputError, InvalidParameterError
from watchkeeper.registry._formats import _scalar

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import datetime

    import pandas as pd

    from watchkeeper.clock import Clock
    from watchkeeper.config import WatchkeeperConfig
    from watchkeeper.registry._project import LoadedModel
    from watchkeeper.registry._records import ModelVersion
    from watchkeeper.store.database import Database
    from watchkeeper.store.predictions import LabelResult, PredictionLog, PruneResult

__all__ = ["ProjectLog"]

_CHUNK_ROWS = 50_000


class ProjectLog:
    """Mixed into :class:`~watchkeeper.Project` (which provides ``database``, ``clock``,
    ``config`` and ``get``)."""

    database: Database
    clock: Clock
    config: WatchkeeperConfig | None
    _log: PredictionLog | None = None

    if TYPE_CHECKING:  # provided by Project

        def get(
            self, name: str, version: int | str | None = None, *, alias: str | None = None
        ) -> ModelVersion: ...

        def load_model(self, uri: str | ModelVersion) -> LoadedModel: ...

    @property
    def log(self) -> PredictionLog:
        """The project's prediction log (:class:`~watchkeeper.store.predictions.PredictionLog`)."""
        if self._log is None:
            from watchkeeper.store.predictions import PredictionLog

            self._log = PredictionLog(self.database, self.clock)
        return self._log

    def log_predictions(
        self,
        name: str,
        data: pd.DataFrame,
        *,
        version: int | str | None = None,
        alias: str | None = "production",
        event_time_col: str | None = None,
        request_id: str | None = None,
    ) -> int:
        """Log batch-scored predictions: ``data`` holds the model's inputs and its outputs.

        The version is ``version`` if given, else the one ``alias`` points at. Output columns
        are those the version recorded (``prediction``, ``prediction_proba``...); any that
        ``data`` lacks are computed with the model. Each row's event time is
        ``data[event_time_col]`` (default: now); the version's id column, if it has one and
        ``data`` carries it, keys the rows for labels. Rows are logged under ``request_id``
        (default: a new id) with rows 0..n-1, in chunks of 50,000 rows, in one transaction.
        The project's ``log.columns`` rules apply to the inputs as logged (the model scores
        the data as given): ``exclude`` columns are left out, ``hash`` ones are logged as a
        keyed hash (:mod:`watchkeeper.store.privacy`; the key is ``WATCHKEEPER_LOG_HASH_KEY``).
        Returns the number of rows logged.

        Raises
        ------
        ConfigError
            ``log.columns`` hashes a column and ``WATCHKEEPER_LOG_HASH_KEY`` is not set.
        """
        import pandas as pd

        record = self.get(name, version) if version is not None else self.get(name, alias=alias)
        inputs = record.input_schema.names
        missing = [c for c in inputs if c not in data.columns]
        if missing:
            raise InvalidInputError(
                f"The data lacks the model's input(s) {', '.join(map(repr, missing))}."
            )
        if len(data) == 0:
            raise InvalidInputError("There are no rows to log.")
        outputs = _outputs(record)
        values: dict[str, Any] = {c: data[c].to_numpy() for c in outputs if c in data.columns}
        if len(values) < len(outputs):  # compute only those the data lacks
            computed = self._score(record, data[inputs], outputs)
            values.update({k: v for k, v in computed.items() if k not in values})
        if event_time_col is not None:
            if event_time_col not in data.columns:
                raise InvalidInputError(f"The data has no event-time column {event_time_col!r}.")
            times: Any = pd.to_datetime(data[event_time_col], utc=True)
            if times.isna().any():
                raise InvalidInputError(f"Column {event_time_col!r} has missing event times.")
        else:
            times = [self.clock.now()] * len(data)
        id_column = (record.data_info.get("roles") or {}).get("id")
        keys = data[id_column].tolist() if id_column and id_column in data.columns else None
        rid = request_id or f"batch-{uuid.uuid4().hex}"
        logged = self._logged_inputs(data[inputs])
        return self._log_chunks(record, logged, values, times, keys, rid)

    def _logged_inputs(self, inputs: pd.DataFrame) -> pd.DataFrame:
        """``inputs`` under the project's ``log.columns`` rules."""
        rules = self.config.log.columns if self.config is not None else {}
        if not rules:
            return inputs
        from watchkeeper.store.privacy import apply_column_rules, hash_key_from_env

        key = hash_key_from_env() if "hash" in rules.values() else None
        return apply_column_rules(inputs, rules, key)

    def _log_chunks(
        self,
        record: ModelVersion,
        inputs: pd.DataFrame,
        outputs: dict[str, Any],
        times: Any,
        keys: Sequence[Any] | None,
        request_id: str,
    ) -> int:
        import numpy as np

        from watchkeeper.store.predictions import make_batch

        times = list(times)
        batches = []
        for start in range(0, len(inputs), _CHUNK_ROWS):
            stop = min(start + _CHUNK_ROWS, len(inputs))
            batches.append(
                make_batch(
                    record.name,
                    record.version,
                    inputs.iloc[start:stop],
                    {k: np.asarray(v)[start:stop] for k, v in outputs.items()},
                    request_id=[request_id] * (stop - start),
                    rows=list(range(start, stop)),
                    keys=None if keys is None else keys[start:stop],
                    event_time=times[start:stop],
                )
            )
        self.log.append(batches)
        return len(inputs)

    def _score(
        self, record: ModelVersion, X: pd.DataFrame, outputs: Sequence[str]
    ) -> dict[str, Any]:
        import numpy as np

        model = self.load_model(record)
        info = record.data_info.get("outputs") or {}
        out: dict[str, Any] = {}
        if info.get("prediction"):
            out[info["prediction"]] = np.asarray(model.predict(X))
        proba = list(info.get("proba") or [])
        if proba:
            p = np.asarray(model.predict_proba(X), dtype=np.float64)
            if len(proba) == 1:
                out[proba[0]] = p[:, 1]
            else:
                out.update({c: p[:, k] for k, c in enumerate(proba)})
        return {k: v for k, v in out.items() if k in outputs}

    def log_labels(
        self,
        name: str,
        labels: pd.DataFrame | Sequence[dict[str, Any]],
        *,
        id_col: str = "id",
        label_col: str = "label",
        row_col: str | None = None,
    ) -> LabelResult:
        """Attach ground truth to logged predictions (see
        :meth:`~watchkeeper.store.predictions.PredictionLog.add_labels`): a list of
        ``{"id", "row", "label"}`` items, or a DataFrame with ``id_col``, ``label_col`` (and
        ``row_col``)."""
        import pandas as pd

        if isinstance(labels, pd.DataFrame):
            for column in (id_col, label_col, row_col):
                if column is not None and column not in labels.columns:
                    raise InvalidInputError(f"The labels have no column {column!r}.")
            items = [
                {
                    "id": _scalar(i),
                    "label": _scalar(v),
                    **({"row": int(r)} if row_col is not None else {}),
                }
                for i, v, r in zip(
                    labels[id_col],
                    labels[label_col],
                    labels[row_col] if row_col is not None else [None] * len(labels),
                    strict=True,
                )
            ]
        else:
            items = list(labels)
        return self.log.add_labels(name, items)

    def read_log(
        self,
        name: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        versions: Iterable[int] | None = None,
        roles: Iterable[str] = ("served",),
        with_labels: bool = False,
    ) -> pd.DataFrame:
        """A window of ``name``'s logged predictions (see
        :meth:`~watchkeeper.store.predictions.PredictionLog.read`)."""
        if since is not None and until is not None and as_utc(since) >= as_utc(until):
            raise InvalidParameterError(f"since ({since}) must be before until ({until}).")
        return self.log.read(
            name,
            since=since,
            until=until,
            versions=versions,
            roles=roles,
            with_labels=with_labels,
        )

    def prune_log(self, name: str, before: datetime, dry_run: bool = False) -> PruneResult:
        """Delete ``name``'s logged predictions (served and shadow) with event time before
        ``before`` (naive = UTC), with their labels (see
        :meth:`~watchkeeper.store.predictions.PredictionLog.prune`); with ``dry_run``, only
        count them."""
        return self.log.prune(name, before, dry_run=dry_run)


def _outputs(record: ModelVersion) -> list[str]:
    info = record.data_info.get("outputs") or {}
    names = [info.get("prediction"), *(info.get("proba") or [])]
    return [n for n in names if n]
