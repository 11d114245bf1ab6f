"""Fixtures shared by the suites that talk to a database: ``database_url`` runs a test on a
SQLite file and on PostgreSQL (a fresh database per test, dropped afterwards), the latter only
when ``WATCHKEEPER_TEST_DATABASE_URL`` is set (``.ci/run`` sets it); otherwise those cases skip
with the reason."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PG_ENV = "WATCHKEEPER_TEST_DATABASE_URL"
# .ci/run sets this: a test that would skip because promtool, Prometheus, Chromium or
# Playwright is missing fails instead, so CI cannot pass with those tests not run.
REQUIRE_TOOLS_ENV = "WATCHKEEPER_REQUIRE_TOOLS"
_TOOLS = ("promtool", "prometheus", "chromium", "playwright")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if os.environ.get(REQUIRE_TOOLS_ENV) != "1" or not report.skipped:
        return
    reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else ""
    if any(tool in reason.lower() for tool in _TOOLS):
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} would skip ({reason}), but {REQUIRE_TOOLS_ENV}=1 requires the tool"
        )


def _postgres_url() -> str | None:
    return os.environ.get(PG_ENV) or None


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    base = _postgres_url()
    if base is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://user@host/db)")
    with fresh_postgres_database(base) as url:
        yield url


class fresh_postgres_database:
    """Create a uniquely named database next to ``base``'s and drop it on exit."""

    def __init__(self, base: str) -> None:
        from sqlalchemy.engine import make_url

        self.base = make_url(base)
        self.name = f"wk_test_{uuid.uuid4().hex[:12]}"

    def _admin(self) -> Any:
        from sqlalchemy import create_engine

        return create_engine(self.base, isolation_level="AUTOCOMMIT")

    def __enter__(self) -> str:
        from sqlalchemy import text

        engine = self._admin()
        try:
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        finally:
            engine.dispose()
        return self.base.set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *exc: object) -> None:
        from sqlalchemy import text

        engine = self._admin()
        try:
            with engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        finally:
            engine.dispose()


def drifted_churn_project(folder: Path, *, n_train: int, n_window: int) -> None:
    """A project in ``folder`` with churn version 1 (trained on ``n_train`` rows, validated on
    a third as many) in production, and ``n_window`` covariate-drifted predictions logged now
    with their labels (by customer id): what the CLI-level tests run commands against."""
    import watchkeeper
    from watchkeeper.datasets import CHURN_FEATURES, churn, train_churn_model

    columns = [*CHURN_FEATURES, "customer_id", "churned"]
    with watchkeeper.Project.init(folder) as project:
        train = churn(n_train, seed=1)[columns]
        project.register(
            "churn",
            train_churn_model(train),
            reference=train,
            validation=churn(max(n_train // 3, 500), seed=2)[columns],
            target="churned",
            id="customer_id",
        )
        project.deploy("churn", 1)
        window = churn(n_window, seed=3, scenario="covariate_drift")[columns]
        window["customer_id"] = [f"w-{i}" for i in range(len(window))]
        project.log_predictions("churn", window.drop(columns=["churned"]))
        project.log_labels(
            "churn",
            [
                {"id": k, "label": int(y)}
                for k, y in zip(window.customer_id, window.churned, strict=True)
            ],
        )


def stop_process_group(process: subprocess.Popen[Any]) -> None:
    """SIGTERM a process started with ``start_new_session=True`` and its children, then
    SIGKILL them if they are still there after 30 s."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
