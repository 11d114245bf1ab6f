"""The registry's database side: models, versions, aliases and the append-only event history.

Alias moves and their guarantees
--------------------------------
* Every move is one transaction that locks the registered model's row first (``SELECT ... FOR
  UPDATE`` on PostgreSQL; on SQLite every write transaction holds the database's write lock),
  so moves on one model are serialized by the database: racing deploys are all recorded, in the
  order they committed, and the alias ends on the last of them.
* Each move appends one ``alias_move`` event (who, when, from, to, reason, trigger) and points
  the alias at it, in the same transaction. Events are never updated or deleted (the database
  refuses to), so each move's ``from_version`` is the previous move's ``to_version``.
* Rollback is a stack: a deploy pushes (its event's ``back_event_id`` is the move it covers),
  a rollback pops (it returns the alias to the version of the move underneath, and inherits
  that move's ``back_event_id``). So v1 -> v2 -> v3, rollback -> v2, rollback -> v1. The version
  rolled back from becomes ``rejected``; automatic triggers (``policy``, ``guard``) never move
  an alias onto a rejected version.
* Compare-and-set: ``deploy``, ``rollback`` and ``remove_alias`` take ``expected_version`` (the
  version the caller saw on the alias, or None for "no such alias"); it is checked in the
  move's transaction, and a mismatch raises :class:`~watchkeeper.errors.AliasMovedError` with
  nothing recorded. So an automatic step (a policy's promotion, the guard's rollback) never
  undoes a move someone made after it looked.
* Removing an alias (``remove_alias``) records an ``alias_move`` with ``to_version`` None and
  deletes the alias; a later deploy onto it starts a new stack (nothing to roll back to).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, or_, select, update

from watchkeeper.errors import (
    InvalidParameterError,
    RollbackError,
    StoreError,
    VersionStatusError,
)
from watchkeeper.registry._names import check_alias, check_model_name, check_tags, check_text
from watchkeeper.registry._reads import check_version_number
from watchkeeper.registry._writes import RegistryWrites, _check_expected, _check_trigger
from watchkeeper.store.tables import (
    EVENT_KINDS,
    VERSION_STATUSES,
    aliases,
    model_tags,
    model_versions,
    registered_models,
    version_tags,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import EllipsisType

    from sqlalchemy.engine import Connection

    from watchkeeper.registry._records import (
        Event,
        ModelVersion,
    )
    from watchkeeper.store.artifacts import ArtifactStore

__all__ = ["Registry"]

_AUTOMATIC = ("policy", "guard")

# Every column of model_versions a registration fills in (the rest the registry sets).
VERSION_FIELDS = (
    "flavour",
    "artifact_sha256",
    "artifact_uri",
    "artifact_size",
    "trusted_types",
    "model_info",
    "input_schema",
    "data_schema",
    "baseline_sha256",
    "reference_sha256",
    "validation_sha256",
    "data_info",
    "metrics",
    "parent_version",
    "source",
)


class Registry(RegistryWrites):
    """Registered models, versions, aliases and events in one database.

    Parameters
    ----------
    database
        An open :class:`~watchkeeper.store.database.Database` at the head schema revision.
    clock
        Stamps every record.
    actor
        Who is acting, recorded on every event (e.g. ``alice@laptop``).
    """

    # ------------------------------------------------------------------ writes
    def add_version(
        self,
        name: str,
        fields: Mapping[str, Any],
        *,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        model_description: str | None = None,
        model_tags_: Mapping[str, str] | None = None,
        artifacts: ArtifactStore | None = None,
    ) -> ModelVersion:
        """Record a new version (the next number) of ``name``, creating the model if new.

        With ``artifacts``, the transaction first checks (under the artifact lock, see
        :meth:`discard_unreferenced`) that every artifact the row names is still stored.
        """
        check_model_name(name)
        missing = set(VERSION_FIELDS) - set(fields)
        if missing:  # pragma: no cover - internal contract with _register
            raise InvalidParameterError(f"add_version is missing fields {sorted(missing)}.")
        check_text(description, "The description")
        if model_description is not None:
            check_text(model_description, "The model description")
        version_tags_ = check_tags(dict(tags or {}))
        parent = fields["parent_version"]
        if parent is not None:
            parent = check_version_number(parent, "parent_version")
        new_model_tags = check_tags(dict(model_tags_ or {}))

        def attempt(conn: Connection) -> int:
            now = self.clock.now()
            model = self._lock_model(conn, name)
            if artifacts is not None:
                self._lock_artifacts(conn)
                gone = [sha for sha in _shas(fields) if not artifacts.exists(sha)]
                if gone:
                    raise StoreError(
                        f"Artifact(s) {', '.join(g[:12] for g in gone)} of the new version were "
                        "removed by a registration that failed at the same time; nothing was "
                        "recorded. Register the version again."
                    )
            if model is None:
                model_id = self._create_model(conn, name, model_description or "", now)
            else:
                model_id = model.id
                if model_description is not None:
                    conn.execute(
                        update(registered_models)
                        .where(registered_models.c.id == model_id)
                        .values(description=model_description)
                    )
            if parent is not None:
                self._version_row(conn, model_id, name, parent)  # raises if there is none
            self._put_tags(conn, model_tags, "model_id", model_id, new_model_tags)
            number = (
                conn.execute(
                    select(func.coalesce(func.max(model_versions.c.version), 0)).where(
                        model_versions.c.model_id == model_id
                    )
                ).scalar_one()
                + 1
            )
            version_id = conn.execute(
                insert(model_versions)
                .values(
                    model_id=model_id,
                    version=number,
                    status="ready",
                    description=description,
                    created_at=now,
                    created_by=self.actor,
                    **{k: fields[k] for k in VERSION_FIELDS},
                )
                .returning(model_versions.c.id)
            ).scalar_one()
            self._put_tags(conn, version_tags, "version_id", version_id, version_tags_)
            self._event(
                conn,
                model_id,
                "version_registered",
                now,
                version=number,
                details={"artifact_sha256": fields["artifact_sha256"]},
            )
            return int(number)

        number = self._retrying(attempt)
        return self.get_version(name, number)

    def deploy(
        self,
        name: str,
        version: int,
        *,
        alias: str = "production",
        reason: str = "",
        trigger: str = "manual",
        expected_version: int | EllipsisType | None = ...,
        details: Mapping[str, Any] | None = None,
    ) -> Event:
        """Point ``alias`` at ``version`` (one recorded move); returns the move's event.

        If the alias already points at that version nothing is recorded and the event that
        put it there is returned. With ``expected_version`` (a version, or None for "the
        alias does not exist") the move happens only if the alias is there now, else
        :class:`~watchkeeper.errors.AliasMovedError`. ``details`` (JSON-safe) are recorded
        on the move's event, beside ``action``.
        """
        check_model_name(name)
        check_alias(alias)
        _check_trigger(trigger, ("manual", "policy"))
        version = check_version_number(version)
        expected = _check_expected(expected_version)

        def attempt(conn: Connection) -> int:
            now = self.clock.now()
            model_id = self._require_model(conn, name)
            target = self._version_row(conn, model_id, name, version)
            current = self._alias_row(conn, model_id, alias)
            self._compare(conn, name, alias, current, expected)
            if target.status == "archived":
                raise VersionStatusError(
                    f"Version {version} of {name!r} is archived and cannot be deployed; set its "
                    "status back to 'ready' first."
                )
            if target.status == "rejected" and trigger in _AUTOMATIC:
                raise VersionStatusError(
                    f"Version {version} of {name!r} was rejected (rolled back from); automatic "
                    f"triggers ({trigger!r}) never redeploy it. Deploy it by hand if you mean to."
                )
            if current is not None and current.version_id == target.id:
                return int(current.event_id)
            event_id = self._event(
                conn,
                model_id,
                "alias_move",
                now,
                version=version,
                alias=alias,
                from_version=None if current is None else self._number(conn, current.version_id),
                to_version=version,
                trigger=trigger,
                reason=reason,
                back_event_id=None if current is None else current.event_id,
                details={**dict(details or {}), "action": "deploy"},
            )
            self._set_alias(conn, model_id, alias, target.id, event_id, now, exists=current)
            if target.status == "rejected":
                self._status_change(
                    conn, model_id, version, "rejected", "ready", now, f"deployed by hand: {reason}"
                )
            return event_id

        return self._event_by_id(self._retrying(attempt))

    def rollback(
        self,
        name: str,
        *,
        alias: str = "production",
        to: int | None = None,
        reason: str = "",
        trigger: str = "rollback",
        expected_version: int | EllipsisType | None = ...,
    ) -> Event:
        """Return ``alias`` to the version that held it before the current one (or to ``to``).

        The version rolled back from becomes ``rejected``. Returns the move's event. With
        ``expected_version``, only if the alias points at that version now (else
        :class:`~watchkeeper.errors.AliasMovedError`).
        """
        check_model_name(name)
        check_alias(alias)
        _check_trigger(trigger, ("rollback", "guard"))
        if to is not None:
            to = check_version_number(to, "to")
        expected = _check_expected(expected_version)

        def attempt(conn: Connection) -> int:
            now = self.clock.now()
            model_id = self._require_model(conn, name)
            current = self._alias_row(conn, model_id, alias)
            self._compare(conn, name, alias, current, expected)
            if current is None:
                raise RollbackError(
                    f"{name!r} has no alias {alias!r}, so there is nothing to roll back."
                )
            top = self._event_row(conn, current.event_id)
            held = [] if top.to_version is None else [int(top.to_version)]
            below = top.back_event_id
            target = None
            while below is not None:
                row = self._event_row(conn, below)
                if to is None or row.to_version == to:
                    target = row
                    break
                held.append(int(row.to_version))
                below = row.back_event_id
            if target is None:
                if to is None:
                    raise RollbackError(
                        f"Alias {alias!r} of {name!r} is at version {top.to_version} and its "
                        "rollback stack is empty (it held no version before, or those were "
                        "rolled back from already); there is nothing to roll back to."
                    )
                if to == top.to_version:
                    raise RollbackError(f"Alias {alias!r} of {name!r} already points at {to}.")
                raise RollbackError(
                    f"Version {to} of {name!r} did not hold alias {alias!r} before version "
                    f"{top.to_version} (the versions under it: "
                    f"{', '.join(map(str, held[1:])) or 'none'}); use deploy to move it to any "
                    "version."
                )
            to_version = int(target.to_version)
            target_row = self._version_row(conn, model_id, name, to_version)
            if target_row.status == "archived" or (
                target_row.status == "rejected" and trigger in _AUTOMATIC
            ):
                raise VersionStatusError(
                    f"Cannot roll {alias!r} of {name!r} back to version {to_version}: it is "
                    f"{target_row.status}."
                )
            from_version = int(top.to_version)
            event_id = self._event(
                conn,
                model_id,
                "alias_move",
                now,
                version=to_version,
                alias=alias,
                from_version=from_version,
                to_version=to_version,
                trigger=trigger,
                reason=reason,
                back_event_id=target.back_event_id,
                details={"action": "rollback", "restores_event": int(target.id)},
            )
            self._set_alias(conn, model_id, alias, target_row.id, event_id, now, exists=current)
            if target_row.status == "rejected":  # a person chose it again, as with deploy
                self._status_change(
                    conn,
                    model_id,
                    to_version,
                    "rejected",
                    "ready",
                    now,
                    "rolled back to by hand" + (f": {reason}" if reason else ""),
                )
            rolled = self._version_row(conn, model_id, name, from_version)
            if rolled.status == "ready":
                self._status_change(
                    conn,
                    model_id,
                    from_version,
                    "ready",
                    "rejected",
                    now,
                    f"rolled back on alias {alias!r} (to version {to_version})"
                    + (f": {reason}" if reason else ""),
                )
            return event_id

        return self._event_by_id(self._retrying(attempt))

    def remove_alias(
        self,
        name: str,
        alias: str,
        *,
        reason: str = "",
        trigger: str = "manual",
        expected_version: int | EllipsisType | None = ...,
    ) -> Event | None:
        """Delete ``alias`` (one recorded move to no version); None if it does not exist.

        The event's ``from_version`` is the version it pointed at, ``to_version`` None. With
        ``expected_version``, only if the alias points there now (None: the alias must not
        exist, so nothing is done), else :class:`~watchkeeper.errors.AliasMovedError`.
        """
        check_model_name(name)
        check_alias(alias)
        _check_trigger(trigger, ("manual", "policy", "guard"))
        expected = _check_expected(expected_version)

        def attempt(conn: Connection) -> int | None:
            model_id = self._require_model(conn, name)
            current = self._alias_row(conn, model_id, alias)
            self._compare(conn, name, alias, current, expected)
            if current is None:
                return None
            old = self._number(conn, current.version_id)
            conn.execute(
                delete(aliases).where((aliases.c.model_id == model_id) & (aliases.c.name == alias))
            )
            return self._event(
                conn,
                model_id,
                "alias_move",
                self.clock.now(),
                version=old,
                alias=alias,
                from_version=old,
                to_version=None,
                trigger=trigger,
                reason=reason,
                details={"action": "remove"},
            )

        event_id = self._retrying(attempt)
        return None if event_id is None else self._event_by_id(event_id)

    def set_status(self, name: str, version: int, status: str, *, reason: str = "") -> Event | None:
        """Set a version's status (``ready``, ``rejected``, ``archived``); records the change.

        Archiving a version an alias points at is refused. Returns None if nothing changed.
        """
        check_model_name(name)
        version = check_version_number(version)
        if status not in VERSION_STATUSES:
            raise InvalidParameterError(
                f"status must be one of {', '.join(VERSION_STATUSES)}. Got {status!r} instead."
            )

        def attempt(conn: Connection) -> int | None:
            model_id = self._require_model(conn, name)
            row = self._version_row(conn, model_id, name, version)
            if row.status == status:
                return None
            if status == "archived":
                held = conn.execute(
                    select(aliases.c.name).where(aliases.c.version_id == row.id)
                ).scalars()
                held_by = sorted(held)
                if held_by:
                    raise VersionStatusError(
                        f"Version {version} of {name!r} is in use by alias(es) "
                        f"{', '.join(held_by)}; move them before archiving it."
                    )
            return self._status_change(
                conn, model_id, version, row.status, status, self.clock.now(), reason
            )

        event_id = self._retrying(attempt)
        return None if event_id is None else self._event_by_id(event_id)

    def record_event(
        self,
        name: str,
        kind: str,
        *,
        version: int | None = None,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> Event:
        """Append an event that changes no registry state (``deploy_failed``, later a monitor
        run's or a policy's decision) to ``name``'s history.

        The kinds the registry records itself (``model_created``, ``version_registered``,
        ``alias_move``, ``status_change``) are refused: they must come with their change.
        """
        check_model_name(name)
        if kind in _OWN_KINDS or not _KIND.fullmatch(kind):
            raise InvalidParameterError(
                f"kind must be a lower-case word (a-z, _; up to 32 characters) other than "
                f"{', '.join(_OWN_KINDS)}. Got {kind!r} instead."
            )
        if version is not None:
            version = check_version_number(version)

        def attempt(conn: Connection) -> int:
            model_id = self._require_model(conn, name)
            if version is not None:
                self._version_row(conn, model_id, name, version)
            return self._event(
                conn,
                model_id,
                kind,
                self.clock.now(),
                version=version,
                reason=reason,
                details=details,
            )

        return self._event_by_id(self._retrying(attempt))

    def discard_unreferenced(self, artifacts: ArtifactStore, shas: Sequence[str]) -> list[str]:
        """Delete those of ``shas`` that no version records; returns the ones deleted.

        A failed registration calls this for the artifacts it wrote. Content addressing means
        a concurrent registration of the same bytes may be using one of them, so the check and
        the deletion run in a write transaction holding the artifact lock, which
        :meth:`add_version` also takes before it checks its artifacts are still there.
        """
        if not shas:
            return []
        columns = (
            model_versions.c.artifact_sha256,
            model_versions.c.baseline_sha256,
            model_versions.c.reference_sha256,
            model_versions.c.validation_sha256,
        )
        deleted: list[str] = []
        with self.database.write() as conn:
            self._lock_artifacts(conn)
            for sha in dict.fromkeys(shas):
                used = conn.execute(
                    select(model_versions.c.id)
                    .where(or_(*(column == sha for column in columns)))
                    .limit(1)
                ).first()
                if used is None:
                    artifacts.delete(sha)
                    deleted.append(sha)
        return deleted


_OWN_KINDS = EVENT_KINDS  # recorded with their own changes
_KIND = re.compile(r"[a-z][a-z_]{0,31}")


def _shas(fields: Mapping[str, Any]) -> list[str]:
    keys = ("artifact_sha256", "baseline_sha256", "reference_sha256", "validation_sha256")
    return [fields[k] for k in keys if fields.get(k)]
