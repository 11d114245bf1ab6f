"""The ``watchkeeper`` command line: ``compare`` data files (whole, per segment or in chunks),
``baseline fit`` once and compare with the saved baseline, run the ``demo``.

A project and its model registry: ``init`` a project, ``register`` a model version with its
data, ``deploy`` it to an alias, ``rollback`` an alias, read the ``history``; ``models list``,
``models show NAME`` and ``models versions NAME`` (``--format table|json``); ``db current`` and
``db upgrade`` for the database schema. The prediction log, without a server: ``log ingest
NAME FILE`` logs batch-scored rows, ``labels ingest NAME FILE`` attaches ground truth, ``log
export NAME --output FILE`` writes a window (``--since``/``--until``, ``--with-labels``) as
Parquet or CSV, ``log show NAME`` summarizes it and ``log compact NAME`` merges small batches.
They find the project by ``--project DIR``, else ``WATCHKEEPER_PROJECT``, else the working
folder and its parents.

Exit codes: 0 done; 1 when ``--fail-on`` is met; 2 bad input (one line on stderr).
"""

from __future__ import annotations

from watchkeeper.cli._app import app, main

__all__ = ["app", "main"]
