"""``watchkeeper serve`` refuses to start, with one line saying why, before binding a port."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.server.conftest import write_serve_config


def _serve(project: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    command = [str(Path(sys.executable).parent / "watchkeeper"), "serve", "--project", str(project)]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("WATCHKEEPER_")}
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, env={**environ, **(env or {})}
    )


def test_a_required_token_that_is_not_set(sqlite_project: Path) -> None:
    write_serve_config(sqlite_project, require_predict_token=True)
    result = _serve(sqlite_project)
    assert result.returncode == 2
    assert "WATCHKEEPER_PREDICT_TOKEN is not set" in result.stderr


def test_an_invalid_setting(sqlite_project: Path) -> None:
    write_serve_config(sqlite_project, durability="sometimes")
    result = _serve(sqlite_project)
    assert result.returncode == 2
    assert "serve.durability" in result.stderr


def test_no_project(tmp_path: Path) -> None:
    result = _serve(tmp_path / "nowhere")
    assert result.returncode == 2
    assert "error:" in result.stderr


def test_an_out_of_date_database(sqlite_project: Path) -> None:
    from watchkeeper.registry import Project

    with Project(sqlite_project) as project:
        project.database.downgrade("0003_prediction_log")
    result = _serve(sqlite_project)
    assert result.returncode == 2
    assert "watchkeeper db upgrade" in result.stderr
