"""Admin routes: list models, read a model's history, deploy and roll back.

Every admin route needs ``Authorization: Bearer $WATCHKEEPER_ADMIN_TOKEN``; without that
variable set, they are disabled (403), so a server started without thinking about it exposes no
way to move an alias. A move made here is picked up by this process at once (other replicas
within ``serve.poll_seconds``) and recorded in the history with the request's actor.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from watchkeeper.registry._reads import MAX_VERSION
from watchkeeper.server import _openapi as api
from watchkeeper.server._decode import load_json
from watchkeeper.server._errors import RequestError
from watchkeeper.server._scoring import read_body

if TYPE_CHECKING:
    from watchkeeper.registry._registry import Registry
    from watchkeeper.server._state import ServerState

__all__ = ["Authorization", "admin_router"]

admin_router = APIRouter(tags=["admin"])
_CODES = (401, 403, 404, 409, 422)


_Body = TypeVar("_Body", bound=BaseModel)


class DeployBody(BaseModel):
    """Point ``alias`` at ``version``."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=MAX_VERSION)
    alias: str = Field(default="production", min_length=1, max_length=64)
    reason: str = Field(default="", max_length=1000)


class RollbackBody(BaseModel):
    """Return ``alias`` to the version that held it before (or to ``to``)."""

    model_config = ConfigDict(extra="forbid")

    alias: str = Field(default="production", min_length=1, max_length=64)
    to: int | None = Field(default=None, ge=1, le=MAX_VERSION)
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
    """Every registered model, with whether this server serves it and has it ready."""
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
    """The model's newest ``limit`` events (deploys, rollbacks, failed loads...), oldest first."""
    state = _admin(request, authorization)
    events = await asyncio.to_thread(state.project.history, name, limit=limit)
    return {"events": [e.to_dict() for e in events]}


_BODY_LIMIT = 64 * 1024


async def _body(request: Request, model: type[_Body]) -> _Body:
    """The JSON body as ``model``, read only after the token was checked, and small."""
    from pydantic import ValidationError

    raw = await read_body(request, _BODY_LIMIT)
    data = load_json(raw) if raw.strip() else {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or None
        raise RequestError(
            "invalid_parameter",
            f"{where or 'body'}: {first['msg']}",
            field=where,
        ) from None


@admin_router.post(
    "/v1/models/{name}/deploy",
    responses=api.responses(None, *_CODES),
    openapi_extra=api.body(DeployBody.model_json_schema()),
)
async def deploy(
    request: Request, name: str, authorization: Authorization = None
) -> dict[str, Any]:
    """Point an alias (``production`` by default) at a version; recorded in the history."""
    state = _admin(request, authorization)
    body = await _body(request, DeployBody)
    event = await asyncio.to_thread(
        _registry(state, request).deploy, name, body.version, alias=body.alias, reason=body.reason
    )
    await state.manager.refresh()
    return {"event": event.to_dict(), "ready": state.manager.ready(name, body.version)}


@admin_router.post(
    "/v1/models/{name}/rollback",
    responses=api.responses(None, *_CODES),
    openapi_extra=api.body(RollbackBody.model_json_schema()),
)
async def rollback(
    request: Request, name: str, authorization: Authorization = None
) -> dict[str, Any]:
    """Return an alias to the version that held it before (or to ``to``); the version rolled
    back from becomes ``rejected``."""
    state = _admin(request, authorization)
    body = await _body(request, RollbackBody)
    event = await asyncio.to_thread(
        _registry(state, request).rollback, name, alias=body.alias, to=body.to, reason=body.reason
    )
    await state.manager.refresh()
    return {"event": event.to_dict()}
