"""A bad ``policy:`` section is refused with the key's dotted path and what was expected."""

from __future__ import annotations

from typing import Any

import pytest

from watchkeeper.config._models import validate_config
from watchkeeper.errors import ConfigError


@pytest.mark.parametrize(
    ("policy", "path", "expected"),
    [
        (
            {"triggers": {"drift": {"share": 2}}},
            "policy.triggers.drift.share",
            "less than or equal to 1",
        ),
        (
            {"triggers": {"drift": {"shares": 0.2}}},
            "policy.triggers.drift.shares",
            "did you mean share?",
        ),
        ({"triggers": {"latency": {}}}, "policy.triggers.latency", "unknown key"),
        (
            {"triggers": {"performance": {"action": "page"}}},
            "policy.triggers.performance.action",
            "'notify', 'retrain' or 'rollback'",
        ),
        ({"combine": "most"}, "policy.combine", "'any' or 'all'"),
        ({"consecutive": 0}, "policy.consecutive", ">= 1"),
        ({"cooldown": "3 days"}, "policy.cooldown", "expected a duration"),
        ({"per": "0s"}, "policy.per", "expected a duration"),
        (
            {"triggers": {"schedule": {"cron": "0 2 * *"}}},
            "policy.triggers.schedule.cron",
            "five-field cron",
        ),
        (
            {"triggers": {"schedule": {"cron": "0 2 * * *", "every": "1d"}}},
            "policy.triggers.schedule",
            "exactly one of every",
        ),
        ({"triggers": {"schedule": {}}}, "policy.triggers.schedule", "exactly one of every"),
        (
            {"triggers": {"performance": {"max_drop": 0}}},
            "policy.triggers.performance.max_drop",
            "> 0",
        ),
        (
            {"triggers": {"performance": {"min_labeled_rows": -1}}},
            "policy.triggers.performance.min_labeled_rows",
            ">= 0",
        ),
        ({"max_actions": 0}, "policy.max_actions", ">= 1"),
    ],
)
def test_bad_policy_names_the_key(policy: dict[str, Any], path: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_config({"policy": policy}, "watchkeeper.yaml", {})
    message = str(info.value)
    assert f"watchkeeper.yaml: {path}: " in message
    assert expected in message
    assert len(message.splitlines()) == 1  # one problem, one line


def test_several_problems_one_line_each() -> None:
    with pytest.raises(ConfigError) as info:
        validate_config(
            {"policy": {"combine": "most", "triggers": {"drift": {"share": -0.1}}}},
            "watchkeeper.yaml",
            {},
        )
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert any("policy.combine" in line for line in lines)
    assert any("policy.triggers.drift.share" in line for line in lines)
