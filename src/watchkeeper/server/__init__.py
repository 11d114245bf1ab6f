"""The HTTP model server (``watchkeeper serve``): Open Inference Protocol v2, MLflow-compatible
``/invocations``, TF Serving ``:predict``, late labels, admin routes and ``/metrics``.

Importing :mod:`watchkeeper` never imports this package (it needs the ``server`` extra:
FastAPI, uvicorn, prometheus-client). See ``docs/serving.md``.
"""

from __future__ import annotations

from watchkeeper.server._app import app_from_environment, create_app
from watchkeeper.server._errors import REASONS, RequestError
from watchkeeper.server._run import run_server

__all__ = ["REASONS", "RequestError", "app_from_environment", "create_app", "run_server"]
