"""One turn of the loop (``watchkeeper.ops.run_cycle``) on a real project (SQLite, simulated
clock): a clean cycle and the decision it records, a retrain held back without a trainer, a
failing trainer (a ``retrain_failed`` event, then the policy's cool-down), a step raising
(recorded, the later steps still run, an ``ops.error`` alert), alerts re-sent after a delivery
that reached no channel, ``act=False``, and ``evaluate_policy`` against the cycle's decision.

The project is the template of ``test_retrain`` (churn v1 in ``production``); alerts go to a
fake notifier that records what it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from watchkeeper.config import AlertsConfig
from watchkeeper.errors import LoopError
from watchkeeper.ops._alerts import Alert, ChannelDelivery, DeliveryReport, Notifier
from watchkeeper.ops._history import load_alert_states, load_runs
from watchkeeper.ops._loop import CycleResult, evaluate_policy, run_cycle

from .test_retrain import DAY, HOUR, NAME, Setup, setup, template

if TYPE_CHECKING:
    from watchkeeper.policy import Decision

__all__ = ["setup", "template"]  # the fixtures, shared with test_retrain

HERE = Path(__file__).parent  # holds the importable package ``trainers``
FAILING = "trainers.sample:fail"  # raises ValueError("target column 'churned' has only one class")
SCHEDULED_RETRAIN = {"triggers": {"schedule": {"every": "1d", "action": "retrain"}}}


class FakeNotifier:
    """Records every batch of alerts it is given; each channel's delivery is ``ok``."""

    def __init__(self, *, ok: bool = True, channels: int = 2) -> None:
        self.ok = ok
        self.channels = channels
        self.sent: list[list[Alert]] = []

    def send(self, alerts: Sequence[Alert]) -> DeliveryReport:
        self.sent.append(list(alerts))
        return DeliveryReport(
            alerts=len(alerts),
            channels=tuple(
                ChannelDelivery(
                    channel="webhook",
                    target=f"https://hooks{i}.example",
                    ok=self.ok,
                    attempts=1 if self.ok else 4,
                    error=None if self.ok else "HTTP 503",
                    status_code=200 if self.ok else 503,
                )
                for i in range(self.channels)
            ),
        )

    def checks(self) -> list[str]:
        return [a.check for batch in self.sent for a in batch]

    def clear(self) -> None:
        self.sent.clear()


def trial_exploded(*args: Any) -> None:
    """Stands in for the shadow-trial step."""
    raise RuntimeError("trial exploded")


def cycle(setup: Setup, notifier: FakeNotifier | Notifier, **kwargs: Any) -> CycleResult:
    return run_cycle(setup.project, NAME, notifier=cast("Notifier", notifier), **kwargs)


def log_days(setup: Setup, days: range, n: int = 150) -> None:
    for day in days:
        setup.log_day(day, n, seed=100 + day)


def decision_recorded(setup: Setup, decision: Decision) -> Any:
    """The latest ``policy_decision`` event, checked against ``decision``."""
    event = setup.events("policy_decision")[-1]
    assert event.reason == "; ".join(decision.reasons)
    for key in ("action", "requested", "suppressed", "reasons"):
        assert event.details[key] == decision.to_dict()[key]
    return event


def with_trainer(setup: Setup, trainer: str = FAILING) -> None:
    setup.configure(
        policy=SCHEDULED_RETRAIN,
        retrain={
            "trainer": trainer,
            "python_path": [str(HERE)],
            "data": {"window": "2d", "include_reference": False},
            "gate": {"holdout": "1d", "min_holdout_rows": 10},
        },
    )


# ---------------------------------------------------------------------------- a clean cycle
def test_a_clean_cycle_stores_a_run_and_records_the_decision(setup: Setup) -> None:
    log_days(setup, range(2))
    now = setup.clock.now()
    result = cycle(setup, Notifier(AlertsConfig(channels=[])))
    assert result.errors == []
    assert result.at == now
    assert result.model == NAME
    assert result.run is not None
    assert result.decision is not None
    runs = load_runs(setup.project.database, NAME)
    assert [r.id for r in runs] == [result.run.stored.id]
    assert runs[0].ran_at == now
    assert runs[0].window_end == now
    assert runs[0].n_rows == 150  # the default window: the last day
    event = decision_recorded(setup, result.decision)
    assert event.version == 1
    assert result.decision.reasons  # a decision always says why
    assert not setup.events("retrain")
    assert not setup.events("retrain_failed")
    assert result.to_dict()["errors"] == []


# ---------------------------------------------------------------------------- no trainer
def test_a_retrain_without_a_trainer_becomes_notify(setup: Setup) -> None:
    log_days(setup, range(2))
    setup.configure(policy=SCHEDULED_RETRAIN)
    assert setup.project.config is not None
    assert setup.project.config.retrain.trainer is None
    notifier = FakeNotifier()
    result = cycle(setup, notifier)
    decision = result.decision
    assert decision is not None
    assert (decision.action, decision.requested) == ("notify", "retrain")
    assert decision.suppressed is not None
    assert "retrain.trainer" in decision.suppressed
    assert any("retrain.trainer" in r for r in decision.reasons)
    assert any(r.startswith("schedule asks for retrain") for r in decision.reasons)
    decision_recorded(setup, decision)
    assert result.errors == []
    assert result.retrain is None
    assert not setup.events("retrain")
    assert not setup.events("retrain_failed")
    assert [v.version for v in setup.project.versions(NAME)] == [1]
    (alert,) = [a for a in result.alerts if a.check == "policy.decision"]
    assert alert.column == "notify"
    assert "policy.decision" in notifier.checks()


def test_evaluate_policy_agrees_with_a_cycle_that_held_back_a_retrain(setup: Setup) -> None:
    log_days(setup, range(2))
    setup.configure(policy=SCHEDULED_RETRAIN)
    result = cycle(setup, FakeNotifier(), act=False)
    assert result.decision is not None
    assert result.decision.action == "notify"
    assert evaluate_policy(setup.project, NAME).action == result.decision.action


# ---------------------------------------------------------------------------- failing trainer
def test_a_failing_trainer_is_recorded_and_the_cooldown_holds_the_next_retrain(
    setup: Setup,
) -> None:
    log_days(setup, range(3))
    with_trainer(setup)
    notifier = FakeNotifier()
    result = cycle(setup, notifier)  # spawns the (failing) trainer
    assert result.decision is not None
    assert result.decision.action == "retrain"
    assert result.retrain is None
    (error,) = result.errors
    assert error.startswith("retrain: ")
    assert "ValueError" in error
    assert "has only one class" in error
    (failed,) = setup.events("retrain_failed")
    assert failed.version == 1
    assert "has only one class" in failed.reason
    assert failed.reason == error.removeprefix("retrain: ")
    assert not setup.events("retrain")
    assert [v.version for v in setup.project.versions(NAME)] == [1]
    (ops,) = [a for a in result.alerts if a.check == "ops.error"]
    assert "has only one class" in ops.message
    assert ops.details["errors"] == result.errors
    assert {"policy.decision", "ops.error"} <= set(notifier.checks())

    log_days(setup, range(3, 4))  # a day later, within the 3-day cool-down
    again = cycle(setup, notifier)
    assert again.errors == []
    decision = again.decision
    assert decision is not None
    assert (decision.action, decision.requested) == ("notify", "retrain")
    assert decision.suppressed is not None
    assert "cooldown" in decision.suppressed
    assert failed.created_at.isoformat() in decision.suppressed
    decision_recorded(setup, decision)
    assert len(setup.events("retrain_failed")) == 1
    assert not setup.events("retrain")


# ---------------------------------------------------------------------------- failing steps
def test_a_step_raising_is_recorded_and_the_later_steps_run(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    import watchkeeper.ops._loop as loop

    log_days(setup, range(2))
    guarded: list[str] = []
    real_guard = loop._guard

    def guard(project: Any, name: str, *args: Any) -> None:
        guarded.append(name)
        real_guard(project, name, *args)

    monkeypatch.setattr(loop, "_trial", trial_exploded)
    monkeypatch.setattr(loop, "_guard", guard)
    notifier = FakeNotifier()
    result = cycle(setup, notifier)
    assert result.errors == ["shadow trial: RuntimeError: trial exploded"]
    assert guarded == [NAME]  # the guard ran after it
    assert result.run is not None
    assert result.decision is not None
    decision_recorded(setup, result.decision)
    (alert,) = [a for a in result.alerts if a.check == "ops.error"]
    assert alert.status == "alert"
    assert alert.version == 1
    assert "RuntimeError: trial exploded" in alert.message
    assert alert.details["errors"] == result.errors
    assert notifier.sent[-1] == [alert]  # sent last, once the other steps were done


def test_a_failing_monitor_run_skips_the_policy_but_not_the_rest(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    import watchkeeper.ops._loop as loop

    log_days(setup, range(2))
    ran: list[str] = []

    def monitor(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("log unreadable")

    def trial(project: Any, name: str, *args: Any) -> None:
        ran.append("trial")

    monkeypatch.setattr(loop, "run_monitor", monitor)
    monkeypatch.setattr(loop, "_trial", trial)
    notifier = FakeNotifier()
    result = cycle(setup, notifier)
    assert result.errors == ["monitor run: RuntimeError: log unreadable"]
    assert ran == ["trial"]
    assert result.run is None
    assert result.decision is None
    assert not setup.events("policy_decision")
    assert load_runs(setup.project.database, NAME) == []
    assert notifier.checks() == ["ops.error"]
    (alert,) = result.alerts
    assert "RuntimeError: log unreadable" in alert.message


def test_a_watchkeeper_error_is_recorded_by_its_message(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    import watchkeeper.ops._loop as loop

    log_days(setup, range(2))

    def guard(*args: Any) -> None:
        raise LoopError("the guard could not read the shadow rows")

    monkeypatch.setattr(loop, "_guard", guard)
    result = cycle(setup, FakeNotifier())
    assert result.errors == ["guard: the guard could not read the shadow rows"]
    assert result.decision is not None


# ---------------------------------------------------------------------------- delivery
def test_an_alert_delivered_nowhere_is_sent_again_next_cycle(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    import watchkeeper.ops._loop as loop

    log_days(setup, range(2))

    monkeypatch.setattr(loop, "_trial", trial_exploded)
    key = (NAME, "ops.error", "")

    def state() -> tuple[str, datetime | None] | None:
        return load_alert_states(setup.project.database, NAME).get(key)

    notifier = FakeNotifier(ok=False)
    cycle(setup, notifier)
    assert "ops.error" in notifier.checks()
    assert state() is None  # not stored as sent

    setup.clock.advance(HOUR)  # well within the alerts' one-day cool-down
    notifier.ok = True
    notifier.clear()
    second = cycle(setup, notifier)
    assert notifier.checks().count("ops.error") == 1  # sent again
    assert state() == ("alert", second.at)

    setup.clock.advance(HOUR)
    notifier.clear()
    third = cycle(setup, notifier)
    assert third.errors == ["shadow trial: RuntimeError: trial exploded"]
    assert "ops.error" not in notifier.checks()  # delivered an hour ago: the cool-down holds
    assert state() == ("alert", second.at)


def test_a_failed_delivery_keeps_the_earlier_state(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a delivery that reached no channel, the key keeps the state of the last one
    that did: once the cool-down is over it is sent, and failing again, sent again."""
    import watchkeeper.ops._loop as loop

    log_days(setup, range(2))
    monkeypatch.setattr(loop, "_trial", trial_exploded)
    key = (NAME, "ops.error", "")
    notifier = FakeNotifier(ok=True)
    first = cycle(setup, notifier)
    assert load_alert_states(setup.project.database, NAME)[key] == ("alert", first.at)

    setup.clock.advance(DAY)  # the cool-down is over
    notifier.ok = False
    notifier.clear()
    cycle(setup, notifier)
    assert "ops.error" in notifier.checks()
    assert load_alert_states(setup.project.database, NAME)[key] == ("alert", first.at)

    setup.clock.advance(HOUR)
    notifier.clear()
    cycle(setup, notifier)
    assert "ops.error" in notifier.checks()


# ---------------------------------------------------------------------------- act=False
def test_act_false_records_the_decision_and_does_nothing(setup: Setup) -> None:
    log_days(setup, range(3))
    with_trainer(setup)
    notifier = FakeNotifier()
    history = setup.kinds()
    result = cycle(setup, notifier, act=False)
    decision = result.decision
    assert decision is not None
    assert decision.action == "retrain"
    assert decision.suppressed is None
    decision_recorded(setup, decision)
    assert setup.kinds() == [*history, "policy_decision"]
    assert result.retrain is None
    assert result.rollback is None
    assert result.errors == []
    assert "policy.decision" not in notifier.checks()
    assert [v.version for v in setup.project.versions(NAME)] == [1]
    assert setup.project.get(NAME, alias="production").version == 1

    # evaluate_policy: the decision the cycle took, from the stored run; nothing recorded
    runs = load_runs(setup.project.database, NAME)
    history = setup.kinds()
    evaluated = evaluate_policy(setup.project, NAME)
    assert evaluated.to_dict() == decision.to_dict()
    assert setup.kinds() == history
    assert [r.id for r in load_runs(setup.project.database, NAME)] == [r.id for r in runs]


def test_evaluate_policy_reads_the_stored_runs(setup: Setup) -> None:
    log_days(setup, range(2))
    before = evaluate_policy(setup.project, NAME)
    assert before.action == "none"
    assert before.reasons == ("no monitor run yet",)
    assert not setup.events("policy_decision")

    result = cycle(setup, FakeNotifier())  # the default policy: notify at most
    assert result.decision is not None
    assert result.decision.suppressed is None
    assert evaluate_policy(setup.project, NAME).to_dict() == result.decision.to_dict()


def test_a_retrain_waits_for_a_shadow_trial_to_end(setup: Setup) -> None:
    log_days(setup, range(2))
    setup.configure(policy=SCHEDULED_RETRAIN, retrain={"trainer": FAILING})
    cycle(setup, FakeNotifier(), act=False)  # a stored run for the policy to read
    assert evaluate_policy(setup.project, NAME).action == "retrain"
    setup.project.deploy(NAME, 1, "shadow", trigger="policy", details={"trial": True})
    held = evaluate_policy(setup.project, NAME)
    assert held.action == "notify"
    assert held.requested == "retrain"
    assert held.suppressed is not None
    assert "version 1 is on a shadow trial" in held.suppressed
    setup.project.remove_alias(NAME, "shadow", trigger="policy")
    assert evaluate_policy(setup.project, NAME).action == "retrain"
