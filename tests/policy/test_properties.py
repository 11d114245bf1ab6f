"""Properties of evaluate() over random histories and policies (hypothesis)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as hs

from watchkeeper.config import PolicyConfig
from watchkeeper.policy import ActionRecord, Decision, RunRecord, evaluate
from watchkeeper.results import STATUSES, CheckResult, Status

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SEVERITY = {"none": 0, "notify": 1, "retrain": 2, "rollback": 3}
_statuses: hs.SearchStrategy[Status] = hs.sampled_from(STATUSES)
_actions = hs.sampled_from(["notify", "retrain", "rollback"])
_values = hs.floats(0, 1, allow_nan=False)


@hs.composite
def _checks(draw: hs.DrawFn) -> tuple[CheckResult, ...]:
    out = [CheckResult("drift.wasserstein", c, 0.1, status=draw(_statuses)) for c in "abcd"]
    out += [CheckResult("drift.prediction", "yhat", 0.1, status=draw(_statuses))]
    out += [CheckResult(c, None, 0.5, status=draw(_statuses)) for c in ("drift.dataset",)]
    for metric in ("accuracy", "mae"):
        reference = draw(hs.none() | _values)
        value, status = draw(_values), draw(_statuses)
        out.append(CheckResult(f"performance.{metric}", None, value, reference, status=status))
    out.append(CheckResult("quality.missing_rate", "a", 0.1, status=draw(_statuses)))
    return tuple(out)


@hs.composite
def _runs(draw: hs.DrawFn) -> list[RunRecord]:
    n = draw(hs.integers(0, 6))
    gaps = draw(hs.lists(hs.integers(0, 48), min_size=n, max_size=n))
    runs, at = [], T0
    for gap in gaps:
        at += timedelta(hours=gap)
        ddm = {"drift": draw(hs.booleans()), "warning": False, "n": 100}
        runs.append(
            RunRecord(
                at,
                draw(hs.sampled_from([1, 2])),
                draw(_checks()),
                n_rows=400,
                n_labeled=draw(hs.integers(0, 400)),
                detectors={"ddm": ddm},
            )
        )
    return runs


@hs.composite
def _policies(draw: hs.DrawFn) -> PolicyConfig:
    def trigger(**extra: Any) -> dict[str, Any]:
        return {"enabled": draw(hs.booleans()), "action": draw(_actions), **extra}

    triggers: dict[str, Any] = {
        "performance": trigger(
            max_drop=draw(hs.sampled_from([None, 0.1])),
            floor=draw(hs.sampled_from([{}, {"accuracy": 0.5}])),
            min_labeled_rows=draw(hs.sampled_from([0, 100, 300])),
        ),
        "drift": trigger(
            share=draw(hs.sampled_from([None, 0.0, 0.25, 0.5, 1.0])),
            multivariate=draw(hs.booleans()),
            features=draw(hs.sampled_from([[], ["b"]])),
        ),
        "data_quality": trigger(),
        "concept_drift": trigger(),
    }
    if draw(hs.booleans()):
        triggers["schedule"] = {"every": f"{draw(hs.integers(1, 20))}d", "action": draw(_actions)}
    return PolicyConfig.model_validate(
        {
            "triggers": triggers,
            "combine": draw(hs.sampled_from(["any", "all"])),
            "consecutive": draw(hs.integers(1, 3)),
            "cooldown": f"{draw(hs.integers(1, 5))}d",
            "max_actions": draw(hs.integers(1, 3)),
            "per": draw(hs.sampled_from(["7d", "30d"])),
        }
    )


@dataclass
class Case:
    policy: PolicyConfig
    runs: list[RunRecord]
    actions: list[ActionRecord]
    now: datetime
    last_trained: datetime | None

    def decide(self, **changes: Any) -> Decision:
        c = replace(self, **changes)
        return evaluate(c.policy, c.runs, c.actions, now=c.now, last_trained=c.last_trained)


@hs.composite
def _cases(draw: hs.DrawFn) -> Case:
    runs = draw(_runs())
    now = (runs[-1].ran_at if runs else T0) + timedelta(hours=draw(hs.integers(0, 48)))
    actions = [
        ActionRecord(now + timedelta(hours=h), draw(_actions))
        for h in draw(hs.lists(hs.integers(-40 * 24, 24), max_size=5))
    ]
    trained = draw(hs.none() | hs.integers(0, 40 * 24).map(lambda h: now - timedelta(hours=h)))
    return Case(draw(_policies()), runs, actions, now, trained)


_settings = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(case=_cases())
def test_decision_is_consistent_with_its_triggers(case: Case) -> None:
    decision = case.decide()
    fired = [t for t in decision.triggers if t.fired]
    most = max((SEVERITY[t.action] for t in fired), default=0)
    # Never more severe than the most severe fired trigger.
    assert SEVERITY[decision.action] <= most
    assert SEVERITY[decision.requested] <= most
    if decision.suppressed is not None:
        assert decision.requested in ("retrain", "rollback")
        assert decision.action == "notify"
    else:
        assert decision.action == decision.requested
    if not case.runs:
        assert decision.reasons == ("no monitor run yet",)
        return
    if case.policy.combine == "any" or len(fired) == len(decision.triggers):
        assert SEVERITY[decision.requested] == most
    else:
        assert decision.requested == "none"
    for outcome in decision.triggers:
        if outcome.trigger == "schedule":
            assert outcome.fired == outcome.breached
            continue
        assert outcome.fired == (outcome.streak >= case.policy.consecutive)
        assert outcome.breached == (outcome.streak > 0)


@_settings
@given(case=_cases())
def test_decision_round_trips_and_ignores_the_order_of_actions(case: Case) -> None:
    decision = case.decide()
    assert Decision.from_dict(json.loads(json.dumps(decision.to_dict()))) == decision
    assert case.decide(actions=case.actions[::-1]) == decision


@_settings
@given(case=_cases())
def test_older_runs_of_another_version_change_nothing(case: Case) -> None:
    assume(case.runs)
    start = case.runs[0].ran_at
    older = [RunRecord(start - timedelta(days=d), 99, _alerting()) for d in (2, 1)]
    assert case.decide(runs=older + case.runs) == case.decide()


@_settings
@given(case=_cases())
def test_more_consecutive_runs_never_ask_for_more(case: Case) -> None:
    requested = case.decide().requested
    stricter = case.policy.model_copy(update={"consecutive": case.policy.consecutive + 1})
    assert SEVERITY[case.decide(policy=stricter).requested] <= SEVERITY[requested]


def _alerting() -> tuple[CheckResult, ...]:
    return (
        CheckResult("drift.wasserstein", "a", 0.5, status="alert"),
        CheckResult("performance.accuracy", None, 0.1, 0.9, status="alert"),
        CheckResult("quality.missing_rate", "a", 0.9, status="alert"),
    )
