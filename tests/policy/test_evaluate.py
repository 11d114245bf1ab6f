"""evaluate(): consecutive breaches, combining triggers, cool-down and most actions per period,
the empty history, input errors, and Decision's round trip through JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from watchkeeper.config import PolicyConfig
from watchkeeper.errors import InvalidParameterError, SerializationError
from watchkeeper.policy import ActionRecord, Decision, RunRecord, TriggerOutcome, evaluate
from watchkeeper.results import CheckResult

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)

DRIFT = CheckResult("drift.wasserstein", "age", 0.3, status="alert")
CALM = CheckResult("drift.wasserstein", "age", 0.01)
PERF = CheckResult("performance.accuracy", None, 0.6, 0.9, status="alert")
QUALITY = CheckResult("quality.missing_rate", "age", 0.5, status="alert")
CONCEPT = {"ddm": {"drift": True, "warning": True, "n": 100}}

# Every trigger off, so each test switches on what it is about.
OFF: dict[str, Any] = {
    "performance": {"enabled": False},
    "drift": {"enabled": False},
    "data_quality": {"enabled": False},
    "concept_drift": {"enabled": False},
}


def _policy(triggers: dict[str, Any] | None = None, **policy: Any) -> PolicyConfig:
    merged = {**OFF, **(triggers or {})}
    return PolicyConfig.model_validate({"triggers": merged, **policy})


def _runs(*breached: bool, version: int = 1, start: datetime = T0) -> list[RunRecord]:
    """One run per flag, a day apart, ending at ``start + (n - 1) days``."""
    return [
        RunRecord(start + i * DAY, version, (DRIFT if b else CALM,), n_rows=500, n_labeled=500)
        for i, b in enumerate(breached)
    ]


DRIFT_ON = {"drift": {"action": "retrain", "share": 0.5}}


def test_no_runs_decides_nothing() -> None:
    decision = evaluate(PolicyConfig(), [], now=T0, last_trained=T0 - 400 * DAY)
    assert decision == Decision("none", ("no monitor run yet",))
    assert decision.requested == "none"
    assert decision.triggers == ()
    assert decision.suppressed is None


# --- consecutive ----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3])
def test_consecutive_fires_after_n_breached_runs(n: int) -> None:
    policy = _policy(DRIFT_ON, consecutive=n)
    runs = _runs(*([False] + [True] * n))
    fired = evaluate(policy, runs, now=runs[-1].ran_at)
    assert fired.action == "retrain"
    assert (fired.triggers[0].streak, fired.triggers[0].fired) == (n, True)
    short = evaluate(policy, runs[:-1], now=runs[-2].ran_at)  # one breached run fewer
    assert short.action == "none"
    outcome = short.triggers[0]
    assert (outcome.breached, outcome.fired, outcome.streak) == (n > 1, False, n - 1)
    if n > 1:
        assert f"breached {n - 1} of {n} runs needed" in outcome.reasons


def test_too_few_runs_say_so() -> None:
    runs = _runs(True)
    outcome = evaluate(_policy(DRIFT_ON, consecutive=2), runs, now=T0).triggers[0]
    assert outcome.reasons[-1] == "breached 1 of 2 runs needed (only 1 run of version 1 so far)"


def test_an_ok_run_breaks_the_streak() -> None:
    runs = _runs(True, True, False, True)
    decision = evaluate(_policy(DRIFT_ON, consecutive=2), runs, now=runs[-1].ran_at)
    assert decision.action == "none"
    assert decision.triggers[0].streak == 1


def test_the_streak_counts_every_breached_run() -> None:
    runs = _runs(False, True, True, True, True, True)
    outcome = evaluate(_policy(DRIFT_ON, consecutive=2), runs, now=runs[-1].ran_at).triggers[0]
    assert (outcome.fired, outcome.streak) == (True, 5)


def test_runs_of_a_previous_version_do_not_count() -> None:
    old = _runs(True, True, version=1)
    new = _runs(True, version=2, start=T0 + 2 * DAY)
    policy = _policy(DRIFT_ON, consecutive=2)
    decision = evaluate(policy, old + new, now=new[-1].ran_at)
    assert decision.action == "none"
    assert decision.triggers[0].streak == 1
    assert decision.triggers[0].details["runs_of_version"] == 1
    # A run of another version in between ends the streak too (v2, v1, v2).
    mixed = _runs(True, version=2) + _runs(True, version=1, start=T0 + DAY) + new
    assert evaluate(policy, mixed, now=new[-1].ran_at).triggers[0].streak == 1
    longer = old + new + _runs(True, version=2, start=T0 + 3 * DAY)
    assert evaluate(policy, longer, now=T0 + 3 * DAY).action == "retrain"


def test_a_run_not_evaluated_breaks_the_performance_streak() -> None:
    def run(day: int, labeled: int) -> RunRecord:
        return RunRecord(T0 + day * DAY, 1, (PERF,), n_rows=1_000, n_labeled=labeled)

    policy = _policy({"performance": {"min_labeled_rows": 100}}, consecutive=2)
    assert evaluate(policy, [run(0, 500), run(1, 500)], now=T0 + DAY).action == "retrain"
    assert evaluate(policy, [run(0, 50), run(1, 500)], now=T0 + DAY).action == "none"


# --- combine --------------------------------------------------------------------------------

_FIRING: dict[str, Any] = {
    "drift": {"share": 0.5},
    "performance": {},
    "data_quality": {},
    "concept_drift": {},
}


def _firing_run() -> RunRecord:
    return RunRecord(T0, 1, (DRIFT, PERF, QUALITY), n_rows=500, n_labeled=500, detectors=CONCEPT)


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        ({"drift": "notify"}, "notify"),
        ({"drift": "rollback"}, "rollback"),
        ({"drift": "notify", "performance": "retrain"}, "retrain"),
        ({"drift": "rollback", "performance": "retrain"}, "rollback"),
        ({"drift": "notify", "performance": "notify"}, "notify"),
        ({"drift": "notify", "performance": "retrain", "concept_drift": "rollback"}, "rollback"),
        ({"drift": "retrain", "performance": "notify", "data_quality": "notify"}, "retrain"),
    ],
)
def test_combine_any_takes_the_most_severe(actions: dict[str, str], expected: str) -> None:
    triggers = {t: {**_FIRING[t], "action": a} for t, a in actions.items()}
    decision = evaluate(_policy(triggers), [_firing_run()], now=T0)
    assert decision.action == decision.requested == expected
    assert [t.trigger for t in decision.triggers] == [
        t for t in ("performance", "drift", "data_quality", "concept_drift") if t in actions
    ]
    assert len(decision.reasons) == len(actions)
    for trigger, action in actions.items():
        assert any(r.startswith(f"{trigger} asks for {action}: ") for r in decision.reasons)


def test_combine_any_with_nothing_fired() -> None:
    run = RunRecord(T0, 1, (CALM,), n_rows=500, n_labeled=500)
    decision = evaluate(PolicyConfig(), [run], now=T0)
    assert decision.action == "none"
    assert decision.reasons == ("no trigger fired",)
    assert [t.trigger for t in decision.triggers] == [
        "performance",
        "drift",
        "data_quality",
        "concept_drift",
    ]


def test_no_enabled_trigger() -> None:
    decision = evaluate(_policy(), [_firing_run()], now=T0)
    assert decision.action == "none"
    assert decision.reasons == ("no trigger is enabled",)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_combine_all_acts_when_every_enabled_trigger_fired(n: int) -> None:
    names = ["drift", "performance", "concept_drift"][:n]
    actions = ["notify", "rollback", "retrain"][:n]
    triggers = {t: {**_FIRING[t], "action": a} for t, a in zip(names, actions, strict=True)}
    decision = evaluate(_policy(triggers, combine="all"), [_firing_run()], now=T0)
    assert decision.action == max(actions, key=["notify", "retrain", "rollback"].index)


@pytest.mark.parametrize("n", [2, 3])
def test_combine_all_waits_for_every_trigger(n: int) -> None:
    calm = RunRecord(T0, 1, (DRIFT,), n_rows=500, n_labeled=500)  # only drift breaches
    names = ["drift", "performance", "data_quality"][:n]
    triggers = {t: {**_FIRING[t], "action": "retrain"} for t in names}
    decision = evaluate(_policy(triggers, combine="all"), [calm], now=T0)
    assert decision.action == "none"
    assert decision.reasons[-1] == (
        f"combine is all: 1 of {n} enabled triggers fired; not yet {', '.join(names[1:])}"
    )
    assert decision.reasons[0].startswith("drift asks for retrain")


def test_combine_all_includes_the_schedule() -> None:
    triggers = {"drift": {"share": 0.5, "action": "retrain"}, "schedule": {"every": "30d"}}
    policy = _policy(triggers, combine="all")
    not_due = evaluate(policy, [_firing_run()], now=T0, last_trained=T0 - DAY)
    assert not_due.action == "none"
    assert "not yet schedule" in not_due.reasons[-1]
    due = evaluate(policy, [_firing_run()], now=T0, last_trained=T0 - 30 * DAY)
    assert due.action == "retrain"


def test_schedule_fires_without_any_breach() -> None:
    policy = _policy({"schedule": {"every": "7d", "action": "retrain"}}, consecutive=3)
    run = RunRecord(T0, 1, (CALM,))
    decision = evaluate(policy, [run], now=T0, last_trained=T0 - 8 * DAY)
    assert decision.action == "retrain"
    assert decision.reasons[0].startswith("schedule asks for retrain: scheduled (every 1w)")


# --- cool-down and most actions per period --------------------------------------------------


def _decide(actions: list[ActionRecord], requested: str = "retrain", **policy: Any) -> Decision:
    triggers = {"drift": {"share": 0.5, "action": requested}}
    return evaluate(_policy(triggers, **policy), _runs(True), actions, now=T0)


@pytest.mark.parametrize(
    ("ago", "held"),
    [
        (timedelta(hours=1), True),
        (3 * DAY - timedelta(seconds=1), True),
        (3 * DAY, False),  # the cool-down has just ended
        (4 * DAY, False),
        (-timedelta(hours=1), False),  # after now: ignored
    ],
)
@pytest.mark.parametrize("kind", ["retrain", "rollback"])
def test_cooldown(ago: timedelta, held: bool, kind: str) -> None:
    decision = _decide([ActionRecord(T0 - ago, kind)], cooldown="3d")
    assert decision.requested == "retrain"
    if held:
        until = (T0 - ago + 3 * DAY).isoformat()
        assert decision.action == "notify"
        assert decision.suppressed == (
            f"cooldown until {until} after the {kind} at {(T0 - ago).isoformat()}"
        )
        assert decision.reasons[-1] == f"retrain held back, notify instead: {decision.suppressed}"
    else:
        assert decision.action == "retrain"
        assert decision.suppressed is None


def test_cooldown_names_the_latest_action_and_ignores_notify() -> None:
    actions = [
        ActionRecord(T0 - timedelta(hours=2), "notify"),
        ActionRecord(T0 - 2 * DAY, "retrain"),
        ActionRecord(T0 - DAY, "rollback"),
    ]
    decision = _decide(actions, requested="rollback", cooldown="3d")
    assert (decision.action, decision.requested) == ("notify", "rollback")
    assert decision.suppressed is not None
    assert "after the rollback at" in decision.suppressed
    assert _decide(actions[:1], cooldown="3d").action == "retrain"


def test_notify_is_never_held_back() -> None:
    decision = _decide([ActionRecord(T0 - timedelta(minutes=1), "retrain")], requested="notify")
    assert decision.action == decision.requested == "notify"
    assert decision.suppressed is None


@pytest.mark.parametrize(
    ("ages", "held"),
    [
        ([1, 10], True),
        ([1, 10, 20], True),
        ([10], False),
        ([10, 30], False),  # exactly `per` ago is outside (now - per, now]
        ([10, 29.9], True),
    ],
)
def test_max_actions_per_period(ages: list[float], held: bool) -> None:
    actions = [ActionRecord(T0 - a * DAY, "retrain") for a in ages]
    decision = _decide(actions, cooldown="1s", max_actions=2, per="30d")
    assert decision.action == ("notify" if held else "retrain")
    if held:
        # The next one is allowed once enough of the oldest ones left the period.
        inside = sorted(T0 - a * DAY for a in ages if a < 30)
        allowed = inside[len(inside) - 2] + 30 * DAY
        assert decision.suppressed == (
            f"{len(inside)} retrains/rollbacks in the last 4w2d reach max_actions (2 per 4w2d); "
            f"the next is allowed from {allowed.isoformat()}"
        )


def test_cooldown_and_max_actions_together() -> None:
    actions = [ActionRecord(T0 - timedelta(hours=h), "retrain") for h in (1, 2)]
    decision = _decide(actions, cooldown="1d", max_actions=2, per="1w")
    assert decision.suppressed is not None
    assert decision.suppressed.startswith("cooldown until")
    assert "reach max_actions" in decision.suppressed


def test_order_of_actions_does_not_matter() -> None:
    actions = [ActionRecord(T0 - a * DAY, "retrain") for a in (5, 1, 12)]
    first = _decide(actions, cooldown="2d", max_actions=3, per="30d")
    assert first == _decide(actions[::-1], cooldown="2d", max_actions=3, per="30d")
    assert first.action == "notify"


# --- inputs ---------------------------------------------------------------------------------


def test_runs_must_be_oldest_first() -> None:
    runs = _runs(True, True)
    with pytest.raises(InvalidParameterError, match=r"oldest first.*Run 1 ran at"):
        evaluate(PolicyConfig(), runs[::-1], now=T0)


def test_inputs_of_the_wrong_type() -> None:
    with pytest.raises(InvalidParameterError, match=r"'runs'.*RunRecord.*dict at position 0"):
        evaluate(PolicyConfig(), [{"ran_at": T0}], now=T0)  # type: ignore[list-item]
    with pytest.raises(InvalidParameterError, match=r"'actions'.*ActionRecord.*str"):
        evaluate(PolicyConfig(), _runs(True), ["retrain"], now=T0)  # type: ignore[list-item]
    with pytest.raises(InvalidParameterError, match=r"'now'.*datetime"):
        evaluate(PolicyConfig(), _runs(True), now="2026-03-01")  # type: ignore[arg-type]


def test_naive_times_are_utc() -> None:
    naive = T0.replace(tzinfo=None)
    run = RunRecord(naive, 1, (DRIFT,))
    assert run.ran_at == T0
    assert run.ran_at.tzinfo is UTC
    action = ActionRecord(naive - DAY, "retrain")
    assert evaluate(PolicyConfig(), [run], [action], now=naive) == evaluate(
        PolicyConfig(), [run], [action], now=T0
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"version": -1}, "'version'"),
        ({"n_labeled": 1.5}, "'n_labeled'"),
        ({"label_coverage": 1.2}, "'label_coverage'"),
        ({"checks": ({"check": "drift.ks"},)}, "'checks'"),
        ({"detectors": {"ddm": True}}, "'detectors'"),
    ],
)
def test_run_record_names_the_bad_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"{field} field of RunRecord"):
        RunRecord(**{"ran_at": T0, "version": 1, **kwargs})


def test_action_record_names_the_bad_action() -> None:
    with pytest.raises(InvalidParameterError, match=r"'action' field of ActionRecord.*'deploy'"):
        ActionRecord(T0, "deploy")


def test_decision_keeps_its_invariants() -> None:
    with pytest.raises(InvalidParameterError, match="suppressed"):
        Decision("notify", suppressed="cooldown", requested="notify")
    with pytest.raises(InvalidParameterError, match="must say why"):
        Decision("notify", requested="retrain")
    with pytest.raises(InvalidParameterError, match="'action' field of Decision"):
        Decision("deploy")


# --- Decision to_dict / from_dict -----------------------------------------------------------


def test_decision_round_trips_through_json() -> None:
    triggers = {
        "schedule": {"every": "1d", "action": "rollback"},
        "drift": {"share": 0.5},
        "performance": {"max_drop": 0.1},
        "data_quality": {},
        "concept_drift": {},
    }
    latest = RunRecord(
        T0 + DAY, 1, (DRIFT, PERF, QUALITY), 500, 500, label_coverage=1.0, detectors=CONCEPT
    )
    decision = evaluate(
        _policy(triggers, consecutive=2),
        [*_runs(True), latest],
        [ActionRecord(T0, "retrain")],
        now=T0 + DAY,
        last_trained=T0 - DAY,
    )
    assert decision.suppressed is not None
    assert decision.requested == "rollback"
    text = json.dumps(decision.to_dict(), allow_nan=False)
    back = Decision.from_dict(json.loads(text))
    assert back == decision
    assert back.triggers[0].details["due_at"] == T0.isoformat()
    assert isinstance(back.triggers[0], TriggerOutcome)


def test_from_dict_rejects_what_to_dict_never_wrote() -> None:
    with pytest.raises(SerializationError, match="Cannot read a decision"):
        Decision.from_dict({"reasons": []})
    with pytest.raises(SerializationError, match="Cannot read a trigger outcome"):
        Decision.from_dict({"action": "none", "triggers": [{"trigger": "latency"}]})


def test_trigger_outcome_details_are_json_safe() -> None:
    outcome = TriggerOutcome(
        "drift",
        "notify",
        True,
        True,
        1,
        ("x",),
        {"when": T0, "cols": ("a", "b"), "share": np.float64(0.5), "nan": float("nan")},
    )
    assert outcome.details == {
        "when": T0.isoformat(),
        "cols": ["a", "b"],
        "share": 0.5,
        "nan": None,
    }
    with pytest.raises(InvalidParameterError, match=r"TriggerOutcome.details"):
        TriggerOutcome("drift", "notify", True, True, 1, (), {"bad": object()})
