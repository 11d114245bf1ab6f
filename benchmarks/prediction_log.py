"""The prediction log's own speed: writing, reading a window back, labels, compaction.

On SQLite (a project in a temp folder) and, with WATCHKEEPER_TEST_DATABASE_URL, PostgreSQL (a
fresh database, dropped afterwards): log N churn predictions (inputs + prediction + score)
with ``PredictionLog.append`` in batches of B rows (B = 1,000 for the server's group commits,
50,000 for batch ingestion), read the whole window back into a DataFrame, attach N/2 labels by
id, read again with labels, and compact 10-row batches. Targets (issue 6): the log writer
ingests at least 100k rows/s; a 1M-row window reads back in under 3 s.

``--rows`` sets N (default 1,000,000); ``--quick`` is 100,000.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from _postgres import fresh_postgres_database
from watchkeeper.clock import SimulatedClock
from watchkeeper.datasets import CHURN_FEATURES, churn, train_churn_model
from watchkeeper.registry import Project
from watchkeeper.store.predictions import make_batch

WRITE_TARGET = 100_000  # rows/s
READ_TARGET = 3.0  # s for 1M rows


def _data(n: int) -> pd.DataFrame:
    base = churn(min(n, 200_000), seed=3)
    reps = -(-n // len(base))
    df = pd.concat([base] * reps, ignore_index=True).head(n)
    df["customer_id"] = [f"C{i:09d}" for i in range(n)]  # unique keys for the labels
    df["event_time"] = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), "s")
    return df


def _batches(df: pd.DataFrame, rows: int, tag: str) -> list[Any]:
    out = []
    for start in range(0, len(df), rows):
        part = df.iloc[start : start + rows]
        out.append(
            make_batch(
                "churn",
                1,
                part[list(CHURN_FEATURES)],
                {
                    "prediction": part["churn_pred"].to_numpy(),
                    "prediction_proba": part["churn_score"].to_numpy(),
                },
                request_id=[f"{tag}-{i}" for i in range(start, start + len(part))],
                rows=[0] * len(part),
                keys=part["customer_id"].tolist(),
                event_time=part["event_time"],
            )
        )
    return out


def run(url: str | None, n: int) -> dict[str, float]:
    clock = SimulatedClock(datetime(2026, 3, 1, tzinfo=UTC))
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        project = Project.init(f"{tmp}/p", database_url=url, clock=clock)
        ref = churn(5_000, seed=1)
        project.register("churn", train_churn_model(ref), reference=ref, target="churned")
        project.register("churn10", train_churn_model(ref), reference=ref, target="churned")
        df = _data(n)
        for rows in (1_000, 50_000):
            batches = _batches(df, rows, f"b{rows}")
            start = time.perf_counter()
            for chunk in range(0, len(batches), max(1, 50_000 // rows)):
                project.log.append(batches[chunk : chunk + max(1, 50_000 // rows)])
            results[f"write {rows:,}-row batches, rows/s"] = n / (time.perf_counter() - start)
            if rows == 1_000:
                start = time.perf_counter()
                back = project.read_log("churn")
                results["read 1,000-row batches, s"] = time.perf_counter() - start
                assert len(back) == n
            project.log.database.engine.dispose()
            with project.database.write() as conn:  # next round logs the same rows again
                for table in ("labels", "prediction_keys", "prediction_batches"):
                    conn.execute(sa.text(f"DELETE FROM {table}"))
        project.log.append(_batches(df, 50_000, "final"))
        start = time.perf_counter()
        project.read_log("churn")
        results["read 50,000-row batches, s"] = time.perf_counter() - start
        labels = pd.DataFrame(
            {"id": df["customer_id"].iloc[::2], "label": df["churned"].iloc[::2].astype(int)}
        )
        start = time.perf_counter()
        stored = project.log_labels("churn", labels).stored
        results["labels by id, labels/s"] = stored / (time.perf_counter() - start)
        start = time.perf_counter()
        joined = project.read_log("churn", with_labels=True)
        results["read with labels, s"] = time.perf_counter() - start
        assert int(joined["label"].notna().sum()) == stored
        small = _data(min(n, 100_000)).assign(customer_id=lambda d: "x" + d["customer_id"])
        batches10 = [b.__class__("churn10", 1, b.role, b.table) for b in _batches(small, 10, "s")]
        for chunk in range(0, len(batches10), 5_000):
            project.log.append(batches10[chunk : chunk + 5_000])
        start = time.perf_counter()
        project.read_log("churn10")
        results[f"read {len(small):,} rows in 10-row batches, s"] = time.perf_counter() - start
        start = time.perf_counter()
        project.log.compact("churn10")
        results["compact them to 100k-row batches, s"] = time.perf_counter() - start
        start = time.perf_counter()
        project.read_log("churn10")
        results["read them after compaction, s"] = time.perf_counter() - start
        project.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 100_000 if args.quick else args.rows
    loads: dict[str, tuple[float, float]] = {}  # 1-minute load average before and after
    before = os.getloadavg()[0]
    columns = {"SQLite": run(None, n)}
    loads["SQLite"] = (before, os.getloadavg()[0])
    pg = os.environ.get("WATCHKEEPER_TEST_DATABASE_URL")
    if pg:
        with fresh_postgres_database(pg, "wk_logbench") as url:
            before = os.getloadavg()[0]
            columns["PostgreSQL"] = run(url, n)
            loads["PostgreSQL"] = (before, os.getloadavg()[0])
    names = list(columns)
    print(f"\nprediction log, {n:,} churn predictions ({len(CHURN_FEATURES)} inputs + 2 outputs)")
    print(f"targets: write >= {WRITE_TARGET:,} rows/s; read 1M rows < {READ_TARGET:g} s")
    # Other processes on the machine slow every figure: re-measure when the load was high.
    shown = "; ".join(f"{name} {a:.2f} -> {b:.2f}" for name, (a, b) in loads.items())
    print(f"load average (1 min, {os.cpu_count()} cores) before -> after: {shown}\n")
    print("| measure | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for key in columns[names[0]]:
        cells = []
        for name in names:
            value = columns[name][key]
            cells.append(f"{value:,.0f}" if value >= 100 else f"{value:.2f}")
        print(f"| {key} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
