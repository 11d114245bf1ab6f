"""The ``watchkeeper`` command line: ``compare`` two data files, run the ``demo``.

Exit codes: 0 done; 1 when ``--fail-on`` is met; 2 bad input (one line on stderr).
"""

from __future__ import annotations

from watchkeeper.cli._app import app, main

__all__ = ["app", "main"]
