"""Alembic's entry point for watchkeeper's migrations.

watchkeeper runs migrations on a connection it opened itself (``Database.upgrade`` puts it in
``config.attributes["connection"]``); this file never reads a URL from a file.
"""

from __future__ import annotations

from alembic import context

from watchkeeper.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "watchkeeper's migrations run through `watchkeeper db upgrade` (Database.upgrade), "
        "which passes the connection to use."
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
