"""One turn of the loop for one model: monitor, alert, guard, decide, act.

:func:`run_cycle` is what the server's scheduler runs (and ``watchkeeper monitor run
--act``, and the demo, every simulated day):

1. a monitor run over the latest window (stored);
2. alerts for its problems, de-duplicated with a cool-down, sent to the configured channels;
3. a shadow trial, if a challenger is on one, is promoted or rejected;
4. the post-deploy guard, if a promotion is being watched, may roll it back;
5. the policy decides (an event in the history, whatever it decides);
6. the decision is carried out: notify, retrain (train, gate, deploy) or roll back.

A failing step (whatever it raises) is recorded in the result, logged and alerted on
(``ops.error``), never raised: the loop must keep turning. A failed retraining is a
``retrain_failed`` event, so the policy's cool-down applies to it as to a retrain.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from watchkeeper.clock import as_utc
from watchkeeper.errors import WatchkeeperError
from watchkeeper.ops._history import (
    StoredRun,
    load_alert_states,
    load_runs,
    save_alert_states,
)
from watchkeeper.ops._monitor import MonitorRun, run_monitor

if TYPE_CHECKING:
    from datetime import datetime

    from watchkeeper.config import WatchkeeperConfig
    from watchkeeper.ops._alerts import Alert, Notifier
    from watchkeeper.policy import Decision
    from watchkeeper.registry._project import Project

__all__ = ["CycleResult", "evaluate_policy", "run_cycle"]

_log = logging.getLogger("watchkeeper.ops")


@dataclass(slots=True)
class CycleResult:
    """What one turn of the loop did."""

    model: str
    at: datetime
    run: MonitorRun | None = None
    alerts: list[Alert] = field(default_factory=list)
    decision: Decision | None = None
    retrain: Any = None
    guard: Any = None
    trial: Any = None
    rollback: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def as_dict(x: Any) -> Any:
            return None if x is None else x.to_dict()

        return {
            "model": self.model,
            "at": self.at.isoformat(),
            "run": as_dict(self.run),
            "alerts": [a.to_dict() for a in self.alerts],
            "decision": as_dict(self.decision),
            "retrain": as_dict(self.retrain),
            "guard": as_dict(self.guard),
            "trial": as_dict(self.trial),
            "rollback": self.rollback,
            "errors": list(self.errors),
        }


def _config(project: Project) -> WatchkeeperConfig:
    from watchkeeper.config import WatchkeeperConfig

    return project.config if project.config is not None else WatchkeeperConfig()


def run_cycle(
    project: Project,
    name: str,
    *,
    source: str = "schedule",
    notifier: Notifier | None = None,
    act: bool = True,
) -> CycleResult:
    """Run one turn of the loop for ``name`` (see the module docstring).

    ``notifier`` defaults to one built from ``alerts:``; with ``act=False`` the policy's
    decision is recorded but not carried out.
    """
    from watchkeeper.ops._alerts import Notifier

    cfg = _config(project)
    now = as_utc(project.clock.now())
    result = CycleResult(model=name, at=now)
    notifier = notifier or Notifier(cfg.alerts)

    def monitor() -> None:
        result.run = run_monitor(project, name, config=cfg.monitor, source=source)

    _step(result, "monitor run", monitor)
    if result.run is not None:
        _step(result, "alerts", lambda: _alert_run(project, name, result, notifier, now))
    _step(result, "shadow trial", lambda: _trial(project, name, result, now))
    _step(result, "guard", lambda: _guard(project, name, result, notifier, now))
    if result.run is not None and result.rollback is None:
        _step(result, "policy", lambda: _decide(project, name, result, notifier, act, now))
    if result.errors:
        _report_errors(project, name, result, notifier, now)
    return result


def _step(result: CycleResult, what: str, run: Any) -> None:
    """Run one step; whatever it raises (the user's model and trainer can raise anything) is
    recorded in the result and logged, and the cycle goes on."""
    try:
        run()
    except Exception as exc:
        text = str(exc) if isinstance(exc, WatchkeeperError) else f"{type(exc).__name__}: {exc}"
        result.errors.append(f"{what}: {text}")
        _log.warning("%s of %s failed: %s", what, result.model, text, exc_info=exc)


def _report_errors(
    project: Project, name: str, result: CycleResult, notifier: Notifier, now: datetime
) -> None:
    """An ``ops.error`` alert (de-duplicated like any other) saying which steps failed."""
    from watchkeeper.ops._alerts import Alert

    version = result.run.stored.version if result.run is not None else 0
    alert = Alert(
        model=name,
        version=version,
        check="ops.error",
        column=None,
        status="alert",
        message=f"{name}: the monitoring cycle had errors: " + "; ".join(result.errors),
        at=now,
        details={"errors": list(result.errors)},
    )
    try:
        result.alerts.extend(_send(project, name, [alert], notifier, now))
    except Exception as exc:
        _log.warning("could not send the error alert of %s: %s", name, exc)


def _importance(project: Project, name: str, version: int) -> dict[str, float] | None:
    from watchkeeper.ops._importance import stored_importance

    return stored_importance(project.get(name, version).metrics or {})


def _send(
    project: Project, name: str, candidates: list[Alert], notifier: Notifier, now: datetime
) -> list[Alert]:
    """De-duplicate ``candidates`` against the stored alert state, send the rest."""
    from watchkeeper.ops._alerts import AlertState, select_alerts

    cfg = _config(project).alerts
    stored = load_alert_states(project.database, name)
    previous = {k: AlertState(status=s, sent_at=t) for k, (s, t) in stored.items()}
    chosen, states = select_alerts(
        candidates, previous, cooldown=cfg.cooldown, min_status=cfg.min_status, now=now
    )
    if chosen:
        report = notifier.send(chosen)
        if report.channels and not any(c.ok for c in report.channels):
            # Delivered nowhere: keep the keys as they were, so the next cycle tries again
            # instead of the cool-down silencing an alert nobody received.
            for alert in chosen:
                if alert.key in previous:
                    states[alert.key] = previous[alert.key]
                else:
                    states.pop(alert.key, None)
    save_alert_states(
        project.database, name, {k: (v.status, v.sent_at) for k, v in states.items()}, now
    )
    return chosen


def _alert_run(
    project: Project, name: str, result: CycleResult, notifier: Notifier, now: datetime
) -> None:
    from watchkeeper.ops._alerts import build_alerts

    assert result.run is not None
    stored = result.run.stored
    candidates = build_alerts(
        name,
        stored.version,
        stored.checks,
        stored.detectors,
        now,
        _importance(project, name, stored.version),
        _config(project).alerts.top_features,
    )
    result.alerts.extend(_send(project, name, candidates, notifier, now))


def _trial(project: Project, name: str, result: CycleResult, now: datetime) -> None:
    from watchkeeper.ops._deploy import check_shadow_trial

    result.trial = check_shadow_trial(project, name, config=_config(project).retrain, now=now)


def _guard(
    project: Project, name: str, result: CycleResult, notifier: Notifier, now: datetime
) -> None:
    from watchkeeper.ops._alerts import Alert
    from watchkeeper.ops._guard import run_guard

    guard = run_guard(project, name, config=_config(project).retrain, now=now)
    result.guard = guard
    if guard is not None and guard.rolled_back:
        result.rollback = {"from": guard.version, "to": guard.previous, "by": "guard"}
        alert = Alert(
            model=name,
            version=guard.version,
            check="guard.rollback",
            column=None,
            status="alert",
            message=(
                f"{name}: version {guard.version} rolled back to {guard.previous} by the "
                f"post-deploy guard: {'; '.join(guard.reasons)}"
            ),
            at=now,
            details=guard.to_dict(),
        )
        notifier.send([alert])
        result.alerts.append(alert)


def evaluate_policy(project: Project, name: str) -> Decision:
    """The policy's decision for ``name`` now, from the stored runs and history (no action,
    nothing recorded): what ``watchkeeper policy evaluate`` prints."""
    from watchkeeper.policy import evaluate

    cfg = _config(project)
    now = as_utc(project.clock.now())
    champion = project.get(name, alias=cfg.monitor.alias)
    runs = load_runs(project.database, name, last=max(cfg.policy.consecutive, 1) + 5)
    decision = evaluate(
        cfg.policy,
        [_run_record(r) for r in runs],
        _actions(project, name),
        now=now,
        last_trained=as_utc(champion.created_at),
    )
    if decision.action != "retrain":
        return decision
    if cfg.retrain.trainer is None:
        return _held(decision, "no trainer is configured (retrain.trainer): notifying")
    guarded = _guarded_version(project, name, now)
    if guarded is not None:
        return _held(
            decision,
            f"version {guarded} is under the post-deploy guard: the guard decides about it "
            "first, no retrain on top of it",
        )
    on_trial = _version_on_trial(project, name)
    if on_trial is not None:
        return _held(
            decision,
            f"version {on_trial} is on a shadow trial: its outcome comes first, no retrain on "
            "top of it",
        )
    return decision


def _version_on_trial(project: Project, name: str) -> int | None:
    """The version the ``shadow`` alias holds for a shadow trial, if any."""
    moves = project.registry.history(name, kinds=("alias_move",))
    latest = next((e for e in reversed(moves) if e.alias == "shadow"), None)
    if latest is None or latest.to_version is None or not latest.details.get("trial"):
        return None
    return int(latest.to_version)


def _guarded_version(project: Project, name: str, now: datetime) -> int | None:
    """The production version a post-deploy guard is watching now, if any."""
    from watchkeeper.ops._guard import _active_promotion

    cfg = _config(project).retrain.guard
    active = _active_promotion(project, name)
    if not cfg.enabled or active is None:
        return None
    promotion, version, _ = active
    if now - as_utc(promotion.created_at) > cfg.period:
        return None
    return version if project.model(name).aliases.get("production") == version else None


def _run_record(run: StoredRun) -> Any:
    from watchkeeper.policy import RunRecord

    return RunRecord(
        ran_at=run.ran_at,
        version=run.version,
        checks=run.checks,
        n_rows=run.n_rows,
        n_labeled=run.n_labeled,
        label_coverage=run.label_coverage,
        detectors={k: v for k, v in run.detectors.items() if not k.startswith("_")},
    )


def _actions(project: Project, name: str) -> list[Any]:
    """Earlier retrains (and failed attempts) and rollbacks, from the whole history: the
    policy's cool-down and its cap per period count them."""
    from watchkeeper.policy import ActionRecord

    found = []
    kinds = ("retrain", "retrain_failed", "alias_move")
    for event in project.registry.history(name, kinds=kinds):
        when = as_utc(event.created_at)
        if event.kind in ("retrain", "retrain_failed"):
            found.append(ActionRecord(at=when, action="retrain"))
        elif event.kind == "alias_move" and (event.details or {}).get("action") == "rollback":
            found.append(ActionRecord(at=when, action="rollback"))
    return found


def _decide(
    project: Project,
    name: str,
    result: CycleResult,
    notifier: Notifier,
    act: bool,
    now: datetime,
) -> None:
    from watchkeeper.ops._alerts import Alert

    cfg = _config(project)
    decision = evaluate_policy(project, name)
    result.decision = decision
    assert result.run is not None
    version = result.run.stored.version
    project.record_event(
        name,
        "policy_decision",
        version=version,
        reason="; ".join(decision.reasons)[:2000],
        details=decision.to_dict(),
    )
    if decision.action == "none" or not act:
        return
    if decision.action in ("notify", "retrain", "rollback"):
        alert = Alert(
            model=name,
            version=version,
            check="policy.decision",
            column=decision.action,
            status="alert",
            message=f"{name}: policy decided to {decision.action}: " + "; ".join(decision.reasons),
            at=now,
            details=decision.to_dict(),
        )
        result.alerts.extend(_send(project, name, [alert], notifier, now))
    if decision.action == "retrain":
        from watchkeeper.ops._retrain import retrain

        reason = "; ".join(decision.reasons)[:500]
        try:
            result.retrain = retrain(project, name, config=cfg.retrain, reason=reason)
        except Exception as exc:
            text = str(exc) if isinstance(exc, WatchkeeperError) else f"{type(exc).__name__}: {exc}"
            project.record_event(
                name, "retrain_failed", version=version, reason=text[:2000], details={}
            )
            result.errors.append(f"retrain: {text}")
            _log.warning("retraining %s failed: %s", name, text, exc_info=exc)
    elif decision.action == "rollback":
        event = project.rollback(
            name, alias="production", reason="policy: " + "; ".join(decision.reasons)[:480]
        )
        result.rollback = {"from": event.from_version, "to": event.to_version, "by": "policy"}


def _held(decision: Decision, why: str) -> Decision:
    from dataclasses import replace

    return replace(
        decision,
        action="notify",
        suppressed=why,
        reasons=(*decision.reasons, f"retrain held back: {why}"),
    )
