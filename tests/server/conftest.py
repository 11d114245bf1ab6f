"""Fixtures for the server suite: a churn project with two registered versions (v1 deployed),
an in-process app client, and a real ``watchkeeper serve`` process on loopback."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.conftest import stop_process_group

from watchkeeper.datasets import CHURN_FEATURES, churn, train_churn_model

ADMIN_TOKEN = "admin-secret-token"
_URL = re.compile(r"on (http://\S+) \(")


@pytest.fixture(scope="session")
def churn_frames() -> dict[str, pd.DataFrame]:
    """Reference, validation and "production" churn frames (shared; do not modify)."""
    return {
        "reference": churn(2_000, seed=1),
        "validation": churn(500, seed=2),
        "production": churn(500, seed=3),
    }


@pytest.fixture(scope="session")
def churn_pipelines(churn_frames: dict[str, pd.DataFrame]) -> list[Any]:
    """Two distinct fitted churn pipelines."""
    return [train_churn_model(churn_frames["reference"], C=c) for c in (1.0, 0.01)]


def make_project(
    folder: Path, database_url: str, frames: dict[str, pd.DataFrame], models: list[Any]
) -> Path:
    """A project at ``folder`` with ``churn`` v1 and v2 registered and v1 in production."""
    from watchkeeper.registry import Project

    with Project.init(folder, database_url=database_url) as project:
        for model in models:
            project.register(
                "churn",
                model,
                reference=frames["reference"],
                validation=frames["validation"],
                features=list(CHURN_FEATURES),
                target="churned",
                id="customer_id",
            )
        project.deploy("churn", 1, reason="first model")
    return folder


@pytest.fixture
def churn_project(
    tmp_path: Path,
    database_url: str,
    churn_frames: dict[str, pd.DataFrame],
    churn_pipelines: list[Any],
) -> Path:
    return make_project(tmp_path / "project", database_url, churn_frames, churn_pipelines)


@pytest.fixture
def sqlite_project(
    tmp_path: Path, churn_frames: dict[str, pd.DataFrame], churn_pipelines: list[Any]
) -> Path:
    url = f"sqlite:///{tmp_path / 'project' / 'watchkeeper.db'}"
    return make_project(tmp_path / "project", url, churn_frames, churn_pipelines)


def write_serve_config(folder: Path, **settings: Any) -> None:
    """Add ``serve:`` settings to the project's watchkeeper.yaml."""
    import yaml

    path = folder / "watchkeeper.yaml"
    data = yaml.safe_load(path.read_text()) or {}
    data.setdefault("serve", {}).update(settings)
    path.write_text(yaml.safe_dump(data))


def rows(frame: pd.DataFrame, start: int, n: int) -> pd.DataFrame:
    return frame.iloc[start : start + n][list(CHURN_FEATURES)].reset_index(drop=True)


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as Python objects with None for missing values (JSON has no NaN)."""
    return frame.astype(object).where(frame.notna(), None)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return plain(frame).to_dict(orient="records")


def columns(frame: pd.DataFrame) -> dict[str, list[Any]]:
    return {c: plain(frame)[c].tolist() for c in frame.columns}


def split_body(frame: pd.DataFrame) -> dict[str, Any]:
    """An MLflow ``dataframe_split`` body for ``frame``."""
    return {
        "dataframe_split": {
            "columns": list(frame.columns),
            "data": frame.astype(object).where(frame.notna(), None).to_numpy().tolist(),
        }
    }


def oip_body(frame: pd.DataFrame, request_id: str | None = None) -> dict[str, Any]:
    """An Open Inference Protocol v2 body: one input per column."""
    inputs = []
    for name in frame.columns:
        column = frame[name]
        if column.dtype == bool:
            datatype = "BOOL"
        elif column.dtype.kind == "i":
            datatype = "INT64"
        elif column.dtype.kind == "f":
            datatype = "FP64"
        else:
            datatype = "BYTES"
        data = column.astype(object).where(column.notna(), None).tolist()
        inputs.append({"name": name, "shape": [len(frame)], "datatype": datatype, "data": data})
    body: dict[str, Any] = {"inputs": inputs}
    if request_id is not None:
        body["id"] = request_id
    return body


class ServerProcess:
    """``watchkeeper serve --port 0`` for a project, in its own process group."""

    def __init__(self, project: Path, *, workers: int = 1, env: dict[str, str] | None = None):
        self.project = project
        command = [
            str(Path(sys.executable).parent / "watchkeeper"),
            "serve",
            "--project",
            str(project),
            "--port",
            "0",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ]
        environ = {**os.environ, "WATCHKEEPER_ADMIN_TOKEN": ADMIN_TOKEN, **(env or {})}
        environ.pop("WATCHKEEPER_PROJECT", None)
        self.log = project.parent / f"server-{time.monotonic_ns()}.log"
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            text=True,
            env=environ,
            start_new_session=True,
        )
        self.url = self._read_url()
        self.wait_ready()

    def _read_url(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        found = _URL.search(line)
        if found is None:
            self.stop()
            raise AssertionError(f"the server did not start: {line!r}\n{self.log.read_text()}")
        return found.group(1)

    def wait_ready(self, timeout: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/v2/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the server was not ready in {timeout} s:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL the whole process group (the server and any workers)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._close()

    def stop(self) -> None:
        stop_process_group(self.process)
        self._close()

    def _close(self) -> None:
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log_file.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def server(churn_project: Path) -> Iterator[ServerProcess]:
    """A real server process for ``churn_project`` (SQLite and PostgreSQL)."""
    with ServerProcess(churn_project) as running:
        yield running
