"""The project database's migrations, on a SQLite file and on PostgreSQL: upgrading keeps
every row, the migrated schema is the one ``watchkeeper.store.tables`` describes, an
out-of-date database is refused with the command that fixes it, and SQLite connections are
configured as documented."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, insert, inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from watchkeeper.errors import SchemaOutOfDateError, StoreError
from watchkeeper.registry import Project
from watchkeeper.store.database import UPGRADE_COMMAND, Database, _alembic_config, head_revision
from watchkeeper.store.tables import (
    aliases,
    events,
    metadata,
    model_tags,
    model_versions,
    registered_models,
    version_tags,
)

FIRST = "0001_registry"
APPEND_ONLY = "events are append-only"
WHEN = datetime(2026, 11, 25, 9, 30, 15, 123456, tzinfo=UTC)
METRICS = {
    "source": "validation",
    "task": "binary",
    "n": 1000,
    "values": {"roc_auc": 0.8753733788132817, "log_loss": 0.3957597546061728, "brier": None},
}
INPUT_SCHEMA = {
    "columns": [
        {"name": "tenure_months", "kind": "numeric", "dtype": "int64", "nullable": False},
        {"name": "contract", "kind": "categorical", "dtype": "str", "nullable": True},
    ]
}


# ---------------------------------------------------------------------------- helpers


def _version_row(model_id: int, number: int) -> dict[str, Any]:
    sha = f"{number:x}" * 64
    return {
        "model_id": model_id,
        "version": number,
        "status": "ready",
        "description": f"version {number}: logistic regression, C={10.0**-number:g}",
        "flavour": "sklearn-skops",
        "artifact_sha256": sha,
        "artifact_uri": f"file:///srv/project/artifacts/sha256/{sha[:2]}/{sha}",
        "artifact_size": 189_935 + number,
        "trusted_types": ["numpy.dtype"],
        "model_info": {
            "class": "sklearn.pipeline.Pipeline",
            "has_predict_proba": True,
            "classes": [0, 1],
            "feature_names": ["tenure_months", "contract"],
            "n_features": 2,
        },
        "input_schema": INPUT_SCHEMA,
        "data_schema": None if number == 2 else {"schema_version": 1, "columns": []},
        "baseline_sha256": "c" * 64,
        "reference_sha256": "d" * 64,
        "validation_sha256": None,
        "data_info": {"rows": {"reference": 3000}, "sampled": {"reference": False}},
        "metrics": METRICS,
        "parent_version": None if number == 1 else number - 1,
        "source": {"kind": "manual", "code_version": "9203a8d", "note": "réentraîné ✓"},
        "created_at": WHEN + timedelta(minutes=number),
        "created_by": "alice@laptop",
    }


def _insert_registry_rows(database: Database) -> None:
    """A model ``churn`` with two versions, tags, and ``production`` moved from 1 to 2: the
    rows the registry writes (its tables have not changed since 0001, only its rules)."""
    with database.write() as conn:
        model_id = conn.execute(
            insert(registered_models)
            .values(
                name="churn",
                description="Monthly churn — retention team",
                created_at=WHEN,
                created_by="alice@laptop",
            )
            .returning(registered_models.c.id)
        ).scalar_one()
        conn.execute(
            insert(model_tags),
            [
                {"model_id": model_id, "key": "team", "value": "retention"},
                {"model_id": model_id, "key": "owner", "value": "alice"},
            ],
        )
        version_ids = [
            conn.execute(
                insert(model_versions)
                .values(_version_row(model_id, number))
                .returning(model_versions.c.id)
            ).scalar_one()
            for number in (1, 2)
        ]
        conn.execute(
            insert(version_tags),
            [
                {"version_id": version_ids[0], "key": "stage", "value": "baseline"},
                {"version_id": version_ids[1], "key": "stage", "value": "candidate"},
            ],
        )

        def event(kind: str, **values: Any) -> int:
            return int(
                conn.execute(
                    insert(events)
                    .values(
                        model_id=model_id,
                        kind=kind,
                        actor="alice@laptop",
                        created_at=WHEN + timedelta(hours=1),
                        **{"details": {}, **values},
                    )
                    .returning(events.c.id)
                ).scalar_one()
            )

        event("model_created")
        for number in (1, 2):
            event("version_registered", version=number, details={"artifact_sha256": "ab" * 32})
        first = event(
            "alias_move",
            version=1,
            alias="production",
            to_version=1,
            trigger="manual",
            details={"action": "deploy"},
        )
        second = event(
            "alias_move",
            version=2,
            alias="production",
            from_version=1,
            to_version=2,
            trigger="manual",
            reason="better AUC on the last month",
            back_event_id=first,
            details={"action": "deploy"},
        )
        conn.execute(
            insert(aliases).values(
                model_id=model_id,
                name="production",
                version_id=version_ids[1],
                event_id=second,
                updated_at=WHEN + timedelta(hours=1),
            )
        )


ROW_COUNTS = {
    "registered_models": 1,
    "model_tags": 2,
    "model_versions": 2,
    "version_tags": 2,
    "events": 5,
    "aliases": 1,
}


# The tables 0001 creates: the ones these tests fill and follow across migrations.
REGISTRY_TABLES = (
    "registered_models",
    "model_tags",
    "model_versions",
    "version_tags",
    "events",
    "aliases",
)


def _snapshot(database: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row of every registry table, in primary-key order."""
    with database.read() as conn:
        present = set(inspect(conn).get_table_names()) & set(REGISTRY_TABLES)
        return {
            table.name: [
                dict(row._mapping)
                for row in conn.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in metadata.sorted_tables
            if table.name in present
        }


def _refuses_to_rewrite_events(database: Database) -> None:
    for statement in ("UPDATE events SET reason = 'rewritten'", "DELETE FROM events"):
        # StoreError wraps PostgreSQL's trigger error; SQLite's is an IntegrityError, which the
        # store passes through (the registry handles duplicate names with it).
        with (
            pytest.raises((StoreError, DBAPIError), match=APPEND_ONLY),
            database.write() as conn,
        ):
            conn.execute(text(statement))


def _downgrade(database: Database, revision: str) -> None:
    """Run Alembic's downgrade the way Database.upgrade runs its upgrade (Database has no
    downgrade of its own)."""
    config = _alembic_config()
    with database.engine.connect().execution_options(watchkeeper_write=True) as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)
        conn.commit()


def _is_empty_string_default(diff: Any) -> bool:
    """A difference alembic reports on SQLite for ``server_default=""`` although the column
    has exactly that default (reflected as ``('')``): its SQLite comparison strips the quotes
    of a string default only when it is non-empty (the pattern ``'(.+)'``), so the empty
    string never compares equal to itself."""
    return isinstance(diff, list) and all(
        op[0] == "modify_default" and str(op[5].arg).strip("()") == "''" and op[6].arg == ""
        for op in diff
    )


def _schema_differences(database: Database) -> list[Any]:
    with database.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = list(compare_metadata(context, metadata))
    if database.dialect == "sqlite":
        differences = [d for d in differences if not _is_empty_string_default(d)]
    return differences


@pytest.fixture
def database(database_url: str) -> Any:
    opened = Database(database_url)
    yield opened
    opened.dispose()


# ---------------------------------------------------------------------------- upgrades


def test_upgrading_from_0001_keeps_every_row_and_makes_events_append_only(
    database: Database, tmp_path: Path
) -> None:
    assert database.upgrade(FIRST) == (None, FIRST)
    _insert_registry_rows(database)
    before = _snapshot(database)
    assert {name: len(rows) for name, rows in before.items()} == ROW_COUNTS

    assert database.upgrade() == (FIRST, head_revision())

    assert _snapshot(database) == before
    database.check_schema()
    _refuses_to_rewrite_events(database)
    assert _snapshot(database) == before

    # The registry reads the migrated rows as it reads its own, and goes on from them.
    with Project(database.url, artifacts=tmp_path / "artifacts", actor="bob") as project:
        model = project.model("churn")
        assert model.aliases == {"production": 2}
        assert model.tags == {"team": "retention", "owner": "alice"}
        first = project.get("churn", 1)
        assert first.metrics == METRICS
        assert first.input_schema.to_dict() == INPUT_SCHEMA
        assert first.source["note"] == "réentraîné ✓"
        assert first.created_at == WHEN + timedelta(minutes=1)
        assert project.get("churn", 2).data_schema is None
        move = project.rollback("churn", reason="worse on fresh data")
        assert (move.from_version, move.to_version) == (2, 1)
        assert project.get("churn", 2).status == "rejected"
        assert [e.kind for e in project.history("churn")][-2:] == ["alias_move", "status_change"]


def test_the_migrated_schema_matches_the_table_definitions(database: Database) -> None:
    database.upgrade()
    assert _schema_differences(database) == []


def test_check_constraints_carry_the_names_the_tables_declare(database: Database) -> None:
    database.upgrade()
    declared = {
        str(constraint.name)
        for table in metadata.sorted_tables
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint)
    }
    assert declared == {
        "ck_model_versions_version_positive",
        "ck_model_versions_status_known",
        "ck_prediction_batches_role_known",
    }
    with database.read() as conn:
        found = {
            c["name"]
            for table in ("model_versions", "prediction_batches")
            for c in inspect(conn).get_check_constraints(table)
        }
    assert found == declared


def test_upgrading_an_up_to_date_database_changes_nothing(database: Database) -> None:
    database.upgrade()
    _insert_registry_rows(database)
    before = _snapshot(database)

    assert database.upgrade() == (head_revision(), head_revision())

    assert _snapshot(database) == before
    database.check_schema()


def test_downgrading_to_base_and_upgrading_again_rebuilds_the_schema(
    database: Database,
) -> None:
    database.upgrade()
    _downgrade(database, "base")
    assert database.current_revision() is None
    with database.read() as conn:
        assert inspect(conn).get_table_names() == ["alembic_version"]

    assert database.upgrade() == (None, head_revision())

    database.check_schema()
    assert _schema_differences(database) == []
    _insert_registry_rows(database)
    _refuses_to_rewrite_events(database)


def test_downgrading_0002_lifts_the_append_only_rule_and_keeps_the_rows(
    database: Database,
) -> None:
    database.upgrade()
    _insert_registry_rows(database)
    before = _snapshot(database)

    _downgrade(database, FIRST)
    assert database.current_revision() == FIRST
    assert _snapshot(database) == before
    with database.write() as conn:
        changed = conn.execute(text("UPDATE events SET reason = reason")).rowcount
    assert changed == ROW_COUNTS["events"]

    database.upgrade()
    _refuses_to_rewrite_events(database)


# ---------------------------------------------------------------------------- check_schema


def test_check_schema_refuses_an_empty_or_old_database_and_names_the_upgrade_command(
    database: Database, tmp_path: Path
) -> None:
    assert UPGRADE_COMMAND == "watchkeeper db upgrade"
    head = head_revision()
    with pytest.raises(
        SchemaOutOfDateError,
        match=f"no watchkeeper tables yet .*{head}.*Run `watchkeeper db upgrade`",
    ):
        database.check_schema()

    database.upgrade(FIRST)
    old = f"at schema revision {FIRST}; this release of watchkeeper needs {head}"
    with pytest.raises(
        SchemaOutOfDateError, match=re.escape(old) + ".*Run `watchkeeper db upgrade`"
    ):
        database.check_schema()
    with pytest.raises(SchemaOutOfDateError, match=re.escape(old)):
        Project(database.url, artifacts=tmp_path / "artifacts")

    database.upgrade()
    database.check_schema()


def test_check_schema_asks_for_a_newer_watchkeeper_on_an_unknown_revision(
    database: Database,
) -> None:
    database.upgrade()
    with database.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    assert database.current_revision() == "0099_from_the_future"

    with pytest.raises(SchemaOutOfDateError) as caught:
        database.check_schema()

    message = str(caught.value)
    assert "schema revision 0099_from_the_future" in message
    assert f"it needs {head_revision()}" in message
    assert "Upgrade watchkeeper to use it." in message
    assert UPGRADE_COMMAND not in message


def test_upgrade_refuses_a_database_from_a_newer_release(database: Database) -> None:
    database.upgrade()
    with database.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))

    with pytest.raises(SchemaOutOfDateError, match="Upgrade watchkeeper"):
        database.upgrade()


# ---------------------------------------------------------------------------- SQLite


def _pragmas(database: Database, *, write: bool) -> dict[str, Any]:
    with database.write() if write else database.read() as conn:
        return {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }


def test_sqlite_connections_use_wal_foreign_keys_and_the_busy_timeout(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'registry.db'}", busy_timeout=2.5)
    expected = {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 2500, "synchronous": 1}
    assert _pragmas(database, write=False) == expected
    assert _pragmas(database, write=True) == expected

    # Foreign keys are enforced, not just declared.
    database.upgrade()
    with (
        pytest.raises(IntegrityError, match="FOREIGN KEY"),
        database.write() as conn,
    ):
        conn.execute(insert(model_tags).values(model_id=404, key="team", value="nobody"))
    database.dispose()


def test_a_projects_configured_busy_timeout_reaches_its_sqlite_connections(
    tmp_path: Path,
) -> None:
    Project.init(tmp_path / "project").close()
    config = tmp_path / "project" / "watchkeeper.yaml"
    written = config.read_text()
    assert "busy_timeout_seconds: 30.0" in written
    config.write_text(written.replace("busy_timeout_seconds: 30.0", "busy_timeout_seconds: 4.5"))

    with Project(tmp_path / "project") as project:
        assert project.database.busy_timeout == 4.5
        assert _pragmas(project.database, write=False)["busy_timeout"] == 4500


def test_a_sqlite_write_transaction_holds_the_write_lock_from_its_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    holder, other = Database(url), Database(url, busy_timeout=0.05)
    holder.upgrade()
    with holder.write():  # no statement yet: BEGIN IMMEDIATE has taken the lock
        with pytest.raises(StoreError, match=r"busy timeout \(0.05 s\)"), other.write():
            pass
        with other.read() as conn:  # readers go on (WAL)
            assert conn.execute(select(registered_models)).all() == []
    with other.write() as conn:  # and the lock is free once the holder's transaction ends
        conn.execute(insert(registered_models).values(name="m", created_at=WHEN, created_by="x"))
    with holder.read() as conn:
        assert conn.execute(select(registered_models.c.name)).scalars().all() == ["m"]
    holder.dispose()
    other.dispose()
