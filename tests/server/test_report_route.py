"""``GET /v1/models/{name}/report``: the model's monitoring report served from the stored runs
and history, filtered by period, guarded by the admin token when one is set, cached by ETag, and
4xx (never 5xx) for bad input."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from tests.conftest import drifted_churn_project
from tests.server.conftest import ADMIN_TOKEN, ServerProcess, write_serve_config

from watchkeeper.clock import SimulatedClock
from watchkeeper.datasets import CHURN_FEATURES
from watchkeeper.ops import run_monitor
from watchkeeper.ops._history import load_runs
from watchkeeper.registry import Project
from watchkeeper.report import MonitoringReport
from watchkeeper.server import create_app

ENV = {"WATCHKEEPER_ADMIN_TOKEN": ADMIN_TOKEN}
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
URL = "/v1/models/churn/report"
# The first stored run; the second is two days later. Both after the logged predictions.
T1 = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
T2 = T1 + timedelta(days=2)


def no_schedule(folder: Path) -> None:
    """Turn the server's scheduled monitoring off: only the tests make runs."""
    path = folder / "watchkeeper.yaml"
    data = yaml.safe_load(path.read_text()) or {}
    data.setdefault("monitor", {})["schedule"] = None
    path.write_text(yaml.safe_dump(data))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A drifted churn project with two stored monitor runs (at T1 and T2); copied per test."""
    folder = tmp_path_factory.mktemp("report") / "project"
    drifted_churn_project(folder, n_train=2_000, n_window=800)
    no_schedule(folder)
    clock = SimulatedClock(T1)
    with Project(folder, clock=clock) as project:
        run_monitor(project, "churn", last=800)
        clock.advance(T2 - T1)
        run_monitor(project, "churn", last=800)
    return folder


@pytest.fixture
def folder(template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "project"))


@pytest.fixture
def opened(folder: Path) -> Iterator[Project]:
    with Project(folder, clock=SimulatedClock(T2 + timedelta(hours=1))) as project:
        yield project


@pytest.fixture
def open_client(opened: Project) -> Iterator[TestClient]:
    """A server without an admin token: the report is open."""
    with TestClient(create_app(opened, environ={})) as client:
        yield client


@pytest.fixture
def guarded_client(opened: Project) -> Iterator[TestClient]:
    """A server with an admin token: the report needs it."""
    with TestClient(create_app(opened, environ=ENV)) as client:
        yield client


class Page(HTMLParser):
    """Parses a page (raising nothing on well-formed input), counting scripts."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.scripts = 0
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts += 1


def drifted_features(project: Project, **period: Any) -> set[str]:
    """The feature columns with a drift result in the stored runs (read without the report)."""
    return {
        c.column
        for run in load_runs(project.database, "churn", **period)
        for c in run.checks
        if c.family == "drift"
        and c.column in CHURN_FEATURES
        and c.details.get("role", "feature") == "feature"
    }


def section(html: str, start: str, end: str) -> str:
    return html[html.index(f'id="{start}"') : html.index(f'id="{end}"')]


# ---------------------------------------------------------------------------- the page


def test_the_page_shows_the_models_runs_and_charts(
    open_client: TestClient, opened: Project
) -> None:
    response = open_client.get(URL)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "private, no-cache"
    assert re.fullmatch(r'"[0-9a-f]{32}"', response.headers["etag"])
    assert "default-src 'none'" in response.headers["content-security-policy"]
    html = response.text
    assert Page(html).scripts == 0
    assert "<h1>Monitoring report: churn</h1>" in html
    assert "Runs<b>2</b>" in html
    features = drifted_features(opened)
    assert features
    assert section(html, "drift", "performance").count("<svg") == len(features)
    charted = re.findall(r'data-key="drift:drift\.[a-z_]+:([^"]*)"', html)
    assert set(charted) == features


def test_format_json_gives_the_data_behind_the_page(
    open_client: TestClient, opened: Project
) -> None:
    response = open_client.get(URL, params={"format": "json"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    stored = load_runs(opened.database, "churn", with_checks=False)
    assert body["model"] == "churn"
    assert [r["id"] for r in body["runs"]] == [r.id for r in stored]
    assert [r["ran_at"] for r in body["runs"]] == [T1.isoformat(), T2.isoformat()]
    # one URL, two representations: two tags
    assert response.headers["etag"] != open_client.get(URL).headers["etag"]


def test_a_model_without_runs_gets_the_empty_page(sqlite_project: Path) -> None:
    no_schedule(sqlite_project)
    with Project(sqlite_project) as project, TestClient(create_app(project, environ={})) as client:
        response = client.get(URL)
        assert response.status_code == 200, response.text
        assert "No monitor runs yet for churn" in response.text
        assert "<svg" not in response.text
        assert client.get(URL, params={"format": "json"}).json()["runs"] == []


def test_since_and_until_choose_the_runs(open_client: TestClient, opened: Project) -> None:
    middle = T1 + timedelta(days=1)
    whole = open_client.get(URL)
    later = open_client.get(URL, params={"since": middle.isoformat()})
    earlier = open_client.get(URL, params={"until": middle.isoformat()})
    for response in (later, earlier):
        assert response.status_code == 200, response.text
        assert "Runs<b>1</b>" in response.text
    assert f"From<b>{T2:%Y-%m-%d %H:%M}</b>" in later.text
    assert f"From<b>{T1:%Y-%m-%d %H:%M}</b>" in earlier.text
    assert len({whole.headers["etag"], later.headers["etag"], earlier.headers["etag"]}) == 3
    # the route hands the period to the report as given
    expected = MonitoringReport.from_project(opened, "churn", since=middle).to_html()
    assert later.text == expected
    # naive = UTC, and the same moment in another offset is the same period (and page)
    naive = middle.replace(tzinfo=None).isoformat()
    in_paris = middle.astimezone(ZoneInfo("Europe/Paris")).isoformat()
    for value in (naive, naive + "Z", in_paris):
        again = open_client.get(URL, params={"since": value})
        assert again.headers["etag"] == later.headers["etag"], value
        assert again.text == later.text


def test_a_period_without_runs_is_the_empty_page(open_client: TestClient) -> None:
    response = open_client.get(URL, params={"until": (T1 - timedelta(days=1)).isoformat()})
    assert response.status_code == 200
    assert "No monitor runs yet for churn in this period" in response.text


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("params", "field", "needle"),
    [
        ({"since": "soon"}, "since", "since must be an ISO 8601 date or time"),
        ({"until": "2026-13-01"}, "until", "until must be an ISO 8601 date or time"),
        ({"since": "0001-01-01T00:00:00+01:00"}, "since", "since must be an ISO 8601"),
        ({"since": "2026-01-01T00:00 01:00"}, "since", "send a '+' in a URL as %2B"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "until", "until must be after since"),
        ({"format": "xml"}, "query.format", "'html' or 'json'"),
    ],
)
def test_bad_parameters_are_422_naming_them(
    open_client: TestClient, params: dict[str, str], field: str, needle: str
) -> None:
    response = open_client.get(URL, params=params)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["reason"] == "invalid_parameter"
    assert body["field"] == field
    assert needle in body["error"]
    if field in ("since", "until") and "after" not in needle:
        assert "Got " in body["error"]
        assert "naive = UTC" in body["error"]


def test_an_unknown_model_is_404_like_the_other_model_routes(guarded_client: TestClient) -> None:
    history = guarded_client.get("/v1/models/nope/history", headers=AUTH)
    assert history.status_code == 404
    for params in ({}, {"format": "json"}, {"since": "2026-01-01"}):
        response = guarded_client.get("/v1/models/nope/report", params=params, headers=AUTH)
        assert response.status_code == 404
        assert response.json() == history.json()
        assert response.json()["reason"] == "not_found"
    invalid = guarded_client.get("/v1/models/Bad Name/report", headers=AUTH)
    assert invalid.status_code == 422
    assert invalid.json() == guarded_client.get("/v1/models/Bad Name/history", headers=AUTH).json()


# ---------------------------------------------------------------------------- the admin token


def test_with_an_admin_token_the_report_needs_it(guarded_client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": ADMIN_TOKEN}):
        response = guarded_client.get(URL, headers=headers)
        assert response.status_code == 401, headers
        history = guarded_client.get("/v1/models/churn/history", headers=headers)
        assert response.json() == history.json()
        # checked first: neither the parameters nor the model's existence leak
        assert guarded_client.get(URL, params={"since": "x"}, headers=headers).status_code == 401
        missing = guarded_client.get("/v1/models/nope/report", headers=headers)
        assert missing.status_code == 401
        assert "etag" not in response.headers
    allowed = guarded_client.get(URL, headers=AUTH)
    assert allowed.status_code == 200
    assert "Runs<b>2</b>" in allowed.text


def test_without_an_admin_token_the_report_is_open(open_client: TestClient) -> None:
    assert open_client.get("/v1/models", headers=AUTH).status_code == 403  # admin: disabled
    assert open_client.get(URL).status_code == 200
    assert open_client.get(URL, headers={"Authorization": "Bearer anything"}).status_code == 200


def test_without_an_admin_token_a_required_predict_token_guards_the_report(
    opened: Project, folder: Path
) -> None:
    write_serve_config(folder, require_predict_token=True)
    with (
        Project(folder, clock=SimulatedClock(T2 + timedelta(hours=1))) as project,
        TestClient(create_app(project, environ={"WATCHKEEPER_PREDICT_TOKEN": "p-tok"})) as client,
    ):
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            response = client.get(URL, headers=headers)
            assert response.status_code == 401, headers
            assert response.json()["field"] == "Authorization"
        allowed = client.get(URL, headers={"Authorization": "Bearer p-tok"})
        assert allowed.status_code == 200
        assert allowed.headers["cache-control"] == "private, no-cache"


def test_without_a_period_the_report_shows_the_last_30_days(folder: Path) -> None:
    later = T2 + timedelta(days=31)  # both runs are older than 30 days by then
    with (
        Project(folder, clock=SimulatedClock(later)) as project,
        TestClient(create_app(project, environ={})) as client,
    ):
        default = client.get(URL)
        assert default.status_code == 200
        assert "No monitor runs yet" in default.text
        data = client.get(URL, params={"format": "json"}).json()
        midnight = later.replace(hour=0, minute=0, second=0)
        assert data["since"] == (midnight - timedelta(days=30)).isoformat()
        assert data["until"] is None
        explicit = client.get(URL, params={"since": (T1 - timedelta(days=1)).isoformat()})
        assert "Runs<b>2</b>" in explicit.text


# ---------------------------------------------------------------------------- ETag


def test_etag_round_trip_and_a_new_run_changes_it(
    open_client: TestClient, opened: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = open_client.get(URL)
    etag = first.headers["etag"]
    renders = []
    original = MonitoringReport.to_html

    def counted(self: MonitoringReport, path: Any = None) -> str:
        renders.append(self.model)
        return original(self, path)

    monkeypatch.setattr(MonitoringReport, "to_html", counted)
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        cached = open_client.get(URL, headers={"If-None-Match": header})
        assert cached.status_code == 304, header
        assert cached.content == b""
        assert cached.headers["etag"] == etag
        assert cached.headers["cache-control"] == "private, no-cache"
    assert renders == []  # 304 without building the page
    stale = open_client.get(URL, headers={"If-None-Match": '"not-the-tag"'})
    assert stale.status_code == 200
    assert stale.text == first.text
    assert stale.headers["etag"] == etag
    assert renders == ["churn"]

    run_monitor(opened, "churn", last=800)  # a third run, at T2 + 1h
    fresh = open_client.get(URL, headers={"If-None-Match": etag})
    assert fresh.status_code == 200
    assert "Runs<b>3</b>" in fresh.text
    assert fresh.headers["etag"] != etag
    # a period that ends before the new run does not change
    until = {"until": (T2 + timedelta(minutes=1)).isoformat()}
    before = open_client.get(URL, params=until).headers["etag"]
    opened.deploy("churn", 1, alias="challenger")  # an event: every period changes
    assert open_client.get(URL, params=until).headers["etag"] != before
    latest = open_client.get(URL).headers["etag"]
    assert latest != fresh.headers["etag"]
    assert open_client.get(URL, headers={"If-None-Match": latest}).status_code == 304


def test_etag_changes_with_each_new_run_on_every_database(churn_project: Path) -> None:
    """On SQLite and PostgreSQL: the empty page, then one tag per stored run."""
    no_schedule(churn_project)
    clock = SimulatedClock(T1)
    with (
        Project(churn_project, clock=clock) as project,
        TestClient(create_app(project, environ={})) as client,
    ):
        empty = client.get(URL)
        assert "No monitor runs yet for churn" in empty.text
        # a NUL never reaches the database (PostgreSQL would refuse it with a 500)
        assert client.get("/v1/models/%00/report").status_code == 422
        tags = [empty.headers["etag"]]
        for n in (1, 2):
            run_monitor(project, "churn")  # nothing logged: a run of skipped checks
            clock.advance(timedelta(days=1))
            response = client.get(URL, headers={"If-None-Match": tags[-1]})
            assert response.status_code == 200
            assert f"Runs<b>{n}</b>" in response.text
            tags.append(response.headers["etag"])
            assert client.get(URL, headers={"If-None-Match": tags[-1]}).status_code == 304
        assert len(set(tags)) == 3


# ---------------------------------------------------------------------------- a real server


def test_a_real_server_serves_the_report_and_keeps_serving_after_errors(folder: Path) -> None:
    with ServerProcess(folder) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        assert http.get(URL).status_code == 401  # the process has an admin token
        page = http.get(URL, headers=AUTH)
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert "Runs<b>2</b>" in page.text
        for path, params, status in [
            (URL, {"since": "not a time"}, 422),
            (URL, {"format": "pdf"}, 422),
            ("/v1/models/nope/report", {}, 404),
            ("/v1/models/%00/report", {}, 422),
            (URL, {"since": "9999-12-31T23:59:59-23:59"}, 422),
        ]:
            assert http.get(path, params=params, headers=AUTH).status_code == status, path
        garbled = http.get(URL, headers={**AUTH, "If-None-Match": '",,W/"\t*x'})
        assert garbled.status_code == 200
        again = http.get(URL, headers={**AUTH, "If-None-Match": page.headers["etag"]})
        assert again.status_code == 304
        assert http.get(URL, headers=AUTH).text == page.text
        assert http.get("/v2/health/ready").status_code == 200
    assert "Traceback" not in server.log.read_text()
