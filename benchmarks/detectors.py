"""Streaming detector benchmark: River 0.26's per-element loop against watchkeeper's detectors.

Run::

    .venv/bin/python benchmarks/detectors.py [--n 1000000] [--repeat 3] [--only ADWIN,KSWIN]

Two seeded streams of ``--n`` values, each with one change halfway:

* real-valued (ADWIN, PageHinkley, KSWIN, CUSUM): N(0, 1), mean + 1 from ``n // 2`` on;
* binary errors (DDM, EDDM, HDDM_A, HDDM_W): Bernoulli, error rate 0.1, then 0.3.

For each detector, in one process:

1. compile: the first ``update_many`` call on a tiny input (64 values), measured on its own.
   By default numba's cache goes to a fresh temporary directory, so this is a true compile;
   ``--warm-cache`` keeps the usual on-disk cache (then it is mostly a cache load). The time to
   ``import numba`` is reported once, apart;
2. River's loop (``d.update(x); d.drift_detected`` per element, over a list of Python numbers);
3. watchkeeper's ``update`` in the same loop;
4. watchkeeper's ``update_many`` on the whole float64 array (after the compile of step 1).

Each timing is the best of ``--repeat`` runs on a fresh detector; a run slower than
``--max-seconds`` is not repeated (River's KSWIN runs a scipy KS test per element). PageHinkley
and KSWIN are compared with River through ``river_compatible()`` (River's defaults); their
own watchkeeper defaults get a row of their own, without River. River's parameters are those of
the watchkeeper detector (same names), so the seeds of KSWIN match. River has no CUSUM.

The table also says where each detector fired: the first alarm at or after the change and the
number of alarms before it, for River and for watchkeeper, and whether River's alarms, the
``update`` loop's and ``update_many``'s are identical. Targets: ``update_many`` ≥ 5x River's
throughput (ADWIN ≥ 3x, KSWIN ≥ 100x); ``update`` ≤ 1.5x River's time per element (ADWIN:
≤ 1 µs per element). Detector modules that do not exist yet print "not available".
"""

from __future__ import annotations

import argparse
import gc
import importlib
import inspect
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# name, module, River class path (None: River has none), stream kind, has river_compatible()
DETECTORS: list[tuple[str, str, str | None, str, bool]] = [
    ("ADWIN", "adwin", "river.drift.ADWIN", "real", False),
    ("DDM", "ddm", "river.drift.binary.DDM", "binary", False),
    ("EDDM", "eddm", "river.drift.binary.EDDM", "binary", False),
    ("HDDM_A", "hddm_a", "river.drift.binary.HDDMA", "binary", False),
    ("HDDM_W", "hddm_w", "river.drift.binary.HDDMW", "binary", False),
    ("PageHinkley", "page_hinkley", "river.drift.PageHinkley", "real", True),
    ("KSWIN", "kswin", "river.drift.KSWIN", "real", True),
    ("CUSUM", "cusum", None, "real", False),
]
MANY_TARGET = {"ADWIN": 3.0, "KSWIN": 100.0}  # River / update_many, default 5x
UPDATE_TARGET = 1.5  # update / River per element
ADWIN_UPDATE_NS = 1000.0
KSWIN_SEED = 42  # used when a KSWIN's seed is None, for River and watchkeeper alike
TINY = 64


@dataclass
class Row:
    label: str
    name: str
    stream: str
    river_ns: float | None = None
    update_ns: float | None = None
    many_ns: float | None = None
    compile_ms: float | None = None
    river_alarms: list[int] | None = None
    update_alarms: list[int] | None = None
    many_alarms: list[int] | None = None
    notes: list[str] = field(default_factory=list)


# -- streams ----------------------------------------------------------------------------------


def make_streams(n: int, seed: int = 20_130_000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    change = n // 2
    real = rng.standard_normal(n)
    real[change:] += 1.0
    rate = np.where(np.arange(n) < change, 0.1, 0.3)
    binary = (rng.random(n) < rate).astype(np.float64)
    return {"real": real, "binary": binary}


def as_list(kind: str, x: np.ndarray) -> list[Any]:
    """The stream as Python numbers for the per-element loops (ints 0/1 for binary)."""
    return x.astype(np.int64).tolist() if kind == "binary" else x.tolist()


# -- timing -----------------------------------------------------------------------------------


def loop(det: Any, values: list[Any]) -> list[int]:
    """The per-element loop, the same for River and watchkeeper."""
    alarms: list[int] = []
    append = alarms.append
    update = det.update
    for i, x in enumerate(values):
        update(x)
        if det.drift_detected:
            append(i)
    return alarms


def best_of(make: Any, run: Any, repeat: int, max_seconds: float) -> tuple[float, Any]:
    """Best wall time of ``run(make())`` over up to ``repeat`` runs, and the last result."""
    best = float("inf")
    out = None
    for _ in range(max(repeat, 1)):
        det = make()
        gc.collect()
        t0 = time.perf_counter()
        out = run(det)
        took = time.perf_counter() - t0
        best = min(best, took)
        if took > max_seconds:
            break
    return best, out


# -- detectors --------------------------------------------------------------------------------


def load_class(module: str, name: str) -> tuple[Any, str | None]:
    try:
        mod = importlib.import_module(f"watchkeeper.detectors.{module}")
    except ImportError:
        return None, "not available"
    except Exception as exc:  # a module being written may not import yet
        return None, f"not available ({type(exc).__name__}: {exc})"
    cls = getattr(mod, name, None)
    return (cls, None) if cls is not None else (None, "not available")


def river_class(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def params_of(det: Any) -> dict[str, Any]:
    return dict(det.to_dict()["params"])


def seeded(cls: Any, det: Any) -> Any:
    """``det`` rebuilt with a fixed seed if it has a ``seed`` parameter left at None."""
    params = params_of(det)
    if "seed" in params and params["seed"] is None:
        return cls(**{**params, "seed": KSWIN_SEED})
    return det


def river_kwargs(rcls: Any, params: dict[str, Any]) -> dict[str, Any]:
    accepted = inspect.signature(rcls.__init__).parameters
    return {k: v for k, v in params.items() if k in accepted}


def bench(
    label: str,
    name: str,
    kind: str,
    make_wk: Any,
    rcls: Any,
    streams: dict[str, np.ndarray],
    lists: dict[str, list[Any]],
    compiled: dict[str, float],
    args: argparse.Namespace,
) -> Row:
    row = Row(label=label, name=name, stream=kind)
    x, xs = streams[kind], lists[kind]
    n = x.size
    if name not in compiled:
        det = make_wk()
        t0 = time.perf_counter()
        det.update_many(x[:TINY].copy())
        compiled[name] = time.perf_counter() - t0
        row.compile_ms = compiled[name] * 1e3
    if rcls is not None:
        kwargs = river_kwargs(rcls, params_of(make_wk()))
        took, row.river_alarms = best_of(
            lambda: rcls(**kwargs), lambda d: loop(d, xs), args.repeat, args.max_seconds
        )
        row.river_ns = took / n * 1e9
        print(f"#   River {label}: {took:.2f} s", file=sys.stderr, flush=True)
    took, row.update_alarms = best_of(make_wk, lambda d: loop(d, xs), args.repeat, args.max_seconds)
    row.update_ns = took / n * 1e9
    took, many = best_of(make_wk, lambda d: d.update_many(x), args.repeat, args.max_seconds)
    row.many_ns = took / n * 1e9
    row.many_alarms = np.asarray(many).tolist()
    return row


# -- report -----------------------------------------------------------------------------------


def fmt_ns(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def fired(alarms: list[int] | None, change: int) -> str:
    if alarms is None:
        return "—"
    before = sum(1 for a in alarms if a < change)
    after = [a for a in alarms if a >= change]
    first = f"{after[0]:,}" if after else "none"
    return f"{first} / {before}"


def targets(row: Row) -> str:
    if row.river_ns is None or row.many_ns is None or row.update_ns is None:
        return "—"
    need = MANY_TARGET.get(row.name, 5.0)
    ratio = row.river_ns / row.many_ns
    many_ok = "✓" if ratio >= need else "✗"
    if row.name == "ADWIN":
        upd_ok = "✓" if row.update_ns <= ADWIN_UPDATE_NS else "✗"
        upd = f"update ≤ 1 µs {upd_ok}"
    else:
        upd_ok = "✓" if row.update_ns <= UPDATE_TARGET * row.river_ns else "✗"
        upd = f"update ≤ {UPDATE_TARGET:g}x {upd_ok}"
    return f"many ≥ {need:g}x {many_ok}; {upd}"


def same(row: Row) -> str:
    runs = [a for a in (row.river_alarms, row.update_alarms, row.many_alarms) if a is not None]
    if len(runs) < 2:
        return "—"
    return "yes" if all(r == runs[0] for r in runs[1:]) else "NO"


def print_table(rows: list[Row], change: int) -> None:
    head = [
        "detector",
        "stream",
        "River ns/el",
        "update ns/el",
        "update_many ns/el",
        "River / many",
        "update / River",
        "compile ms",
        "River: first ≥ change / # before",
        "watchkeeper: first ≥ change / # before",
        "same alarms",
        "targets",
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---", "---", *["---:"] * 6, "---:", "---:", "---", "---"]) + "|")
    for r in rows:
        ratio = "—" if r.river_ns is None or not r.many_ns else f"{r.river_ns / r.many_ns:.1f}x"
        upd = (
            "—" if r.river_ns is None or r.update_ns is None else f"{r.update_ns / r.river_ns:.2f}x"
        )
        comp = "—" if r.compile_ms is None else f"{r.compile_ms:,.0f}"
        cells = [
            r.label,
            r.stream,
            fmt_ns(r.river_ns),
            fmt_ns(r.update_ns),
            fmt_ns(r.many_ns),
            ratio,
            upd,
            comp,
            fired(r.river_alarms, change),
            fired(r.many_alarms, change),
            same(r),
            targets(r),
        ]
        print("| " + " | ".join(cells) + " |")


# -- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="stream length")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs, best kept")
    parser.add_argument("--only", default="", help="comma-separated detector names")
    parser.add_argument(
        "--max-seconds", type=float, default=10.0, help="do not repeat runs slower than this"
    )
    parser.add_argument(
        "--warm-cache", action="store_true", help="use numba's on-disk cache for the compile"
    )
    args = parser.parse_args(argv)
    only = {s.strip().lower() for s in args.only.split(",") if s.strip()}
    with tempfile.TemporaryDirectory(prefix="wk-numba-") as cache_dir:
        if not args.warm_cache:
            os.environ["NUMBA_CACHE_DIR"] = cache_dir
        return run(args, only)


def run(args: argparse.Namespace, only: set[str]) -> int:
    import river

    t0 = time.perf_counter()
    try:
        import numba
    except ImportError:
        numba_line = "numba not installed"
    else:
        imported = time.perf_counter() - t0
        t0 = time.perf_counter()
        numba.njit(lambda v: v + 1)(1)  # the first compile of a process also sets up LLVM
        warm = time.perf_counter() - t0
        numba_line = (
            f"numba {numba.__version__} (import {1e3 * imported:.0f} ms, first trivial compile "
            f"{1e3 * warm:.0f} ms, both excluded from the compile column)"
        )

    n = args.n
    change = n // 2
    streams = make_streams(n)
    lists = {kind: as_list(kind, x) for kind, x in streams.items()}
    print(
        f"# {n:,} elements per stream, change at {change:,}; best of {args.repeat}; "
        f"Python {platform.python_version()}, numpy {np.__version__}, River {river.__version__}, "
        f"{numba_line}; {os.cpu_count()} CPUs, {platform.machine()}",
        flush=True,
    )
    rows: list[Row] = []
    missing: list[str] = []
    compiled: dict[str, float] = {}
    for name, module, rpath, kind, has_compat in DETECTORS:
        if only and name.lower() not in only:
            continue
        cls, why = load_class(module, name)
        if cls is None:
            missing.append(f"{name}: {why}")
            print(f"# {name}: {why}", file=sys.stderr, flush=True)
            continue
        rcls = river_class(rpath) if rpath is not None else None
        variants: list[tuple[str, Any, Any]] = []
        if has_compat:
            if hasattr(cls, "river_compatible"):
                variants.append((name, lambda c=cls: seeded(c, c.river_compatible()), rcls))
            else:
                missing.append(f"{name}.river_compatible: not available")
            variants.append((f"{name} (watchkeeper defaults)", lambda c=cls: seeded(c, c()), None))
        else:
            variants.append((name, lambda c=cls: seeded(c, c()), rcls))
        for label, make, river_cls in variants:
            print(f"# {label} ...", file=sys.stderr, flush=True)
            try:
                rows.append(
                    bench(label, name, kind, make, river_cls, streams, lists, compiled, args)
                )
            except Exception as exc:  # a detector being written may still fail
                missing.append(f"{label}: failed ({type(exc).__name__}: {exc})")
                print(f"# {label} failed: {exc!r}", file=sys.stderr, flush=True)
    print()
    if rows:
        print_table(rows, change)
        print()
    for line in missing:
        print(f"- {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
