"""The model registry: registered models, versions, tags, aliases and the event history.

Revision ID: 0001_registry
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_registry"
down_revision = None
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", _When, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_registered_models"),
        sa.UniqueConstraint("name", name="uq_registered_models_name"),
    )
    op.create_table(
        "model_tags",
        sa.Column("model_id", _Id, nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("model_id", "key", name="pk_model_tags"),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name="fk_model_tags_model_id_registered_models",
            ondelete="CASCADE",
        ),
    )
    # Check constraints get their "ck_<table>_" prefix from the naming convention of
    # watchkeeper.store.tables.metadata (env.py's target_metadata), as there.
    op.create_table(
        "model_versions",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("model_id", _Id, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("flavour", sa.String(32), nullable=False),
        sa.Column("artifact_sha256", sa.String(64), nullable=False),
        sa.Column("artifact_uri", sa.Text, nullable=False),
        sa.Column("artifact_size", sa.BigInteger, nullable=False),
        sa.Column("trusted_types", sa.JSON, nullable=False),
        sa.Column("model_info", sa.JSON, nullable=False),
        sa.Column("input_schema", sa.JSON, nullable=False),
        sa.Column("data_schema", sa.JSON, nullable=True),
        sa.Column("baseline_sha256", sa.String(64), nullable=True),
        sa.Column("reference_sha256", sa.String(64), nullable=True),
        sa.Column("validation_sha256", sa.String(64), nullable=True),
        sa.Column("data_info", sa.JSON, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("parent_version", sa.Integer, nullable=True),
        sa.Column("source", sa.JSON, nullable=False),
        sa.Column("created_at", _When, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model_versions"),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name="fk_model_versions_model_id_registered_models",
        ),
        sa.UniqueConstraint("model_id", "version", name="uq_model_versions_model_id_version"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
        sa.CheckConstraint(
            "status IN ('ready', 'rejected', 'archived')",
            name="status_known",
        ),
    )
    op.create_table(
        "version_tags",
        sa.Column("version_id", _Id, nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("version_id", "key", name="pk_version_tags"),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name="fk_version_tags_version_id_model_versions",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "events",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("model_id", _Id, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("alias", sa.String(64), nullable=True),
        sa.Column("from_version", sa.Integer, nullable=True),
        sa.Column("to_version", sa.Integer, nullable=True),
        sa.Column("trigger", sa.String(16), nullable=True),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("created_at", _When, nullable=False),
        sa.Column("back_event_id", _Id, nullable=True),
        sa.Column("details", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.ForeignKeyConstraint(
            ["model_id"], ["registered_models.id"], name="fk_events_model_id_registered_models"
        ),
        sa.ForeignKeyConstraint(
            ["back_event_id"], ["events.id"], name="fk_events_back_event_id_events"
        ),
    )
    op.create_index("ix_events_model_id_id", "events", ["model_id", "id"])
    op.create_table(
        "aliases",
        sa.Column("model_id", _Id, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version_id", _Id, nullable=False),
        sa.Column("event_id", _Id, nullable=False),
        sa.Column("updated_at", _When, nullable=False),
        sa.PrimaryKeyConstraint("model_id", "name", name="pk_aliases"),
        sa.ForeignKeyConstraint(
            ["model_id"], ["registered_models.id"], name="fk_aliases_model_id_registered_models"
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["model_versions.id"], name="fk_aliases_version_id_model_versions"
        ),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name="fk_aliases_event_id_events"),
    )


def downgrade() -> None:
    for table in (
        "aliases",
        "events",
        "version_tags",
        "model_versions",
        "model_tags",
        "registered_models",
    ):
        op.drop_table(table)
