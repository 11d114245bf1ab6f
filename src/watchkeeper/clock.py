"""Injectable clocks: everything that stamps or windows time takes a :class:`Clock`.

The wall clock is the default; :class:`SimulatedClock` lets the demo and the tests move time
by hand, so a "week of production traffic" runs in a second and deterministically.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from watchkeeper.errors import InvalidParameterError

__all__ = ["Clock", "SimulatedClock", "WallClock", "as_utc"]


def as_utc(when: datetime) -> datetime:
    """``when`` as an aware UTC datetime; a naive one is taken to be UTC already (as SQLite
    returns stored times, and as watchkeeper reads a naive ``since``/``until``).

    Examples
    --------
    >>> as_utc(datetime(2026, 1, 1, 12)).isoformat()
    '2026-01-01T12:00:00+00:00'
    """
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@runtime_checkable
class Clock(Protocol):
    """Something that tells the current time as a timezone-aware UTC ``datetime``."""

    def now(self) -> datetime:
        """Return the current time (timezone-aware, UTC)."""
        ...


class WallClock:
    """The real clock: :func:`datetime.now` in UTC.

    Examples
    --------
    >>> WallClock().now().tzinfo is UTC
    True
    """

    def now(self) -> datetime:
        """Return the current wall-clock time in UTC."""
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "WallClock()"


class SimulatedClock:
    """A clock that only moves when told to; thread-safe.

    Parameters
    ----------
    start
        The initial time. Naive datetimes are taken to be UTC.

    Examples
    --------
    >>> clock = SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC))
    >>> clock.advance(timedelta(days=2)).isoformat()
    '2026-01-03T00:00:00+00:00'
    """

    def __init__(self, start: datetime) -> None:
        self.start = start
        self._now = start if start.tzinfo is not None else start.replace(tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the simulated current time."""
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta`` and return the new time.

        Raises
        ------
        InvalidParameterError
            If ``delta`` is negative: a clock never runs backwards.
        """
        if delta < timedelta(0):
            raise InvalidParameterError(
                f"SimulatedClock.advance takes a non-negative timedelta. Got {delta} instead."
            )
        with self._lock:
            self._now = self._now + delta
            return self._now

    def set(self, when: datetime) -> datetime:
        """Jump to ``when`` (which must not be earlier than the current time)."""
        when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        with self._lock:
            if when < self._now:
                raise InvalidParameterError(
                    f"SimulatedClock.set cannot move time backwards from "
                    f"{self._now.isoformat()} to {when.isoformat()}."
                )
            self._now = when
            return self._now

    def __repr__(self) -> str:
        return f"SimulatedClock(now={self.now().isoformat()!r})"
