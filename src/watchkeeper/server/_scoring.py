"""The one path every prediction takes, whichever protocol it came in by.

Decoded request -> validated columns -> the held version's batcher -> the log (the response
waits for the commit unless ``durability: async``) -> the encoded answer; the shadow version,
if any, scores the same rows off the response path.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

import numpy as np

from watchkeeper.errors import InvalidInputError, StoreError
from watchkeeper.server._encode import encode
from watchkeeper.server._errors import RequestError
from watchkeeper.server._validate import validate_columns

if TYPE_CHECKING:
    from starlette.requests import Request

    from watchkeeper.server._decode import Decoded
    from watchkeeper.server._models import Loaded
    from watchkeeper.server._state import ServerState

__all__ = ["read_body", "request_id_from", "score"]

logger = logging.getLogger("watchkeeper.server")

_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")  # printable ASCII, no spaces
EVENT_TIME = "event_time"


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes before reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(
            "too_large",
            f"The body is {int(declared)} bytes; this server accepts at most {limit} "
            "(serve.max_body_bytes).",
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(
                "too_large",
                f"The body is over {limit} bytes, the most this server accepts "
                "(serve.max_body_bytes).",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def request_id_from(request: Request, decoded: Decoded | None = None) -> str:
    """The body's ``id`` (OIP), else the ``X-Request-Id`` header, else a new id."""
    if decoded is not None and decoded.request_id is not None:
        return decoded.request_id
    given = request.headers.get("x-request-id")
    if given is None:
        return uuid.uuid4().hex
    if not _REQUEST_ID.fullmatch(given):
        raise RequestError(
            "invalid_parameter",
            "The X-Request-Id header must be 1 to 128 printable ASCII characters without "
            f"spaces; got {given[:40]!r}.",
            field="X-Request-Id",
        )
    return given


def _event_times(state: ServerState, decoded: Decoded, extra: dict[str, np.ndarray], n: int) -> Any:
    import pandas as pd

    given_param = decoded.parameters.get(EVENT_TIME)
    given_column = extra.get(EVENT_TIME)
    if given_param is None and given_column is None:
        return state.clock.now()
    if not state.config.client_event_time:
        raise RequestError(
            "invalid_parameter",
            "This server stamps event times itself (serve.client_event_time is false); "
            "remove the event_time parameter or column.",
            field=EVENT_TIME,
        )
    values = [given_param] * n if given_column is None else list(given_column)
    if any(not isinstance(v, str) for v in values):
        raise RequestError(
            "invalid_parameter",
            "event_time must be an ISO-8601 string such as 2026-12-06T10:00:00Z.",
            field=EVENT_TIME,
        )
    try:
        times = pd.to_datetime(pd.Series(values), utc=True, format="ISO8601")
    except (ValueError, TypeError, OverflowError) as exc:
        raise RequestError(
            "invalid_parameter",
            f"event_time must be ISO-8601 (e.g. 2026-12-06T10:00:00Z): {exc}",
            field=EVENT_TIME,
        ) from None
    if bool(times.isna().any()):
        raise RequestError("invalid_parameter", "event_time has missing values.", field=EVENT_TIME)
    return times


def _passthrough(state: ServerState, loaded: Loaded) -> list[str]:
    # event_time is always let through, so that sending it where it is not allowed gets a
    # clear error (see _event_times) rather than "unknown column".
    names = [loaded.id_column, EVENT_TIME] if loaded.id_column else [EVENT_TIME]
    return [n for n in names if n not in loaded.record.input_schema.names]


def _private(state: ServerState, inputs: dict[str, np.ndarray]) -> Any:
    rules = state.log_config.columns
    if not rules:
        return inputs
    from watchkeeper.store.privacy import apply_column_rules

    return apply_column_rules(inputs, rules, state.hash_key)


async def score(
    state: ServerState,
    request: Request,
    name: str,
    version: int | None,
    decoded: Decoded,
) -> tuple[dict[str, Any], str]:
    """Predict, log and encode; returns the JSON body and the request id."""
    from watchkeeper.store.predictions import make_batch

    started = time.perf_counter()
    request_id = request_id_from(request, decoded)
    async with state.manager.use(name, version) as loaded:
        inputs, extra = validate_columns(
            decoded,
            loaded.record.input_schema,
            max_rows=state.config.max_rows,
            passthrough=_passthrough(state, loaded),
        )
        n = decoded.n_rows
        when = _event_times(state, decoded, extra, n)
        out = await loaded.batcher.predict(inputs)
        labels, proba = out["labels"], out.get("proba")
        keys = None
        if loaded.id_column and loaded.id_column in extra:
            keys = [None if k is None else str(k) for k in extra[loaded.id_column]]
        if state.config.log_predictions and state.writer is not None:
            logged = _private(state, inputs)
            outputs = loaded.outputs(labels, proba)
            outputs["latency_seconds"] = np.full(n, time.perf_counter() - started)
            batch = make_batch(
                name, loaded.version, logged, outputs,
                request_id=request_id, event_time=when, keys=keys,
            )  # fmt: skip
            try:
                await state.writer.write(batch)
            except InvalidInputError as exc:
                raise RequestError(
                    "conflict",
                    f"Request id {request_id!r} was logged before; send a new id. ({exc})",
                    field="id",
                ) from None
            except StoreError as exc:
                raise RequestError(
                    "overloaded", f"The prediction log is not keeping up: {exc}"
                ) from None
        state.metrics.observe_rows(model=name, version=loaded.version, role="served", n=n)
        state.metrics.observe_outputs(
            model=name, version=loaded.version, labels=labels, proba=proba, classes=loaded.classes
        )
        body = encode(
            decoded.style,
            model=name,
            version=loaded.version,
            request_id=request_id,
            labels=labels,
            proba=proba,
            classes=loaded.classes,
            ids=keys,
        )
    if version is None and state.manager.shadow_of(name) is not None:
        state.spawn(_shadow(state, name, inputs, request_id, when, keys), name="watchkeeper-shadow")
    return body, request_id


async def _shadow(
    state: ServerState,
    name: str,
    inputs: dict[str, np.ndarray],
    request_id: str,
    when: Any,
    keys: list[str | None] | None,
) -> None:
    from watchkeeper.store.predictions import make_batch

    try:
        async with state.manager.use(name, shadow=True) as shadow:
            started = time.perf_counter()
            out = await shadow.batcher.predict(inputs)
            labels, proba = out["labels"], out.get("proba")
            n = len(labels)
            if state.config.log_predictions and state.writer is not None:
                outputs = shadow.outputs(labels, proba)
                outputs["latency_seconds"] = np.full(n, time.perf_counter() - started)
                batch = make_batch(
                    name, shadow.version, _private(state, inputs), outputs,
                    request_id=request_id, event_time=when, keys=keys, role="shadow",
                )  # fmt: skip
                await state.writer.write(batch)
            state.metrics.observe_rows(model=name, version=shadow.version, role="shadow", n=n)
    except RequestError:
        pass  # the shadow alias moved away meanwhile
    except Exception:
        logger.exception("The shadow version of %r failed on request %s.", name, request_id)
