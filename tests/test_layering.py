"""The layering of DESIGN.md holds: the core never imports persistence or delivery layers,
and ``import watchkeeper`` stays light (no FastAPI, uvicorn, SQLAlchemy, pandas or scipy)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "watchkeeper"
CORE = (
    "stats",
    "detectors",
    "schema",
    "baseline",
    "drift",
    "quality",
    "performance",
    "monitor",
    "policy",
    "results",
    "clock",
    "errors",
    "_frame",
    "_convert",
    "_validate",
    "datasets",
    "_html",
)
OUTER = ("config", "store", "registry", "ops", "server", "cli", "report", "integrations")
FORBIDDEN_THIRD_PARTY = (
    "fastapi",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "prometheus_client",
    "typer",
    "httpx",
)


def _core_files() -> list[Path]:
    files = []
    for name in CORE:
        path = SRC / name
        if path.is_dir():
            files += sorted(path.rglob("*.py"))
        elif path.with_suffix(".py").exists():
            files.append(path.with_suffix(".py"))
    return files


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_core_module_imports_no_outer_layer(path: Path) -> None:
    bad = [
        m
        for m in _imports(path)
        if any(m == f"watchkeeper.{o}" or m.startswith(f"watchkeeper.{o}.") for o in OUTER)
        or m.split(".")[0] in FORBIDDEN_THIRD_PARTY
    ]
    assert bad == [], f"{path.relative_to(SRC)} imports {bad}"


def test_core_files_were_found() -> None:
    # Guards the parametrised test above against silently checking nothing.
    assert len(_core_files()) > 15


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_watchkeeper_is_light() -> None:
    loaded = _modules_after("import watchkeeper")
    heavy = {"fastapi", "uvicorn", "sqlalchemy", "pandas", "scipy", "sklearn", "pyarrow", "typer"}
    assert heavy & {m.split(".")[0] for m in loaded} == set()


def test_detectors_load_numba_only_for_update_many() -> None:
    loaded = _modules_after(
        "from watchkeeper.detectors import ADWIN, DDM\n"
        "d = DDM()\n"
        "for x in [0, 1, 0, 0, 1]:\n"
        "    d.update(x)"
    )
    assert "numba" not in {m.split(".")[0] for m in loaded}
    assert "numba" in {
        m.split(".")[0]
        for m in _modules_after(
            "from watchkeeper.detectors import DDM\nDDM().update_many([0, 1, 0])"
        )
    }


def test_library_use_does_not_import_server_or_database() -> None:
    loaded = _modules_after(
        "import watchkeeper\n"
        "from watchkeeper.datasets import churn\n"
        "watchkeeper.compare(churn(500, seed=1), churn(500, seed=2))"
    )
    roots = {m.split(".")[0] for m in loaded}
    assert {"fastapi", "uvicorn", "sqlalchemy", "typer"} & roots == set()
    assert not any(m.startswith(("watchkeeper.cli", "watchkeeper.server")) for m in loaded)


# Below the core, each layer of DESIGN.md's table imports only the layers above it.
_LOWER = {
    "config": ("store", "registry", "ops", "server", "cli", "report", "integrations"),
    "store": ("registry", "ops", "server", "cli", "report", "integrations"),
    "registry": ("ops", "server", "cli", "report", "integrations"),
}


@pytest.mark.parametrize(
    ("path", "layer"),
    [(p, layer) for layer in _LOWER for p in sorted((SRC / layer).rglob("*.py"))],
    ids=lambda v: str(v.relative_to(SRC)) if isinstance(v, Path) else v,
)
def test_persistence_layers_import_only_upward(path: Path, layer: str) -> None:
    below = _LOWER[layer]
    bad = [
        m
        for m in _imports(path)
        if any(m == f"watchkeeper.{o}" or m.startswith(f"watchkeeper.{o}.") for o in below)
    ]
    assert bad == [], f"{path.relative_to(SRC)} imports {bad}"


def test_opening_a_project_does_not_import_the_server() -> None:
    loaded = _modules_after(
        "import tempfile, watchkeeper\nwatchkeeper.Project.init(tempfile.mkdtemp()).models()"
    )
    roots = {m.split(".")[0] for m in loaded}
    assert {"fastapi", "uvicorn", "typer"} & roots == set()
    assert "sqlalchemy" in roots
