"""Each trigger's condition on one run (and the schedule's on the clock).

Every function here looks at a single :class:`~watchkeeper.policy.RunRecord` and says
whether the trigger's condition holds in it, with sentences and JSON-safe details; the
consecutive-runs rule, combining and suppression live in :mod:`watchkeeper.policy._evaluate`.
Only whole-window results count: results of a segment (``CheckResult.segment`` set) are left
out, so one small segment cannot trigger a retrain of the whole model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from watchkeeper._duration import format_duration
from watchkeeper.clock import as_utc

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from watchkeeper.policy._records import RunRecord
    from watchkeeper.policy._settings import (
        ConceptDriftSettings,
        DataQualitySettings,
        DriftSettings,
        PerformanceSettings,
        ScheduleSettings,
    )
    from watchkeeper.results import CheckResult

__all__ = [
    "MULTIVARIATE_CHECKS",
    "NOT_FEATURE_CHECKS",
    "Breach",
    "concept_drift_breach",
    "data_quality_breach",
    "drift_breach",
    "performance_breach",
    "schedule_due",
]

MULTIVARIATE_CHECKS: tuple[str, ...] = (
    "drift.dataset",
    "drift.pca_reconstruction",
    "drift.domain_classifier",
    "drift.manifold",
)
"""Dataset-level drift checks that the drift trigger's ``multivariate`` option watches."""

NOT_FEATURE_CHECKS: frozenset[str] = frozenset({"drift.prediction", "drift.target"})
"""Per-column drift checks that are not about a feature (the model's output, the label)."""

_LISTED = 10  # names listed in a sentence before "and N more"
_RELATIVE_SLACK = 1e-9  # a drop equal to max_drop up to float rounding is not "more than" it


@dataclass(frozen=True, slots=True)
class Breach:
    """Whether a trigger's condition holds, the sentences saying why (or why not), details."""

    breached: bool
    reasons: tuple[str, ...]
    details: dict[str, Any] = field(default_factory=dict)


def _whole_window(run: RunRecord, family: str) -> Iterator[CheckResult]:
    return (c for c in run.checks if c.segment is None and c.family == family)


def _short(name: str, family: str) -> str:
    return name.removeprefix(family + ".")


def _names(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    more = len(items) - _LISTED
    return shown if more <= 0 else f"{shown} and {more} more"


# --- performance ----------------------------------------------------------------------------


def _status_sentence(check: CheckResult, lower: bool) -> str:
    lo, hi = check.details.get("band_lower"), check.details.get("band_upper")
    value = check.value
    if value is not None and isinstance(lo, int | float) and isinstance(hi, int | float):
        band = f"({lo:.4g}..{hi:.4g})"
        if not lower and value < lo:
            return f"{check.check} {value:.4g} is below its band {band}"
        if lower and value > hi:
            return f"{check.check} {value:.4g} is above its band {band}"
    reason = check.reason.rstrip(".")
    return f"{check.check} alerts" + (f": {reason}" if reason else "")


def _performance_hits(
    check: CheckResult,
    name: str,
    lower: bool,
    settings: PerformanceSettings,
    floors: dict[str, float],
) -> list[dict[str, Any]]:
    """The rules ``check`` breaks: the explicit ones (floor, max_drop) where they apply to
    it, else its stored status. ``lower``: the metric is an error metric."""
    value, reference = check.value, check.reference_value
    hits: list[dict[str, Any]] = []
    applied = False
    base = {"check": check.check, "value": value, "reference_value": reference}
    if name != "calibration" and name in floors and value is not None:
        applied = True
        limit = floors[name]
        if value > limit if lower else value < limit:
            where = "above its ceiling" if lower else "below its floor"
            sentence = f"{check.check} {value:.4g} is {where} {limit:g}"
            hits.append({**base, "rule": "floor", "limit": limit, "reason": sentence})
    max_drop = settings.max_drop
    if (
        name != "calibration"
        and max_drop is not None
        and value is not None
        and reference is not None
    ):
        applied = True
        worse = value - reference if lower else reference - value
        if worse - max_drop > _RELATIVE_SLACK * max(1.0, abs(reference)):
            moved = "rose" if lower else "fell"
            sentence = (
                f"{check.check} {moved} by {worse:.4g} from {reference:.4g} to {value:.4g}, "
                f"more than max_drop {max_drop:g}"
            )
            hits.append({**base, "rule": "max_drop", "limit": max_drop, "reason": sentence})
    if not applied and check.status == "alert":
        sentence = _status_sentence(check, lower)
        hits.append({**base, "rule": "status", "limit": check.threshold, "reason": sentence})
    return hits


def performance_breach(settings: PerformanceSettings, run: RunRecord) -> Breach:
    """The performance trigger's condition on ``run``.

    A whole-window ``performance.<metric>`` check breaches by its stored status (``alert``)
    unless an explicit rule applies to it: a ``floor`` for its metric, or ``max_drop`` when
    the check has a reference value. Explicit rules then decide alone (a value beyond the
    floor, i.e. below it or above it for an error metric of ``LOWER_IS_BETTER``; a change for
    the worse of more than ``max_drop``). ``performance.calibration`` is judged by its
    status only. ``skipped`` checks never breach. The checks watched are those of
    ``metrics`` (all when None) plus every metric given a floor. With fewer than
    ``min_labeled_rows`` labelled rows the trigger is not evaluated (not breached).
    """
    # Imported here, not at the top: the performance package loads scipy, and importing
    # the policy (or deciding without a performance trigger) does not need it.
    from watchkeeper.performance import LOWER_IS_BETTER

    details: dict[str, Any] = {
        "n_labeled": run.n_labeled,
        "min_labeled_rows": settings.min_labeled_rows,
    }
    if run.n_labeled < settings.min_labeled_rows:
        sentence = (
            f"performance not evaluated: {run.n_labeled} labelled rows, fewer than "
            f"min_labeled_rows {settings.min_labeled_rows}"
        )
        return Breach(False, (sentence,), {**details, "evaluated": False, "failing": []})
    floors = {_short(k, "performance"): float(v) for k, v in settings.floor.items()}
    watched = (
        None
        if settings.metrics is None
        else {_short(m, "performance") for m in settings.metrics} | set(floors)
    )
    failing: list[dict[str, Any]] = []
    seen: list[str] = []
    for check in _whole_window(run, "performance"):
        name = _short(check.check, "performance")
        if watched is not None and name not in watched:
            continue
        seen.append(name)
        if check.status != "skipped":
            lower = name in LOWER_IS_BETTER
            failing += _performance_hits(check, name, lower, settings, floors)
    details.update(
        evaluated=True,
        watched=seen,
        failing=failing,
        floors_without_check=sorted(set(floors) - set(seen)),
    )
    if failing:
        return Breach(True, tuple(h["reason"] for h in failing), details)
    if not seen:
        return Breach(False, ("no performance check to evaluate in the run",), details)
    return Breach(False, (f"none of the {len(seen)} performance checks breached",), details)


# --- drift ----------------------------------------------------------------------------------


def drift_breach(settings: DriftSettings, run: RunRecord) -> Breach:
    """The drift trigger's condition on ``run``.

    Feature columns are the columns of whole-window ``drift.*`` checks other than
    ``drift.prediction`` and ``drift.target``; a column counts as checked unless its checks
    were all ``skipped``, and as drifted when one of them alerts. The condition holds when
    at least one column drifted and the drifted share of the checked columns is at least
    ``share``; or when a column named in ``features`` drifted; or (``multivariate``) when
    one of ``drift.dataset``, ``drift.pca_reconstruction``, ``drift.domain_classifier``,
    ``drift.manifold`` alerts.
    """
    checked: dict[str, bool] = {}
    multivariate: list[str] = []
    for check in _whole_window(run, "drift"):
        if check.check in MULTIVARIATE_CHECKS and check.status == "alert":
            multivariate.append(check.check)
        if check.column is None or check.check in NOT_FEATURE_CHECKS:
            continue
        if check.status != "skipped":
            checked[check.column] = checked.get(check.column, False) or check.status == "alert"
    drifted = [column for column, alert in checked.items() if alert]
    share = len(drifted) / len(checked) if checked else None
    named = [f for f in settings.features if checked.get(f, False)]
    reasons: list[str] = []
    counted = f"{len(drifted)} of {len(checked)} feature columns drifted"
    if settings.share is not None and share is not None and drifted and share >= settings.share:
        reasons.append(
            f"{counted} ({share:.0%}), at least the share {settings.share:.0%}: {_names(drifted)}"
        )
    if named:
        reasons.append(f"named feature{'s' if len(named) > 1 else ''} drifted: {_names(named)}")
    if settings.multivariate and multivariate:
        reasons.append(f"multivariate drift: {', '.join(multivariate)}")
    details: dict[str, Any] = {
        "drifted_features": drifted,
        "n_features": len(checked),
        "share": share,
        "share_needed": settings.share,
        "named_features_drifted": named,
        "multivariate": multivariate if settings.multivariate else [],
    }
    if reasons:
        return Breach(True, tuple(reasons), details)
    if not checked and not multivariate:
        return Breach(False, ("no drift check to evaluate in the run",), details)
    if settings.share is None:
        return Breach(
            False, (f"{counted}; no named feature or multivariate check alerts",), details
        )
    pct = "0%" if share is None else f"{share:.0%}"
    return Breach(False, (f"{counted} ({pct}), below the share {settings.share:.0%}",), details)


# --- data quality and concept drift ---------------------------------------------------------


def data_quality_breach(settings: DataQualitySettings, run: RunRecord) -> Breach:
    """Holds when a whole-window ``quality.*`` check (of ``checks``, when given; written
    ``missing_rate`` or ``quality.missing_rate``) alerts."""
    wanted = None if settings.checks is None else {_short(c, "quality") for c in settings.checks}
    alerts = [
        c
        for c in _whole_window(run, "quality")
        if c.status == "alert" and (wanted is None or _short(c.check, "quality") in wanted)
    ]
    details: dict[str, Any] = {"failing": [{"check": c.check, "column": c.column} for c in alerts]}
    if not alerts:
        return Breach(False, ("no data-quality check alerts",), details)
    named = [c.check + ("" if c.column is None else f" on {c.column}") for c in alerts]
    return Breach(True, (f"data-quality checks alert: {_names(named)}",), details)


def concept_drift_breach(settings: ConceptDriftSettings, run: RunRecord) -> Breach:
    """Holds when a concept-drift detector (of ``detectors``, when given) reports
    ``drift: true`` in the run."""
    wanted = settings.detectors
    states = {
        name: state for name, state in run.detectors.items() if wanted is None or name in wanted
    }
    drifted = [name for name, state in states.items() if state.get("drift") is True]
    details: dict[str, Any] = {
        "drifted": drifted,
        "warning": [name for name, state in states.items() if state.get("warning") is True],
        "missing": [] if wanted is None else [n for n in wanted if n not in run.detectors],
        "detectors": states,
    }
    if drifted:
        seen = [f"{n} (n={states[n]['n']})" if "n" in states[n] else n for n in drifted]
        return Breach(True, (f"concept drift detected by {', '.join(seen)}",), details)
    if not states:
        return Breach(False, ("no concept-drift detector ran",), details)
    return Breach(False, (f"no concept drift detected by {', '.join(states)}",), details)


# --- schedule -------------------------------------------------------------------------------


def schedule_due(
    settings: ScheduleSettings, now: datetime, last_trained: datetime | None
) -> Breach:
    """Whether the schedule is due at ``now``.

    ``every``: due once ``now - last_trained >= every``; ``cron``: due once the first cron
    time strictly after ``last_trained`` (in UTC) is at or before ``now``. Never due without
    ``last_trained``.
    """
    what = (
        f"every {format_duration(settings.every)}"
        if settings.every is not None
        else f"cron '{settings.cron}' (UTC)"
    )
    details: dict[str, Any] = {
        "every": None if settings.every is None else format_duration(settings.every),
        "cron": settings.cron,
        "last_trained": last_trained,
        "due_at": None,
    }
    if last_trained is None:
        return Breach(False, (f"schedule ({what}) not due: no training time known",), details)
    if settings.every is not None:
        due_at = last_trained + settings.every
    else:
        from croniter import croniter

        start = as_utc(last_trained)
        due_at = as_utc(croniter(settings.cron, start).get_next(datetime))
    details["due_at"] = due_at
    trained = f"trained at {last_trained.isoformat()}"
    if due_at <= now:
        return Breach(
            True, (f"scheduled ({what}): {trained}, due at {due_at.isoformat()}",), details
        )
    return Breach(False, (f"schedule ({what}) not due until {due_at.isoformat()}",), details)
