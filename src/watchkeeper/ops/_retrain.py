"""Retraining: training data from the log, the user's trainer in a subprocess, the gate, and
the hand-over to deployment.

The labelled production rows are split by event time: the most recent ``gate.holdout`` of
them is the gate's holdout, never trained on; the ``data.window`` before it (rows failing the
champion's data-quality rules left out, a seeded sample above ``data.max_rows``) is added to
the champion's stored reference data. The challenger is registered whatever the gate says,
with its lineage, so every attempt can be inspected; one the gate rejects is ``rejected`` and
never deployed automatically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from watchkeeper.clock import as_utc
from watchkeeper.errors import LoopError, NotEnoughDataError

if TYPE_CHECKING:
    from datetime import datetime

    import pandas as pd

    from watchkeeper.config import RetrainConfig
    from watchkeeper.ops._gate import GateResult, Predictions
    from watchkeeper.registry._project import Project
    from watchkeeper.registry._records import ModelVersion

__all__ = ["RetrainResult", "TrainingData", "retrain", "training_data"]


@dataclass(frozen=True, slots=True)
class TrainingData:
    """What a challenger is trained and gated on."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    target: str
    inputs: list[str]
    id_column: str | None
    window: tuple[datetime, datetime] | None
    holdout_window: tuple[datetime, datetime] | None
    n_reference: int
    n_production: int
    n_excluded: int

    def describe(self) -> dict[str, Any]:
        def span(w: tuple[datetime, datetime] | None) -> list[str] | None:
            return None if w is None else [w[0].isoformat(), w[1].isoformat()]

        return {
            "rows": {
                "train": len(self.train),
                "reference": self.n_reference,
                "production": self.n_production,
                "excluded_by_quality": self.n_excluded,
                "holdout": len(self.holdout),
            },
            "window": span(self.window),
            "holdout_window": span(self.holdout_window),
        }


@dataclass(frozen=True, slots=True)
class RetrainResult:
    """The outcome of one retraining: the data, the challenger, the gate and the deployment."""

    champion: int
    data: dict[str, Any]
    challenger: int | None
    gate: GateResult | None
    deployed: dict[str, Any] | None
    dry_run: bool
    seconds: float
    reasons: tuple[str, ...] = field(default=())

    @property
    def accepted(self) -> bool:
        return self.gate is not None and self.gate.passed

    def to_dict(self) -> dict[str, Any]:
        return {
            "champion": self.champion,
            "challenger": self.challenger,
            "accepted": self.accepted,
            "data": self.data,
            "gate": None if self.gate is None else self.gate.to_dict(),
            "deployed": self.deployed,
            "dry_run": self.dry_run,
            "seconds": self.seconds,
            "reasons": list(self.reasons),
        }


def training_data(
    project: Project, name: str, champion: ModelVersion, config: RetrainConfig, now: datetime
) -> TrainingData:
    """Assemble the challenger's training rows and the gate's holdout (see the module doc)."""
    import pandas as pd

    target = (champion.data_info.get("roles") or {}).get("target")
    if not target:
        raise LoopError(
            f"Version {champion.version} of {name!r} was registered without a target column, "
            "so there is nothing to train on; register it with target=..."
        )
    inputs = list(champion.input_schema.names)
    horizon = config.data.window + config.gate.holdout
    log = project.read_log(name, since=now - 4 * horizon, until=now, with_labels=True)
    log = log.loc[log["label"].notna().to_numpy()] if "label" in log else log.iloc[:0]
    if log.empty:
        raise NotEnoughDataError(
            f"No labelled predictions of {name!r} yet: a challenger needs labelled production "
            "rows for the gate's holdout."
        )
    log = log.sort_values("event_time", kind="stable")
    latest = as_utc(log["event_time"].iloc[-1].to_pydatetime())
    cut = latest - config.gate.holdout
    times = log["event_time"]
    holdout_rows = log.loc[(times > cut).to_numpy()]
    train_rows = log.loc[((times <= cut) & (times > cut - config.data.window)).to_numpy()]
    missing = [c for c in inputs if c not in log.columns]
    if missing:
        raise LoopError(f"The log of {name!r} lacks the input column(s) {missing}.")
    id_column = (champion.data_info.get("roles") or {}).get("id")
    holdout = _frame(holdout_rows, inputs, target, id_column)
    recent = _frame(train_rows, inputs, target, id_column)
    excluded = 0
    if config.data.exclude_quality_failures and len(recent):
        failing = _quality_failures(project, name, champion, recent, train_rows, inputs)
        excluded = int(failing.sum())
        recent = recent.loc[~failing]
    if len(recent) > config.data.max_rows:
        recent = recent.sample(n=config.data.max_rows, random_state=config.data.sample_seed)
    parts = [recent]
    n_reference = 0
    if config.data.include_reference:
        reference = project.load_data(name, champion.version, "reference")
        if target in reference.columns:
            keep = [*inputs, target, *([id_column] if id_column in reference.columns else [])]
            reference = reference[keep]
            n_reference = len(reference)
            parts.insert(0, reference)
    train = pd.concat(parts, ignore_index=True) if n_reference else recent.reset_index(drop=True)
    first = train_rows["event_time"].min() if len(train_rows) else None
    return TrainingData(
        train=train,
        holdout=holdout.reset_index(drop=True),
        target=target,
        inputs=inputs,
        id_column=id_column,
        window=None if first is None else (as_utc(first.to_pydatetime()), cut),
        holdout_window=(cut, latest),
        n_reference=n_reference,
        n_production=len(recent),
        n_excluded=excluded,
    )


# Rows broken as rows: values the reference never had missing, infinities, text in numeric
# columns, duplicates. Values out of the reference's range and new categories are left in: they
# are what a shifted population looks like, and the challenger should learn from it.
_BROKEN = ("missing", "non_finite", "type_violation", "duplicate")


def _quality_failures(
    project: Project,
    name: str,
    champion: ModelVersion,
    recent: pd.DataFrame,
    rows: pd.DataFrame,
    inputs: list[str],
) -> np.ndarray:
    """Which of the training rows to leave out: those the champion's data-quality rules reject
    as broken (:data:`_BROKEN`), and, in every monitor window whose missing-value check
    alerted on a column, the rows where that column is missing (a feed that failed; the
    reference may have had a few missing values there, so the row rules cannot see it)."""
    from watchkeeper.ops._history import load_runs
    from watchkeeper.quality import row_mask

    cfg = project.config.monitor.quality if project.config is not None else {}
    baseline = project.load_baseline(name, champion.version)
    failing, _ = row_mask(baseline, recent[inputs], reasons=_BROKEN, **dict(cfg))
    failing = np.asarray(failing, dtype=bool).copy()
    if not len(rows):
        return failing
    times = rows["event_time"]
    first, last = times.min().to_pydatetime(), times.max().to_pydatetime()
    for run in load_runs(project.database, name, since=first, with_checks=True):
        if run.window_start is None or run.window_end is None or run.window_start > last:
            continue
        columns = {
            c.column
            for c in run.checks
            if c.check == "quality.missing_rate" and c.status == "alert" and c.column in inputs
        }
        if not columns:
            continue
        inside = ((times >= run.window_start) & (times < run.window_end)).to_numpy()
        for column in columns:
            failing |= inside & recent[column].isna().to_numpy()
    return failing


def _frame(
    rows: pd.DataFrame, inputs: list[str], target: str, id_column: str | None
) -> pd.DataFrame:
    frame = rows[inputs].copy()
    frame[target] = rows["label"].to_numpy()
    if id_column is not None and "key" in rows.columns:
        frame[id_column] = rows["key"].to_numpy()
    return frame


def retrain(
    project: Project,
    name: str,
    *,
    config: RetrainConfig | None = None,
    reason: str = "",
    dry_run: bool = False,
    trigger: str = "policy",
) -> RetrainResult:
    """Train a challenger with the configured trainer, gate it against the champion
    (``production``) and, when it passes, deploy it (``retrain.deploy.mode``).

    With ``dry_run`` the challenger is trained and gated but neither registered nor deployed.
    Every step is recorded in ``name``'s history (``retrain``, ``gate`` events).
    """
    import time

    from watchkeeper.config import RetrainConfig
    from watchkeeper.ops._deploy import deploy_challenger
    from watchkeeper.ops._gate import GateCheck, paired_gate
    from watchkeeper.ops._trainer import run_trainer

    started = time.perf_counter()
    cfg = config or (project.config.retrain if project.config is not None else RetrainConfig())
    if cfg.trainer is None:
        raise LoopError(
            "No trainer is configured: set retrain.trainer in watchkeeper.yaml to "
            "'module:function' (a function taking a DataFrame and returning a fitted model)."
        )
    now = as_utc(project.clock.now())
    champion = project.get(name, alias="production")
    data = training_data(project, name, champion, cfg, now)
    described = data.describe()
    if len(data.holdout) < cfg.gate.min_holdout_rows:
        raise NotEnoughDataError(
            f"Only {len(data.holdout)} labelled rows in the gate's holdout (the last "
            f"{cfg.gate.holdout} of labelled predictions); {cfg.gate.min_holdout_rows} are needed."
        )
    root = project.path if project.path is not None else _cwd()
    context = {
        "model": name,
        "parent_version": champion.version,
        "target": data.target,
        "inputs": data.inputs,
        "reason": reason,
        "data": described,
    }
    run = run_trainer(
        cfg.trainer,
        data.train,
        context,
        timeout=cfg.timeout.total_seconds(),
        cwd=root,
        python_path=[root / p for p in cfg.python_path],
    )
    checks = []
    task, positive = _task(champion)
    y = data.holdout[data.target].to_numpy()
    x = data.holdout[data.inputs]
    try:
        challenger_preds = _predict(run.model, x, task, positive)
        checks.append(GateCheck("predicts", True, f"predicted {len(x)} holdout rows"))
    except Exception as exc:  # the user's model: anything can go wrong
        checks.append(GateCheck("predicts", False, f"{type(exc).__name__}: {exc}"[:300]))
        challenger_preds = None
    checks.append(_schema_check(run.model, data.inputs))
    champion_preds = _predict(project.load_model(champion).model, x, task, positive)
    if challenger_preds is None:  # the failed check rejects it; the statistics are moot
        challenger_preds = champion_preds
    gate = paired_gate(
        y,
        champion_preds,
        challenger_preds,
        config=cfg.gate,
        task=task,
        positive_label=positive,
        extra_checks=checks,
    )
    lineage = {
        "kind": "retrain",
        "entry_point": cfg.trainer,
        "data_window": described["window"],
        "holdout_window": described["holdout_window"],
        "rows_by_source": described["rows"],
        "trainer_seconds": run.seconds,
        "reason": reason,
    }
    if dry_run:
        return RetrainResult(
            champion=champion.version,
            data=described,
            challenger=None,
            gate=gate,
            deployed=None,
            dry_run=True,
            seconds=time.perf_counter() - started,
            reasons=gate.reasons,
        )
    record = project.register(
        name,
        run.model,
        reference=data.train,
        validation=data.holdout,
        target=data.target,
        id=data.id_column,
        parent_version=champion.version,
        source=lineage,
        description=f"retrained from version {champion.version}: {reason}"[:500],
        trust=True,
    )
    project.record_event(
        name,
        "retrain",
        version=record.version,
        reason=reason or "retrained",
        details={
            "champion": champion.version,
            "trigger": trigger,
            "data": described,
            "seconds": run.seconds,
        },
    )
    project.record_event(
        name,
        "gate",
        version=record.version,
        reason=gate.reasons[0] if gate.reasons else "",
        details={
            **gate.to_dict(),
            "champion_version": champion.version,
            "challenger_version": record.version,
        },
    )
    deployed = None
    if gate.passed:
        promotion = deploy_challenger(
            project,
            name,
            record.version,
            config=cfg,
            reason=f"passed the gate: {gate.reasons[0] if gate.reasons else ''}"[:500],
            details={"gate": gate.to_dict()},
        )
        deployed = promotion.to_dict()
    else:
        project.set_status(
            name,
            record.version,
            "rejected",
            reason=(gate.reasons[0] if gate.reasons else "rejected by the gate")[:500],
        )
    return RetrainResult(
        champion=champion.version,
        data=described,
        challenger=record.version,
        gate=gate,
        deployed=deployed,
        dry_run=False,
        seconds=time.perf_counter() - started,
        reasons=gate.reasons,
    )


def _cwd() -> Any:
    from pathlib import Path

    return Path.cwd()


def _task(record: ModelVersion) -> tuple[str, Any]:
    """The version's task and positive class (for the binary score)."""
    from watchkeeper.ops._deploy import version_outputs

    task, _, _, positive = version_outputs(record)
    return task, positive


def _predict(model: Any, x: pd.DataFrame, task: str, positive: Any) -> Predictions:
    from watchkeeper.ops._gate import Predictions

    labels = np.asarray(model.predict(x))
    scores = None
    if task == "binary" and hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(x))
        classes = list(getattr(model, "classes_", []))
        column = classes.index(positive) if positive in classes else proba.shape[1] - 1
        scores = proba[:, column].astype(float)
    return Predictions(labels=labels, scores=scores)


def _schema_check(model: Any, inputs: list[str]) -> Any:
    from watchkeeper.ops._gate import GateCheck

    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return GateCheck("schema", True, "the model does not name its inputs; not compared")
    got = [str(n) for n in names]
    if sorted(got) == sorted(inputs):
        return GateCheck("schema", True, "inputs match the champion's")
    extra = sorted(set(got) - set(inputs))
    lacking = sorted(set(inputs) - set(got))
    return GateCheck(
        "schema",
        False,
        f"inputs differ from the champion's (extra: {extra or 'none'}; missing: "
        f"{lacking or 'none'})",
    )
