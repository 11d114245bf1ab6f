"""Fixtures for the store suite: ``database_url`` runs a test on a SQLite file and on
PostgreSQL (when ``WATCHKEEPER_TEST_DATABASE_URL`` is set), the same fixture as the registry
suite's.

``tests`` has no ``__init__.py``, so under pytest's default ("prepend") import mode
``tests/registry`` is the top-level package ``registry`` with ``tests`` on ``sys.path``; the
import below reuses the module pytest already loaded as that conftest.
"""

from __future__ import annotations

from registry.conftest import database_url, fresh_postgres_database

__all__ = ["database_url", "fresh_postgres_database"]
