"""The model registry: registered models, versions, aliases, deploy, rollback and history.

A registered model (``churn``) has integer versions from 1; aliases (``production``,
``challenger``, ``shadow`` or any valid name) each point at one version; every alias move is an
append-only event. Open one through :class:`Project`::

    project = watchkeeper.Project.init("churn-project")
    v1 = project.register("churn", model, reference=train_df, target="churned")
    project.deploy("churn", v1.version)                  # alias "production"
    project.load_model("models:/churn@production").predict(rows)
    project.rollback("churn")                            # back to the version before

See :mod:`watchkeeper.registry._registry` for the guarantees of alias moves.
"""

from __future__ import annotations

from watchkeeper.registry._project import LoadedModel, Project, parse_model_uri
from watchkeeper.registry._records import (
    Event,
    InputColumn,
    InputSchema,
    ModelVersion,
    RegisteredModel,
)
from watchkeeper.registry._registry import Registry

__all__ = [
    "Event",
    "InputColumn",
    "InputSchema",
    "LoadedModel",
    "ModelVersion",
    "Project",
    "RegisteredModel",
    "Registry",
    "parse_model_uri",
]
