"""Quality and performance benchmark: what the quality and performance checks add to drift.

Run::

    .venv/bin/python benchmarks/quality_performance.py [--rows 1000000] [--repeat 3]

The frames are those of ``benchmarks/drift.py`` (1M reference and 1M current rows, 20 numeric +
5 categorical columns, the same seeds and injected drift) with missing values added (NaN in
``num_01`` 1 %, ``num_06`` 5 % → 8 % in the current window, ``num_14`` 20 %; missing strings in
``cat_2`` 3 %) and the columns of a binary model: the target ``y`` (int 0/1), its score
``score`` in (0, 1) (sigmoid of a linear function of ``num_00``, ``num_04``, ``num_08`` plus
noise; ``y`` is drawn from the noiseless probability) and the prediction
``pred = (score >= 0.5)`` as int 0/1. In the current window 2 % of the labels are flipped, so
the performance checks have a real degradation to find.

Like ``benchmarks/drift.py``, every step runs in a fresh ``spawn`` subprocess that builds the
data, fits what the step needs untimed, records its resident memory, resets the peak-RSS
counter (``/proc/self/clear_refs``), then runs the step ``--repeat`` times. Times are medians;
the RSS column is the step's own high-water mark over the RSS after loading. Steps:

1. floor (as in drift.py): ``np.sort`` of the 20 numeric current columns + ``pd.factorize`` /
   ``np.bincount`` of the 5 categoricals;
2. ``Baseline.fit(reference, target="y", prediction="pred", prediction_proba="score")`` with
   ``reference_chunks=0``, and 3. with the default ``reference_chunks=10`` (the chunk
   statistics behind ``compare_chunks``' learned thresholds);
4. prefitted ``baseline.compare(current, checks=["drift"])``;
5. prefitted ``baseline.compare(current, checks=["drift", "quality"])``: quality's added time
   over step 4 (target ≤ +50 %). Two medians from separate processes make a noisy ratio, so
   5b. also alternates the two calls in one process (after a warm-up pair, the order swapped
   each pair, ``--paired-repeat`` pairs) and reports the median of the per-pair ratios;
6. prefitted full default ``baseline.compare(current)`` (drift + quality + performance);
7. prefitted ``baseline.compare(current, checks=["performance"])`` (target ≤ 1.5 s), and 8. the
   kernel alone, ``watchkeeper.performance.performance_checks`` on already-encoded arrays
   (int64 codes of ``y`` and ``pred``, float64 scores);
9. from scratch ``watchkeeper.compare(reference, current)`` (no target given: ``y``,
   ``pred`` and ``score`` are then plain features);
10. a 200-row and a 5,000-row window (the first rows of the current frame), full default
    compare against the prefitted baseline, median of ``--small-repeat`` runs (the first,
    cold run included). Below ``bootstrap_below`` (5,000) labelled rows the performance bands
    are bootstrapped where no small-sample formula applies; at 5,000 rows the large-sample
    ones apply, bootstrapping only what has no formula (f1, average precision). The band
    method of each metric is printed with the step's runs.

For the drift-only figures of the first issue, like for like, run ``benchmarks/drift.py``.
The machine's load matters: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The sibling benchmark's data and memory helpers, importable once its folder is on the path.
from drift import (
    CATEGORICAL_LEVELS,
    GB,
    N_NUMERIC,
    make_frame,
    peak_bytes,
    reset_peak,
    rss_bytes,
)

MISSING_NUMERIC = {"num_01": (0.01, 0.01), "num_06": (0.05, 0.08), "num_14": (0.20, 0.20)}
MISSING_CATEGORICAL = {"cat_2": (0.03, 0.03)}  # (reference rate, current rate)
FLIPPED_LABELS = 0.02  # share of the current window's labels flipped
SMALL_WINDOWS = (200, 5_000)
QUALITY_BUDGET = 0.50  # quality may add at most 50 % to the drift-only compare
PERFORMANCE_TARGET = 1.5  # seconds, performance checks alone on the 1M-row window


# -- data -------------------------------------------------------------------------------------


def make_labelled(rows: int, seed: int, *, drift: bool) -> pd.DataFrame:
    """drift.py's frame, with missing values and a binary model's target, score and prediction."""
    frame = make_frame(rows, seed, drift=drift)
    rng = np.random.default_rng(seed + 100)
    which = 1 if drift else 0
    for name, rates in MISSING_NUMERIC.items():
        values = frame[name].to_numpy(dtype=np.float64, copy=True)
        values[rng.random(rows) < rates[which]] = np.nan
        frame[name] = values
    for name, rates in MISSING_CATEGORICAL.items():
        frame[name] = frame[name].mask(rng.random(rows) < rates[which])
    eta = (
        -0.3
        + 1.2 * frame["num_00"].to_numpy()
        - 0.8 * frame["num_04"].to_numpy()
        + 0.5 * frame["num_08"].to_numpy()
    )
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-eta))).astype(np.int64)
    if drift:
        flip = rng.random(rows) < FLIPPED_LABELS
        y[flip] = 1 - y[flip]
    score = 1.0 / (1.0 + np.exp(-(eta + rng.normal(0.0, 0.5, rows))))
    frame["y"] = y
    frame["score"] = score
    # int 0/1, not bool: a bool prediction reads as the labels "False"/"True", which are not
    # the target's "0"/"1" (the task would be inferred as a 4-class multiclass one).
    frame["pred"] = (score >= 0.5).astype(np.int64)
    return frame


def make_frames(rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_labelled(rows, 1, drift=False), make_labelled(rows, 2, drift=True)


# -- steps ------------------------------------------------------------------------------------


def _fit(ref: pd.DataFrame, chunks: int) -> Any:
    from watchkeeper import Baseline

    return Baseline.fit(
        ref, target="y", prediction="pred", prediction_proba="score", reference_chunks=chunks
    )


def step_floor(ref: pd.DataFrame, cur: pd.DataFrame, state: dict[str, Any]) -> None:
    for name in cur.columns:
        if name.startswith("num_"):
            np.sort(cur[name].to_numpy(dtype=np.float64))
        elif name.startswith("cat_"):
            codes, uniques = pd.factorize(cur[name])
            np.bincount(codes[codes >= 0], minlength=len(uniques))


def step_fit_nochunks(ref: pd.DataFrame, cur: pd.DataFrame, state: dict[str, Any]) -> None:
    state["fitted"] = _fit(ref, 0)


def step_fit_chunks(ref: pd.DataFrame, cur: pd.DataFrame, state: dict[str, Any]) -> None:
    state["fitted"] = _fit(ref, 10)


def step_compare_drift(ref: pd.DataFrame, cur: pd.DataFrame, state: dict[str, Any]) -> None:
    state["report"] = state["baseline"].compare(cur, checks=["drift"])


def step_compare_drift_quality(ref: pd.DataFrame, cur: pd.DataFrame, state: dict[str, Any]) -> None:
    state["report"] = state["baseline"].compare(cur, checks=["drift", "quality"])


def step_quality_paired(ref: pd.DataFrame, cur: pd.DataFrame, state: dict[str, Any]) -> None:
    """Drift-only and drift + quality back to back, in alternating order: one pair of times."""
    pairs = state.setdefault("pairs", [])
    timed = {}
    order = ("drift", "drift+quality") if len(pairs) % 2 == 0 else ("drift+quality", "drift")
    for key in order:
        gc.collect()
        t0 = time.perf_counter()
        state["report"] = state["baseline"].compare(cur, checks=key.split("+"))
        timed[key] = time.perf_counter() - t0
    pairs.append((timed["drift"], timed["drift+quality"]))


def step_compare_full(ref: pd.DataFrame, cur: pd.DataFrame, state: dict[str, Any]) -> None:
    state["report"] = state["baseline"].compare(cur)


def step_compare_performance(ref: pd.DataFrame, cur: pd.DataFrame, state: dict[str, Any]) -> None:
    state["report"] = state["baseline"].compare(cur, checks=["performance"])


def step_performance_kernel(ref: pd.DataFrame, cur: pd.DataFrame, state: dict[str, Any]) -> None:
    from watchkeeper.performance import performance_checks

    y_true, y_pred, y_score, classes, options = state["encoded"]
    state["results"] = performance_checks(
        state["baseline"].performance, y_true, y_pred, y_score, classes=classes, options=options
    )


def step_scratch(ref: pd.DataFrame, cur: pd.DataFrame, state: dict[str, Any]) -> None:
    from watchkeeper import compare

    state["report"] = compare(ref, cur)


def step_window(ref: pd.DataFrame, cur: pd.DataFrame, state: dict[str, Any]) -> None:
    state["report"] = state["baseline"].compare(state["window"])


STEPS = {
    "floor": step_floor,
    "fit_nochunks": step_fit_nochunks,
    "fit_chunks": step_fit_chunks,
    "compare_drift": step_compare_drift,
    "compare_drift_quality": step_compare_drift_quality,
    "quality_paired": step_quality_paired,
    "compare_full": step_compare_full,
    "compare_performance": step_compare_performance,
    "performance_kernel": step_performance_kernel,
    "scratch": step_scratch,
    **{f"window_{n}": step_window for n in SMALL_WINDOWS},
}
NEEDS_FIT = {
    "compare_drift",
    "compare_drift_quality",
    "quality_paired",
    "compare_full",
    "compare_performance",
    "performance_kernel",
    *(f"window_{n}" for n in SMALL_WINDOWS),
}


def _setup(step: str, ref: pd.DataFrame, cur: pd.DataFrame, state: dict[str, Any]) -> None:
    """The untimed part of a step: the prefitted baseline, the encoded arrays, the window."""
    if step not in NEEDS_FIT:
        return
    baseline = _fit(ref, 0)  # the chunk statistics only serve compare_chunks
    if baseline.labels is None or baseline.labels.task != "binary" or baseline.performance is None:
        raise RuntimeError(f"expected a binary performance baseline, got {baseline.labels!r}")
    state["baseline"] = baseline
    if step == "performance_kernel":
        from watchkeeper.performance import PerformanceOptions

        # The arrays _performance hands the kernel: int64 codes into ("0", "1"), -1 = missing
        # (here y and pred are 0/1 already, so the code is the value), float64 scores.
        state["encoded"] = (
            cur["y"].to_numpy(dtype=np.int64),
            cur["pred"].to_numpy(dtype=np.int64),
            cur["score"].to_numpy(dtype=np.float64),
            baseline.labels.classes,
            PerformanceOptions(),
        )
    if step == "quality_paired":
        step_quality_paired(ref, cur, state)  # a warm-up pair, not kept
        state.pop("pairs")
    if step.startswith("window_"):
        state["window"] = cur.iloc[: int(step.removeprefix("window_"))].copy()


def _flagged(state: dict[str, Any]) -> list[str]:
    if "report" not in state:
        return []
    out = set()
    for c in state["report"].checks:
        if c.status == "alert":
            out.add(c.check if c.column is None else f"{c.check}:{c.column}")
    return sorted(out)


def _bands(state: dict[str, Any]) -> dict[str, str]:
    checks = state["report"].checks if "report" in state else state.get("results", [])
    return {
        c.check.removeprefix("performance."): str(c.details["band_method"])
        for c in checks
        if c.check.startswith("performance.") and c.details and "band_method" in c.details
    }


def run_step(step: str, rows: int, repeat: int) -> dict[str, Any]:
    """Build the frames and what ``step`` needs, then time it ``repeat`` times (fresh process)."""
    ref, cur = make_frames(rows)
    data_bytes = int(
        ref.memory_usage(deep=True, index=True).sum()
        + cur.memory_usage(deep=True, index=True).sum()
    )
    state: dict[str, Any] = {}
    _setup(step, ref, cur, state)
    gc.collect()
    loaded = rss_bytes()
    reset = reset_peak()
    times = []
    for _ in range(repeat):
        for key in ("report", "results", "fitted"):  # the last run's output is kept, for alerts
            state.pop(key, None)
        gc.collect()
        t0 = time.perf_counter()
        STEPS[step](ref, cur, state)
        times.append(time.perf_counter() - t0)
    return {
        "seconds": statistics.median(times),
        "all_seconds": times,
        "data_bytes": data_bytes,
        "loaded_rss": loaded,
        "peak_rss": peak_bytes(),
        "peak_reset": reset,
        "flagged": _flagged(state),
        "bands": _bands(state),
        "pairs": state.get("pairs", []),
    }


def measure(step: str, args: argparse.Namespace) -> dict[str, Any]:
    repeat = args.repeat
    if step.startswith("window_"):
        repeat = args.small_repeat
    elif step == "quality_paired":
        repeat = args.paired_repeat
    if args.inline:
        return run_step(step, args.rows, repeat)
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(run_step, step, args.rows, repeat).result()


# -- report -----------------------------------------------------------------------------------


def _fmt_s(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("meets" if ok else "misses")


def _rss(r: dict[str, Any] | None) -> str:
    if r is None:
        return "—"
    note = "" if r["peak_reset"] else " (incl. data building)"
    return f"{(r['peak_rss'] - r['loaded_rss']) / GB:+.2f} GB{note}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--small-repeat", type=int, default=21, help="runs of the 200- and 5,000-row windows"
    )
    parser.add_argument(
        "--paired-repeat", type=int, default=7, help="pairs of the interleaved quality step"
    )
    parser.add_argument(
        "--inline", action="store_true", help="run in this process (peak RSS is then cumulative)"
    )
    parser.add_argument("--steps", help="comma-separated subset of the steps (default: all)")
    args = parser.parse_args(argv)
    steps = list(STEPS) if not args.steps else args.steps.split(",")

    print(
        f"# quality/performance benchmark: {args.rows:,} reference + {args.rows:,} current rows, "
        f"{N_NUMERIC} numeric + {len(CATEGORICAL_LEVELS)} categorical columns "
        f"(levels {CATEGORICAL_LEVELS}) + y, score, pred; median of {args.repeat} "
        f"({args.small_repeat} for the small windows)"
    )
    print(
        f"# python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
    )
    results: dict[str, dict[str, Any] | None] = {}
    for step in steps:
        started = time.perf_counter()
        try:
            results[step] = measure(step, args)
        except Exception as exc:  # report a step that fails and go on with the others
            print(f"# step {step} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            results[step] = None
        took = time.perf_counter() - started
        print(f"# {step} done in {took:.1f} s", file=sys.stderr, flush=True)

    def sec(step: str) -> float | None:
        r = results.get(step)
        return None if r is None else float(r["seconds"])

    drift, drift_quality = sec("compare_drift"), sec("compare_drift_quality")
    added = None if drift is None or drift_quality is None else drift_quality / drift - 1.0
    perf = sec("compare_performance")
    pairs = (results.get("quality_paired") or {}).get("pairs", [])
    paired = statistics.median(dq / d - 1.0 for d, dq in pairs) if pairs else None
    paired_s = statistics.median(dq - d for d, dq in pairs) if pairs else None
    table: list[tuple[str, str, str, bool | None]] = [
        ("1. floor: np.sort 20 numeric + factorize/bincount 5 categorical", "floor", "—", None),
        ("2. Baseline.fit(reference, target, prediction, proba, reference_chunks=0)",
         "fit_nochunks", "—", None),
        ("3. Baseline.fit(..., reference_chunks=10) (default)", "fit_chunks", "—", None),
        ('4. baseline.compare(current, checks=["drift"])', "compare_drift", "—", None),
        ('5. baseline.compare(current, checks=["drift", "quality"])'
         + ("" if added is None else f": quality adds {added:+.0%} over step 4"),
         "compare_drift_quality", f"≤ +{QUALITY_BUDGET:.0%} over step 4",
         None if added is None else added <= QUALITY_BUDGET),
        ("5b. steps 4 and 5 alternated in one process, warm"
         + ("" if paired is None else f": quality adds {paired:+.0%} (median of pair ratios; "
            "seconds = added time)"),
         "quality_paired", f"≤ +{QUALITY_BUDGET:.0%}",
         None if paired is None else paired <= QUALITY_BUDGET),
        ("6. baseline.compare(current), full default", "compare_full", "—", None),
        ('7. baseline.compare(current, checks=["performance"])', "compare_performance",
         f"≤ {PERFORMANCE_TARGET} s", None if perf is None else perf <= PERFORMANCE_TARGET),
        ("8. performance_checks(reference, y_true, y_pred, y_score) on encoded arrays",
         "performance_kernel", "—", None),
        ("9. watchkeeper.compare(reference, current), from scratch, no target", "scratch", "—",
         None),
        *((f"10. {n:,}-row window, full compare vs the prefitted baseline", f"window_{n}", "—",
           None) for n in SMALL_WINDOWS),
    ]  # fmt: skip

    print()
    print("| step | median s | peak RSS over load | target | verdict |")
    print("|---|---:|---:|---|---|")
    for label, step, target, ok in table:
        if step not in results:
            continue
        seconds = paired_s if step == "quality_paired" else sec(step)
        row = (label, _fmt_s(seconds), _rss(results[step]), target, _verdict(ok))
        print("| " + " | ".join(row) + " |")
    print()
    for step, r in results.items():
        if r is None:
            continue
        extra = f"; alerts: {', '.join(r['flagged'])}" if r["flagged"] else ""
        if r["pairs"]:
            extra += "; pairs (drift, drift+quality): " + ", ".join(
                f"({d:.3f}, {dq:.3f})" for d, dq in r["pairs"]
            )
        if r["bands"]:
            extra += "; bands: " + ", ".join(f"{k}={v}" for k, v in r["bands"].items())
        runs = r["all_seconds"]
        shown = (
            ", ".join(f"{t:.3f}" for t in runs)
            if len(runs) <= 5
            else f"first {runs[0]:.3f}, then {min(runs[1:]):.3f}-{max(runs[1:]):.3f}"
        )
        print(
            f"# {step}: runs {shown} s; "
            f"peak RSS {r['peak_rss'] / GB:.2f} GB, after load {r['loaded_rss'] / GB:.2f} GB"
            f"{extra}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
