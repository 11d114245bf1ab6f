"""The README's registry walkthrough runs as written, in a shell, on a new folder: with the
default SQLite database, and with WATCHKEEPER_DATABASE_URL pointing at PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "<!-- registry-walkthrough"


def _walkthrough() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(MARKER)
    match = re.search(r"```bash\n(.*?)```", text[start:], flags=re.S)
    assert match is not None, "the walkthrough block follows its marker"
    return match.group(1)


def test_readme_registry_walkthrough(tmp_path: Path, database_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHKEEPER_")}
    if not database_url.startswith("sqlite"):
        # The same walkthrough on PostgreSQL: `init` takes the URL from the environment.
        env["WATCHKEEPER_DATABASE_URL"] = database_url
    # The venv's `python` and `watchkeeper` first, as after `pip install`.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    script = "set -euo pipefail\n" + _walkthrough()
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Registered churn version 1 (models:/churn/1)" in out
    assert "churn: production -> version 2 (was 1)" in out
    assert "rolled back from version 2 to version 1; version 2 is now rejected" in out
    assert "v2 misses churners" in out  # the history table shows the reason

    def read(*args: str) -> object:
        shown = subprocess.run(
            ["watchkeeper", *args, "--format", "json"],
            cwd=tmp_path / "churn-project",
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return json.loads(shown.stdout)

    model = read("models", "show", "churn")
    assert isinstance(model, dict)
    assert model["aliases"] == {"production": 1}
    assert model["tags"] == {"team": "retention"}
    assert [(v["version"], v["status"]) for v in model["versions"]] == [
        (1, "ready"),
        (2, "rejected"),
    ]
    history = read("history", "churn")
    assert isinstance(history, list)
    moves = [
        (e["from_version"], e["to_version"], e["trigger"], e["reason"])
        for e in history
        if e["kind"] == "alias_move"
    ]
    assert moves == [
        (None, 1, "manual", "first model"),
        (1, 2, "manual", "stronger regularization"),
        (2, 1, "rollback", "v2 misses churners"),
    ]
