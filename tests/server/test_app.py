"""The server's routes in process (FastAPI's TestClient): every protocol answers what the model
predicts, every prediction is logged under the version that made it, labels join, tokens guard
the admin routes, and bad requests get a 4xx naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from tests.server.conftest import (
    ADMIN_TOKEN,
    columns,
    oip_body,
    records,
    rows,
    split_body,
    write_serve_config,
)

from watchkeeper.datasets import CHURN_FEATURES
from watchkeeper.registry import Project
from watchkeeper.server import create_app

ENV = {"WATCHKEEPER_ADMIN_TOKEN": ADMIN_TOKEN}
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def opened(sqlite_project: Path) -> Iterator[Project]:
    with Project(sqlite_project) as project:
        yield project


@pytest.fixture
def client(opened: Project) -> Iterator[TestClient]:
    with TestClient(create_app(opened, environ=ENV)) as test_client:
        yield test_client


def expected(project: Project, version: int, frame: pd.DataFrame) -> tuple[Any, Any]:
    model = project.load_model(project.get("churn", version)).model
    return model.predict(frame), model.predict_proba(frame)


# ---------------------------------------------------------------------------- protocols


def test_oip_infer_answers_what_the_model_predicts_and_logs_it(
    client: TestClient, opened: Project, churn_frames: dict[str, pd.DataFrame]
) -> None:
    frame = rows(churn_frames["production"], 0, 7)
    response = client.post("/v2/models/churn/infer", json=oip_body(frame, "req-1"))
    assert response.status_code == 200, response.text
    body = response.json()
    labels, proba = expected(opened, 1, frame)
    assert body["id"] == "req-1"
    assert body["model_name"] == "churn"
    assert body["model_version"] == "1"
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["predict"]["data"] == labels.tolist()
    assert outputs["predict_proba"]["shape"] == [7, 2]
    np.testing.assert_allclose(np.reshape(outputs["predict_proba"]["data"], (7, 2)), proba)
    assert response.headers["x-request-id"] == "req-1"
    logged = opened.read_log("churn")
    assert logged["request_id"].tolist() == ["req-1"] * 7
    assert logged["row"].tolist() == list(range(7))
    assert logged["version"].tolist() == [1] * 7
    pd.testing.assert_frame_equal(
        logged[list(CHURN_FEATURES)].reset_index(drop=True), frame, check_dtype=False
    )


def test_oip_request_without_id_gets_a_new_one(
    client: TestClient, churn_frames: dict[str, pd.DataFrame]
) -> None:
    frame = rows(churn_frames["production"], 0, 1)
    first = client.post("/v2/models/churn/infer", json=oip_body(frame)).json()["id"]
    second = client.post("/v2/models/churn/infer", json=oip_body(frame)).json()["id"]
    assert first
    assert second
    assert first != second


@pytest.mark.parametrize(
    "make_body",
    [
        split_body,
        lambda f: {"dataframe_records": records(f)},
        lambda f: {"instances": records(f)},
        lambda f: {"inputs": columns(f)},
    ],
    ids=["dataframe_split", "dataframe_records", "instances", "inputs"],
)
def test_invocations_json_formats(
    client: TestClient, opened: Project, churn_frames: dict[str, pd.DataFrame], make_body: Any
) -> None:
    frame = rows(churn_frames["production"], 10, 5)
    response = client.post("/invocations", json=make_body(frame))
    assert response.status_code == 200, response.text
    labels, proba = expected(opened, 1, frame)
    assert response.json()["predictions"] == labels.tolist()
    np.testing.assert_allclose(response.json()["probabilities"], proba)


def test_invocations_csv(
    client: TestClient, opened: Project, churn_frames: dict[str, pd.DataFrame]
) -> None:
    frame = rows(churn_frames["production"], 20, 6)
    response = client.post(
        "/invocations",
        content=frame.to_csv(index=False).encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == expected(opened, 1, frame)[0].tolist()


def test_tf_serving_instances_and_columns(
    client: TestClient, opened: Project, churn_frames: dict[str, pd.DataFrame]
) -> None:
    frame = rows(churn_frames["production"], 30, 4)
    labels = expected(opened, 1, frame)[0].tolist()
    by_rows = client.post(
        "/v1/models/churn:predict",
        json={"instances": records(frame)},
    )
    assert by_rows.status_code == 200, by_rows.text
    assert by_rows.json()["predictions"] == labels
    by_columns = client.post(
        "/v1/models/churn/versions/2:predict",
        json={"inputs": columns(frame)},
    )
    assert by_columns.status_code == 200, by_columns.text
    assert by_columns.json()["outputs"] == expected(opened, 2, frame)[0].tolist()
    assert by_columns.json()["model_version"] == 2


def test_an_explicit_version_is_served_and_logged_under_it(
    client: TestClient, opened: Project, churn_frames: dict[str, pd.DataFrame]
) -> None:
    frame = rows(churn_frames["production"], 0, 3)
    response = client.post("/v2/models/churn/versions/2/infer", json=oip_body(frame, "v2-req"))
    assert response.json()["model_version"] == "2"
    logged = opened.read_log("churn")
    assert set(logged["version"]) == {2}


def test_id_column_keys_the_rows_and_labels_join_them(
    client: TestClient, opened: Project, churn_frames: dict[str, pd.DataFrame]
) -> None:
    source = churn_frames["production"].iloc[:4]
    frame = source[["customer_id", *CHURN_FEATURES]].reset_index(drop=True)
    response = client.post("/invocations", json=split_body(frame))
    assert response.status_code == 200, response.text
    assert response.json()["ids"] == source["customer_id"].tolist()
    labels = [
        {"id": cid, "label": int(y)}
        for cid, y in zip(source["customer_id"], source["churned"], strict=False)
    ]
    answer = client.post("/v1/models/churn/labels", json=[*labels, {"id": "nobody", "label": 1}])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"stored": 4, "unchanged": 0, "unknown": ["nobody"]}
    again = client.post("/v1/models/churn/labels", json=labels)
    assert again.json() == {"stored": 0, "unchanged": 4, "unknown": []}
    conflict = client.post(
        "/v1/models/churn/labels", json=[{**labels[0], "label": 1 - labels[0]["label"]}]
    )
    assert conflict.status_code == 409
    joined = opened.read_log("churn", with_labels=True)
    assert joined["label"].tolist() == source["churned"].tolist()


def test_labels_by_request_id_and_row(
    client: TestClient, opened: Project, churn_frames: dict[str, pd.DataFrame]
) -> None:
    frame = rows(churn_frames["production"], 0, 3)
    client.post("/v2/models/churn/infer", json=oip_body(frame, "r-9"))
    answer = client.post(
        "/v1/models/churn/labels",
        json=[{"id": "r-9", "row": 2, "label": 1}, {"id": "r-9", "row": 0, "label": 0}],
    )
    assert answer.json()["stored"] == 2
    joined = opened.read_log("churn", with_labels=True).sort_values("row")
    assert joined["label"].tolist()[0] == 0
    assert joined["label"].tolist()[2] == 1
    assert pd.isna(joined["label"].tolist()[1])


def test_a_reused_request_id_is_a_conflict(
    client: TestClient, churn_frames: dict[str, pd.DataFrame]
) -> None:
    frame = rows(churn_frames["production"], 0, 2)
    assert client.post("/v2/models/churn/infer", json=oip_body(frame, "same")).status_code == 200
    again = client.post("/v2/models/churn/infer", json=oip_body(frame, "same"))
    assert again.status_code == 409
    assert again.json()["reason"] == "conflict"


# ---------------------------------------------------------------------------- metadata, health


def test_health_and_metadata(client: TestClient, churn_frames: dict[str, pd.DataFrame]) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").status_code == 200
    assert client.get("/v2").json()["name"] == "watchkeeper"
    meta = client.get("/v2/models/churn").json()
    assert meta["name"] == "churn"
    assert [i["name"] for i in meta["inputs"]] == list(CHURN_FEATURES)
    types = {i["name"]: i["datatype"] for i in meta["inputs"]}
    assert types["tenure_months"] == "INT64"
    assert types["monthly_charges"] == "FP64"
    assert types["contract"] == "BYTES"
    assert types["paperless_billing"] == "BOOL"
    assert client.get("/v2/models/churn/ready").json() == {"name": "churn", "ready": True}
    # A version asked for by number loads on its first request; ready never loads it.
    assert client.get("/v2/models/churn/versions/2/ready").json()["ready"] is False
    body = oip_body(rows(churn_frames["production"], 0, 1))
    assert client.post("/v2/models/churn/versions/2/infer", json=body).status_code == 200
    assert client.get("/v2/models/churn/versions/2/ready").json()["ready"] is True
    assert client.get("/v2/models/nope/ready").status_code == 404
    assert client.get("/v2/models/churn/versions/9/ready").status_code == 400
    assert client.get("/ping").status_code == 200
    assert client.get("/health").status_code == 200
    assert client.get("/version").status_code == 200


# ---------------------------------------------------------------------------- auth and admin


def test_admin_routes_refuse_missing_or_wrong_tokens(client: TestClient) -> None:
    for method, path, body in [
        ("GET", "/v1/models", None),
        ("GET", "/v1/models/churn/history", None),
        ("POST", "/v1/models/churn/deploy", {"version": 2}),
        ("POST", "/v1/models/churn/rollback", {}),
        # The token is checked before the body is read: a bad body gets 401, not 422.
        ("POST", "/v1/models/churn/deploy", {"version": "not a number", "x": [1] * 1000}),
        ("POST", "/v1/models/churn/rollback", ["not", "an", "object"]),
    ]:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": ADMIN_TOKEN}):
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, (path, headers, response.text)
            assert response.json()["reason"] == "unauthorized"


def test_admin_routes_are_disabled_without_a_configured_token(opened: Project) -> None:
    with TestClient(create_app(opened, environ={})) as client:
        response = client.get("/v1/models", headers=AUTH)
    assert response.status_code == 403
    assert "WATCHKEEPER_ADMIN_TOKEN" in response.json()["error"]


def test_deploy_and_rollback_through_the_api_swap_the_served_version(
    client: TestClient, opened: Project, churn_frames: dict[str, pd.DataFrame]
) -> None:
    frame = rows(churn_frames["production"], 0, 2)
    moved = client.post(
        "/v1/models/churn/deploy", json={"version": 2, "reason": "better"}, headers=AUTH
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["event"]["to_version"] == 2
    assert client.post("/invocations", json=split_body(frame)).json()["model_version"] == 2
    back = client.post("/v1/models/churn/rollback", json={"reason": "worse"}, headers=AUTH)
    assert back.status_code == 200, back.text
    assert client.post("/invocations", json=split_body(frame)).json()["model_version"] == 1
    history = client.get("/v1/models/churn/history", headers=AUTH).json()["events"]
    moves = [
        (e["from_version"], e["to_version"], e["trigger"])
        for e in history
        if e["kind"] == "alias_move"
    ]
    assert moves[-2:] == [(1, 2, "manual"), (2, 1, "rollback")]
    assert {e["actor"] for e in history[-2:]} == {"api (testclient)"}
    assert opened.get("churn", 2).status == "rejected"
    listed = client.get("/v1/models", headers=AUTH).json()["models"]
    assert [(m["name"], m["served"], m["ready"]) for m in listed] == [("churn", True, True)]


def test_admin_errors_are_4xx(client: TestClient) -> None:
    assert (
        client.post("/v1/models/churn/deploy", json={"version": 99}, headers=AUTH).status_code
        == 404
    )
    assert (
        client.post("/v1/models/nope/deploy", json={"version": 1}, headers=AUTH).status_code == 404
    )
    bad = client.post("/v1/models/churn/deploy", json={"version": "x"}, headers=AUTH)
    assert bad.status_code == 422
    assert bad.json()["field"] == "version"
    assert (
        client.post(
            "/v1/models/churn/deploy", json={"version": 1, "alias": "Bad Alias"}, headers=AUTH
        ).status_code
        == 422
    )
    assert client.post(
        "/v1/models/churn/rollback", json={"alias": "staging"}, headers=AUTH
    ).status_code in (404, 409)


def test_prediction_token_when_required(
    sqlite_project: Path, churn_frames: dict[str, pd.DataFrame]
) -> None:
    write_serve_config(sqlite_project, require_predict_token=True)
    frame = rows(churn_frames["production"], 0, 1)
    with (
        Project(sqlite_project) as project,
        TestClient(create_app(project, environ={"WATCHKEEPER_PREDICT_TOKEN": "p-token"})) as client,
    ):
        assert client.post("/invocations", json=split_body(frame)).status_code == 401
        wrong = client.post(
            "/invocations", json=split_body(frame), headers={"Authorization": "Bearer nope"}
        )
        assert wrong.status_code == 401
        ok = client.post(
            "/invocations", json=split_body(frame), headers={"Authorization": "Bearer p-token"}
        )
        assert ok.status_code == 200


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("mutate", "status", "reason", "field"),
    [
        (lambda b: b["inputs"].pop(0), 422, "missing_column", "tenure_months"),
        (
            lambda b: b["inputs"].append(
                {"name": "zzz", "shape": [2], "datatype": "FP64", "data": [1.0, 2.0]}
            ),
            422,
            "extra_column",
            "zzz",
        ),
        (
            lambda b: b["inputs"][0].update(data=["a", "b"], datatype="BYTES"),
            422,
            "wrong_type",
            "tenure_months",
        ),
        (
            lambda b: b["inputs"][2].update(data=[float("inf"), 1.0]),
            422,
            "non_finite",
            "monthly_charges",
        ),
        (
            lambda b: b["inputs"][1].update(data=[None, "Month-to-month"]),
            422,
            "null_value",
            "contract",
        ),
        (lambda b: b["inputs"][0].update(shape=[3]), 400, "shape_mismatch", "tenure_months"),
        (lambda b: b.update(inputs="no"), 400, "malformed", "inputs"),
        (lambda b: b.update(id=7), 422, "invalid_parameter", "id"),
    ],
    ids=["missing", "extra", "wrong-type", "inf", "null", "shape", "inputs", "id"],
)
def test_bad_oip_requests_get_4xx_naming_the_field(
    client: TestClient,
    opened: Project,
    churn_frames: dict[str, pd.DataFrame],
    mutate: Any,
    status: int,
    reason: str,
    field: str,
) -> None:
    body = oip_body(rows(churn_frames["production"], 0, 2))
    mutate(body)
    response = client.post(
        "/v2/models/churn/infer", content=_dumps(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert response.json()["reason"] == reason
    assert response.json()["field"] == field
    assert response.json()["error"]
    assert opened.read_log("churn").empty


def _dumps(body: Any) -> bytes:
    import json

    return json.dumps(body).encode()


def test_nullable_columns_accept_missing_values(
    client: TestClient, opened: Project, churn_frames: dict[str, pd.DataFrame]
) -> None:
    nullable = [c.name for c in opened.get("churn", 1).input_schema.columns if c.nullable]
    assert nullable, "the churn reference has missing values in some columns"
    frame = rows(churn_frames["production"], 0, 2).astype(object)
    frame.loc[0, nullable[0]] = None
    response = client.post("/invocations", json=split_body(frame))
    assert response.status_code == 200, response.text
    assert opened.read_log("churn")[nullable[0]].isna().tolist() == [True, False]


def test_size_limits(sqlite_project: Path, churn_frames: dict[str, pd.DataFrame]) -> None:
    write_serve_config(sqlite_project, max_rows=5, max_body_bytes=4096)
    with Project(sqlite_project) as project, TestClient(create_app(project, environ=ENV)) as client:
        many = client.post("/invocations", json=split_body(rows(churn_frames["production"], 0, 6)))
        assert many.status_code == 413
        assert many.json()["reason"] == "too_many_rows"
        big = client.post(
            "/invocations",
            content=b"{" + b" " * 5000 + b"}",
            headers={"Content-Type": "application/json"},
        )
        assert big.status_code == 413
        assert big.json()["reason"] == "too_large"


def test_other_bad_requests(client: TestClient) -> None:
    cases = [
        ("/invocations", b"not json", "application/json", 400, "malformed"),
        ("/invocations", b'{"foo": []}', "application/json", 400, "unsupported_format"),
        ("/invocations", b"a,b\n1,2\n", "text/plain", 415, "unsupported_media_type"),
        ("/v1/models/churn:predict", b"[]", "application/json", 400, "malformed"),
        ("/v2/models/nope/infer", b'{"inputs": []}', "application/json", 404, "not_found"),
        ("/v1/models/churn/labels", b"{}", "application/json", 400, "malformed"),
        (
            "/v1/models/churn/labels",
            b'[{"label": 1}]',
            "application/json",
            422,
            "invalid_parameter",
        ),
    ]
    for path, content, content_type, status, reason in cases:
        response = client.post(path, content=content, headers={"Content-Type": content_type})
        assert response.status_code == status, (path, content, response.text)
        assert response.json()["reason"] == reason, (path, content)


def test_rejected_requests_are_counted_and_recorded(
    client: TestClient, opened: Project, churn_frames: dict[str, pd.DataFrame]
) -> None:
    from sqlalchemy import select

    from watchkeeper.store.tables import rejected_requests

    body = oip_body(rows(churn_frames["production"], 0, 2))
    body["inputs"].pop(0)
    for _ in range(3):
        client.post("/v2/models/churn/infer", json=body)
    metrics = client.get("/metrics").text
    line = next(
        m
        for m in metrics.splitlines()
        if m.startswith("watchkeeper_rejected_requests_total{") and 'reason="missing_column"' in m
    )
    assert 'field="tenure_months"' in line
    assert float(line.rsplit(" ", 1)[1]) == 3.0
    client.portal.call(client.app.state.wk.flush_rejected)  # type: ignore[attr-defined,union-attr]
    with opened.database.read() as conn:
        recorded = conn.execute(select(rejected_requests.c.reason, rejected_requests.c.field)).all()
    assert [tuple(r) for r in recorded] == [("missing_column", "tenure_months")] * 3


def _sample(text: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"no sample {name}{labels}")


def test_metrics_count_requests_and_predictions(
    client: TestClient, churn_frames: dict[str, pd.DataFrame]
) -> None:
    frame = rows(churn_frames["production"], 0, 5)
    client.post("/v2/models/churn/infer", json=oip_body(frame))
    client.post("/v2/models/churn/infer", json={"inputs": []})
    text = client.get("/metrics").text
    infer = "/v2/models/{name}/infer"
    assert _sample(text, "watchkeeper_requests_total", endpoint=infer, code="200") == 1.0
    assert _sample(text, "watchkeeper_requests_total", endpoint=infer, code="400") == 1.0
    served = {"model": "churn", "version": "1", "role": "served"}
    assert _sample(text, "watchkeeper_predictions_total", **served) == 5.0
    assert _sample(text, "watchkeeper_log_rows_written_total") == 5.0


def _wait(predicate: Any, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_shadow_scores_the_same_rows_and_labels_join_both(
    opened: Project, churn_frames: dict[str, pd.DataFrame]
) -> None:
    opened.deploy("churn", 2, "shadow", reason="try v2 on live traffic")
    frame = rows(churn_frames["production"], 0, 6)
    with TestClient(create_app(opened, environ=ENV)) as client:
        answer = client.post("/v2/models/churn/infer", json=oip_body(frame, "s-1"))
        assert answer.json()["model_version"] == "1"
        _wait(lambda: len(opened.read_log("churn", roles=("shadow",))) == 6)
        labels = [{"id": "s-1", "row": k, "label": k % 2} for k in range(6)]
        assert client.post("/v1/models/churn/labels", json=labels).json()["stored"] == 6
    both = opened.read_log("churn", roles=("served", "shadow"), with_labels=True)
    shadow = both[both["role"] == "shadow"].sort_values("row")
    served = both[both["role"] == "served"].sort_values("row")
    assert shadow["version"].tolist() == [2] * 6
    assert served["version"].tolist() == [1] * 6
    assert shadow["prediction"].tolist() == expected(opened, 2, frame)[0].tolist()
    assert shadow["label"].tolist() == served["label"].tolist() == [k % 2 for k in range(6)]


def test_client_event_times_only_where_allowed(
    sqlite_project: Path, churn_frames: dict[str, pd.DataFrame]
) -> None:
    frame = rows(churn_frames["production"], 0, 2)
    body = {**oip_body(frame, "t-1"), "parameters": {"event_time": "2026-01-02T03:04:05Z"}}
    with Project(sqlite_project) as project, TestClient(create_app(project, environ=ENV)) as c:
        refused = c.post("/v2/models/churn/infer", json=body)
        assert refused.status_code == 422
        assert refused.json()["field"] == "event_time"
    write_serve_config(sqlite_project, client_event_time=True)
    with Project(sqlite_project) as project:
        with TestClient(create_app(project, environ=ENV)) as client:
            assert client.post("/v2/models/churn/infer", json=body).status_code == 200
            per_row = split_body(frame.assign(event_time=["2026-02-01T00:00:00Z", "2026-03-01"]))
            assert client.post("/invocations", json=per_row).status_code == 200
            bad = {**body, "id": "t-2", "parameters": {"event_time": "yesterday"}}
            assert client.post("/v2/models/churn/infer", json=bad).status_code == 422
        logged = project.read_log("churn").sort_values(["event_time", "row"])
    assert [str(t) for t in logged["event_time"]] == [
        "2026-01-02 03:04:05+00:00",
        "2026-01-02 03:04:05+00:00",
        "2026-02-01 00:00:00+00:00",
        "2026-03-01 00:00:00+00:00",
    ]


def test_excluded_and_hashed_columns_never_reach_the_log(
    sqlite_project: Path, churn_frames: dict[str, pd.DataFrame]
) -> None:
    import hashlib
    import hmac

    import yaml

    path = sqlite_project / "watchkeeper.yaml"
    data = yaml.safe_load(path.read_text())
    data["log"] = {"columns": {"age": "exclude", "region": "hash"}}
    path.write_text(yaml.safe_dump(data))
    frame = rows(churn_frames["production"], 0, 3)
    key = b"server-test-key"
    env = {**ENV, "WATCHKEEPER_LOG_HASH_KEY": key.decode()}
    with Project(sqlite_project) as project:
        with TestClient(create_app(project, environ=env)) as client:
            answer = client.post("/invocations", json=split_body(frame))
            assert answer.status_code == 200, answer.text
            assert answer.json()["predictions"] == expected(project, 1, frame)[0].tolist()
        logged = project.read_log("churn")
    assert "age" not in logged.columns
    assert logged["region"].tolist() == [
        hmac.new(key, v.encode(), hashlib.sha256).hexdigest()[:32] for v in frame["region"]
    ]


def test_without_a_hash_key_the_server_refuses_to_start(sqlite_project: Path) -> None:
    import yaml

    from watchkeeper.errors import ConfigError

    path = sqlite_project / "watchkeeper.yaml"
    data = yaml.safe_load(path.read_text())
    data["log"] = {"columns": {"region": "hash"}}
    path.write_text(yaml.safe_dump(data))
    with (
        Project(sqlite_project) as project,
        pytest.raises(ConfigError, match="HASH_KEY"),
        TestClient(create_app(project, environ=ENV)),
    ):
        pass


def test_an_oversized_admin_body_is_refused_after_the_token(client: TestClient) -> None:
    big = b'{"version": 2, "reason": "' + b"x" * 200_000 + b'"}'
    headers = {**AUTH, "Content-Type": "application/json"}
    assert client.post("/v1/models/churn/deploy", content=big, headers=headers).status_code == 413
    no_token = client.post(
        "/v1/models/churn/deploy", content=big, headers={"Content-Type": "application/json"}
    )
    assert no_token.status_code == 401


def test_moves_through_the_api_in_quick_succession_serve_the_last(
    sqlite_project: Path, churn_frames: dict[str, pd.DataFrame]
) -> None:
    write_serve_config(sqlite_project, poll_seconds=600)  # only the API's own refresh applies
    frame = rows(churn_frames["production"], 0, 1)
    with (
        Project(sqlite_project) as project,
        TestClient(create_app(project, environ=ENV)) as client,
    ):
        for version in (2, 1, 2, 1):
            moved = client.post("/v1/models/churn/deploy", json={"version": version}, headers=AUTH)
            assert moved.status_code == 200, moved.text
            served = client.post("/invocations", json=split_body(frame)).json()
            assert served["model_version"] == version
        assert project.get("churn", alias="production").version == 1


def test_a_model_error_on_valid_rows_is_a_422(
    opened: Project, churn_frames: dict[str, pd.DataFrame]
) -> None:
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    reference = churn_frames["reference"]
    strict = make_pipeline(
        make_column_transformer((OneHotEncoder(handle_unknown="error"), ["contract"])),
        LogisticRegression(),
    ).fit(reference[["contract"]], reference["churned"])
    opened.register("strict", strict, reference=reference, features=["contract"], target="churned")
    opened.deploy("strict", 1)
    with TestClient(create_app(opened, environ=ENV)) as client:
        known = client.post(
            "/v2/models/strict/infer", json=oip_body(reference[["contract"]].head(2))
        )
        assert known.status_code == 200, known.text
        unseen = oip_body(pd.DataFrame({"contract": ["Lifetime"]}))
        answer = client.post("/v2/models/strict/infer", json=unseen)
    assert answer.status_code == 422
    assert answer.json()["reason"] == "model_error"
    assert "Lifetime" in answer.json()["error"]


def test_ids_are_checked_before_anything_is_logged(
    client: TestClient, opened: Project, churn_frames: dict[str, pd.DataFrame]
) -> None:
    frame = rows(churn_frames["production"], 0, 2).assign(customer_id=["ok", "x" * 257])
    too_long = client.post("/invocations", json=split_body(frame))
    assert too_long.status_code == 422
    assert too_long.json()["field"] == "customer_id"
    unicode_id = client.post(
        "/v2/models/churn/infer", json=oip_body(rows(churn_frames["production"], 0, 1), "请求-1")
    )
    assert unicode_id.status_code == 422
    assert unicode_id.json()["field"] == "id"
    bad_labels = [
        [{"id": 12.5, "label": 1}],
        [{"id": "a", "label": 10**30}],
        [{"id": "a", "label": [1]}],
        [{"id": "a", "label": 1, "extra": 2}],
    ]
    for body in bad_labels:
        assert client.post("/v1/models/churn/labels", json=body).status_code == 422, body
    assert opened.read_log("churn").empty


def test_labels_for_a_registered_model_this_server_does_not_serve(
    client: TestClient, opened: Project, churn_frames: dict[str, pd.DataFrame]
) -> None:
    data = churn_frames["production"].head(3)
    opened.register("batch", opened.load_model(opened.get("churn", 1)).model,
                    reference=churn_frames["reference"], features=list(CHURN_FEATURES),
                    target="churned", id="customer_id")  # fmt: skip
    opened.log_predictions("batch", data, version=1)
    labels = [{"id": c, "label": 1} for c in data["customer_id"]]
    answer = client.post("/v1/models/batch/labels", json=labels)
    assert answer.status_code == 200, answer.text
    assert answer.json()["stored"] == 3
    assert client.post("/v1/models/nope/labels", json=labels).status_code == 404


def test_a_shadow_with_other_inputs_takes_its_own_or_is_skipped(
    opened: Project, churn_frames: dict[str, pd.DataFrame]
) -> None:
    from sklearn.linear_model import LogisticRegression

    reference = churn_frames["reference"].assign(
        tenure_years=churn_frames["reference"]["tenure_months"] / 12
    )
    y = reference["churned"]
    narrow = LogisticRegression().fit(reference[["tenure_months"]], y)
    other = LogisticRegression().fit(reference[["tenure_years"]], y)
    opened.register(
        "churn", narrow, reference=reference, features=["tenure_months"], target="churned"
    )
    opened.register(
        "churn", other, reference=reference, features=["tenure_years"], target="churned"
    )
    full = rows(churn_frames["production"], 0, 2)
    with TestClient(create_app(opened, environ=ENV)) as client:
        opened.deploy("churn", 3, "shadow")  # a subset of the served inputs: scored
        client.portal.call(client.app.state.wk.manager.refresh)  # type: ignore[attr-defined,union-attr]
        assert client.post("/invocations", json=split_body(full)).status_code == 200
        _wait(lambda: len(opened.read_log("churn", roles=("shadow",))) == 2)
        opened.deploy("churn", 4, "shadow")  # an input the requests lack: skipped, counted
        client.portal.call(client.app.state.wk.manager.refresh)  # type: ignore[attr-defined,union-attr]
        assert client.post("/invocations", json=split_body(full)).status_code == 200
        _wait(lambda: "watchkeeper_shadow_skipped_total{" in client.get("/metrics").text)
        text = client.get("/metrics").text
    assert _sample(text, "watchkeeper_predictions_total", role="shadow", version="3") == 2.0
    assert _sample(text, "watchkeeper_shadow_skipped_total", reason="schema") == 1.0
    assert set(opened.read_log("churn", roles=("shadow",))["version"]) == {3}


def test_client_event_times_with_the_admin_token(
    sqlite_project: Path, churn_frames: dict[str, pd.DataFrame]
) -> None:
    """Without serve.client_event_time, a request with the admin token may still set event
    times (a backfill); without it, or with a wrong one, it is refused and told how."""
    frame = rows(churn_frames["production"], 0, 2)
    body = {**oip_body(frame, "a-1"), "parameters": {"event_time": "2026-01-02T03:04:05Z"}}
    with Project(sqlite_project) as project, TestClient(create_app(project, environ=ENV)) as c:
        for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic x"}):
            refused = c.post("/v2/models/churn/infer", json=body, headers=headers)
            assert refused.status_code == 422, refused.text
            assert refused.json()["field"] == "event_time"
            assert "serve.client_event_time is false" in refused.json()["error"]
            assert "or send the admin token" in refused.json()["error"]
        assert c.post("/v2/models/churn/infer", json=body, headers=AUTH).status_code == 200
        per_row = split_body(frame.assign(event_time=["2025-12-01T00:00:00Z", "2025-12-02"]))
        assert c.post("/invocations", json=per_row, headers=AUTH).status_code == 200
        assert c.post("/invocations", json=per_row).status_code == 422
        stamped = c.post("/v2/models/churn/infer", json=oip_body(frame, "a-2"), headers=AUTH)
        assert stamped.status_code == 200
        logged = project.read_log("churn").sort_values(["event_time", "row"])
    given = [str(t) for t in logged["event_time"]][:4]
    assert given == [
        "2025-12-01 00:00:00+00:00",
        "2025-12-02 00:00:00+00:00",
        "2026-01-02 03:04:05+00:00",
        "2026-01-02 03:04:05+00:00",
    ]
    assert len(logged) == 6  # and the request without event_time got the server's clock
    assert logged["event_time"].iloc[-1] > pd.Timestamp("2026-01-02T03:04:05Z")
    # a server without an admin token honours none
    with Project(sqlite_project) as project, TestClient(create_app(project, environ={})) as c:
        assert c.post("/v2/models/churn/infer", json=body, headers=AUTH).status_code == 422


def test_the_admin_token_opens_prediction_endpoints_that_require_a_token(
    sqlite_project: Path, churn_frames: dict[str, pd.DataFrame]
) -> None:
    write_serve_config(sqlite_project, require_predict_token=True)
    frame = rows(churn_frames["production"], 0, 1)
    tokens = {"WATCHKEEPER_PREDICT_TOKEN": "p-token", **ENV}
    body = {**oip_body(frame, "b-1"), "parameters": {"event_time": "2026-01-02T00:00:00Z"}}
    with Project(sqlite_project) as project, TestClient(create_app(project, environ=tokens)) as c:
        assert c.post("/invocations", json=split_body(frame), headers=AUTH).status_code == 200
        assert c.post("/v2/models/churn/infer", json=body, headers=AUTH).status_code == 200
        # the prediction token opens prediction, not client event times
        predict = {"Authorization": "Bearer p-token"}
        refused = c.post("/v2/models/churn/infer", json={**body, "id": "b-2"}, headers=predict)
        assert refused.status_code == 422
        assert c.post("/invocations", json=split_body(frame)).status_code == 401


async def _settled(state: Any) -> None:
    """Wait for every background (shadow) task of the app."""
    import asyncio

    while state.background:
        await asyncio.gather(*list(state.background), return_exceptions=True)


def test_a_shadow_alias_on_the_answering_version_scores_nothing_twice(
    opened: Project, churn_frames: dict[str, pd.DataFrame]
) -> None:
    frame = rows(churn_frames["production"], 0, 4)
    opened.deploy("churn", 1, "shadow", reason="same as production")
    with TestClient(create_app(opened, environ=ENV)) as client:
        state = client.app.state.wk  # type: ignore[attr-defined]
        portal = client.portal
        assert portal is not None
        assert client.post("/v2/models/churn/infer", json=oip_body(frame, "d-1")).status_code == 200
        portal.call(_settled, state)
        assert opened.read_log("churn", roles=("shadow",)).empty
        # promotion: production moves to the shadow's version
        opened.deploy("churn", 2, "shadow")
        opened.deploy("churn", 2)
        portal.call(state.manager.refresh)
        answer = client.post("/v2/models/churn/infer", json=oip_body(frame, "d-2"))
        assert answer.json()["model_version"] == "2"
        portal.call(_settled, state)
        assert opened.read_log("churn", roles=("shadow",)).empty
        # the control: a shadow on another version does score (so the waits above suffice)
        opened.deploy("churn", 1, "shadow")
        portal.call(state.manager.refresh)
        assert client.post("/v2/models/churn/infer", json=oip_body(frame, "d-3")).status_code == 200
        portal.call(_settled, state)
        text = client.get("/metrics").text
    shadow = opened.read_log("churn", roles=("shadow",))
    assert shadow["request_id"].tolist() == ["d-3"] * 4
    assert shadow["version"].tolist() == [1] * 4
    served = opened.read_log("churn")
    assert sorted(served["request_id"].unique()) == ["d-1", "d-2", "d-3"]
    assert len(served) == 12
    assert _sample(text, "watchkeeper_predictions_total", role="shadow", version="1") == 4.0
    with pytest.raises(AssertionError, match="no sample"):
        _sample(text, "watchkeeper_predictions_total", role="shadow", version="2")
