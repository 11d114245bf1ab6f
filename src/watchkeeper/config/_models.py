"""The pydantic models of ``watchkeeper.yaml``, and their errors turned into plain messages.

One model per section, all strict and frozen. Every field has a default, so an empty file is
a valid configuration. Unknown keys are errors (``extra="forbid"``), and values are not
coerced across types: a list is not turned into a string, nor ``1`` into ``true``. Integers
are accepted where a float is expected.

:func:`validate_config` turns pydantic's ``ValidationError`` into a
:class:`~watchkeeper.errors.ConfigError` with one line per problem: where (the file or the
environment variable), the dotted key path, what was expected and the value given.
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from watchkeeper.config._ops import AlertsConfig, MonitorConfig, PolicyConfig, RetrainConfig
from watchkeeper.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pydantic_core import ErrorDetails

__all__ = [
    "DATABASE_URL_PREFIXES",
    "AlertsConfig",
    "ArtifactsConfig",
    "DatabaseConfig",
    "LogConfig",
    "MonitorConfig",
    "PolicyConfig",
    "RetrainConfig",
    "ServeConfig",
    "WatchkeeperConfig",
    "show_value",
    "validate_config",
]

DATABASE_URL_PREFIXES = ("sqlite:///", "postgresql+psycopg://", "postgresql://")
_SQLITE = "sqlite:///"
_Loc = tuple[str | int, ...]


class DatabaseConfig(BaseModel):
    """The ``database:`` section: where the registry and the monitoring history are kept.

    Attributes
    ----------
    url
        A SQLAlchemy URL: ``sqlite:///PATH`` (a relative path is relative to the project
        folder; ``sqlite:///:memory:`` for a throw-away database), ``postgresql+psycopg://...``
        or ``postgresql://...``.
    busy_timeout_seconds
        How long to wait for a locked database before giving up; > 0.
    echo
        Log every SQL statement (for debugging).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: StrictStr = "sqlite:///watchkeeper.db"
    busy_timeout_seconds: float = Field(default=30.0, gt=0, strict=True, allow_inf_nan=False)
    echo: StrictBool = False

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(DATABASE_URL_PREFIXES):
            raise ValueError(
                "expected a URL starting with sqlite:/// (e.g. sqlite:///watchkeeper.db), "
                "postgresql+psycopg:// or postgresql://"
            )
        if value.startswith(_SQLITE) and not value[len(_SQLITE) :].partition("?")[0]:
            raise ValueError(
                "expected a file path after sqlite:/// (e.g. sqlite:///watchkeeper.db), "
                "or sqlite:///:memory:"
            )
        return value


class ArtifactsConfig(BaseModel):
    """The ``artifacts:`` section: where model files, baselines and data snapshots are stored.

    Attributes
    ----------
    root
        A folder (relative to the project folder, or absolute) or a ``file://`` URL. Remote
        stores (``s3://`` and the like) are not supported in this release.
    store_data
        Keep each version's reference and validation data as Parquet.
    max_data_bytes
        Largest data snapshot stored whole, in bytes (>= 0); above it a seeded sample of rows
        is stored instead.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    root: StrictStr = "artifacts"
    store_data: StrictBool = True
    max_data_bytes: StrictInt = Field(default=256_000_000, ge=0)

    @field_validator("root")
    @classmethod
    def _check_root(cls, value: str) -> str:
        if not value:
            raise ValueError("expected a folder path or a file:// URL, not an empty string")
        scheme, sep, _ = value.partition("://")
        if not sep:
            return value
        if scheme.lower() != "file":
            raise ValueError(
                f"only local folders are supported in this release ({scheme}:// is not); "
                "expected a folder path (relative to the project folder) or a file:// URL"
            )
        parts = urlsplit(value)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError(
                "expected a file:// URL naming an absolute local path, "
                "e.g. file:///srv/watchkeeper/artifacts"
            )
        return value


class ServeConfig(BaseModel):
    """The ``serve:`` section: the HTTP server (``watchkeeper serve``).

    Attributes
    ----------
    host, port, workers
        Where to listen, and how many worker processes (>= 1) share the port.
    models
        The models served (default: every registered model with ``alias`` set).
    default_model
        The model ``/invocations`` and ``/ping`` serve (default: the only served model).
    alias, shadow_alias
        The alias whose version answers requests, and the one scored off the response path
        and logged with role ``shadow`` when it is set.
    poll_seconds
        How often the server re-reads the aliases (a move is picked up within this time).
    max_rows, max_body_bytes
        Largest request, in rows and in bytes; larger ones get 413.
    batch_max_rows, batch_max_wait_ms
        Adaptive batching: concurrent requests for the same version are merged into one
        ``predict`` call of at most ``batch_max_rows`` rows, waiting at most
        ``batch_max_wait_ms`` for more to arrive (0: merge only what is already queued).
    log_predictions, durability
        Log every prediction; ``sync`` answers only after the rows are committed, ``async``
        answers once they are queued (an acknowledged prediction can then be lost in a crash).
    client_event_time
        Honour a client-supplied event time (``parameters.event_time`` or an ``event_time``
        column); otherwise the server's clock stamps every row.
    require_predict_token
        Prediction endpoints need ``Authorization: Bearer $WATCHKEEPER_PREDICT_TOKEN``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: StrictStr = "127.0.0.1"
    port: StrictInt = Field(default=8080, ge=0, le=65535)
    workers: StrictInt = Field(default=1, ge=1, le=64)
    models: list[StrictStr] | None = None
    default_model: StrictStr | None = None
    alias: StrictStr = "production"
    shadow_alias: StrictStr | None = "shadow"
    poll_seconds: float = Field(default=2.0, gt=0, strict=True, allow_inf_nan=False)
    max_rows: StrictInt = Field(default=10_000, ge=1)
    max_body_bytes: StrictInt = Field(default=16_000_000, ge=1024)
    batch_max_rows: StrictInt = Field(default=4096, ge=1)
    batch_max_wait_ms: float = Field(default=1.0, ge=0, le=1000, strict=True, allow_inf_nan=False)
    log_predictions: StrictBool = True
    durability: Literal["sync", "async"] = "sync"
    client_event_time: StrictBool = False
    require_predict_token: StrictBool = False


class LogConfig(BaseModel):
    """The ``log:`` section: what the prediction log keeps.

    Attributes
    ----------
    columns
        Per input column, ``exclude`` (never written to the log) or ``hash`` (written as a
        keyed hash, so equal values stay equal without being readable; the key is
        ``WATCHKEEPER_LOG_HASH_KEY``). Applies to the server and to batch ingestion.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[StrictStr, Literal["exclude", "hash"]] = Field(default_factory=dict)


class WatchkeeperConfig(BaseModel):
    """The whole of ``watchkeeper.yaml``, one attribute per section.

    A section that is missing, or present with no keys (``database:`` alone, which YAML reads
    as null), takes its defaults.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    artifacts: ArtifactsConfig = Field(default_factory=ArtifactsConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    retrain: RetrainConfig = Field(default_factory=RetrainConfig)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections_take_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {
                key: {} if value is None and key in cls.model_fields else value
                for key, value in data.items()
            }
        return data


_PASSWORD = re.compile(r"(://[^:/@\s]*):[^@/\s]*@")
_EXPECTED = {
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "int_type": "expected a whole number",
    "float_type": "expected a number",
    "finite_number": "expected a finite number",
    "invalid_key": "expected a string key",
}


def show_value(value: object) -> str:
    """``repr(value)``, shortened, with any password in a URL masked."""
    text = _PASSWORD.sub(r"\1:***@", repr(value))
    return text if len(text) <= 80 else text[:77] + "..."


def _model_at(loc: _Loc) -> type[BaseModel] | None:
    model: type[BaseModel] = WatchkeeperConfig
    for part in loc:
        info = model.model_fields.get(str(part))
        annotation = None if info is None else info.annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _keys_of(model: type[BaseModel]) -> str:
    return ", ".join(model.model_fields) or "none in this release"


def _problem(error: ErrorDetails) -> str:
    kind, loc, ctx = error["type"], tuple(error["loc"]), error.get("ctx", {})
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        if parent is None:  # cannot happen with the models as they are; say what we know
            return "unknown key"
        what = "section" if not loc[:-1] else "key"
        names = list(parent.model_fields)
        if not names:
            return f"unknown key ({'.'.join(map(str, loc[:-1]))} takes no keys in this release)"
        close = difflib.get_close_matches(str(loc[-1]), names, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        return f"unknown {what} (expected one of {', '.join(names)}{hint})"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        model = _model_at(loc)
        keys = "" if model is None else f" of keys ({_keys_of(model)})"
        expected = f"expected a mapping{keys}"
    elif kind == "greater_than":
        expected = f"expected a number > {ctx['gt']:g}"
    elif kind == "greater_than_equal":
        expected = f"expected a number >= {ctx['ge']:g}"
    elif kind == "value_error":
        expected = str(ctx["error"])
    else:
        msg = error["msg"]
        expected = _EXPECTED.get(kind, msg[:1].lower() + msg[1:])
    return f"{expected}, got {show_value(error['input'])}"


def validate_config(
    data: Mapping[Any, Any], source: str, origins: Mapping[tuple[str, str], str]
) -> WatchkeeperConfig:
    """Validate ``data`` read from ``source``, a file name.

    ``origins`` maps ``(section, field)`` to where a value overriding the file came from (an
    environment variable); problems with it name that instead of the file alone.

    Raises
    ------
    ConfigError
        One line per problem.
    """
    try:
        return WatchkeeperConfig.model_validate(data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            path = ".".join(str(part) for part in loc)
            origin = origins.get((str(loc[0]), str(loc[1]))) if len(loc) == 2 else None
            where = f"{source}: {path}" if origin is None else f"{origin} ({path} of {source})"
            lines.append(f"{where}: {_problem(error)}")
        raise ConfigError("\n".join(lines)) from exc
