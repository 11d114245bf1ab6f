"""The project database: one engine per URL, read and write transactions, and migrations.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a busy timeout, and
every write transaction starts with ``BEGIN IMMEDIATE``: it takes the database's write lock
up front, so two writers queue for the lock instead of one of them failing half-way when it
tries to upgrade a read lock. PostgreSQL writers serialize on row locks (``SELECT ... FOR
UPDATE`` on the registered model, see :mod:`watchkeeper.registry`).

The schema belongs to the Alembic migrations shipped in ``watchkeeper/store/migrations``;
:meth:`Database.check_schema` refuses a database that is not at this release's head revision
and names the command that upgrades it.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    IntegrityError,
    OperationalError,
    SQLAlchemyError,
    StatementError,
)

from watchkeeper.errors import InvalidParameterError, SchemaOutOfDateError, StoreError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from alembic.config import Config
    from sqlalchemy.engine import Connection, Engine

__all__ = ["UPGRADE_COMMAND", "Database", "head_revision", "redact_url"]

UPGRADE_COMMAND = "watchkeeper db upgrade"
_MIGRATIONS = Path(__file__).with_name("migrations")


def redact_url(url: str) -> str:
    """``url`` with any password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest migration revision this release ships."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise StoreError(f"No migrations found in {_MIGRATIONS}.")
    return head


class Database:
    """An engine for one database URL, with the transactions watchkeeper uses.

    Parameters
    ----------
    url
        ``sqlite:///path/to/file.db`` or ``postgresql+psycopg://user@host:port/db``.
    busy_timeout
        Seconds a SQLite writer waits for the write lock before giving up.
    echo
        Log every SQL statement (SQLAlchemy's ``echo``).
    """

    def __init__(self, url: str, *, busy_timeout: float = 30.0, echo: bool = False) -> None:
        self.url = url
        self.busy_timeout = busy_timeout
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise InvalidParameterError(
                f"Cannot read the database URL {url!r}: {exc}. Expected sqlite:///path/to/file.db "
                "or postgresql+psycopg://user@host:port/database."
            ) from exc
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise InvalidParameterError(
                f"Unsupported database {redact_url(url)!r}: watchkeeper runs on SQLite "
                "(sqlite:///path) and PostgreSQL (postgresql+psycopg://...)."
            )
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {"timeout": busy_timeout}
        else:
            kwargs["pool_pre_ping"] = True
        try:
            self.engine: Engine = create_engine(parsed, **kwargs)
        except (ArgumentError, ImportError) as exc:
            raise StoreError(
                f"Cannot open {redact_url(url)}: {exc}. For PostgreSQL install the driver with "
                "`pip install 'watchkeeper[postgres]'`."
            ) from exc
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine, busy_timeout)

    def __repr__(self) -> str:
        return f"Database({redact_url(self.url)!r})"

    # ------------------------------------------------------------------ transactions
    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot on both databases)."""
        with self._wrap_errors(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises.

        On SQLite it holds the database's write lock from its first statement.
        """
        with (
            self._wrap_errors(),
            self.engine.connect().execution_options(watchkeeper_write=True) as conn,
            conn.begin(),
        ):
            yield conn

    @contextlib.contextmanager
    def _wrap_errors(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            cause = str(exc.orig).strip().rstrip(".?") or type(exc.orig).__name__
            if self.dialect == "sqlite":
                hint = (
                    "Check that the file is readable and writable, and not locked by another "
                    f"process for longer than the busy timeout ({self.busy_timeout:g} s)."
                )
            else:
                hint = (
                    "Check that the server is running and reachable, and the URL's user/database."
                )
            raise StoreError(f"Database {redact_url(self.url)} failed: {cause}. {hint}") from exc
        except IntegrityError:
            raise  # the registry tells a lost race (a duplicate name) from a real error
        except StatementError as exc:
            cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise StoreError(
                f"Database {redact_url(self.url)} refused the change: {cause}. Nothing was changed."
            ) from exc

    # ------------------------------------------------------------------ schema
    def current_revision(self) -> str | None:
        """The migration revision the database is at (None for an empty database)."""
        with self.read() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        return None if row is None else str(row[0])

    def check_schema(self) -> None:
        """Refuse to go on unless the database is at this release's head revision.

        Raises
        ------
        SchemaOutOfDateError
            The database is empty, older than this release (run ``watchkeeper db upgrade``),
            or newer (upgrade watchkeeper).
        """
        current = self.current_revision()
        head = head_revision()
        if current == head:
            return
        where = redact_url(self.url)
        if current is None:
            raise SchemaOutOfDateError(
                f"The database {where} has no watchkeeper tables yet (this release needs "
                f"schema revision {head}). Run `{UPGRADE_COMMAND}` to create them."
            )
        self._refuse_unknown(current)
        raise SchemaOutOfDateError(
            f"The database {where} is at schema revision {current}; this release of watchkeeper "
            f"needs {head}. Run `{UPGRADE_COMMAND}` (back the database up first)."
        )

    def upgrade(self, revision: str = "head") -> tuple[str | None, str]:
        """Migrate the schema up to ``revision``; returns (revision before, revision after).

        Raises
        ------
        SchemaOutOfDateError
            The database is at a revision this release does not know (a newer watchkeeper
            upgraded it).
        StoreError
            The migration failed; its transaction is rolled back.
        """
        before, after = self._migrate("upgrade", revision)
        if after is None:  # pragma: no cover - an upgrade always leaves a revision behind
            raise StoreError(f"Upgrading {redact_url(self.url)} left no schema revision.")
        return before, after

    def downgrade(self, revision: str) -> tuple[str | None, str | None]:
        """Migrate the schema down to ``revision`` (``"base"``: no tables); returns (before,
        after). For developers and tests: watchkeeper never downgrades on its own."""
        return self._migrate("downgrade", revision)

    def _refuse_unknown(self, current: str | None) -> None:
        """Raise if ``current`` is a revision this release does not ship."""
        from alembic.script import ScriptDirectory

        if current is None:
            return
        script = ScriptDirectory.from_config(_alembic_config())
        if current not in {s.revision for s in script.walk_revisions()}:
            raise SchemaOutOfDateError(
                f"The database {redact_url(self.url)} is at schema revision {current}, which "
                f"this release of watchkeeper does not know (it needs {head_revision()}); it "
                "was upgraded by a newer watchkeeper. Upgrade watchkeeper to use it."
            )

    def _migrate(self, direction: str, revision: str) -> tuple[str | None, str | None]:
        from alembic import command
        from alembic.util import CommandError

        before = self.current_revision()
        self._refuse_unknown(before)
        config = _alembic_config()
        try:
            with self.engine.connect().execution_options(watchkeeper_write=True) as conn:
                config.attributes["connection"] = conn
                getattr(command, direction)(config, revision)
                conn.commit()
        except (SQLAlchemyError, CommandError) as exc:
            raise StoreError(
                f"Migrating {redact_url(self.url)} ({direction} to {revision}) failed: {exc}. "
                "Nothing was changed."
            ) from exc
        return before, self.current_revision()

    def dispose(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()


def _configure_sqlite(engine: Engine, busy_timeout: float) -> None:
    """WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE for write transactions."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own handling of
        # transactions would defer it, and defers DDL's too).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("watchkeeper_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
