"""What the policy reads and what it returns: frozen records of runs, actions and decisions.

Times are timezone-aware UTC (a naive time is taken to be UTC, as everywhere in watchkeeper:
see :func:`watchkeeper.clock.as_utc`). :meth:`Decision.to_dict` is JSON-safe and
:meth:`Decision.from_dict` reads it back to an equal decision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from watchkeeper.clock import as_utc
from watchkeeper.errors import InvalidParameterError, SerializationError
from watchkeeper.results import CheckResult

__all__ = [
    "ACTIONS",
    "DECISIONS",
    "SEVERITY",
    "TRIGGERS",
    "ActionRecord",
    "Decision",
    "RunRecord",
    "TriggerOutcome",
    "plain",
]

TRIGGERS: tuple[str, ...] = ("schedule", "performance", "drift", "data_quality", "concept_drift")
"""The trigger names, in the order a decision lists them."""

ACTIONS: tuple[str, ...] = ("notify", "retrain", "rollback")
"""What a trigger can ask for, least severe first."""

DECISIONS: tuple[str, ...] = ("none", *ACTIONS)
"""What a decision can be."""

SEVERITY: Mapping[str, int] = {name: rank for rank, name in enumerate(DECISIONS)}
"""``none`` < ``notify`` < ``retrain`` < ``rollback``."""


def plain(value: Any, what: str = "details") -> Any:
    """``value`` with only JSON types: datetimes as ISO strings, tuples as lists, numpy
    scalars and arrays as Python values, non-finite floats as None."""
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain(v, what) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        value = sorted(value, key=str)
    if isinstance(value, list | tuple):
        return [plain(v, what) for v in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return plain(tolist(), what)
    raise InvalidParameterError(
        f"{what} must hold only JSON-safe values (numbers, strings, booleans, None, datetimes, "
        f"lists and mappings of them); got {type(value).__name__} {value!r}."
    )


def _utc(owner: str, name: str, value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidParameterError(
            f"The {name!r} field of {owner} must be a datetime. Got {value!r} instead."
        )
    return as_utc(value)


def _count(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidParameterError(
            f"The {name!r} field of {owner} must be an integer >= 0. Got {value!r} instead."
        )
    return int(value)


def _choice(owner: str, name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidParameterError(
            f"The {name!r} field of {owner} must be one of {', '.join(map(repr, choices))}. "
            f"Got {value!r} instead."
        )
    return str(value)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One stored monitor run, as the policy sees it.

    Parameters
    ----------
    ran_at
        When the run was made (UTC; a naive time is taken to be UTC).
    version
        The model version whose predictions the run's window held.
    checks
        The run's check results (segment results are ignored by the policy).
    n_rows, n_labeled
        Rows in the window, and how many of them had a label.
    label_coverage
        ``n_labeled / n_rows``, or None for an empty window.
    detectors
        What each concept-drift detector saw, by name:
        ``{"drift": bool, "warning": bool, "n": int, ...}``.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> run = RunRecord(datetime(2026, 3, 1, tzinfo=UTC), version=2,
    ...                 checks=(CheckResult("drift.wasserstein", "age", 0.2, status="alert"),))
    >>> run.checks[0].status, run.detectors
    ('alert', {})
    """

    ran_at: datetime
    version: int
    checks: tuple[CheckResult, ...] = ()
    n_rows: int = 0
    n_labeled: int = 0
    label_coverage: float | None = None
    detectors: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        owner = "RunRecord"
        object.__setattr__(self, "ran_at", _utc(owner, "ran_at", self.ran_at))
        object.__setattr__(self, "version", _count(owner, "version", self.version))
        object.__setattr__(self, "n_rows", _count(owner, "n_rows", self.n_rows))
        object.__setattr__(self, "n_labeled", _count(owner, "n_labeled", self.n_labeled))
        checks = tuple(self.checks)
        stray = [c for c in checks if not isinstance(c, CheckResult)]
        if stray:
            raise InvalidParameterError(
                f"The 'checks' field of RunRecord must hold CheckResult objects. "
                f"Got {type(stray[0]).__name__} instead."
            )
        object.__setattr__(self, "checks", checks)
        if self.label_coverage is not None:
            coverage = float(self.label_coverage)
            if not 0.0 <= coverage <= 1.0:
                raise InvalidParameterError(
                    "The 'label_coverage' field of RunRecord must be in [0, 1] or None. "
                    f"Got {self.label_coverage!r} instead."
                )
            object.__setattr__(self, "label_coverage", coverage)
        if not isinstance(self.detectors, Mapping) or not all(
            isinstance(v, Mapping) for v in self.detectors.values()
        ):
            raise InvalidParameterError(
                "The 'detectors' field of RunRecord must map detector names to mappings "
                f"such as {{'drift': False, 'warning': False, 'n': 120}}. "
                f"Got {self.detectors!r} instead."
            )
        object.__setattr__(self, "detectors", plain(self.detectors, "RunRecord.detectors"))


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """An action taken earlier: a ``notify``, ``retrain`` or ``rollback`` at a time (UTC).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> ActionRecord(datetime(2026, 3, 1, tzinfo=UTC), "retrain").action
    'retrain'
    """

    at: datetime
    action: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _utc("ActionRecord", "at", self.at))
        object.__setattr__(self, "action", _choice("ActionRecord", "action", self.action, ACTIONS))


@dataclass(frozen=True, slots=True)
class TriggerOutcome:
    """How one enabled trigger stands after the latest run.

    Parameters
    ----------
    trigger
        ``schedule``, ``performance``, ``drift``, ``data_quality`` or ``concept_drift``.
    action
        The action the trigger asks for when it fires.
    breached
        Its condition holds in the latest run (for ``schedule``: it is due).
    fired
        Breached in each of the last ``consecutive`` runs of the latest run's version (for
        ``schedule``: due).
    streak
        Consecutive breached runs ending with the latest (``schedule``: 1 when due, else 0).
    reasons
        Human sentences saying why it breached, or why not.
    details
        JSON-safe: failing checks and columns, drifted features, detectors, times.
    """

    trigger: str
    action: str
    breached: bool
    fired: bool
    streak: int
    reasons: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        owner = "TriggerOutcome"
        object.__setattr__(self, "trigger", _choice(owner, "trigger", self.trigger, TRIGGERS))
        object.__setattr__(self, "action", _choice(owner, "action", self.action, ACTIONS))
        object.__setattr__(self, "breached", bool(self.breached))
        object.__setattr__(self, "fired", bool(self.fired))
        object.__setattr__(self, "streak", _count(owner, "streak", self.streak))
        object.__setattr__(self, "reasons", tuple(str(r) for r in self.reasons))
        object.__setattr__(self, "details", plain(dict(self.details), "TriggerOutcome.details"))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict of every field."""
        return {
            "trigger": self.trigger,
            "action": self.action,
            "breached": self.breached,
            "fired": self.fired,
            "streak": self.streak,
            "reasons": list(self.reasons),
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TriggerOutcome:
        """Rebuild an outcome from :meth:`to_dict` output."""
        try:
            return cls(
                trigger=data["trigger"],
                action=data["action"],
                breached=data["breached"],
                fired=data["fired"],
                streak=data["streak"],
                reasons=tuple(data.get("reasons") or ()),
                details=dict(data.get("details") or {}),
            )
        except (KeyError, TypeError, InvalidParameterError) as exc:
            raise SerializationError(f"Cannot read a trigger outcome from {data!r}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Decision:
    """What the policy decided after the latest run, and why.

    Parameters
    ----------
    action
        ``none``, ``notify``, ``retrain`` or ``rollback``.
    reasons
        Human sentences: one per fired trigger, plus why an action was held back.
    triggers
        Every enabled trigger, fired or not.
    suppressed
        Why a requested ``retrain``/``rollback`` became ``notify`` (cool-down, most actions
        per period), else None.
    requested
        The action before suppression (equal to ``action`` when nothing was suppressed).

    Examples
    --------
    >>> d = Decision("none", ("no monitor run yet",))
    >>> d.requested, d.to_dict()["reasons"]
    ('none', ['no monitor run yet'])
    >>> Decision.from_dict(d.to_dict()) == d
    True
    """

    action: str
    reasons: tuple[str, ...] = ()
    triggers: tuple[TriggerOutcome, ...] = ()
    suppressed: str | None = None
    requested: str = ""

    def __post_init__(self) -> None:
        action = _choice("Decision", "action", self.action, DECISIONS)
        object.__setattr__(self, "action", action)
        requested = self.requested or action
        object.__setattr__(
            self, "requested", _choice("Decision", "requested", requested, DECISIONS)
        )
        object.__setattr__(self, "reasons", tuple(str(r) for r in self.reasons))
        object.__setattr__(self, "triggers", tuple(self.triggers))
        if self.suppressed is not None and (
            self.requested not in ("retrain", "rollback") or action != "notify"
        ):
            raise InvalidParameterError(
                "A Decision with 'suppressed' set must have requested 'retrain' or 'rollback' "
                f"and action 'notify'. Got requested={self.requested!r}, action={action!r}."
            )
        if self.suppressed is None and self.requested != action:
            raise InvalidParameterError(
                f"A Decision whose requested action ({self.requested!r}) differs from its "
                f"action ({action!r}) must say why in 'suppressed'."
            )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict of every field (triggers as :meth:`TriggerOutcome.to_dict`)."""
        return {
            "action": self.action,
            "requested": self.requested,
            "suppressed": self.suppressed,
            "reasons": list(self.reasons),
            "triggers": [t.to_dict() for t in self.triggers],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        """Rebuild a decision from :meth:`to_dict` output.

        Raises
        ------
        SerializationError
            If ``data`` is not a decision written by :meth:`to_dict`.
        """
        try:
            triggers = tuple(TriggerOutcome.from_dict(t) for t in data.get("triggers") or ())
            return cls(
                action=data["action"],
                reasons=tuple(data.get("reasons") or ()),
                triggers=triggers,
                suppressed=data.get("suppressed"),
                requested=data.get("requested") or data["action"],
            )
        except (KeyError, TypeError, AttributeError, InvalidParameterError) as exc:
            raise SerializationError(f"Cannot read a decision from {data!r}: {exc}") from exc
