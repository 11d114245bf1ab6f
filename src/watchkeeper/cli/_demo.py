"""``watchkeeper demo``: six weeks of a churn model in production, the whole loop, in under a
minute.

In a fresh project on the embedded default, on a simulated clock: version 1 is trained,
registered and deployed; the server starts in-process; six weeks of traffic go through its
HTTP API (2,000 predictions a day in 500-row requests) with outcomes posted seven days late;
every simulated day ends with the loop's cycle (monitor, alerts, guard, policy, actions), the
same one the server's scheduler runs. The incidents are in :mod:`._demo_scenario`. The demo
prints a timeline of what happened, what was noticed and when, and what was decided and why,
and writes the results as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from watchkeeper.cli._demo_scenario import (
    DAYS,
    INCIDENTS,
    LABEL_DELAY_DAYS,
    MISSING,
    REQUESTS_PER_DAY,
    ROWS_PER_DAY,
    day_traffic,
    reference_data,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

    from watchkeeper.ops._loop import CycleResult
    from watchkeeper.registry._project import Project

__all__ = ["DEMO_CONFIG", "DemoResult", "TimelineEntry", "run_demo"]

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
MODEL = "churn"
_TOKEN = "demo-admin-token"

DEMO_CONFIG = """\
# watchkeeper demo project: the settings the six simulated weeks run with.
serve:
  poll_seconds: 0.05          # pick up alias moves at once (the clock is simulated)
monitor:
  schedule: null              # the demo runs each day's cycle itself
  window: 1d
  performance_window: 9d      # outcomes arrive 7 days late
  min_label_coverage: 0.1
  checks: [drift, quality, performance.roc_auc, performance.accuracy]
  detectors: {ddm: {}, adwin: {}}
alerts:
  channels: [{type: log}]
  cooldown: 3d
policy:
  triggers:
    performance: {action: retrain, metrics: [roc_auc], min_labeled_rows: 500}
    drift: {action: notify}
    data_quality: {action: notify}
    concept_drift: {action: retrain}
  cooldown: 3d
retrain:
  trainer: "watchkeeper.datasets:retrain_churn_model"
  timeout: 5m
  data: {include_reference: false, window: 7d}
  gate: {holdout: 1d, floor: 0.75, min_holdout_rows: 500, tolerance: 0.01}
  deploy: {mode: direct}
  guard:
    period: 21d
    failures: 2
    max_disagreement: 0.5
    max_prediction_drift: 0.5
    max_performance_drop: 0.02
    min_labeled_rows: 500
"""


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of the timeline."""

    day: int
    kind: str  # incident | alert | decision | retrain | gate | deploy | guard | rollback | error
    text: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"day": self.day, "kind": self.kind, "text": self.text, "details": self.details}


@dataclass(slots=True)
class DemoResult:
    """What the demo did: the timeline, the detection delays and where things were written."""

    project: Path
    timeline: list[TimelineEntry] = field(default_factory=list)
    detected: dict[str, int | None] = field(default_factory=dict)
    alert_days: list[int] = field(default_factory=list)
    cycles: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    predictions: int = 0
    labels: int = 0
    results_path: Path | None = None
    report_path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": str(self.project),
            "seconds": self.seconds,
            "predictions": self.predictions,
            "labels": self.labels,
            "incidents": [
                {
                    "key": i.key,
                    "title": i.title,
                    "start": i.start,
                    "end": i.end,
                    "detect_within_days": i.detect_within,
                    "detected_day": self.detected.get(i.key),
                }
                for i in INCIDENTS
            ],
            "alert_days": self.alert_days,
            "timeline": [e.to_dict() for e in self.timeline],
            "cycles": self.cycles,
        }


# ---------------------------------------------------------------------- the server
class _InProcessServer:
    """``watchkeeper serve`` for ``project`` on a free loopback port, in a thread."""

    def __init__(self, project: Project) -> None:
        import uvicorn

        from watchkeeper.server._app import create_app
        from watchkeeper.server._run import listen

        app = create_app(project, environ={"WATCHKEEPER_ADMIN_TOKEN": _TOKEN})
        self._sock = listen("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="error", access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> _InProcessServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the in-process watchkeeper server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()


def _oip_body(frame: Any, request_id: str) -> dict[str, Any]:
    inputs = []
    for name in frame.columns:
        column = frame[name]
        kind = column.dtype.kind
        datatype = (
            "BOOL"
            if kind == "b"
            else "INT64"
            if kind == "i"
            else "FP64"
            if kind == "f"
            else "BYTES"
        )
        data = column.astype(object).where(column.notna(), None).tolist()
        inputs.append({"name": name, "shape": [len(frame)], "datatype": datatype, "data": data})
    return {"id": request_id, "inputs": inputs}


def _wait_for_version(client: httpx.Client, version: int) -> None:
    """Block until the server answers with ``version`` (it polls the aliases)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = client.get(f"/v2/models/{MODEL}")
        if answer.status_code == 200 and answer.json().get("versions") == [str(version)]:
            time.sleep(0.2)  # and its shadow, which loads next
            return
        time.sleep(0.02)
    raise RuntimeError(f"the server did not switch to version {version}")


# ---------------------------------------------------------------------- the six weeks
def _new_project(folder: Path, clock: Any, database_url: str | None) -> Project:
    import watchkeeper

    watchkeeper.Project.init(folder, database_url=database_url).close()
    text = DEMO_CONFIG
    if database_url is not None:
        text += f"database:\n  url: {json.dumps(database_url)}\n"
    (folder / "watchkeeper.yaml").write_text(text, encoding="utf-8")
    return watchkeeper.Project(folder, clock=clock, actor="demo")


def run_demo(
    *,
    seed: int = 0,
    keep: Path | None = None,
    say: Callable[[str], None] = print,
    report: Callable[[Project, Path], Path | None] | None = None,
    database_url: str | None = None,
) -> DemoResult:
    """Run the six simulated weeks; returns the timeline and results.

    Parameters
    ----------
    seed
        Seed of the traffic (the same seed gives the same six weeks).
    keep
        A new or empty folder to keep the project in (default: a temporary folder, removed
        at the end).
    say
        Where the progress lines go.
    report
        A hook called with the project and its folder after the last day, returning the path
        of a report it wrote (the HTML report plugs in here).
    database_url
        Keep the registry and the log in this database (an empty PostgreSQL database, say)
        instead of the project's SQLite file.
    """
    import logging

    import httpx

    from watchkeeper.clock import SimulatedClock
    from watchkeeper.datasets import train_churn_model

    # The timeline says what the alerts say; the log channel's lines would repeat it.
    logging.getLogger("watchkeeper.alerts").addHandler(logging.NullHandler())
    logging.getLogger("watchkeeper.alerts").propagate = False
    started = time.perf_counter()
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        if any(keep.iterdir()):
            raise FileExistsError(f"--keep {keep}: the folder is not empty")
        folder = keep
    else:
        folder = Path(tempfile.mkdtemp(prefix="watchkeeper-demo-"))
    result = DemoResult(project=folder)
    clock = SimulatedClock(START)
    project = _new_project(folder, clock, database_url)
    try:
        train, validation = reference_data(seed)
        model = train_churn_model(train)
        project.register(
            MODEL,
            model,
            reference=train,
            validation=validation,
            target="churned",
            id="customer_id",
            description="churn model trained on 5,000 customers",
        )
        project.deploy(MODEL, 1, reason="first model")
        _note(result, say, 0, "deploy", "version 1 (trained on 5,000 customers) deployed")
        outcomes: dict[int, list[dict[str, Any]]] = {}
        with (
            _InProcessServer(project) as server,
            httpx.Client(base_url=server.url, timeout=60) as client,
        ):
            _wait_for_version(client, 1)
            serving = 1
            for day in range(DAYS):
                for incident in INCIDENTS:
                    if incident.start == day:
                        _note(result, say, day, "incident", f"INCIDENT: {incident.title}")
                # The outcomes of a week ago arrive in the small hours.
                clock.set(START + timedelta(days=day, minutes=30))
                _post_labels(client, outcomes.pop(day - LABEL_DELAY_DAYS, []), result)
                outcomes[day] = _serve_day(client, clock, day, seed, result)
                clock.set(START + timedelta(days=day + 1))
                from watchkeeper.ops._loop import run_cycle

                cycle = run_cycle(project, MODEL, source="demo")
                result.cycles.append(cycle.to_dict())
                _record_cycle(result, say, day, cycle)
                now_serving = project.get(MODEL, alias="production").version
                if now_serving != serving:
                    _wait_for_version(client, now_serving)
                    serving = now_serving
        result.seconds = time.perf_counter() - started
        result.results_path = folder / "demo-results.json"
        result.results_path.write_text(json.dumps(result.to_dict(), indent=1), encoding="utf-8")
        if report is not None:
            result.report_path = report(project, folder)
        return result
    finally:
        project.close()
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def _serve_day(
    client: httpx.Client, clock: Any, day: int, seed: int, result: DemoResult
) -> list[dict[str, Any]]:
    """Send the day's traffic in ``REQUESTS_PER_DAY`` requests spread over the day; returns
    the labels to post a week later (request id, row, outcome)."""
    frame, outcome = day_traffic(day, seed, START)
    size = ROWS_PER_DAY // REQUESTS_PER_DAY
    labels: list[dict[str, Any]] = []
    for k in range(REQUESTS_PER_DAY):
        clock.set(START + timedelta(days=day, hours=1 + 23 * k / REQUESTS_PER_DAY))
        rows = frame.iloc[k * size : (k + 1) * size]
        request_id = f"day{day:02d}-req{k}"
        answer = client.post(f"/v2/models/{MODEL}/infer", json=_oip_body(rows, request_id))
        if answer.status_code != 200:
            raise RuntimeError(
                f"day {day}: the server answered {answer.status_code}: {answer.text}"
            )
        result.predictions += len(rows)
        labels.extend(
            {"id": request_id, "row": i, "label": int(y)}
            for i, y in enumerate(outcome[k * size : (k + 1) * size])
        )
    return labels


def _post_labels(client: httpx.Client, items: list[dict[str, Any]], result: DemoResult) -> None:
    if not items:
        return
    answer = client.post(f"/v1/models/{MODEL}/labels", json={"labels": items})
    if answer.status_code != 200:
        raise RuntimeError(f"posting labels: {answer.status_code}: {answer.text}")
    result.labels += len(items)


def _note(
    result: DemoResult,
    say: Callable[[str], None],
    day: int,
    kind: str,
    text: str,
    details: dict[str, Any] | None = None,
) -> None:
    entry = TimelineEntry(day=day, kind=kind, text=text, details=details or {})
    result.timeline.append(entry)
    date = (START + timedelta(days=day)).strftime("%a %d %b")
    say(f"day {day:2d}  {date}  {kind.upper():<9} {text}")


def _record_cycle(
    result: DemoResult, say: Callable[[str], None], day: int, cycle: CycleResult
) -> None:
    """Put what the day's cycle did on the timeline, and note first detections."""
    raised = [a for a in cycle.alerts if a.status != "ok"]
    if raised:
        result.alert_days.append(day)
    for alert in cycle.alerts:
        if alert.check == "policy.decision":
            continue
        kind = "alert" if alert.status != "ok" else "recovered"
        _note(result, say, day, kind, alert.message, {"check": alert.check})
    decision = cycle.decision
    if decision is not None and decision.action != "none":
        text = f"policy decides to {decision.action}: " + "; ".join(decision.reasons)
        _note(result, say, day, "decision", text, decision.to_dict())
    retrained = cycle.retrain
    if retrained is not None:
        rows = retrained.data["rows"]
        _note(
            result,
            say,
            day,
            "retrain",
            f"version {retrained.challenger} trained on {rows['train']:,} labelled rows "
            f"(holdout {rows['holdout']:,})",
            retrained.data,
        )
        gate = retrained.gate
        if gate is not None:
            _note(result, say, day, "gate", "; ".join(gate.reasons), gate.to_dict())
        if retrained.deployed:
            _note(
                result,
                say,
                day,
                "deploy",
                f"version {retrained.challenger} deployed to production; version "
                f"{retrained.champion} scores the same traffic as shadow while the guard watches",
            )
    guard = cycle.guard
    if guard is not None:
        failed = [c for c in guard.checks if c.status == "failed"]
        if failed:
            _note(
                result,
                say,
                day,
                "guard",
                f"guard on version {guard.version}: "
                + "; ".join(c.message for c in failed)
                + f" (failed guard runs since the promotion: {guard.failures})",
                guard.to_dict(),
            )
    if cycle.rollback is not None:
        back = cycle.rollback
        _note(
            result,
            say,
            day,
            "rollback",
            f"version {back['from']} rolled back to {back['to']} by the {back['by']}; "
            f"version {back['from']} is now rejected",
            dict(back),
        )
    for error in cycle.errors:
        _note(result, say, day, "error", error)
    _detections(result, day, cycle)


def _detections(result: DemoResult, day: int, cycle: CycleResult) -> None:
    from watchkeeper.cli._demo_scenario import DRIFTED

    checks = [] if cycle.run is None else list(cycle.run.stored.checks)
    alerting = [c for c in checks if c.status == "alert"]
    signals = {
        "covariate_drift": any(
            c.check.startswith("drift.") and c.column in DRIFTED for c in alerting
        ),
        "concept_drift": any(
            c.check.startswith(("concept_drift.", "performance.")) for c in alerting
        ),
        "concept_reverts": cycle.guard is not None
        and any(c.status == "failed" for c in cycle.guard.checks),
        "data_quality": any(
            c.check.startswith("quality.") and c.column == MISSING for c in alerting
        ),
    }
    for incident in INCIDENTS:
        if incident.key not in result.detected and day >= incident.start and signals[incident.key]:
            result.detected[incident.key] = day


def write_report(project: Project, folder: Path, *, kept: bool) -> Path:
    """The six weeks as a :class:`~watchkeeper.report.MonitoringReport`: ``report.html`` in a
    kept project, else a file in the temporary folder that outlives the demo's project."""
    from watchkeeper.report import MonitoringReport

    if kept:
        path = folder / "report.html"
    else:
        handle, name = tempfile.mkstemp(prefix="watchkeeper-demo-report-", suffix=".html")
        os.close(handle)
        path = Path(name)
    MonitoringReport.from_project(project, MODEL).to_html(path)
    return path


def print_summary(result: DemoResult, say: Callable[[str], None] = print) -> bool:
    """Print the incidents with their detection delays; True when each was caught in time
    and no alert was raised on a quiet day."""
    say("")
    say("What happened, and when watchkeeper noticed:")
    ok = True
    for incident in INCIDENTS:
        found = result.detected.get(incident.key)
        bound = incident.start + incident.detect_within
        if found is None:
            verdict, ok = "NOT detected", False
        elif found <= bound:
            delay = found - incident.start
            verdict = f"detected on day {found} ({delay} days; within {incident.detect_within})"
        else:
            verdict, ok = f"detected late, on day {found}", False
        say(f"  day {incident.start:2d}  {incident.title}: {verdict} [{incident.how}]")
    quiet = quiet_days()
    noisy = sorted(set(result.alert_days) & quiet)
    say(f"  quiet days ({len(quiet)}): " + ("no alert" if not noisy else f"alerts on days {noisy}"))
    ok = ok and not noisy
    kept = result.results_path is not None and result.results_path.exists()
    where = f"results in {result.results_path}" if kept else "--keep DIR keeps the project"
    say(
        f"{result.predictions:,} predictions and {result.labels:,} labels through the HTTP API "
        f"in {result.seconds:.1f} s; {where}"
    )
    if result.report_path is not None:
        say(f"The monitoring report (open it in a browser): {result.report_path}")
    return ok


def quiet_days() -> set[int]:
    """Days on which nothing visible happens: before the first incident, between the
    promotion and the competitor, and the week the competitor cannot be seen yet."""
    return set(range(7)) | set(range(10, 14 + LABEL_DELAY_DAYS))
