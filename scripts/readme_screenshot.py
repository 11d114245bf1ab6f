"""Regenerate docs/images/demo-report.png, the README's picture of the demo's monitoring report.

Runs ``watchkeeper demo --keep`` in a temporary folder, opens the report it wrote in Debian's
headless Chromium (through Playwright, as tests/report/test_browser.py does) and saves the top
of the page. Needs the dev install and ``apt-get install chromium``::

    python scripts/readme_screenshot.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "demo-report.png"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def main() -> int:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder) / "demo"
        subprocess.run(
            [str(Path(sys.executable).with_name("watchkeeper")), "demo", "--keep", str(project)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(Path(folder) / "profile"),
                executable_path=chromium,
                headless=True,
                args=FLAGS,
                viewport={"width": 1100, "height": 1380},
            )
            page = context.new_page()
            page.goto((project / "report.html").as_uri())
            page.screenshot(path=str(OUT))
            context.close()
    print(f"{OUT} ({OUT.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
