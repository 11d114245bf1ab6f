"""The registry's reads: models, versions, aliases and history, as frozen records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from watchkeeper.clock import as_utc
from watchkeeper.errors import InvalidParameterError, ModelNotFoundError
from watchkeeper.registry._names import check_alias, check_model_name, check_text
from watchkeeper.registry._records import (
    Event,
    InputSchema,
    ModelVersion,
    RegisteredModel,
)
from watchkeeper.store.tables import (
    aliases,
    events,
    model_tags,
    model_versions,
    registered_models,
    version_tags,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row

    from watchkeeper.clock import Clock
    from watchkeeper.store.database import Database

__all__ = ["RegistryReader", "check_version_number"]

# Version numbers are 32-bit integers in both databases.
MAX_VERSION = 2**31 - 1


class RegistryReader:
    """Read access to the registry's tables (:class:`~watchkeeper.registry.Registry` adds the
    writes)."""

    def __init__(self, database: Database, clock: Clock, actor: str) -> None:
        self.database = database
        self.clock = clock
        self.actor = check_text(actor, "The actor", max_length=256)

    # ------------------------------------------------------------------ reads
    def models(self) -> list[RegisteredModel]:
        """Every registered model, by name."""
        with self.database.read() as conn:
            rows = conn.execute(select(registered_models).order_by(registered_models.c.name))
            return [self._model_record(conn, row) for row in rows.all()]

    def get_model(self, name: str) -> RegisteredModel:
        check_model_name(name)
        with self.database.read() as conn:
            row = conn.execute(
                select(registered_models).where(registered_models.c.name == name)
            ).first()
            if row is None:
                raise self._no_model(conn, name)
            return self._model_record(conn, row)

    def get_version(self, name: str, version: int) -> ModelVersion:
        check_model_name(name)
        version = check_version_number(version)
        with self.database.read() as conn:
            model_id = self._require_model(conn, name)
            return self._version_record(
                conn, name, self._version_row(conn, model_id, name, version)
            )

    def resolve_alias(self, name: str, alias: str) -> ModelVersion:
        """The version ``alias`` points at."""
        check_model_name(name)
        check_alias(alias)
        with self.database.read() as conn:
            model_id = self._require_model(conn, name)
            row = self._alias_row(conn, model_id, alias)
            if row is None:
                known = sorted(
                    conn.execute(
                        select(aliases.c.name).where(aliases.c.model_id == model_id)
                    ).scalars()
                )
                raise ModelNotFoundError(
                    f"{name!r} has no alias {alias!r} (its aliases: {', '.join(known) or 'none'})."
                    " Deploy a version to it first."
                )
            version = conn.execute(
                select(model_versions).where(model_versions.c.id == row.version_id)
            ).one()
            return self._version_record(conn, name, version)

    def latest_version(self, name: str) -> ModelVersion:
        model = self.get_model(name)
        if model.latest_version is None:
            raise ModelNotFoundError(f"{name!r} has no versions.")
        return self.get_version(name, model.latest_version)

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, oldest first."""
        check_model_name(name)
        with self.database.read() as conn:
            model_id = self._require_model(conn, name)
            rows = conn.execute(
                select(model_versions)
                .where(model_versions.c.model_id == model_id)
                .order_by(model_versions.c.version)
            ).all()
            return [self._version_record(conn, name, row) for row in rows]

    def history(
        self, name: str, *, kinds: tuple[str, ...] | None = None, limit: int | None = None
    ) -> list[Event]:
        """``name``'s events, oldest first (the newest ``limit`` of them if given)."""
        check_model_name(name)
        with self.database.read() as conn:
            model_id = self._require_model(conn, name)
            query = select(events).where(events.c.model_id == model_id)
            if kinds:
                query = query.where(events.c.kind.in_(kinds))
            if limit is not None:
                query = query.order_by(events.c.id.desc()).limit(limit)
                rows = list(reversed(conn.execute(query).all()))
            else:
                rows = list(conn.execute(query.order_by(events.c.id)).all())
            return [_event_record(name, row) for row in rows]

    # ------------------------------------------------------------------ helpers
    def _lock_model(self, conn: Connection, name: str) -> Row[Any] | None:
        return conn.execute(
            select(registered_models).where(registered_models.c.name == name).with_for_update()
        ).first()

    def _require_model(self, conn: Connection, name: str) -> int:
        row = (
            self._lock_model(conn, name)
            if _in_write(conn)
            else conn.execute(
                select(registered_models.c.id).where(registered_models.c.name == name)
            ).first()
        )
        if row is None:
            raise self._no_model(conn, name)
        return int(row.id)

    def _no_model(self, conn: Connection, name: str) -> ModelNotFoundError:
        names = sorted(conn.execute(select(registered_models.c.name)).scalars())
        listed = ", ".join(names[:10]) + (" ..." if len(names) > 10 else "")
        return ModelNotFoundError(
            f"No registered model named {name!r} (registered: {listed or 'none'})."
        )

    def _version_row(self, conn: Connection, model_id: int, name: str, version: int) -> Row[Any]:
        row = conn.execute(
            select(model_versions).where(
                (model_versions.c.model_id == model_id) & (model_versions.c.version == version)
            )
        ).first()
        if row is None:
            latest = conn.execute(
                select(func.max(model_versions.c.version)).where(
                    model_versions.c.model_id == model_id
                )
            ).scalar_one()
            have = "it has no versions" if latest is None else f"its versions are 1 to {latest}"
            raise ModelNotFoundError(f"{name!r} has no version {version} ({have}).")
        return row

    def _alias_row(self, conn: Connection, model_id: int, alias: str) -> Row[Any] | None:
        return conn.execute(
            select(aliases).where((aliases.c.model_id == model_id) & (aliases.c.name == alias))
        ).first()

    def _event_row(self, conn: Connection, event_id: int) -> Row[Any]:
        return conn.execute(select(events).where(events.c.id == event_id)).one()

    def _event_by_id(self, event_id: int) -> Event:
        with self.database.read() as conn:
            row = conn.execute(
                select(events, registered_models.c.name.label("model_name"))
                .join(registered_models, registered_models.c.id == events.c.model_id)
                .where(events.c.id == event_id)
            ).one()
        return _event_record(row.model_name, row)

    def _model_record(self, conn: Connection, row: Row[Any]) -> RegisteredModel:
        tags = dict(
            conn.execute(
                select(model_tags.c.key, model_tags.c.value).where(model_tags.c.model_id == row.id)
            ).all()
        )
        latest = conn.execute(
            select(func.max(model_versions.c.version)).where(model_versions.c.model_id == row.id)
        ).scalar_one()
        alias_rows = conn.execute(
            select(aliases.c.name, model_versions.c.version)
            .join(model_versions, model_versions.c.id == aliases.c.version_id)
            .where(aliases.c.model_id == row.id)
            .order_by(aliases.c.name)
        ).all()
        return RegisteredModel(
            name=row.name,
            description=row.description,
            tags=tags,
            created_at=as_utc(row.created_at),
            created_by=row.created_by,
            latest_version=None if latest is None else int(latest),
            aliases={a: int(v) for a, v in alias_rows},
        )

    def _version_record(self, conn: Connection, name: str, row: Row[Any]) -> ModelVersion:
        tags = dict(
            conn.execute(
                select(version_tags.c.key, version_tags.c.value).where(
                    version_tags.c.version_id == row.id
                )
            ).all()
        )
        held = sorted(
            conn.execute(select(aliases.c.name).where(aliases.c.version_id == row.id)).scalars()
        )
        return ModelVersion(
            name=name,
            version=int(row.version),
            status=row.status,
            description=row.description,
            flavour=row.flavour,
            artifact_sha256=row.artifact_sha256,
            artifact_uri=row.artifact_uri,
            artifact_size=int(row.artifact_size),
            trusted_types=tuple(row.trusted_types),
            model_info=dict(row.model_info),
            input_schema=InputSchema.from_dict(row.input_schema),
            data_schema=row.data_schema,
            baseline_sha256=row.baseline_sha256,
            reference_sha256=row.reference_sha256,
            validation_sha256=row.validation_sha256,
            data_info=dict(row.data_info),
            metrics=dict(row.metrics),
            parent_version=row.parent_version,
            source=dict(row.source),
            tags=tags,
            created_at=as_utc(row.created_at),
            created_by=row.created_by,
            aliases=tuple(held),
        )


def _event_record(name: str, row: Row[Any]) -> Event:
    return Event(
        id=int(row.id),
        model=name,
        kind=row.kind,
        version=row.version,
        alias=row.alias,
        from_version=row.from_version,
        to_version=row.to_version,
        trigger=row.trigger,
        reason=row.reason,
        actor=row.actor,
        created_at=as_utc(row.created_at),
        details=dict(row.details),
    )


def _in_write(conn: Connection) -> bool:
    return bool(conn.get_execution_options().get("watchkeeper_write", False))


def check_version_number(version: object, what: str = "version") -> int:
    """``version`` if it is a version number (an int from 1 to 2**31 - 1), else an error."""
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_VERSION:
        raise InvalidParameterError(
            f"{what} must be a version number (an integer from 1 to {MAX_VERSION}). Got "
            f"{version!r} instead."
        )
    return version
