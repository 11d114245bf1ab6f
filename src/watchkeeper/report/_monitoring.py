"""``MonitoringReport``: one self-contained HTML page of a model's monitoring history.

Built from the stored monitor runs and the model's audit history: a summary (what to look at
first), drift per feature, performance against its reference, data-quality rates, label
coverage and concept-drift firings over time, and a timeline of deployments, rollbacks,
retrains, gates and policy decisions. Charts are SVG rendered here; each has a CSV download
of the numbers it draws, and the page carries one JSON download of all of it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from watchkeeper._html import csv_text, data_uri, environment, slug
from watchkeeper._html._svg import Marker, bar_chart, line_chart
from watchkeeper.monitor._format import is_feature_drift
from watchkeeper.report._story import StoryLine, is_shadow_move, story

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from watchkeeper.ops._history import StoredRun
    from watchkeeper.registry import Project
    from watchkeeper.registry._records import Event
    from watchkeeper.results import CheckResult

__all__ = ["MonitoringReport"]

SCHEMA_VERSION = 1
MAX_FEATURES = 25
MAX_QUALITY = 25
MAX_FIRST = 10
# What to look at first: performance, then drift, then quality, then the rest.
_RANK = {"performance": 0, "drift": 1, "quality": 2}
_SEVERITY = {"alert": 2, "warning": 1}
_TIMELINE = {
    "alias_move",
    "deploy_failed",
    "gate",
    "guard_check",
    "policy_decision",
    "promotion",
    "retrain",
    "retrain_failed",
    "shadow_trial",
    "status_change",
}


@dataclass(frozen=True, slots=True)
class _Chart:
    key: str
    title: str
    svg: Markup
    filename: str
    csv_uri: str
    worst: str
    note: str


def _band(check: CheckResult | None) -> tuple[float, float] | None:
    """A performance check's acceptable band for its run (``details.band_lower/upper``)."""
    if check is None:
        return None
    low, high = check.details.get("band_lower"), check.details.get("band_upper")
    if not (isinstance(low, int | float) and isinstance(high, int | float)):
        return None
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return float(low), float(high)


def _num(value: float | None) -> str:
    return "" if value is None else repr(float(value))


class MonitoringReport:
    """A model's monitoring history as one offline HTML document.

    Parameters
    ----------
    model
        The model's name.
    runs
        Its stored monitor runs (:class:`~watchkeeper.ops._history.StoredRun`), oldest first,
        with their check results.
    events
        Its audit history (:class:`~watchkeeper.registry.Event`), oldest first.
    since, until
        The period asked for (shown in the summary; None: all of it).
    """

    def __init__(
        self,
        model: str,
        runs: Sequence[StoredRun],
        events: Sequence[Event] = (),
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> None:
        from watchkeeper.clock import as_utc
        from watchkeeper.errors import InvalidParameterError

        since = None if since is None else as_utc(since)  # naive = UTC, as everywhere
        until = None if until is None else as_utc(until)
        if since is not None and until is not None and since >= until:
            raise InvalidParameterError(
                f"The 'until' parameter of MonitoringReport must be after 'since'. Got "
                f"since={since.isoformat()} and until={until.isoformat()} instead."
            )
        self.model = model
        self.runs = sorted(runs, key=lambda r: (r.ran_at, r.id))
        self.since = since
        self.until = until
        self.events = [
            e
            for e in events
            if (since is None or e.created_at >= since) and (until is None or e.created_at < until)
        ]

    @classmethod
    def from_project(
        cls,
        project: Project,
        name: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> MonitoringReport:
        """``name``'s runs with ``since <= ran_at < until`` and its history in that period."""
        from watchkeeper.ops._history import load_runs

        runs = load_runs(project.database, name, since=since, until=until, with_checks=True)
        return cls(name, runs, project.history(name), since=since, until=until)

    # ------------------------------------------------------------------ series
    def _markers(self) -> list[Marker]:
        out = []
        for e in self.events:
            if e.kind != "alias_move" or e.to_version is None:
                continue  # alias removals (the shadow stopping) are not deployments
            if is_shadow_move(e):
                continue  # shadow traffic: told in "What happened", not drawn
            back = e.trigger in ("rollback", "guard")
            verb = "rollback" if back else "deploy"
            text = f"{verb}: {e.alias} -> v{e.to_version} ({e.created_at:%Y-%m-%d %H:%M})"
            out.append(Marker(e.created_at.timestamp(), text, "rollback" if back else "deploy"))
        return out

    def _series(self, select: Any) -> dict[tuple[str, str | None], list[CheckResult | None]]:
        """Per (check, column) chosen by ``select``, its result in each run (None if absent)."""
        found: dict[tuple[str, str | None], list[CheckResult | None]] = {}
        for i, run in enumerate(self.runs):
            for c in run.checks:
                if select(c):
                    found.setdefault((c.check, c.column), [None] * len(self.runs))[i] = c
        return found

    def _chart(
        self,
        section: str,
        key: tuple[str, str | None],
        results: list[CheckResult | None],
        filename: str,
        *,
        line: str = "threshold",
    ) -> _Chart:
        check, column = key
        values = [None if c is None else c.value for c in results]
        limit = [
            None if c is None else (c.reference_value if line == "reference" else c.threshold)
            for c in results
        ]
        statuses = ["skipped" if c is None else c.status for c in results]
        bands = [_band(c) for c in results]
        x = [r.ran_at.timestamp() for r in self.runs]
        title = check if column is None else f"{column} · {check}"
        svg = line_chart(
            x,
            values,
            title=title,
            threshold=limit,
            bands=bands if any(b is not None for b in bands) else None,
            statuses=statuses,
            markers=self._markers(),
            x_labels=(f"{self.runs[0].ran_at:%Y-%m-%d}", f"{self.runs[-1].ran_at:%Y-%m-%d}"),
        )
        header = ["ran_at", "version", "check", "column", "value", line, "status"]
        table = []
        for run, v, t, s, b in zip(self.runs, values, limit, statuses, bands, strict=True):
            low, high = (None, None) if b is None else b
            when = run.ran_at.isoformat()
            table.append(
                [when, run.version, check, column or "", _num(v), _num(t), s, _num(low), _num(high)]
            )
        text = csv_text([*header, "band_lower", "band_upper"], table)
        worst = max(statuses, key=lambda s: _SEVERITY.get(s, 0))
        n_alerts = statuses.count("alert")
        note = f"{n_alerts} alert(s) in {len(self.runs)} runs" if n_alerts else ""
        return _Chart(
            f"{section}:{check}:{column or ''}",
            title,
            Markup(svg),  # built by _svg, which escapes every text
            filename,
            data_uri(text, "text/csv"),
            worst,
            note,
        )

    @staticmethod
    def _order(item: tuple[tuple[str, str | None], list[CheckResult | None]]) -> tuple[Any, ...]:
        (check, column), results = item
        statuses = [c.status for c in results if c is not None]
        return (
            -statuses.count("alert"),
            -statuses.count("warning"),
            column or "",
            check,
        )

    def _drift(self) -> tuple[list[_Chart], int]:
        found = self._series(is_feature_drift)
        per_column: dict[str | None, int] = {}
        for _, column in found:
            per_column[column] = per_column.get(column, 0) + 1
        ranked = sorted(found.items(), key=self._order)
        charts = []
        for (check, column), results in ranked[:MAX_FEATURES]:
            name = slug(str(column))
            if per_column[column] > 1:
                name += "-" + slug(check.split(".", 1)[-1])
            charts.append(self._chart("drift", (check, column), results, f"drift-{name}.csv"))
        return charts, max(0, len(ranked) - MAX_FEATURES)

    def _performance(self) -> list[_Chart]:
        found = self._series(lambda c: c.family == "performance" and c.value is not None)
        return [
            self._chart(
                "performance",
                key,
                results,
                f"performance-{slug(key[0].split('.', 1)[-1])}"
                + ("" if key[1] is None else f"-{slug(key[1])}")
                + ".csv",
                line="reference",
            )
            for key, results in sorted(found.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
        ]

    def _quality(self) -> tuple[list[_Chart], int, dict[str, list[str]]]:
        """Charts of the quality checks that alerted or warned at least once (worst first);
        how many of those did not fit; and the checks that stayed ok in every run, as
        ``{check: [columns]}`` (listed, not drawn: a flat line says nothing)."""
        found = self._series(lambda c: c.family == "quality" and c.value is not None)
        flagged: list[tuple[tuple[str, str | None], list[CheckResult | None]]] = []
        quiet: dict[str, list[str]] = {}
        for key, results in sorted(found.items(), key=self._order):
            if any(c is not None and c.status in _SEVERITY for c in results):
                flagged.append((key, results))
            else:
                quiet.setdefault(key[0], []).append(key[1] or "(dataset)")
        charts = [
            self._chart(
                "quality",
                key,
                results,
                f"quality-{slug(key[0].split('.', 1)[-1])}"
                + ("" if key[1] is None else f"-{slug(key[1])}")
                + ".csv",
            )
            for key, results in flagged[:MAX_QUALITY]
        ]
        return charts, max(0, len(flagged) - MAX_QUALITY), dict(sorted(quiet.items()))

    def _coverage(self) -> list[_Chart]:
        found = self._series(lambda c: c.check == "monitor.label_coverage")
        return [self._chart("labels", k, r, "label-coverage.csv") for k, r in found.items()]

    def _firings(self) -> tuple[list[_Chart], list[dict[str, Any]]]:
        counts: dict[str, int] = {}
        rows = []
        for run in self.runs:
            for detector, outcome in run.detectors.items():
                counts.setdefault(detector, 0)
                if outcome.get("drift"):
                    counts[detector] += 1
                    when = run.ran_at.isoformat()
                    rows.append({"ran_at": when, "version": run.version, "detector": detector})
        if not counts:
            return [], rows
        names = sorted(counts)
        svg = bar_chart(names, [float(counts[n]) for n in names], title="concept-drift firings")
        text = csv_text(["detector", "firings"], [[n, counts[n]] for n in names])
        chart = _Chart(
            "detectors",
            "Concept-drift detector firings (runs in which each detector fired)",
            Markup(svg),  # built by _svg, which escapes every text
            "concept-drift-firings.csv",
            data_uri(text, "text/csv"),
            "alert" if rows else "ok",
            "",
        )
        return [chart], rows

    # ------------------------------------------------------------------ summary
    def _first(self) -> list[CheckResult]:
        """The latest run's alerts, then its warnings: performance, drift, quality, rest."""
        if not self.runs:
            return []
        flagged = [c for c in self.runs[-1].checks if c.status in ("alert", "warning")]
        flagged.sort(
            key=lambda c: (-_SEVERITY[c.status], _RANK.get(c.family, 3), c.check, c.column or "")
        )
        return flagged[:MAX_FIRST]

    @cached_property
    def _story(self) -> list[StoryLine]:
        """The summary's "What happened" lines (built once: the page and its JSON share them)."""
        return story(self.runs, self.events)

    def _timeline(self) -> list[Event]:
        """The period's deployments, rollbacks, retrains, gates and decisions, oldest first
        (policy decisions to do nothing are left out)."""
        out = []
        for e in self.events:
            if e.kind not in _TIMELINE:
                continue
            if e.kind == "policy_decision" and e.details.get("action", "none") == "none":
                continue
            out.append(e)
        return out

    @staticmethod
    def _routine(event: Event) -> bool:
        """A guard check that found nothing wrong: listed apart, below the timeline."""
        return event.kind == "guard_check" and not event.details.get("reasons")

    @staticmethod
    def _what(event: Event) -> str:
        if event.kind == "alias_move":
            verb = "rollback" if event.trigger in ("rollback", "guard") else "deploy"
            start = "" if event.from_version is None else f"v{event.from_version} -> "
            if event.to_version is None:
                return f"remove {event.alias} (was v{event.from_version}) ({event.trigger})"
            return f"{verb} {event.alias}: {start}v{event.to_version} ({event.trigger})"
        if event.kind == "policy_decision":
            return f"policy decision: {event.details.get('action')}"
        if event.kind == "gate":
            passed = event.details.get("passed")
            verdict = "" if passed is None else (" passed" if passed else " failed")
            return f"gate v{event.version}{verdict}"
        version = "" if event.version is None else f" v{event.version}"
        return event.kind.replace("_", " ") + version

    def to_dict(self) -> dict[str, Any]:
        """The data behind the page (JSON-safe): the runs without their checks' details
        (performance checks keep their band), every check's value per run, the timeline and
        the summary's "What happened" lines."""
        return {
            "schema_version": SCHEMA_VERSION,
            "model": self.model,
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
            "runs": [
                {
                    "id": r.id,
                    "ran_at": r.ran_at.isoformat(),
                    "version": r.version,
                    "alias": r.alias,
                    "status": r.status,
                    "n_rows": r.n_rows,
                    "n_labeled": r.n_labeled,
                    "label_coverage": r.label_coverage,
                    "detectors": {k: dict(v) for k, v in r.detectors.items()},
                    "checks": [
                        {
                            "check": c.check,
                            "column": c.column,
                            "value": c.value,
                            "reference_value": c.reference_value,
                            "threshold": c.threshold,
                            "status": c.status,
                            **({"band": list(band)} if (band := _band(c)) is not None else {}),
                        }
                        for c in r.checks
                    ],
                }
                for r in self.runs
            ],
            "events": [e.to_dict() for e in self._timeline()],
            "story": [
                {
                    "at": line.at.isoformat(),
                    "until": None if line.until is None else line.until.isoformat(),
                    "kind": line.kind,
                    "text": line.text,
                }
                for line in self._story
            ],
        }

    # ------------------------------------------------------------------ rendering
    def to_html(self, path: str | Path | None = None) -> str:
        """The report as one HTML document (written to ``path`` too when given)."""
        timeline = self._timeline()
        context: dict[str, Any] = {
            "model": self.model,
            "runs": self.runs,
            "since": self.since,
            "until": self.until,
            "timeline": [(e, self._what(e)) for e in timeline if not self._routine(e)],
            "routine": [(e, self._what(e)) for e in timeline if self._routine(e)],
            "story": self._story,
            "json_uri": data_uri(
                json.dumps(self.to_dict(), separators=(",", ":")), "application/json"
            ),
            "json_name": f"{slug(self.model)}-monitoring.json",
        }
        if self.runs:
            drift, drift_more = self._drift()
            quality, quality_more, quality_quiet = self._quality()
            detectors, firings = self._firings()
            latest = self.runs[-1]
            context.update(
                versions=sorted({r.version for r in self.runs}),
                latest=latest,
                first=self._first(),
                drift=drift,
                drift_more=drift_more,
                performance=self._performance(),
                quality=quality,
                quality_more=quality_more,
                quality_quiet=quality_quiet,
                coverage=self._coverage(),
                detectors=detectors,
                firings=firings,
            )
        html = environment().get_template("monitoring.html.j2").render(context)
        if path is not None:
            Path(path).write_text(html, encoding="utf-8")
        return html
