"""The sections of ``watchkeeper.yaml`` that drive the loop: ``monitor``, ``alerts``,
``policy`` and ``retrain``.

Durations are written as ``30s``, ``15m``, ``6h``, ``1d`` or ``2w``; schedules as
``{every: 1d}`` or ``{cron: "0 2 * * *"}`` (five-field cron, in UTC). Every field has a
default, so a project gets a daily monitor, log alerts and a policy that notifies (never
retrains) until it names a trainer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from watchkeeper._duration import format_duration, parse_duration
from watchkeeper.errors import InvalidParameterError

__all__ = [
    "ACTIONS",
    "AlertsConfig",
    "ChannelConfig",
    "ConceptDriftTrigger",
    "DataQualityTrigger",
    "DeployConfig",
    "DriftTrigger",
    "Duration",
    "GateConfig",
    "GuardConfig",
    "MonitorConfig",
    "PerformanceTrigger",
    "PolicyConfig",
    "RetrainConfig",
    "RetrainDataConfig",
    "Schedule",
    "ScheduleTrigger",
    "TriggersConfig",
]

ACTIONS = ("notify", "retrain", "rollback")
DETECTORS = ("adwin", "cusum", "ddm", "eddm", "hddm_a", "hddm_w", "kswin", "page_hinkley")
# The performance checks' metrics (watchkeeper.performance.CHECK_NAMES; a test keeps the two
# equal) and the metrics the gate compares (watchkeeper.ops._gate.GATE_METRICS).
PERFORMANCE_METRICS = (
    "accuracy", "average_precision", "brier", "calibration", "f1", "f1_macro", "f1_weighted",
    "log_loss", "mae", "mape", "mse", "precision", "precision_macro", "r2", "recall",
    "recall_macro", "rmse", "roc_auc",
)  # fmt: skip
GATE_METRICS = (
    "roc_auc", "accuracy", "f1", "precision", "recall", "log_loss", "brier", "mae", "mse",
    "rmse", "r2",
)  # fmt: skip


def _known(values: list[str] | None, known: tuple[str, ...], what: str) -> list[str] | None:
    for value in values or ():
        name = value.removeprefix("performance.")
        if name not in known:
            raise ValueError(f"unknown {what} {value!r} (expected among {', '.join(known)})")
    return values


_Action = Literal["notify", "retrain", "rollback"]


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    try:
        return parse_duration(value)
    except InvalidParameterError:
        raise ValueError("expected a duration such as '30s', '15m', '6h', '1d' or '2w'") from None


Duration = Annotated[
    timedelta, BeforeValidator(_duration), PlainSerializer(format_duration, return_type=str)
]
_Fraction = Annotated[float, Field(ge=0, le=1, strict=True, allow_inf_nan=False)]
_Positive = Annotated[float, Field(gt=0, strict=True, allow_inf_nan=False)]


def _frozen() -> ConfigDict:
    return ConfigDict(extra="forbid", frozen=True)


class Schedule(BaseModel):
    """When something runs: ``every`` (a duration) or ``cron`` (five fields, UTC), not both."""

    model_config = _frozen()

    every: Duration | None = None
    cron: StrictStr | None = None

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from croniter import croniter

        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(
                "expected a five-field cron expression (minute hour day month weekday), "
                "e.g. '0 2 * * *'"
            )
        return value

    @model_validator(mode="after")
    def _one_of(self) -> Schedule:
        if (self.every is None) == (self.cron is None):
            raise ValueError("expected exactly one of every (a duration) or cron")
        return self


def _default_detectors() -> dict[str, dict[str, Any]]:
    return {"ddm": {}, "adwin": {}}


class MonitorConfig(BaseModel):
    """The ``monitor:`` section: scheduled monitor runs over the prediction log.

    Attributes
    ----------
    schedule
        How often the server runs each served model's monitor (``None``: never; the CLI's
        ``watchkeeper monitor run`` works either way).
    models
        The models monitored on the schedule (default: every served model).
    alias
        The alias whose version's baseline the windows are compared with.
    window
        The window a run reads, ending at the run's time (by event time).
    performance_window
        The window performance checks read (default: ``window``): labels arrive late, so it
        is usually longer, e.g. the label delay plus a few days.
    reference
        ``baseline`` (the version's training data) or ``previous`` (the previous window).
    checks
        Check families or names (default: all).
    drift, quality, performance
        Options passed to the checks: fields of ``DriftOptions``, ``QualityOptions`` and
        ``PerformanceOptions``.
    min_label_coverage
        Below this share of the window's rows labelled, performance checks are ``skipped``.
    detectors
        Concept-drift detectors fed the error stream, by name (``ddm``, ``eddm``, ``adwin``,
        ``hddm_a``, ``hddm_w``, ``page_hinkley``, ``kswin``, ``cusum``) with their parameters.
    label_grace
        The error stream consumes labels that arrived up to this long before the run, so that
        a label stamped just before its transaction commits is never skipped.
    metrics_features
        The features ``/metrics`` shows per-feature gauges for (default: the first 50 feature
        columns, alphabetically), to keep the label set bounded.

    With ``schedule: {every: D}`` the runs fall on multiples of D since the Unix epoch (UTC):
    ``1d`` runs at midnight UTC, ``6h`` at 00, 06, 12 and 18, whichever worker or replica
    holds the slot's lease.
    """

    model_config = _frozen()

    schedule: Schedule | None = Field(default_factory=lambda: Schedule(every=timedelta(days=1)))
    models: list[StrictStr] | None = None
    alias: StrictStr = "production"
    window: Duration = timedelta(days=1)
    performance_window: Duration | None = None
    reference: Literal["baseline", "previous"] = "baseline"
    checks: list[StrictStr] | None = None
    drift: dict[StrictStr, Any] = Field(default_factory=dict)
    quality: dict[StrictStr, Any] = Field(default_factory=dict)
    performance: dict[StrictStr, Any] = Field(default_factory=dict)
    min_label_coverage: _Fraction = 0.1
    detectors: dict[StrictStr, dict[StrictStr, Any]] = Field(default_factory=_default_detectors)
    metrics_features: list[StrictStr] | None = None
    label_grace: Duration = timedelta(minutes=1)

    @field_validator("detectors")
    @classmethod
    def _known_detectors(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        _known(sorted(value), DETECTORS, "detector")
        return value


class ChannelConfig(BaseModel):
    """One alert channel: ``log`` (the watchkeeper logger) or ``webhook`` (an HTTP POST).

    Attributes
    ----------
    type
        ``log`` or ``webhook``.
    url
        The webhook's ``http://`` or ``https://`` URL.
    format
        ``json`` (watchkeeper's alert document) or ``slack`` (a Slack-compatible ``text``
        message, for an incoming webhook).
    timeout_seconds, retries, backoff_seconds
        Per attempt; failed deliveries are retried ``retries`` times, waiting
        ``backoff_seconds`` times 2^attempt in between.
    headers
        Extra HTTP headers (an ``Authorization`` header is better given by
        ``WATCHKEEPER_ALERTS_WEBHOOK_TOKEN``, sent as a bearer token).
    """

    model_config = _frozen()

    type: Literal["log", "webhook"] = "log"
    url: StrictStr | None = None
    format: Literal["json", "slack"] = "json"
    timeout_seconds: _Positive = 5.0
    retries: StrictInt = Field(default=3, ge=0, le=10)
    backoff_seconds: float = Field(default=0.5, ge=0, le=60, strict=True, allow_inf_nan=False)
    headers: dict[StrictStr, StrictStr] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _webhook_has_url(self) -> ChannelConfig:
        if self.type == "webhook":
            if self.url is None:
                raise ValueError("a webhook channel needs url")
            if not self.url.startswith(("http://", "https://")):
                raise ValueError("expected url to start with http:// or https://")
        elif self.url is not None:
            raise ValueError("url applies only to type: webhook")
        return self


class AlertsConfig(BaseModel):
    """The ``alerts:`` section: who hears about problems, and how often.

    Attributes
    ----------
    channels
        Where alerts go (default: the log).
    min_status
        The lowest check status that alerts: ``alert`` or ``warning``.
    cooldown
        An alert on the same (model, check, column) is not repeated within this time, unless
        it recovered in between.
    top_features
        How many drifted features an alert lists (ranked by drift effect times importance).
    """

    model_config = _frozen()

    channels: list[ChannelConfig] = Field(default_factory=lambda: [ChannelConfig()])
    min_status: Literal["warning", "alert"] = "alert"
    cooldown: Duration = timedelta(days=1)
    top_features: StrictInt = Field(default=5, ge=1, le=100)


class ScheduleTrigger(Schedule):
    """Act on a schedule, whatever the checks say (``every: 30d`` or ``cron: ...``)."""

    action: _Action = "retrain"


class PerformanceTrigger(BaseModel):
    """Act when performance breaches.

    By default the stored status of the performance checks decides (their bands and floors
    come from the baseline and ``monitor.performance``). ``floor`` (per metric, e.g.
    ``{accuracy: 0.8}``), ``max_drop`` (below the version's reference value) and
    ``min_labeled_rows`` override or add to it.
    """

    model_config = _frozen()

    enabled: StrictBool = True
    action: _Action = "retrain"
    metrics: list[StrictStr] | None = None
    floor: dict[StrictStr, float] = Field(default_factory=dict)
    max_drop: float | None = Field(default=None, gt=0, strict=True, allow_inf_nan=False)
    min_labeled_rows: StrictInt = Field(default=200, ge=0)

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: list[str] | None) -> list[str] | None:
        return _known(value, PERFORMANCE_METRICS, "metric")

    @field_validator("floor")
    @classmethod
    def _known_floors(cls, value: dict[str, float]) -> dict[str, float]:
        _known(sorted(value), PERFORMANCE_METRICS, "metric")
        return value


class DriftTrigger(BaseModel):
    """Act on data drift: a share of drifted features, named features, or multivariate drift."""

    model_config = _frozen()

    enabled: StrictBool = True
    action: _Action = "notify"
    share: _Fraction | None = 0.3
    features: list[StrictStr] = Field(default_factory=list)
    multivariate: StrictBool = True


class DataQualityTrigger(BaseModel):
    """Act on data-quality checks (default: notify with the failing checks and columns; the
    rows that fail are left out of any retraining)."""

    model_config = _frozen()

    enabled: StrictBool = True
    action: _Action = "notify"
    checks: list[StrictStr] | None = None


class ConceptDriftTrigger(BaseModel):
    """Act when a concept-drift detector on the error stream fires."""

    model_config = _frozen()

    enabled: StrictBool = True
    action: _Action = "retrain"
    detectors: list[StrictStr] | None = None

    @field_validator("detectors")
    @classmethod
    def _known_detectors(cls, value: list[str] | None) -> list[str] | None:
        return _known(value, DETECTORS, "detector")


class TriggersConfig(BaseModel):
    """The triggers of ``policy:``; each is on by default except ``schedule``."""

    model_config = _frozen()

    schedule: ScheduleTrigger | None = None
    performance: PerformanceTrigger = Field(default_factory=PerformanceTrigger)
    drift: DriftTrigger = Field(default_factory=DriftTrigger)
    data_quality: DataQualityTrigger = Field(default_factory=DataQualityTrigger)
    concept_drift: ConceptDriftTrigger = Field(default_factory=ConceptDriftTrigger)


class PolicyConfig(BaseModel):
    """The ``policy:`` section: when monitoring results turn into an action.

    Attributes
    ----------
    triggers
        What can fire, and the action each asks for.
    combine
        ``any``: the most severe action of the triggers that fired; ``all``: act only when
        every enabled trigger fired.
    consecutive
        A trigger fires only when its condition held in this many consecutive runs.
    cooldown
        After a ``retrain`` or ``rollback``, no other one for this long.
    max_actions, per
        At most ``max_actions`` retrains and rollbacks in any ``per`` period.
    """

    model_config = _frozen()

    triggers: TriggersConfig = Field(default_factory=TriggersConfig)
    combine: Literal["any", "all"] = "any"
    consecutive: StrictInt = Field(default=1, ge=1, le=100)
    cooldown: Duration = timedelta(days=3)
    max_actions: StrictInt = Field(default=3, ge=1)
    per: Duration = timedelta(days=30)


class RetrainDataConfig(BaseModel):
    """What a challenger is trained on.

    Attributes
    ----------
    include_reference
        Start from the champion's stored reference (training) data.
    window
        Recent labelled production rows, by event time, ending where the gate's holdout
        begins.
    max_rows, sample_seed
        At most this many production rows (a seeded sample when there are more).
    exclude_quality_failures
        Leave out rows the version's data-quality row mask rejects.
    """

    model_config = _frozen()

    include_reference: StrictBool = True
    window: Duration = timedelta(days=28)
    max_rows: StrictInt = Field(default=200_000, ge=1)
    sample_seed: StrictInt = Field(default=0, ge=0)
    exclude_quality_failures: StrictBool = True


class GateConfig(BaseModel):
    """The champion/challenger gate.

    Attributes
    ----------
    metric
        The metric compared (``auto``: ROC AUC for a binary classifier with scores, accuracy
        for other classifiers, MAE for regression).
    test
        ``bootstrap`` (paired bootstrap confidence interval of the metric difference) or
        ``mcnemar`` (accuracy only).
    tolerance
        How much worse than the champion the challenger may be (in the metric's units): the
        non-inferiority margin. The challenger passes when the one-sided lower confidence
        bound of (challenger - champion) is at least ``-tolerance``; with 0 it would have to
        be shown *better*, which an equally good challenger rarely is.
    confidence, n_bootstrap, seed
        The bootstrap's confidence level, resamples and seed.
    holdout
        The most recent labelled rows (by event time) held out of training for the gate.
    min_holdout_rows
        Fewer labelled holdout rows than this: the gate refuses (not enough evidence).
    floor
        An absolute level the challenger must reach on the holdout (higher-is-better
        metrics) or stay under (error metrics).
    """

    model_config = _frozen()

    metric: StrictStr = "auto"
    test: Literal["bootstrap", "mcnemar"] = "bootstrap"
    tolerance: float = Field(default=0.01, ge=0, strict=True, allow_inf_nan=False)
    confidence: float = Field(default=0.95, gt=0.5, lt=1, strict=True, allow_inf_nan=False)
    n_bootstrap: StrictInt = Field(default=1000, ge=100, le=100_000)
    seed: StrictInt = Field(default=0, ge=0)
    holdout: Duration = timedelta(days=2)
    min_holdout_rows: StrictInt = Field(default=200, ge=10)
    floor: float | None = Field(default=None, strict=True, allow_inf_nan=False)

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value != "auto":
            _known([value], GATE_METRICS, "metric ('auto' or one of the gate's)")
        return value

    @model_validator(mode="after")
    def _mcnemar_is_for_accuracy(self) -> GateConfig:
        if self.test == "mcnemar" and self.metric not in ("auto", "accuracy"):
            raise ValueError(f"test: mcnemar compares accuracy; metric is {self.metric!r}")
        return self


class DeployConfig(BaseModel):
    """How a challenger that passed the gate goes live.

    Attributes
    ----------
    mode
        ``direct``: move ``production`` at once; ``shadow``: move ``shadow`` first and
        promote once its shadow performance over ``promote_after_rows`` labelled rows is no
        worse than the champion's (beyond the gate's tolerance).
    """

    model_config = _frozen()

    mode: Literal["direct", "shadow"] = "direct"
    promote_after_rows: StrictInt = Field(default=500, ge=1)


class GuardConfig(BaseModel):
    """The post-deploy guard: after a promotion the previous champion scores the same traffic
    as ``shadow``, and the new one is rolled back after ``failures`` failed guard runs.

    Attributes
    ----------
    enabled
        Guard promotions at all.
    period
        How long after a promotion the guard watches.
    failures
        Guard runs with a failed check (within ``period``; one per run, however many of its
        checks failed) that trigger the rollback.
    max_disagreement
        Largest share of rows where the new and previous champion predict different classes
        (label-free; classification only).
    max_prediction_drift
        Largest Jensen-Shannon distance between the two models' prediction distributions.
    max_performance_drop
        Largest drop of the gate's metric from the previous champion, paired on the same
        labelled rows, once ``min_labeled_rows`` have labels.
    max_error_rate
        Largest share of requests refused for ``model_error`` since the promotion.
    max_latency_ratio
        Largest ratio of the new version's prediction time to the previous one's, both timed
        on the same recent inputs (measured once per promotion).
    min_rows
        Fewer served rows than this since the promotion: label-free checks wait.
    """

    model_config = _frozen()

    enabled: StrictBool = True
    period: Duration = timedelta(days=14)
    failures: StrictInt = Field(default=2, ge=1, le=100)
    max_disagreement: _Fraction = 0.25
    max_prediction_drift: _Fraction = 0.2
    max_performance_drop: float = Field(default=0.02, ge=0, strict=True, allow_inf_nan=False)
    max_error_rate: _Fraction = 0.01
    max_latency_ratio: float = Field(default=3.0, gt=1, strict=True, allow_inf_nan=False)
    min_rows: StrictInt = Field(default=200, ge=1)
    min_labeled_rows: StrictInt = Field(default=300, ge=1)


class RetrainConfig(BaseModel):
    """The ``retrain:`` section: the user's trainer and what happens to its model.

    Attributes
    ----------
    trainer
        ``"module:function"``: called in a subprocess with the training DataFrame and a
        context mapping; returns a fitted model. Without it the policy never retrains.
    python_path
        Folders added to the subprocess's import path (relative to the project folder); the
        project folder itself is always on it.
    timeout
        The trainer is killed after this long.
    data, gate, deploy, guard
        See their sections.
    """

    model_config = _frozen()

    trainer: StrictStr | None = None
    python_path: list[StrictStr] = Field(default_factory=list)
    timeout: Duration = timedelta(minutes=30)
    data: RetrainDataConfig = Field(default_factory=RetrainDataConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
    deploy: DeployConfig = Field(default_factory=DeployConfig)
    guard: GuardConfig = Field(default_factory=GuardConfig)

    @field_validator("trainer")
    @classmethod
    def _entry_point(cls, value: str | None) -> str | None:
        if value is None:
            return None
        module, sep, function = value.partition(":")
        if (
            not sep
            or not all(p.isidentifier() for p in module.split("."))
            or not all(p.isidentifier() for p in function.split("."))
        ):
            raise ValueError("expected an entry point 'module.path:function'")
        return value
