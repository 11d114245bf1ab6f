"""How fast can a window of logged predictions be read back? Candidate layouts for issue 6.

Writes N churn predictions (the churn features, a prediction, a probability, request ids,
event times) in each layout on SQLite and (with WATCHKEEPER_TEST_DATABASE_URL) PostgreSQL,
then reads them all back into a pandas DataFrame, timing write and read:

* ``wide/read_sql``   one row per prediction, one typed column per field, pandas.read_sql;
* ``wide/adbc``       the same table read through an ADBC driver straight into Arrow;
* ``blobs/<k>``       a narrow table of batches, each holding k rows as one Arrow IPC stream
                      (k = rows per group commit: 1,000 / 100 / 10), concatenated on read;
* ``json/read_sql``   one row per prediction with the features as JSON (for reference).

The target (issue 6): a 1M-row window back in a DataFrame in under 3 s on both databases.
Prints a Markdown table. ``--rows`` sets N (default 1,000,000); ``--quick`` is 100,000.
"""

from __future__ import annotations

import argparse
import io
import os
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from _postgres import fresh_postgres_database
from watchkeeper.datasets import CHURN_FEATURES, churn

if TYPE_CHECKING:
    from collections.abc import Callable

TARGET_S = 3.0


def _frame(n: int) -> pd.DataFrame:
    base = churn(min(n, 200_000), seed=1)
    reps = -(-n // len(base))
    df = pd.concat([base] * reps, ignore_index=True).head(n)
    out = df[list(CHURN_FEATURES)].copy()
    out.insert(0, "request_id", [f"r{i:09d}" for i in range(n)])
    out.insert(1, "row", np.zeros(n, dtype=np.int64))
    out.insert(2, "event_time", pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(n), "s"))
    out["prediction"] = df["churn_pred"].to_numpy()
    out["prediction_proba"] = df["churn_score"].to_numpy()
    return out


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


# ---------------------------------------------------------------------------- layouts
def wide_write(engine: sa.Engine, df: pd.DataFrame) -> None:
    df.to_sql("wide", engine, index=False, if_exists="replace", chunksize=50_000)


def wide_read_sql(engine: sa.Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(sa.text("SELECT * FROM wide"), conn)


def wide_read_adbc(url: str) -> pd.DataFrame:
    if url.startswith("sqlite"):
        import adbc_driver_sqlite.dbapi as adbc

        conn = adbc.connect(url.removeprefix("sqlite:///"))
    else:
        import adbc_driver_postgresql.dbapi as adbc

        conn = adbc.connect(url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT * FROM wide")
            table = cur.fetch_arrow_table()
    finally:
        conn.close()
    return table.to_pandas()


def _ipc(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def blobs_write(engine: sa.Engine, df: pd.DataFrame, rows_per_batch: int) -> None:
    meta = sa.MetaData()
    table = sa.Table(
        f"blobs_{rows_per_batch}",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("t_min", sa.DateTime),
        sa.Column("t_max", sa.DateTime),
        sa.Column("n", sa.Integer),
        sa.Column("payload", sa.LargeBinary),
    )
    meta.drop_all(engine)
    meta.create_all(engine)
    arrow = pa.Table.from_pandas(df, preserve_index=False)
    times = df["event_time"].to_numpy()
    rows = []
    for start in range(0, len(df), rows_per_batch):
        stop = min(start + rows_per_batch, len(df))
        rows.append(
            {
                "t_min": pd.Timestamp(times[start]).to_pydatetime(),
                "t_max": pd.Timestamp(times[stop - 1]).to_pydatetime(),
                "n": stop - start,
                "payload": _ipc(arrow.slice(start, stop - start)),
            }
        )
    with engine.begin() as conn:
        for chunk in range(0, len(rows), 5_000):
            conn.execute(sa.insert(table), rows[chunk : chunk + 5_000])


def blobs_read(engine: sa.Engine, rows_per_batch: int) -> pd.DataFrame:
    with engine.connect() as conn:
        payloads = conn.execute(
            sa.text(f"SELECT payload FROM blobs_{rows_per_batch} ORDER BY id")
        ).scalars()
        tables = [pa.ipc.open_stream(p).read_all() for p in payloads]
    return pa.concat_tables(tables).to_pandas()


def json_write(engine: sa.Engine, df: pd.DataFrame) -> None:
    features = df[list(CHURN_FEATURES)].to_json(orient="records", lines=True).splitlines()
    slim = df[["request_id", "row", "event_time", "prediction", "prediction_proba"]].copy()
    slim["features"] = features
    slim.to_sql("js", engine, index=False, if_exists="replace", chunksize=50_000)


def json_read(engine: sa.Engine) -> pd.DataFrame:
    import json

    with engine.connect() as conn:
        df = pd.read_sql(sa.text("SELECT * FROM js"), conn)
    feats = pd.DataFrame.from_records([json.loads(x) for x in df.pop("features")])
    return pd.concat([df, feats], axis=1)


# ---------------------------------------------------------------------------- driver
def run(url: str, df: pd.DataFrame, quick: bool) -> dict[str, tuple[float, float]]:
    engine = sa.create_engine(url)
    out: dict[str, tuple[float, float]] = {}
    n = len(df)

    def record(name: str, write: Callable[[], Any], read: Callable[[], pd.DataFrame]) -> None:
        w, _ = _timed(write)
        r, back = _timed(read)
        if len(back) != n:
            raise RuntimeError(f"{name}: read {len(back)} rows, wrote {n}")
        out[name] = (w, r)
        print(f"#   {url.split(':')[0]} {name}: write {w:.2f} s, read {r:.2f} s", flush=True)

    record("wide/read_sql", lambda: wide_write(engine, df), lambda: wide_read_sql(engine))
    try:  # ADBC drivers are not a watchkeeper dependency: pip install adbc-driver-sqlite ...
        import adbc_driver_postgresql.dbapi  # noqa: F401
        import adbc_driver_sqlite.dbapi  # noqa: F401
    except ImportError:
        print("#   (ADBC drivers not installed: the wide/adbc row is left out)", flush=True)
    else:
        record("wide/adbc", lambda: None, lambda: wide_read_adbc(url))
    for k in (1_000, 100) if quick else (1_000, 100, 10):
        record(
            f"blobs/{k}", lambda k=k: blobs_write(engine, df, k), lambda k=k: blobs_read(engine, k)
        )
    if not quick:
        record("json/read_sql", lambda: json_write(engine, df), lambda: json_read(engine))
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 rows, fewer layouts")
    args = parser.parse_args()
    n = 100_000 if args.quick else args.rows
    df = _frame(n)
    import tempfile

    results: dict[str, dict[str, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"] = run(f"sqlite:///{tmp}/log.db", df, args.quick)
    pg = os.environ.get("WATCHKEEPER_TEST_DATABASE_URL")
    if pg:
        with fresh_postgres_database(pg, "wk_layouts") as url:
            results["PostgreSQL"] = run(url, df, args.quick)
    backends = list(results)
    print(f"\n{n:,} predictions, {df.shape[1]} columns; read = back into a pandas DataFrame")
    print(f"target: read < {TARGET_S:g} s\n")
    print("| layout | " + " | ".join(f"{b} write s | {b} read s" for b in backends) + " |")
    print("|---|" + "---:|---:|" * len(backends))
    for name in results[backends[0]]:
        cells = []
        for b in backends:
            w, r = results[b][name]
            cells += [f"{w:.2f}" if name != "wide/adbc" else "(same table)", f"{r:.2f}"]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
