"""Monitor runs and their check results (time series per model, version, check and column),
concept-drift detector state, the label-arrival watermark, alert de-duplication and leases.

Revision ID: 0005_monitoring
Revises: 0004_rejected_requests
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_monitoring"
down_revision = "0004_rejected_requests"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "monitor_runs",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("model_id", _Id, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("alias", sa.String(64), nullable=True),
        sa.Column("ran_at", _When, nullable=False),
        sa.Column("window_start", _When, nullable=True),
        sa.Column("window_end", _When, nullable=True),
        sa.Column("reference", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("n_rows", sa.Integer, nullable=False),
        sa.Column("n_labeled", sa.Integer, nullable=False),
        sa.Column("label_coverage", sa.Float, nullable=True),
        sa.Column("duration_seconds", sa.Float, nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("detectors", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_monitor_runs"),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name="fk_monitor_runs_model_id_registered_models",
        ),
    )
    op.create_index("ix_monitor_runs_model_id_ran_at", "monitor_runs", ["model_id", "ran_at"])
    op.create_table(
        "check_results",
        sa.Column("run_id", _Id, nullable=False),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("model_id", _Id, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("ran_at", _When, nullable=False),
        sa.Column("check", sa.String(64), nullable=False),
        sa.Column("column", sa.String(256), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("reference_value", sa.Float, nullable=True),
        sa.Column("p_value", sa.Float, nullable=True),
        sa.Column("threshold", sa.Float, nullable=True),
        sa.Column("warning_threshold", sa.Float, nullable=True),
        sa.Column("n", sa.Integer, nullable=True),
        sa.Column("n_reference", sa.Integer, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "ordinal", name="pk_check_results"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["monitor_runs.id"], name="fk_check_results_run_id_monitor_runs"
        ),
    )
    op.create_index(
        "ix_check_results_model_id_check_column_ran_at",
        "check_results",
        ["model_id", "check", "column", "ran_at"],
    )
    op.create_table(
        "detector_states",
        sa.Column("model_id", _Id, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("updated_at", _When, nullable=False),
        sa.PrimaryKeyConstraint("model_id", "version", "name", name="pk_detector_states"),
    )
    op.create_table(
        "label_watermarks",
        sa.Column("model_id", _Id, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("arrived_at", _When, nullable=False),
        sa.Column("updated_at", _When, nullable=False),
        sa.PrimaryKeyConstraint("model_id", "version", name="pk_label_watermarks"),
    )
    op.create_table(
        "alert_states",
        sa.Column("model_id", _Id, nullable=False),
        sa.Column("check", sa.String(64), nullable=False),
        sa.Column("column", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sent_at", _When, nullable=True),
        sa.Column("updated_at", _When, nullable=False),
        sa.PrimaryKeyConstraint("model_id", "check", "column", name="pk_alert_states"),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", _When, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_table("alert_states")
    op.drop_table("label_watermarks")
    op.drop_table("detector_states")
    op.drop_index("ix_check_results_model_id_check_column_ran_at", table_name="check_results")
    op.drop_table("check_results")
    op.drop_index("ix_monitor_runs_model_id_ran_at", table_name="monitor_runs")
    op.drop_table("monitor_runs")
