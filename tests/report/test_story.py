"""The dated lines at the top of a MonitoringReport: alert episodes from the stored runs and
the events that changed something, in time order."""

from __future__ import annotations

from datetime import datetime

from tests.report.test_monitoring_report import DAY, T0, event, run_at

from watchkeeper.ops._history import StoredRun
from watchkeeper.report._story import episodes, story
from watchkeeper.results import CheckResult


def drift(column: str, value: float, status: str = "alert") -> CheckResult:
    return CheckResult("drift.wasserstein", column, value, threshold=0.1, status=status)


def accuracy(value: float, status: str) -> CheckResult:
    return CheckResult(
        "performance.accuracy", None, value, reference_value=0.85, threshold=0.05, status=status
    )


def runs_of(*checks: list[CheckResult]) -> list[StoredRun]:
    return [run_at(i, c) for i, c in enumerate(checks)]


def day(i: int) -> datetime:
    return T0 + i * DAY


def test_an_episode_spans_consecutive_alerting_runs_and_keeps_its_peak() -> None:
    runs = runs_of(
        [drift("age", 0.01, "ok")],
        [drift("age", 0.3)],
        [drift("age", 0.5)],
        [drift("age", 0.2)],
        [drift("age", 0.02, "ok")],
        [drift("age", 0.4)],
    )
    first, second = episodes(runs)
    assert (first.start, first.end, first.runs, first.ongoing) == (day(1), day(3), 3, False)
    assert first.peak == 0.5
    assert (second.start, second.end, second.runs, second.ongoing) == (day(5), day(5), 1, True)


def test_a_run_without_the_check_neither_ends_nor_extends_the_episode() -> None:
    runs = runs_of([accuracy(0.7, "alert")], [], [accuracy(0.6, "alert")], [accuracy(0.84, "ok")])
    (only,) = episodes(runs)
    assert (only.start, only.end, only.runs, only.ongoing) == (day(0), day(2), 2, False)
    # performance peaks away from the reference: the lowest accuracy
    assert only.peak == 0.6


def test_runs_are_read_in_time_order_whatever_order_they_come_in() -> None:
    runs = runs_of([drift("age", 0.3)], [drift("age", 0.3)], [drift("age", 0.01, "ok")])
    assert episodes(list(reversed(runs))) == episodes(runs)


def test_episodes_on_the_same_runs_are_told_together_by_family() -> None:
    quality = CheckResult("quality.out_of_range", "tenure", 0.2, threshold=0.01, status="alert")
    prediction = CheckResult("drift.prediction", "score", 0.3, threshold=0.1, status="alert")
    runs = runs_of(
        [drift("tenure", 0.5), drift("charges", 0.4), quality, prediction, accuracy(0.7, "alert")],
        [drift("tenure", 0.5), drift("charges", 0.4), quality, prediction],
        [drift("tenure", 0.01, "ok"), drift("charges", 0.01, "ok")],
    )
    lines = story(runs, [])
    assert [line.kind for line in lines] == ["alert", "alert"]
    accuracy_line, together = sorted(lines, key=lambda line: line.until is not None)
    assert accuracy_line.text == "performance: accuracy 0.7 (one run)"
    # each item with its peak value
    assert together.text == (
        "drift: charges 0.4, score (model output) 0.3, tenure 0.5; "
        "data quality: out of range on tenure 0.2 (2 runs)"
    )
    assert together.runs == 2
    assert (together.at, together.until) == (day(0), day(1))


def test_long_lists_are_cut() -> None:
    runs = runs_of([drift(f"f{i}", 0.5) for i in range(9)])
    (line,) = story(runs, [])
    assert line.text == (
        "drift: f0 0.5, f1 0.5, f2 0.5, f3 0.5, f4 0.5, f5 0.5 and 3 more (the latest run)"
    )


def test_events_that_changed_something_are_told_and_routine_ones_are_not() -> None:
    runs = runs_of([accuracy(0.7, "alert")], [accuracy(0.7, "alert")], [])
    events = [
        event(
            1, "alias_move", day(-1), "first", alias="production", to_version=1, trigger="manual"
        ),
        event(2, "policy_decision", day(1), "accuracy low", details={"action": "retrain"}),
        event(
            3,
            "retrain",
            day(1),
            "accuracy low",
            version=2,
            details={"data": {"rows": {"train": 12000}}},
        ),
        event(4, "gate", day(1), "rejected: below the floor", version=2, details={"passed": False}),
        event(5, "guard_check", day(2), "no check failed", version=1),
        event(
            6,
            "alias_move",
            day(2),
            "guard saw 2 failures",
            alias="production",
            from_version=2,
            to_version=1,
            trigger="guard",
        ),
        event(
            7,
            "alias_move",
            day(2),
            "watch",
            alias="shadow",
            from_version=1,
            to_version=None,
            trigger="guard",
        ),
        event(8, "status_change", day(2), "rolled back", version=2),
        event(9, "deploy_failed", day(2), "artifact missing", version=3),
    ]
    lines = story(runs, events)
    assert [(line.at, line.kind) for line in lines] == [
        (day(-1), "deploy"),
        (day(0), "alert"),
        (day(1), "retrain"),
        (day(1), "gate"),
        (day(2), "rollback"),
        (day(2), "shadow"),
        (day(2), "failure"),
    ]
    texts = [line.text for line in lines]
    assert texts[0] == "v1 deployed to production by hand"
    assert texts[2] == "version 2 trained on 12,000 rows: accuracy low"
    assert texts[3] == "version 2 failed the gate: rejected: below the floor"
    assert texts[4] == (
        "production rolled back from v2 to v1 by the post-deploy guard: guard saw 2 failures"
    )
    assert texts[5] == "shadow traffic to v1 stopped"
    assert texts[6] == "deploy failed: artifact missing"


def test_alerts_come_before_the_events_they_led_to_at_the_same_time() -> None:
    runs = runs_of([accuracy(0.7, "alert")])
    events = [event(1, "retrain", day(0), "accuracy low", version=2)]
    assert [line.kind for line in story(runs, events)] == ["alert", "retrain"]


def test_no_runs_and_no_events_tell_nothing() -> None:
    assert story([], []) == []


def test_flapping_checks_are_cut_to_the_longest_episodes_and_every_event_is_kept() -> None:
    # "age" alerts on even runs (20 one-run episodes); "tenure" alerts runs 50..59 (one
    # ten-run episode); a deployment and a retrain in between.
    checks = []
    for i in range(60):
        run = [
            drift(
                "age",
                0.3 if i % 2 == 0 and i < 40 else 0.01,
                "alert" if i % 2 == 0 and i < 40 else "ok",
            )
        ]
        run.append(drift("tenure", 0.4 if i >= 50 else 0.01, "alert" if i >= 50 else "ok"))
        checks.append(run)
    runs = runs_of(*checks)
    events = [
        event(1, "alias_move", day(5), "first", alias="production", to_version=1, trigger="manual"),
        event(2, "retrain", day(45), "drift", version=2),
    ]
    whole = story(runs, events)
    assert len(whole) == 20 + 1 + 2
    cut = story(runs, events, max_lines=8)
    assert len(cut) == 8
    kinds = [line.kind for line in cut]
    assert kinds.count("deploy") == kinds.count("retrain") == 1
    assert kinds[-1] == "more"
    assert cut[-1].text.startswith("and 16 shorter alert episodes not listed")
    # the ten-run episode survives the cut; the kept lines stay in time order
    assert any(line.runs == 10 for line in cut)
    times = [line.at for line in cut[:-1]]
    assert times == sorted(times)
