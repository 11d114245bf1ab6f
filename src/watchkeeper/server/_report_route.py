"""``GET /v1/models/{name}/report``: a model's :class:`~watchkeeper.report.MonitoringReport`.

The page is built at each request from the stored monitor runs and the model's audit history,
so runs made by the schedule, the CLI or another replica show up at once. Without ``since`` or
``until`` it covers the last :data:`DEFAULT_DAYS` days (from midnight UTC), so it stays a
readable size however long the history grows. When
``WATCHKEEPER_ADMIN_TOKEN`` is set the route needs it (it shows the model's data); without it,
it needs the prediction token when ``serve.require_predict_token`` is on, and is open otherwise.

Rendering reads the database and draws SVG, so it runs in a worker thread. The response carries
``Cache-Control: no-cache`` and an ``ETag`` made from what the page depends on (the newest run
id and number of runs in the period, the newest event id and number of events, the period, the
format and the watchkeeper version); a request whose ``If-None-Match`` matches gets 304 without
the page being built again.
"""

from __future__ import annotations

import asyncio
import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from watchkeeper._version import __version__
from watchkeeper.errors import ModelNotFoundError
from watchkeeper.server import _openapi as api
from watchkeeper.server._admin import Authorization  # noqa: TC001 (FastAPI reads it at run time)
from watchkeeper.server._errors import RequestError

if TYPE_CHECKING:
    from watchkeeper.registry import Project
    from watchkeeper.server._state import ServerState

__all__ = ["etag_matches", "parse_moment", "report_router"]

report_router = APIRouter(tags=["report"])

Format = Literal["html", "json"]

_ISO = (
    "an ISO 8601 date or time (2024-01-31, 2024-01-31T12:00, 2024-01-31T12:00:00+02:00; "
    "naive = UTC)"
)
_CACHE = {"Cache-Control": "private, no-cache"}
DEFAULT_DAYS = 30  # the period shown when the request names none
# Reports render one at a time in their own thread: a burst of report requests queues here
# instead of taking the default executor's threads from model loading and alias polling.
_RENDERER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="watchkeeper-report")
# The page has no script and loads nothing: say so, so a browser refuses anything else.
_HTML_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
}

_RESPONSES: dict[int | str, dict[str, Any]] = {
    **api.responses(None, 401, 404, 422),
    200: {
        "description": "The report: an HTML page, or its data as JSON with format=json",
        "content": {
            "text/html": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    },
    304: {"description": "Not modified: If-None-Match names the current ETag"},
}


def parse_moment(value: str | None, parameter: str) -> datetime | None:
    """``value`` of the query parameter ``parameter`` as an aware UTC datetime (naive = UTC).

    Parameters
    ----------
    value
        The parameter as sent, or None when absent.
    parameter
        Its name, for the error message.

    Returns
    -------
    datetime or None
        None when ``value`` is None.

    Raises
    ------
    RequestError
        ``invalid_parameter`` (422) naming ``parameter`` when ``value`` is not ISO 8601.
    """
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 moved across midnight
        # A '+' left unescaped in a query string arrives as a space.
        hint = " (send a '+' in a URL as %2B)" if " " in value.strip() else ""
        raise RequestError(
            "invalid_parameter",
            f"{parameter} must be {_ISO}. Got {value[:100]!r} instead{hint}.",
            field=parameter,
        ) from None


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, RFC 9110 13.1.2).

    Parameters
    ----------
    if_none_match
        The header as sent (``"a", W/"b"`` or ``*``), or None.
    etag
        The current entity tag, quoted.

    Returns
    -------
    bool
        True when the header is ``*`` or lists ``etag`` with or without ``W/``.
    """
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def _etag(
    project: Project, name: str, since: datetime | None, until: datetime | None, fmt: Format
) -> str:
    """The entity tag of ``name``'s report for the period (one short read transaction).

    Raises ModelNotFoundError for an unknown model (InvalidNameError for an invalid name),
    worded as the registry words it for the other ``/v1/models/{name}`` routes.
    """
    from sqlalchemy import func, select

    from watchkeeper.registry._names import check_model_name
    from watchkeeper.store.tables import events, monitor_runs, registered_models

    check_model_name(name)  # before the database sees it (PostgreSQL refuses a NUL)
    with project.database.read() as conn:
        model_id = conn.execute(
            select(registered_models.c.id).where(registered_models.c.name == name)
        ).scalar()
        if model_id is not None:
            runs = select(func.max(monitor_runs.c.id), func.count()).where(
                monitor_runs.c.model_id == model_id
            )
            if since is not None:
                runs = runs.where(monitor_runs.c.ran_at >= since)
            if until is not None:
                runs = runs.where(monitor_runs.c.ran_at < until)
            newest_run, n_runs = conn.execute(runs).one()
            newest_event, n_events = conn.execute(
                select(func.max(events.c.id), func.count()).where(events.c.model_id == model_id)
            ).one()
    if model_id is None:
        project.model(name)  # raises, worded like every other route's "no such model"
        raise ModelNotFoundError(f"No registered model named {name!r}.")  # registered since
    material = "\x00".join(
        str(part)
        for part in (
            __version__,
            fmt,
            name,
            model_id,
            newest_run,
            n_runs,
            newest_event,
            n_events,
            None if since is None else since.isoformat(),
            None if until is None else until.isoformat(),
        )
    )
    return '"' + hashlib.sha256(material.encode()).hexdigest()[:32] + '"'


def _answer(
    project: Project,
    name: str,
    since: datetime | None,
    until: datetime | None,
    fmt: Format,
    if_none_match: str | None,
) -> Response:
    """304 when the client has the current page; else the page (in a worker thread)."""
    from watchkeeper.report import MonitoringReport

    # The tag is read before the page: a run stored in between makes the page newer than its
    # tag, never older, so a client can never keep a stale page under a current tag.
    etag = _etag(project, name, since, until, fmt)
    headers = {**_CACHE, "ETag": etag}
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    document = MonitoringReport.from_project(project, name, since=since, until=until)
    if fmt == "json":
        return JSONResponse(document.to_dict(), headers=headers)
    return HTMLResponse(document.to_html(), headers={**headers, **_HTML_HEADERS})


@report_router.get("/v1/models/{name}/report", response_class=HTMLResponse, responses=_RESPONSES)
async def report(
    request: Request,
    name: str,
    since: Annotated[
        str | None,
        Query(
            description=f"Runs from this time: {_ISO}. Without since and until: the last "
            f"{DEFAULT_DAYS} days, from midnight UTC."
        ),
    ] = None,
    until: Annotated[str | None, Query(description=f"Runs before this time: {_ISO}.")] = None,
    output_format: Annotated[
        Format,
        Query(alias="format", description="html: the page; json: the data behind it."),
    ] = "html",
    authorization: Authorization = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The model's monitoring report: drift per feature, performance, data quality, label
    coverage, detector firings and the timeline of deployments and decisions."""
    state: ServerState = request.app.state.wk
    tokens = state.tokens
    if tokens.admin is not None:
        tokens.check(tokens.admin, authorization, "Admin endpoints")
    elif tokens.predict is not None:
        # No admin token, but clients must authenticate: the report is not more open than
        # the prediction routes.
        tokens.check(tokens.predict, authorization, "The report (without an admin token)")
    start, stop = parse_moment(since, "since"), parse_moment(until, "until")
    if start is None and stop is None:
        # The latest report: the last DEFAULT_DAYS days, from midnight UTC, so the page (and
        # its ETag) stays the same all day and its size does not grow with the history.
        today = (
            state.project.clock.now()
            .astimezone(UTC)
            .replace(hour=0, minute=0, second=0, microsecond=0)
        )
        start = today - timedelta(days=DEFAULT_DAYS)
    if start is not None and stop is not None and start >= stop:
        raise RequestError(
            "invalid_parameter",
            f"until must be after since. Got since={since!r} and until={until!r}.",
            field="until",
        )
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        _RENDERER, _answer, state.project, name, start, stop, output_format, if_none_match
    )
