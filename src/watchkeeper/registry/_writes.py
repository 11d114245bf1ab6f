"""The registry's write machinery: transactions retried once on a racing insert, the model
lock, alias rows, events and status changes, shared by every write of :class:`Registry`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from watchkeeper.errors import AliasMovedError, InvalidParameterError, StoreError
from watchkeeper.registry._names import check_text
from watchkeeper.registry._reads import RegistryReader, check_version_number
from watchkeeper.store.tables import (
    ALIAS_TRIGGERS,
    aliases,
    events,
    model_versions,
    registered_models,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import EllipsisType

    from sqlalchemy.engine import Connection, Row


__all__ = ["RegistryWrites"]

T = TypeVar("T")

# Key of the PostgreSQL advisory lock guarding artifact clean-up ("wk" + "art").
_ARTIFACT_LOCK = 0x776B617274


class RegistryWrites(RegistryReader):
    """:class:`~watchkeeper.registry._reads.RegistryReader` plus the helpers writes share."""

    # ------------------------------------------------------------------ helpers
    def _retrying(self, attempt: Callable[[Connection], T]) -> T:
        """Run ``attempt`` in a write transaction; once more if a racing writer created the
        same model first (the unique name makes the loser fail cleanly)."""
        for tries in range(3):
            try:
                with self.database.write() as conn:
                    return attempt(conn)
            except IntegrityError as exc:
                if tries == 2 or "registered_models" not in str(exc.orig):
                    raise StoreError(
                        f"The registry could not record the change: {exc.orig}"
                    ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _lock_artifacts(self, conn: Connection) -> None:
        """Serialize "are these artifacts still there / still unused?" checks with each other.

        SQLite write transactions already exclude each other; PostgreSQL takes a
        transaction-scoped advisory lock.
        """
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(_ARTIFACT_LOCK)))

    def _create_model(self, conn: Connection, name: str, description: str, now: Any) -> int:
        model_id = conn.execute(
            insert(registered_models)
            .values(name=name, description=description, created_at=now, created_by=self.actor)
            .returning(registered_models.c.id)
        ).scalar_one()
        self._event(conn, int(model_id), "model_created", now)
        return int(model_id)

    def _put_tags(
        self, conn: Connection, table: Any, key_column: str, owner: int, tags: Mapping[str, str]
    ) -> None:
        for key, value in tags.items():
            where = (table.c[key_column] == owner) & (table.c.key == key)
            if conn.execute(select(table.c.key).where(where)).first() is None:
                conn.execute(insert(table).values({key_column: owner, "key": key, "value": value}))
            else:
                conn.execute(update(table).where(where).values(value=value))

    def _number(self, conn: Connection, version_id: int) -> int:
        return int(
            conn.execute(
                select(model_versions.c.version).where(model_versions.c.id == version_id)
            ).scalar_one()
        )

    def _compare(
        self,
        conn: Connection,
        name: str,
        alias: str,
        current: Row[Any] | None,
        expected: int | EllipsisType | None,
    ) -> None:
        """Raise :class:`AliasMovedError` unless ``alias`` (its row ``current``) is where the
        caller expected (``...``: no expectation)."""
        if expected is ...:
            return
        actual = None if current is None else self._number(conn, current.version_id)
        if actual != expected:
            raise AliasMovedError(
                f"Alias {alias!r} of {name!r} was expected at {_at(expected)} but is at "
                f"{_at(actual)}: it moved since the caller looked. Nothing was changed."
            )

    def _set_alias(
        self,
        conn: Connection,
        model_id: int,
        alias: str,
        version_id: int,
        event_id: int,
        now: Any,
        *,
        exists: Row[Any] | None,
    ) -> None:
        values = {"version_id": version_id, "event_id": event_id, "updated_at": now}
        if exists is None:
            conn.execute(insert(aliases).values(model_id=model_id, name=alias, **values))
        else:
            conn.execute(
                update(aliases)
                .where((aliases.c.model_id == model_id) & (aliases.c.name == alias))
                .values(**values)
            )

    def _event(
        self,
        conn: Connection,
        model_id: int,
        kind: str,
        now: Any,
        *,
        version: int | None = None,
        alias: str | None = None,
        from_version: int | None = None,
        to_version: int | None = None,
        trigger: str | None = None,
        reason: str = "",
        back_event_id: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        check_text(reason, "The reason")
        return int(
            conn.execute(
                insert(events)
                .values(
                    model_id=model_id,
                    kind=kind,
                    version=version,
                    alias=alias,
                    from_version=from_version,
                    to_version=to_version,
                    trigger=trigger,
                    reason=reason,
                    actor=self.actor,
                    created_at=now,
                    back_event_id=back_event_id,
                    details=dict(details or {}),
                )
                .returning(events.c.id)
            ).scalar_one()
        )

    def _status_change(
        self,
        conn: Connection,
        model_id: int,
        version: int,
        old: str,
        new: str,
        now: Any,
        reason: str,
    ) -> int:
        conn.execute(
            update(model_versions)
            .where((model_versions.c.model_id == model_id) & (model_versions.c.version == version))
            .values(status=new)
        )
        return self._event(
            conn,
            model_id,
            "status_change",
            now,
            version=version,
            reason=reason,
            details={"from": old, "to": new},
        )


def _check_trigger(trigger: str, allowed: tuple[str, ...]) -> None:
    if trigger not in allowed:
        raise InvalidParameterError(
            f"trigger must be one of {', '.join(allowed)} here (alias moves know "
            f"{', '.join(ALIAS_TRIGGERS)}). Got {trigger!r} instead."
        )


def _check_expected(expected: object) -> int | EllipsisType | None:
    if expected is ... or expected is None:
        return expected
    return check_version_number(expected, "expected_version")


def _at(version: int | None) -> str:
    return "no version (no such alias)" if version is None else f"version {version}"
