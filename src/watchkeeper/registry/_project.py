"""``watchkeeper.Project``: a project's database, artifact store and registry in one handle."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from watchkeeper.errors import (
    ArtifactError,
    InvalidNameError,
    InvalidParameterError,
    ModelNotFoundError,
    ProjectExistsError,
)
from watchkeeper.registry._names import check_alias, check_model_name, check_tags, check_text
from watchkeeper.registry._project_log import ProjectLog
from watchkeeper.registry._reads import MAX_VERSION, check_version_number

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from types import EllipsisType

    import pandas as pd

    from watchkeeper.baseline import Baseline
    from watchkeeper.clock import Clock
    from watchkeeper.config import WatchkeeperConfig
    from watchkeeper.registry._records import Event, ModelVersion, RegisteredModel
    from watchkeeper.registry._registry import Registry
    from watchkeeper.schema import Schema
    from watchkeeper.store.artifacts import ArtifactStore
    from watchkeeper.store.database import Database

__all__ = ["LoadedModel", "Project", "parse_model_uri"]

_URI = re.compile(r"models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>[^/]+))")


def parse_model_uri(uri: str) -> tuple[str, int | str | None, str | None]:
    """Split ``models:/name@alias``, ``models:/name/3`` or ``models:/name/latest``.

    Returns ``(name, version, alias)`` where version is an int, ``"latest"`` or None.
    """
    match = _URI.fullmatch(uri) if isinstance(uri, str) else None
    if match is None:
        raise InvalidNameError(
            f"Invalid model URI {uri!r}: expected models:/NAME@ALIAS, models:/NAME/VERSION or "
            "models:/NAME/latest."
        )
    name = check_model_name(match["name"])
    if match["alias"] is not None:
        return name, None, check_alias(match["alias"])
    raw = match["version"]
    if raw == "latest":
        return name, "latest", None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_VERSION:
        raise InvalidNameError(
            f"Invalid model URI {uri!r}: the version must be a number from 1 to {MAX_VERSION} or "
            "'latest'."
        )
    return name, int(raw), None


@dataclass(frozen=True)
class LoadedModel:
    """A model loaded from the registry (its artifact's sha256 checked), with its record."""

    version: ModelVersion
    model: Any

    def predict(self, X: Any) -> Any:
        return self.model.predict(X)

    def predict_proba(self, X: Any) -> Any:
        if not callable(getattr(self.model, "predict_proba", None)):
            raise InvalidParameterError(
                f"{self.version.uri} ({self.version.model_info.get('class')}) has no predict_proba."
            )
        return self.model.predict_proba(X)


def default_actor() -> str:
    """Who is acting: ``WATCHKEEPER_ACTOR``, else ``user@host``."""
    actor = os.environ.get("WATCHKEEPER_ACTOR")
    if actor:
        return actor
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


class Project(ProjectLog):
    """A watchkeeper project: its configuration, database, artifact store and model registry.

    Parameters
    ----------
    location
        A project folder (holding ``watchkeeper.yaml``), or a database URL
        (``sqlite:///registry.db``, ``postgresql+psycopg://...``) with ``artifacts`` naming the
        artifact folder. None finds the project like the CLI does: ``WATCHKEEPER_PROJECT``,
        else the current folder or its nearest parent holding ``watchkeeper.yaml``.
    artifacts
        With a database URL: the artifact folder (default: ``artifacts`` beside a SQLite file).
    clock
        Stamps every record (wall clock by default).
    actor
        Who is acting, recorded in the history (default: ``WATCHKEEPER_ACTOR`` or user@host).
    check_schema
        Refuse a database that is not at this release's schema revision (only ``db upgrade``
        turns this off).

    Raises
    ------
    ProjectNotFoundError
        No project where one was looked for.
    SchemaOutOfDateError
        The database needs ``watchkeeper db upgrade``.

    Examples
    --------
    >>> import tempfile, watchkeeper
    >>> project = watchkeeper.Project.init(tempfile.mkdtemp())
    >>> project.models()
    []
    >>> project.close()
    """

    def __init__(
        self,
        location: str | os.PathLike[str] | None = None,
        *,
        artifacts: str | os.PathLike[str] | None = None,
        clock: Clock | None = None,
        actor: str | None = None,
        check_schema: bool = True,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        from watchkeeper.clock import WallClock
        from watchkeeper.config import (
            find_project,
            load_config,
            resolve_artifacts_root,
            resolve_database_url,
        )
        from watchkeeper.registry._registry import Registry
        from watchkeeper.store.artifacts import open_artifact_store
        from watchkeeper.store.database import Database

        self.path: Path | None
        self.config: WatchkeeperConfig | None
        if isinstance(location, str) and "://" in location:
            self.path, self.config = None, None
            url = location
            if artifacts is None:
                if not url.startswith("sqlite:///") or url.endswith(":memory:"):
                    raise InvalidParameterError(
                        "A project opened by a database URL other than a SQLite file needs "
                        "artifacts=FOLDER (where model files, baselines and data are stored)."
                    )
                artifacts = Path(url.removeprefix("sqlite:///")).parent / "artifacts"
            self.database: Database = Database(url)
            self.artifacts: ArtifactStore = open_artifact_store(artifacts)
        else:
            self.path = find_project(location, environ=environ)
            self.config = load_config(self.path, environ=environ)
            self.database = Database(
                resolve_database_url(self.config, self.path),
                busy_timeout=self.config.database.busy_timeout_seconds,
                echo=self.config.database.echo,
            )
            root = (
                artifacts
                if artifacts is not None
                else resolve_artifacts_root(self.config, self.path)
            )
            self.artifacts = open_artifact_store(root)
        try:
            if check_schema:
                self.database.check_schema()
            self.clock: Clock = clock or WallClock()
            self.actor = actor or default_actor()
            self.registry: Registry = Registry(self.database, self.clock, self.actor)
        except BaseException:
            self.database.dispose()
            raise

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def init(
        cls,
        directory: str | os.PathLike[str] = ".",
        *,
        database_url: str | None = None,
        **kwargs: Any,
    ) -> Project:
        """Create a project in ``directory``: ``watchkeeper.yaml``, the database (at the newest
        schema) and the artifact folder; returns it opened.

        ``WATCHKEEPER_*`` variables (or ``environ=``) override the new file as for any project.
        A database that already holds watchkeeper's tables (a shared PostgreSQL database) is
        joined as it is, if it is at this release's schema. On failure, whatever init created
        is removed again.

        Raises
        ------
        ProjectExistsError
            ``directory`` already holds a ``watchkeeper.yaml``.
        SchemaOutOfDateError
            The database already holds watchkeeper's tables at another schema revision
            (run ``watchkeeper db upgrade`` on it first).
        """
        from watchkeeper.config import (
            CONFIG_FILE,
            load_config,
            resolve_artifacts_root,
            resolve_database_url,
            write_initial_config,
        )
        from watchkeeper.store.database import Database

        path = Path(directory).resolve()
        if (path / CONFIG_FILE).exists():
            raise ProjectExistsError(
                f"{path} already holds a watchkeeper project ({CONFIG_FILE}); use it, or pick "
                "another folder."
            )
        environ = kwargs.get("environ")
        created = [p for p in (path, *path.parents) if not p.exists()]
        path.mkdir(parents=True, exist_ok=True)
        written = write_initial_config(path, database_url=database_url)
        made_files: list[Path] = []
        try:
            config = load_config(path, environ=environ)
            artifacts = resolve_artifacts_root(config, path)
            created += [p for p in (artifacts, *artifacts.parents) if not p.exists()]
            artifacts.mkdir(parents=True, exist_ok=True)
            url = resolve_database_url(config, path)
            if url.startswith("sqlite:///") and not url.endswith(":memory:"):
                db_file = Path(url.removeprefix("sqlite:///"))
                if not db_file.exists():
                    made_files += [
                        db_file.with_name(db_file.name + x) for x in ("", "-wal", "-shm")
                    ]
            database = Database(url)
            try:
                current = database.current_revision()
                if current is None:
                    database.upgrade()
                else:  # a database that already holds watchkeeper's tables: join it as it is
                    database.check_schema()
            finally:
                database.dispose()
            return cls(path, **kwargs)
        except BaseException:
            # Leave the folder as it was: remove what init made.
            written.unlink(missing_ok=True)
            for made_file in made_files:
                made_file.unlink(missing_ok=True)
            for made in sorted(created, key=lambda p: len(p.parts), reverse=True):
                with contextlib.suppress(OSError):
                    made.rmdir()
            raise

    def upgrade(self) -> tuple[str | None, str]:
        """Bring the database schema up to date; returns (revision before, after)."""
        return self.database.upgrade()

    def close(self) -> None:
        """Release the database connections."""
        self.database.dispose()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.path if self.path is not None else self.database
        return f"Project({str(where)!r})"

    # ------------------------------------------------------------------ registry
    def register(
        self,
        name: str,
        model: Any,
        *,
        reference: Any = None,
        validation: Any = None,
        schema: Schema | None = None,
        features: Sequence[str] | None = None,
        target: str | None = None,
        prediction: str | None = None,
        id: str | None = None,
        tags: Mapping[str, str] | None = None,
        description: str = "",
        model_tags: Mapping[str, str] | None = None,
        model_description: str | None = None,
        trust: bool = False,
        trusted_types: Sequence[str] = (),
        store_data: bool | None = None,
        parent_version: int | None = None,
        source: Mapping[str, Any] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> ModelVersion:
        """Register ``model`` as the next version of ``name`` (created on first use).

        Parameters
        ----------
        model
            A fitted model object with ``predict`` (scikit-learn estimators are stored with
            skops; any other object only with ``trust=True``, as pickle), or the path of a
            ``.skops`` (or, with ``trust=True``, ``.joblib``/``.pkl``) file.
        reference
            The training data (DataFrame): gives the served schema (dtypes, nullability) and
            the monitoring baseline. Stored as Parquet unless the config says otherwise.
        validation
            Labelled held-out data: the model is scored on it for the validation metrics and
            the performance baseline (needs ``target``).
        schema
            Kinds of the reference columns, where inference would guess wrong; also the inputs
            when the model has no ``feature_names_in_`` and ``features`` is not given.
        features
            The model's input columns, when it has no ``feature_names_in_``.
        target, prediction, id
            Reference columns with those roles: never model inputs, never required in requests.
            Without ``prediction`` the model's own predictions (and probabilities) are added.
        tags, description
            Tags and a description of this version.
        model_tags, model_description
            Tags (added or updated) and a description (replaced) of the registered model.
        trust, trusted_types
            Allow pickle (``trust=True``), or name the extra types a skops file may build.
        store_data
            Keep the reference and validation data (default: the config's
            ``artifacts.store_data``); above ``artifacts.max_data_bytes`` a seeded sample.
        parent_version, source
            Lineage: the version this one derives from, and where it came from.
        progress
            Called with a description as each phase starts.

        Raises
        ------
        InvalidNameError, UntrustedModelError, ModelFormatError, SchemaError
            Nothing is recorded, and no artifact written for it is left behind.
        """
        from watchkeeper.registry._register import Prepared, prepare_version

        check_model_name(name)
        # Everything that can be checked before the work is checked before it.
        tags = check_tags(dict(tags or {}))
        model_tags = check_tags(dict(model_tags or {}))
        check_text(description, "The description")
        if model_description is not None:
            check_text(model_description, "The model description")
        if parent_version is not None:
            check_version_number(parent_version, "parent_version")
        try:
            json.dumps(dict(source or {}), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(
                f"source must be a JSON-serializable mapping (text, numbers, lists, mappings): "
                f"{exc}."
            ) from exc
        config = self.config.artifacts if self.config is not None else None
        if store_data is None:
            store_data = config.store_data if config is not None else True
        prepared = Prepared(fields={})
        try:
            prepare_version(
                self.artifacts,
                model,
                reference=reference,
                validation=validation,
                schema=schema,
                features=features,
                target=target,
                prediction=prediction,
                id_column=id,
                trust=trust,
                trusted_types=trusted_types,
                store_data=store_data,
                max_data_bytes=config.max_data_bytes if config is not None else 256_000_000,
                parent_version=parent_version,
                source=source,
                progress=progress,
                prepared=prepared,
            )
            if progress:
                progress("recording the version")
            return self.registry.add_version(
                name,
                prepared.fields,
                description=description,
                tags=tags,
                model_description=model_description,
                model_tags_=model_tags,
                artifacts=self.artifacts,
            )
        except BaseException:
            self.registry.discard_unreferenced(self.artifacts, prepared.created)
            raise

    def deploy(
        self,
        name: str,
        version: int,
        alias: str = "production",
        *,
        reason: str = "",
        trigger: str = "manual",
        expected_version: int | EllipsisType | None = ...,
        details: Mapping[str, Any] | None = None,
    ) -> Event:
        """Point ``alias`` at ``version``; one recorded move (see :mod:`watchkeeper.registry`).

        With ``expected_version`` (a version, or None: no such alias yet) the move happens only
        if the alias is there now, else :class:`~watchkeeper.errors.AliasMovedError`.
        ``details`` are recorded on the move's event.
        """
        return self.registry.deploy(
            name,
            version,
            alias=alias,
            reason=reason,
            trigger=trigger,
            expected_version=expected_version,
            details=details,
        )

    def rollback(
        self,
        name: str,
        alias: str = "production",
        *,
        to: int | None = None,
        reason: str = "",
        trigger: str = "rollback",
        expected_version: int | EllipsisType | None = ...,
    ) -> Event:
        """Return ``alias`` to the version that held it before (or to ``to``); the version
        rolled back from becomes ``rejected``. ``expected_version`` as for :meth:`deploy`."""
        return self.registry.rollback(
            name,
            alias=alias,
            to=to,
            reason=reason,
            trigger=trigger,
            expected_version=expected_version,
        )

    def remove_alias(
        self,
        name: str,
        alias: str,
        *,
        reason: str = "",
        trigger: str = "manual",
        expected_version: int | EllipsisType | None = ...,
    ) -> Event | None:
        """Delete ``alias`` (a recorded move to no version); None if it does not exist.
        ``expected_version`` as for :meth:`deploy`."""
        return self.registry.remove_alias(
            name, alias, reason=reason, trigger=trigger, expected_version=expected_version
        )

    def record_event(
        self,
        name: str,
        kind: str,
        *,
        version: int | None = None,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> Event:
        """Append an event that changes nothing else (``deploy_failed``...) to the history."""
        return self.registry.record_event(
            name, kind, version=version, reason=reason, details=details
        )

    def get(
        self, name: str, version: int | str | None = None, *, alias: str | None = None
    ) -> ModelVersion:
        """A version: by URI (``get("models:/churn@production")``), by number, by alias, or the
        latest (``version=None`` or ``"latest"``)."""
        if name.startswith("models:/"):
            if version is not None or alias is not None:
                raise InvalidParameterError("Give a models:/ URI or a name with version/alias.")
            name, version, alias = parse_model_uri(name)
        if alias is not None:
            if version is not None:
                raise InvalidParameterError("Give a version or an alias, not both.")
            return self.registry.resolve_alias(name, alias)
        if version is None or version == "latest":
            return self.registry.latest_version(name)
        if isinstance(version, str):
            if not version.isdigit():
                raise InvalidParameterError(
                    f"version must be a number or 'latest'. Got {version!r} instead."
                )
            version = int(version)
        return self.registry.get_version(name, version)

    def model(self, name: str) -> RegisteredModel:
        """The registered model ``name`` with its aliases and tags."""
        return self.registry.get_model(name)

    def models(self) -> list[RegisteredModel]:
        """Every registered model."""
        return self.registry.models()

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, oldest first."""
        return self.registry.versions(name)

    def history(self, name: str, *, limit: int | None = None) -> list[Event]:
        """``name``'s audit history, oldest first."""
        return self.registry.history(name, limit=limit)

    def set_status(self, name: str, version: int, status: str, *, reason: str = "") -> None:
        """Mark a version ``ready``, ``rejected`` or ``archived`` (recorded)."""
        self.registry.set_status(name, version, status, reason=reason)

    # ------------------------------------------------------------------ artifacts
    def load_model(self, uri: str | ModelVersion) -> LoadedModel:
        """Load a model version (``models:/churn@production``, ``models:/churn/3``).

        The artifact's sha256 is checked against the record first; a mismatch refuses to load
        (:class:`~watchkeeper.errors.ArtifactIntegrityError`).
        """
        from watchkeeper.registry._formats import deserialize_model

        record = uri if not isinstance(uri, str) else self.get(uri)
        data = self.artifacts.get_bytes(record.artifact_sha256)
        model = deserialize_model(data, record.flavour, record.trusted_types)
        return LoadedModel(version=record, model=model)

    def load_baseline(self, name: str, version: int | str | None = None) -> Baseline:
        """The monitoring baseline fitted when the version was registered."""
        from watchkeeper.baseline import Baseline

        record = self.get(name, version)
        if record.baseline_sha256 is None:
            raise ModelNotFoundError(f"{record.uri} was registered without reference data.")
        with self.artifacts.local_path(record.baseline_sha256) as path:
            return Baseline.load(path)

    def load_data(
        self, name: str, version: int | str | None = None, which: str = "reference"
    ) -> pd.DataFrame:
        """The stored reference or validation data of a version (a sample if it was capped)."""
        import pandas as pd

        if which not in ("reference", "validation"):
            raise InvalidParameterError(
                f"which must be 'reference' or 'validation'. Got {which!r} instead."
            )
        record = self.get(name, version)
        sha = record.reference_sha256 if which == "reference" else record.validation_sha256
        if sha is None:
            raise ArtifactError(f"{record.uri} has no stored {which} data.")
        with self.artifacts.local_path(sha) as path:
            return pd.read_parquet(path)
