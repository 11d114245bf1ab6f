"""Start-up benchmark: ``import watchkeeper`` and a small ``watchkeeper compare`` from the shell.

Run::

    .venv/bin/python benchmarks/startup.py [--repeat 5] [--rows 10000]

Each measurement is the wall time of a fresh subprocess (median of ``--repeat``):

* ``python -c "pass"``: the interpreter alone, for scale;
* ``python -c "import watchkeeper"`` (target ≤ 0.3 s);
* ``watchkeeper compare ref.csv cur.csv`` on two ``--rows``-row CSVs of the churn data set,
  the current one with covariate drift, written to a temporary directory (target ≤ 1.5 s).

One untimed warm-up run of each command comes first, so the numbers are warm-cache start-ups
(the usual case on a developer machine or a CI runner that already imported once).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _cli() -> list[str] | None:
    """The ``watchkeeper`` console script next to this interpreter, else on PATH."""
    script = Path(sys.executable).with_name("watchkeeper")
    if script.exists():
        return [str(script)]
    found = shutil.which("watchkeeper")
    return None if found is None else [found]


def _time(cmd: list[str], repeat: int) -> tuple[float, list[float], int, str]:
    """Median wall time of ``cmd`` over ``repeat`` fresh runs (after one warm-up)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    warm = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, env=env, check=False)
        times.append(time.perf_counter() - t0)
    last_line = (warm.stderr.strip().splitlines() or [""])[-1]
    return statistics.median(times), times, warm.returncode, last_line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args(argv)

    from watchkeeper.datasets import churn

    rows: list[tuple[str, str, str, str]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="watchkeeper-startup-") as tmp:
        ref_csv, cur_csv = Path(tmp, "ref.csv"), Path(tmp, "cur.csv")
        churn(args.rows, seed=1).to_csv(ref_csv, index=False)
        churn(args.rows, seed=2, scenario="covariate_drift").to_csv(cur_csv, index=False)

        py = sys.executable
        cases: list[tuple[str, list[str] | None, float | None]] = [
            ('python -c "pass"', [py, "-c", "pass"], None),
            ('python -c "import watchkeeper"', [py, "-c", "import watchkeeper"], 0.3),
        ]
        cli = _cli()
        label = f"watchkeeper compare ref.csv cur.csv ({args.rows:,} rows each)"
        cases.append(
            (label, None if cli is None else [*cli, "compare", str(ref_csv), str(cur_csv)], 1.5)
        )
        for name, cmd, target in cases:
            if cmd is None:
                rows.append((name, "—", f"≤ {target} s", "— (no watchkeeper script found)"))
                continue
            median, times, code, last = _time(cmd, args.repeat)
            met = "—" if target is None else ("yes" if median <= target else "NO")
            if code != 0:  # no --fail-on is given, so anything but 0 is a failure
                met = f"failed (exit {code}: {last})"
            rows.append((name, f"{median:.3f}", "—" if target is None else f"≤ {target} s", met))
            notes.append(f"# {name}: exit {code}; runs {', '.join(f'{t:.3f}' for t in times)} s")

    print(f"# start-up benchmark, median of {args.repeat} fresh processes, {os.cpu_count()} cores")
    print()
    print("| step | seconds | target | met |")
    print("|---|---:|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()
    print("\n".join(notes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
