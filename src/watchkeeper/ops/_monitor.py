"""One monitor run: a window of the prediction log against the serving version's baseline.

A run

1. reads the log by event time: the drift and quality window (``window``) and, for
   performance, the longer ``performance_window`` with the labels that have arrived;
2. compares them with the version's baseline (or with the previous window, ``reference:
   previous``); performance checks only look at labelled rows and are ``skipped`` when the
   labelled share is below ``min_label_coverage``;
3. feeds the concept-drift detectors the error stream: the rows whose labels arrived since
   the last run (the label watermark), in prediction-time order, each exactly once; the
   detectors' state is kept per (model, version) and starts afresh when the version is
   deployed again;
4. stores the run, its check results, the detectors' state and the new watermark in one
   transaction, so a crash never feeds a row twice or skips one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from watchkeeper.clock import as_utc
from watchkeeper.errors import InvalidParameterError, NotEnoughDataError
from watchkeeper.monitor.report import Report
from watchkeeper.ops._history import (
    StoredRun,
    load_detector_states,
    load_watermark,
    model_id,
    save_detector_states,
    save_run,
    save_watermark,
)
from watchkeeper.results import CheckResult, worst_status

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pandas as pd

    from watchkeeper.baseline import Baseline
    from watchkeeper.config import MonitorConfig
    from watchkeeper.registry._project import Project
    from watchkeeper.registry._records import ModelVersion

__all__ = ["MonitorRun", "run_monitor"]

_DETECTORS = {
    "adwin": "ADWIN",
    "cusum": "CUSUM",
    "ddm": "DDM",
    "eddm": "EDDM",
    "hddm_a": "HDDM_A",
    "hddm_w": "HDDM_W",
    "kswin": "KSWIN",
    "page_hinkley": "PageHinkley",
}
_BINARY = {"ddm", "eddm", "hddm_a", "hddm_w"}


@dataclass(frozen=True, slots=True)
class MonitorRun:
    """A finished monitor run: the stored record and the report it was made from."""

    stored: StoredRun
    report: Report

    @property
    def id(self) -> int:
        return self.stored.id

    @property
    def status(self) -> str:
        return self.stored.status

    def to_dict(self) -> dict[str, Any]:
        return self.stored.to_dict()


def run_monitor(
    project: Project,
    name: str,
    *,
    config: MonitorConfig | None = None,
    alias: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    window: timedelta | None = None,
    last: int | None = None,
    reference: str | None = None,
    source: str = "manual",
) -> MonitorRun:
    """Run ``name``'s monitor once and store the result.

    Parameters
    ----------
    project
        The project (its clock stamps the run and ends the default window).
    name
        The model.
    config
        The ``monitor:`` settings (default: the project's).
    alias
        The alias whose version is monitored (default ``config.alias``).
    since, until, window, last
        The window, by event time: ``since``/``until``; or ``window`` ending at ``until`` (or
        now); or the ``last`` N logged rows; default ``config.window`` ending now.
    reference
        ``baseline`` or ``previous`` (the window just before this one).
    source
        Who asked: ``schedule``, ``manual``, ``demo``... (stored with the run).
    """
    from watchkeeper.config import MonitorConfig

    started = time.perf_counter()
    cfg = config or (project.config.monitor if project.config is not None else MonitorConfig())
    alias = alias or cfg.alias
    reference = reference or cfg.reference
    if reference not in ("baseline", "previous"):
        raise InvalidParameterError(
            f"reference must be 'baseline' or 'previous'; got {reference!r}."
        )
    now = as_utc(project.clock.now())
    record = project.get(name, alias=alias)
    baseline = project.load_baseline(name, record.version)
    start, end = _window(project, name, record, cfg, since, until, window, last, now)
    perf_span = cfg.performance_window or (end - start)
    read_from = min(start, end - perf_span)
    raw = project.read_log(
        name, since=read_from, until=end, versions=[record.version], with_labels=True
    )
    times = raw["event_time"]
    frame = _as_baseline_frame(raw, record, baseline)
    current = frame.loc[(times >= start).to_numpy()]
    if last is not None and len(current) > last:  # exactly the newest ``last`` predictions
        newest = times.loc[current.index].sort_values(kind="stable").index[-last:]
        current = current.loc[current.index.isin(newest)]
        start = as_utc(times.loc[newest].min().to_pydatetime())
    perf_frame = frame.loc[(times >= end - perf_span).to_numpy()]
    target = (record.data_info.get("roles") or {}).get("target")
    labelled = (
        perf_frame.loc[perf_frame[target].notna()] if target in perf_frame else perf_frame[:0]
    )
    coverage = len(labelled) / len(perf_frame) if len(perf_frame) else None

    checks: list[CheckResult] = []
    if len(current):
        base = (
            baseline
            if reference == "baseline"
            else _previous_baseline(project, name, record, baseline, start, end)
        )
        report = base.compare(
            current.drop(columns=[target], errors="ignore"),
            checks=_families(cfg, ("drift", "quality")),
            quality=cfg.quality or None,
            **cfg.drift,
        )
        checks.extend(report.checks)
    else:
        checks.append(_skipped("monitor.window", f"no served predictions in {start} .. {end}"))
    checks.extend(_performance(baseline, labelled, coverage, cfg))

    stream_checks, detectors, stream = _error_stream(
        project, name, record, cfg, alias, now, (read_from, end, raw)
    )
    checks.extend(stream_checks)
    report = Report(
        checks,
        metadata={
            "model": name,
            "version": record.version,
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
            "n_current": len(current),
            "n_reference": int(baseline.n_reference),
        },
    )
    status = worst_status([c.status for c in checks]) if checks else "skipped"
    stored = StoredRun(
        id=0,
        model=name,
        version=record.version,
        alias=alias,
        ran_at=now,
        window_start=start,
        window_end=end,
        reference=reference,
        source=source,
        status=status,
        n_rows=len(current),
        n_labeled=len(labelled),
        label_coverage=coverage,
        duration_seconds=time.perf_counter() - started,
        summary=_summary(report),
        detectors=detectors,
        checks=tuple(checks),
    )
    with project.database.write() as conn:
        mid = model_id(conn, name)
        run_id = save_run(conn, stored)
        if stream is not None:
            states, previous, upper = stream
            save_detector_states(conn, mid, record.version, states, now)
            save_watermark(conn, mid, record.version, previous, upper, now)
    return MonitorRun(stored=replace(stored, id=run_id), report=report)


# ---------------------------------------------------------------------- windows
def _window(
    project: Project,
    name: str,
    record: ModelVersion,
    cfg: MonitorConfig,
    since: datetime | None,
    until: datetime | None,
    window: timedelta | None,
    last: int | None,
    now: datetime,
) -> tuple[datetime, datetime]:
    given = sum(x is not None for x in (since, window, last))
    if given > 1:
        raise InvalidParameterError("Give at most one of since, window and last.")
    end = as_utc(until) if until is not None else now
    if last is not None:
        if last < 1:
            raise InvalidParameterError(f"last must be at least 1; got {last}.")
        return _start_of_last(project, name, record, last, end), end
    start = as_utc(since) if since is not None else end - (cfg.window if window is None else window)
    if start >= end:
        raise InvalidParameterError(f"The window is empty: since {start} is not before {end}.")
    return start, end


def _start_of_last(
    project: Project, name: str, record: ModelVersion, last: int, end: datetime
) -> datetime:
    """An event time at or before that of the ``last``-th newest prediction the version served
    before ``end`` (from the log's batches: the run then keeps exactly the last ``last``)."""
    from sqlalchemy import select

    from watchkeeper.store.tables import prediction_batches as batches

    with project.database.read() as conn:
        mid = model_id(conn, name)
        rows = conn.execute(
            select(batches.c.n_rows, batches.c.event_time_min)
            .where(batches.c.model_id == mid)
            .where(batches.c.version == record.version)
            .where(batches.c.role == "served")
            .where(batches.c.event_time_min < end)
            .order_by(batches.c.event_time_max.desc(), batches.c.id.desc())
        )
        seen, start = 0, None
        for n_rows, first in rows:
            seen += int(n_rows)
            start = first if start is None else min(start, first)
            if seen >= last:
                break
    if start is None:
        raise NotEnoughDataError(
            f"Version {record.version} of {name!r} has no logged predictions before {end}."
        )
    return as_utc(start)


def _as_baseline_frame(
    frame: pd.DataFrame, record: ModelVersion, baseline: Baseline
) -> pd.DataFrame:
    """The log's columns under the baseline's names (``label`` -> the target, ``key`` -> the
    id column), and only those the baseline knows."""
    roles = record.data_info.get("roles") or {}
    renames = {}
    if roles.get("target"):
        renames["label"] = roles["target"]
    if roles.get("id"):
        renames["key"] = roles["id"]
    frame = frame.rename(columns=renames)
    return frame[[c for c in baseline.schema.names if c in frame.columns]]


def _previous_baseline(
    project: Project,
    name: str,
    record: ModelVersion,
    baseline: Baseline,
    start: datetime,
    end: datetime,
) -> Baseline:
    """A baseline fitted on the window before ``start`` (of the same length), or the
    version's own when that window is empty."""
    from watchkeeper.baseline import Baseline

    previous = project.read_log(
        name, since=start - (end - start), until=start, versions=[record.version]
    )
    if previous.empty:
        return baseline
    previous = _as_baseline_frame(previous, record, baseline)
    columns = [c for c in baseline.schema.names if c in previous.columns]
    from watchkeeper.schema import Schema

    schema = Schema([c for c in baseline.schema.columns if c.name in columns])
    return Baseline.fit(previous[columns], schema)


def _families(cfg: MonitorConfig, families: tuple[str, ...]) -> list[str]:
    if cfg.checks is None:
        return list(families)
    return [c for c in cfg.checks if c.partition(".")[0] in families]


def _skipped(check: str, reason: str) -> CheckResult:
    return CheckResult(check=check, column=None, value=None, status="skipped", reason=reason)


def _performance(
    baseline: Baseline, labelled: pd.DataFrame, coverage: float | None, cfg: MonitorConfig
) -> list[CheckResult]:
    """Performance on the labelled rows of the performance window, with its label coverage."""
    if baseline.performance is None:
        return []
    n = len(labelled)
    shown = "none" if coverage is None else f"{coverage:.1%}"
    checks = [
        CheckResult(
            check="monitor.label_coverage",
            column=None,
            value=coverage,
            threshold=cfg.min_label_coverage,
            status="ok" if coverage is not None else "skipped",
            reason=f"{n} labelled rows; coverage {shown}",
            n=n,
        )
    ]
    families = _families(cfg, ("performance",))
    if not families:
        return checks
    if coverage is None or coverage < cfg.min_label_coverage or n == 0:
        checks.append(
            _skipped(
                "performance",
                f"label coverage {shown} is below the minimum {cfg.min_label_coverage:.1%}",
            )
        )
        return checks
    report = baseline.compare(labelled, checks=families, performance=cfg.performance or None)
    return checks + list(report.checks)


def _summary(report: Report) -> dict[str, Any]:
    summary = report.summary.to_dict()
    summary["alerts"] = [{"check": c.check, "column": c.column} for c in report.alerts[:100]]
    return summary


# ---------------------------------------------------------------------- error stream
def _error_stream(
    project: Project,
    name: str,
    record: ModelVersion,
    cfg: MonitorConfig,
    alias: str,
    now: datetime,
    loaded: tuple[datetime, datetime, pd.DataFrame],
) -> tuple[
    list[CheckResult],
    dict[str, dict[str, Any]],
    tuple[dict[str, Any], datetime | None, datetime] | None,
]:
    """Feed the rows labelled since the watermark to the version's detectors.

    The labels consumed are those with ``watermark < arrived_at <= now - label_grace``; the
    grace covers a label stamped before its transaction commits. ``loaded`` is the window
    the run already read (start, end, frame of this version's rows with labels): when every
    newly labelled prediction falls inside it, it is not read again.

    Returns the detectors' check results, their outcomes (for the run row) and, when anything
    was fed, the new states and watermark to store with the run.
    """
    from sqlalchemy import and_, func, select

    from watchkeeper.store.tables import aliases, labels

    if not cfg.detectors:
        return [], {}, None
    upper = now - cfg.label_grace
    with project.database.read() as conn:
        mid = model_id(conn, name)
        watermark = load_watermark(conn, mid, record.version)
        saved = load_detector_states(conn, mid, record.version)
        alias_row = conn.execute(
            select(aliases.c.event_id).where(
                and_(aliases.c.model_id == mid, aliases.c.name == alias)
            )
        ).first()
        arrived = [labels.c.model_id == mid, labels.c.arrived_at <= upper]
        if watermark is not None:
            arrived.append(labels.c.arrived_at > watermark)
        span = conn.execute(
            select(
                func.min(labels.c.event_time), func.max(labels.c.event_time), func.count()
            ).where(and_(*arrived))
        ).one()
    deployed_by = None if alias_row is None else int(alias_row.event_id)
    n_new = int(span[2])
    if n_new == 0:
        reason = "no labels arrived since the last run"
        idle: dict[str, dict[str, Any]] = {
            n: {"drift": False, "warning": False, "n": 0} for n in cfg.detectors
        }
        return [_skipped(f"concept_drift.{n}", reason) for n in cfg.detectors], idle, None
    first, last = as_utc(span[0]), as_utc(span[1])
    start, end, frame = loaded
    if not (start <= first and last < end):
        frame = project.read_log(
            name,
            since=first,
            until=last + timedelta(microseconds=1),
            versions=[record.version],
            with_labels=True,
        )
    got = frame["label_arrived_at"]
    keep = got.notna() & (got <= upper)
    if watermark is not None:
        keep &= got > watermark
    mine = frame.loc[keep.to_numpy()].sort_values(["event_time", "request_id", "row"])
    errors, binary = _errors(mine, record)
    times = mine["event_time"]
    checks: list[CheckResult] = []
    outcomes: dict[str, dict[str, Any]] = {}
    states: dict[str, Any] = {}
    for det_name, params in cfg.detectors.items():
        state = saved.get(det_name)
        if det_name in _BINARY and not binary:
            checks.append(_skipped(f"concept_drift.{det_name}", "needs a classifier's 0/1 errors"))
            outcomes[det_name] = {"drift": False, "warning": False, "n": 0}
            continue
        detector = _detector(det_name, params, state, deployed_by)
        found = detector.update_many(errors) if len(errors) else np.empty(0, np.int64)
        when = [as_utc(t.to_pydatetime()).isoformat() for t in times.iloc[found[:20]]]
        drift = bool(len(found))
        warning = bool(detector.warning_detected)
        rate = float(errors.mean()) if len(errors) else None
        outcomes[det_name] = {
            "drift": drift,
            "warning": warning,
            "n": len(errors),
            "n_seen": int(detector.n_seen_),
            "error_rate": rate,
            "detections": when,
        }
        states[det_name] = {"deployed_by": deployed_by, "detector": detector.to_dict()}
        status = "alert" if drift else "warning" if warning else "ok"
        if not len(errors):
            status = "skipped"
        checks.append(
            CheckResult(
                check=f"concept_drift.{det_name}",
                column=None,
                value=rate,
                status=status,  # type: ignore[arg-type]
                reason=(
                    f"drift detected at {', '.join(when)}"
                    if drift
                    else f"{len(errors)} newly labelled predictions, error rate "
                    + ("n/a" if rate is None else f"{rate:.3f}")
                ),
                n=len(errors),
                details={"detections": when, "n_seen": int(detector.n_seen_)},
            )
        )
    outcomes["_stream"] = {"n_new_labels": n_new, "n_this_version": len(mine)}
    return checks, outcomes, (states, watermark, upper)


def _errors(frame: pd.DataFrame, record: ModelVersion) -> tuple[np.ndarray, bool]:
    """Per row: 1.0 for a misclassification (0.0 otherwise), or the absolute error of a
    regression; and whether the errors are 0/1."""
    outputs = record.data_info.get("outputs") or {}
    prediction = outputs.get("prediction") or "prediction"
    task = (record.metrics or {}).get("task")
    if prediction not in frame.columns or "label" not in frame.columns:
        return np.empty(0), task != "regression"
    if task == "regression":
        err = np.abs(frame[prediction].to_numpy(dtype=float) - frame["label"].to_numpy(dtype=float))
        return err, False
    pred = frame[prediction].astype(object).to_numpy()
    truth = frame["label"].astype(object).to_numpy()
    return (pred != truth).astype(np.float64), True


def _detector(
    name: str, params: Mapping[str, Any], state: Mapping[str, Any] | None, deployed_by: int | None
) -> Any:
    """The detector ``name``, resumed from ``state`` unless the version was deployed anew."""
    import watchkeeper.detectors as detectors

    cls = getattr(detectors, _DETECTORS[name])
    if state is not None and state.get("deployed_by") == deployed_by:
        return cls.from_dict(dict(state["detector"]))
    return cls(**dict(params))
