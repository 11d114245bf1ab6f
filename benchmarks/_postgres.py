"""A throw-away PostgreSQL database for the benchmarks (as tests/conftest.py makes for tests)."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextmanager
def fresh_postgres_database(base: str, prefix: str = "wk_bench") -> Iterator[str]:
    """A uniquely named database next to ``base``'s; yields its URL, drops it on exit."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(base)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"

    def admin(statement: str) -> None:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(statement))
        finally:
            engine.dispose()

    admin(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
