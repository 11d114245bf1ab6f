"""Deploying a challenger that passed the gate: ``direct`` or ``shadow`` first, and the shadow
trial that promotes (or rejects) it.

``direct`` moves ``production`` at once (a compare-and-set move from the champion the caller
saw, so a move made meanwhile by someone else is never undone); with the guard on, the
previous champion then takes the ``shadow`` alias, so it scores the same traffic while
:func:`~watchkeeper.ops._guard.run_guard` watches the new one. ``shadow`` points ``shadow`` at
the challenger (a *trial*: its move's details say ``trial: true``) and leaves ``production``
alone; :func:`check_shadow_trial` later pairs the shadow's and the champion's predictions of
the same requests, and once ``deploy.promote_after_rows`` of them are labelled runs the gate
on them: passed, the challenger is promoted as by ``direct``; failed, it is ``rejected`` and
the ``shadow`` alias removed. Every step is an event in the model's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from watchkeeper.clock import as_utc
from watchkeeper.errors import AliasMovedError, InvalidParameterError, LoopError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    import pandas as pd

    from watchkeeper.config import RetrainConfig
    from watchkeeper.ops._gate import GateResult
    from watchkeeper.registry._project import Project
    from watchkeeper.registry._records import Event, ModelVersion

__all__ = [
    "PromotionResult",
    "TrialResult",
    "check_shadow_trial",
    "deploy_challenger",
    "pair_rows",
    "version_outputs",
]

PRODUCTION = "production"
SHADOW = "shadow"


@dataclass(frozen=True, slots=True)
class PromotionResult:
    """What :func:`deploy_challenger` did.

    Attributes
    ----------
    mode
        ``"direct"`` (``production`` moved) or ``"shadow"`` (``shadow`` moved; on trial).
    version
        The challenger.
    previous
        The champion it replaces (``production`` before; None if there was none).
    events
        Ids of the events recorded, in order.
    """

    mode: str
    version: int
    previous: int | None
    events: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "version": self.version,
            "previous": self.previous,
            "events": list(self.events),
        }


@dataclass(frozen=True, slots=True)
class TrialResult:
    """What :func:`check_shadow_trial` found and did.

    Attributes
    ----------
    status
        ``waiting`` (too few labelled pairs; nothing done), ``promoted``, ``rejected``, or
        ``conflict`` (an alias moved meanwhile; nothing moved).
    version, champion
        The challenger on trial, and ``production``'s version it was compared with.
    n_pairs, n_labeled
        Requests both scored since the trial began, and those of them with a label.
    gate
        The gate's verdict on the labelled pairs (None while waiting).
    promotion
        The promotion, when it passed.
    reasons
        Why, in words.
    event
        The ``shadow_trial`` event recorded (None while waiting).
    """

    status: str
    version: int
    champion: int
    n_pairs: int
    n_labeled: int
    gate: GateResult | None
    promotion: PromotionResult | None
    reasons: tuple[str, ...]
    event: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "version": self.version,
            "champion": self.champion,
            "n_pairs": self.n_pairs,
            "n_labeled": self.n_labeled,
            "gate": None if self.gate is None else self.gate.to_dict(),
            "promotion": None if self.promotion is None else self.promotion.to_dict(),
            "reasons": list(self.reasons),
            "event": self.event,
        }


def version_outputs(record: ModelVersion) -> tuple[str, str, str | None, Any]:
    """``(task, prediction column, score column or None, positive label)`` of a version.

    The task is the one its baseline's performance reference was fitted for (recorded in
    ``metrics["task"]``), else ``binary``/``multiclass`` by the model's classes, else
    ``regression``. The score column is the positive-class probability of a binary
    classifier (the second of the model's classes, the one the registry logs as
    ``prediction_proba``), None otherwise; the positive label is that class (None unless
    binary).

    Raises
    ------
    LoopError
        The version recorded no prediction output (it was registered without reference data).
    """
    outputs = record.data_info.get("outputs") or {}
    prediction = outputs.get("prediction")
    if not prediction:
        raise LoopError(
            f"{record.uri} recorded no prediction column (data_info['outputs']['prediction']): "
            "register it with reference data so its outputs are known."
        )
    proba = list(outputs.get("proba") or [])
    classes = record.model_info.get("classes")
    task = record.metrics.get("task")
    if task not in ("binary", "multiclass", "regression"):
        if classes:
            task = "binary" if len(classes) == 2 else "multiclass"
        elif proba:
            task = "binary" if len(proba) == 1 else "multiclass"
        else:
            task = "regression"
    if task != "binary":
        return task, prediction, None, None
    positive = classes[1] if classes and len(classes) == 2 else None
    score = proba[0] if len(proba) == 1 else None
    return task, prediction, score, positive


def pair_rows(
    first: pd.DataFrame,
    second: pd.DataFrame,
    columns: tuple[str, str | None],
    second_columns: tuple[str, str | None] | None = None,
) -> pd.DataFrame:
    """The rows of ``first`` and ``second`` that answer the same (request id, row).

    ``columns`` are the (prediction, score) columns of ``first`` (of both unless
    ``second_columns`` is given). Returns ``request_id``, ``row``, ``label`` (from ``first``;
    NA where none arrived), ``pred_1``, ``pred_2`` and, when both have scores, ``score_1``
    and ``score_2``; in ``first``'s order.
    """
    import pandas as pd

    def part(frame: pd.DataFrame, cols: tuple[str, str | None], k: int) -> pd.DataFrame:
        pred, score = cols
        if pred not in frame.columns:
            if len(frame):
                raise LoopError(f"The logged rows have no prediction column {pred!r}.")
            frame = frame.assign(**{pred: pd.Series([], dtype=object)})
        out: dict[str, Any] = {
            "request_id": frame["request_id"],
            "row": frame["row"],
            f"pred_{k}": frame[pred],
        }
        if score is not None and score in frame.columns:
            out[f"score_{k}"] = frame[score]
        if k == 1:
            out["label"] = frame["label"] if "label" in frame.columns else pd.NA
        return pd.DataFrame(out).drop_duplicates(["request_id", "row"], keep="last")

    left = part(first, columns, 1)
    right = part(second, second_columns or columns, 2)
    pairs = left.merge(right, on=["request_id", "row"], how="inner", sort=False)
    if "score_1" in pairs.columns and "score_2" not in pairs.columns:
        pairs = pairs.drop(columns="score_1")
    if "score_2" in pairs.columns and "score_1" not in pairs.columns:
        pairs = pairs.drop(columns="score_2")
    return pairs.reset_index(drop=True)


def deploy_challenger(
    project: Project,
    name: str,
    version: int,
    *,
    config: RetrainConfig,
    reason: str,
    details: Mapping[str, Any] | None = None,
) -> PromotionResult:
    """Deploy ``version`` of ``name`` as ``config.deploy.mode`` says; record a ``promotion``.

    Parameters
    ----------
    project
        The project.
    name, version
        The model and the challenger.
    config
        ``retrain``'s configuration (``deploy.mode``, ``guard``).
    reason, details
        Recorded on the moves (``details`` must be JSON-safe).

    Returns
    -------
    PromotionResult

    Raises
    ------
    AliasMovedError
        ``production`` (direct) or ``shadow`` moved while this ran; nothing of this
        promotion was recorded after the conflicting move.
    InvalidParameterError
        ``version`` is already in production.
    """
    champion = project.model(name).aliases.get(PRODUCTION)
    return _promote(
        project,
        name,
        version,
        config=config,
        mode=config.deploy.mode,
        champion=champion,
        reason=reason,
        details=details,
    )


def _promote(
    project: Project,
    name: str,
    version: int,
    *,
    config: RetrainConfig,
    mode: str,
    champion: int | None,
    reason: str,
    details: Mapping[str, Any] | None,
) -> PromotionResult:
    if champion == version:
        raise InvalidParameterError(f"Version {version} of {name!r} is already in production.")
    shadow_now = project.model(name).aliases.get(SHADOW)
    extra = dict(details or {})
    events: list[Event] = []
    if mode == "shadow":
        events.append(
            project.deploy(
                name,
                version,
                SHADOW,
                reason=reason,
                trigger="policy",
                expected_version=shadow_now,
                details={**extra, "trial": True, "champion": champion},
            )
        )
    else:
        guarded = config.guard.enabled and champion is not None
        if guarded:
            extra["guard"] = {
                "previous": champion,
                "period_seconds": config.guard.period.total_seconds(),
            }
        events.append(
            project.deploy(
                name,
                version,
                PRODUCTION,
                reason=reason,
                trigger="policy",
                expected_version=champion,
                details=extra,
            )
        )
        if guarded and champion is not None and shadow_now != champion:
            try:
                events.append(
                    project.deploy(
                        name,
                        champion,
                        SHADOW,
                        reason=(
                            "the previous champion scores the same traffic while the guard "
                            f"watches version {version}"
                        ),
                        trigger="policy",
                        expected_version=shadow_now,
                        details={"guard_of": version},
                    )
                )
            except AliasMovedError as exc:  # production has moved: record, don't fail
                extra["shadow_not_set"] = str(exc)[:500]
        elif not guarded and shadow_now == version:  # its trial is over: it serves now
            removed = project.remove_alias(
                name,
                SHADOW,
                reason=f"version {version} was promoted to production",
                trigger="policy",
                expected_version=version,
            )
            events.extend([] if removed is None else [removed])
    result = PromotionResult(
        mode=mode,
        version=version,
        previous=champion,
        events=tuple(e.id for e in events),
    )
    summary = project.record_event(
        name,
        "promotion",
        version=version,
        reason=reason,
        details=result.to_dict(),
    )
    return PromotionResult(mode, version, champion, (*result.events, summary.id))


def check_shadow_trial(
    project: Project, name: str, *, config: RetrainConfig, now: datetime
) -> TrialResult | None:
    """Judge the challenger on trial in ``shadow``; None if there is none (or no champion).

    The shadow's and the champion's predictions of the same requests since the trial began
    are paired; with fewer than ``deploy.promote_after_rows`` labelled pairs (or the gate's
    ``min_holdout_rows``, if more) the trial waits.
    Otherwise the gate (``retrain.gate``) compares them on the labelled pairs: passed, the
    challenger is promoted (``direct``, guarded as configured); failed, it becomes
    ``rejected`` and the ``shadow`` alias is removed. A ``shadow_trial`` event records the
    outcome either way.
    """
    from watchkeeper.ops._gate import Predictions, paired_gate

    aliases = project.model(name).aliases
    on_trial, champion = aliases.get(SHADOW), aliases.get(PRODUCTION)
    if on_trial is None or champion is None or on_trial == champion:
        return None
    started = _trial_event(project, name, on_trial)
    if started is None:
        return None
    frame = project.read_log(
        name,
        since=started.created_at,
        versions=[on_trial, champion],
        roles=("served", "shadow"),
        with_labels=True,
    )
    frame = frame[frame["event_time"] <= as_utc(now)]
    challenger_record = project.get(name, on_trial)
    task, pred, score, positive = version_outputs(challenger_record)
    c_task, c_pred, c_score, _ = version_outputs(project.get(name, champion))
    if c_task != task:
        raise LoopError(
            f"Version {on_trial} of {name!r} is a {task} model and the champion (version "
            f"{champion}) a {c_task} one; a shadow trial compares models of one task."
        )
    served = frame[(frame["role"] == "served") & (frame["version"] == champion)]
    shadow = frame[(frame["role"] == "shadow") & (frame["version"] == on_trial)]
    pairs = pair_rows(served, shadow, (c_pred, c_score), (pred, score))
    labeled = pairs[pairs["label"].notna()]
    n_pairs, n_labeled = len(pairs), len(labeled)
    # The gate refuses fewer rows than its min_holdout_rows: wait for those too.
    need = max(config.deploy.promote_after_rows, config.gate.min_holdout_rows)
    if n_labeled < need:
        return TrialResult(
            "waiting",
            on_trial,
            champion,
            n_pairs,
            n_labeled,
            None,
            None,
            (f"{n_labeled} of the {need} labelled paired rows needed so far",),
            None,
        )
    scored = "score_1" in labeled.columns

    def predictions(k: int) -> Predictions:
        scores = labeled[f"score_{k}"].to_numpy(dtype=np.float64) if scored else None
        return Predictions(labels=_values(labeled[f"pred_{k}"]), scores=scores)

    gate = paired_gate(
        _values(labeled["label"]),
        predictions(1),
        predictions(2),
        config=config.gate,
        task=task,
        positive_label=positive,
    )
    words = "; ".join(gate.reasons) or ("passed" if gate.passed else "failed")
    promotion, status = None, "promoted" if gate.passed else "rejected"
    reasons = [f"shadow trial on {n_labeled} labelled rows: {words}"]
    try:
        if gate.passed:
            promotion = _promote(
                project,
                name,
                on_trial,
                config=config,
                mode="direct",
                champion=champion,
                reason=f"passed its shadow trial: {words}"[:1000],
                details={"gate": gate.to_dict(), "trial_event": started.id},
            )
        else:
            project.set_status(
                name, on_trial, "rejected", reason=f"failed its shadow trial: {words}"[:1000]
            )
            project.remove_alias(
                name,
                SHADOW,
                reason=f"version {on_trial} failed its shadow trial",
                trigger="policy",
                expected_version=on_trial,
            )
    except AliasMovedError as exc:
        status = "conflict"
        reasons.append(str(exc))
    details = {
        "outcome": status,
        "champion": champion,
        "n_pairs": n_pairs,
        "n_labeled": n_labeled,
        "gate": gate.to_dict(),
        "promotion": None if promotion is None else promotion.to_dict(),
    }
    event = project.record_event(
        name, "shadow_trial", version=on_trial, reason=reasons[-1][:1000], details=details
    )
    return TrialResult(
        status,
        on_trial,
        champion,
        n_pairs,
        n_labeled,
        gate,
        promotion,
        tuple(reasons),
        event.id,
    )


def _trial_event(project: Project, name: str, version: int) -> Event | None:
    """The move that put ``version`` on ``shadow``, if it made it a trial."""
    for event in reversed(project.registry.history(name, kinds=("alias_move",))):
        if event.alias == SHADOW:
            trial = event.to_version == version and event.details.get("trial") is True
            return event if trial else None
    return None


def _values(column: pd.Series[Any]) -> np.ndarray[Any, Any]:
    """A column's values as a plain numpy array (nullable integers as int64, text as str)."""
    return np.asarray(column.tolist())
