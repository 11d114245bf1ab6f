"""What the registry returns: frozen records of models, versions, events and served schemas."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["Event", "InputColumn", "InputSchema", "ModelVersion", "RegisteredModel"]


def _iso(when: datetime) -> str:
    return when.isoformat()


@dataclass(frozen=True, slots=True)
class InputColumn:
    """One input of a served model: its name, kind, dtype, and whether it may be missing.

    ``kind`` is a :data:`watchkeeper.schema.ColumnKind`; ``dtype`` the reference's dtype
    (``int64``, ``float64``, ``bool``, ``str``, ``datetime64[ns]``...); ``nullable`` is true when
    the reference had missing values in the column (or the schema declared it).
    """

    name: str
    kind: str
    dtype: str
    nullable: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "dtype": self.dtype,
            "nullable": self.nullable,
        }


@dataclass(frozen=True, slots=True)
class InputSchema:
    """The columns a prediction request must carry, in the model's order.

    Other reference columns (target, prediction, id...) are never part of it.
    """

    columns: tuple[InputColumn, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def to_dict(self) -> dict[str, Any]:
        return {"columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSchema:
        return cls(tuple(InputColumn(**c) for c in data["columns"]))


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One registered version of a model, as recorded.

    Attributes
    ----------
    name, version
        The registered model and the version number (from 1).
    status
        ``ready``, ``rejected`` (rolled back from; automatic policies never redeploy it) or
        ``archived``.
    flavour, artifact_sha256, artifact_uri, artifact_size, trusted_types
        How the model artifact is stored, its content hash (checked on every load) and the
        non-default types its safe loader is allowed to build.
    model_info
        Class, classes, feature names, whether it has ``predict_proba``.
    input_schema
        The served inputs (:class:`InputSchema`).
    data_schema
        The kinds and roles of the reference columns the baseline was fitted on
        (:meth:`watchkeeper.Schema.to_dict`), or None without reference data.
    baseline_sha256, reference_sha256, validation_sha256
        Artifacts of the fitted baseline and of the reference and validation data (Parquet).
    data_info
        Row counts, whether the stored data is a sample, output column names.
    metrics
        Validation metrics (``{"source": "validation" | "reference", "values": {...}}``).
    parent_version, source
        Lineage: the version it was derived from, and where it came from (trainer entry
        point, code version, data window, row counts).
    aliases
        Aliases pointing at this version when it was read.
    """

    name: str
    version: int
    status: str
    description: str
    flavour: str
    artifact_sha256: str
    artifact_uri: str
    artifact_size: int
    trusted_types: tuple[str, ...]
    model_info: dict[str, Any]
    input_schema: InputSchema
    data_schema: dict[str, Any] | None
    baseline_sha256: str | None
    reference_sha256: str | None
    validation_sha256: str | None
    data_info: dict[str, Any]
    metrics: dict[str, Any]
    parent_version: int | None
    source: dict[str, Any]
    tags: dict[str, str]
    created_at: datetime
    created_by: str
    aliases: tuple[str, ...] = ()

    @property
    def uri(self) -> str:
        """``models:/name/version``."""
        return f"models:/{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "uri": self.uri,
            "status": self.status,
            "description": self.description,
            "aliases": list(self.aliases),
            "artifact": {
                "sha256": self.artifact_sha256,
                "uri": self.artifact_uri,
                "size": self.artifact_size,
                "flavour": self.flavour,
                "trusted_types": list(self.trusted_types),
            },
            "model": self.model_info,
            "input_schema": self.input_schema.to_dict(),
            "data_schema": self.data_schema,
            "baseline_sha256": self.baseline_sha256,
            "reference_sha256": self.reference_sha256,
            "validation_sha256": self.validation_sha256,
            "data": self.data_info,
            "metrics": self.metrics,
            "parent_version": self.parent_version,
            "source": self.source,
            "tags": self.tags,
            "created_at": _iso(self.created_at),
            "created_by": self.created_by,
        }


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """A registered model: its versions' count, its aliases and tags."""

    name: str
    description: str
    tags: dict[str, str]
    created_at: datetime
    created_by: str
    latest_version: int | None
    aliases: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "tags": self.tags,
            "latest_version": self.latest_version,
            "aliases": self.aliases,
            "created_at": _iso(self.created_at),
            "created_by": self.created_by,
        }


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of a model's audit history (append-only).

    ``kind`` is ``model_created``, ``version_registered``, ``alias_move``, ``status_change``,
    or one recorded by :meth:`~watchkeeper.Project.record_event` (the server records
    ``deploy_failed`` when a deployed version does not load; later releases add more). An alias
    move has ``alias``, ``from_version`` (None for the alias's first move), ``to_version`` and
    ``trigger`` (``manual``, ``policy``, ``rollback`` or ``guard``).
    """

    id: int
    model: str
    kind: str
    version: int | None
    alias: str | None
    from_version: int | None
    to_version: int | None
    trigger: str | None
    reason: str
    actor: str
    created_at: datetime
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "kind": self.kind,
            "version": self.version,
            "alias": self.alias,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "trigger": self.trigger,
            "reason": self.reason,
            "actor": self.actor,
            "created_at": _iso(self.created_at),
            "details": self.details,
        }
