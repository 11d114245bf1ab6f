"""Alerts: candidates from a run's checks, de-duplication with a cool-down, recoveries, the
drifted-feature ranking, and delivery to a real local HTTP receiver (JSON and Slack bodies,
bearer token, retries with backoff, no retry on 4xx, refused connections, timeouts)."""

from __future__ import annotations

import json
import logging
import math
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from watchkeeper import compare
from watchkeeper.config import AlertsConfig
from watchkeeper.datasets import CHURN_FEATURES, churn
from watchkeeper.errors import InvalidParameterError
from watchkeeper.ops._alerts import (
    Alert,
    AlertState,
    Notifier,
    build_alerts,
    select_alerts,
)
from watchkeeper.ops._importance import rank_drifted_features, stored_importance
from watchkeeper.results import CheckResult

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


# ---------------------------------------------------------------------- a local receiver
@dataclass
class Received:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any


@dataclass
class Receiver:
    """Records each POST; answers ``status`` to the first ``fail_first`` ones, then 200."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    fail_first: int = 0
    status: int = 500
    retry_after: str | None = None
    hang: float = 0.0  # seconds to wait before answering (released at teardown)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hooks/alerts") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        rec = self.server.receiver
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        with rec.lock:
            rec.requests.append(Received(self.path, headers, json.loads(raw)))
            n = len(rec.requests)
        if rec.hang:
            rec.release.wait(rec.hang)
        code = rec.status if n <= rec.fail_first else 200
        body = b"ok" if code == 200 else b'{"error": "receiver told to fail"}'
        try:
            self.send_response(code)
            if code == 429 and rec.retry_after is not None:
                self.send_header("Retry-After", rec.retry_after)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except ConnectionError:  # the client gave up (a timeout test)
            pass

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, receiver: Receiver) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.receiver = receiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    server = _Server(rec)
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        rec.release.set()
        server.shutdown()
        server.server_close()  # joins the handler threads
        thread.join()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _config(url: str, **channel: Any) -> AlertsConfig:
    return AlertsConfig.model_validate({"channels": [{"type": "webhook", "url": url, **channel}]})


class _Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _alert(
    status: str = "alert", column: str | None = "age", check: str = "drift.wasserstein"
) -> Alert:
    return Alert(
        "churn",
        3,
        check,
        column,
        status,
        f"churn v3: {check} on {column} is {status}: distance 0.3 >= 0.1",
        T0,
        {"value": 0.3, "threshold": 0.1},
    )


# ---------------------------------------------------------------------- webhook delivery
def test_json_body_token_and_headers(receiver: Receiver) -> None:
    alerts = [_alert(), _alert("warning", "income")]
    cfg = _config(receiver.url("/hooks/alerts?team=ml"), headers={"X-Team": "ml"})
    env = {"WATCHKEEPER_ALERTS_WEBHOOK_TOKEN": "s3cret"}
    report = Notifier(cfg, environ=env, sleep=_Sleeps()).send(alerts)
    assert report.ok
    assert report.alerts == 2
    [delivery] = report.channels
    assert (delivery.channel, delivery.attempts, delivery.status_code) == ("webhook", 1, 200)
    assert delivery.target == f"http://127.0.0.1:{receiver.port}"
    [request] = receiver.requests  # one POST carries every alert of the call
    assert request.path == "/hooks/alerts?team=ml"
    assert request.headers["authorization"] == "Bearer s3cret"
    assert request.headers["x-team"] == "ml"
    assert request.headers["content-type"] == "application/json"
    assert request.body == {"source": "watchkeeper", "alerts": [a.to_dict() for a in alerts]}
    assert request.body["alerts"][0]["at"] == "2025-03-01T12:00:00+00:00"


def test_slack_body_is_a_summary_and_bullets(receiver: Receiver) -> None:
    alerts = [_alert(), _alert("alert", "income"), _alert("ok", "tenure")]
    cfg = _config(receiver.url(), format="slack")
    assert Notifier(cfg, environ={}, sleep=_Sleeps()).send(alerts).ok
    [request] = receiver.requests
    assert "authorization" not in request.headers  # no token in the environment
    assert list(request.body) == ["text"]
    lines = request.body["text"].split("\n")
    assert lines[0] == "watchkeeper: 2 alerts, 1 recovered for churn v3"
    assert lines[1:] == [
        "\u2022 " + a.message.replace(">", "&gt;") for a in alerts
    ]  # Slack's mrkdwn reads <, > and & as markup


def test_the_token_replaces_a_configured_authorization_header(receiver: Receiver) -> None:
    cfg = _config(receiver.url(), headers={"authorization": "Basic old"})
    env = {"WATCHKEEPER_ALERTS_WEBHOOK_TOKEN": "new"}
    Notifier(cfg, environ=env, sleep=_Sleeps()).send([_alert()])
    assert receiver.requests[0].headers["authorization"] == "Bearer new"


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_are_retried_with_backoff(receiver: Receiver, status: int) -> None:
    receiver.fail_first, receiver.status = 2, status
    sleeps = _Sleeps()
    cfg = _config(receiver.url(), retries=3, backoff_seconds=0.5)
    report = Notifier(cfg, environ={}, sleep=sleeps).send([_alert()])
    assert report.ok
    assert report.channels[0].attempts == 3
    assert sleeps == [0.5, 1.0]  # backoff_seconds * 2**attempt
    assert len(receiver.requests) == 3
    assert all(r.body == receiver.requests[0].body for r in receiver.requests)


def test_a_longer_retry_after_is_honoured(receiver: Receiver) -> None:
    receiver.fail_first, receiver.status, receiver.retry_after = 1, 429, "7"
    sleeps = _Sleeps()
    cfg = _config(receiver.url(), retries=1, backoff_seconds=0.5)
    assert Notifier(cfg, environ={}, sleep=sleeps).send([_alert()]).ok
    assert sleeps == [7.0]


def test_a_client_error_is_not_retried(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.fail_first, receiver.status = 10, 400
    sleeps = _Sleeps()
    with caplog.at_level(logging.ERROR, logger="watchkeeper.alerts"):
        report = Notifier(_config(receiver.url(), retries=3), environ={}, sleep=sleeps).send(
            [_alert()]
        )
    [delivery] = report.channels
    assert not report.ok
    assert not delivery.ok
    assert (delivery.attempts, delivery.status_code) == (1, 400)
    assert delivery.error == 'HTTP 400: {"error": "receiver told to fail"}'
    assert len(receiver.requests) == 1
    assert sleeps == []
    assert [r.levelname for r in caplog.records] == ["ERROR"]


def test_when_every_attempt_fails_send_reports_and_logs(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.fail_first, receiver.status = 100, 502
    sleeps = _Sleeps()
    cfg = _config(receiver.url("/services/T000/B000/secret-path"), retries=2)
    with caplog.at_level(logging.ERROR, logger="watchkeeper.alerts"):
        report = Notifier(cfg, environ={}, sleep=sleeps).send([_alert()])
    [delivery] = report.channels
    assert not delivery.ok
    assert (delivery.attempts, delivery.status_code) == (3, 502)
    assert delivery.error is not None
    assert delivery.error.startswith("HTTP 502")
    assert len(receiver.requests) == 3
    assert sleeps == [0.5, 1.0]
    [record] = caplog.records
    assert (record.name, record.levelname) == ("watchkeeper.alerts", "ERROR")
    text = record.getMessage()
    assert "failed after 3 attempt(s)" in text
    assert "HTTP 502" in text
    assert "secret-path" not in text
    assert "secret-path" not in json.dumps(report.to_dict())


def test_a_refused_connection_is_retried_then_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sleeps = _Sleeps()
    cfg = _config(f"http://127.0.0.1:{_closed_port()}/hook", retries=2, backoff_seconds=0.1)
    with caplog.at_level(logging.ERROR, logger="watchkeeper.alerts"):
        report = Notifier(cfg, environ={}, sleep=sleeps).send([_alert()])
    [delivery] = report.channels
    assert not delivery.ok
    assert delivery.attempts == 3
    assert delivery.status_code is None
    assert delivery.error is not None
    assert delivery.error.startswith("ConnectError")
    assert sleeps == [0.1, 0.2]
    assert [r.levelname for r in caplog.records] == ["ERROR"]


def test_a_hanging_receiver_times_out(receiver: Receiver) -> None:
    receiver.hang = 1.0
    cfg = _config(receiver.url(), retries=1, timeout_seconds=0.2)
    report = Notifier(cfg, environ={}, sleep=_Sleeps()).send([_alert()])
    [delivery] = report.channels
    assert not delivery.ok
    assert delivery.attempts == 2
    assert delivery.error is not None
    assert delivery.error.startswith("timed out after 0.2 s")
    assert len(receiver.requests) == 2


def test_log_channel_beside_a_failing_webhook(caplog: pytest.LogCaptureFixture) -> None:
    cfg = AlertsConfig.model_validate(
        {
            "channels": [
                {"type": "log"},
                {"type": "webhook", "url": f"http://127.0.0.1:{_closed_port()}/", "retries": 0},
            ]
        }
    )
    alerts = [_alert(), _alert("warning", "income"), _alert("ok", "tenure")]
    with caplog.at_level(logging.INFO, logger="watchkeeper.alerts"):
        report = Notifier(cfg, environ={}, sleep=_Sleeps()).send(alerts)
    assert [c.ok for c in report.channels] == [True, False]
    assert not report.ok
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert lines[:3] == [
        ("WARNING", f"[alert] {alerts[0].message}"),
        ("INFO", f"[warning] {alerts[1].message}"),
        ("INFO", f"[ok] {alerts[2].message}"),
    ]
    assert [level for level, _ in lines[3:]] == ["ERROR"]


def test_without_httpx_the_webhook_names_the_extra(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)  # `import httpx` now fails
    with caplog.at_level(logging.ERROR, logger="watchkeeper.alerts"):
        report = Notifier(_config(receiver.url()), environ={}, sleep=_Sleeps()).send([_alert()])
    [delivery] = report.channels
    assert not delivery.ok
    assert delivery.attempts == 0
    assert delivery.error is not None
    assert "pip install 'watchkeeper[server]'" in delivery.error
    assert receiver.requests == []
    assert [r.levelname for r in caplog.records] == ["ERROR"]


def test_a_given_client_is_used_and_left_open(receiver: Receiver) -> None:
    with httpx.Client(headers={"X-Via": "shared-client"}) as client:
        notifier = Notifier(_config(receiver.url()), environ={}, client=client)
        assert notifier.send([_alert()]).ok
        assert notifier.send([_alert("ok")]).ok
        assert not client.is_closed
    assert [r.headers["x-via"] for r in receiver.requests] == ["shared-client"] * 2


def test_nothing_to_send_sends_nothing(receiver: Receiver) -> None:
    report = Notifier(_config(receiver.url()), environ={}).send([])
    assert report.ok
    assert report.alerts == 0
    assert report.channels == ()
    assert receiver.requests == []


# ---------------------------------------------------------------------- select_alerts
def _select(
    alerts: list[Alert],
    previous: dict[tuple[str, str, str], AlertState],
    now: datetime,
    min_status: str = "alert",
) -> tuple[list[Alert], dict[tuple[str, str, str], AlertState]]:
    return select_alerts(alerts, previous, cooldown=DAY, min_status=min_status, now=now)


def _replay(statuses: list[str], step: timedelta, min_status: str = "alert") -> list[str | None]:
    """Feed one key's statuses run after run; return what was sent each time."""
    states: dict[tuple[str, str, str], AlertState] = {}
    sent: list[str | None] = []
    for i, status in enumerate(statuses):
        out, new = _select([_alert(status)], states, T0 + i * step, min_status)
        states.update(new)
        sent.append(out[0].status if out else None)
    return sent


def test_first_alert_is_sent_and_a_repeat_within_the_cooldown_is_not() -> None:
    first = _alert()
    sent, states = _select([first], {}, T0)
    assert sent == [first]
    assert states == {first.key: AlertState("alert", T0)}
    sent, kept = _select([first], states, T0 + DAY - timedelta(seconds=1))
    assert sent == []
    assert kept == states
    sent, renewed = _select([first], kept, T0 + DAY)
    assert sent == [first]
    assert renewed[first.key] == AlertState("alert", T0 + DAY)


def test_a_run_of_statuses_over_time() -> None:
    six_hours = timedelta(hours=6)
    # alert, then repeats every 6 h: re-sent once a day; then recovered once.
    statuses = ["alert"] * 6 + ["ok", "ok", "alert"]
    assert _replay(statuses, six_hours) == [
        "alert",
        None,
        None,
        None,
        "alert",
        None,
        "ok",
        None,
        "alert",
    ]


def test_escalation_is_sent_at_once_and_a_drop_is_not() -> None:
    assert _replay(["warning", "alert", "warning", "alert"], timedelta(hours=1), "warning") == [
        "warning",
        "alert",  # escalation, within the cool-down
        None,  # lower than what was sent: kept as alert, not repeated
        None,  # so flapping back is no escalation
    ]


def test_min_status_decides_whether_warnings_are_sent() -> None:
    hour = timedelta(hours=1)
    assert _replay(["warning", "warning", "alert"], hour, "alert") == [None, None, "alert"]
    assert _replay(["warning", "warning", "alert"], hour, "warning") == [
        "warning",
        None,
        "alert",
    ]
    # A warning under min_status=alert never alerted, so its return to ok is no recovery.
    assert _replay(["warning", "ok"], hour, "alert") == [None, None]
    assert _replay(["warning", "ok"], hour, "warning") == ["warning", "ok"]


def test_recovery_is_sent_once() -> None:
    alert, ok = _alert(), _alert("ok")
    _, states = _select([alert], {}, T0)
    sent, states = _select([ok], states, T0 + timedelta(hours=1))
    assert sent == [ok]
    assert states[ok.key] == AlertState("ok", T0 + timedelta(hours=1))
    again, states = _select([ok], states, T0 + timedelta(hours=2))
    assert again == []
    assert states[ok.key].status == "ok"
    # Never alerted, never recovered: an ok is not news; its state is still recorded.
    fresh, new = _select([_alert("ok", "income")], {}, T0)
    assert fresh == []
    assert new == {("churn", "drift.wasserstein", "income"): AlertState("ok", None)}


def test_a_warning_after_an_alert_is_no_recovery() -> None:
    assert _replay(["alert", "warning", "ok"], timedelta(hours=1), "alert") == [
        "alert",
        None,
        "ok",
    ]


def test_columns_and_checks_are_independent() -> None:
    age, income = _alert(column="age"), _alert(column="income")
    dataset = _alert(column=None, check="drift.dataset")
    _, states = _select([age], {}, T0)
    sent, states = _select([age, income, dataset], states, T0 + timedelta(hours=1))
    assert sent == [income, dataset]
    assert set(states) == {age.key, income.key, ("churn", "drift.dataset", "")}
    assert states[age.key].sent_at == T0


def test_a_key_twice_in_one_batch_is_sent_once() -> None:
    sent, _ = _select([_alert(), _alert()], {}, T0)
    assert len(sent) == 1


def test_skipped_before_then_alert_is_sent() -> None:
    previous = {_alert().key: AlertState("skipped", None)}
    sent, _ = _select([_alert()], previous, T0)
    assert len(sent) == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_status": "ok", "cooldown": DAY}, "'min_status' parameter"),
        ({"min_status": "alert", "cooldown": -DAY}, "'cooldown' parameter"),
    ],
)
def test_select_rejects_bad_parameters(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        select_alerts([_alert()], {}, now=T0, **kwargs)


def test_alert_validates_its_fields() -> None:
    with pytest.raises(InvalidParameterError, match="'status' of an Alert"):
        _alert("skipped")
    with pytest.raises(InvalidParameterError, match="timezone-aware"):
        Alert("m", 1, "c", None, "alert", "x", datetime(2025, 1, 1))
    nan = Alert("m", 1, "c", None, "alert", "x", T0, {"v": math.nan, "t": (1, 2)})
    assert nan.details == {"v": None, "t": [1, 2]}


# ---------------------------------------------------------------------- ranking
def _drift(column: str, value: float, status: str = "alert", **kw: Any) -> CheckResult:
    return CheckResult(
        "drift.wasserstein",
        column,
        value,
        threshold=0.1,
        status=status,  # type: ignore[arg-type]
        details={"role": "feature", "method": "ks+wasserstein"},
        **kw,
    )


def test_importance_reorders_the_features() -> None:
    checks = [_drift("age", 0.3), _drift("income", 0.2), _drift("tenure", 0.15)]
    by_effect = rank_drifted_features(checks, None, 5)
    assert [r["feature"] for r in by_effect] == ["age", "income", "tenure"]
    assert by_effect[0] == {
        "feature": "age",
        "check": "drift.wasserstein",
        "status": "alert",
        "value": 0.3,
        "threshold": 0.1,
        "effect": pytest.approx(3.0),
        "importance": None,
        "score": pytest.approx(3.0),
    }
    weighted = rank_drifted_features(checks, {"age": 0.001, "income": 0.1, "tenure": -0.02}, 5)
    assert [r["feature"] for r in weighted] == ["income", "age", "tenure"]
    # floor = 1% of the largest importance (0.001): age sits on it, tenure is lifted to it.
    assert [r["score"] for r in weighted] == pytest.approx([0.2, 0.003, 0.0015])
    assert [r["importance"] for r in weighted] == [0.1, 0.001, -0.02]


def test_top_cuts_and_alerts_come_before_warnings() -> None:
    checks = [_drift(f"f{i}", 0.1 + 0.05 * i) for i in range(6)]
    checks.append(_drift("loud_warning", 5.0, status="warning"))
    ranked = rank_drifted_features(checks, None, 3)
    assert [r["feature"] for r in ranked] == ["f5", "f4", "f3"]
    everything = rank_drifted_features(checks, None, 100)
    assert everything[-1]["feature"] == "loud_warning"
    assert rank_drifted_features(checks, None, 0) == []
    with pytest.raises(InvalidParameterError, match="'top' parameter"):
        rank_drifted_features(checks, None, -1)


def test_only_whole_window_feature_drift_is_ranked() -> None:
    checks = [
        _drift("age", 0.3),
        _drift("age", 0.9, segment="plan=basic"),
        _drift("calm", 0.01, status="ok"),
        CheckResult(
            "drift.prediction",
            "prediction",
            0.5,
            threshold=0.1,
            status="alert",
            details={"role": "prediction"},
        ),
        CheckResult("drift.target", "churned", 0.5, threshold=0.1, status="alert"),
        CheckResult("drift.dataset", None, 0.6, threshold=0.5, status="alert"),
        CheckResult("quality.missing_rate", "age", 0.5, threshold=0.1, status="alert"),
    ]
    assert [(r["feature"], r["value"]) for r in rank_drifted_features(checks, None, 10)] == [
        ("age", 0.3)
    ]


def test_a_test_methods_effect_is_its_log_p_over_log_alpha() -> None:
    ks = CheckResult(
        "drift.ks",
        "age",
        0.4,
        p_value=1e-6,
        threshold=0.05,
        status="alert",
        details={"role": "feature", "method": "ks"},
    )
    [item] = rank_drifted_features([ks], None, 1)
    assert item["effect"] == pytest.approx(math.log(1e-6) / math.log(0.05))


def test_ranking_real_drift_results() -> None:
    features = list(CHURN_FEATURES)
    ref = churn(3_000, seed=1)[features]
    cur = churn(3_000, seed=2, scenario="covariate_drift")[features]
    report = compare(ref, cur, checks=["drift.columns", "drift.dataset"])
    by_column = {c.column: c for c in report.checks if c.column is not None}
    drifted = {"monthly_charges", "tenure_months", "contract"}  # the scenario's defaults
    ranked = rank_drifted_features(report.checks, None, 10)
    assert {r["feature"] for r in ranked} == drifted
    for r in ranked:
        c = by_column[r["feature"]]
        assert (r["check"], r["value"], r["threshold"]) == (c.check, c.value, c.threshold)
        assert r["effect"] == pytest.approx(c.value / c.threshold)  # type: ignore[operator]
    importance = {"contract": 0.1, "tenure_months": 0.01, "monthly_charges": 0.0}
    weighted = rank_drifted_features(report.checks, importance, 10)
    assert [r["feature"] for r in weighted] == ["contract", "tenure_months", "monthly_charges"]
    assert [r["feature"] for r in ranked] != [r["feature"] for r in weighted]


def test_stored_importance_reads_a_versions_metrics() -> None:
    metrics = {
        "source": "validation",
        "importance": {
            "method": "permutation",
            "scoring": "roc_auc",
            "n_rows": 10,
            "features": {"a": 0.2, "b": None, "c": -0.01},
        },
    }
    assert stored_importance(metrics) == {"a": 0.2, "c": -0.01}
    assert stored_importance({"importance": {"error": "RuntimeError: x"}}) is None
    assert stored_importance({}) is None


# ---------------------------------------------------------------------- build_alerts
def test_build_alerts_from_a_run() -> None:
    checks = [
        _drift("age", 0.3, reason="normalized Wasserstein distance 0.3 >= 0.1"),
        _drift("income", 0.2),
        _drift("tenure", 0.01, status="ok", reason="no significant change"),
        _drift("zip", 0.0, status="skipped"),
        _drift("age", 0.9, segment="plan=basic"),
        CheckResult(
            "drift.dataset",
            None,
            0.5,
            threshold=0.3,
            status="warning",
            reason="2 of 4 features drifted",
        ),
        CheckResult("concept_drift.ddm", None, 0.3, status="alert", reason="drift detected"),
    ]
    detectors: dict[str, dict[str, Any]] = {
        "ddm": {"drift": True, "n": 50},  # a check result already says it
        "adwin": {"drift": False, "warning": True, "n": 50, "error_rate": 0.25},
        "kswin": {"drift": False, "n": 0},  # fed nothing
        "_stream": {"n_new_labels": 50},
    }
    alerts = build_alerts("churn", 4, checks, detectors, T0, {"age": 0.01, "income": 0.2}, 5)
    assert [(a.check, a.column, a.status) for a in alerts] == [
        ("drift.wasserstein", "age", "alert"),
        ("drift.wasserstein", "income", "alert"),
        ("concept_drift.ddm", None, "alert"),
        ("drift.dataset", None, "warning"),
        ("concept_drift.adwin", None, "warning"),
        ("drift.wasserstein", "tenure", "ok"),
    ]
    age, income, _, dataset, adwin, tenure = alerts
    assert all(a.model == "churn" and a.version == 4 and a.at == T0 for a in alerts)
    top = [r["feature"] for r in age.details["top_features"]]
    assert top == ["income", "age"]  # importance outweighs age's larger shift
    assert (age.details["rank"], income.details["rank"]) == (2, 1)
    assert age.details["importance"] == 0.01
    assert age.details["value"] == 0.3
    assert age.details["threshold"] == 0.1
    assert age.message == (
        "churn v4: drift.wasserstein on age is alert: normalized Wasserstein distance 0.3 >= 0.1"
    )
    assert dataset.message.endswith("(top drifted features: income, age)")
    assert dataset.details["top_features"] == age.details["top_features"]
    assert (
        adwin.message == "churn v4: concept_drift.adwin is warning: adwin warning level, "
        "error rate 0.250"
    )
    assert adwin.details == detectors["adwin"]
    assert (
        tenure.message == "churn v4: drift.wasserstein on tenure recovered (ok): "
        "no significant change"
    )
    assert "top_features" not in tenure.details
    json.dumps([a.to_dict() for a in alerts], allow_nan=False)


def test_built_alerts_go_through_selection_to_the_receiver(receiver: Receiver) -> None:
    run1 = [_drift("age", 0.3), _drift("income", 0.01, status="ok")]
    run2 = [_drift("age", 0.01, status="ok"), _drift("income", 0.3)]
    notifier = Notifier(_config(receiver.url()), environ={}, sleep=_Sleeps())
    states: dict[tuple[str, str, str], AlertState] = {}
    for i, run in enumerate([run1, run1, run2]):
        now = T0 + i * timedelta(hours=1)
        candidates = build_alerts("churn", 1, run, {}, now, None, 5)
        chosen, new = _select(candidates, states, now)
        states.update(new)
        if chosen:
            assert notifier.send(chosen).ok
    sent = [[(a["column"], a["status"]) for a in r.body["alerts"]] for r in receiver.requests]
    assert sent == [[("age", "alert")], [("income", "alert"), ("age", "ok")]]
