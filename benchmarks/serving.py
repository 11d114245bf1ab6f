"""HTTP serving benchmark: ``watchkeeper serve`` against ``mlflow models serve``, churn pipeline.

Run::

    .venv/bin/python benchmarks/serving.py [--quick] [--seconds 6] [--postgres URL]

The model is ``train_churn_model`` fitted on ``churn(10_000, seed=1)``, registered and deployed
in a watchkeeper project in a temporary folder (SQLite, the default), and saved with
``mlflow.sklearn.save_model`` (skops format) for MLflow. Servers, all real processes on
loopback, started together and kept up for the whole run:

* ``watchkeeper serve --workers 1`` with the defaults: every prediction logged, the answer sent
  after the log commit (``durability: sync``);
* the same with ``serve.log_predictions: false`` (nothing logged);
* ``mlflow models serve --env-manager local -w 1`` (MLflow's FastAPI scoring app under
  uvicorn, from the project's virtualenv, access log off as watchkeeper's is);
* for the multi-worker check, ``watchkeeper serve --workers 2`` (logging, sync) and
  ``mlflow models serve -w 2`` (plain ``uvicorn --workers 2``).

Each server gets the same ``/invocations`` bodies (MLflow ``dataframe_split`` JSON: one row,
or 1,000 rows, of ``churn(..., seed=2/3)``, cycled); the durable watchkeeper server is also
measured on its native Open Inference Protocol route (``/v2/models/churn/infer``). watchkeeper
answers ``predict`` and ``predict_proba``, MLflow ``predict`` only.

The load generator is ``wrk`` in its own process (one thread, epoll, a Lua script for the POST
bodies; see ``_load.py``): ``clients`` kept-alive connections each send the next request as
soon as the answer to the previous one arrived. On 2 cores a Python client (httpx under
asyncio) would need most of a core itself to send a few hundred requests per second and would
take it from the server; ``wrk`` needs about 1-5% of one (the ``wrk cores`` column). The cells
run interleaved: for each request size and client count every server is measured in turn, so
a burst of other load on the machine hits all the columns of a comparison alike. Each cell is
one wrk run of ``--seconds`` (default 6; ``--quick`` 1.5) plus a warm-up of 1 s (0.5 s) whose
answers are not counted; errors and wrk's latency percentiles cover the whole run. wrk closes
its connections at the end of a run with requests in flight, which MLflow's app logs as a
``ClientDisconnect`` traceback (listed under the tables; not an error of the measured cells).

Columns: requests and rows answered per second, median and 99th-percentile latency, the
server's CPU time per request and its CPU use in cores (``/proc/<pid>/stat`` of the server
process and all its children, before and after the cell), the requests that failed (non-2xx,
timeouts, socket errors), ``wrk``'s own CPU use, and the CPU everything else on the machine
used meanwhile (``other cores``: busy time from ``/proc/stat`` minus server and ``wrk``; on a
2-core machine, 1.0 means half the machine was taken by something else, such as a test suite).

Then the log writer alone, in this process: a :class:`~watchkeeper.store.writer.
GroupCommitWriter` (default settings) fed 1-row and 100-row requests (as the server hands them
over: :class:`~watchkeeper.store.writer.PendingRows`) by 32 threads, each
waiting for its batch's commit before sending the next one (as 32 server clients do) or
keeping 64 batches in flight, on SQLite and, with ``--postgres URL`` or
``WATCHKEEPER_TEST_DATABASE_URL``, on a fresh PostgreSQL database (dropped afterwards).
``--quick`` skips the two-worker servers and the 64-in-flight writer cells.

Targets (same run): durable single-row throughput at 32 clients ≥ 5× MLflow's; 1,000-row
throughput ≥ 2× MLflow's; durable logging costs ≤ 10% of the throughput without logging at 8
and 32 clients; single-row p99 at 8 clients ≤ 30 ms; the writer ≥ 100,000 rows/s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
import warnings
from collections import deque
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _load import busy_cpu_seconds, find_wrk, run_wrk, tree_cpu_seconds, write_bodies
from _postgres import fresh_postgres_database

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pandas as pd

    from _load import LoadResult

PG_ENV = "WATCHKEEPER_TEST_DATABASE_URL"
CLIENTS = (1, 8, 32)
SIZES = (1, 1_000)
SINGLE_BODIES = 2_000
LARGE_BODIES = 8
WRITER_THREADS = 32

DURABLE, NO_LOG, OIP, MLFLOW = "watchkeeper", "watchkeeper, no log", "watchkeeper OIP", "mlflow"
WK2, MLFLOW2 = "watchkeeper, 2 workers", "mlflow, 2 workers"


# ---------------------------------------------------------------------------- servers


@dataclass
class Server:
    """A server process (its own process group) and where it answers."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    url: str = ""
    ready_path: str = "/ping"

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log.read_text()[-3000:]}")
            if not self.url:
                self.url = _watchkeeper_url(self.log)
            if self.url and _answers(self.url + self.ready_path):
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready in {timeout:g} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _watchkeeper_url(log: Path) -> str:
    for line in log.read_text().splitlines():
        if line.startswith("watchkeeper serving") and " on http://" in line:
            return line.split(" on ", 1)[1].split(" ", 1)[0]
    return ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _spawn(name: str, command: list[str], log: Path, env: dict[str, str]) -> Server:
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    return Server(name, process, log)


def start_watchkeeper(name: str, project: Path, workers: int, folder: Path) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHKEEPER_")}
    command = [str(Path(sys.executable).with_name("watchkeeper")), "serve", "--project"]
    command += [str(project), "--port", "0", "--workers", str(workers), "--log-level", "warning"]
    server = _spawn(name, command, folder / f"{project.name}.log", env)
    server.ready_path = "/v2/health/ready"
    return server


def start_mlflow(name: str, model: Path, workers: int, folder: Path) -> Server:
    port = _free_port()
    bin_dir = str(Path(sys.executable).parent)  # mlflow runs "uvicorn" from PATH
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    env["UVICORN_ACCESS_LOG"] = "false"
    command = [str(Path(bin_dir, "mlflow")), "models", "serve", "-m", str(model)]
    command += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", str(workers)]
    server = _spawn(name, command, folder / f"mlflow-{workers}.log", env)
    server.url = f"http://127.0.0.1:{port}"
    return server


def mlflow_missing() -> str | None:
    """Why ``mlflow models serve`` cannot run from this virtualenv, or None."""
    import importlib.util

    if importlib.util.find_spec("mlflow") is None:
        return "mlflow is not installed here (pip install 'watchkeeper[mlflow]')"
    for script in ("mlflow", "uvicorn"):
        if not Path(sys.executable).with_name(script).exists():
            return f"no {script} script next to {sys.executable}"
    return None


# ---------------------------------------------------------------------------- workload


def _oip_datatype(column: pd.Series) -> str:
    kind = "b" if column.dtype == bool else column.dtype.kind
    return {"b": "BOOL", "i": "INT64", "f": "FP64"}.get(kind, "BYTES")


def request_bodies(frame: pd.DataFrame, rows: int) -> dict[str, list[str]]:
    """``frame`` cut into requests of ``rows`` rows: MLflow ``dataframe_split`` bodies
    (``split``) and Open Inference Protocol v2 bodies (``oip``), missing values as null."""
    names = list(frame.columns)
    plain = frame.astype(object).where(frame.notna(), None)
    records = plain.to_numpy().tolist()
    columns = {name: plain[name].tolist() for name in names}
    types = {name: _oip_datatype(frame[name]) for name in names}
    out: dict[str, list[str]] = {"split": [], "oip": []}
    for start in range(0, len(frame) - rows + 1, rows):
        split = {"columns": names, "data": records[start : start + rows]}
        out["split"].append(json.dumps({"dataframe_split": split}, separators=(",", ":")))
        inputs = [
            {
                "name": n,
                "shape": [rows],
                "datatype": types[n],
                "data": columns[n][start : start + rows],
            }
            for n in names
        ]
        out["oip"].append(json.dumps({"inputs": inputs}, separators=(",", ":")))
    return out


def make_projects(folder: Path, model: Any, *, with_mlflow: bool) -> dict[str, Path]:
    """One watchkeeper project per watchkeeper server, and the MLflow model folder."""
    import yaml

    from watchkeeper.datasets import CHURN_FEATURES, churn
    from watchkeeper.registry import Project

    reference = churn(2_000, seed=1)
    first = folder / "wk-durable"
    with Project.init(first) as project:
        project.register(
            "churn", model, reference=reference, features=list(CHURN_FEATURES), target="churned"
        )
        project.deploy("churn", 1, reason="serving benchmark")
    paths = {DURABLE: first}
    for name, label, settings in (
        ("wk-nolog", NO_LOG, {"log_predictions": False}),
        ("wk-2workers", WK2, {}),
    ):
        shutil.copytree(first, folder / name)
        config = folder / name / "watchkeeper.yaml"
        data = yaml.safe_load(config.read_text()) or {}
        data.setdefault("serve", {}).update(settings)
        config.write_text(yaml.safe_dump(data))
        paths[label] = folder / name
    if not with_mlflow:
        return paths

    import mlflow.sklearn
    from mlflow.models import infer_signature

    X = reference[list(CHURN_FEATURES)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # integer columns "cannot hold missing values"
        mlflow.sklearn.save_model(
            model,
            folder / "mlflow-model",
            signature=infer_signature(X, model.predict(X)),
            skops_trusted_types=["numpy.dtype"],
        )
    paths[MLFLOW] = folder / "mlflow-model"
    return paths


# ---------------------------------------------------------------------------- cells


@dataclass(frozen=True)
class Cell:
    """One server, request size and client count: the load, and CPU in cores (CPU seconds per
    second of the run) of the server, of wrk and of everything else on the machine."""

    load: LoadResult
    rows: int
    server_cores: float
    other_cores: float

    @property
    def rows_per_second(self) -> float:
        return self.load.per_second * self.rows

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.server_cores / self.load.per_second if self.load.requests else 0.0

    @property
    def wrk_cores(self) -> float:
        return self.load.client_cpu / self.load.total_seconds


@dataclass(frozen=True)
class Timing:
    seconds: int  # the whole wrk run of a cell
    warm_up: float  # the part of it not counted

    def measure(
        self, wrk: str, server: Server, path: str, bodies: Path, rows: int, clients: int
    ) -> Cell:
        pid = server.process.pid
        server_before, busy_before = tree_cpu_seconds(pid), busy_cpu_seconds()
        load = run_wrk(
            wrk,
            server.url,
            path,
            bodies,
            connections=clients,
            seconds=self.seconds,
            warm_up=self.warm_up,
        )
        server_cpu = tree_cpu_seconds(pid) - server_before
        other = busy_cpu_seconds() - busy_before - server_cpu - load.client_cpu
        return Cell(
            load, rows, server_cpu / load.total_seconds, max(other, 0.0) / load.total_seconds
        )


_STARTED = time.perf_counter()


def _note(message: str) -> None:
    print(f"# {time.perf_counter() - _STARTED:5.0f} s  {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- the writer


def _templates(model: Any, version: int, rows: int) -> list[Any]:
    """50 requests of ``rows`` churn predictions, handed to the writer as the server does
    (:class:`~watchkeeper.store.writer.PendingRows`: validated columns and outputs)."""
    import numpy as np

    from watchkeeper.datasets import CHURN_FEATURES, churn
    from watchkeeper.store.writer import PendingRows

    frame = churn(50 * rows, seed=4)
    X = frame[list(CHURN_FEATURES)]
    out = []
    for start in range(0, 50 * rows, rows):
        part = X.iloc[start : start + rows]
        inputs = {
            c: part[c].to_numpy(dtype=object)
            if part[c].dtype.kind not in "biuf"
            else part[c].to_numpy()
            for c in CHURN_FEATURES
        }
        outputs = {
            "prediction": np.asarray(model.predict(part)),
            "prediction_proba": model.predict_proba(part)[:, 1],
            "latency_seconds": np.full(rows, 0.001),
        }
        when = frame["event_time"].iloc[start].to_pydatetime()
        out.append(
            PendingRows(
                model="churn",
                version=version,
                role="served",
                request_id="t",
                inputs=inputs,
                outputs=outputs,
                event_time=when,
                keys=None,
                n_rows=rows,
            )
        )
    return out


def _feed(
    writer: Any,
    templates: list[Any],
    thread: int,
    in_flight: int,
    deadline: float,
    failures: list[BaseException],
) -> None:
    """Submit requests (each with a fresh request id) until ``deadline``, ``in_flight`` at
    most unanswered, then wait for the last ones; a failure ends the thread and is kept."""
    import dataclasses

    window: deque[Any] = deque()
    tag = uuid.uuid4().hex[:12]
    k = 0
    try:
        while time.perf_counter() < deadline and not failures:
            template = templates[(thread + k) % len(templates)]
            window.append(writer.submit(dataclasses.replace(template, request_id=f"{tag}-{k}")))
            k += 1
            if len(window) >= in_flight:
                window.popleft().result()
        for future in window:
            future.result()
    except Exception as exc:  # reported in the table instead of a thread's traceback
        failures.append(exc)


WriterCell = tuple[float, float, str | None]


def writer_cells(
    url: str | None, model: Any, seconds: float, in_flights: tuple[int, ...] = (1, 64)
) -> dict[str, WriterCell]:
    """Rows/s, rows per commit and the first error (if any) of a GroupCommitWriter, per
    (batch size, batches in flight per thread)."""
    import sqlalchemy as sa

    from watchkeeper.datasets import churn
    from watchkeeper.registry import Project
    from watchkeeper.store.writer import GroupCommitWriter

    out: dict[str, WriterCell] = {}
    database = "PostgreSQL" if url else "SQLite"
    with tempfile.TemporaryDirectory(prefix="watchkeeper-writer-") as tmp:
        project = Project.init(Path(tmp, "p"), database_url=url)
        reference = churn(2_000, seed=1)
        version = project.register("churn", model, reference=reference, target="churned").version
        for rows in (1, 100):
            templates = _templates(model, version, rows)
            for in_flight in in_flights:
                writer = GroupCommitWriter(project.log)
                writer.start()
                deadline = time.perf_counter() + seconds
                failures: list[BaseException] = []
                threads = [
                    threading.Thread(
                        target=_feed, args=(writer, templates, i, in_flight, deadline, failures)
                    )
                    for i in range(WRITER_THREADS)
                ]
                started = time.perf_counter()
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                elapsed = time.perf_counter() - started
                writer.close()
                written, commits = writer.rows_written, writer.commits
                key = f"{rows}-row batches, {in_flight} in flight per thread"
                error = f"{type(failures[0]).__name__}: {failures[0]}"[:300] if failures else None
                out[key] = (written / elapsed, written / max(commits, 1), error)
                failed = f" ({error})" if error else ""
                _note(f"writer, {database}, {key}: {written / elapsed:,.0f} rows/s{failed}")
                with project.database.write() as conn:  # the next cell starts from an empty log
                    for table_name in ("labels", "prediction_keys", "prediction_batches"):
                        conn.execute(sa.text(f"DELETE FROM {table_name}"))
        project.close()
    return out


# ---------------------------------------------------------------------------- output


def print_cells(title: str, cells: dict[tuple[str, int, int], Cell]) -> None:
    print(f"\n{title}\n")
    print(
        "| server | rows/request | clients | req/s | rows/s | p50 ms | p99 ms | "
        "server CPU ms/req | server cores | errors | wrk cores | other cores |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (name, rows, clients), cell in cells.items():
        print(
            f"| {name} | {rows:,} | {clients} | {cell.load.per_second:,.0f} | "
            f"{cell.rows_per_second:,.0f} | {1000 * cell.load.p50:.1f} | "
            f"{1000 * cell.load.p99:.1f} | {cell.cpu_ms_per_request:.2f} | "
            f"{cell.server_cores:.2f} | {cell.load.errors} | {cell.wrk_cores:.2f} | "
            f"{cell.other_cores:.2f} |"
        )


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def targets(
    cells: dict[tuple[str, int, int], Cell], writer: dict[str, dict[str, WriterCell]]
) -> list[tuple[str, str, str, bool]]:
    """(target, measured, threshold, passed) rows."""
    out: list[tuple[str, str, str, bool]] = []

    def req(name: str, rows: int, clients: int) -> float | None:
        cell = cells.get((name, rows, clients))
        return None if cell is None else cell.load.per_second

    for rows, clients, factor in ((1, 32, 5.0), (1_000, 8, 2.0), (1_000, 32, 2.0)):
        ours, theirs = req(DURABLE, rows, clients), req(MLFLOW, rows, clients)
        if ours is not None and theirs is not None:
            ratio = _ratio(ours, theirs)
            out.append(
                (
                    f"durable vs mlflow, {rows:,}-row, {clients} clients, throughput",
                    f"{ratio:.2f}×",
                    f"≥ {factor:g}×",
                    ratio >= factor,
                )
            )
    for rows in SIZES:
        for clients in (8, 32):
            ours, bare = req(DURABLE, rows, clients), req(NO_LOG, rows, clients)
            if ours is not None and bare is not None:
                cost = 1 - _ratio(ours, bare)
                out.append(
                    (
                        f"logging cost, {rows:,}-row, {clients} clients (1 - durable/no log)",
                        f"{100 * cost:+.1f}%",
                        "≤ 10%",
                        cost <= 0.10,
                    )
                )
    cell = cells.get((DURABLE, 1, 8))
    if cell is not None:
        p99 = 1000 * cell.load.p99
        out.append(("durable single-row p99, 8 clients", f"{p99:.1f} ms", "≤ 30 ms", p99 <= 30))
    for database, results in writer.items():
        key = "100-row batches, 1 in flight per thread"
        if key in results:
            rate, _, error = results[key]
            out.append(
                (
                    f"log writer, {database}, 100-row batches from {WRITER_THREADS} threads",
                    f"{rate:,.0f} rows/s" if error is None else "failed (see above)",
                    "≥ 100,000 rows/s",
                    rate >= 100_000,
                )
            )
    return out


def machine_facts(wrk: str) -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = " (" + line.split(":", 1)[1].strip() + ")"
                break
    versions = []
    for package in (
        "watchkeeper",
        "mlflow-skinny",
        "scikit-learn",
        "pandas",
        "numpy",
        "fastapi",
        "uvicorn",
        "sqlalchemy",
        "pyarrow",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{package} {metadata.version(package)}")
    wrk_version = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    first = (wrk_version.stdout or wrk_version.stderr).split("[")[0].strip()
    return (
        f"{os.cpu_count()} CPUs{model}, Linux {platform.release()}, Python "
        f"{platform.python_version()}, {', '.join(versions)}, {first}"
    )


# ---------------------------------------------------------------------------- main


@contextlib.contextmanager
def running(servers: list[Server]) -> Iterator[dict[str, Server]]:
    """Wait until every server answers; stop them all on exit."""
    try:
        for server in servers:
            server.wait_ready()
        yield {server.name: server for server in servers}
    finally:
        for server in servers:
            server.stop()


def make_bodies(folder: Path) -> dict[tuple[str, int], Path]:
    """The request body files, by (``split`` or ``oip``, rows per request)."""
    from watchkeeper.datasets import CHURN_FEATURES, churn

    out = {}
    for rows, n, seed in ((1, SINGLE_BODIES, 2), (1_000, LARGE_BODIES * 1_000, 3)):
        bodies = request_bodies(churn(n, seed=seed)[list(CHURN_FEATURES)], rows)
        for kind, texts in bodies.items():
            out[kind, rows] = write_bodies(folder, f"{kind}-{rows}.jsonl", texts)
    return out


Cells = dict[tuple[str, int, int], Cell]


def serve_cells(
    wrk: str, model: Any, timing: Timing, *, quick: bool, with_mlflow: bool
) -> tuple[Cells, Cells, dict[str, list[str]]]:
    """The one-worker cells, the two-worker cells, and the tracebacks in each server's log."""
    cells: Cells = {}
    worker_cells: Cells = {}
    with tempfile.TemporaryDirectory(prefix="watchkeeper-serving-") as tmp:
        folder = Path(tmp)
        paths = make_projects(folder, model, with_mlflow=with_mlflow)
        bodies = make_bodies(folder)
        _note("projects, MLflow model and request bodies ready")
        servers = [
            start_watchkeeper(DURABLE, paths[DURABLE], 1, folder),
            start_watchkeeper(NO_LOG, paths[NO_LOG], 1, folder),
        ]
        if with_mlflow:
            servers.append(start_mlflow(MLFLOW, paths[MLFLOW], 1, folder))
        if not quick:
            servers.append(start_watchkeeper(WK2, paths[WK2], 2, folder))
            if with_mlflow:
                servers.append(start_mlflow(MLFLOW2, paths[MLFLOW], 2, folder))
        with running(servers) as by_name:
            _note("servers ready")
            plan = [
                (DURABLE, DURABLE, "/invocations", "split"),
                (NO_LOG, NO_LOG, "/invocations", "split"),
                (MLFLOW, MLFLOW, "/invocations", "split"),
                (OIP, DURABLE, "/v2/models/churn/infer", "oip"),
            ]
            plan = [step for step in plan if step[1] in by_name and not (quick and step[0] == OIP)]
            for rows in SIZES:
                for clients in CLIENTS:
                    for label, name, path, kind in plan:
                        cells[label, rows, clients] = timing.measure(
                            wrk, by_name[name], path, bodies[kind, rows], rows, clients
                        )
                    _note(f"{rows:,}-row requests, {clients} clients: done")
            names = [name for name in (DURABLE, MLFLOW, WK2, MLFLOW2) if name in by_name]
            for clients in () if quick else CLIENTS:
                for name in names:
                    worker_cells[name, 1, clients] = timing.measure(
                        wrk, by_name[name], "/invocations", bodies["split", 1], 1, clients
                    )
                _note(f"two workers, {clients} clients: done")
        errors = {s.name: _tracebacks(s.log.read_text()) for s in servers}
    return cells, worker_cells, errors


def _tracebacks(log: str) -> list[str]:
    """The exception line of each traceback in a server's log."""
    found, inside = [], False
    for line in log.splitlines():
        if line.startswith("Traceback (most recent call last)"):
            inside = True
        elif inside and line and not line.startswith((" ", "\t")):
            if not line.startswith(("The above exception", "During handling")):
                found.append(line[:200])
            inside = line.startswith(("The above exception", "During handling"))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=None, help="measured per cell (default 6; quick 1.5)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="short cells, no two-worker servers (about a minute)"
    )
    parser.add_argument("--postgres", default=os.environ.get(PG_ENV), help="writer on PostgreSQL")
    args = parser.parse_args(argv)
    warm_up = 0.5 if args.quick else 1.0
    seconds = args.seconds or (1.5 if args.quick else 6.0)
    timing = Timing(seconds=math.ceil(seconds + warm_up), warm_up=warm_up)

    wrk = find_wrk()
    if wrk is None:
        print("wrk is not installed (apt-get install wrk); it generates the load.")
        return 1
    load_before = os.getloadavg()
    started = time.perf_counter()
    from watchkeeper.datasets import churn, train_churn_model

    model = train_churn_model(churn(10_000, seed=1))
    _note("model fitted")
    skipped = mlflow_missing()
    if skipped is not None:
        _note(f"the mlflow servers are skipped: {skipped}")
    cells, worker_cells, tracebacks = serve_cells(
        wrk, model, timing, quick=args.quick, with_mlflow=skipped is None
    )
    in_flights = (1,) if args.quick else (1, 64)
    writer = {"SQLite": writer_cells(None, model, seconds, in_flights)}
    if args.postgres:
        with fresh_postgres_database(args.postgres, "wk_servebench") as url:
            writer["PostgreSQL"] = writer_cells(url, model, seconds, in_flights)
    load_after = os.getloadavg()

    window = timing.seconds - timing.warm_up
    print(
        f"\nServing the churn pipeline over HTTP on loopback: wrk (1 thread) for "
        f"{timing.seconds} s per cell, answers counted after {timing.warm_up:g} s (~{window:g} s). "
        f"Load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
        f"the run took {time.perf_counter() - started:.0f} s."
    )
    print(f"Machine: {machine_facts(wrk)}.")
    if skipped is not None:
        print(f"The mlflow servers were skipped: {skipped}.")
    print_cells("One worker each; /invocations with dataframe_split bodies (OIP: /v2 infer)", cells)
    if worker_cells:
        print_cells(
            "Two workers (single-row; p50 at 1 client shows a Nagle delay if TCP_NODELAY is off)",
            worker_cells,
        )
    for name, found in tracebacks.items():
        if found:
            shown = "; ".join(sorted(set(found))[:3])
            print(f"\n{len(found)} traceback(s) in the log of {name}: {shown}")
    for database, results in writer.items():
        print(
            f"\nLog writer alone ({database}), {WRITER_THREADS} threads, {seconds:g} s per cell\n"
        )
        print("| batches | rows/s | rows per commit | error |")
        print("|---|---:|---:|---|")
        for key, (rate, per_commit, error) in results.items():
            print(f"| {key} | {rate:,.0f} | {per_commit:,.0f} | {error or ''} |")
    print("\nTargets (ratios within this run)\n")
    print("| target | measured | threshold | |")
    print("|---|---:|---:|---|")
    for name, value, threshold, passed in targets(cells, writer):
        print(f"| {name} | {value} | {threshold} | {'PASS' if passed else 'FAIL'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
