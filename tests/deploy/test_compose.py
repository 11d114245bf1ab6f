"""deploy/docker-compose.yml, deploy/Dockerfile and the Grafana provisioning files fit together.

Docker is not available to the test suite, so these tests read the files and check what
would break a `docker compose up`: the services, the build context, every mounted path, the
ports and host names the configs use to reach each other, and the command the image runs."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
PROVISIONING = DEPLOY / "grafana" / "provisioning"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"

SERVE = ["watchkeeper", "serve", "--host", "0.0.0.0", "--port", "8080"]


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = _yaml(COMPOSE)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"]
    return found


def _mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """The service's volumes as (source, container path), short syntax."""
    mounts = []
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        mounts.append((source, target))
    return mounts


def _bind_mounts(service: dict[str, Any]) -> list[tuple[Path, PurePosixPath]]:
    return [
        ((DEPLOY / source).resolve(), PurePosixPath(target))
        for source, target in _mounts(service)
        if source.startswith((".", "/"))
    ]


def _host_path(service: dict[str, Any], container_path: str) -> Path | None:
    """Where ``container_path`` of the service comes from on the host (None: not bind-mounted)."""
    wanted = PurePosixPath(container_path)
    best: tuple[Path, PurePosixPath] | None = None
    for source, target in _bind_mounts(service):
        if (wanted == target or target in wanted.parents) and (
            best is None or len(target.parts) > len(best[1].parts)
        ):
            best = (source, target)
    if best is None:
        return None
    return best[0].joinpath(*wanted.relative_to(best[1]).parts)


def _container_ports(service: dict[str, Any]) -> set[int]:
    return {int(str(port).split(":")[-1].split("/")[0]) for port in service.get("ports", [])}


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends with a continuation line"
    return instructions


def _exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"expected the exec (JSON) form, got {args!r}"
    return [str(item) for item in value]


def _last(instructions: list[tuple[str, str]], keyword: str) -> str:
    values = [args for kw, args in instructions if kw == keyword]
    assert values, f"the Dockerfile has no {keyword}"
    return values[-1]


def test_compose_and_provisioning_load() -> None:
    for path in [COMPOSE, *sorted(PROVISIONING.rglob("*.yml"))]:
        assert isinstance(_yaml(path), dict), path


def test_services(services: dict[str, Any]) -> None:
    assert {"watchkeeper", "prometheus", "grafana"} <= set(services)
    assert services["prometheus"]["image"].startswith("prom/prometheus:")
    assert services["grafana"]["image"].startswith("grafana/grafana:")
    for name, service in services.items():
        if "image" in service and "build" not in service:
            tag = service["image"].rpartition(":")[2]
            assert tag not in ("", "latest"), f"{name}: pin the image's version"
    assert _container_ports(services["watchkeeper"]) == {8080}
    assert _container_ports(services["prometheus"]) == {9090}
    assert _container_ports(services["grafana"]) == {3000}


def test_watchkeeper_is_built_from_the_repository(services: dict[str, Any]) -> None:
    build = services["watchkeeper"]["build"]
    context = (DEPLOY / build["context"]).resolve()
    assert context == ROOT
    assert (context / build["dockerfile"]).resolve() == DOCKERFILE
    # Everything the Dockerfile copies is in the build context.
    for keyword, args in _dockerfile():
        if keyword == "COPY":
            *sources, _ = shlex.split(args)
            for source in sources:
                assert not source.startswith("--"), "COPY --from/--chown is not expected here"
                assert (context / source).exists(), f"COPY {source}: not in the build context"


def test_watchkeeper_runs_serve_with_the_project_volume(services: dict[str, Any]) -> None:
    service = services["watchkeeper"]
    instructions = _dockerfile()
    entrypoint = _exec_form(_last(instructions, "ENTRYPOINT"))
    command = service.get("command", _exec_form(_last(instructions, "CMD")))
    assert [*service.get("entrypoint", entrypoint), *command] == SERVE
    project = service["environment"]["WATCHKEEPER_PROJECT"]
    assert ("watchkeeper-project", project) in _mounts(service)
    assert f"WATCHKEEPER_PROJECT={project}" in _last(instructions, "ENV")


def test_named_volumes_are_declared(compose: dict[str, Any], services: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used = {
        source
        for service in services.values()
        for source, _ in _mounts(service)
        if not source.startswith((".", "/"))
    }
    assert used == declared


def test_bind_mounted_paths_exist(services: dict[str, Any]) -> None:
    """Fails while deploy/prometheus/ is missing: it is written by the Prometheus work."""
    for name, service in services.items():
        for source, target in _bind_mounts(service):
            assert source.is_relative_to(DEPLOY), f"{name} mounts {source} from outside deploy/"
            assert source.exists(), f"{name} mounts {source} at {target}, which does not exist"


def test_prometheus_config_and_rules_are_mounted(services: dict[str, Any]) -> None:
    service = services["prometheus"]
    flags = dict(arg.split("=", 1) for arg in service["command"] if "=" in arg)
    config = _host_path(service, flags["--config.file"])
    assert config == PROMETHEUS_CONFIG.resolve()
    assert config.is_file(), f"{PROMETHEUS_CONFIG} is missing"
    container_dir = PurePosixPath(flags["--config.file"]).parent
    for rule_file in _yaml(config).get("rule_files", []):
        # Relative rule files are resolved against the configuration file's folder.
        host = _host_path(service, str(container_dir / rule_file))
        assert host is not None, f"{rule_file} is not mounted in the prometheus container"
        assert host.is_file(), f"rule file {rule_file} ({host}) does not exist"


def test_prometheus_scrapes_the_watchkeeper_service(services: dict[str, Any]) -> None:
    assert PROMETHEUS_CONFIG.is_file(), f"{PROMETHEUS_CONFIG} is missing"
    targets = {
        target
        for job in _yaml(PROMETHEUS_CONFIG)["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    assert "watchkeeper:8080" in targets
    for target in targets:
        host, _, port = target.partition(":")
        assert host in services, f"scrape target {target} is not a compose service"
        assert int(port) in _container_ports(services[host]), f"{target}: port not served"


def test_grafana_mounts_the_provisioning(services: dict[str, Any]) -> None:
    service = services["grafana"]
    datasources = _host_path(service, "/etc/grafana/provisioning/datasources")
    assert datasources == (PROVISIONING / "datasources").resolve()
    assert (datasources / "prometheus.yml").is_file()
    dashboards = _host_path(service, "/etc/grafana/provisioning/dashboards")
    assert dashboards == (PROVISIONING / "dashboards").resolve()
    providers = _yaml(dashboards / "watchkeeper.yml")["providers"]
    assert len(providers) == 1
    provider = providers[0]
    assert provider["type"] == "file"
    folder = _host_path(service, provider["options"]["path"])
    assert folder is not None, "the dashboard provider's path is not mounted"
    assert (folder / "watchkeeper.json").is_file()
    home = _host_path(service, service["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert home == (DEPLOY / "grafana" / "dashboards" / "watchkeeper.json").resolve()


def test_grafana_datasource_reaches_the_prometheus_service(services: dict[str, Any]) -> None:
    (source,) = _yaml(PROVISIONING / "datasources" / "prometheus.yml")["datasources"]
    match = re.fullmatch(r"http://([\w.-]+):(\d+)", source["url"])
    assert match, source["url"]
    host, port = match.group(1), int(match.group(2))
    assert host == "prometheus"
    assert host in services
    assert port in _container_ports(services[host])
    # $__rate_interval is derived from timeInterval: it must be Prometheus's scrape interval.
    if PROMETHEUS_CONFIG.is_file():
        config = _yaml(PROMETHEUS_CONFIG)
        (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "watchkeeper"]
        interval = job.get("scrape_interval", config.get("global", {}).get("scrape_interval"))
        assert source["jsonData"]["timeInterval"] == interval


def test_dockerfile() -> None:
    instructions = _dockerfile()
    assert _last(instructions, "FROM") == "python:3.11-slim"
    assert "8080" in _last(instructions, "EXPOSE").split()
    user = _last(instructions, "USER")
    assert user not in ("root", "0"), "the server must not run as root"
    runs = " ".join(args for kw, args in instructions if kw == "RUN")
    assert "pip install '.[server,postgres]'" in runs
    assert re.search(rf"useradd\b.*\b{re.escape(user)}\b", runs), f"user {user} is not created"
    entrypoint = _exec_form(_last(instructions, "ENTRYPOINT"))
    assert [*entrypoint, *_exec_form(_last(instructions, "CMD"))] == SERVE
    project = json.loads(_last(instructions, "VOLUME"))
    assert project == ["/project"]


def test_dockerfile_healthcheck_uses_a_documented_route() -> None:
    healthcheck = _last(_dockerfile(), "HEALTHCHECK")
    match = re.search(r"http://127\.0\.0\.1:8080(/[\w/]+)", healthcheck)
    assert match, healthcheck
    assert f"`GET {match.group(1)}`" in (ROOT / "docs" / "serving.md").read_text(encoding="utf-8")


# The deploy/ files the README explains (deploy/prometheus/ also holds the rules' unit tests,
# which are documented with the rules).
DESCRIBED = [
    "deploy/Dockerfile",
    "deploy/docker-compose.yml",
    "deploy/prometheus/prometheus.yml",
    "deploy/prometheus/rules.yml",
    "deploy/grafana/dashboards/watchkeeper.json",
    "deploy/grafana/provisioning/datasources/prometheus.yml",
    "deploy/grafana/provisioning/dashboards/watchkeeper.yml",
]


def test_readme_describes_every_file() -> None:
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for relative in DESCRIBED:
        assert relative in readme, f"deploy/README.md does not mention {relative}"
    for path in sorted((DEPLOY / "grafana").rglob("*")):
        if path.is_file():
            relative = path.relative_to(ROOT).as_posix()
            assert relative in DESCRIBED, f"{relative} is not described in deploy/README.md"
