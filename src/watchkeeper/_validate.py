"""Small parameter validators shared by the option classes (messages in the house style)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from watchkeeper.errors import InvalidParameterError, UnknownMethodError

if TYPE_CHECKING:
    from collections.abc import Collection

__all__ = ["check_choice", "check_int", "check_number"]


def check_number(
    owner: str,
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float, or raise naming the parameter, its range and the value."""
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    lo_text = "-inf" if low is None else f"{low:g}"
    hi_text = "inf" if high is None else f"{high:g}"
    rng = f"{lo}{lo_text}, {hi_text}{hi}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a number in {rng}. Got {value!r} instead."
        )
    v = float(value)
    bad = math.isnan(v)
    if low is not None:
        bad = bad or (v <= low if low_open else v < low)
    if high is not None:
        bad = bad or (v >= high if high_open else v > high)
    if bad:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be in {rng}. Got {value!r} instead."
        )
    return v


def check_int(owner: str, name: str, value: Any, *, low: int) -> int:
    """Return ``value`` if it is an int >= ``low``, else raise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an integer >= {low}. Got {value!r} instead."
        )
    return value


def check_choice(owner: str, name: str, value: Any, choices: Collection[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise :class:`UnknownMethodError`."""
    if value not in choices:
        raise UnknownMethodError(
            f"The {name!r} parameter of {owner} must be one of "
            f"{', '.join(repr(c) for c in choices)}. Got {value!r} instead."
        )
    return str(value)
