"""The post-deploy guard: after a guarded promotion, compare the new champion with the previous
one on the same traffic, and roll back when checks keep failing.

A promotion by :func:`~watchkeeper.ops._deploy.deploy_challenger` (``direct``, guard on)
records ``guard: {previous, period_seconds}`` on its ``production`` move and points ``shadow``
at the previous champion, so every request is answered by the new version (role ``served``)
and scored by the previous one (role ``shadow``, same request id and row). Each
:func:`run_guard` pairs those rows and runs :func:`guard_checks`:

============== ======================================================================== =====
check          value                                                                    waits
============== ======================================================================== =====
disagreement   share of paired rows whose predicted classes differ (classification      rows
               only: a regression has no class to disagree on, so the check is left
               out and prediction_drift covers it)
prediction_dr  Jensen-Shannon distance (base 2) between the two models' score           rows
               histograms (binary with scores: 20 equal bins on [0, 1]), predicted-class
               frequencies (other classifiers) or prediction histograms (regression:
               20 equal bins over both models' range)
error_rate     requests refused for ``model_error`` / all requests (answered + refused)  rows
latency        new / previous prediction time on the same recent inputs (timed once)    rows
performance    the gate's metric on the pairs labelled since the previous check:        labels
               previous - new (new - previous for an error metric), i.e. how much
               worse the new version does on the latest labelled traffic
============== ======================================================================== =====

A check fails when its value exceeds its limit (``max_*``); it *waits* (counts nothing)
below ``min_rows`` served rows or pairs, or ``min_labeled_rows`` labelled pairs. A guard run
with any failed check is one failure (correlated checks failing together count once), counted
over the guard's runs since the promotion; at ``failures`` of them the new version is
rolled back (``trigger: guard``, compare-and-set on the version, so a move someone made
meanwhile is never undone) and ``shadow`` is removed. Every run is a ``guard_check`` event.
When ``period`` has passed without a rollback, the previous champion stops shadowing.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from watchkeeper._duration import format_duration
from watchkeeper.clock import as_utc
from watchkeeper.errors import AliasMovedError, RollbackError, VersionStatusError
from watchkeeper.ops._deploy import PRODUCTION, SHADOW, pair_rows, version_outputs

if TYPE_CHECKING:
    from datetime import datetime

    import pandas as pd

    from watchkeeper.config import RetrainConfig
    from watchkeeper.config._ops import GateConfig, GuardConfig
    from watchkeeper.registry._project import Project
    from watchkeeper.registry._records import Event

__all__ = ["GuardCheck", "GuardResult", "guard_checks", "run_guard"]

_BINS = 20
# The gate's multiclass f1/precision/recall are macro averages (performance's *_macro).
_MACRO = {"f1": "f1_macro", "precision": "precision_macro", "recall": "recall_macro"}


@dataclass(frozen=True, slots=True)
class GuardCheck:
    """One guard check: ``status`` is ``ok``, ``failed`` or ``waiting`` (too few rows)."""

    name: str
    status: str
    value: float | None
    limit: float
    n: int
    message: str


@dataclass(frozen=True, slots=True)
class GuardResult:
    """One run of the guard over a guarded promotion.

    Attributes
    ----------
    version, previous
        The new champion and the one it replaced (scoring as ``shadow``).
    checks
        This run's checks.
    failures
        Failed checks since the promotion, this run's included.
    rollback
        Whether ``failures`` reached the configured number.
    rolled_back
        Whether the rollback happened (not if an alias moved meanwhile).
    reasons
        The failed checks and what was done, in words.
    """

    version: int
    previous: int
    checks: tuple[GuardCheck, ...]
    failures: int
    rollback: bool
    rolled_back: bool
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "previous": self.previous,
            "checks": [asdict(check) for check in self.checks],
            "failures": self.failures,
            "rollback": self.rollback,
            "rolled_back": self.rolled_back,
            "reasons": list(self.reasons),
        }


def guard_checks(
    served: pd.DataFrame,
    shadow: pd.DataFrame,
    *,
    config: GuardConfig,
    gate: GateConfig,
    task: str,
    prediction_col: str,
    score_col: str | None,
    positive_label: Any,
    n_model_errors: int,
    n_requests: int,
    latency_ratio: float | None = None,
) -> tuple[GuardCheck, ...]:
    """The guard's checks of the new version (``served`` rows) against the previous one
    (``shadow`` rows), paired on (request id, row); pure.

    Both frames carry ``request_id``, ``row``, ``prediction_col`` (and ``score_col``);
    ``served`` carries the ``label`` (NA where none arrived). ``n_requests`` counts every
    request since the promotion, ``n_model_errors`` of them refused because the model
    raised. See the module's table for the checks.

    Examples
    --------
    >>> import pandas as pd
    >>> from watchkeeper.config._ops import GateConfig, GuardConfig
    >>> new = pd.DataFrame({"request_id": ["a"] * 4, "row": [0, 1, 2, 3],
    ...                     "prediction": [1, 1, 0, 0], "label": [1, 0, 0, 1]})
    >>> old = new.assign(prediction=[1, 0, 0, 0])
    >>> guard = GuardConfig(min_rows=4, min_labeled_rows=4, max_disagreement=0.2)
    >>> checks = guard_checks(new, old, config=guard,
    ...                       gate=GateConfig(metric="accuracy"), task="binary",
    ...                       prediction_col="prediction", score_col=None, positive_label=1,
    ...                       n_model_errors=0, n_requests=4, latency_ratio=1.2)
    >>> for check in checks:
    ...     print(check.name, check.status, round(check.value, 4))
    disagreement failed 0.25
    prediction_drift failed 0.2209
    error_rate ok 0.0
    latency ok 1.2
    performance failed 0.25
    """
    pairs = pair_rows(served, shadow, (prediction_col, score_col))
    checks = []
    if task != "regression":
        checks.append(_disagreement(pairs, config))
    checks.append(_prediction_drift(pairs, config, task))
    rate = n_model_errors / max(n_requests, 1)
    checks.append(
        _verdict(
            "error_rate",
            rate if len(served) >= config.min_rows else None,
            config.max_error_rate,
            n_requests,
            f"{n_model_errors} of {n_requests} requests refused for model errors ({rate:.2%})",
            f"{len(served)} served rows so far; the check waits for {config.min_rows}",
        )
    )
    checks.append(
        _verdict(
            "latency",
            latency_ratio,
            config.max_latency_ratio,
            len(served),
            f"the new version predicts {latency_ratio or 0:.2f}x as slowly as the previous one",
            "not timed yet",
        )
    )
    checks.append(_performance(pairs, config, gate, task, positive_label))
    return tuple(checks)


def run_guard(
    project: Project, name: str, *, config: RetrainConfig, now: datetime
) -> GuardResult | None:
    """Run the guard on ``name``'s active guarded promotion; None if there is none.

    The active promotion is the latest ``production`` move, if the policy made it with
    ``guard`` details, it is within ``guard.period`` of ``now`` and ``production`` still
    points there. Once the period is over, the previous champion's ``shadow`` alias is
    removed (if it still points there) and None returned. See the module docstring.
    """
    guard = config.guard
    if not guard.enabled:
        return None
    now = as_utc(now)
    active = _active_promotion(project, name)
    if active is None:
        return None
    promotion, version, previous = active
    aliases = project.model(name).aliases
    if aliases.get(PRODUCTION) != version:
        return None
    since = as_utc(promotion.created_at)
    if now - since > guard.period:
        if aliases.get(SHADOW) == previous:
            _remove_shadow(
                project,
                name,
                previous,
                f"the guard period ({format_duration(guard.period)}) of version {version} "
                f"ended without a rollback; version {previous} stops scoring its traffic",
            )
        return None
    frame = project.read_log(
        name,
        since=since,
        versions=[version, previous],
        roles=("served", "shadow"),
        with_labels=True,
    )
    frame = frame[frame["event_time"] <= now]
    # The labelled comparison is made on the labels that arrived since the previous check
    # (as canary analysis measures each interval): a regression on later traffic is not
    # averaged away by the weeks the new version did well.
    grace = project.config.monitor.label_grace if project.config is not None else _GRACE
    last = (_last_check(project, name, promotion.id, version) or since) - grace
    arrived = frame["label_arrived_at"]
    stale = arrived.isna() | (arrived <= last) | (arrived > now - grace)
    frame = frame.assign(label=frame["label"].mask(stale))
    served = frame[(frame["role"] == "served") & (frame["version"] == version)]
    shadow = frame[(frame["role"] == "shadow") & (frame["version"] == previous)]
    task, pred, score, positive = version_outputs(project.get(name, version))
    _, old_pred, old_score, _ = version_outputs(project.get(name, previous))
    shadow = _renamed(shadow, (old_pred, old_score), (pred, score))
    n_errors = _model_errors(project, name, since, now)
    latency = _latency_ratio(project, name, promotion.id, version, previous, served)
    checks = guard_checks(
        served,
        shadow,
        config=guard,
        gate=config.gate,
        task=task,
        prediction_col=pred,
        score_col=score,
        positive_label=positive,
        n_model_errors=n_errors,
        n_requests=int(served["request_id"].nunique()) + n_errors,
        latency_ratio=latency,
    )
    failed = [c for c in checks if c.status == "failed"]
    failures = _earlier_failures(project, name, promotion.id, version) + (1 if failed else 0)
    rollback = failures >= guard.failures
    reasons = [c.message for c in failed]
    rolled_back = False
    if rollback:
        why = (
            f"the guard saw {failures} failed checks since version {version} was promoted "
            f"(limit {guard.failures})" + (f": {'; '.join(reasons)}" if reasons else "")
        )
        try:
            back = project.rollback(
                name,
                PRODUCTION,
                trigger="guard",
                reason=why[:2000],
                expected_version=version,
            )
            rolled_back = True
        except (AliasMovedError, RollbackError, VersionStatusError) as exc:
            reasons.append(f"not rolled back: {exc}")
        else:
            reasons.append(f"rolled back to version {back.to_version}")
            _remove_shadow(project, name, previous, f"version {version} was rolled back")
    result = GuardResult(
        version=version,
        previous=previous,
        checks=checks,
        failures=failures,
        rollback=rollback,
        rolled_back=rolled_back,
        reasons=tuple(reasons),
    )
    summary = "; ".join(reasons) or "no check failed"
    project.record_event(
        name, "guard_check", version=version, reason=summary[:2000], details=result.to_dict()
    )
    return result


# ---------------------------------------------------------------------- the checks
def _verdict(
    name: str, value: float | None, limit: float, n: int, said: str, waiting: str
) -> GuardCheck:
    if value is None:
        return GuardCheck(name, "waiting", None, limit, n, waiting)
    failed = value > limit
    return GuardCheck(
        name,
        "failed" if failed else "ok",
        float(value),
        limit,
        n,
        f"{name}: {said} {'exceeds' if failed else 'is within'} the limit {limit:g}",
    )


def _rows_wait(n: int, config: GuardConfig) -> str:
    return f"{n} paired rows so far; the check waits for {config.min_rows}"


def _disagreement(pairs: pd.DataFrame, config: GuardConfig) -> GuardCheck:
    n = len(pairs)
    differ = int(np.count_nonzero(_class_text(pairs["pred_1"]) != _class_text(pairs["pred_2"])))
    share = differ / n if n else 0.0
    return _verdict(
        "disagreement",
        share if n >= config.min_rows else None,
        config.max_disagreement,
        n,
        f"{differ} of {n} paired rows predict different classes ({share:.2%})",
        _rows_wait(n, config),
    )


def _prediction_drift(pairs: pd.DataFrame, config: GuardConfig, task: str) -> GuardCheck:
    from watchkeeper.stats import jensen_shannon_counts

    n = len(pairs)
    if n < config.min_rows:
        return _verdict(
            "prediction_drift", None, config.max_prediction_drift, n, "", _rows_wait(n, config)
        )
    if "score_1" in pairs.columns:
        what = "score histograms"
        new, old = (_finite(pairs[c]).clip(0.0, 1.0) for c in ("score_1", "score_2"))
        p = np.histogram(new, bins=_BINS, range=(0.0, 1.0))[0]
        q = np.histogram(old, bins=_BINS, range=(0.0, 1.0))[0]
    elif task == "regression":
        what = "prediction histograms"
        new, old = (_finite(pairs[c]) for c in ("pred_1", "pred_2"))
        pooled = np.concatenate([new, old])
        low, high = (float(pooled.min()), float(pooled.max())) if pooled.size else (0.0, 0.0)
        edges = np.linspace(low, high if high > low else low + 1.0, _BINS + 1)
        p, q = np.histogram(new, bins=edges)[0], np.histogram(old, bins=edges)[0]
    else:
        what = "predicted-class frequencies"
        texts = np.concatenate([_class_text(pairs["pred_1"]), _class_text(pairs["pred_2"])])
        classes, code = np.unique(texts, return_inverse=True)
        p = np.bincount(code[:n], minlength=len(classes))
        q = np.bincount(code[n:], minlength=len(classes))
    if not (p.sum() and q.sum()):  # no finite value on one side
        return _verdict("prediction_drift", None, config.max_prediction_drift, n, "", f"no {what}")
    distance = jensen_shannon_counts(p, q, eps=0.0, base=2.0).statistic
    return _verdict(
        "prediction_drift",
        distance,
        config.max_prediction_drift,
        n,
        f"the Jensen-Shannon distance of the two versions' {what} ({distance:.4f})",
        "",
    )


def _performance(
    pairs: pd.DataFrame, config: GuardConfig, gate: GateConfig, task: str, positive: Any
) -> GuardCheck:
    from watchkeeper.ops._gate import choose_metric
    from watchkeeper.performance import LOWER_IS_BETTER, compute_metrics

    labeled = pairs[pairs["label"].notna()]
    m = len(labeled)
    scored = "score_1" in labeled.columns
    metric = choose_metric(gate.metric, task=task, has_scores=scored)
    name = _MACRO.get(metric, metric) if task == "multiclass" else metric
    limit = config.max_performance_drop
    if m < config.min_labeled_rows:
        return _verdict(
            "performance",
            None,
            limit,
            m,
            "",
            f"{m} labelled paired rows so far; the check waits for {config.min_labeled_rows}",
        )
    values: dict[int, float | None] = {}
    undefined = ""
    for k in (1, 2):
        if task == "regression":
            result = compute_metrics(
                task,
                labeled["label"].to_numpy(np.float64),
                labeled[f"pred_{k}"].to_numpy(np.float64),
            )
        else:
            y, p, classes = _codes(labeled["label"], labeled[f"pred_{k}"], task, positive)
            score = labeled[f"score_{k}"].to_numpy(np.float64) if scored else None
            result = compute_metrics(task, y, p, score, classes=classes)
        values[k] = result.get(name)
        undefined = undefined or result.undefined.get(name, "not computed for this task")
    new, old = values[1], values[2]
    if new is None or old is None:
        return GuardCheck(
            "performance", "waiting", None, limit, m, f"{metric} is undefined: {undefined}"
        )
    drop = new - old if name in LOWER_IS_BETTER else old - new
    return _verdict(
        "performance",
        drop,
        limit,
        m,
        f"{metric} {new:.4f} against the previous version's {old:.4f} on {m} labelled rows "
        f"(worse by {drop:.4f})",
        "",
    )


def _finite(values: pd.Series[Any]) -> np.ndarray[Any, Any]:
    array = np.asarray(values.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    return array[np.isfinite(array)]


def _class_text(values: pd.Series[Any]) -> np.ndarray[Any, Any]:
    """Class labels as text, equal for equal classes: ``1``, ``1.0`` and ``True`` are ``"1"``."""
    import pandas as pd

    series = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_bool_dtype(series):
        series = series.astype("Int64")
    if pd.api.types.is_numeric_dtype(series):
        number = series.astype("Float64")
        whole = number.notna() & (number == number.round())
        if bool(whole.all()):
            return np.asarray(series.astype("Int64").astype(str).to_numpy(), dtype=str)
    return np.asarray(series.astype(str).to_numpy(), dtype=str)


def _codes(
    labels: pd.Series[Any], predictions: pd.Series[Any], task: str, positive: Any
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], list[str]]:
    """Class codes of the labels and predictions: binary 1 for the positive class (the
    larger class label when none is named), 0 otherwise; multiclass, indexes into the
    sorted classes of both."""
    y, p = _class_text(labels), _class_text(predictions)
    classes = sorted({*y.tolist(), *p.tolist()})
    if task == "binary":
        pos = _class_text(_series([positive]))[0] if positive is not None else classes[-1]
        negative = next((c for c in classes if c != pos), "")
        return (y == pos).astype(np.int64), (p == pos).astype(np.int64), [negative, pos]
    known = np.asarray(classes, dtype=str)  # sorted, and holds every value of y and p
    return (
        np.searchsorted(known, y).astype(np.int64),
        np.searchsorted(known, p).astype(np.int64),
        classes,
    )


def _series(values: list[Any]) -> pd.Series[Any]:
    import pandas as pd

    return pd.Series(values)


# ---------------------------------------------------------------------- the project's side
def _active_promotion(project: Project, name: str) -> tuple[Event, int, int] | None:
    """The latest ``production`` move with its (new, previous) versions, if it was a guarded
    promotion."""
    for event in reversed(project.registry.history(name, kinds=("alias_move",))):
        if event.alias != PRODUCTION:
            continue
        guard = event.details.get("guard")
        if event.trigger != "policy" or not isinstance(guard, dict) or event.to_version is None:
            return None
        return event, int(event.to_version), int(guard["previous"])
    return None


def _renamed(
    frame: pd.DataFrame, columns: tuple[str, str | None], to: tuple[str, str | None]
) -> pd.DataFrame:
    """The key and label columns of ``frame`` with its (prediction, score) columns named as
    the new version names its own (no score unless both versions have one)."""
    import pandas as pd

    out: dict[str, Any] = {"request_id": frame["request_id"], "row": frame["row"]}
    out[to[0]] = frame[columns[0]] if columns[0] in frame.columns else pd.Series(dtype=object)
    if to[1] is not None and columns[1] is not None and columns[1] in frame.columns:
        out[to[1]] = frame[columns[1]]
    return pd.DataFrame(out)


def _model_errors(project: Project, name: str, since: datetime, now: datetime) -> int:
    from sqlalchemy import func, select

    from watchkeeper.store.tables import rejected_requests as table

    query = (
        select(func.count())
        .select_from(table)
        .where(table.c.model == name)
        .where(table.c.reason == "model_error")
        .where(table.c.created_at >= since)
        .where(table.c.created_at <= now)
    )
    with project.database.read() as conn:
        return int(conn.execute(query).scalar_one())


def _earlier_failures(project: Project, name: str, promotion_id: int, version: int) -> int:
    failed = 0
    for event in project.registry.history(name, kinds=("guard_check",)):
        if event.id > promotion_id and event.version == version:
            checks = event.details.get("checks") or []
            failed += any(c.get("status") == "failed" for c in checks)
    return failed


def _latency_ratio(
    project: Project,
    name: str,
    promotion_id: int,
    version: int,
    previous: int,
    served: pd.DataFrame,
) -> float | None:
    """The new version's prediction time over the previous one's on the same recent inputs
    (the best of three timings each, up to 1,000 rows); measured at the first check of a
    promotion, then read back from that check's event. None without served rows."""
    import time

    for event in project.registry.history(name, kinds=("guard_check",)):
        if event.id > promotion_id and event.version == version:
            for check in event.details.get("checks") or []:
                if check.get("name") == "latency" and check.get("value") is not None:
                    return float(check["value"])
    if served.empty:
        return None
    inputs = project.get(name, version).input_schema.names
    if any(c not in served.columns for c in inputs):
        return None
    x = served[inputs].tail(1_000)
    seconds = []
    for v in (version, previous):
        model = project.load_model(project.get(name, v))
        model.predict(x.head(10))  # warm up
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            model.predict(x)
            best = min(best, time.perf_counter() - started)
        seconds.append(best)
    return seconds[0] / max(seconds[1], 1e-9)


_GRACE = timedelta(minutes=1)  # MonitorConfig.label_grace's default


def _last_check(project: Project, name: str, promotion_id: int, version: int) -> datetime | None:
    """When the guard last checked this promotion (None: not yet)."""
    times = [
        as_utc(event.created_at)
        for event in project.registry.history(name, kinds=("guard_check",))
        if event.id > promotion_id and event.version == version
    ]
    return max(times, default=None)


def _remove_shadow(project: Project, name: str, previous: int, reason: str) -> None:
    """Remove ``shadow`` if it still points at ``previous`` (a move meanwhile is left be)."""
    with contextlib.suppress(AliasMovedError):
        project.remove_alias(
            name, SHADOW, reason=reason[:2000], trigger="guard", expected_version=previous
        )
