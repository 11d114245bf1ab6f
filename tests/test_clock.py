from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from watchkeeper.clock import Clock, SimulatedClock, WallClock
from watchkeeper.errors import InvalidParameterError


def test_wall_clock_is_utc_and_a_clock() -> None:
    now = WallClock().now()
    assert now.tzinfo is UTC
    assert isinstance(WallClock(), Clock)


def test_simulated_clock_moves_only_when_told() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = SimulatedClock(start)
    assert clock.now() == start
    assert clock.now() == start
    assert clock.advance(timedelta(hours=5)) == start + timedelta(hours=5)
    assert clock.set(datetime(2026, 2, 1)) == datetime(2026, 2, 1, tzinfo=UTC)
    assert isinstance(clock, Clock)


def test_simulated_clock_never_runs_backwards() -> None:
    clock = SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidParameterError, match="non-negative"):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(InvalidParameterError, match="backwards"):
        clock.set(datetime(2025, 1, 1, tzinfo=UTC))
