"""Durations written the way people write them: ``90s``, ``15m``, ``6h``, ``1d``, ``2w``.

Used by ``watchkeeper.yaml`` (windows, schedules, cool-downs) and the CLI (``--window 1d``).
"""

from __future__ import annotations

import re
from datetime import timedelta

from watchkeeper.errors import InvalidParameterError

__all__ = ["format_duration", "parse_duration"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_PATTERN = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")


def parse_duration(text: object, name: str = "duration") -> timedelta:
    """``text`` (a number and a unit: s, m, h, d or w; or several, as in ``1d12h``) as a
    positive :class:`~datetime.timedelta`.

    Examples
    --------
    >>> parse_duration("1d12h")
    datetime.timedelta(days=1, seconds=43200)
    >>> parse_duration("90s").total_seconds()
    90.0
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidParameterError(
            f"{name} must be a duration such as '30s', '15m', '6h', '1d' or '2w'; got {text!r}."
        )
    seconds, at = 0.0, 0
    for match in _PATTERN.finditer(text):
        if match.start() != at:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        at = match.end()
    if at != len(text) or seconds <= 0:
        raise InvalidParameterError(
            f"{name} must be a positive duration such as '30s', '15m', '6h', '1d' or '2w' "
            f"(units s, m, h, d, w); got {text!r}."
        )
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest exact spelling of ``delta`` in the units :func:`parse_duration` reads.

    Examples
    --------
    >>> format_duration(timedelta(days=1, hours=12))
    '1d12h'
    >>> format_duration(timedelta(0))
    '0s'
    """
    total = delta.total_seconds()
    if total == 0:
        return "0s"
    sign, total = ("-", -total) if total < 0 else ("", total)
    parts = []
    for unit in ("w", "d", "h", "m"):
        size = _UNITS[unit]
        count, total = divmod(total, size)
        if count:
            parts.append(f"{int(count)}{unit}")
    if total:
        parts.append(f"{total:g}s")
    return sign + "".join(parts)
