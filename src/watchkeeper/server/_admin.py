"""Admin routes: list models, read a model's history, deploy and roll back.

Every admin route needs ``Authorization: Bearer $WATCHKEEPER_ADMIN_TOKEN``; without that
variable set, they are disabled (403), so a server started without thinking about it exposes no
way to move an alias. A move made here is picked up by this process at once (other replicas
within ``serve.poll_seconds``) and recorded in the history with the request's actor.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from watchkeeper.server import _openapi as api
from watchkeeper.server._errors import RequestError

if TYPE_CHECKING:
    from watchkeeper.registry._registry import Registry
    from watchkeeper.server._state import ServerState

__all__ = ["admin_router"]

admin_router = APIRouter(tags=["admin"])
_MAX_VERSION = 2**31 - 1
_CODES = (401, 403, 404, 409, 422)


class DeployBody(BaseModel):
    """Point ``alias`` at ``version``."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=_MAX_VERSION)
    alias: str = Field(default="production", min_length=1, max_length=64)
    reason: str = Field(default="", max_length=1000)


class RollbackBody(BaseModel):
    """Return ``alias`` to the version that held it before (or to ``to``)."""

    model_config = ConfigDict(extra="forbid")

    alias: str = Field(default="production", min_length=1, max_length=64)
    to: int | None = Field(default=None, ge=1, le=_MAX_VERSION)
    reason: str = Field(default="", max_length=1000)


def _registry(state: ServerState, request: Request) -> Registry:
    """The registry, recording moves made through the API as ``api (<client address>)``."""
    from watchkeeper.registry._registry import Registry

    client = request.client.host if request.client is not None else "unknown"
    return Registry(state.project.database, state.project.clock, f"api ({client})")


def _admin(request: Request, authorization: str | None) -> ServerState:
    state: ServerState = request.app.state.wk
    if state.tokens.admin is None:
        raise RequestError(
            "unauthorized",
            "Admin endpoints are disabled: set WATCHKEEPER_ADMIN_TOKEN where the server runs.",
            status=403,
        )
    state.tokens.check(state.tokens.admin, authorization, "Admin endpoints")
    return state


Authorization = Annotated[str | None, Header()]


@admin_router.get("/v1/models", responses=api.responses(None, 401, 403))
async def list_models(request: Request, authorization: Authorization = None) -> dict[str, Any]:
    state = _admin(request, authorization)
    models = await asyncio.to_thread(state.project.models)
    return {
        "models": [
            {
                **m.to_dict(),
                "served": m.name in state.manager.names,
                "ready": state.manager.ready(m.name),
            }
            for m in models
        ]
    }


@admin_router.get("/v1/models/{name}/history", responses=api.responses(None, *_CODES))
async def history(
    request: Request,
    name: str,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    authorization: Authorization = None,
) -> dict[str, Any]:
    state = _admin(request, authorization)
    events = await asyncio.to_thread(state.project.history, name, limit=limit)
    return {"events": [e.to_dict() for e in events]}


@admin_router.post("/v1/models/{name}/deploy", responses=api.responses(None, *_CODES))
async def deploy(
    request: Request, name: str, body: DeployBody, authorization: Authorization = None
) -> dict[str, Any]:
    state = _admin(request, authorization)
    event = await asyncio.to_thread(
        _registry(state, request).deploy, name, body.version, alias=body.alias, reason=body.reason
    )
    await state.manager.refresh()
    return {"event": event.to_dict(), "ready": state.manager.ready(name, body.version)}


@admin_router.post("/v1/models/{name}/rollback", responses=api.responses(None, *_CODES))
async def rollback(
    request: Request, name: str, body: RollbackBody, authorization: Authorization = None
) -> dict[str, Any]:
    state = _admin(request, authorization)
    event = await asyncio.to_thread(
        _registry(state, request).rollback, name, alias=body.alias, to=body.to, reason=body.reason
    )
    await state.manager.refresh()
    return {"event": event.to_dict()}
