"""``watchkeeper serve``: bind the port, then run one or several uvicorn worker processes.

The listening socket is made here, with ``IPPROTO_TCP`` and ``TCP_NODELAY`` set, and handed to
uvicorn. With several workers uvicorn shares one socket made by the parent, and a socket
created without the TCP protocol number makes asyncio skip ``TCP_NODELAY`` on every accepted
connection (uvicorn issue 3149): Nagle's algorithm then delays each response on a kept-alive
connection by tens of milliseconds. On Linux, accepted sockets also inherit ``TCP_NODELAY`` from
the listener, so both ways are covered.

Several workers share the Prometheus metrics through ``PROMETHEUS_MULTIPROC_DIR`` (a fresh
temporary folder unless one is set).
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["listen", "run_server"]

FACTORY = "watchkeeper.server._app:app_from_environment"


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one), Nagle off."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def run_server(
    project_dir: Path,
    *,
    host: str,
    port: int,
    workers: int,
    log_level: str = "info",
) -> None:
    """Serve the project at ``project_dir`` until interrupted (SIGINT/SIGTERM)."""
    import uvicorn

    os.environ["WATCHKEEPER_PROJECT"] = str(project_dir)
    own_metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        own_metrics_dir = tempfile.mkdtemp(prefix="watchkeeper-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = own_metrics_dir
    sock = listen(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    print(
        f"watchkeeper serving {project_dir} on http://{shown}:{bound_port} "
        f"({workers} worker{'s' if workers > 1 else ''})",
        flush=True,
    )
    config = uvicorn.Config(
        FACTORY,
        factory=True,
        workers=workers,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
        server_header=False,
    )
    server = uvicorn.Server(config)
    try:
        if workers == 1:
            server.run(sockets=[sock])
        else:
            from uvicorn.supervisors import Multiprocess

            Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
        if own_metrics_dir is not None:
            shutil.rmtree(own_metrics_dir, ignore_errors=True)
    if server.started is False and workers == 1:
        sys.exit(3)  # the app failed to start (its error was logged)
