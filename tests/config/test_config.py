"""watchkeeper.yaml: defaults, validation messages, environment overrides, discovery, init."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pydantic
import pytest

import watchkeeper.config
from watchkeeper.config import (
    CONFIG_FILE,
    WatchkeeperConfig,
    find_project,
    load_config,
    resolve_artifacts_root,
    resolve_database_url,
    write_initial_config,
)
from watchkeeper.errors import ConfigError, ProjectExistsError, ProjectNotFoundError

FULL = """\
database:
  url: postgresql+psycopg://wk@db.internal/watchkeeper
  busy_timeout_seconds: 5
  echo: true
artifacts:
  root: /srv/watchkeeper/artifacts
  store_data: false
  max_data_bytes: 0
serve: {}
monitor: {}
alerts: {}
policy: {}
retrain: {}
"""


def _project(tmp_path: Path, text: str) -> Path:
    (tmp_path / CONFIG_FILE).write_text(text, encoding="utf-8")
    return tmp_path


def _error(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(_project(tmp_path, text), environ={} if environ is None else environ)
    return str(info.value)


# --- the file ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "# nothing set yet\n", "database:\nartifacts:\n"])
def test_empty_file_or_sections_give_the_defaults(tmp_path: Path, text: str) -> None:
    config = load_config(_project(tmp_path, text), environ={})
    assert config == WatchkeeperConfig()
    assert config.database.url == "sqlite:///watchkeeper.db"
    assert config.database.busy_timeout_seconds == 30.0
    assert config.database.echo is False
    assert config.artifacts.root == "artifacts"
    assert config.artifacts.store_data is True
    assert config.artifacts.max_data_bytes == 256_000_000


def test_a_full_valid_file_is_read_as_written(tmp_path: Path) -> None:
    config = load_config(_project(tmp_path, FULL), environ={})
    assert config.database.url == "postgresql+psycopg://wk@db.internal/watchkeeper"
    assert config.database.busy_timeout_seconds == 5.0
    assert config.database.echo is True
    assert config.artifacts.root == "/srv/watchkeeper/artifacts"
    assert config.artifacts.store_data is False
    assert config.artifacts.max_data_bytes == 0


def test_config_is_frozen(tmp_path: Path) -> None:
    config = load_config(_project(tmp_path, FULL), environ={})
    with pytest.raises(pydantic.ValidationError):
        config.database.echo = False


def test_unknown_section_lists_the_sections(tmp_path: Path) -> None:
    message = _error(tmp_path, "databse:\n  url: sqlite:///x.db\n")
    assert message == (
        f"{tmp_path / CONFIG_FILE}: databse: unknown section (expected one of database, "
        "artifacts, serve, log, monitor, alerts, policy, retrain; did you mean database?)"
    )


def test_unknown_key_names_its_path_and_the_valid_keys(tmp_path: Path) -> None:
    message = _error(tmp_path, "database:\n  bsy_timeout: 3\n")
    assert "watchkeeper.yaml: database.bsy_timeout: unknown key" in message
    assert "expected one of url, busy_timeout_seconds, echo" in message


def test_an_unknown_nested_key_is_named_with_a_suggestion(tmp_path: Path) -> None:
    message = _error(tmp_path, "policy:\n  triggers:\n    drift:\n      shar: 0.2\n")
    assert "policy.triggers.drift.shar: unknown key" in message
    assert "did you mean share?" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("policy:\n  cooldown: 2x\n", "policy.cooldown: expected a duration such as"),
        ("monitor:\n  window: -1d\n", "monitor.window: expected a duration such as"),
        (
            "monitor:\n  schedule:\n    cron: '61 * * * *'\n",
            "monitor.schedule.cron: expected a five-field cron expression",
        ),
        (
            "monitor:\n  schedule:\n    every: 1d\n    cron: '0 2 * * *'\n",
            "monitor.schedule: expected exactly one of every (a duration) or cron",
        ),
        ("alerts:\n  channels:\n    - type: webhook\n", "alerts.channels.0: a webhook channel"),
        ("retrain:\n  trainer: train.py\n", "retrain.trainer: expected an entry point"),
        ("policy:\n  combine: most\n", "policy.combine: "),
        ("monitor:\n  detectors:\n    ddn: {}\n", "unknown detector 'ddn'"),
        ("retrain:\n  gate:\n    metric: auc\n", "retrain.gate.metric: unknown metric"),
        (
            "retrain:\n  gate:\n    test: mcnemar\n    metric: roc_auc\n",
            "retrain.gate: test: mcnemar compares accuracy",
        ),
        (
            "policy:\n  triggers:\n    concept_drift:\n      detectors: [ddn]\n",
            "policy.triggers.concept_drift.detectors: unknown detector 'ddn'",
        ),
        (
            "policy:\n  triggers:\n    performance:\n      floor: {acc: 0.9}\n",
            "policy.triggers.performance.floor: unknown metric 'acc'",
        ),
    ],
)
def test_bad_loop_settings_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in _error(tmp_path, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("database:\n  echo: 'yes please'\n", "database.echo: expected true or false, got 'yes"),
        ("database:\n  echo: 1\n", "database.echo: expected true or false, got 1"),
        ("database:\n  url: [a, b]\n", "database.url: expected a string, got ['a', 'b']"),
        ("database:\n  busy_timeout_seconds: '30'\n", "expected a number, got '30'"),
        ("artifacts:\n  max_data_bytes: 1.5\n", "max_data_bytes: expected a whole number, got 1.5"),
        ("artifacts: [root]\n", "artifacts: expected a mapping of keys (root, store_data,"),
    ],
)
def test_wrong_types_are_not_coerced(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in _error(tmp_path, text)


def test_bad_database_url_names_the_accepted_forms(tmp_path: Path) -> None:
    message = _error(tmp_path, "database:\n  url: mysql://wk@db/watchkeeper\n")
    assert "database.url: expected a URL starting with sqlite:///" in message
    assert "postgresql+psycopg:// or postgresql://" in message
    assert "got 'mysql://wk@db/watchkeeper'" in message


def test_sqlite_url_without_a_path_is_rejected(tmp_path: Path) -> None:
    assert "expected a file path after sqlite:///" in _error(
        tmp_path, "database:\n  url: sqlite:///\n"
    )


def test_password_in_a_bad_url_is_masked(tmp_path: Path) -> None:
    message = _error(tmp_path, "database:\n  url: mysql://wk:hunter2@db/x\n")
    assert "hunter2" not in message
    assert "mysql://wk:***@db/x" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("database:\n  busy_timeout_seconds: -1\n", "busy_timeout_seconds: expected a number > 0"),
        ("database:\n  busy_timeout_seconds: 0\n", "busy_timeout_seconds: expected a number > 0"),
        ("database:\n  busy_timeout_seconds: .inf\n", "expected a finite number, got inf"),
        ("artifacts:\n  max_data_bytes: -1\n", "max_data_bytes: expected a number >= 0, got -1"),
    ],
)
def test_out_of_range_values(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in _error(tmp_path, text)


def test_remote_artifact_stores_are_rejected(tmp_path: Path) -> None:
    message = _error(tmp_path, "artifacts:\n  root: s3://bucket/wk\n")
    assert "artifacts.root: only local folders are supported in this release" in message
    assert "got 's3://bucket/wk'" in message


def test_each_problem_gets_its_own_line(tmp_path: Path) -> None:
    lines = _error(tmp_path, "database:\n  echo: 2\n  url: x\nnope: 1\n").splitlines()
    assert len(lines) == 3
    assert all(line.startswith(str(tmp_path / CONFIG_FILE)) for line in lines)


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    message = _error(tmp_path, "database:\n  url: sqlite:///a.db\n   echo: true\n")
    assert message.startswith(f"{tmp_path / CONFIG_FILE}, line 3")
    assert "not valid YAML" in message


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    message = _error(tmp_path, "# sections\n- database\n- artifacts\n")
    assert message.startswith(f"{tmp_path / CONFIG_FILE}, line 2: expected a mapping of sections")
    assert "got ['database', 'artifacts']" in message


def test_a_key_given_twice_is_an_error(tmp_path: Path) -> None:
    message = _error(tmp_path, "database:\n  echo: true\ndatabase:\n  echo: false\n")
    assert "line 3" in message
    assert "found the key 'database' twice" in message


def test_missing_file_is_project_not_found(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFoundError, match=r"no watchkeeper\.yaml"):
        load_config(tmp_path, environ={})


# --- environment overrides -----------------------------------------------------------------


def test_env_overrides_the_database_url(tmp_path: Path) -> None:
    url = "postgresql://wk@other/watchkeeper"
    config = load_config(_project(tmp_path, FULL), environ={"WATCHKEEPER_DATABASE_URL": url})
    assert config.database.url == url
    assert config.database.echo is True  # the rest of the file still applies


def test_env_values_are_yaml_scalars(tmp_path: Path) -> None:
    environ = {
        "WATCHKEEPER_DATABASE_BUSY_TIMEOUT_SECONDS": "1.5",
        "WATCHKEEPER_DATABASE_ECHO": "true",
        "WATCHKEEPER_ARTIFACTS_MAX_DATA_BYTES": "1000",
        "WATCHKEEPER_ARTIFACTS_STORE_DATA": "false",
    }
    config = load_config(_project(tmp_path, ""), environ=environ)
    assert config.database.busy_timeout_seconds == 1.5
    assert config.database.echo is True
    assert config.artifacts.max_data_bytes == 1000
    assert config.artifacts.store_data is False


def test_env_string_fields_are_taken_verbatim(tmp_path: Path) -> None:
    config = load_config(_project(tmp_path, ""), environ={"WATCHKEEPER_ARTIFACTS_ROOT": "2024"})
    assert config.artifacts.root == "2024"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("WATCHKEEPER_DATABASE_BUSY_TIMEOUT_SECONDS", "-1", "expected a number > 0, got -1"),
        ("WATCHKEEPER_DATABASE_ECHO", "maybe", "expected true or false, got 'maybe'"),
        ("WATCHKEEPER_DATABASE_URL", "mysql://x", "expected a URL starting with sqlite:///"),
        ("WATCHKEEPER_ARTIFACTS_MAX_DATA_BYTES", "[1, 2", "expected a YAML scalar"),
    ],
)
def test_bad_env_value_names_the_variable(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    message = _error(tmp_path, "", environ={variable: value})
    assert message.startswith(f"Environment variable {variable} (")
    assert expected in message


def test_unrelated_watchkeeper_variables_are_ignored(tmp_path: Path) -> None:
    environ = {
        "WATCHKEEPER_PROJECT": "/elsewhere",
        "WATCHKEEPER_ADMIN_TOKEN": "secret",
        "WATCHKEEPER_TEST_DATABASE_URL": "mysql://not-ours",
        "WATCHKEEPER_ACTOR": "ci@runner",
        "watchkeeper_database_url": "mysql://lower-case",
    }
    assert load_config(_project(tmp_path, FULL), environ=environ) == load_config(
        tmp_path, environ={}
    )


@pytest.mark.parametrize(
    ("variable", "section", "fields"),
    [
        ("WATCHKEEPER_DATABASE_URLL", "database", "busy_timeout_seconds, echo, url"),
        ("WATCHKEEPER_ARTIFACTS_MAX_BYTES", "artifacts", "max_data_bytes, root, store_data"),
        (
            "WATCHKEEPER_POLICY_COOLDOWNN",
            "policy",
            "combine, consecutive, cooldown, max_actions, per, triggers",
        ),
    ],
)
def test_a_misspelled_override_is_an_error(
    tmp_path: Path, variable: str, section: str, fields: str
) -> None:
    # Like an unknown key in the file: ignoring it would silently keep the default.
    with pytest.raises(ConfigError, match=rf"{variable} names no setting of section '{section}'"):
        load_config(_project(tmp_path, ""), environ={variable: "1"})
    with pytest.raises(ConfigError, match=re.escape(f"(it has {fields})")):
        load_config(tmp_path, environ={variable: "1"})


def test_environ_none_reads_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHKEEPER_DATABASE_ECHO", "yes")
    assert load_config(_project(tmp_path, ""), environ=None).database.echo is True


# --- resolving paths -----------------------------------------------------------------------


def test_relative_sqlite_path_resolves_under_the_project(tmp_path: Path) -> None:
    config = load_config(_project(tmp_path, "database:\n  url: sqlite:///data/wk.db\n"), {})
    assert resolve_database_url(config, tmp_path) == f"sqlite:///{tmp_path}/data/wk.db"


@pytest.mark.parametrize(
    "url", ["sqlite:///:memory:", "sqlite:////var/lib/wk.db", "postgresql://wk@db/wk"]
)
def test_other_database_urls_are_left_alone(url: str, tmp_path: Path) -> None:
    config = WatchkeeperConfig.model_validate({"database": {"url": url}})
    assert resolve_database_url(config, tmp_path) == url


@pytest.mark.parametrize(
    ("root", "expected"),
    [
        ("artifacts", "{project}/artifacts"),
        ("/srv/a", "/srv/a"),
        ("file:///srv/my%20a", "/srv/my a"),
    ],
)
def test_artifacts_root_resolution(root: str, expected: str, tmp_path: Path) -> None:
    config = WatchkeeperConfig.model_validate({"artifacts": {"root": root}})
    resolved = resolve_artifacts_root(config, tmp_path)
    assert resolved == Path(expected.format(project=tmp_path))


# --- discovery -----------------------------------------------------------------------------


def test_found_from_a_nested_subfolder(tmp_path: Path) -> None:
    _project(tmp_path, "")
    nested = tmp_path / "models" / "churn"
    nested.mkdir(parents=True)
    assert find_project(cwd=nested, environ={}) == tmp_path


def test_explicit_folder_is_relative_to_cwd_and_wins_over_env(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    _project(project, "")
    environ = {"WATCHKEEPER_PROJECT": str(tmp_path / "other")}
    assert find_project("proj", cwd=tmp_path, environ=environ) == project


def test_explicit_folder_without_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFoundError, match="is not a watchkeeper project"):
        find_project(tmp_path, environ={})
    with pytest.raises(ProjectNotFoundError, match="no such folder"):
        find_project(tmp_path / "missing", environ={})


def test_project_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _project(tmp_path, "")
    elsewhere = tmp_path.parent
    assert find_project(cwd=elsewhere, environ={"WATCHKEEPER_PROJECT": str(tmp_path)}) == tmp_path
    monkeypatch.setenv("WATCHKEEPER_PROJECT", str(tmp_path / "nope"))
    with pytest.raises(ProjectNotFoundError, match="WATCHKEEPER_PROJECT="):
        find_project(cwd=elsewhere)


def test_not_found_message(tmp_path: Path) -> None:
    start = tmp_path / "a" / "b"
    start.mkdir(parents=True)
    with pytest.raises(ProjectNotFoundError) as info:
        find_project(cwd=start, environ={})
    assert str(info.value) == (
        f"No watchkeeper project in {start} or its parents (no watchkeeper.yaml); run "
        "`watchkeeper init`, pass --project DIR or set WATCHKEEPER_PROJECT."
    )


# --- init ----------------------------------------------------------------------------------


def test_initial_file_loads_back_to_the_defaults(tmp_path: Path) -> None:
    project = tmp_path / "new" / "project"
    written = write_initial_config(project)
    assert written == project / CONFIG_FILE
    assert load_config(project, environ={}) == WatchkeeperConfig()
    text = written.read_text(encoding="utf-8")
    assert "database:\n  url: sqlite:///watchkeeper.db" in text
    assert "# or postgresql+psycopg://user@host/db" in text
    for section in WatchkeeperConfig.model_fields:
        assert f"\n# {section}: " in text
    assert sorted(p.name for p in project.iterdir()) == [CONFIG_FILE]  # no temporary left


@pytest.mark.parametrize(
    "url", ["postgresql+psycopg://wk@db/watchkeeper", "sqlite:///odd name #1.db"]
)
def test_initial_file_with_a_database_url(tmp_path: Path, url: str) -> None:
    write_initial_config(tmp_path, database_url=url)
    config = load_config(tmp_path, environ={})
    assert config.database.url == url
    assert config.artifacts == WatchkeeperConfig().artifacts


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    _project(tmp_path, "database:\n  echo: true\n")
    with pytest.raises(ProjectExistsError, match="already holds a watchkeeper project"):
        write_initial_config(tmp_path)
    assert (tmp_path / CONFIG_FILE).read_text(encoding="utf-8") == "database:\n  echo: true\n"


def test_init_rejects_a_bad_url_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"The database_url argument \(database\.url"):
        write_initial_config(tmp_path, database_url="mysql://wk@db/x")
    assert list(tmp_path.iterdir()) == []


# --- the package ---------------------------------------------------------------------------


def test_public_names_are_pinned() -> None:
    assert set(watchkeeper.config.__all__) == {
        "CONFIG_FILE",
        "AlertsConfig",
        "ArtifactsConfig",
        "DatabaseConfig",
        "LogConfig",
        "MonitorConfig",
        "PolicyConfig",
        "RetrainConfig",
        "ServeConfig",
        "WatchkeeperConfig",
        "find_project",
        "load_config",
        "resolve_artifacts_root",
        "resolve_database_url",
        "write_initial_config",
    }
    assert CONFIG_FILE == "watchkeeper.yaml"


def test_imports_only_pydantic_yaml_and_the_standard_library() -> None:
    # croniter checks a schedule's cron expression, where one is given.
    allowed = {"pydantic", "pydantic_core", "yaml", "watchkeeper", "nturl2path", "croniter"}
    folder = Path(watchkeeper.config.__file__).parent
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.partition(".")[0]
                assert top in allowed or top in sys.stdlib_module_names, (path.name, name)


def test_the_metric_and_detector_names_match_the_library() -> None:
    import watchkeeper.detectors
    from watchkeeper.config import _ops
    from watchkeeper.ops._gate import GATE_METRICS
    from watchkeeper.ops._monitor import _DETECTORS
    from watchkeeper.performance import CHECK_NAMES

    assert set(_ops.PERFORMANCE_METRICS) == set(CHECK_NAMES)
    assert set(_ops.GATE_METRICS) == set(GATE_METRICS)
    assert set(_ops.DETECTORS) == set(_DETECTORS)
    assert all(hasattr(watchkeeper.detectors, cls) for cls in _DETECTORS.values())
