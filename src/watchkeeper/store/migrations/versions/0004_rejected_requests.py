"""Requests the server refused, by reason and field (a small, pruned table); an index for
pruning the prediction log by event time.

Revision ID: 0004_rejected_requests
Revises: 0003_prediction_log
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_rejected_requests"
down_revision = "0003_prediction_log"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rejected_requests",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("endpoint", sa.String(128), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("field", sa.String(256), nullable=True),
        sa.Column("message", sa.String(1000), nullable=False),
        sa.Column("created_at", _When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rejected_requests"),
    )
    op.create_index(
        "ix_rejected_requests_model_created_at", "rejected_requests", ["model", "created_at"]
    )
    op.create_index(
        "ix_prediction_keys_model_id_event_time", "prediction_keys", ["model_id", "event_time"]
    )


def downgrade() -> None:
    op.drop_index("ix_prediction_keys_model_id_event_time", table_name="prediction_keys")
    op.drop_index("ix_rejected_requests_model_created_at", table_name="rejected_requests")
    op.drop_table("rejected_requests")
