"""Deploying a challenger (``direct`` and ``shadow`` first) and the shadow trial, on a real
project (SQLite, simulated clock): aliases, recorded events, and the trial's wait, promotion
and rejection."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any, Literal

import pytest

from watchkeeper.config import RetrainConfig
from watchkeeper.config._ops import DeployConfig, GuardConfig
from watchkeeper.errors import InvalidParameterError, LoopError
from watchkeeper.ops._deploy import check_shadow_trial, deploy_challenger, version_outputs

from .test_guard import BAD, GOOD, MODEL, OTHER, Setup, setup, template

__all__ = ["setup", "template"]  # fixtures shared with test_guard


def _config(
    mode: Literal["direct", "shadow"] = "direct", *, guard: bool = True, rows: int = 200
) -> RetrainConfig:
    return RetrainConfig(
        deploy=DeployConfig(mode=mode, promote_after_rows=rows),
        guard=GuardConfig(enabled=guard, period=timedelta(days=3)),
    )


def _moves(setup: Setup, after: int = 0) -> list[tuple[Any, ...]]:
    return [
        (e.alias, e.from_version, e.to_version, e.trigger)
        for e in setup.events("alias_move")
        if e.id > after
    ]


def test_version_outputs(setup: Setup) -> None:
    record = setup.project.get(MODEL, GOOD)
    assert version_outputs(record) == ("binary", "prediction", "prediction_proba", 1)
    multiclass = dataclasses.replace(
        record,
        metrics={"task": "multiclass"},
        model_info={**record.model_info, "classes": ["a", "b", "c"]},
        data_info={**record.data_info, "outputs": {"prediction": "p", "proba": ["a", "b", "c"]}},
    )
    assert version_outputs(multiclass) == ("multiclass", "p", None, None)
    regression = dataclasses.replace(
        record,
        metrics={},
        model_info={"class": "Ridge"},
        data_info={**record.data_info, "outputs": {"prediction": "yhat", "proba": []}},
    )
    assert version_outputs(regression) == ("regression", "yhat", None, None)
    # A binary classifier known only by its classes: the second class is the positive one.
    no_metrics = dataclasses.replace(
        record, metrics={}, model_info={**record.model_info, "classes": ["no", "yes"]}
    )
    assert version_outputs(no_metrics) == ("binary", "prediction", "prediction_proba", "yes")
    bare = dataclasses.replace(record, data_info={"outputs": {}})
    with pytest.raises(LoopError, match="recorded no prediction column"):
        version_outputs(bare)


def test_direct_with_the_guard(setup: Setup) -> None:
    config = _config()
    before = setup.events("alias_move")[-1].id
    result = deploy_challenger(
        setup.project, MODEL, OTHER, config=config, reason="passed the gate", details={"gate": 1}
    )
    assert (result.mode, result.version, result.previous) == ("direct", OTHER, GOOD)
    assert setup.project.model(MODEL).aliases == {"production": OTHER, "shadow": GOOD}
    assert _moves(setup, before) == [
        ("production", GOOD, OTHER, "policy"),
        ("shadow", None, GOOD, "policy"),
    ]
    production, shadow = setup.events("alias_move")[-2:]
    assert production.reason == "passed the gate"
    assert production.details == {
        "gate": 1,
        "guard": {"previous": GOOD, "period_seconds": 3 * 86_400.0},
        "action": "deploy",
    }
    assert shadow.reason == (
        f"the previous champion scores the same traffic while the guard watches version {OTHER}"
    )
    promotion = setup.events("promotion")[-1]
    assert result.events == (production.id, shadow.id, promotion.id)
    assert (promotion.version, promotion.reason) == (OTHER, "passed the gate")
    assert promotion.details == {
        "mode": "direct",
        "version": OTHER,
        "previous": GOOD,
        "events": [production.id, shadow.id],
    }
    assert result.to_dict()["events"] == list(result.events)


def test_direct_without_the_guard_or_a_champion(setup: Setup) -> None:
    result = deploy_challenger(
        setup.project, MODEL, OTHER, config=_config(guard=False), reason="no guard"
    )
    assert setup.project.model(MODEL).aliases == {"production": OTHER}
    assert "guard" not in setup.events("alias_move")[-1].details
    assert len(result.events) == 2  # the move and the promotion
    # No champion at all: the first deploy has nothing to guard.
    setup.project.remove_alias(MODEL, "production")
    first = deploy_challenger(setup.project, MODEL, GOOD, config=_config(), reason="first")
    assert first.previous is None
    assert setup.project.model(MODEL).aliases == {"production": GOOD}
    assert "guard" not in setup.events("alias_move")[-1].details
    with pytest.raises(InvalidParameterError, match="already in production"):
        deploy_challenger(setup.project, MODEL, GOOD, config=_config(), reason="again")


def test_shadow_mode_puts_the_challenger_on_trial(setup: Setup) -> None:
    before = setup.events("alias_move")[-1].id
    result = deploy_challenger(
        setup.project, MODEL, OTHER, config=_config("shadow"), reason="on trial"
    )
    assert (result.mode, result.previous) == ("shadow", GOOD)
    assert setup.project.model(MODEL).aliases == {"production": GOOD, "shadow": OTHER}
    assert _moves(setup, before) == [("shadow", None, OTHER, "policy")]
    move = setup.events("alias_move")[-1]
    assert move.details == {"trial": True, "champion": GOOD, "action": "deploy"}
    assert setup.events("promotion")[-1].details["mode"] == "shadow"


def test_no_trial_without_a_trial_on_shadow(setup: Setup) -> None:
    config = _config("shadow")
    now = setup.clock.now()
    assert check_shadow_trial(setup.project, MODEL, config=config, now=now) is None
    setup.project.deploy(MODEL, OTHER, "shadow", reason="by hand, not a trial")
    assert check_shadow_trial(setup.project, MODEL, config=config, now=now) is None


def test_a_trial_waits_for_labelled_pairs(setup: Setup) -> None:
    config = _config("shadow", rows=250)
    deploy_challenger(setup.project, MODEL, OTHER, config=config, reason="trial")
    setup.clock.advance(timedelta(hours=1))
    setup.log(GOOD, OTHER, 200)
    setup.log(GOOD, OTHER, 100, labels=False)
    setup.log(GOOD, None, 50)  # served while the shadow was not scoring: no pair
    n_events = len(setup.project.history(MODEL))
    result = check_shadow_trial(setup.project, MODEL, config=config, now=setup.clock.now())
    assert result is not None
    assert (result.status, result.n_pairs, result.n_labeled) == ("waiting", 300, 200)
    assert (result.gate, result.event) == (None, None)
    assert "200 of the 250" in result.reasons[0]
    assert len(setup.project.history(MODEL)) == n_events  # nothing recorded, nothing moved
    assert setup.project.model(MODEL).aliases == {"production": GOOD, "shadow": OTHER}


def test_a_better_challenger_is_promoted(setup: Setup) -> None:
    # The champion in production is the bad version; the good one goes on trial.
    setup.project.deploy(MODEL, BAD, reason="by hand")
    config = _config("shadow", rows=250)
    deploy_challenger(setup.project, MODEL, GOOD, config=config, reason="trial")
    setup.clock.advance(timedelta(hours=1))
    setup.log(BAD, GOOD, 300)
    result = check_shadow_trial(setup.project, MODEL, config=config, now=setup.clock.now())
    assert result is not None
    assert (result.status, result.version, result.champion) == ("promoted", GOOD, BAD)
    assert result.gate is not None
    assert result.gate.passed
    assert result.promotion is not None
    assert (result.promotion.mode, result.promotion.previous) == ("direct", BAD)
    # Guarded: production on the challenger, the old champion shadowing it.
    assert setup.project.model(MODEL).aliases == {"production": GOOD, "shadow": BAD}
    production = next(e for e in reversed(setup.events("alias_move")) if e.alias == "production")
    assert production.details["guard"]["previous"] == BAD
    assert production.reason.startswith("passed its shadow trial")
    trial = setup.events("shadow_trial")[-1]
    assert trial.id == result.event
    assert trial.details["outcome"] == "promoted"
    assert trial.details["n_labeled"] == 300
    assert trial.details["gate"] == result.gate.to_dict()


def test_a_promoted_challenger_without_the_guard_leaves_shadow(setup: Setup) -> None:
    setup.project.deploy(MODEL, BAD, reason="by hand")
    config = _config("shadow", guard=False, rows=100)
    deploy_challenger(setup.project, MODEL, GOOD, config=config, reason="trial")
    setup.clock.advance(timedelta(hours=1))
    setup.log(BAD, GOOD, 150)
    # 150 labelled pairs pass promote_after_rows (100) but not the gate's minimum (200).
    early = check_shadow_trial(setup.project, MODEL, config=config, now=setup.clock.now())
    assert early is not None
    assert (early.status, early.n_labeled) == ("waiting", 150)
    assert "150 of the 200" in early.reasons[0]
    setup.log(BAD, GOOD, 100)
    result = check_shadow_trial(setup.project, MODEL, config=config, now=setup.clock.now())
    assert result is not None
    assert (result.status, result.n_labeled) == ("promoted", 250)
    assert setup.project.model(MODEL).aliases == {"production": GOOD}
    assert _moves(setup)[-1] == ("shadow", GOOD, None, "policy")


def test_a_worse_challenger_is_rejected(setup: Setup) -> None:
    config = _config("shadow", rows=250)
    deploy_challenger(setup.project, MODEL, BAD, config=config, reason="trial")
    setup.clock.advance(timedelta(hours=1))
    setup.log(GOOD, BAD, 300)
    result = check_shadow_trial(setup.project, MODEL, config=config, now=setup.clock.now())
    assert result is not None
    assert (result.status, result.promotion) == ("rejected", None)
    assert result.gate is not None
    assert not result.gate.passed
    assert setup.project.model(MODEL).aliases == {"production": GOOD}
    assert setup.project.get(MODEL, BAD).status == "rejected"
    status = setup.events("status_change")[-1]
    assert status.version == BAD
    assert status.reason.startswith("failed its shadow trial")
    assert _moves(setup)[-1] == ("shadow", BAD, None, "policy")
    trial = setup.events("shadow_trial")[-1]
    assert (trial.version, trial.details["outcome"]) == (BAD, "rejected")
    # The rejected version is never put on trial or deployed automatically again.
    assert check_shadow_trial(setup.project, MODEL, config=config, now=setup.clock.now()) is None
