"""Headline drift benchmark: 1M reference rows against 1M current rows, 20 numeric + 5 categorical.

Run::

    .venv/bin/python benchmarks/drift.py [--rows 1000000] [--repeat 3]

Every measured step runs in a fresh ``spawn`` subprocess that first builds the two frames
(plain numpy, seeded), records its resident memory, resets the kernel's peak-RSS counter where
Linux allows it (``/proc/self/clear_refs``), then runs the step ``--repeat`` times. Times are
medians; peak RSS is the high-water mark of the step alone, so no step pays for another's
garbage. Steps:

1. floor: ``np.sort`` of the 20 current numeric columns plus ``pd.factorize`` + ``np.bincount``
   of the 5 categoricals, once, single-threaded: the least work any exact two-sample drift
   check over the current window has to do;
2. ``Baseline.fit(reference)``;
3. prefitted drift-only ``baseline.compare(current, checks=["drift"])`` (target ≤ 1.5× floor);
4. prefitted full default ``baseline.compare(current)``;
5. from scratch ``watchkeeper.compare(reference, current)`` (target ≤ 2 s and ≥ 2× faster than
   the naive loop);
6. peak RSS of the from-scratch compare against the loaded data size (sum of
   ``memory_usage(deep=True)`` of both frames; target peak ≤ data + 0.5 GB);
7. naive scipy loop: ``ks_2samp`` per numeric column, ``chi2_contingency`` on ``pd.crosstab``
   counts per categorical column.

The machine's load matters: run it on a quiet machine and say how many cores it had.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import os
import platform
import resource
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

N_NUMERIC = 20
CATEGORICAL_LEVELS = (10, 25, 60, 120, 300)
DRIFTED_NUMERIC = (0, 3, 7)  # mean shift of 0.25 SD
SCALED_NUMERIC = (11,)  # SD × 1.2
DRIFTED_CATEGORICAL = (1,)  # 10 % of the rows redrawn from reversed frequencies
GB = 1024**3


# -- data -------------------------------------------------------------------------------------


def _strings(levels: list[str], codes: np.ndarray) -> pd.Series:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pd.Series(pc.take(pa.array(levels, pa.large_string()), pa.array(codes)), dtype="str")


def make_frame(rows: int, seed: int, *, drift: bool) -> pd.DataFrame:
    """One frame: 20 float columns (assorted shapes) and 5 string columns (Zipf-like levels)."""
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    for j in range(N_NUMERIC):
        kind = j % 4
        if kind == 0:
            x = rng.standard_normal(rows)
        elif kind == 1:
            x = rng.lognormal(0.0, 0.8, rows)
        elif kind == 2:
            x = rng.gamma(2.0, 2.0, rows)
        else:
            x = np.round(rng.uniform(0.0, 100.0, rows), 1)  # ties, like prices
        sd = float(np.std(x[:10_000])) if drift else 0.0
        if drift and j in DRIFTED_NUMERIC:
            x = x + 0.25 * sd
        if drift and j in SCALED_NUMERIC:
            x = x.mean() + 1.2 * (x - x.mean())
        data[f"num_{j:02d}"] = x
    for j, k in enumerate(CATEGORICAL_LEVELS):
        p = 1.0 / np.arange(1, k + 1) ** 1.1
        p /= p.sum()
        codes = np.minimum(np.searchsorted(np.cumsum(p), rng.random(rows)), k - 1)
        if drift and j in DRIFTED_CATEGORICAL:
            moved = rng.random(rows) < 0.1
            codes = np.where(moved, k - 1 - codes, codes)
        data[f"cat_{j}"] = _strings([f"L{j}_{i:03d}" for i in range(k)], codes)
    return pd.DataFrame(data)


def make_frames(rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_frame(rows, 1, drift=False), make_frame(rows, 2, drift=True)


# -- memory -----------------------------------------------------------------------------------


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_bytes() -> int:
    kb = _status_kb("VmRSS")
    return 0 if kb is None else kb * 1024


def reset_peak() -> bool:
    """Reset the peak-RSS counter (Linux ≥ 4.0); False when the platform does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def peak_bytes() -> int:
    kb = _status_kb("VmHWM")
    if kb is None:  # not Linux: ru_maxrss (KiB on Linux, bytes on macOS), never reset
        scale = 1 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    return kb * 1024


# -- steps ------------------------------------------------------------------------------------


def step_floor(ref: pd.DataFrame, cur: pd.DataFrame, state: dict[str, Any]) -> None:
    for name in cur.columns:
        if name.startswith("num_"):
            np.sort(cur[name].to_numpy(dtype=np.float64))
        else:
            codes, uniques = pd.factorize(cur[name])
            np.bincount(codes[codes >= 0], minlength=len(uniques))


def step_fit(ref: pd.DataFrame, cur: pd.DataFrame, state: dict[str, Any]) -> None:
    from watchkeeper import Baseline

    state["baseline"] = Baseline.fit(ref)


def step_compare_drift(ref: pd.DataFrame, cur: pd.DataFrame, state: dict[str, Any]) -> None:
    state["report"] = state["baseline"].compare(cur, checks=state["drift_checks"])


def step_compare_full(ref: pd.DataFrame, cur: pd.DataFrame, state: dict[str, Any]) -> None:
    state["report"] = state["baseline"].compare(cur)


def step_scratch(ref: pd.DataFrame, cur: pd.DataFrame, state: dict[str, Any]) -> None:
    from watchkeeper import compare

    state["report"] = compare(ref, cur)


def step_naive(ref: pd.DataFrame, cur: pd.DataFrame, state: dict[str, Any]) -> None:
    from scipy.stats import chi2_contingency, ks_2samp

    labels = np.repeat([0, 1], [len(ref), len(cur)])
    p_values = {}
    for name in ref.columns:
        if name.startswith("num_"):
            p_values[name] = ks_2samp(ref[name].to_numpy(), cur[name].to_numpy()).pvalue
        else:
            values = pd.concat([ref[name], cur[name]], ignore_index=True)
            table = pd.crosstab(values.to_numpy(), labels)
            p_values[name] = chi2_contingency(table.to_numpy()).pvalue
    state["p_values"] = p_values


STEPS = {
    "floor": step_floor,
    "fit": step_fit,
    "compare_drift": step_compare_drift,
    "compare_full": step_compare_full,
    "scratch": step_scratch,
    "naive": step_naive,
}
NEEDS_FIT = {"compare_drift", "compare_full"}


def run_step(step: str, rows: int, repeat: int, drift_checks: list[str]) -> dict[str, Any]:
    """Build the frames, then time ``step`` ``repeat`` times; runs in a fresh process."""
    ref, cur = make_frames(rows)
    data_bytes = int(
        ref.memory_usage(deep=True, index=True).sum()
        + cur.memory_usage(deep=True, index=True).sum()
    )
    state: dict[str, Any] = {"drift_checks": drift_checks}
    if step in NEEDS_FIT:
        step_fit(ref, cur, state)
    gc.collect()
    loaded = rss_bytes()
    reset = reset_peak()
    times = []
    for _ in range(repeat):
        state.pop("report", None)  # the last run's report is kept to list its alerts
        gc.collect()
        t0 = time.perf_counter()
        STEPS[step](ref, cur, state)
        times.append(time.perf_counter() - t0)
    flagged: list[str] = []
    if "report" in state:
        report = state["report"]
        flagged = sorted(
            {c.column for c in report.checks if c.status == "alert" and c.column is not None}
        )
    if step == "naive":
        flagged = sorted(k for k, p in state["p_values"].items() if p < 0.001)
    return {
        "seconds": statistics.median(times),
        "all_seconds": times,
        "data_bytes": data_bytes,
        "loaded_rss": loaded,
        "peak_rss": peak_bytes(),
        "peak_reset": reset,
        "flagged": flagged,
    }


def measure(step: str, args: argparse.Namespace) -> dict[str, Any]:
    checks = args.drift_checks.split(",")
    if args.inline:
        return run_step(step, args.rows, args.repeat, checks)
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(run_step, step, args.rows, args.repeat, checks).result()


# -- report -----------------------------------------------------------------------------------


def _fmt_s(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def _ratio(x: float | None, floor: float | None) -> str:
    return "—" if x is None or not floor else f"{x / floor:.2f}x"


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "NO")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--drift-checks", default="drift", help="comma-separated checks for step 3")
    parser.add_argument(
        "--inline", action="store_true", help="run in this process (peak RSS is then cumulative)"
    )
    parser.add_argument("--skip-naive", action="store_true", help="skip the naive scipy loop")
    args = parser.parse_args(argv)

    print(
        f"# drift benchmark: {args.rows:,} reference + {args.rows:,} current rows, "
        f"{N_NUMERIC} numeric + {len(CATEGORICAL_LEVELS)} categorical columns "
        f"(levels {CATEGORICAL_LEVELS}), median of {args.repeat}"
    )
    print(
        f"# python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
    )
    results: dict[str, dict[str, Any] | None] = {}
    for step in STEPS:
        if step == "naive" and args.skip_naive:
            results[step] = None
            continue
        started = time.perf_counter()
        try:
            results[step] = measure(step, args)
        except Exception as exc:  # report a step that fails (e.g. API not there yet) and go on
            print(f"# step {step} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            results[step] = None
        took = time.perf_counter() - started
        print(f"# {step} done in {took:.1f} s", file=sys.stderr, flush=True)

    def sec(step: str) -> float | None:
        r = results.get(step)
        return None if r is None else float(r["seconds"])

    floor, naive, scratch = sec("floor"), sec("naive"), sec("scratch")
    drift = sec("compare_drift")
    scratch_ok = (
        None if scratch is None else scratch <= 2 and (naive is None or 2 * scratch <= naive)
    )
    rows: list[tuple[str, str, str, str, str]] = [
        ("1. floor: np.sort 20 numeric + factorize/bincount 5 categorical", _fmt_s(floor),
         "1.00x" if floor else "—", "—", "—"),
        ("2. Baseline.fit(reference)", _fmt_s(sec("fit")), _ratio(sec("fit"), floor), "—", "—"),
        (f"3. baseline.compare(current, checks={args.drift_checks.split(',')})", _fmt_s(drift),
         _ratio(drift, floor), "≤ 1.5x floor",
         _met(None if drift is None or floor is None else drift <= 1.5 * floor)),
        ("4. baseline.compare(current), full default", _fmt_s(sec("compare_full")),
         _ratio(sec("compare_full"), floor), "—", "—"),
        ("5. watchkeeper.compare(reference, current), from scratch", _fmt_s(scratch),
         _ratio(scratch, floor), "≤ 2 s and ≥ 2x faster than naive",
         _met(scratch_ok)),
    ]  # fmt: skip
    scratch_r = results.get("scratch")
    if scratch_r is not None:
        data, peak, loaded = scratch_r["data_bytes"], scratch_r["peak_rss"], scratch_r["loaded_rss"]
        note = "" if scratch_r["peak_reset"] else " (peak includes data building)"
        rows.append((
            f"6. peak RSS of step 5{note}; RSS after load {loaded / GB:.2f} GB, "
            f"loaded data {data / GB:.2f} GB",
            f"{peak / GB:.2f} GB", f"+{(peak - loaded) / GB:.2f} GB over load",
            f"≤ data + 0.5 GB = {(data + 0.5 * GB) / GB:.2f} GB", _met(peak <= data + 0.5 * GB),
        ))  # fmt: skip
    else:
        rows.append(("6. peak RSS of step 5", "—", "—", "≤ data + 0.5 GB", "—"))
    rows.append((
        "7. naive loop: scipy ks_2samp + crosstab/chi2_contingency per column", _fmt_s(naive),
        _ratio(naive, floor), "—", "—",
    ))  # fmt: skip

    print()
    print("| step | seconds | vs floor | target | met |")
    print("|---|---:|---:|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()
    for step, r in results.items():
        if r is None:
            continue
        extra = ""
        if r["flagged"]:
            extra = f", alerts on {', '.join(r['flagged'])}"
        print(
            f"# {step}: runs {', '.join(f'{t:.3f}' for t in r['all_seconds'])} s; "
            f"peak RSS {r['peak_rss'] / GB:.2f} GB{extra}"
        )
    expected = [f"num_{j:02d}" for j in DRIFTED_NUMERIC + SCALED_NUMERIC]
    expected += [f"cat_{j}" for j in DRIFTED_CATEGORICAL]
    print(f"# injected drift: {', '.join(sorted(expected))}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
