"""``watchkeeper serve``: the HTTP model server for a project."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from watchkeeper.cli._output import fail
from watchkeeper.cli._project_cmds import ProjectOpt, one_line_errors, open_project

__all__ = ["serve"]


def serve(
    project: ProjectOpt = None,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: serve.host, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            help="Port (default: serve.port, 8080; 0 picks a free one).", min=0, max=65535
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes sharing the port (default: serve.workers, 1).", min=1),
    ] = None,
    log_level: Annotated[
        str, typer.Option(help="uvicorn's log level: critical, error, warning, info, debug.")
    ] = "info",
) -> None:
    """Serve the project's deployed models over HTTP, logging every prediction.

    Open Inference Protocol v2 (/v2/models/NAME/infer), MLflow-compatible /invocations,
    TF Serving /v1/models/NAME:predict, labels at /v1/models/NAME/labels, Prometheus metrics at
    /metrics. Models are those with the serving alias (serve.alias, default production); moving
    the alias is picked up within serve.poll_seconds. See docs/serving.md.
    """
    try:
        from watchkeeper.server import run_server
    except ImportError as exc:  # pragma: no cover - the server extra is missing
        raise fail(
            f"watchkeeper serve needs the server extra ({exc.name} is missing): "
            "pip install 'watchkeeper[server]'"
        ) from None
    from watchkeeper.config import ServeConfig
    from watchkeeper.server._state import Tokens

    with one_line_errors():
        # The configuration, the schema revision and the tokens are checked before binding.
        with open_project(project) as opened:
            path = opened.path
            config = opened.config.serve if opened.config is not None else ServeConfig()
            Tokens.from_env(config, os.environ)
        if path is None:  # pragma: no cover - a project found by folder always has one
            raise fail("watchkeeper serve needs a project folder.")
        run_server(
            path,
            host=host if host is not None else config.host,
            port=port if port is not None else config.port,
            workers=workers if workers is not None else config.workers,
            log_level=log_level,
        )
