"""The Python examples in the README and docs/ run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = _blocks(page)
    if page.name in ("README.md", "drift.md"):
        assert blocks, f"{page.name} should have runnable examples"
    monkeypatch.chdir(tmp_path)  # examples may write files
    namespace: dict[str, object] = {}
    for block in blocks:  # blocks of one page share a namespace, like a notebook
        exec(compile(block, str(page), "exec"), namespace)
