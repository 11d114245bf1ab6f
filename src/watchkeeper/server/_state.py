"""What one server process holds: the project, its settings, the models, the log writer.

:class:`ServerState` is built in the app's lifespan and closed with it. Everything a route needs
is here, so routes stay thin.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from watchkeeper.errors import ConfigError
from watchkeeper.server._errors import RequestError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from watchkeeper.clock import Clock
    from watchkeeper.config import LogConfig, ServeConfig
    from watchkeeper.registry import Project
    from watchkeeper.server._metrics import ServerMetrics
    from watchkeeper.server._models import ModelManager
    from watchkeeper.server._scheduler import MonitorScheduler
    from watchkeeper.store.writer import GroupCommitWriter

__all__ = ["ServerState", "Tokens"]

logger = logging.getLogger("watchkeeper.server")

_REJECTED_KEEP = 10_000  # newest rejected requests kept in the table
_REJECTED_PER_FLUSH = 200  # at most this many rows per second; the rest are only counted


@dataclass(frozen=True)
class Tokens:
    """The bearer tokens, from the environment (never from the config file)."""

    admin: str | None
    predict: str | None

    @classmethod
    def from_env(cls, config: ServeConfig, environ: Mapping[str, str]) -> Tokens:
        """``WATCHKEEPER_ADMIN_TOKEN`` and, when required, ``WATCHKEEPER_PREDICT_TOKEN``."""
        admin = environ.get("WATCHKEEPER_ADMIN_TOKEN") or None
        predict = environ.get("WATCHKEEPER_PREDICT_TOKEN") or None
        if config.require_predict_token and predict is None:
            raise ConfigError(
                "serve.require_predict_token is true but WATCHKEEPER_PREDICT_TOKEN is not set; "
                "set it to the token prediction clients must send."
            )
        return cls(admin=admin, predict=predict if config.require_predict_token else None)

    @staticmethod
    def matches(expected: str | None, authorization: str | None) -> bool:
        """Whether ``authorization`` is ``Bearer <expected>`` (compared in constant time);
        never when ``expected`` is None."""
        if expected is None:
            return False
        scheme, _, given = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), expected.encode()
        )

    def is_admin(self, authorization: str | None) -> bool:
        """Whether the request carries the admin token (never when none is configured)."""
        return self.matches(self.admin, authorization)

    @classmethod
    def check(cls, expected: str | None, authorization: str | None, what: str) -> None:
        """Refuse unless ``authorization`` is ``Bearer <expected>`` (compared in constant time)."""
        if expected is None:
            return
        if not cls.matches(expected, authorization):
            raise RequestError(
                "unauthorized",
                f"{what} need an 'Authorization: Bearer <token>' header with the right token.",
                field="Authorization",
            )


@dataclass
class ServerState:
    """One server process's project, settings, models, metrics, log writer and tokens."""

    project: Project
    config: ServeConfig
    log_config: LogConfig
    clock: Clock
    manager: ModelManager
    metrics: ServerMetrics
    writer: GroupCommitWriter | None
    tokens: Tokens
    hash_key: bytes | None
    rejected: list[dict[str, Any]] = field(default_factory=list)
    shadow_in_flight: int = 0
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    scheduler: MonitorScheduler | None = None
    _flusher: asyncio.Task[None] | None = None

    def spawn(self, coro: Any, name: str) -> None:
        """Run ``coro`` off the response path, keeping a reference until it is done."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    # ------------------------------------------------------------------ rejected requests
    def reject(self, error: RequestError, *, model: str, endpoint: str) -> None:
        """Count a refused request, and keep it (a few per second) for the table."""
        self.metrics.observe_rejected(
            model=model, endpoint=endpoint, reason=error.reason, field=error.field
        )
        if len(self.rejected) < _REJECTED_PER_FLUSH:
            message = error.message
            rule = self.log_config.columns.get(error.field or "")
            if rule is not None:  # the message may quote the value: keep it out of the table
                message = f"{error.reason} in column {error.field!r} (value not kept: {rule})"
            self.rejected.append(
                {
                    "model": _text(model, 64),
                    "endpoint": _text(endpoint, 128),
                    "status": error.status,
                    "reason": error.reason,
                    "field": None if error.field is None else _text(error.field, 256),
                    "message": _text(message, 1000),
                    "created_at": self.clock.now(),
                }
            )

    def start_flusher(self) -> None:
        self._flusher = asyncio.get_running_loop().create_task(
            self._flush_loop(), name="watchkeeper-rejected-flush"
        )

    async def _flush_loop(self) -> None:
        rounds = 0
        while True:
            await asyncio.sleep(1.0)
            rounds += 1
            await self.flush_rejected(trim=rounds % 60 == 0)

    async def flush_rejected(self, *, trim: bool = False) -> None:
        rows, self.rejected = self.rejected, []
        if not rows and not trim:
            return
        try:
            await asyncio.to_thread(_write_rejected, self.project, rows, trim)
        except Exception:  # counting bad requests must never take the server down
            logger.exception("Could not record %d rejected request(s).", len(rows))

    async def aclose(self) -> None:
        if self.scheduler is not None:  # first: a scheduled run may be using the project
            await asyncio.to_thread(self.scheduler.stop)
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        if self.background:
            await asyncio.gather(*self.background, return_exceptions=True)
        await self.flush_rejected()
        await self.manager.aclose()
        if self.writer is not None:
            await asyncio.to_thread(self.writer.close)


def _text(value: str, limit: int) -> str:
    """``value`` fit for a text column: no NUL (PostgreSQL refuses it), valid UTF-8, short."""
    cleaned = value.replace("\x00", "\ufffd")[:limit]
    return cleaned.encode("utf-8", "replace").decode("utf-8")


def _write_rejected(project: Project, rows: list[dict[str, Any]], trim: bool) -> None:
    from sqlalchemy import delete, func, insert, select

    from watchkeeper.store.tables import rejected_requests as table

    try:
        if rows:
            with project.database.write() as conn:
                conn.execute(insert(table), rows)
    except Exception:  # one row the database refuses must not lose the others
        for row in rows:
            try:
                with project.database.write() as conn:
                    conn.execute(insert(table), [row])
            except Exception:
                logger.warning("Could not record a rejected request (%s).", row["reason"])
    if trim:
        with project.database.write() as conn:
            newest = conn.execute(select(func.max(table.c.id))).scalar()
            if newest is not None:
                conn.execute(delete(table).where(table.c.id <= newest - _REJECTED_KEEP))
