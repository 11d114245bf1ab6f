"""The project database's tables, as SQLAlchemy Core.

These definitions describe the schema at the newest migration; the schema itself is created
and changed only by the Alembic migrations in ``watchkeeper/store/migrations`` (a test checks
that the two agree). Every timestamp is stored in UTC.

==================== ==========================================================================
table                purpose
==================== ==========================================================================
registered_models    one row per model name: description, who created it and when
model_tags           key/value tags of a registered model
model_versions       one row per version: artifact (sha256, URI, flavour), served input schema,
                     baseline and data artifacts, validation metrics, lineage, status
version_tags         key/value tags of a version
aliases              which version each alias (``production``, ``challenger``...) points at, and
                     the event that put it there
events               the append-only audit history: registrations, alias moves (deploy and
                     rollback, with from, to, trigger, reason, who), status changes; the
                     database refuses UPDATE and DELETE on it
prediction_batches   the prediction log: one row per group commit (model, version, role,
                     event-time range), its rows as one Arrow IPC stream
prediction_keys      one narrow row per served prediction (request id, row, id value, time):
                     where labels find their predictions; a request id is logged once
labels               ground truth per (request id, row), with its arrival time
rejected_requests    requests the server refused, by reason and field (the newest ones)
monitor_runs         one row per monitor run: model, version, window, label coverage, status,
                     summary and what the concept-drift detectors saw
check_results        one row per check result of a run: the time series of every check
detector_states      each (model, version)'s concept-drift detectors, resumed by the next run
label_watermarks     per (model, version), the label arrival time its error stream consumed
alert_states         per (model, check, column), the last status alerted on and when
leases               short leases, so that one replica at a time runs a scheduled job
==================== ==========================================================================
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "ALIAS_TRIGGERS",
    "EVENT_KINDS",
    "VERSION_STATUSES",
    "alert_states",
    "aliases",
    "check_results",
    "detector_states",
    "events",
    "label_watermarks",
    "labels",
    "leases",
    "metadata",
    "model_tags",
    "model_versions",
    "monitor_runs",
    "prediction_batches",
    "prediction_keys",
    "registered_models",
    "rejected_requests",
    "version_tags",
]

VERSION_STATUSES = ("ready", "rejected", "archived")
ALIAS_TRIGGERS = ("manual", "policy", "rollback", "guard")
EVENT_KINDS = ("model_created", "version_registered", "alias_move", "status_change")

# Names follow one convention so that migrations (and their downgrades) can address them.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite gives autoincrement only to INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit id.
_Id = BigInteger().with_variant(Integer(), "sqlite")
_When = DateTime(timezone=True)

registered_models = Table(
    "registered_models",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text, nullable=False, server_default=""),
    Column("created_at", _When, nullable=False),
    Column("created_by", String(256), nullable=False),
)

model_tags = Table(
    "model_tags",
    metadata,
    Column(
        "model_id",
        _Id,
        ForeignKey("registered_models.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(128), primary_key=True),
    Column("value", Text, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("model_id", _Id, ForeignKey("registered_models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    # The model artifact.
    Column("flavour", String(32), nullable=False),
    Column("artifact_sha256", String(64), nullable=False),
    Column("artifact_uri", Text, nullable=False),
    Column("artifact_size", BigInteger, nullable=False),
    Column("trusted_types", JSON, nullable=False),
    Column("model_info", JSON, nullable=False),
    # What the model is served with and monitored against.
    Column("input_schema", JSON, nullable=False),
    Column("data_schema", JSON, nullable=True),
    Column("baseline_sha256", String(64), nullable=True),
    Column("reference_sha256", String(64), nullable=True),
    Column("validation_sha256", String(64), nullable=True),
    Column("data_info", JSON, nullable=False),
    Column("metrics", JSON, nullable=False),
    # Lineage.
    Column("parent_version", Integer, nullable=True),
    Column("source", JSON, nullable=False),
    Column("created_at", _When, nullable=False),
    Column("created_by", String(256), nullable=False),
    UniqueConstraint("model_id", "version"),
    CheckConstraint("version >= 1", name="version_positive"),
    CheckConstraint(
        "status IN ('ready', 'rejected', 'archived')",
        name="status_known",
    ),
)

version_tags = Table(
    "version_tags",
    metadata,
    Column(
        "version_id",
        _Id,
        ForeignKey("model_versions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(128), primary_key=True),
    Column("value", Text, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("model_id", _Id, ForeignKey("registered_models.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("version", Integer, nullable=True),
    Column("alias", String(64), nullable=True),
    Column("from_version", Integer, nullable=True),
    Column("to_version", Integer, nullable=True),
    Column("trigger", String(16), nullable=True),
    Column("reason", Text, nullable=False, server_default=""),
    Column("actor", String(256), nullable=False),
    Column("created_at", _When, nullable=False),
    # For an alias move: the move whose state lies under this one on the alias's stack, so a
    # rollback returns to it (see watchkeeper.registry).
    Column("back_event_id", _Id, ForeignKey("events.id"), nullable=True),
    Column("details", JSON, nullable=False),
    Index(None, "model_id", "id"),
)

aliases = Table(
    "aliases",
    metadata,
    Column("model_id", _Id, ForeignKey("registered_models.id"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("version_id", _Id, ForeignKey("model_versions.id"), nullable=False),
    Column("event_id", _Id, nullable=False),
    Column("updated_at", _When, nullable=False),
    ForeignKeyConstraint(["event_id"], ["events.id"], name="fk_aliases_event_id_events"),
)

# ---------------------------------------------------------------------------- prediction log
# A batch is what one group commit (or one ingested chunk) wrote for one model version and
# role: its rows as one Arrow IPC stream, so a window of a million predictions reads back as a
# few hundred blobs, not a million rows (benchmarks/prediction_log_layouts.py).
prediction_batches = Table(
    "prediction_batches",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("model_id", _Id, ForeignKey("registered_models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("role", String(16), nullable=False),
    Column("n_rows", Integer, nullable=False),
    Column("event_time_min", _When, nullable=False),
    Column("event_time_max", _When, nullable=False),
    Column("logged_at", _When, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    CheckConstraint("role IN ('served', 'shadow')", name="role_known"),
    Index(None, "model_id", "event_time_max"),
)

# One narrow row per served prediction: labels find their predictions here (by request id and
# row, or by the value of the model's id column), and a request id cannot be logged twice.
prediction_keys = Table(
    "prediction_keys",
    metadata,
    Column("model_id", _Id, ForeignKey("registered_models.id"), primary_key=True),
    Column("request_id", String(128), primary_key=True),
    Column("row", Integer, primary_key=True),
    Column("key", String(256), nullable=True),
    Column("event_time", _When, nullable=False),
    Index(None, "model_id", "key"),
    Index(None, "model_id", "event_time"),  # retention deletes by event time (0004)
)

# Ground truth, one row per labelled prediction (request id, row): the prediction's event time
# (windows read their labels by it) and the label's arrival time.
labels = Table(
    "labels",
    metadata,
    Column("model_id", _Id, ForeignKey("registered_models.id"), primary_key=True),
    Column("request_id", String(128), primary_key=True),
    Column("row", Integer, primary_key=True),
    Column("label", JSON, nullable=False),
    Column("event_time", _When, nullable=False),  # the prediction's, to read windows fast
    Column("arrived_at", _When, nullable=False),
    Index(None, "model_id", "event_time"),
    Index(None, "model_id", "arrived_at"),
)

# Requests the server refused (schema violations, bad bodies), kept small: the server writes
# them in the background, a few per second at most, and keeps the newest ones. Monitoring
# counts them by reason and field; the model name is text, since a request may name a model
# that does not exist.
rejected_requests = Table(
    "rejected_requests",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("model", String(64), nullable=False),
    Column("endpoint", String(128), nullable=False),
    Column("status", Integer, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("field", String(256), nullable=True),
    Column("message", String(1000), nullable=False),
    Column("created_at", _When, nullable=False),
    Index(None, "model", "created_at"),
)


# Monitoring history: one row per run, one per check result (the time series the report,
# the policy and /metrics read), and the state a run hands to the next one.
monitor_runs = Table(
    "monitor_runs",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("model_id", _Id, ForeignKey("registered_models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("alias", String(64), nullable=True),
    Column("ran_at", _When, nullable=False),
    Column("window_start", _When, nullable=True),
    Column("window_end", _When, nullable=True),
    Column("reference", String(16), nullable=False),
    Column("source", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("n_rows", Integer, nullable=False),
    Column("n_labeled", Integer, nullable=False),
    Column("label_coverage", Float, nullable=True),
    Column("duration_seconds", Float, nullable=False),
    Column("summary", JSON, nullable=False),
    Column("detectors", JSON, nullable=False),
    Index(None, "model_id", "ran_at"),
)

check_results = Table(
    "check_results",
    metadata,
    Column("run_id", _Id, ForeignKey("monitor_runs.id"), primary_key=True),
    Column("ordinal", Integer, primary_key=True),
    Column("model_id", _Id, nullable=False),
    Column("version", Integer, nullable=False),
    Column("ran_at", _When, nullable=False),
    Column("check", String(64), nullable=False),
    Column("column", String(256), nullable=True),
    Column("status", String(16), nullable=False),
    Column("value", Float, nullable=True),
    Column("reference_value", Float, nullable=True),
    Column("p_value", Float, nullable=True),
    Column("threshold", Float, nullable=True),
    Column("warning_threshold", Float, nullable=True),
    Column("n", Integer, nullable=True),
    Column("n_reference", Integer, nullable=True),
    Column("reason", Text, nullable=False),
    Column("details", JSON, nullable=False),
    Index(None, "model_id", "check", "column", "ran_at"),
)

detector_states = Table(
    "detector_states",
    metadata,
    Column("model_id", _Id, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("name", String(32), primary_key=True),
    Column("state", JSON, nullable=False),
    Column("updated_at", _When, nullable=False),
)

label_watermarks = Table(
    "label_watermarks",
    metadata,
    Column("model_id", _Id, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("arrived_at", _When, nullable=False),
    Column("updated_at", _When, nullable=False),
)

alert_states = Table(
    "alert_states",
    metadata,
    Column("model_id", _Id, primary_key=True),
    Column("check", String(64), primary_key=True),
    Column("column", String(256), primary_key=True),  # "" for a check on no column
    Column("status", String(16), nullable=False),
    Column("sent_at", _When, nullable=True),
    Column("updated_at", _When, nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", _When, nullable=False),
)
