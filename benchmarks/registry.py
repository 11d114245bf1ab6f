"""Model registry benchmark: ``watchkeeper.Project`` on SQLite and on PostgreSQL.

Run::

    .venv/bin/python benchmarks/registry.py [--quick] [--sizes 10000,100000,1000000]
        [--repeat N] [--moves 50] [--loads 20] [--versions 30]

SQLite is a project in a temporary folder (the default configuration: a database file in the
project). PostgreSQL is measured too when ``WATCHKEEPER_TEST_DATABASE_URL`` is set (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``): a fresh database is created next to
that URL's for the run and dropped (``WITH (FORCE)``) at the end. Projects are opened with an
empty environment, so ``WATCHKEEPER_*`` variables do not change what is measured.

The model is ``train_churn_model`` fitted once on ``churn(10_000, seed=1)`` (its size does not
depend on the rows it was fitted on). Each row of the table is the median of N runs:

* ``register`` with ``churn(n, seed=1)`` as reference and ``churn(n // 5, seed=2)`` as
  validation (``target="churned"``, ``id="customer_id"``), each run into a fresh project (a new
  artifact folder, so content-addressed artifacts are really written), one warm-up
  registration first. The ``progress=`` messages time the phases: the total, fitting the
  baseline (fit and store the baseline artifact) and storing the data (reference and
  validation Parquet) are in the table; every phase is listed below it;
* ``deploy`` (an alias move to a ready version) and ``rollback`` (back to the version before;
  the one rolled back from becomes ``rejected``), ``--moves`` of each, alternating; between
  them an untimed ``set_status(..., "ready")`` readies the rejected version again;
* ``load_model("models:/churn@production")``: alias lookup, sha256 check and skops load;
* ``history`` of that model (its registrations, moves and status changes, about 200 events
  with the defaults) and ``versions`` (``--versions`` versions).

``--quick`` runs only 10,000 rows with fewer repeats and a smaller history, in seconds.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _postgres import fresh_postgres_database

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

    from watchkeeper import Project

PG_ENV = "WATCHKEEPER_TEST_DATABASE_URL"
BASELINE_PHASE = "fitting the monitoring baseline"
DATA_PHASES = ("storing the reference data", "storing the validation data")
MODEL = "churn"
URI = f"models:/{MODEL}@production"


@dataclass
class Cell:
    """The runs of one operation on one backend."""

    runs: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


@dataclass
class Results:
    """Everything measured on one backend: table cells, phase runs, notes."""

    cells: dict[str, Cell] = field(default_factory=dict)
    phases: dict[int, dict[str, list[float]]] = field(default_factory=dict)
    sizes: dict[int, dict[str, int]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def add(self, key: str, seconds: float) -> None:
        self.cells.setdefault(key, Cell()).runs.append(seconds)


# -- PostgreSQL -------------------------------------------------------------------------------


def postgres_version(url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar_one()).split()[0]
    finally:
        engine.dispose()


# -- measuring --------------------------------------------------------------------------------


def open_project(directory: Path, url: str | None) -> Project:
    from watchkeeper import Project

    return Project.init(directory, database_url=url, environ={})


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    t0 = time.perf_counter()
    out = call()
    return time.perf_counter() - t0, out


def file_size(project: Project, sha256: str | None) -> int:
    if sha256 is None:
        return 0
    with project.artifacts.local_path(sha256) as path:
        return path.stat().st_size


def register_once(
    project: Project, name: str, model: Any, ref: pd.DataFrame, val: pd.DataFrame
) -> tuple[float, dict[str, float], Any]:
    """Register, returning the total time, each phase's time and the version."""
    marks: list[tuple[str, float]] = []

    def progress(message: str) -> None:
        marks.append((message, time.perf_counter()))

    gc.collect()
    t0 = time.perf_counter()
    version = project.register(
        name,
        model,
        reference=ref,
        validation=val,
        target="churned",
        id="customer_id",
        progress=progress,
    )
    end = time.perf_counter()
    phases: dict[str, float] = {}
    for (message, start), (_, stop) in zip(marks, [*marks[1:], ("", end)], strict=True):
        phases[message] = phases.get(message, 0.0) + stop - start
    return end - t0, phases, version


def bench_register(
    res: Results,
    tmp: Path,
    url: str | None,
    model: Any,
    frames: dict[int, tuple[pd.DataFrame, pd.DataFrame]],
    repeats: dict[int, int],
) -> None:
    for n, (ref, val) in frames.items():
        for r in range(repeats[n]):
            directory = tmp / f"register-{n}-{r}"
            project = open_project(directory, url)
            try:
                total, phases, version = register_once(project, f"{MODEL}-{n}-{r}", model, ref, val)
                if r == 0:
                    res.sizes[n] = {
                        "model (skops)": version.artifact_size,
                        "baseline": file_size(project, version.baseline_sha256),
                        "reference Parquet": file_size(project, version.reference_sha256),
                        "validation Parquet": file_size(project, version.validation_sha256),
                    }
            finally:
                project.close()
                shutil.rmtree(directory, ignore_errors=True)
            res.add(f"register-{n}", total)
            res.add(f"register-{n}-baseline", phases.get(BASELINE_PHASE, 0.0))
            res.add(f"register-{n}-data", sum(phases.get(p, 0.0) for p in DATA_PHASES))
            for message, seconds in phases.items():
                res.phases.setdefault(n, {}).setdefault(message, []).append(seconds)
            print(f"#   register {n:,} rows: {total:.2f} s", file=sys.stderr, flush=True)


def bench_operations(
    res: Results,
    tmp: Path,
    url: str | None,
    model: Any,
    small: pd.DataFrame,
    args: argparse.Namespace,
) -> None:
    project = open_project(tmp / "operations", url)
    try:
        for _ in range(args.versions):
            project.register(MODEL, model, reference=small, store_data=False)
        project.deploy(MODEL, 1)
        for _ in range(args.moves):
            res.add("deploy", timed(lambda: project.deploy(MODEL, 2))[0])
            res.add("rollback", timed(lambda: project.rollback(MODEL))[0])  # 2 is rejected
            project.set_status(MODEL, 2, "ready")
        loaded = project.load_model(URI)  # warm-up
        for _ in range(args.loads):
            took, loaded = timed(lambda: project.load_model(URI))
            res.add("load_model", took)
        res.counts["load_model"] = loaded.version.artifact_size
        res.counts["history"] = len(project.history(MODEL))
        res.counts["versions"] = len(project.versions(MODEL))
        for _ in range(args.loads):
            res.add("history", timed(lambda: project.history(MODEL))[0])
            res.add("versions", timed(lambda: project.versions(MODEL))[0])
    finally:
        project.close()


def run_backend(
    label: str,
    url: str | None,
    model: Any,
    frames: dict[int, tuple[pd.DataFrame, pd.DataFrame]],
    small: pd.DataFrame,
    repeats: dict[int, int],
    args: argparse.Namespace,
) -> Results:
    res = Results()
    print(f"# {label} ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="watchkeeper-registry-bench-") as name:
        tmp = Path(name)
        warm = open_project(tmp / "warm-up", url)
        try:  # imports, skops' first serialization, the first connection
            register_once(warm, f"{MODEL}-warm-up", model, small, small)
        finally:
            warm.close()
        bench_register(res, tmp, url, model, frames, repeats)
        bench_operations(res, tmp, url, model, small, args)
    return res


# -- report -----------------------------------------------------------------------------------


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    ms = seconds * 1e3
    return f"{ms:.0f} ms" if ms >= 100 else f"{ms:.1f} ms" if ms >= 1 else f"{ms:.2f} ms"


def fmt_bytes(size: int) -> str:
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def print_report(
    backends: dict[str, Results],
    frames: dict[int, tuple[pd.DataFrame, pd.DataFrame]],
) -> None:
    rows: list[tuple[str, str]] = []
    for n, (_, val) in frames.items():
        case = f"register {n:,} rows + {len(val):,} validation"
        rows += [
            (f"register-{n}", f"{case}: total"),
            (f"register-{n}-baseline", f"{case}: fitting the baseline"),
            (f"register-{n}-data", f"{case}: storing the data"),
        ]
    count = next((r.counts for r in backends.values() if r.counts), {})
    rows += [
        ("deploy", "deploy (alias move)"),
        ("rollback", "rollback"),
        ("load_model", f'load_model("{URI}") ({fmt_bytes(count.get("load_model", 0))} model)'),
        ("history", f"history ({count.get('history', 0)} events)"),
        ("versions", f"versions ({count.get('versions', 0)} versions)"),
    ]
    labels = list(backends)
    print("| operation | N | " + " | ".join(labels) + " |")
    print("|---|---:|" + "---:|" * len(labels))
    for key, label in rows:
        cells = [backends[b].cells.get(key) for b in labels]
        ns = {len(c.runs) for c in cells if c is not None}
        n_text = "/".join(str(n) for n in sorted(ns)) or "—"
        values = ["—" if c is None else fmt_time(c.median) for c in cells]
        print(f"| {label} | {n_text} | " + " | ".join(values) + " |")
    print()
    for b, res in backends.items():
        if res.error is not None:
            print(f"- {b}: {res.error}")
    sizes = next((r.sizes for r in backends.values() if r.sizes), {})
    if sizes:
        n = 100_000 if 100_000 in sizes else max(sizes)
        parts = ", ".join(f"{k} {fmt_bytes(v)}" for k, v in sizes[n].items())
        print(f"- artifacts of the {n:,}-row registration: {parts}")
    for b, res in backends.items():
        for n, phases in res.phases.items():
            parts = "; ".join(f"{m} {fmt_time(statistics.median(s))}" for m, s in phases.items())
            print(f"- {b}, {n:,} rows, median per phase: {parts}")


# -- main -------------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    return [int(s.replace("_", "")) for s in text.split(",") if s.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k rows only, fewer repeats")
    parser.add_argument("--sizes", type=parse_sizes, default=None, help="reference rows, a,b,c")
    parser.add_argument("--repeat", type=int, default=None, help="register runs per size")
    parser.add_argument("--moves", type=int, default=None, help="deploys and rollbacks each")
    parser.add_argument("--loads", type=int, default=None, help="load/history/versions runs")
    parser.add_argument("--versions", type=int, default=None, help="versions of the model")
    args = parser.parse_args(argv)
    sizes = args.sizes or ([10_000] if args.quick else [10_000, 100_000, 1_000_000])
    if args.repeat is not None:
        repeats = dict.fromkeys(sizes, args.repeat)
    elif args.quick:
        repeats = dict.fromkeys(sizes, 2)
    else:
        repeats = {n: 5 if n <= 10_000 else 3 if n <= 100_000 else 2 for n in sizes}
    args.moves = args.moves or (10 if args.quick else 50)
    args.loads = args.loads or (5 if args.quick else 20)
    args.versions = max(2, args.versions or (5 if args.quick else 30))

    from watchkeeper.datasets import churn, train_churn_model

    started = time.perf_counter()
    model = train_churn_model(churn(10_000, seed=1))
    small = churn(1_000, seed=3)
    frames = {n: (churn(n, seed=1), churn(n // 5, seed=2)) for n in sizes}
    print(f"# data and model ready in {time.perf_counter() - started:.1f} s", file=sys.stderr)

    backends: dict[str, Results] = {}
    backends["SQLite"] = run_backend("SQLite", None, model, frames, small, repeats, args)
    base = os.environ.get(PG_ENV) or None
    pg_line = f"PostgreSQL not measured ({PG_ENV} not set)"
    if base is not None:
        try:
            with fresh_postgres_database(base) as url:
                pg_line = f"PostgreSQL {postgres_version(url)}"
                backends["PostgreSQL"] = run_backend(
                    "PostgreSQL", url, model, frames, small, repeats, args
                )
        except Exception as exc:  # report an unreachable server instead of no table at all
            backends["PostgreSQL"] = Results(error=f"failed ({type(exc).__name__}: {exc})")
            pg_line = "PostgreSQL failed"

    print(
        f"# model registry, median of N runs; watchkeeper {metadata.version('watchkeeper')}, "
        f"Python {platform.python_version()}, SQLAlchemy {metadata.version('sqlalchemy')}, "
        f"scikit-learn {metadata.version('scikit-learn')}, skops {metadata.version('skops')}, "
        f"pyarrow {metadata.version('pyarrow')}, "
        f"SQLite {sqlite3.sqlite_version}, {pg_line}; "
        f"{os.cpu_count()} CPUs, {platform.machine()}"
    )
    print()
    print_report(backends, frames)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
