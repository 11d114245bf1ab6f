"""The ``watchkeeper`` command line: ``compare`` data files (whole, per segment or in chunks),
``baseline fit`` once and compare with the saved baseline, run the ``demo``.

Exit codes: 0 done; 1 when ``--fail-on`` is met; 2 bad input (one line on stderr).
"""

from __future__ import annotations

from watchkeeper.cli._app import app, main

__all__ = ["app", "main"]
