"""The project's ``watchkeeper.yaml``: validated settings, environment overrides, discovery.

A watchkeeper project is a folder holding ``watchkeeper.yaml``. :func:`find_project` finds
it (``--project DIR``, then ``WATCHKEEPER_PROJECT``, then the working directory and its
parents), :func:`load_config` reads and validates it, letting ``WATCHKEEPER_<SECTION>_<FIELD>``
variables override single fields, and :func:`write_initial_config` writes the commented file
``watchkeeper init`` starts a project with.

This package imports only pydantic, PyYAML and the standard library.
"""

from __future__ import annotations

from watchkeeper.config._load import (
    CONFIG_FILE,
    find_project,
    load_config,
    resolve_artifacts_root,
    resolve_database_url,
    write_initial_config,
)
from watchkeeper.config._models import (
    AlertsConfig,
    ArtifactsConfig,
    DatabaseConfig,
    LogConfig,
    MonitorConfig,
    PolicyConfig,
    RetrainConfig,
    ServeConfig,
    WatchkeeperConfig,
)

__all__ = [
    "CONFIG_FILE",
    "AlertsConfig",
    "ArtifactsConfig",
    "DatabaseConfig",
    "LogConfig",
    "MonitorConfig",
    "PolicyConfig",
    "RetrainConfig",
    "ServeConfig",
    "WatchkeeperConfig",
    "find_project",
    "load_config",
    "resolve_artifacts_root",
    "resolve_database_url",
    "write_initial_config",
]
