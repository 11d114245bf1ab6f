"""Persistence: the project database, its migrations, and artifact storage.

* :mod:`watchkeeper.store.artifacts` — content-addressed artifact storage (sha256-verified);
* :mod:`watchkeeper.store.database` — engines for SQLite and PostgreSQL, read and write
  transactions, and the schema check every command makes;
* :mod:`watchkeeper.store.tables` — the tables (SQLAlchemy Core), owned by the Alembic
  migrations in ``watchkeeper/store/migrations``.

Nothing here is imported by ``import watchkeeper``; SQLAlchemy loads only when a project does.
"""
