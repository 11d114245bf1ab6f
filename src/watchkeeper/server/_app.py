"""The FastAPI application: Open Inference Protocol v2, MLflow ``/invocations``, TF Serving
``:predict``, labels, admin, the monitoring report and ``/metrics`` routes over one
:class:`ServerState`.

:func:`create_app` builds it for a project (tests pass an open :class:`~watchkeeper.Project`);
:func:`app_from_environment` is the factory ``uvicorn`` worker processes call.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from watchkeeper._version import __version__
from watchkeeper.errors import (
    InvalidInputError,
    InvalidNameError,
    InvalidParameterError,
    LabelConflictError,
    ModelNotFoundError,
    RollbackError,
    VersionStatusError,
    WatchkeeperError,
)
from watchkeeper.registry._reads import MAX_VERSION
from watchkeeper.server import _openapi as api
from watchkeeper.server._admin import Authorization, admin_router
from watchkeeper.server._decode import decode_invocations, decode_tfserving, load_json
from watchkeeper.server._decode_oip import decode_oip
from watchkeeper.server._errors import RequestError
from watchkeeper.server._labels import check_labels
from watchkeeper.server._report_route import report_router
from watchkeeper.server._scoring import decode, read_body, score

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Mapping

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from watchkeeper.config._ops import Schedule
    from watchkeeper.registry import Project
    from watchkeeper.server._decode import Decoded
    from watchkeeper.server._scheduler import MonitorScheduler
    from watchkeeper.server._state import ServerState

__all__ = ["app_from_environment", "create_app"]

logger = logging.getLogger("watchkeeper.server")

Version = Annotated[int, Path(ge=1, le=MAX_VERSION, description="The version number.")]

_METADATA_DATATYPES = {"b": "BOOL", "i": "INT64", "u": "INT64", "f": "FP64"}


# Rows that close a group commit early: a group of many 1,000-row requests would otherwise
# make every request in it wait for one long transaction (p99 latency).
_GROUP_ROWS = 8_192


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.wk
    return state


def _json(body: Any, status: int = 200, request_id: str | None = None) -> JSONResponse:
    headers = {"X-Request-Id": request_id} if request_id else None
    return JSONResponse(body, status_code=status, headers=headers)


class _Metrics:
    """ASGI middleware: every HTTP request counted by route template, model and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            state: ServerState | None = getattr(scope["app"].state, "wk", None)
            if state is not None and scope.get("route") is not None:
                endpoint, model = _endpoint_and_model(scope, state)
                state.metrics.observe_request(
                    endpoint=endpoint,
                    model=model,
                    code=status,
                    seconds=time.perf_counter() - started,
                )


def _endpoint_and_model(scope: Scope, state: ServerState | None) -> tuple[str, str]:
    """The route template and the model a request is about (metrics and rejections)."""
    route = scope.get("route")
    endpoint = getattr(route, "path", "other") if route is not None else "other"
    name = (scope.get("path_params") or {}).get("name", "")
    if state is not None and not name and endpoint == "/invocations":
        name = state.manager.default_model_or_none() or ""
    return endpoint, str(name)


def _error_response(request: Request, error: RequestError) -> JSONResponse:
    state: ServerState | None = getattr(request.app.state, "wk", None)
    endpoint, model = _endpoint_and_model(request.scope, state)
    if state is not None and error.reason not in ("not_found", "not_ready", "unauthorized"):
        state.reject(error, model=model, endpoint=endpoint)
    return JSONResponse(error.to_dict(), status_code=error.status)


_FROM_LIBRARY: tuple[tuple[type[WatchkeeperError], str], ...] = (
    (ModelNotFoundError, "not_found"),
    (LabelConflictError, "conflict"),
    (RollbackError, "conflict"),
    (VersionStatusError, "conflict"),
    (InvalidNameError, "invalid_parameter"),
    (InvalidParameterError, "invalid_parameter"),
    (InvalidInputError, "invalid_parameter"),
)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestError)
    async def _request_error(request: Request, exc: RequestError) -> JSONResponse:
        return _error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
        message = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))
        return _error_response(
            request, RequestError("invalid_parameter", message, field=where, status=422)
        )

    @app.exception_handler(WatchkeeperError)
    async def _library(request: Request, exc: WatchkeeperError) -> JSONResponse:
        for kind, reason in _FROM_LIBRARY:
            if isinstance(exc, kind):
                return _error_response(request, RequestError(reason, str(exc)))
        logger.exception("Request failed", exc_info=exc)
        return JSONResponse({"error": str(exc), "reason": "internal", "field": None}, 500)


# ---------------------------------------------------------------------------- app


def create_app(
    project: Project | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    project_location: str | None = None,
) -> FastAPI:
    """The watchkeeper server for ``project`` (opened here from ``project_location`` or the
    environment when None, and then closed with the app).

    Serving starts in the app's lifespan: the aliased versions are loaded, the log writer and
    the alias polling start, and with ``monitor.schedule`` the scheduled monitor cycles
    (:mod:`watchkeeper.server._scheduler`). ``environ`` supplies the tokens (default:
    ``os.environ``).
    """
    env = os.environ if environ is None else environ

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await _open_state(project, project_location, env)
        app.state.wk = state
        try:
            yield
        finally:
            await state.aclose()
            if project is None:
                state.project.close()

    app = FastAPI(
        title="watchkeeper",
        version=__version__,
        description="Serves registered models, logs every prediction, joins late labels.",
        lifespan=lifespan,
    )
    app.add_middleware(_Metrics)
    _install_handlers(app)
    _add_oip_routes(app)
    _add_mlflow_routes(app)
    _add_tf_and_label_routes(app)
    app.include_router(admin_router)
    app.include_router(report_router)

    @app.get("/metrics", include_in_schema=True, response_class=PlainTextResponse)
    async def metrics(request: Request) -> Response:
        state = _state(request)
        # The alias-move collector reads the database: off the event loop.
        body, content_type = await asyncio.to_thread(
            state.metrics.render, request.headers.get("accept")
        )
        return Response(body, media_type=content_type)

    return app


async def _open_state(
    project: Project | None, location: str | None, environ: Mapping[str, str]
) -> ServerState:
    from watchkeeper.config import LogConfig, MonitorConfig, ServeConfig
    from watchkeeper.registry import Project
    from watchkeeper.server._metrics import ServerMetrics
    from watchkeeper.server._models import ModelManager
    from watchkeeper.server._state import ServerState, Tokens
    from watchkeeper.store.writer import GroupCommitWriter

    opened = project if project is not None else await asyncio.to_thread(Project, location)
    writer = None
    try:
        config = opened.config.serve if opened.config is not None else ServeConfig()
        log_config = opened.config.log if opened.config is not None else LogConfig()
        monitor = opened.config.monitor if opened.config is not None else MonitorConfig()
        tokens = Tokens.from_env(config, environ)
        hash_key = None
        if any(rule == "hash" for rule in log_config.columns.values()):
            from watchkeeper.store.privacy import hash_key_from_env

            hash_key = hash_key_from_env(environ)
        metrics = ServerMetrics(multiprocess_dir=environ.get("PROMETHEUS_MULTIPROC_DIR"))
        if config.log_predictions:
            writer = GroupCommitWriter(
                opened.log,
                durability=config.durability,
                max_rows=_GROUP_ROWS,
                on_commit=lambda seconds, _rows: metrics.observe_commit(seconds),
            )
            writer.start()
            metrics.attach_writer(writer)
        metrics.attach_database(opened.database)
        metrics.attach_monitor(opened.database, getattr(monitor, "metrics_features", None))
        state = ServerState(
            project=opened,
            config=config,
            log_config=log_config,
            clock=opened.clock,
            manager=ModelManager(opened, config, metrics),
            metrics=metrics,
            writer=writer,
            tokens=tokens,
            hash_key=hash_key,
        )
        await state.manager.start()
        state.start_flusher()
        if monitor.schedule is not None:
            state.scheduler = _scheduler(state, monitor.schedule, monitor.models)
        return state
    except BaseException:
        if writer is not None:
            await asyncio.to_thread(writer.close)
        if project is None:
            opened.close()
        raise


def _scheduler(state: ServerState, schedule: Schedule, names: list[str] | None) -> MonitorScheduler:
    """Start the scheduled monitor cycles of ``names`` (``monitor.models``; None: the models
    this server serves, read at every poll)."""
    from watchkeeper.server._scheduler import MonitorScheduler

    scheduler = MonitorScheduler(
        state.project,
        schedule,
        models=(lambda: state.manager.names) if names is None else names,
    )
    scheduler.start()
    return scheduler


def app_from_environment() -> FastAPI:
    """The app for ``WATCHKEEPER_PROJECT`` (the factory worker processes import)."""
    return create_app(project_location=os.environ.get("WATCHKEEPER_PROJECT"))


# ---------------------------------------------------------------------------- OIP v2


def _check_predict_token(state: ServerState, authorization: str | None) -> None:
    if state.tokens.predict is not None and state.tokens.is_admin(authorization):
        return  # the admin token opens the prediction endpoints too
    state.tokens.check(state.tokens.predict, authorization, "Prediction endpoints")


def _model_metadata(state: ServerState, name: str, version: int | None) -> dict[str, Any]:
    """OIP model metadata (runs in a worker thread: it may read the registry)."""
    served = state.manager.serving(name)
    record = state.project.get(name, version) if version is not None else None
    if record is None:
        if served is None:
            raise RequestError("not_ready", f"Model {name!r} has no version ready.")
        record = served.record
    inputs = []
    for column in record.input_schema.columns:
        kind = column.dtype[:1] if column.dtype[:1] in "biuf" and column.dtype != "bool" else "O"
        datatype = "BOOL" if column.dtype == "bool" else _METADATA_DATATYPES.get(kind, "BYTES")
        if column.nullable and datatype.startswith("INT"):
            datatype = "FP64"  # nulls travel as NaN
        inputs.append({"name": column.name, "datatype": datatype, "shape": [-1]})
    outputs = [{"name": "predict", "datatype": "BYTES", "shape": [-1]}]
    if record.model_info.get("has_predict_proba") and record.model_info.get("classes"):
        outputs.append(
            {
                "name": "predict_proba",
                "datatype": "FP64",
                "shape": [-1, len(record.model_info["classes"])],
            }
        )
    versions = sorted({str(v) for v in (record.version, served.version if served else None) if v})
    return {
        "name": name,
        "versions": versions,
        "platform": record.flavour,
        "inputs": inputs,
        "outputs": outputs,
    }


def _add_oip_routes(app: FastAPI) -> None:
    @app.get("/v2/health/live", tags=["oip"], responses=api.responses(None))
    async def live() -> dict[str, bool]:
        return {"live": True}

    @app.get("/v2/health/ready", tags=["oip"], responses=api.responses(None, 400))
    async def ready(request: Request) -> Response:
        manager = _state(request).manager
        ok = bool(manager.names) and all(manager.ready(n) for n in manager.names)
        return _json({"ready": ok}, 200 if ok else 400)

    @app.get("/v2", tags=["oip"], responses=api.responses(None))
    async def server_metadata() -> dict[str, Any]:
        return {"name": "watchkeeper", "version": __version__, "extensions": []}

    @app.get("/v2/models/{name}", tags=["oip"], responses=api.responses(None, 404, 503))
    async def model_metadata(request: Request, name: str) -> dict[str, Any]:
        _state(request).manager.require(name)
        return await asyncio.to_thread(_model_metadata, _state(request), name, None)

    @app.get(
        "/v2/models/{name}/versions/{version}", tags=["oip"], responses=api.responses(None, 404)
    )
    async def version_metadata(request: Request, name: str, version: Version) -> dict[str, Any]:
        _state(request).manager.require(name)
        return await asyncio.to_thread(_model_metadata, _state(request), name, version)

    @app.get("/v2/models/{name}/ready", tags=["oip"], responses=api.responses(None, 400, 404))
    async def model_ready(request: Request, name: str) -> Response:
        manager = _state(request).manager
        manager.require(name)
        ok = manager.ready(name)
        return _json({"name": name, "ready": ok}, 200 if ok else 400)

    @app.get(
        "/v2/models/{name}/versions/{version}/ready",
        tags=["oip"],
        responses=api.responses(None, 400, 404),
    )
    async def version_ready(request: Request, name: str, version: Version) -> Response:
        manager = _state(request).manager
        manager.require(name)
        ok = manager.ready(name, version)  # never loads: a version loads on its first request
        body: dict[str, Any] = {"name": name, "version": str(version), "ready": ok}
        failure = manager.failure(name, version)
        if failure:
            body["error"] = failure
        return _json(body, 200 if ok else 400)

    infer_codes = (400, 401, 404, 409, 413, 415, 422, 503)

    @app.post(
        "/v2/models/{name}/infer",
        tags=["oip"],
        openapi_extra=api.body(api.OIP_REQUEST),
        responses=api.responses(api.OIP_RESPONSE, *infer_codes),
    )
    async def infer(request: Request, name: str, authorization: Authorization = None) -> Response:
        return await _scored(request, name, None, authorization, decode_oip)

    @app.post(
        "/v2/models/{name}/versions/{version}/infer",
        tags=["oip"],
        openapi_extra=api.body(api.OIP_REQUEST),
        responses=api.responses(api.OIP_RESPONSE, *infer_codes),
    )
    async def infer_version(
        request: Request, name: str, version: Version, authorization: Authorization = None
    ) -> Response:
        return await _scored(request, name, version, authorization, decode_oip)


async def _scored(
    request: Request,
    name: str,
    version: int | None,
    authorization: str | None,
    decoder: Callable[[bytes], Decoded],
) -> Response:
    """Token, model, body, decoding, then the one scoring path (OIP and TF Serving)."""
    state = _state(request)
    _check_predict_token(state, authorization)
    state.manager.require(name)
    body = await read_body(request, state.config.max_body_bytes)
    decoded = await decode(decoder, body)
    answer, request_id = await score(state, request, name, version, decoded)
    return _json(answer, request_id=request_id)


# ---------------------------------------------------------------------------- MLflow


def _add_mlflow_routes(app: FastAPI) -> None:
    @app.post(
        "/invocations",
        tags=["mlflow"],
        openapi_extra=api.body(api.INVOCATIONS_REQUEST, csv=True),
        responses=api.responses(api.SCORING_RESPONSE, 400, 401, 404, 409, 413, 415, 422, 503),
    )
    async def invocations(request: Request, authorization: Authorization = None) -> Response:
        state = _state(request)
        _check_predict_token(state, authorization)
        name = state.manager.default_model()
        body = await read_body(request, state.config.max_body_bytes)
        decoded = await decode(decode_invocations, body, request.headers.get("content-type"))
        answer, request_id = await score(state, request, name, None, decoded)
        return _json(answer, request_id=request_id)

    @app.get("/ping", tags=["mlflow"], responses={200: {"description": "Ready"}, 404: {}})
    async def ping(request: Request) -> Response:
        return _health(request)

    @app.get("/health", tags=["mlflow"], responses={200: {"description": "Ready"}, 404: {}})
    async def health(request: Request) -> Response:
        return _health(request)

    @app.get("/version", tags=["mlflow"], response_class=PlainTextResponse)
    async def version() -> str:
        return __version__


def _health(request: Request) -> Response:
    manager = _state(request).manager
    try:
        ok = manager.ready(manager.default_model())
    except RequestError:
        ok = False
    return PlainTextResponse("\n", status_code=200 if ok else 404)


# ---------------------------------------------------------------------------- TF Serving, labels


def _add_tf_and_label_routes(app: FastAPI) -> None:
    tf_codes = (400, 401, 404, 409, 413, 415, 422, 503)

    @app.post(
        "/v1/models/{name}:predict",
        tags=["tf-serving"],
        openapi_extra=api.body(api.TF_REQUEST),
        responses=api.responses(api.SCORING_RESPONSE, *tf_codes),
    )
    async def tf_predict(
        request: Request, name: str, authorization: Authorization = None
    ) -> Response:
        return await _scored(request, name, None, authorization, decode_tfserving)

    @app.post(
        "/v1/models/{name}/versions/{version}:predict",
        tags=["tf-serving"],
        openapi_extra=api.body(api.TF_REQUEST),
        responses=api.responses(api.SCORING_RESPONSE, *tf_codes),
    )
    async def tf_predict_version(
        request: Request, name: str, version: Version, authorization: Authorization = None
    ) -> Response:
        return await _scored(request, name, version, authorization, decode_tfserving)

    @app.post(
        "/v1/models/{name}/labels",
        tags=["labels"],
        openapi_extra=api.body(api.LABELS_REQUEST),
        responses=api.responses(api.LABELS_RESPONSE, 400, 401, 404, 409, 413, 422),
    )
    async def labels(request: Request, name: str, authorization: Authorization = None) -> Response:
        return await _labels(request, name, authorization)


async def _labels(request: Request, name: str, authorization: str | None) -> Response:
    """Labels for any registered model (batch-scored ones too, not only those served here)."""
    import numpy as np

    state = _state(request)
    _check_predict_token(state, authorization)
    raw = await read_body(request, state.config.max_body_bytes)
    document = await decode(functools.partial(load_json, expect=(dict, list)), raw)
    items = check_labels(document, max_items=state.config.max_rows)
    result = await asyncio.to_thread(state.project.log.add_labels, name, items)
    state.metrics.observe_labels(
        model=name,
        received=len(items),
        joined=result.stored,
        unknown=len(result.unknown),
        delays_seconds=np.asarray(result.delays_seconds, dtype=np.float64),
    )
    return _json(
        {"stored": result.stored, "unchanged": result.unchanged, "unknown": result.unknown}
    )
