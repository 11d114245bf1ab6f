"""Prometheus metrics of the model server: one :class:`ServerMetrics` per worker process.

Every metric is listed in ``docs/metrics.md`` (name, type, labels, unit, meaning). Every
label is bounded: a model name the server was told about, a route template, an HTTP status, a
reason from :data:`~watchkeeper.server._errors.REASONS`, one of a model's inputs, at most
:data:`MAX_CLASSES` classes; anything else becomes ``"other"``.

Two modes:

* **single process** (the default): the metrics live in this object's own
  :class:`~prometheus_client.CollectorRegistry` (never the global one), with the client's
  process, platform and garbage-collector metrics.
* **multiprocess** (``multiprocess_dir``): each worker builds its own :class:`ServerMetrics`
  and writes its values to memory-mapped files in the shared folder;
  :meth:`ServerMetrics.render` merges the files of all workers (see ``docs/metrics.md``).

Series read at scrape time (alias moves and the newest monitor runs, from the database)
come from *scrape collectors* (:meth:`ServerMetrics.add_scrape_collector`): one that fails is
left out of that scrape and counted in ``watchkeeper_scrape_errors_total``.

Examples
--------
>>> metrics = ServerMetrics()
>>> metrics.set_model_inputs("churn", ["tenure", "plan"])
>>> metrics.observe_request(endpoint="/v2/models/{name}/infer", model="churn", code=200,
...                         seconds=0.004)
>>> body, content_type = metrics.render()
>>> content_type
'text/plain; version=0.0.4; charset=utf-8'
>>> [line for line in body.decode().splitlines() if line.startswith("watchkeeper_requests_t")]
['watchkeeper_requests_total{code="200",endpoint="/v2/models/{name}/infer",model="churn"} 1.0']
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    values,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from watchkeeper._version import __version__
from watchkeeper.errors import InvalidParameterError
from watchkeeper.server._errors import REASONS
from watchkeeper.store.tables import events, registered_models

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    import numpy.typing as npt
    from prometheus_client.metrics_core import Metric

    from watchkeeper.store.database import Database

__all__ = ["CONTENT_TYPE", "MAX_CLASSES", "MAX_FIELDS", "OTHER", "ServerMetrics", "WriterStats"]

logger = logging.getLogger(__name__)

#: The exposition format :meth:`ServerMetrics.render` produces (Prometheus text 0.0.4).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: A classifier with more classes has its predicted values histogrammed instead of counted.
MAX_CLASSES = 20
#: Inputs of a model that may appear in the ``field`` label (the first ones given).
MAX_FIELDS = 100
#: The label value of anything outside a label's bounded set.
OTHER = "other"
#: Why the shadow version may not score a request.
SHADOW_SKIPS = ("schema", "busy", "log_busy", "error")
_ENV = "PROMETHEUS_MULTIPROC_DIR"
_ROLES = ("served", "shadow")
_GaugeMode = Literal["livesum", "mostrecent", "max"]


def _decades(low: int, high: int) -> list[float]:
    """1, 2.5 and 5 times each power of ten from 10**low up to 10**high."""
    edges = [float(f"{m}e{e}") for e in range(low, high) for m in ("1", "2.5", "5")]
    return [*edges, float(f"1e{high}")]


#: Request latency: 1 ms to 10 s.
REQUEST_BUCKETS = tuple(_decades(-3, 1))
#: One group commit of the prediction log: 0.5 ms to 10 s.
COMMIT_BUCKETS = (0.0005, *_decades(-3, 1))
#: Loading a model version: 10 ms to 5 minutes.
LOAD_BUCKETS = (*_decades(-2, 1)[:-1], 10.0, 30.0, 60.0, 120.0, 300.0)
#: A binary classifier's positive-class score: 0.05 wide.
SCORE_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 21))
#: Label delay: 1 minute to 90 days.
_MIN, _HOUR, _DAY = 60.0, 3600.0, 86400.0
LABEL_DELAY_BUCKETS = (
    *(_MIN * m for m in (1, 5, 15, 30)),
    *(_HOUR * h for h in (1, 2, 6, 12)),
    *(_DAY * d for d in (1, 2, 4, 7, 14, 30, 60, 90)),
)
#: A predicted value (regression, or a classifier with many numeric classes): ±0.01 to ±10⁶.
VALUE_BUCKETS = (*(-b for b in reversed(_decades(-2, 6))), 0.0, *_decades(-2, 6))


_Labels = tuple[str, ...]
_MV = ("model", "version")
#: Every metric the server defines: name without the prefix (and without ``_total`` for
#: counters) -> help, labels (and the gauge's multiprocess mode, the histogram's buckets).
_COUNTERS: dict[str, tuple[str, _Labels]] = {
    "requests": ("HTTP requests answered.", ("endpoint", "model", "code")),
    "rejected_requests": ("Requests refused.", ("model", "endpoint", "reason", "field")),
    "predictions": ("Rows predicted.", (*_MV, "role")),
    "predicted_class": ("Rows predicted, by predicted class.", (*_MV, "class")),
    "log_commits": ("Prediction log transactions committed.", ()),
    "log_rows_written": ("Prediction log rows committed.", ()),
    "log_failed_batches": ("Prediction batches that could not be logged.", ()),
    "labels_received": ("Labels received.", ("model",)),
    "labels_joined": ("Labels joined to a logged prediction.", ("model",)),
    "labels_unknown": ("Labels matching no logged prediction.", ("model",)),
    "shadow_skipped": (
        "Requests the shadow version did not score (schema, busy, log_busy, error).",
        ("model", "reason"),
    ),
    "model_load_failures": ("Model versions that failed to load.", _MV),
    "scrape_errors": ("Scrape collectors that failed (their series left out).", ("collector",)),
}
_GAUGES: dict[str, tuple[str, _Labels, _GaugeMode]] = {
    "log_queue_depth": ("Prediction batches waiting for the log writer.", (), "livesum"),
    "model_info": (
        "1 for the version an alias serves (0 for earlier ones in multiprocess mode).",
        ("model", "alias", "version", "flavour"),
        "mostrecent",
    ),
    "model_ready": ("1 if the alias's version is ready.", ("model", "alias"), "mostrecent"),
    "build_info": ("1, labelled with the watchkeeper version.", ("version",), "max"),
}
_HISTOGRAMS: dict[str, tuple[str, _Labels, tuple[float, ...]]] = {
    "request_duration_seconds": ("Request to response.", ("endpoint", "model"), REQUEST_BUCKETS),
    "prediction_value": ("Predicted values.", _MV, VALUE_BUCKETS),
    "prediction_score": ("A binary classifier's positive-class score.", _MV, SCORE_BUCKETS),
    "log_commit_duration_seconds": ("One prediction log transaction.", (), COMMIT_BUCKETS),
    "label_delay_seconds": ("Event time to label arrival.", ("model",), LABEL_DELAY_BUCKETS),
    "model_load_duration_seconds": ("Loading a model version.", ("model", "outcome"), LOAD_BUCKETS),
}


class WriterStats(Protocol):
    """What :meth:`ServerMetrics.attach_writer` reads of a ``GroupCommitWriter``."""

    @property
    def queue_depth(self) -> int: ...
    @property
    def commits(self) -> int: ...
    @property
    def rows_written(self) -> int: ...
    @property
    def failed_batches(self) -> int: ...


class _ScrapeCollectors:
    """The scrape collectors, run in order at every scrape; a failing one is skipped."""

    def __init__(self, errors: Counter) -> None:
        self.collectors: dict[str, Callable[[], Iterable[Metric]]] = {}
        self.errors = errors

    def collect(self) -> Iterable[Metric]:
        for name, collect in list(self.collectors.items()):
            try:
                families = list(collect())
            except Exception:  # /metrics must answer whatever one source does
                logger.warning(
                    "The metrics collector %r failed; its series are left out of this scrape",
                    name,
                    exc_info=True,
                )
                self.errors.labels(name).inc()
                continue
            yield from families


class ServerMetrics:
    """The model server's Prometheus metrics (see ``docs/metrics.md`` for the list).

    Parameters
    ----------
    multiprocess_dir
        None: single-process mode. A folder: multiprocess mode, shared by every worker of the
        server (an existing, initially empty folder; the runner sets ``PROMETHEUS_MULTIPROC_DIR``
        to it before the workers start).
    value_buckets
        Bucket upper bounds of ``watchkeeper_prediction_value`` (increasing; default
        :data:`VALUE_BUCKETS`, ±0.01 to ±10⁶ on a 1-2.5-5 scale).

    Raises
    ------
    InvalidParameterError
        ``multiprocess_dir`` is not a folder, or ``PROMETHEUS_MULTIPROC_DIR`` names another
        one; or single-process mode was asked for in a process that prometheus-client runs in
        multiprocess mode; or ``value_buckets`` is not increasing.

    Notes
    -----
    prometheus-client picks file-backed values when it is imported with
    ``PROMETHEUS_MULTIPROC_DIR`` set, and a value opens its file in the folder the variable
    names when the value is created. So multiprocess mode belongs to the whole process: this
    constructor sets the variable if it is unset, and switches the client to file-backed values
    if it was imported before (metrics other code made earlier stay in-process).
    """

    def __init__(
        self,
        *,
        multiprocess_dir: str | os.PathLike[str] | None = None,
        value_buckets: Sequence[float] | None = None,
    ) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.value_buckets = value_buckets
        if multiprocess_dir is None:
            _refuse_multiprocess_process()
        else:
            _enter_multiprocess_mode(Path(multiprocess_dir))
        self._multiprocess = multiprocess_dir is not None
        self._lock = threading.Lock()
        self._known: set[str] = set()
        self._inputs: dict[str, frozenset[str]] = {}
        self._served: dict[tuple[str, str], tuple[str, str]] = {}
        self._classes_seen: set[tuple[str, str, tuple[str, ...]]] = set()
        self._writer: WriterStats | None = None
        self._writer_seen = (0, 0, 0)

        value_edges = VALUE_BUCKETS if value_buckets is None else _check_buckets(value_buckets)
        buckets = {"prediction_value": value_edges}
        self.counters = {
            name: Counter(f"watchkeeper_{name}_total", doc, labels, registry=None)
            for name, (doc, labels) in _COUNTERS.items()
        }
        self.gauges = {
            name: Gauge(f"watchkeeper_{name}", doc, labels, registry=None, multiprocess_mode=mode)
            for name, (doc, labels, mode) in _GAUGES.items()
        }
        self.histograms = {
            name: Histogram(
                f"watchkeeper_{name}", doc, labels, registry=None, buckets=buckets.get(name, edges)
            )
            for name, (doc, labels, edges) in _HISTOGRAMS.items()
        }
        self.gauges["build_info"].labels(__version__).set(1)

        self.registry = CollectorRegistry()
        self._scrape = _ScrapeCollectors(self.counters["scrape_errors"])
        # First: a failure counted while collecting shows in the same scrape.
        self.registry.register(self._scrape)
        if multiprocess_dir is not None:
            # (prometheus-client leaves it unannotated)
            MultiProcessCollector(self.registry, path=os.fspath(multiprocess_dir))  # type: ignore[no-untyped-call]
        else:
            for metrics in (self.counters, self.gauges, self.histograms):
                for metric in metrics.values():
                    self.registry.register(metric)
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)

    def __repr__(self) -> str:
        if self.multiprocess_dir is None:
            return "ServerMetrics()"
        return f"ServerMetrics(multiprocess_dir={os.fspath(self.multiprocess_dir)!r})"

    # ------------------------------------------------------------------ bounded labels
    def _model(self, model: str) -> str:
        return model if model == "" or model in self._known else OTHER

    def _field(self, model: str, field: str | None) -> str:
        if field is None:
            return ""
        return field if field in self._inputs.get(model, frozenset()) else OTHER

    def set_model_inputs(self, model: str, names: Sequence[str]) -> None:
        """Declare ``model``'s inputs: the values its ``field`` label may take (the first
        :data:`MAX_FIELDS`); the model's name becomes a known ``model`` label value."""
        with self._lock:
            self._inputs[model] = frozenset(list(names)[:MAX_FIELDS])
            self._known.add(model)

    # ------------------------------------------------------------------ requests
    def observe_request(self, *, endpoint: str, model: str, code: int, seconds: float) -> None:
        """Count an answered request and observe its latency.

        ``endpoint`` is the route template (``/v2/models/{name}/infer``), never the raw path;
        ``model`` is ``""`` for a request about no model. In multiprocess mode this also
        calls :meth:`refresh`, so that the writer's series of every worker stay current.
        """
        _check_seconds("seconds", seconds)
        if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
            raise InvalidParameterError(f"code must be an HTTP status (100-599). Got {code!r}.")
        label = self._model(model)
        self.counters["requests"].labels(endpoint, label, str(code)).inc()
        self.histograms["request_duration_seconds"].labels(endpoint, label).observe(seconds)
        if self._multiprocess:
            self.refresh()

    def observe_rejected(
        self, *, model: str, endpoint: str, reason: str, field: str | None
    ) -> None:
        """Count a refused request: ``field`` is kept if it is one of the model's declared
        inputs, ``""`` if None, else ``"other"``; an unknown ``reason`` becomes ``"other"``."""
        self.counters["rejected_requests"].labels(
            self._model(model),
            endpoint,
            reason if reason in REASONS else OTHER,
            self._field(model, field),
        ).inc()

    # ------------------------------------------------------------------ predictions
    def observe_rows(self, *, model: str, version: int, role: str, n: int) -> None:
        """Count ``n`` rows predicted by ``version`` as ``role`` (``served`` or ``shadow``)."""
        if role not in _ROLES:
            raise InvalidParameterError(f"role must be 'served' or 'shadow'. Got {role!r}.")
        _check_count("n", n)
        self.counters["predictions"].labels(self._model(model), str(version), role).inc(n)

    def observe_outputs(
        self,
        *,
        model: str,
        version: int,
        labels: npt.ArrayLike,
        proba: npt.ArrayLike | None,
        classes: Sequence[Any] | None,
    ) -> None:
        """Record what a batch of predictions looked like, in one pass per array.

        A classifier with at most :data:`MAX_CLASSES` ``classes`` counts its predicted labels
        per class (``class="other"`` for a label not in ``classes``). Otherwise numeric labels
        (regression, or many numeric classes) go to the ``watchkeeper_prediction_value``
        histogram; non-numeric labels of a classifier with more classes are not recorded.
        ``proba`` of a binary classifier (two columns, or the positive-class column alone)
        goes to ``watchkeeper_prediction_score``. Non-finite values are left out.
        """
        name, ver = self._model(model), str(version)
        predicted = np.asarray(labels).ravel()
        if classes is not None and len(classes) <= MAX_CLASSES:
            self._count_classes(name, ver, predicted, classes)
        elif predicted.dtype.kind in "biuf":
            numbers = predicted.astype(float)
            _observe_many(
                self.histograms["prediction_value"].labels(name, ver), numbers[np.isfinite(numbers)]
            )
        if proba is None:
            return
        scores = np.asarray(proba, dtype=float)
        if scores.ndim == 2 and scores.shape[1] == 2 and (classes is None or len(classes) == 2):
            scores = scores[:, 1]
        elif not (scores.ndim == 1 and classes is not None and len(classes) == 2):
            return  # not a binary classifier's scores
        _observe_many(
            self.histograms["prediction_score"].labels(name, ver), scores[np.isfinite(scores)]
        )

    def _count_classes(
        self, model: str, version: str, predicted: np.ndarray[Any, Any], classes: Sequence[Any]
    ) -> None:
        names = tuple(np.asarray(classes).astype(str).tolist())
        key = (model, version, names)
        if key not in self._classes_seen:  # every class shows, at 0 until predicted
            for class_name in names:
                self.counters["predicted_class"].labels(model, version, class_name)
            self._classes_seen.add(key)
        try:  # unique values first, then their names: fast for numeric labels
            found, counts = np.unique(predicted, return_counts=True)
        except TypeError:  # an object array of mixed types
            found, counts = np.unique(predicted.astype(str), return_counts=True)
        known = set(names)
        for value, count in zip(found.astype(str).tolist(), counts.tolist(), strict=True):
            label = value if value in known else OTHER
            self.counters["predicted_class"].labels(model, version, label).inc(count)

    # ------------------------------------------------------------------ labels
    def observe_labels(
        self,
        *,
        model: str,
        received: int,
        joined: int,
        unknown: int,
        delays_seconds: npt.ArrayLike,
    ) -> None:
        """Count labels received, joined to a prediction and unknown, and observe the delays
        (seconds from each joined prediction's event time to its label's arrival; a negative
        delay, from clock skew, counts as 0; non-finite ones are left out)."""
        for what, count in (("received", received), ("joined", joined), ("unknown", unknown)):
            _check_count(what, count)
        name = self._model(model)
        self.counters["labels_received"].labels(name).inc(received)
        self.counters["labels_joined"].labels(name).inc(joined)
        self.counters["labels_unknown"].labels(name).inc(unknown)
        delays = np.asarray(delays_seconds, dtype=float).ravel()
        delays = np.maximum(delays[np.isfinite(delays)], 0.0)
        _observe_many(self.histograms["label_delay_seconds"].labels(name), delays)

    def observe_shadow_skipped(self, *, model: str, reason: str) -> None:
        """Count a request the shadow version did not score, by a fixed reason."""
        label = reason if reason in SHADOW_SKIPS else OTHER
        self.counters["shadow_skipped"].labels(self._model(model), label).inc()

    # ------------------------------------------------------------------ models
    def observe_model_load(self, *, model: str, version: int, seconds: float, ok: bool) -> None:
        """Observe how long loading ``version`` took, and count it if it failed. Call it only
        for models that exist in the registry: their name becomes a known ``model`` label."""
        _check_seconds("seconds", seconds)
        with self._lock:
            self._known.add(model)
        self.histograms["model_load_duration_seconds"].labels(
            model, "ok" if ok else "error"
        ).observe(seconds)
        if not ok:
            self.counters["model_load_failures"].labels(model, str(version)).inc()

    def set_served(
        self, *, model: str, alias: str, version: int, flavour: str, ready: bool
    ) -> None:
        """Record that ``alias`` of ``model`` now serves ``version`` and whether it is ready.

        ``watchkeeper_model_info`` gets 1 for (model, alias, version, flavour). The series of
        the version the alias served before is removed; in multiprocess mode, where
        prometheus-client cannot remove a series, it is set to 0 instead (and stays until the
        server restarts with a fresh folder), so select the current version with ``== 1``.
        """
        labels = (str(version), flavour)
        with self._lock:
            self._known.add(model)
            previous = self._served.get((model, alias))
            self._served[(model, alias)] = labels
            if previous is not None and previous != labels:
                if self._multiprocess:
                    self.gauges["model_info"].labels(model, alias, *previous).set(0)
                else:
                    self.gauges["model_info"].remove(model, alias, *previous)
            self.gauges["model_info"].labels(model, alias, *labels).set(1)
            self.gauges["model_ready"].labels(model, alias).set(1 if ready else 0)

    # ------------------------------------------------------------------ the log writer
    def attach_writer(self, writer: WriterStats) -> None:
        """Expose the prediction log writer's queue depth, commits, rows written and failed
        batches (read by :meth:`refresh`). Its counts so far are included."""
        with self._lock:
            self._writer = writer
            self._writer_seen = (0, 0, 0)
        self.refresh()

    def observe_commit(self, seconds: float) -> None:
        """Observe one prediction log transaction's duration (call it from the writer's
        commit hook: the writer keeps only the last duration, too little for a histogram)."""
        _check_seconds("seconds", seconds)
        self.histograms["log_commit_duration_seconds"].observe(seconds)

    def refresh(self) -> None:
        """Bring the writer's series up to date (the counters grow by what the writer counted
        since the last refresh). :meth:`render` calls it; in multiprocess mode so does
        :meth:`observe_request`, as a scrape reaches only one worker."""
        with self._lock:
            writer = self._writer
            if writer is None:
                return
            now = (int(writer.commits), int(writer.rows_written), int(writer.failed_batches))
            names = ("log_commits", "log_rows_written", "log_failed_batches")
            for name, before, after in zip(names, self._writer_seen, now, strict=True):
                if after > before:
                    self.counters[name].inc(after - before)
            self._writer_seen = now
            self.gauges["log_queue_depth"].set(int(writer.queue_depth))

    # ------------------------------------------------------------------ scrape time
    def add_scrape_collector(self, name: str, collect: Callable[[], Iterable[Metric]]) -> None:
        """Run ``collect`` at every scrape and expose the metric families it returns.

        If it raises, its families are left out of that scrape, the error is logged and
        ``watchkeeper_scrape_errors_total{collector=name}`` grows by one. Adding a collector
        under a name already used replaces it. Collectors run in the worker that answers the
        scrape, so they should read shared state (the database), not the worker's memory.
        """
        with self._lock:
            self._scrape.collectors[name] = collect
        self.counters["scrape_errors"].labels(name)

    def attach_database(self, database: Database) -> None:
        """Expose ``watchkeeper_alias_moves_total{model,alias,trigger}``, read from the
        database's ``alias_move`` events (one grouped query per scrape)."""
        self.add_scrape_collector("alias_moves", lambda: _alias_moves(database))

    def attach_monitor(self, database: Database, features: Sequence[str] | None = None) -> None:
        """Expose the gauges of every model's newest stored monitor run, read at scrape time
        (at most every 2 s; see :mod:`watchkeeper.server._monitor_metrics`), with per-feature
        series for ``features`` (``monitor.metrics_features``; None: the first 50 of each
        run's feature columns, alphabetically)."""
        from watchkeeper.server._monitor_metrics import MonitorCollector

        self.add_scrape_collector("monitor", MonitorCollector(database, features=features))

    # ------------------------------------------------------------------ exposition
    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """The exposition of every metric and its content type.

        ``accept`` is the scrape's ``Accept`` header. The text format 0.0.4 is produced
        whatever it asks for: every Prometheus reads it, and ``promtool check metrics``
        checks it (it cannot check OpenMetrics).
        """
        del accept  # one format only, see above
        self.refresh()
        return generate_latest(self.registry), CONTENT_TYPE


# ---------------------------------------------------------------------------- helpers
def _refuse_multiprocess_process() -> None:
    if os.environ.get(_ENV) or getattr(values.ValueClass, "_multiprocess", False):
        raise InvalidParameterError(
            f"{_ENV} is set ({os.environ.get(_ENV)!r}), so prometheus-client runs this process "
            "in multiprocess mode; create ServerMetrics(multiprocess_dir=...) with that folder, "
            f"or unset {_ENV} before starting the server."
        )


def _enter_multiprocess_mode(directory: Path) -> None:
    if not directory.is_dir():
        raise InvalidParameterError(
            f"multiprocess_dir must be an existing folder shared by the server's workers. "
            f"Got {os.fspath(directory)!r}, which is not a folder."
        )
    current = os.environ.get(_ENV)
    if not current:
        os.environ[_ENV] = os.fspath(directory)
    elif Path(current).resolve() != directory.resolve():
        raise InvalidParameterError(
            f"{_ENV} is {current!r} but multiprocess_dir is {os.fspath(directory)!r}; "
            "prometheus-client writes to the former, so give the same folder."
        )
    if not getattr(values.ValueClass, "_multiprocess", False):
        # prometheus-client was imported before the variable was set: switch it to
        # file-backed values now, as it would have chosen at import.
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]


def _check_buckets(buckets: Sequence[float]) -> tuple[float, ...]:
    edges = tuple(float(b) for b in buckets)
    if not edges or any(not a < b for a, b in itertools.pairwise(edges)):
        raise InvalidParameterError(
            f"value_buckets must be increasing bucket upper bounds. Got {list(buckets)!r}."
        )
    return edges


def _check_seconds(name: str, value: float) -> None:
    number = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool
    )
    if not (number and math.isfinite(value) and value >= 0):
        raise InvalidParameterError(
            f"{name} must be a finite number of seconds >= 0. Got {value!r}."
        )


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise InvalidParameterError(f"{name} must be an integer >= 0. Got {value!r}.")


def _observe_many(histogram: Histogram, observed: np.ndarray[Any, Any]) -> None:
    """``histogram.observe`` of every value, as one increment per bucket and one of the sum.

    A value counts in the first bucket whose upper bound it does not exceed (``le``), as
    :meth:`prometheus_client.Histogram.observe` counts it.
    """
    if observed.size == 0:
        return
    if not hasattr(histogram, "_buckets"):  # pragma: no cover - a prometheus-client rewrite
        for value in observed.tolist():
            histogram.observe(value)
        return
    bounds = np.asarray(histogram._upper_bounds, dtype=float)
    counts = np.bincount(np.searchsorted(bounds, observed, side="left"), minlength=bounds.size)
    for index in np.flatnonzero(counts).tolist():
        histogram._buckets[index].inc(float(counts[index]))
    histogram._sum.inc(float(observed.sum()))


def _alias_moves(database: Database) -> list[Metric]:
    """``watchkeeper_alias_moves_total`` from the ``alias_move`` events, in one query."""
    query = (
        select(registered_models.c.name, events.c.alias, events.c.trigger, func.count())
        .select_from(events.join(registered_models, events.c.model_id == registered_models.c.id))
        .where(events.c.kind == "alias_move")
        .group_by(registered_models.c.name, events.c.alias, events.c.trigger)
        .order_by(registered_models.c.name, events.c.alias, events.c.trigger)
    )
    with database.read() as conn:
        rows = conn.execute(query).all()
    family = CounterMetricFamily(
        "watchkeeper_alias_moves_total",
        "Alias moves (deploys and rollbacks) recorded in the registry.",
        labels=("model", "alias", "trigger"),
    )
    for model, alias, trigger, count in rows:
        family.add_metric((model, alias or "", trigger or ""), float(count))
    return [family]
