"""The models a server is serving, and how it swaps them when an alias moves.

:class:`ModelManager` keeps, per served model, the version its serving alias points at (and the
``shadow`` alias's, when set), each loaded once with its own
:class:`~watchkeeper.server._batching.AdaptiveBatcher`. A background task re-reads the aliases
every ``serve.poll_seconds``; a moved alias is loaded off the event loop and swapped in with
one reference assignment, so requests never wait for a load. A request holds the version it
started with (:meth:`ModelManager.use`) until it has answered and logged, so in-flight requests
finish on it; a retired version's batcher is closed when its last request is done.

A version that fails to load (corrupt artifact, missing dependency) is never swapped in: the
old one keeps serving, the failure is recorded once as a ``deploy_failed`` event, and the
version's ready endpoint says not ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from watchkeeper.errors import ArtifactIntegrityError, ModelFormatError, ModelNotFoundError
from watchkeeper.server._batching import AdaptiveBatcher
from watchkeeper.server._errors import RequestError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Mapping

    from watchkeeper.config import ServeConfig
    from watchkeeper.registry import Project
    from watchkeeper.registry._records import ModelVersion
    from watchkeeper.server._metrics import ServerMetrics

__all__ = ["Loaded", "ModelManager"]

logger = logging.getLogger("watchkeeper.server")

_CACHED_VERSIONS = 4  # versions asked for by number, kept loaded besides the aliased ones
_CHECK_ROWS = 2_000  # reference rows that decide whether labels can come from the probabilities


@dataclass(eq=False)
class Loaded:
    """One loaded model version, ready to predict.

    ``predict(columns)`` runs in the batcher's thread and returns ``labels`` and, for a
    classifier with ``predict_proba``, ``proba``.
    """

    record: ModelVersion
    model: Any
    batcher: AdaptiveBatcher
    classes: list[Any] | None
    has_proba: bool
    id_column: str | None
    prediction_name: str
    proba_names: list[str]
    load_seconds: float
    users: int = 0
    retired: bool = False

    @property
    def version(self) -> int:
        return self.record.version

    def outputs(self, labels: np.ndarray, proba: np.ndarray | None) -> dict[str, np.ndarray]:
        """The columns the log keeps for these predictions, named as the version recorded."""
        out: dict[str, np.ndarray] = {self.prediction_name: labels}
        if proba is not None and self.proba_names:
            if len(self.proba_names) == 1 and proba.shape[1] == 2:
                out[self.proba_names[0]] = proba[:, 1]
            elif len(self.proba_names) == proba.shape[1]:
                out.update({name: proba[:, k] for k, name in enumerate(self.proba_names)})
        return out


# Failures no retry can cure before the artifact or the environment changes (a restart).
_PERMANENT = (ArtifactIntegrityError, ModelFormatError, ImportError, AttributeError)
_RETRY_SECONDS = (5.0, 30.0, 120.0, 300.0)


@dataclass(frozen=True)
class _Failure:
    """Why a version did not load; transient failures are retried with backoff."""

    message: str  # for the log and the history (may name paths)
    kind: str  # the exception's type, all a client is told
    permanent: bool
    attempts: int
    retry_at: float

    @classmethod
    def of(cls, exc: Exception, previous: _Failure | None) -> _Failure:
        attempts = 1 if previous is None else previous.attempts + 1
        delay = _RETRY_SECONDS[min(attempts, len(_RETRY_SECONDS)) - 1]
        return cls(
            message=f"{type(exc).__name__}: {exc}",
            kind=type(exc).__name__,
            permanent=isinstance(exc, _PERMANENT),
            attempts=attempts,
            retry_at=time.monotonic() + delay,
        )

    def error(self, name: str, version: int) -> RequestError:
        return RequestError(
            "not_ready",
            f"Version {version} of {name!r} failed to load ({self.kind}); the server's log and "
            "the model's history have the details.",
        )


@dataclass(eq=False)
class _Served:
    name: str
    current: Loaded | None = None
    shadow: Loaded | None = None
    wanted: int | None = None  # the version the serving alias points at
    wanted_shadow: int | None = None
    failed: dict[int, _Failure] = field(default_factory=dict)  # versions that did not load
    cached: OrderedDict[int, Loaded] = field(default_factory=OrderedDict)
    loading: dict[int, asyncio.Future[Loaded]] = field(default_factory=dict)


def _predictor(model: Any, record: ModelVersion, labels_from_proba: bool) -> Callable[..., Any]:
    import pandas as pd

    info = record.model_info
    as_array = info.get("feature_names") is None and info.get("n_features") is not None
    has_proba = bool(info.get("has_predict_proba")) and info.get("classes") is not None
    classes = np.asarray(info.get("classes")) if info.get("classes") is not None else None

    def predict(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        X: Any = pd.DataFrame(columns, copy=False)
        if as_array:
            X = X.to_numpy()
        if labels_from_proba and classes is not None:
            proba = np.asarray(model.predict_proba(X), dtype=np.float64)
            return {"labels": classes[np.argmax(proba, axis=1)], "proba": proba}
        labels = np.asarray(model.predict(X))
        if has_proba:
            return {"labels": labels, "proba": np.asarray(model.predict_proba(X), np.float64)}
        return {"labels": labels}

    return predict


class ModelManager:
    """Loads, serves and swaps the project's served models (see the module docstring).

    Parameters
    ----------
    project
        The open project.
    config
        The ``serve:`` settings.
    metrics
        Where loads and readiness are reported.
    """

    def __init__(self, project: Project, config: ServeConfig, metrics: ServerMetrics) -> None:
        self.project = project
        self.config = config
        self.metrics = metrics
        self._served: dict[str, _Served] = {}
        self._poller: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._refresh_lock = asyncio.Lock()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Load every served model's aliased versions, then poll for alias moves."""
        await self.refresh()
        self._poller = asyncio.create_task(self._poll(), name="watchkeeper-alias-poll")

    async def aclose(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        loaded = {
            id(x): x
            for s in self._served.values()
            for x in (s.current, s.shadow, *s.cached.values())
            if x is not None
        }
        for x in loaded.values():
            await x.batcher.aclose()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    @property
    def names(self) -> list[str]:
        return list(self._served)

    def default_model_or_none(self) -> str | None:
        try:
            return self.default_model()
        except RequestError:
            return None

    def default_model(self) -> str:
        """The model ``/invocations`` serves: ``serve.default_model`` or the only one."""
        if self.config.default_model is not None:
            return self.config.default_model
        if len(self._served) == 1:
            return next(iter(self._served))
        raise RequestError(
            "not_found",
            "This server serves "
            + (
                f"{len(self._served)} models ({', '.join(self._served)})"
                if self._served
                else "no model"
            )
            + "; /invocations needs serve.default_model in watchkeeper.yaml, or use "
            "/v2/models/{name}/infer.",
        )

    # ------------------------------------------------------------------ alias polling
    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.config.poll_seconds)
            try:
                await self.refresh()
            except Exception:  # a database hiccup must not stop the polling
                logger.exception(
                    "Re-reading the aliases failed; the served versions are unchanged."
                )

    async def refresh(self) -> None:
        """Re-read the aliases and swap in every moved version that loads.

        Serialized: the poller and the admin routes may call it at once, and the last move
        read must be the one served.
        """
        async with self._refresh_lock:
            wanted = await asyncio.to_thread(self._read_aliases)
            for name, (version, shadow) in wanted.items():
                served = self._served.setdefault(name, _Served(name))
                served.wanted, served.wanted_shadow = version, shadow
                await self._follow(served, version)
                await self._follow_shadow(served, shadow)

    async def _follow(self, served: _Served, version: int | None) -> None:
        if version is None or (served.current is not None and served.current.version == version):
            return
        new = await self._try_load(served, version, alias=self.config.alias)
        if new is None and served.current is None:
            new = await self._fallback(served, version)
        if new is not None:
            self._swap_in(served, new, self.config.alias)

    async def _follow_shadow(self, served: _Served, shadow: int | None) -> None:
        alias = self.config.shadow_alias
        if shadow is None or alias is None:
            old, served.shadow = served.shadow, None
            self._retire(old, served)
        elif served.shadow is None or served.shadow.version != shadow:
            new = await self._try_load(served, shadow, alias=alias)
            if new is not None:
                old, served.shadow = served.shadow, new
                self._retire(old, served)
                self.metrics.set_served(
                    model=served.name,
                    alias=alias,
                    version=shadow,
                    flavour=new.record.flavour,
                    ready=True,
                )

    def _swap_in(self, served: _Served, new: Loaded, alias: str) -> None:
        old, served.current = served.current, new
        self._retire(old, served)
        self.metrics.set_served(
            model=served.name,
            alias=alias,
            version=new.version,
            flavour=new.record.flavour,
            ready=True,
        )

    async def _fallback(self, served: _Served, version: int) -> Loaded | None:
        """With nothing serving (a restart after a bad deploy), the alias's previous version."""
        previous = await asyncio.to_thread(self._previous_version, served.name, version)
        if previous is None:
            return None
        loaded = await self._try_load(served, previous, alias=None)
        if loaded is not None:
            logger.warning(
                "Version %s of %r does not load; serving its predecessor, version %s, until "
                "the alias moves.",
                version,
                served.name,
                previous,
            )
        return loaded

    def _previous_version(self, name: str, version: int) -> int | None:
        for event in reversed(
            self.project.registry.history(name, kinds=("alias_move",), limit=200)
        ):
            if event.alias == self.config.alias and event.to_version == version:
                return event.from_version
        return None

    def _read_aliases(self) -> dict[str, tuple[int | None, int | None]]:
        names = self.config.models
        models = self.project.models() if names is None else [self.project.model(n) for n in names]
        found: dict[str, tuple[int | None, int | None]] = {}
        for m in models:
            version = m.aliases.get(self.config.alias)
            if version is None and names is None:
                continue  # not deployed: not served unless named in serve.models
            shadow = m.aliases.get(self.config.shadow_alias) if self.config.shadow_alias else None
            found[m.name] = (version, shadow)
        return found

    async def _try_load(self, served: _Served, version: int, *, alias: str | None) -> Loaded | None:
        try:
            return await self._load(served, version, alias=alias)
        except RequestError:
            return None

    async def _load(self, served: _Served, version: int, *, alias: str | None = None) -> Loaded:
        """The loaded ``version`` (from the aliases, the cache, or loaded now, once).

        ``alias`` names the alias that asked for it; a failure is then recorded as a
        ``deploy_failed`` event (once per move), not for a version asked for by number.
        """
        for x in (served.current, served.shadow):
            if x is not None and x.version == version:
                return x
        if version in served.cached:
            served.cached.move_to_end(version)
            return served.cached[version]
        failure = served.failed.get(version)
        if failure is not None:
            if failure.permanent or time.monotonic() < failure.retry_at:
                raise failure.error(served.name, version)
            del served.failed[version]  # a transient failure: try again
        pending = served.loading.get(version)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            served.loading[version] = pending
            try:
                await self._load_into(served, version, alias, pending, failure)
            finally:
                served.loading.pop(version, None)
                if not pending.done():  # cancelled mid-load: release the waiters
                    pending.set_exception(
                        RequestError("not_ready", f"Loading version {version} was interrupted.")
                    )
        return await asyncio.shield(pending)

    async def _load_into(
        self,
        served: _Served,
        version: int,
        alias: str | None,
        pending: asyncio.Future[Loaded],
        previous: _Failure | None,
    ) -> None:
        try:
            loaded = await asyncio.to_thread(self._load_sync, served.name, version)
        except ModelNotFoundError as exc:
            pending.set_exception(RequestError("not_found", str(exc)))
        except Exception as exc:
            failure = _Failure.of(exc, previous)
            served.failed[version] = failure
            self.metrics.observe_model_load(
                model=served.name, version=version, seconds=0.0, ok=False
            )
            logger.error(
                "Version %s of %r failed to load: %s", version, served.name, failure.message
            )
            if alias is not None and previous is None:
                await asyncio.to_thread(
                    self._record_failure, served.name, version, alias, failure.message
                )
            pending.set_exception(failure.error(served.name, version))
        else:
            self.metrics.observe_model_load(
                model=served.name, version=version, seconds=loaded.load_seconds, ok=True
            )
            self.metrics.set_model_inputs(served.name, loaded.record.input_schema.names)
            pending.set_result(loaded)

    def _record_failure(self, name: str, version: int, alias: str, message: str) -> None:
        """Add ``deploy_failed`` unless another worker or replica already did for this move."""
        try:
            for event in reversed(self.project.history(name, limit=200)):
                if event.kind == "deploy_failed" and event.version == version:
                    return
                if event.kind == "alias_move" and event.to_version == version:
                    break
            self.project.record_event(
                name,
                "deploy_failed",
                version=version,
                reason=(
                    f"version {version} ({alias}) failed to load; the previous version keeps "
                    "serving"
                ),
                details={"alias": alias, "error": message[:2000]},
            )
        except Exception:  # the history is a record; serving goes on without it
            logger.exception("Could not record the deploy_failed event for %r v%s", name, version)

    def _load_sync(self, name: str, version: int) -> Loaded:
        started = time.perf_counter()
        record = self.project.get(name, version)
        model = self.project.load_model(record).model
        info = record.model_info
        classes = list(info["classes"]) if info.get("classes") is not None else None
        has_proba = bool(info.get("has_predict_proba")) and classes is not None
        fast = has_proba and self._labels_from_proba(model, record)
        outputs = record.data_info.get("outputs") or {}
        proba_names = list(outputs.get("proba") or [])
        if has_proba and not proba_names and classes is not None:
            proba_names = (
                ["prediction_proba"]
                if len(classes) == 2
                else [f"prediction_proba_{c}" for c in classes]
            )
        roles = record.data_info.get("roles") or {}
        return Loaded(
            record=record,
            model=model,
            batcher=AdaptiveBatcher(
                _predictor(model, record, fast),
                max_rows=self.config.batch_max_rows,
                max_wait=self.config.batch_max_wait_ms / 1000,
                name=f"{name}/{version}",
            ),
            classes=classes,
            has_proba=has_proba,
            id_column=roles.get("id"),
            prediction_name=outputs.get("prediction") or "prediction",
            proba_names=proba_names,
            load_seconds=time.perf_counter() - started,
        )

    def _labels_from_proba(self, model: Any, record: ModelVersion) -> bool:
        """Whether ``predict`` is the argmax of ``predict_proba`` on the stored reference data.

        Then one ``predict_proba`` call gives both (half the work per request); otherwise, or
        without stored reference data, both are called.
        """
        if record.reference_sha256 is None:
            return False
        try:
            data = self.project.load_data(record.name, record.version, "reference")
            X: Any = data[record.input_schema.names].head(_CHECK_ROWS)
            if record.model_info.get("feature_names") is None:
                X = X.to_numpy()
            classes = np.asarray(record.model_info["classes"])
            derived = classes[np.argmax(np.asarray(model.predict_proba(X)), axis=1)]
            return bool(np.array_equal(derived, np.asarray(model.predict(X))))
        except Exception:  # any doubt: call both
            return False

    # ------------------------------------------------------------------ requests
    @contextlib.asynccontextmanager
    async def use(
        self, name: str, version: int | None = None, *, shadow: bool = False
    ) -> AsyncIterator[Loaded]:
        """Hold the version that answers a request for ``name`` until the request is done."""
        loaded = await self.get(name, version, shadow=shadow)
        loaded.users += 1
        try:
            yield loaded
        finally:
            loaded.users -= 1
            if loaded.retired and loaded.users == 0:
                self._close_later(loaded)

    def require(self, name: str) -> None:
        """Refuse a model this server does not serve (404), before reading the body."""
        if name not in self._served:
            self._unknown(name)

    def _unknown(self, name: str) -> NoReturn:
        raise RequestError(
            "not_found",
            f"Model {name!r} is not served here"
            + (f"; served: {', '.join(self._served)}." if self._served else "; none is."),
            field="name",
        )

    async def get(self, name: str, version: int | None = None, *, shadow: bool = False) -> Loaded:
        """The version that answers: the serving alias's, the shadow's, or ``version``
        (loaded on first use and kept among the few most recently asked for)."""
        served = self._served.get(name)
        if served is None:
            self._unknown(name)
        if shadow:
            if served.shadow is None:
                raise RequestError("not_found", f"{name!r} has no shadow version.")
            return served.shadow
        if version is None:
            if served.current is None:
                failure = served.failed.get(served.wanted or 0)
                if failure is not None and served.wanted is not None:
                    raise failure.error(name, served.wanted)
                raise RequestError("not_ready", f"Model {name!r} has no version ready.")
            return served.current
        loaded = await self._load(served, version)
        if (
            loaded is not served.current
            and loaded is not served.shadow
            and version not in served.cached
        ):
            served.cached[version] = loaded
            self._evict(served)
        return loaded

    def shadow_of(self, name: str) -> Loaded | None:
        """The loaded shadow version of ``name``, if its shadow alias is set, loaded, and not
        the version the serving alias answers with (that one is never scored twice)."""
        served = self._served.get(name)
        if served is None or served.shadow is None:
            return None
        current = served.current
        if current is not None and current.version == served.shadow.version:
            return None
        return served.shadow

    def ready(self, name: str, version: int | None = None) -> bool:
        """Whether ``name`` (or that version of it) is loaded here and can answer at once.

        Never loads anything: a version asked for by number is loaded by its first request.
        """
        served = self._served.get(name)
        if served is None:
            return False
        if version is None:
            return served.current is not None
        if version in served.failed:
            return False
        return any(
            x is not None and x.version == version
            for x in (served.current, served.shadow, served.cached.get(version))
        )

    def failure(self, name: str, version: int) -> str | None:
        """The type of the error that kept ``version`` from loading (no paths), or None."""
        served = self._served.get(name)
        failure = None if served is None else served.failed.get(version)
        return None if failure is None else failure.kind

    def serving(self, name: str) -> Loaded | None:
        """The version answering for ``name``'s serving alias, if one is loaded."""
        served = self._served.get(name)
        return None if served is None else served.current

    # ------------------------------------------------------------------ retiring
    def _evict(self, served: _Served) -> None:
        while len(served.cached) > _CACHED_VERSIONS:
            _, old = served.cached.popitem(last=False)
            self._retire(old, served)

    def _retire(self, old: Loaded | None, served: _Served) -> None:
        if old is None or old in (served.current, served.shadow) or old in served.cached.values():
            return
        old.retired = True
        if old.users == 0:
            self._close_later(old)

    def _close_later(self, loaded: Loaded) -> None:
        task = asyncio.get_running_loop().create_task(loaded.batcher.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
