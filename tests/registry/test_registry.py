"""Versions, aliases, deploy, rollback and the history, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from watchkeeper.clock import SimulatedClock
from watchkeeper.datasets import CHURN_FEATURES
from watchkeeper.errors import (
    InvalidNameError,
    InvalidParameterError,
    ModelNotFoundError,
    RollbackError,
    VersionStatusError,
)
from watchkeeper.registry import Project, parse_model_uri


def _register(project: Project, data: dict[str, pd.DataFrame], model: Any, **kw: Any) -> int:
    kw.setdefault("reference", data["reference"].head(600))
    kw.setdefault("target", "churned")
    kw.setdefault("store_data", False)
    return project.register("churn", model, **kw).version


@pytest.fixture
def three(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> Project:
    """A project with versions 1, 2 and 3 of ``churn``, none deployed."""
    for model in churn_models:
        _register(project, churn_data, model)
    return project


def _moves(project: Project, alias: str = "production") -> list[tuple[Any, Any, Any]]:
    return [
        (e.from_version, e.to_version, e.trigger)
        for e in project.history("churn")
        if e.kind == "alias_move" and e.alias == alias
    ]


def test_versions_number_from_one(three: Project) -> None:
    assert [v.version for v in three.versions("churn")] == [1, 2, 3]
    assert three.model("churn").latest_version == 3
    assert [v.status for v in three.versions("churn")] == ["ready"] * 3


def test_rollback_is_a_stack(three: Project) -> None:
    for v in (1, 2, 3):
        three.deploy("churn", v, reason=f"ship {v}")
    assert three.get("churn", alias="production").version == 3
    event = three.rollback("churn", reason="v3 regressed")
    assert (event.from_version, event.to_version, event.trigger) == (3, 2, "rollback")
    assert three.get("models:/churn@production").version == 2
    three.rollback("churn")
    assert three.get("models:/churn@production").version == 1
    with pytest.raises(RollbackError, match="nothing to roll back to"):
        three.rollback("churn")
    assert _moves(three) == [
        (None, 1, "manual"),
        (1, 2, "manual"),
        (2, 3, "manual"),
        (3, 2, "rollback"),
        (2, 1, "rollback"),
    ]
    assert {v.version: v.status for v in three.versions("churn")} == {
        1: "ready",
        2: "rejected",
        3: "rejected",
    }


def test_deploy_after_rollback_pushes_onto_the_remaining_stack(three: Project) -> None:
    for v in (1, 2):
        three.deploy("churn", v)
    three.rollback("churn")  # -> 1, stack [1]
    three.deploy("churn", 3)  # stack [1, 3]
    three.rollback("churn")
    assert three.get("churn", alias="production").version == 1


def test_rollback_to_a_named_version(three: Project) -> None:
    for v in (1, 2, 3):
        three.deploy("churn", v)
    event = three.rollback("churn", to=1)
    assert (event.from_version, event.to_version) == (3, 1)
    assert three.get("churn", alias="production").version == 1
    # Only the version rolled back from is rejected; 2 never served after the move.
    assert {v.version: v.status for v in three.versions("churn")} == {
        1: "ready",
        2: "ready",
        3: "rejected",
    }
    with pytest.raises(RollbackError, match="nothing to roll back to"):
        three.rollback("churn")


def test_rollback_to_a_version_that_never_held_the_alias(three: Project) -> None:
    three.deploy("churn", 1)
    three.deploy("churn", 3)
    with pytest.raises(RollbackError, match="did not hold alias 'production' before version 3"):
        three.rollback("churn", to=2)
    with pytest.raises(RollbackError, match="already points at 3"):
        three.rollback("churn", to=3)
    assert three.get("churn", alias="production").version == 3


def test_rollback_without_the_alias(three: Project) -> None:
    with pytest.raises(RollbackError, match="has no alias 'production'"):
        three.rollback("churn")


def test_aliases_move_independently(three: Project) -> None:
    three.deploy("churn", 1)
    three.deploy("churn", 2, alias="challenger")
    three.deploy("churn", 3, alias="challenger")
    three.rollback("churn", alias="challenger")
    model = three.model("churn")
    assert model.aliases == {"challenger": 2, "production": 1}
    assert three.get("churn", 1).aliases == ("production",)
    assert three.get("churn", 2).aliases == ("challenger",)
    assert _moves(three, "production") == [(None, 1, "manual")]


def test_deploying_the_current_version_records_nothing(three: Project) -> None:
    first = three.deploy("churn", 2)
    again = three.deploy("churn", 2)
    assert again.id == first.id
    assert len(_moves(three)) == 1


def test_rejected_versions_are_never_redeployed_automatically(three: Project) -> None:
    three.deploy("churn", 1)
    three.deploy("churn", 2)
    three.rollback("churn")
    with pytest.raises(VersionStatusError, match="automatic triggers"):
        three.deploy("churn", 2, trigger="policy")
    assert three.get("churn", alias="production").version == 1
    # A person may redeploy it; the version is then ready again, and both are recorded.
    three.deploy("churn", 2, reason="fixed the feature pipeline")
    assert three.get("churn", 2).status == "ready"
    kinds = [(e.kind, e.version) for e in three.history("churn")][-2:]
    assert kinds == [("alias_move", 2), ("status_change", 2)]


def test_guard_rollback_refuses_a_rejected_target(three: Project) -> None:
    three.deploy("churn", 1)
    three.deploy("churn", 2)
    three.set_status("churn", 1, "rejected", reason="bad calibration")
    with pytest.raises(VersionStatusError, match="it is rejected"):
        three.rollback("churn", trigger="guard")
    event = three.rollback("churn", reason="by hand")
    assert event.to_version == 1
    # A person chose version 1 again: it serves, so it is ready, and that is recorded.
    assert {v.version: v.status for v in three.versions("churn")} == {
        1: "ready",
        2: "rejected",
        3: "ready",
    }
    changes = [
        (e.version, e.details["from"], e.details["to"])
        for e in three.history("churn")
        if e.kind == "status_change"
    ]
    assert changes[-2:] == [(1, "rejected", "ready"), (2, "ready", "rejected")]


def test_a_rollback_by_hand_onto_a_rejected_version_makes_it_ready(three: Project) -> None:
    # production 1 -> 2 -> 3, challenger 2 -> 1, roll challenger back (1 rejected), roll
    # production back twice: onto 2 (3 rejected), then onto 1 (ready again, 2 rejected).
    for v in (1, 2, 3):
        three.deploy("churn", v)
    three.deploy("churn", 2, alias="challenger")
    three.deploy("churn", 1, alias="challenger")
    three.rollback("churn", alias="challenger")
    assert three.get("churn", 1).status == "rejected"
    three.rollback("churn")
    three.rollback("churn")
    assert three.model("churn").aliases == {"challenger": 2, "production": 1}
    # Status belongs to the version: 2 was rolled back from on production, so it is rejected
    # although challenger still points at it (moving challenger is a decision of its own).
    assert {v.version: v.status for v in three.versions("churn")} == {
        1: "ready",
        2: "rejected",
        3: "rejected",
    }


def test_archived_versions(three: Project) -> None:
    three.deploy("churn", 1)
    with pytest.raises(VersionStatusError, match="in use by alias"):
        three.set_status("churn", 1, "archived")
    three.set_status("churn", 3, "archived", reason="superseded")
    with pytest.raises(VersionStatusError, match="archived"):
        three.deploy("churn", 3)
    with pytest.raises(InvalidParameterError, match="status must be one of"):
        three.set_status("churn", 2, "deleted")


def test_events_record_who_when_and_why(
    tmp_path: Path,
    database_url: str,
    churn_data: dict[str, pd.DataFrame],
    churn_models: list[Any],
) -> None:
    clock = SimulatedClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    with Project.init(
        tmp_path / "p", database_url=database_url, clock=clock, actor="alice@ci"
    ) as project:
        _register(project, churn_data, churn_models[0])
        clock.advance(timedelta(hours=1))
        _register(project, churn_data, churn_models[1])
        clock.advance(timedelta(hours=1))
        project.deploy("churn", 2, reason="better AUC")
        history = project.history("churn")
    assert [e.kind for e in history] == [
        "model_created",
        "version_registered",
        "version_registered",
        "alias_move",
    ]
    move = history[-1]
    assert move.created_at == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    assert (move.actor, move.reason, move.alias, move.trigger) == (
        "alice@ci",
        "better AUC",
        "production",
        "manual",
    )
    assert [e.id for e in history] == sorted(e.id for e in history)
    assert history[1].created_at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_history_limit_keeps_the_newest(three: Project) -> None:
    for v in (1, 2, 3):
        three.deploy("churn", v)
    everything = three.history("churn")
    assert three.history("churn", limit=2) == everything[-2:]


def test_get_by_uri_number_alias_and_latest(three: Project) -> None:
    three.deploy("churn", 2, alias="challenger")
    assert three.get("churn").version == 3
    assert three.get("churn", "latest").version == 3
    assert three.get("models:/churn/latest").version == 3
    assert three.get("models:/churn/1").version == 1
    assert three.get("churn", "2").version == 2
    assert three.get("models:/churn@challenger").version == 2
    with pytest.raises(ModelNotFoundError, match=r"has no version 9 \(its versions are 1 to 3\)"):
        three.get("churn", 9)
    with pytest.raises(ModelNotFoundError, match=r"has no alias 'production'.*challenger"):
        three.get("models:/churn@production")
    with pytest.raises(ModelNotFoundError, match=r"No registered model named 'fraud'.*churn"):
        three.get("fraud")


def test_load_model_by_alias_predicts_like_the_original(
    three: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    three.deploy("churn", 2)
    loaded = three.load_model("models:/churn@production")
    assert loaded.version.version == 2
    rows = churn_data["validation"][list(CHURN_FEATURES)].head(50)
    np.testing.assert_array_equal(loaded.predict_proba(rows), churn_models[1].predict_proba(rows))


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/churn@production", ("churn", None, "production")),
        ("models:/churn/3", ("churn", 3, None)),
        ("models:/churn-v2.b/latest", ("churn-v2.b", "latest", None)),
    ],
)
def test_parse_model_uri(uri: str, expected: tuple[Any, ...]) -> None:
    assert parse_model_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "models:/churn",
        "models:/churn/0",
        "models:/churn/99999999999",
        "models:/churn/x",
        "models:/../etc@production",
        "models:/churn@Prod",
        "models:/churn@latest",
        "runs:/abc/model",
    ],
)
def test_parse_model_uri_rejects(uri: str) -> None:
    with pytest.raises(InvalidNameError):
        parse_model_uri(uri)


@pytest.mark.parametrize(
    "name", ["", "1churn", "churn/../x", "churn model", "a" * 129, "churn..v2", "ch\u00fcrn"]
)
def test_invalid_model_names_are_refused_before_any_work(
    project: Project, churn_models: list[Any], name: str
) -> None:
    with pytest.raises(InvalidNameError, match="Invalid model name"):
        project.register(name, churn_models[0], reference=None)
    assert project.models() == []


@pytest.mark.parametrize("alias", ["Production", "latest", "v2", "a b", "-x", ""])
def test_invalid_aliases_are_refused(three: Project, alias: str) -> None:
    with pytest.raises(InvalidNameError):
        three.deploy("churn", 1, alias=alias)
    assert three.model("churn").aliases == {}


@pytest.mark.parametrize("version", [0, -1, True, 1.0, "1", 2**31, 10**20])
def test_version_numbers_are_checked(three: Project, version: Any) -> None:
    with pytest.raises(InvalidParameterError, match="version must be a version number"):
        three.deploy("churn", version)


def test_triggers_are_checked(three: Project) -> None:
    with pytest.raises(InvalidParameterError, match="trigger must be one of manual, policy"):
        three.deploy("churn", 1, trigger="rollback")
    three.deploy("churn", 1)
    with pytest.raises(InvalidParameterError, match="trigger must be one of rollback, guard"):
        three.rollback("churn", trigger="manual")


def test_tags_and_descriptions(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    version = project.register(
        "churn",
        churn_models[0],
        reference=churn_data["reference"].head(600),
        tags={"team": "retention", "sprint": 14},
        description="logistic baseline",
        store_data=False,
    )
    assert version.tags == {"team": "retention", "sprint": "14"}
    assert version.description == "logistic baseline"
    with pytest.raises(InvalidNameError, match="Invalid tag name"):
        project.register(
            "churn",
            churn_models[0],
            reference=churn_data["reference"].head(600),
            tags={"bad key": "x"},
            store_data=False,
        )
    assert [v.version for v in project.versions("churn")] == [1]


def test_models_are_listed_by_name(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    for name in ("zeta", "alpha"):
        project.register(
            name, churn_models[0], reference=churn_data["reference"].head(600), store_data=False
        )
    assert [m.name for m in project.models()] == ["alpha", "zeta"]
    assert project.model("alpha").to_dict()["latest_version"] == 1


def test_text_the_databases_would_treat_differently_is_refused(three: Project) -> None:
    # PostgreSQL refuses NUL characters that SQLite stores: both refuse them up front.
    with pytest.raises(InvalidParameterError, match="NUL"):
        three.deploy("churn", 1, reason="x\x00y")
    assert three.model("churn").aliases == {}
    with pytest.raises(InvalidParameterError, match="at most 256 characters"):
        Project(three.path, actor="a" * 300)


def test_parent_version_must_exist(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    _register(project, churn_data, churn_models[0])
    with pytest.raises(ModelNotFoundError, match="has no version 7"):
        _register(project, churn_data, churn_models[1], parent_version=7)
    with pytest.raises(InvalidParameterError, match="parent_version must be a version number"):
        _register(project, churn_data, churn_models[1], parent_version="abc")
    assert [v.version for v in project.versions("churn")] == [1]
    assert _register(project, churn_data, churn_models[1], parent_version=1) == 2


def test_model_tags_and_description(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    _register(
        project,
        churn_data,
        churn_models[0],
        model_tags={"team": "retention"},
        model_description="who will churn next month",
    )
    _register(project, churn_data, churn_models[1], model_tags={"owner": "ana"})
    model = project.model("churn")
    assert model.tags == {"owner": "ana", "team": "retention"}
    assert model.description == "who will churn next month"
