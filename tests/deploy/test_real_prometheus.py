"""A real Prometheus scraping a real ``watchkeeper serve`` process: the request counter, the
latency histogram and the drift gauges of a stored monitor run are queryable with their labels,
every rule of ``deploy/prometheus/rules.yml`` evaluates without an error, and the feature-drift
alert goes pending for the drifted feature (its expression returns it)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from tests.conftest import stop_process_group
from tests.server.conftest import ServerProcess, make_project, rows, split_body

from watchkeeper.datasets import churn, train_churn_model
from watchkeeper.ops import run_monitor
from watchkeeper.registry import Project

PROMETHEUS = shutil.which("prometheus")
RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules.yml"
JOB = "watchkeeper"
REQUESTS = 5
ROWS_PER_REQUEST = 100
WAIT_SECONDS = 60.0

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="prometheus is not installed (Debian: apt-get install prometheus; .ci/run installs it)",
)

T = TypeVar("T")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PrometheusProcess:
    """``prometheus`` on a free loopback port with its own config and data folder, scraping
    ``target`` every second and evaluating a copy of rules.yml every second, in its own
    process group."""

    def __init__(self, folder: Path, target: str) -> None:
        folder.mkdir()
        shutil.copy(RULES, folder / "rules.yml")
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": ["rules.yml"],
            "scrape_configs": [
                {
                    "job_name": JOB,
                    "scrape_interval": "1s",
                    "scrape_timeout": "1s",
                    "static_configs": [{"targets": [target]}],
                }
            ],
        }
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = folder / "prometheus.log"
        self._log_file = self.log.open("w")
        assert PROMETHEUS is not None
        self.process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def get(self, path: str, **params: str) -> Any:
        """``GET /api/v1/<path>``'s ``data`` (the answer must be a success)."""
        if self.process.poll() is not None:
            raise AssertionError(f"prometheus exited:\n{self.log.read_text()}")
        answer = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=5)
        body = answer.json()
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.get("query", query=expr)
        assert data["resultType"] == "vector", data
        result: list[dict[str, Any]] = data["result"]
        return result

    def wait_for(self, what: str, probe: Callable[[], T | None]) -> T:
        """Poll ``probe`` until it returns something other than None (at most WAIT_SECONDS)."""
        deadline = time.monotonic() + WAIT_SECONDS
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                found = probe()
            except httpx.TransportError as exc:  # not listening yet
                last = exc
            else:
                if found is not None:
                    return found
            time.sleep(0.25)
        raise AssertionError(
            f"{what}: not seen within {WAIT_SECONDS} s (last error: {last!r})\n"
            f"{self.log.read_text()}"
        )

    def stop(self) -> None:
        stop_process_group(self.process)
        self._log_file.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """churn v1 in production, on SQLite."""
    reference = churn(2_000, seed=1)
    frames = {"reference": reference, "validation": churn(500, seed=2)}
    url = f"sqlite:///{tmp_path / 'project' / 'watchkeeper.db'}"
    return make_project(tmp_path / "project", url, frames, [train_churn_model(reference)])


@pytest.fixture
def server(project: Path) -> Iterator[ServerProcess]:
    with ServerProcess(project) as running:
        yield running


def _send_drifted_predictions(server: ServerProcess) -> None:
    """REQUESTS MLflow requests of ROWS_PER_REQUEST rows with tenure_months shifted."""
    production = churn(REQUESTS * ROWS_PER_REQUEST, seed=3)
    production["tenure_months"] = production["tenure_months"] * 2 + 24
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for k in range(REQUESTS):
            body = split_body(rows(production, k * ROWS_PER_REQUEST, ROWS_PER_REQUEST))
            answer = client.post("/invocations", json=body)
            assert answer.status_code == 200, answer.text


def _one(result: list[dict[str, Any]], **labels: str) -> dict[str, Any]:
    """The single sample of ``result`` whose labels include ``labels``."""
    found = [s for s in result if labels.items() <= s["metric"].items()]
    assert len(found) == 1, (labels, result)
    return found[0]


def test_prometheus_scrapes_the_server_and_evaluates_the_rules(
    project: Path, server: ServerProcess, tmp_path: Path
) -> None:
    _send_drifted_predictions(server)
    with Project(project) as opened:
        run = run_monitor(opened, "churn", source="manual")
    drifted = {
        c.column: c
        for c in run.stored.checks
        if c.check.startswith("drift.") and c.column is not None and c.status == "alert"
    }
    assert "tenure_months" in drifted, [(c.check, c.column, c.status) for c in run.stored.checks]
    tenure = drifted["tenure_months"]

    # Started after the run, so the first scrape already holds its gauges.
    prometheus = PrometheusProcess(tmp_path / "prometheus", urlsplit(server.url).netloc)
    try:
        _check(prometheus, server, tenure)
    finally:
        prometheus.stop()


def _check(prometheus: PrometheusProcess, server: ServerProcess, tenure: Any) -> None:
    instance = urlsplit(server.url).netloc

    # A scrape that worked, with the request counter in it.
    def scraped() -> list[dict[str, Any]] | None:
        up = prometheus.query(f'up{{job="{JOB}"}}')
        if not up or up[0]["value"][1] != "1":
            return None
        return prometheus.query("watchkeeper_requests_total") or None

    requests = prometheus.wait_for("a scrape with watchkeeper_requests_total", scraped)
    invocations = _one(requests, endpoint="/invocations", model="churn", code="200")
    assert invocations["metric"] == {
        "__name__": "watchkeeper_requests_total",
        "job": JOB,
        "instance": instance,
        "endpoint": "/invocations",
        "model": "churn",
        "code": "200",
    }
    assert float(invocations["value"][1]) == REQUESTS

    # The latency histogram: 14 buckets (1 ms to 10 s and +Inf), every request within +Inf.
    buckets = prometheus.query(
        'watchkeeper_request_duration_seconds_bucket{endpoint="/invocations",model="churn"}'
    )
    bounds = {sample["metric"]["le"]: float(sample["value"][1]) for sample in buckets}
    assert len(bounds) == 14, sorted(bounds)
    assert bounds["+Inf"] == REQUESTS
    assert float(bounds["10.0"]) <= REQUESTS
    count = prometheus.query(
        'watchkeeper_request_duration_seconds_count{endpoint="/invocations",model="churn"}'
    )
    assert float(_one(count)["value"][1]) == REQUESTS
    served = prometheus.query('watchkeeper_predictions_total{model="churn",role="served"}')
    assert float(_one(served, version="1")["value"][1]) == REQUESTS * ROWS_PER_REQUEST

    # The stored monitor run's drift gauges, with its labels and value.
    scores = prometheus.query('watchkeeper_feature_drift_score{model="churn"}')
    score = _one(scores, feature="tenure_months", check=tenure.check)
    assert score["metric"] == {
        "__name__": "watchkeeper_feature_drift_score",
        "job": JOB,
        "instance": instance,
        "model": "churn",
        "version": "1",
        "feature": "tenure_months",
        "check": tenure.check,
    }
    assert float(score["value"][1]) == pytest.approx(tenure.value, rel=1e-12)

    # A recording rule has been evaluated on the scraped series.
    rate = prometheus.wait_for(
        "model:watchkeeper_requests:rate5m",
        lambda: prometheus.query('model:watchkeeper_requests:rate5m{model="churn"}') or None,
    )
    assert float(rate[0]["value"][1]) >= 0

    # Every rule of rules.yml evaluated, and none failed (a bad expression or template would
    # show here as health "err" with the error).
    def evaluated() -> list[dict[str, Any]] | None:
        rules = [r for g in prometheus.get("rules")["groups"] for r in g["rules"]]
        return rules if rules and all(r["health"] != "unknown" for r in rules) else None

    rules = prometheus.wait_for("a first evaluation of every rule", evaluated)
    assert {r["name"] for r in rules} >= {"WatchkeeperFeatureDrift", "WatchkeeperRollback"}
    failing = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert not failing, failing

    # The feature-drift alert is active for tenure_months (pending: its `for:` is minutes),
    # with its annotations rendered, the threshold read by a template query.
    def drift_alert() -> dict[str, Any] | None:
        for alert in prometheus.get("alerts")["alerts"]:
            labels = alert["labels"]
            if labels["alertname"] == "WatchkeeperFeatureDrift" and (
                labels.get("feature") == "tenure_months" and labels.get("check") == tenure.check
            ):
                return dict(alert)
        return None

    alert = prometheus.wait_for("the WatchkeeperFeatureDrift alert", drift_alert)
    assert alert["state"] in {"pending", "firing"}
    assert alert["labels"]["severity"] == "warning"
    assert alert["labels"]["model"] == "churn"
    assert alert["labels"]["version"] == "1"
    assert alert["annotations"]["summary"] == (
        "feature 'tenure_months' of model 'churn' v1 drifted"
    )
    assert f"(threshold {tenure.threshold:.4g})" in alert["annotations"]["description"]

    # The alert's own expression, queried directly, returns the drifted feature.
    groups = yaml.safe_load(RULES.read_text())["groups"]
    (expr,) = [
        r["expr"] for g in groups for r in g["rules"] if r.get("alert") == "WatchkeeperFeatureDrift"
    ]
    result = prometheus.query(expr)
    assert "tenure_months" in {s["metric"]["feature"] for s in result}
    assert float(_one(result, feature="tenure_months", check=tenure.check)["value"][1]) == (
        pytest.approx(tenure.value, rel=1e-12)
    )

    # Nothing about the server itself is wrong: the target is up, no 5xx, no rollback.
    quiet = ("WatchkeeperTargetDown", "WatchkeeperHighErrorRate", "WatchkeeperRollback")
    active = {a["labels"]["alertname"] for a in prometheus.get("alerts")["alerts"]}
    assert not active & set(quiet), active
