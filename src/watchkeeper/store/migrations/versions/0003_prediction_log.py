"""The prediction log: batches of logged predictions (Arrow IPC), their keys, and labels.

Revision ID: 0003_prediction_log
Revises: 0002_events_append_only
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_prediction_log"
down_revision = "0002_events_append_only"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "prediction_batches",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("model_id", _Id, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("n_rows", sa.Integer, nullable=False),
        sa.Column("event_time_min", _When, nullable=False),
        sa.Column("event_time_max", _When, nullable=False),
        sa.Column("logged_at", _When, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_prediction_batches"),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name="fk_prediction_batches_model_id_registered_models",
        ),
        # The "ck_<table>_" prefix comes from the metadata's naming convention (env.py).
        sa.CheckConstraint("role IN ('served', 'shadow')", name="role_known"),
    )
    op.create_index(
        "ix_prediction_batches_model_id_event_time_max",
        "prediction_batches",
        ["model_id", "event_time_max"],
    )
    op.create_table(
        "prediction_keys",
        sa.Column("model_id", _Id, nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("row", sa.Integer, nullable=False),
        sa.Column("key", sa.String(256), nullable=True),
        sa.Column("event_time", _When, nullable=False),
        sa.PrimaryKeyConstraint("model_id", "request_id", "row", name="pk_prediction_keys"),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name="fk_prediction_keys_model_id_registered_models",
        ),
    )
    op.create_index("ix_prediction_keys_model_id_key", "prediction_keys", ["model_id", "key"])
    op.create_table(
        "labels",
        sa.Column("model_id", _Id, nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("row", sa.Integer, nullable=False),
        sa.Column("label", sa.JSON, nullable=False),
        sa.Column("event_time", _When, nullable=False),
        sa.Column("arrived_at", _When, nullable=False),
        sa.PrimaryKeyConstraint("model_id", "request_id", "row", name="pk_labels"),
        sa.ForeignKeyConstraint(
            ["model_id"], ["registered_models.id"], name="fk_labels_model_id_registered_models"
        ),
    )
    op.create_index("ix_labels_model_id_event_time", "labels", ["model_id", "event_time"])
    op.create_index("ix_labels_model_id_arrived_at", "labels", ["model_id", "arrived_at"])


def downgrade() -> None:
    for table in ("labels", "prediction_keys", "prediction_batches"):
        op.drop_table(table)
