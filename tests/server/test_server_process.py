"""A real ``watchkeeper serve`` process on loopback, on SQLite and PostgreSQL: the three
protocols, labels read back joined through ``log export --with-labels``, hot swaps under load,
a corrupted version that must not be swapped in, and SIGKILL under load losing nothing that
was acknowledged."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from tests.server.conftest import ServerProcess, oip_body, records, rows, split_body

from watchkeeper.datasets import CHURN_FEATURES
from watchkeeper.registry import Project


def _cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "watchkeeper"), *args, "--project", str(project)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_protocols_labels_and_export(
    server: ServerProcess, churn_project: Path, churn_frames: dict[str, pd.DataFrame]
) -> None:
    source = churn_frames["production"].iloc[:30].reset_index(drop=True)
    with Project(churn_project) as project:
        model = project.load_model(project.get("churn", 1)).model
    with httpx.Client(base_url=server.url, timeout=30) as client:
        oip = client.post("/v2/models/churn/infer", json=oip_body(rows(source, 0, 10), "oip-1"))
        assert oip.status_code == 200, oip.text
        mlflow = client.post("/invocations", json=split_body(rows(source, 10, 10)))
        assert mlflow.status_code == 200, mlflow.text
        tf = client.post(
            "/v1/models/churn:predict",
            json={"instances": records(rows(source, 20, 10))},
        )
        assert tf.status_code == 200, tf.text
        predicted = (
            next(o for o in oip.json()["outputs"] if o["name"] == "predict")["data"]
            + mlflow.json()["predictions"]
            + tf.json()["predictions"]
        )
        assert predicted == model.predict(source[list(CHURN_FEATURES)]).tolist()
        ids = ["oip-1"] * 10 + [mlflow.json()["request_id"]] * 10 + [tf.json()["request_id"]] * 10
        labels = [
            {"id": rid, "row": k % 10, "label": int(y)}
            for k, (rid, y) in enumerate(zip(ids, source["churned"], strict=True))
        ]
        answer = client.post("/v1/models/churn/labels", json=labels)
        assert answer.json() == {"stored": 30, "unchanged": 0, "unknown": []}
    exported = churn_project / "export.parquet"
    result = _cli(
        churn_project, "log", "export", "churn", "--output", str(exported), "--with-labels"
    )
    assert result.returncode == 0, result.stderr
    frame = pd.read_parquet(exported)
    frame["rid_order"] = frame["request_id"].map({r: i for i, r in enumerate(dict.fromkeys(ids))})
    frame = frame.sort_values(["rid_order", "row"]).reset_index(drop=True)
    assert len(frame) == 30
    assert frame["label"].tolist() == source["churned"].tolist()
    assert frame["prediction"].tolist() == predicted
    assert set(frame["version"]) == {1}
    pd.testing.assert_frame_equal(
        frame[list(CHURN_FEATURES)], source[list(CHURN_FEATURES)], check_dtype=False
    )


class _Load:
    """Clients sending single-row requests in threads until stopped; records every answer."""

    def __init__(self, url: str, frame: pd.DataFrame, threads: int = 4) -> None:
        self.url = url
        self.frame = frame
        self.answers: list[tuple[str, int, dict[str, Any] | None]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(k,), daemon=True) for k in range(threads)
        ]

    def _run(self, k: int) -> None:
        sent = 0
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self._stop.is_set():
                rid = f"t{k}-{sent}"
                sent += 1
                body = oip_body(rows(self.frame, sent % len(self.frame), 1), rid)
                try:
                    response = client.post("/v2/models/churn/infer", json=body)
                except httpx.TransportError as exc:
                    with self._lock:
                        self.errors.append(f"{rid}: {type(exc).__name__}")
                    continue
                payload = response.json() if response.status_code == 200 else None
                with self._lock:
                    self.answers.append((rid, response.status_code, payload))

    def __enter__(self) -> _Load:
        for thread in self._threads:
            thread.start()
        return self

    def wait_for(self, n: int, timeout: float = 60.0) -> None:
        import time

        deadline = time.monotonic() + timeout
        while len(self.answers) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.answers) >= n, f"only {len(self.answers)} answers: {self.errors[:3]}"

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)


def test_hot_swap_under_load_fails_no_request_and_logs_each_version(
    server: ServerProcess, churn_project: Path, churn_frames: dict[str, pd.DataFrame]
) -> None:
    with _Load(server.url, churn_frames["production"]) as load:
        load.wait_for(20)
        assert _cli(churn_project, "deploy", "churn", "2").returncode == 0
        _wait_for_version(load, 2)
        assert _cli(churn_project, "rollback", "churn").returncode == 0
        _wait_for_version(load, 1)
        seen = len(load.answers)
        load.wait_for(seen + 20)
    assert load.errors == []
    assert {status for _, status, _ in load.answers} == {200}
    versions = [int(p["model_version"]) for _, _, p in load.answers if p is not None]
    assert versions[0] == 1
    assert versions[-1] == 1
    assert 2 in versions
    served = {rid: int(p["model_version"]) for rid, _, p in load.answers if p is not None}
    with Project(churn_project) as project:
        logged = project.read_log("churn")
    assert dict(zip(logged["request_id"], logged["version"], strict=True)) == served


def _wait_for_version(load: _Load, version: int, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        recent = [p for _, _, p in load.answers[-5:] if p is not None]
        if recent and all(int(p["model_version"]) == version for p in recent):
            return
        time.sleep(0.05)
    raise AssertionError(f"the server did not switch to version {version} in {timeout} s")


def test_a_corrupted_version_is_not_swapped_in(
    server: ServerProcess, churn_project: Path, churn_frames: dict[str, pd.DataFrame]
) -> None:
    with Project(churn_project) as project:
        record = project.get("churn", 2)
        path = project.artifacts._path(record.artifact_sha256)  # type: ignore[attr-defined]
    path.chmod(0o644)
    path.write_bytes(b"corrupted" + path.read_bytes()[9:])
    assert _cli(churn_project, "deploy", "churn", "2").returncode == 0
    frame = rows(churn_frames["production"], 0, 2)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        failed = None
        for _ in range(200):
            with Project(churn_project) as project:
                failed = next(
                    (e for e in project.history("churn") if e.kind == "deploy_failed"), None
                )
            if failed is not None:
                break
            import time

            time.sleep(0.1)
        assert failed is not None
        assert failed.version == 2
        response = client.post("/invocations", json=split_body(frame))
        assert response.status_code == 200, response.text
        assert response.json()["model_version"] == 1
        ready = client.get("/v2/models/churn/versions/2/ready")
        assert ready.status_code == 400
        assert ready.json()["ready"] is False
        assert ready.json()["error"] == "ArtifactIntegrityError"  # no paths for clients
        assert client.get("/v2/models/churn/ready").status_code == 200
    # A restart (or a new replica) after the bad deploy serves the alias's previous version,
    # and the failure is in the history once.
    server.stop()
    with (
        ServerProcess(churn_project) as restarted,
        httpx.Client(base_url=restarted.url, timeout=30) as client,
    ):
        response = client.post("/invocations", json=split_body(frame))
        assert response.status_code == 200, response.text
        assert response.json()["model_version"] == 1
    with Project(churn_project) as project:
        failures = [e for e in project.history("churn") if e.kind == "deploy_failed"]
    assert [(e.version, e.details["alias"]) for e in failures] == [(2, "production")]


def test_sigkill_under_load_loses_no_acknowledged_prediction(
    churn_project: Path, churn_frames: dict[str, pd.DataFrame]
) -> None:
    running = ServerProcess(churn_project)
    try:
        with _Load(running.url, churn_frames["production"], threads=6) as load:
            load.wait_for(150)
            running.kill()
    finally:
        running.stop()
    acknowledged = {rid for rid, status, _ in load.answers if status == 200}
    assert len(acknowledged) >= 150
    frame = rows(churn_frames["production"], 0, 1)
    with (
        ServerProcess(churn_project) as restarted,
        httpx.Client(base_url=restarted.url, timeout=30) as client,
    ):
        assert client.post("/invocations", json=split_body(frame)).status_code == 200
    with Project(churn_project) as project:
        logged = set(project.read_log("churn")["request_id"])
    assert acknowledged <= logged, sorted(acknowledged - logged)[:5]


def test_two_workers_share_the_port_and_the_log(
    churn_project: Path, churn_frames: dict[str, pd.DataFrame]
) -> None:
    with (
        ServerProcess(churn_project, workers=2) as running,
        httpx.Client(base_url=running.url, timeout=30) as client,
    ):
        for k in range(20):
            body = oip_body(rows(churn_frames["production"], k, 1), f"w-{k}")
            assert client.post("/v2/models/churn/infer", json=body).status_code == 200
        metrics = client.get("/metrics").text
    total = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("watchkeeper_predictions_total{") and 'role="served"' in line
    )
    assert total == 20.0
    with Project(churn_project) as project:
        assert len(project.read_log("churn")) == 20


@pytest.mark.parametrize("workers", [1, 2], ids=["1-worker", "2-workers"])
def test_live_metrics_pass_promtool(
    sqlite_project: Path, churn_frames: dict[str, pd.DataFrame], workers: int
) -> None:
    promtool = Path("/usr/bin/promtool")
    if not promtool.exists():
        pytest.skip("promtool is not installed (Debian package 'prometheus'; .ci/run installs it)")
    frame = churn_frames["production"]
    with (
        ServerProcess(sqlite_project, workers=workers) as running,
        httpx.Client(base_url=running.url, timeout=30) as client,
    ):
        for k in range(6):
            assert (
                client.post(
                    "/v2/models/churn/infer", json=oip_body(rows(frame, k, 3), f"m-{k}")
                ).status_code
                == 200
            )
        client.post("/invocations", json={"dataframe_split": {"columns": [], "data": []}})
        client.post("/v1/models/churn/labels", json=[{"id": "m-0", "row": 0, "label": 1}])
        assert _cli(sqlite_project, "deploy", "churn", "2").returncode == 0
        exposition = client.get("/metrics")
    assert exposition.status_code == 200
    assert exposition.headers["content-type"].startswith("text/plain")
    text = exposition.text
    for name in (
        "watchkeeper_requests_total",
        "watchkeeper_request_duration_seconds_bucket",
        "watchkeeper_predictions_total",
        "watchkeeper_rejected_requests_total",
        "watchkeeper_labels_joined_total",
        "watchkeeper_log_commit_duration_seconds_bucket",
        "watchkeeper_model_info",
        "watchkeeper_alias_moves_total",
    ):
        assert f"\n{name}{{" in text, name
    checked = subprocess.run(
        [str(promtool), "check", "metrics"],
        input=exposition.content,
        capture_output=True,
        timeout=60,
    )
    report = (checked.stdout + checked.stderr).decode()
    assert checked.returncode == 0, report
    assert report.strip() == "", report


def test_a_client_that_hangs_up_mid_body_is_not_a_server_error(server: ServerProcess) -> None:
    import socket
    from urllib.parse import urlsplit

    address = urlsplit(server.url)
    for path in ("/invocations", "/v2/models/churn/infer", "/v1/models/churn/labels"):
        with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
            sock.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                'Content-Length: 1000\r\n\r\n{"inputs": ['.encode()
            )
    with httpx.Client(base_url=server.url, timeout=30) as client:
        metrics = ""
        for _ in range(100):
            metrics = client.get("/metrics").text
            if metrics.count('code="499"') >= 3:
                break
            import time

            time.sleep(0.1)
    assert metrics.count('code="499"') >= 3, metrics
    assert 'code="500"' not in metrics
    assert "Traceback" not in server.log.read_text()


def test_no_answer_while_the_log_cannot_commit(
    sqlite_project: Path, churn_frames: dict[str, pd.DataFrame]
) -> None:
    """With the database's write lock held by someone else, a durable server must stop
    answering (its rows cannot commit); killed then, it has lost nothing it answered.
    (With durability: async this test fails: answers go on while nothing is written.)"""
    import sqlite3
    import time

    running = ServerProcess(sqlite_project)
    blocker = sqlite3.connect(sqlite_project / "watchkeeper.db", timeout=30)
    try:
        with _Load(running.url, churn_frames["production"], threads=4) as load:
            load.wait_for(40)
            blocker.execute("BEGIN IMMEDIATE")  # the server's writer now waits for the lock
            time.sleep(0.5)  # answers for rows committed just before the lock may still arrive
            answered = sum(status == 200 for _, status, _ in load.answers)
            time.sleep(2.0)
            assert sum(status == 200 for _, status, _ in load.answers) == answered
            running.kill()
    finally:
        blocker.rollback()
        blocker.close()
        running.stop()
    acknowledged = {rid for rid, status, _ in load.answers if status == 200}
    with Project(sqlite_project) as project:
        logged = set(project.read_log("churn")["request_id"])
    assert acknowledged <= logged
