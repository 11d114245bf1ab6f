"""What happened over a period, in a few dated lines: the top of a :class:`MonitoringReport`.

Two sources are merged in time order:

- **alert episodes** from the stored runs: a check (on a column) that alerted in consecutive
  runs is one episode, from its first alerting run to its last; episodes that start and end on
  the same runs are told together, grouped by family ("drift: tenure_months,
  monthly_charges; data quality: out_of_range on tenure_months");
- **the decisions that changed something** from the audit history: deployments, rollbacks,
  shadow traffic started or stopped, retrains, gate verdicts, failed retrains or deployments.
  Routine events (passing guard checks, "none" and "notify" decisions, status changes that
  follow a gate or a rollback) stay in the full timeline below the summary.

A run without a result for a check (its labels had not arrived, say) neither ends nor extends
that check's episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from watchkeeper.ops._history import StoredRun
    from watchkeeper.registry._records import Event
    from watchkeeper.results import CheckResult

__all__ = ["Episode", "StoryLine", "episodes", "is_shadow_move", "story"]

_FAMILY_NAMES = {
    "drift": "drift",
    "quality": "data quality",
    "performance": "performance",
    "concept_drift": "concept drift",
    "monitor": "monitoring",
}
_FAMILY_ORDER = ("performance", "concept_drift", "drift", "quality", "monitor")
_MAX_ITEMS = 6
MAX_LINES = 40
_DRIFT_DEFAULTS = {"drift.wasserstein", "drift.jensen_shannon"}
_MODEL_COLUMNS = {"drift.prediction": "model output", "drift.target": "target"}


@dataclass(frozen=True, slots=True)
class Episode:
    """A check (on a column) alerting in consecutive runs.

    ``start`` and ``end`` are the times of its first and last alerting runs; ``runs`` counts
    the alerting runs; ``ongoing`` is true when the latest run still alerts. ``peak`` is the
    value farthest past the threshold (None when the check reports no value).
    """

    check: str
    column: str | None
    start: datetime
    end: datetime
    runs: int
    ongoing: bool
    peak: float | None

    @property
    def family(self) -> str:
        """The first part of the check's dotted name."""
        return self.check.split(".", 1)[0]

    def label(self) -> str:
        """``tenure_months`` for default feature drift, ``prediction (model output)`` for
        prediction drift, ``out of range on tenure_months`` for other column checks,
        ``roc_auc`` for a performance metric."""
        short = self.check.split(".", 1)[-1]
        if self.family != "performance":
            short = short.replace("_", " ")
        if self.column is None:
            return short
        if self.check in _DRIFT_DEFAULTS:
            return self.column
        if self.check in _MODEL_COLUMNS:
            return f"{self.column} ({_MODEL_COLUMNS[self.check]})"
        return f"{short} on {self.column}"


@dataclass(frozen=True, slots=True)
class StoryLine:
    """One dated line: ``kind`` is ``alert``, ``deploy``, ``rollback``, ``shadow``,
    ``retrain``, ``gate``, ``failure`` or ``more``; ``until`` ends a multi-run alert line,
    whose ``runs`` counts its alerting runs."""

    at: datetime
    kind: str
    text: str
    until: datetime | None = None
    runs: int = 0


@dataclass(slots=True)
class _Open:
    start: datetime
    end: datetime
    runs: int
    peak: float | None

    def take(self, check: CheckResult) -> None:
        """Extend with another alerting run; keep the value farthest from the reference."""
        value = check.value
        if value is None:
            return
        if self.peak is None:
            self.peak = value
        elif check.family == "performance" and check.reference_value is not None:
            ref = check.reference_value
            if abs(value - ref) > abs(self.peak - ref):
                self.peak = value
        elif value > self.peak:
            self.peak = value


def episodes(runs: Sequence[StoredRun]) -> list[Episode]:
    """The alert episodes of ``runs`` (any order), ordered by start, then check, column."""
    ordered = sorted(runs, key=lambda r: (r.ran_at, r.id))
    opened: dict[tuple[str, str | None], _Open] = {}
    done: list[Episode] = []

    def close(key: tuple[str, str | None], ongoing: bool) -> None:
        o = opened.pop(key)
        done.append(Episode(key[0], key[1], o.start, o.end, o.runs, ongoing, o.peak))

    for run in ordered:
        alerting: dict[tuple[str, str | None], bool] = {}
        for c in run.checks:
            if c.segment is not None:
                continue
            key = (c.check, c.column)
            alerting[key] = alerting.get(key, False) or c.status == "alert"
            if c.status != "alert":
                continue
            state = opened.get(key)
            if state is None:
                opened[key] = _Open(run.ran_at, run.ran_at, 1, c.value)
            else:
                state.take(c)
                state.end = run.ran_at
                state.runs += 1
        for key in [k for k in opened if k in alerting and not alerting[k]]:
            close(key, ongoing=False)
    latest = ordered[-1].ran_at if ordered else None
    for key in list(opened):
        close(key, ongoing=opened[key].end == latest)
    done.sort(key=lambda e: (e.start, e.check, e.column or ""))
    return done


def _alert_text(group: Sequence[Episode]) -> str:
    by_family: dict[str, dict[str, float | None]] = {}
    for e in group:
        by_family.setdefault(e.family, {})[e.label()] = e.peak
    parts = []
    for family in sorted(
        by_family, key=lambda f: _FAMILY_ORDER.index(f) if f in _FAMILY_ORDER else 99
    ):
        peaks = by_family[family]
        labels = sorted(peaks)
        shown = ", ".join(
            label if peaks[label] is None else f"{label} {peaks[label]:.3g}"
            for label in labels[:_MAX_ITEMS]
        )
        if len(labels) > _MAX_ITEMS:
            shown += f" and {len(labels) - _MAX_ITEMS} more"
        parts.append(f"{_FAMILY_NAMES.get(family, family)}: {shown}")
    first = group[0]
    if first.runs == 1:
        span = "the latest run" if first.ongoing else "one run"
    else:
        span = f"{first.runs} runs" + (", still alerting" if first.ongoing else "")
    return "; ".join(parts) + f" ({span})"


def is_shadow_move(event: Event) -> bool:
    """Whether an alias move starts or stops shadow traffic (not a deployment)."""
    return event.alias == "shadow" or (event.details or {}).get("guard_of") is not None


def _event_line(e: Event) -> StoryLine | None:
    version = f"version {e.version}" if e.version is not None else "a version"
    if e.kind == "alias_move":
        if is_shadow_move(e):
            if e.to_version is None:
                return StoryLine(
                    e.created_at, "shadow", f"shadow traffic to v{e.from_version} stopped"
                )
            return StoryLine(
                e.created_at, "shadow", f"v{e.to_version} scores the same traffic as shadow"
            )
        if e.to_version is None:
            return StoryLine(e.created_at, "deploy", f"alias {e.alias} removed")
        if e.trigger in ("rollback", "guard"):
            who = "the post-deploy guard" if e.trigger == "guard" else "a manual rollback"
            return StoryLine(
                e.created_at,
                "rollback",
                f"{e.alias} rolled back from v{e.from_version} to v{e.to_version} by {who}: "
                f"{e.reason}",
            )
        start = "" if e.from_version is None else f" (was v{e.from_version})"
        by = {"manual": "by hand", "policy": "by the policy"}.get(e.trigger or "", e.trigger)
        return StoryLine(
            e.created_at, "deploy", f"v{e.to_version} deployed to {e.alias}{start} {by}".rstrip()
        )
    if e.kind == "retrain":
        rows = ((e.details or {}).get("data") or {}).get("rows") or {}
        size = f" on {rows['train']:,} rows" if isinstance(rows.get("train"), int) else ""
        return StoryLine(e.created_at, "retrain", f"{version} trained{size}: {e.reason}")
    if e.kind == "gate":
        passed = (e.details or {}).get("passed")
        verdict = "passed" if passed else "failed"
        return StoryLine(e.created_at, "gate", f"{version} {verdict} the gate: {e.reason}")
    if e.kind in ("retrain_failed", "deploy_failed"):
        what = e.kind.replace("_", " ")
        return StoryLine(e.created_at, "failure", f"{what}: {e.reason}")
    return None


def story(
    runs: Sequence[StoredRun], events: Sequence[Event], *, max_lines: int = MAX_LINES
) -> list[StoryLine]:
    """The period's alert episodes and consequential events as dated lines, in time order
    (at the same time, alerts come before the events they led to).

    Past ``max_lines``, every event line is kept and the alert lines of the fewest runs are
    dropped (a flapping check makes many short episodes); a last line says how many."""
    lines: list[tuple[datetime, int, int, StoryLine]] = []
    groups: dict[tuple[datetime, datetime, bool], list[Episode]] = {}
    for e in episodes(runs):
        groups.setdefault((e.start, e.end, e.ongoing), []).append(e)
    for (start, end, _), group in groups.items():
        line = StoryLine(
            start, "alert", _alert_text(group), None if start == end else end, group[0].runs
        )
        lines.append((start, 0, len(lines), line))
    for event in events:
        made = _event_line(event)
        if made is not None:
            lines.append((made.at, 1, len(lines), made))
    lines.sort(key=lambda item: item[:3])
    told = [line for *_, line in lines]
    if len(told) <= max_lines:
        return told
    alerts = [i for i, line in enumerate(told) if line.kind == "alert"]
    room = max(0, max_lines - 1 - (len(told) - len(alerts)))
    by_size = sorted(alerts, key=lambda i: (-told[i].runs, i))
    dropped = set(by_size[room:])
    kept = [line for i, line in enumerate(told) if i not in dropped]
    last = told[-1].until or told[-1].at
    kept.append(
        StoryLine(
            last,
            "more",
            f"and {len(dropped)} shorter alert episodes not listed: the charts below show "
            "every alerting run",
        )
    )
    return kept
