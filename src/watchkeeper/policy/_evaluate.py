"""From a model's run history and the ``policy:`` settings to one :class:`Decision`.

The steps, in order: each enabled trigger's condition on the latest run and the streak of
runs it held in (the consecutive rule); the fired triggers combined into the requested
action (``any``/``all``); then the requested ``retrain``/``rollback`` held back to ``notify``
by the cool-down or the most actions per period. The module docstring of
:mod:`watchkeeper.policy` states every rule.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from watchkeeper._duration import format_duration
from watchkeeper.clock import as_utc
from watchkeeper.errors import InvalidParameterError
from watchkeeper.policy._records import SEVERITY, ActionRecord, Decision, RunRecord, TriggerOutcome
from watchkeeper.policy._triggers import (
    Breach,
    concept_drift_breach,
    data_quality_breach,
    drift_breach,
    performance_breach,
    schedule_due,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from watchkeeper.policy._settings import PolicySettings

__all__ = ["evaluate"]

_DISRUPTIVE = ("retrain", "rollback")


def _aware(name: str, value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidParameterError(
            f"The {name!r} parameter of evaluate must be a datetime. Got {value!r} instead."
        )
    return as_utc(value)


def _checked_runs(runs: Sequence[RunRecord]) -> tuple[RunRecord, ...]:
    out = tuple(runs)
    for i, run in enumerate(out):
        if not isinstance(run, RunRecord):
            raise InvalidParameterError(
                f"The 'runs' parameter of evaluate must hold RunRecord objects. "
                f"Got {type(run).__name__} at position {i} instead."
            )
        if i and run.ran_at < out[i - 1].ran_at:
            raise InvalidParameterError(
                "The 'runs' parameter of evaluate must be ordered oldest first. "
                f"Run {i} ran at {run.ran_at.isoformat()}, before run {i - 1} "
                f"({out[i - 1].ran_at.isoformat()}); sort them by ran_at."
            )
    return out


def _checked_actions(actions: Sequence[ActionRecord]) -> tuple[ActionRecord, ...]:
    out = tuple(actions)
    for i, action in enumerate(out):
        if not isinstance(action, ActionRecord):
            raise InvalidParameterError(
                f"The 'actions' parameter of evaluate must hold ActionRecord objects. "
                f"Got {type(action).__name__} at position {i} instead."
            )
    return out


def _version_tail(runs: tuple[RunRecord, ...]) -> list[RunRecord]:
    """The latest run and the runs just before it of the same version, newest first."""
    version = runs[-1].version
    tail: list[RunRecord] = []
    for run in reversed(runs):
        if run.version != version:
            break
        tail.append(run)
    return tail


def _streak_outcome(
    trigger: str,
    action: str,
    condition: Callable[[RunRecord], Breach],
    tail: list[RunRecord],
    consecutive: int,
) -> TriggerOutcome:
    latest = condition(tail[0])
    streak = 0
    for i, run in enumerate(tail):
        if not (latest if i == 0 else condition(run)).breached:
            break
        streak += 1
    fired = streak >= consecutive
    reasons = list(latest.reasons)
    if latest.breached and not fired:
        note = f"breached {streak} of {consecutive} runs needed"
        if len(tail) < consecutive:
            runs = "run" if len(tail) == 1 else "runs"
            note += f" (only {len(tail)} {runs} of version {tail[0].version} so far)"
        reasons.append(note)
    details = {**latest.details, "consecutive": consecutive, "runs_of_version": len(tail)}
    return TriggerOutcome(trigger, action, latest.breached, fired, streak, tuple(reasons), details)


def _outcomes(
    policy: PolicySettings,
    runs: tuple[RunRecord, ...],
    now: datetime,
    last_trained: datetime | None,
) -> list[TriggerOutcome]:
    triggers = policy.triggers
    outcomes: list[TriggerOutcome] = []
    if triggers.schedule is not None:
        due = schedule_due(triggers.schedule, now, last_trained)
        outcomes.append(
            TriggerOutcome(
                "schedule",
                triggers.schedule.action,
                due.breached,
                due.breached,
                int(due.breached),
                due.reasons,
                due.details,
            )
        )
    tail = _version_tail(runs)
    perf, drift, quality, concept = (
        triggers.performance,
        triggers.drift,
        triggers.data_quality,
        triggers.concept_drift,
    )
    conditions: list[tuple[str, bool, str, Callable[[RunRecord], Breach]]] = [
        ("performance", perf.enabled, perf.action, partial(performance_breach, perf)),
        ("drift", drift.enabled, drift.action, partial(drift_breach, drift)),
        ("data_quality", quality.enabled, quality.action, partial(data_quality_breach, quality)),
        ("concept_drift", concept.enabled, concept.action, partial(concept_drift_breach, concept)),
    ]
    for name, enabled, action, condition in conditions:
        if enabled:
            outcomes.append(_streak_outcome(name, action, condition, tail, policy.consecutive))
    return outcomes


def _combine(combine: str, outcomes: list[TriggerOutcome]) -> tuple[str, list[str]]:
    """The requested action and the reasons for it."""
    if not outcomes:
        return "none", ["no trigger is enabled"]
    fired = [o for o in outcomes if o.fired]
    reasons = [f"{o.trigger} asks for {o.action}: {'; '.join(o.reasons)}" for o in fired]
    most = max((o.action for o in fired), key=SEVERITY.__getitem__, default="none")
    if combine == "any":
        return most, reasons or ["no trigger fired"]
    if len(fired) == len(outcomes):
        return most, reasons
    waiting = ", ".join(o.trigger for o in outcomes if not o.fired)
    reasons.append(
        f"combine is all: {len(fired)} of {len(outcomes)} enabled triggers fired; not yet {waiting}"
    )
    return "none", reasons


def _holds(policy: PolicySettings, actions: tuple[ActionRecord, ...], now: datetime) -> list[str]:
    """Why a retrain/rollback requested at ``now`` must wait (empty when it need not)."""
    past = sorted(
        (a for a in actions if a.action in _DISRUPTIVE and a.at <= now), key=lambda a: a.at
    )
    holds: list[str] = []
    cooling = [a for a in past if a.at + policy.cooldown > now]
    if cooling:
        last = cooling[-1]
        holds.append(
            f"cooldown until {(last.at + policy.cooldown).isoformat()} after the "
            f"{last.action} at {last.at.isoformat()}"
        )
    recent = [a for a in past if a.at > now - policy.per]
    if len(recent) >= policy.max_actions:
        per = format_duration(policy.per)
        allowed = recent[len(recent) - policy.max_actions].at + policy.per
        holds.append(
            f"{len(recent)} retrains/rollbacks in the last {per} reach max_actions "
            f"({policy.max_actions} per {per}); the next is allowed from {allowed.isoformat()}"
        )
    return holds


def evaluate(
    policy: PolicySettings,
    runs: Sequence[RunRecord],
    actions: Sequence[ActionRecord] = (),
    *,
    now: datetime,
    last_trained: datetime | None = None,
) -> Decision:
    """Decide what to do after the latest monitor run of a model.

    Parameters
    ----------
    policy
        The ``policy:`` settings (a :class:`watchkeeper.config.PolicyConfig`).
    runs
        The model's monitor runs, oldest first; the last one is decided on. Only the runs of
        its version right before it count toward ``consecutive``.
    actions
        Earlier ``notify``/``retrain``/``rollback`` actions, in any order; those after
        ``now`` are ignored.
    now
        The time of the decision (UTC; a naive time is taken to be UTC).
    last_trained
        When the serving version was trained or registered; the schedule is never due
        without it.

    Returns
    -------
    Decision
        The action, the reasons, every enabled trigger's outcome, and what was held back.

    Raises
    ------
    InvalidParameterError
        If ``runs`` are not oldest first, hold something other than ``RunRecord``, ``actions``
        something other than ``ActionRecord``, ``now`` is not a datetime, or ``combine`` is
        neither ``any`` nor ``all``.

    Examples
    --------
    >>> from datetime import UTC, datetime, timedelta
    >>> from watchkeeper.config import PolicyConfig
    >>> from watchkeeper.results import CheckResult
    >>> day = datetime(2026, 3, 1, tzinfo=UTC)
    >>> auc = CheckResult("performance.roc_auc", None, 0.71, reference_value=0.82,
    ...                   status="alert", details={"band_lower": 0.78, "band_upper": 0.86})
    >>> runs = [RunRecord(day, version=3, checks=(auc,), n_rows=900, n_labeled=800)]
    >>> decision = evaluate(PolicyConfig(), runs, now=day)
    >>> decision.action
    'retrain'
    >>> decision.reasons
    ('performance asks for retrain: performance.roc_auc 0.71 is below its band (0.78..0.86)',)
    >>> held = evaluate(PolicyConfig(), runs, [ActionRecord(day - timedelta(days=1), "retrain")],
    ...                 now=day)
    >>> held.action, held.requested
    ('notify', 'retrain')
    >>> print(held.suppressed)
    cooldown until 2026-03-03T00:00:00+00:00 after the retrain at 2026-02-28T00:00:00+00:00
    """
    now = _aware("now", now)
    last_trained = None if last_trained is None else _aware("last_trained", last_trained)
    if policy.combine not in ("any", "all"):
        raise InvalidParameterError(
            f"The 'combine' setting of the policy must be 'any' or 'all'. "
            f"Got {policy.combine!r} instead."
        )
    checked = _checked_runs(runs)
    history = _checked_actions(actions)
    if not checked:
        return Decision("none", ("no monitor run yet",))
    outcomes = _outcomes(policy, checked, now, last_trained)
    requested, reasons = _combine(policy.combine, outcomes)
    holds = _holds(policy, history, now) if requested in _DISRUPTIVE else []
    if not holds:
        return Decision(requested, tuple(reasons), tuple(outcomes), None, requested)
    suppressed = "; ".join(holds)
    reasons.append(f"{requested} held back, notify instead: {suppressed}")
    return Decision("notify", tuple(reasons), tuple(outcomes), suppressed, requested)
