"""Reading ``watchkeeper.yaml``, environment overrides, project discovery, and ``init``'s file.

A project is a folder holding ``watchkeeper.yaml``. :func:`load_config` reads it, lets
``WATCHKEEPER_<SECTION>_<FIELD>`` variables override single fields, and validates the result
with the models of :mod:`watchkeeper.config._models`, which also word the errors.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import yaml
from pydantic import BaseModel

from watchkeeper.config._models import (
    ArtifactsConfig,
    DatabaseConfig,
    ServeConfig,
    WatchkeeperConfig,
    show_value,
    validate_config,
)
from watchkeeper.errors import ConfigError, ProjectExistsError, ProjectNotFoundError

if TYPE_CHECKING:
    from collections.abc import Hashable, Mapping

__all__ = [
    "CONFIG_FILE",
    "ENV_PREFIX",
    "PROJECT_ENV",
    "find_project",
    "load_config",
    "resolve_artifacts_root",
    "resolve_database_url",
    "write_initial_config",
]

CONFIG_FILE = "watchkeeper.yaml"
ENV_PREFIX = "WATCHKEEPER_"
PROJECT_ENV = "WATCHKEEPER_PROJECT"

# --- reading -------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, but a key given twice in one mapping is an error, not a shadow."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found the key {key!r} twice",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(text: str, source: str) -> dict[Any, Any]:
    """Parse ``text``; an empty document is ``{}``, anything but a mapping is an error."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = "" if mark is None else f", line {mark.line + 1}, column {mark.column + 1}"
        problem = exc.problem or exc.context or "unreadable"
        raise ConfigError(f"{source}{where}: not valid YAML ({problem}); fix the syntax.") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({exc}); fix the syntax.") from exc
    finally:
        loader.dispose()
    if data is None:
        return {}
    if not isinstance(data, dict):
        line = "" if node is None else f", line {node.start_mark.line + 1}"
        raise ConfigError(
            f"{source}{line}: expected a mapping of sections at the top level "
            f"({', '.join(WatchkeeperConfig.model_fields)}), got {show_value(data)}."
        )
    return data


# --- environment overrides -----------------------------------------------------------------


def _override_variables() -> dict[str, tuple[str, str, bool]]:
    """``WATCHKEEPER_DATABASE_URL`` → ``("database", "url", is_a_string_field)``, for all fields."""
    found: dict[str, tuple[str, str, bool]] = {}
    for section, info in WatchkeeperConfig.model_fields.items():
        model = info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            for field, field_info in model.model_fields.items():
                variable = f"{ENV_PREFIX}{section}_{field}".upper()
                found[variable] = (section, field, field_info.annotation is str)
    return found


def _env_overrides(environ: Mapping[str, str]) -> dict[tuple[str, str], tuple[str, object]]:
    """The overridden fields, each with the variable that sets it and its parsed value."""
    found: dict[tuple[str, str], tuple[str, object]] = {}
    known = _override_variables()
    _refuse_misspelled(environ, known)
    for variable, (section, field, is_str) in known.items():
        if variable not in environ:
            continue
        raw = environ[variable]
        try:  # a string field takes the text verbatim: `2024` is a folder name, not a number
            value = raw if is_str else yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"Environment variable {variable} ({section}.{field}): expected a YAML scalar "
                f"such as true, 30 or 1.5, got {show_value(raw)}; fix or unset it."
            ) from exc
        found[section, field] = (variable, value)
    return found


#: Variables that hold secrets, read where they are used and never from watchkeeper.yaml.
SECRET_VARIABLES = frozenset(
    {
        "WATCHKEEPER_ADMIN_TOKEN",
        "WATCHKEEPER_PREDICT_TOKEN",
        "WATCHKEEPER_LOG_HASH_KEY",
        "WATCHKEEPER_ALERTS_WEBHOOK_TOKEN",
    }
)


def _refuse_misspelled(
    environ: Mapping[str, str], known: Mapping[str, tuple[str, str, bool]]
) -> None:
    """A ``WATCHKEEPER_<SECTION>_...`` variable that names no field is an error, as an unknown
    key in the file is (``WATCHKEEPER_DATABASE_URLL`` would otherwise be ignored silently).
    Variables not starting with a section's name (``WATCHKEEPER_PROJECT``) are not settings,
    nor are the secrets kept out of the file (:data:`SECRET_VARIABLES`)."""
    sections = {name.upper() for name in WatchkeeperConfig.model_fields}
    for variable in environ:
        if (
            not variable.startswith(ENV_PREFIX.upper())
            or variable in known
            or variable in SECRET_VARIABLES
        ):
            continue
        rest = variable[len(ENV_PREFIX) :]
        section = next((x for x in sorted(sections) if rest.startswith(f"{x}_")), None)
        if section is None:
            continue
        fields = sorted(
            v.removeprefix(f"{ENV_PREFIX}{section}_".upper()).lower()
            for v in known
            if v.startswith(f"{ENV_PREFIX}{section}_".upper())
        )
        raise ConfigError(
            f"Environment variable {variable} names no setting of section "
            f"{section.lower()!r} (it has {', '.join(fields) or 'none yet'}); fix or unset it."
        )


def _merge(
    data: Mapping[Any, Any], overrides: Mapping[tuple[str, str], tuple[str, object]]
) -> dict[Any, Any]:
    merged = dict(data)
    for (section, field), (_, value) in overrides.items():
        current = merged.get(section)
        if current is None:
            current = {}
        if isinstance(current, dict):  # otherwise validation reports the section itself
            merged[section] = {**current, field: value}
    return merged


# --- public API ----------------------------------------------------------------------------


def load_config(project_dir: Path, environ: Mapping[str, str] | None = None) -> WatchkeeperConfig:
    """Read, override and validate the project's ``watchkeeper.yaml``.

    Parameters
    ----------
    project_dir
        The project folder, holding ``watchkeeper.yaml``.
    environ
        The environment to take ``WATCHKEEPER_<SECTION>_<FIELD>`` overrides from (for example
        ``WATCHKEEPER_DATABASE_URL``); ``None`` means :data:`os.environ`. A string field takes
        the variable's value verbatim; any other field reads it as a YAML scalar (``true``,
        ``30``, ``1.5``). Variables not of that form for a known section and field are ignored.

    Returns
    -------
    WatchkeeperConfig
        The validated configuration; missing sections and keys take their defaults.

    Raises
    ------
    ProjectNotFoundError
        ``project_dir`` holds no ``watchkeeper.yaml``.
    ConfigError
        The file is not UTF-8 or not valid YAML, is not a mapping, or holds an unknown key or a
        bad value; or an override variable holds a bad value. One line per problem.
    """
    path = Path(project_dir) / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProjectNotFoundError(
            f"No watchkeeper project in {project_dir} (no {CONFIG_FILE}); run `watchkeeper init` "
            f"there, or pass the folder that holds {CONFIG_FILE}."
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc}); save it as UTF-8.") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc}).") from exc
    data = _read_yaml(text, str(path))
    overrides = _env_overrides(os.environ if environ is None else environ)
    origins = {key: f"Environment variable {var}" for key, (var, _) in overrides.items()}
    return validate_config(_merge(data, overrides), str(path), origins)


def resolve_database_url(config: WatchkeeperConfig, project_dir: Path) -> str:
    """The database URL with a relative SQLite path made absolute under ``project_dir``.

    ``sqlite:///:memory:``, absolute SQLite paths and PostgreSQL URLs are returned unchanged.

    Examples
    --------
    >>> cfg = WatchkeeperConfig()
    >>> resolve_database_url(cfg, Path("/srv/project"))
    'sqlite:////srv/project/watchkeeper.db'
    """
    url = config.database.url
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return url
    path, sep, query = url[len(prefix) :].partition("?")
    if path == ":memory:" or Path(path).is_absolute():
        return url
    absolute = Path(os.path.abspath(Path(project_dir) / path))
    return f"{prefix}{absolute.as_posix()}{sep}{query}"


def resolve_artifacts_root(config: WatchkeeperConfig, project_dir: Path) -> Path:
    """The artifact store's folder: a relative root under ``project_dir``, a ``file://`` URL's path.

    Examples
    --------
    >>> resolve_artifacts_root(WatchkeeperConfig(), Path("/srv/project")).as_posix()
    '/srv/project/artifacts'
    """
    root = config.artifacts.root
    if root.lower().startswith("file://"):
        path = urlsplit(root).path
        if os.name == "nt":  # file:///C:/x → C:\x
            import nturl2path

            return Path(nturl2path.url2pathname(path))
        return Path(unquote(path))
    return Path(os.path.abspath(Path(project_dir) / root))


def _check_project(folder: Path, given: str) -> Path:
    if not folder.is_dir():
        raise ProjectNotFoundError(
            f"{given}: no such folder ({folder}); pass the folder that holds {CONFIG_FILE}, "
            f"or create a project with `watchkeeper init {folder}`."
        )
    if not (folder / CONFIG_FILE).is_file():
        raise ProjectNotFoundError(
            f"{given}: {folder} is not a watchkeeper project (it has no {CONFIG_FILE}); pass "
            f"the folder that holds {CONFIG_FILE}, or run `watchkeeper init {folder}`."
        )
    return folder


def find_project(
    explicit: str | os.PathLike[str] | None = None,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """The project folder, as an absolute path.

    Parameters
    ----------
    explicit
        A folder given on purpose (``--project DIR``); relative to ``cwd``. It must hold
        ``watchkeeper.yaml``.
    cwd
        Where to start looking; ``None`` means the current working directory.
    environ
        Where to read ``WATCHKEEPER_PROJECT`` from; ``None`` means :data:`os.environ`. When no
        ``explicit`` folder is given and the variable is set (and not empty), it names the
        project folder, which must hold ``watchkeeper.yaml``.

    Returns
    -------
    Path
        ``explicit`` if given, else ``WATCHKEEPER_PROJECT`` if set, else the nearest of ``cwd``
        and its parents that holds ``watchkeeper.yaml``.

    Raises
    ------
    ProjectNotFoundError
        The folder given (or named by ``WATCHKEEPER_PROJECT``) holds no ``watchkeeper.yaml``,
        or neither ``cwd`` nor any of its parents does.
    """
    base = Path.cwd() if cwd is None else Path(cwd)
    env = os.environ if environ is None else environ
    if explicit is not None:
        folder = Path(os.path.abspath(base / Path(explicit)))
        return _check_project(folder, f"Project folder {os.fspath(explicit)!r}")
    if env.get(PROJECT_ENV):
        folder = Path(os.path.abspath(base / env[PROJECT_ENV]))
        return _check_project(folder, f"{PROJECT_ENV}={env[PROJECT_ENV]!r}")
    start = Path(os.path.abspath(base))
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise ProjectNotFoundError(
        f"No watchkeeper project in {start} or its parents (no {CONFIG_FILE}); run "
        f"`watchkeeper init`, pass --project DIR or set {PROJECT_ENV}."
    )


def _scalar(value: object) -> str:
    """``value`` as a one-line YAML scalar (quoted only where YAML needs it)."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=1_000_000)
    return text.removesuffix("\n...\n").strip()


def _initial_text(database_url: str) -> str:
    db, art, serve = DatabaseConfig(), ArtifactsConfig(), ServeConfig()
    rows: dict[str, list[tuple[str, object, str]]] = {
        "database: where the model registry, the monitoring history and the alerts are kept.": [
            ("url", database_url, "or postgresql+psycopg://user@host/db"),
            ("busy_timeout_seconds", db.busy_timeout_seconds, "seconds to wait for a lock"),
            ("echo", db.echo, "log every SQL statement"),
        ],
        "artifacts: where model files, baselines and data snapshots are kept, by sha256.": [
            ("root", art.root, "a folder (relative to this one) or a file:// URL"),
            ("store_data", art.store_data, "keep each version's data as Parquet"),
            ("max_data_bytes", art.max_data_bytes, "above it, store a seeded row sample"),
        ],
        "serve: the HTTP server (watchkeeper serve); more keys in docs/serving.md.": [
            ("host", serve.host, "where to listen"),
            ("port", serve.port, "0 picks a free port"),
            ("workers", serve.workers, "processes sharing the port"),
            ("alias", serve.alias, "the alias whose version answers"),
            ("durability", serve.durability, "sync: answer after the log commit"),
        ],
        "log: what the prediction log keeps, e.g. columns: {email: hash, ssn: exclude}.": [
            ("columns", {}, "per input column: exclude or hash"),
        ],
        "monitor: scheduled runs over the prediction log; more keys in docs/operations.md.": [
            ("schedule", {"every": "1d"}, "or {cron: '0 2 * * *'} (UTC); null: never"),
            ("window", "1d", "the window each run reads, by event time"),
            ("min_label_coverage", 0.1, "below it, performance checks are skipped"),
        ],
        "alerts: who hears about problems (log, webhook; json or slack).": [
            ("channels", [{"type": "log"}], "e.g. - {type: webhook, url: https://...}"),
            ("cooldown", "1d", "one alert per model, check and column in this time"),
        ],
        "policy: when results become notify, retrain or rollback (docs/operations.md).": [
            ("combine", "any", "any: the most severe fired trigger; all: every one"),
            ("consecutive", 1, "runs a breach must last before a trigger fires"),
            ("cooldown", "3d", "no second retrain or rollback within this time"),
        ],
        "retrain: your trainer, the gate, deployment and the post-deploy guard.": [
            ("trainer", None, "'module:function' (a DataFrame in, a fitted model out)"),
        ],
    }
    lines = [
        "# watchkeeper project configuration. Every key is optional; the values shown are the",
        "# defaults. A variable WATCHKEEPER_<SECTION>_<KEY> (e.g. WATCHKEEPER_DATABASE_URL)",
        "# overrides the value set here.",
    ]
    for comment, fields in rows.items():
        name = comment.partition(":")[0]
        lines += ["", f"# {comment}", f"{name}:"]
        for key, value, note in fields:
            lines.append(f"  {key}: {_scalar(value)}".ljust(32) + f"  # {note}")
    return "\n".join(lines) + "\n"


def write_initial_config(project_dir: Path, *, database_url: str | None = None) -> Path:
    """Write a commented ``watchkeeper.yaml`` with the defaults into ``project_dir``.

    Parameters
    ----------
    project_dir
        The project folder; created (with its parents) if missing.
    database_url
        The database URL to write; ``None`` writes the default (``sqlite:///watchkeeper.db``).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ProjectExistsError
        ``project_dir`` already holds a ``watchkeeper.yaml``; it is left as it was.
    ProjectNotFoundError
        ``project_dir`` is a file, not a folder.
    ConfigError
        ``database_url`` is not an accepted database URL.

    Notes
    -----
    The text goes to a temporary file in ``project_dir`` first, which is then hard-linked to
    ``watchkeeper.yaml`` (a rename that never overwrites) and removed, so the file appears
    whole or not at all. Where hard links are not supported it is renamed instead.
    """
    project_dir = Path(project_dir)
    target = project_dir / CONFIG_FILE
    url = DatabaseConfig().url if database_url is None else database_url
    origin = {("database", "url"): "The database_url argument"}
    validate_config({"database": {"url": url}}, str(target), origin)
    text = _initial_text(url)
    written = validate_config(_read_yaml(text, str(target)), str(target), {})
    if written.database.url != url:  # the file must load back to what was asked for
        raise ConfigError(
            f"The database_url argument cannot be written to {CONFIG_FILE} as given "
            f"({show_value(url)}); write the file by hand."
        )

    exists = ProjectExistsError(
        f"{target} already exists, so {project_dir} already holds a watchkeeper project; "
        "edit that file, or remove it to start afresh."
    )
    if target.exists():
        raise exists
    if project_dir.exists() and not project_dir.is_dir():
        raise ProjectNotFoundError(
            f"Cannot create a project in {project_dir}: it is a file, not a folder; "
            "pass a folder (it is created if missing)."
        )
    project_dir.mkdir(parents=True, exist_ok=True)
    temporary = project_dir / f".{CONFIG_FILE}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, target)
        except FileExistsError:
            raise exists from None
        except OSError:  # no hard links on this file system: check, then rename
            if target.exists():
                raise exists from None
            os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target
