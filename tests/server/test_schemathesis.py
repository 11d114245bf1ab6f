"""schemathesis against a real server's ``/openapi.json``: thousands of generated requests,
valid and not, to every route; none may get a 5xx (``not_a_server_error``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.server.conftest import ADMIN_TOKEN, ServerProcess


@pytest.mark.parametrize("fixed_name", [True, False], ids=["model-churn", "any-name"])
def test_schemathesis_finds_no_server_error(sqlite_project: Path, fixed_name: bool) -> None:
    config = sqlite_project.parent / "schemathesis.toml"
    # With the path's model name fixed, the bodies reach the decoders and the model; without,
    # the routing and the 404s are exercised.
    config.write_text('[parameters]\n"path.name" = "churn"\n' if fixed_name else "")
    with ServerProcess(sqlite_project) as server:
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "--config-file",
                str(config),
                "run",
                f"{server.url}/openapi.json",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                "20",
                "--seed",
                "20261206",
                "-H",
                f"Authorization: Bearer {ADMIN_TOKEN}",
            ],
            capture_output=True,
            text=True,
            cwd=sqlite_project.parent,  # its report folder goes there
            timeout=600,
            check=False,
        )
        log = server.log
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:] + "\n" + log.read_text()[-3000:]
    assert "passed" in output
    assert "Traceback" not in log.read_text()
