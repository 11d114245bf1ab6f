"""The one path every prediction takes, whichever protocol it came in by.

Decoded request -> validated columns -> the held version's batcher -> the log (the response
waits for the commit unless ``durability: async``) -> the encoded answer; the shadow version,
if any, scores the same rows off the response path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

import numpy as np
from starlette.requests import ClientDisconnect

from watchkeeper.errors import InvalidInputError, StoreError
from watchkeeper.server._encode import encode
from watchkeeper.server._errors import RequestError
from watchkeeper.server._validate import validate_columns, validate_id_values

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import Request

    from watchkeeper.server._decode import Decoded
    from watchkeeper.server._models import Loaded
    from watchkeeper.server._state import ServerState

__all__ = ["decode", "read_body", "request_id_from", "score"]

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
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise RequestError(
                    "too_large",
                    f"The body is over {limit} bytes, the most this server accepts "
                    "(serve.max_body_bytes).",
                )
            chunks.append(chunk)
    except ClientDisconnect:
        raise RequestError(
            "client_closed", "The client closed the connection before sending the whole body."
        ) from None
    return b"".join(chunks)


#: Bodies larger than this are decoded off the event loop, so one big request does not hold
#: up the others.
DECODE_IN_THREAD_BYTES = 256 * 1024


async def decode(decoder: Callable[..., Decoded], body: bytes, *args: Any) -> Decoded:
    """``decoder(body, *args)``, in a worker thread for large bodies."""
    if len(body) > DECODE_IN_THREAD_BYTES:
        return await asyncio.to_thread(decoder, body, *args)
    return decoder(body, *args)


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


def _event_times(
    state: ServerState,
    request: Request,
    decoded: Decoded,
    extra: dict[str, np.ndarray],
    n: int,
) -> Any:
    """The rows' event times: the server's clock, or the client's where
    ``serve.client_event_time`` is true or the request carries the admin token (a backfill)."""
    import pandas as pd

    given_param = decoded.parameters.get(EVENT_TIME)
    given_column = extra.get(EVENT_TIME)
    if given_param is None and given_column is None:
        return state.clock.now()
    if not state.config.client_event_time and not state.tokens.is_admin(
        request.headers.get("authorization")
    ):
        raise RequestError(
            "invalid_parameter",
            "This server stamps event times itself (serve.client_event_time is false); "
            "remove the event_time parameter or column, or send the admin token "
            "(Authorization: Bearer $WATCHKEEPER_ADMIN_TOKEN).",
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


def _passthrough(loaded: Loaded) -> list[str]:
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
    started = time.perf_counter()
    request_id = request_id_from(request, decoded)
    async with state.manager.use(name, version) as loaded:
        inputs, extra = validate_columns(
            decoded,
            loaded.record.input_schema,
            max_rows=state.config.max_rows,
            passthrough=_passthrough(loaded),
        )
        n = decoded.n_rows
        when = _event_times(state, request, decoded, extra, n)
        keys = None
        if loaded.id_column and loaded.id_column in extra:
            keys = validate_id_values(extra[loaded.id_column], loaded.id_column)
        labels, proba = await _predict(loaded, inputs)
        if state.config.log_predictions and state.writer is not None:
            outputs = loaded.outputs(labels, proba)
            outputs["latency_seconds"] = np.full(n, time.perf_counter() - started)
            await _log(state, name, loaded, inputs, outputs, request_id, when, keys, "served")
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
    shadow = state.manager.shadow_of(name) if version is None else None
    if shadow is not None and shadow.version != loaded.version:
        _start_shadow(state, name, loaded.version, decoded, request_id, when, keys)
    return body, request_id


async def _predict(
    loaded: Loaded, inputs: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray | None]:
    """The model's labels and probabilities; its own errors on valid rows are a 422."""
    try:
        out = await loaded.batcher.predict(inputs)
    except Exception as exc:
        logger.warning("%s refused a request: %s: %s", loaded.record.uri, type(exc).__name__, exc)
        raise RequestError(
            "model_error",
            f"The model ({loaded.record.uri}) could not score these rows, which match its input "
            f"schema: {type(exc).__name__}: {str(exc)[:500]}",
        ) from None
    return out["labels"], out.get("proba")


async def _log(
    state: ServerState,
    name: str,
    loaded: Loaded,
    inputs: dict[str, np.ndarray],
    outputs: dict[str, np.ndarray],
    request_id: str,
    when: Any,
    keys: list[str | None] | None,
    role: str,
) -> None:
    """Append the rows and wait for the commit (unless ``durability: async``).

    The rows go to the writer as they are; it assembles a whole group's rows into one Arrow
    table in its own thread, so a request pays only for handing them over.
    """
    from watchkeeper.store.writer import PendingRows

    assert state.writer is not None
    n = len(next(iter(outputs.values())))
    batch = PendingRows(
        model=name,
        version=loaded.version,
        role=role,
        request_id=request_id,
        inputs=_private(state, inputs),
        outputs=outputs,
        event_time=when,
        keys=keys,
        n_rows=n,
    )
    try:
        await state.writer.write(batch)
    except InvalidInputError as exc:
        raise RequestError(
            "conflict",
            f"Request id {request_id!r} was logged before; send a new id. ({exc})",
            field="id",
        ) from None
    except StoreError as exc:
        full = state.writer.queue_depth >= state.writer.max_queue
        raise RequestError(
            "overloaded",
            "The prediction log "
            + ("is not keeping up" if full else "cannot be written")
            + f"; retry later. ({exc})",
        ) from None


#: Shadow predictions allowed in flight; more are skipped (and counted), never queued.
SHADOW_IN_FLIGHT = 64


def _start_shadow(
    state: ServerState,
    name: str,
    answered: int,
    decoded: Decoded,
    request_id: str,
    when: Any,
    keys: list[str | None] | None,
) -> None:
    if state.shadow_in_flight >= SHADOW_IN_FLIGHT:
        state.metrics.observe_shadow_skipped(model=name, reason="busy")
        return
    writer = state.writer
    if writer is not None and writer.queue_depth * 2 >= writer.max_queue:
        state.metrics.observe_shadow_skipped(model=name, reason="log_busy")
        return
    state.shadow_in_flight += 1
    state.spawn(
        _shadow(state, name, answered, decoded, request_id, when, keys), name="watchkeeper-shadow"
    )


async def _shadow(
    state: ServerState,
    name: str,
    answered: int,
    decoded: Decoded,
    request_id: str,
    when: Any,
    keys: list[str | None] | None,
) -> None:
    """Score the request with the shadow version, off the response path, and log it (not
    when the shadow alias has meanwhile come to point at ``answered``, the version that
    answered: its rows are logged already)."""
    try:
        async with state.manager.use(name, shadow=True) as shadow:
            if shadow.version == answered:
                return
            # The shadow takes what it needs from the request; columns only the served
            # version uses are not "extra" for it.
            wanted = {*shadow.record.input_schema.names, *_passthrough(shadow)}
            own = dataclasses.replace(
                decoded, columns={k: v for k, v in decoded.columns.items() if k in wanted}
            )
            try:
                inputs, _ = validate_columns(
                    own,
                    shadow.record.input_schema,
                    max_rows=state.config.max_rows,
                    passthrough=_passthrough(shadow),
                )
            except RequestError:  # the shadow takes other inputs than the served version
                state.metrics.observe_shadow_skipped(model=name, reason="schema")
                return
            started = time.perf_counter()
            labels, proba = await _predict(shadow, inputs)
            if state.config.log_predictions and state.writer is not None:
                outputs = shadow.outputs(labels, proba)
                outputs["latency_seconds"] = np.full(len(labels), time.perf_counter() - started)
                await _log(state, name, shadow, inputs, outputs, request_id, when, keys, "shadow")
            state.metrics.observe_rows(
                model=name, version=shadow.version, role="shadow", n=len(labels)
            )
    except RequestError as exc:
        if exc.reason != "not_found":  # not_found: the shadow alias moved away meanwhile
            state.metrics.observe_shadow_skipped(model=name, reason="error")
    except Exception:
        state.metrics.observe_shadow_skipped(model=name, reason="error")
        logger.exception("The shadow version of %r failed on request %s.", name, request_id)
    finally:
        state.shadow_in_flight -= 1
