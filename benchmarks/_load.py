"""HTTP load for the serving benchmark: ``wrk`` with a Lua script, and CPU accounting.

:func:`run_wrk` drives a server from a separate process: ``wrk`` (written in C, one epoll
thread) keeps ``connections`` kept-alive connections busy, each sending its next POST as soon
as the previous answer arrived (a closed loop), cycling through a file of request bodies, one
JSON document a line. The Lua ``response`` hook counts answers from the end of a warm-up only
(timed with ``clock_gettime`` through LuaJIT's FFI): the first wave of requests, all sent at
once, is not steady state, as a batching server answers it late and all together. The
``done`` hook prints the counts and wrk's latency percentiles on one line, parsed here.

:func:`tree_cpu_seconds` is the CPU time (user + system) of a process and all its live
descendants, read from ``/proc/<pid>/stat``; :func:`busy_cpu_seconds` is the whole machine's,
from ``/proc/stat``.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LoadResult", "busy_cpu_seconds", "find_wrk", "run_wrk", "tree_cpu_seconds"]

TICK = os.sysconf("SC_CLK_TCK")

_SCRIPT = r"""
local ffi = require("ffi")
ffi.cdef[[
  typedef struct { long tv_sec; long tv_nsec; } wkload_timespec;
  int clock_gettime(int clock, wkload_timespec *now);
]]
local clock = ffi.new("wkload_timespec")
local function now()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) * 1e-9
end

local requests, next_one, threads = {}, 0, {}
counted, window_opens = 0, 0

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  local headers = {["Content-Type"] = "application/json"}
  for line in io.lines(args[1]) do
    requests[#requests + 1] = wrk.format("POST", args[2], headers, line)
  end
  window_opens = now() + tonumber(args[3])
end

function request()
  next_one = next_one % #requests + 1
  return requests[next_one]
end

function response(status, headers, body)
  if now() >= window_opens then
    counted = counted + 1
  end
end

function done(summary, latency, requests)
  local n = 0
  for _, thread in ipairs(threads) do
    n = n + thread:get("counted")
  end
  local e = summary.errors
  io.write(string.format("WKLOAD %d %d %d %d %d %d %d %d %d %d %d\n",
    n, summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class LoadResult:
    """What one ``wrk`` run measured (times in seconds).

    ``requests`` were answered in the measured window of ``seconds`` (after the warm-up);
    the run as a whole lasted ``total_seconds``. ``errors`` (non-2xx answers, timeouts,
    socket errors) and the latency percentiles are over the whole run.
    """

    requests: int
    seconds: float
    total_seconds: float
    errors: int
    p50: float
    p99: float
    max: float
    client_cpu: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def find_wrk() -> str | None:
    """The ``wrk`` executable, or None."""
    return shutil.which("wrk") or (
        str(Path("/usr/bin/wrk")) if Path("/usr/bin/wrk").exists() else None
    )


def write_bodies(folder: Path, name: str, bodies: list[str]) -> Path:
    """``bodies`` (JSON without newlines) to ``folder/name``, one a line."""
    path = folder / name
    path.write_text("".join(body + "\n" for body in bodies))
    return path


def run_wrk(
    wrk: str,
    url: str,
    path: str,
    bodies: Path,
    *,
    connections: int,
    seconds: int,
    warm_up: float,
    timeout: float = 10.0,
) -> LoadResult:
    """POST the bodies in ``bodies`` to ``url + path`` over ``connections`` connections for
    ``seconds`` (whole seconds, as wrk takes them), counting answers after ``warm_up``."""
    script = bodies.with_name("wkload.lua")
    if not script.exists():
        script.write_text(_SCRIPT)
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", f"--timeout={timeout:g}s"]
    command += ["-s", str(script), url, "--", str(bodies), path, repr(warm_up)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WKLOAD ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    counted, _, micros, *errors, p50, p99, worst = map(float, line.split()[1:])
    return LoadResult(
        requests=int(counted),
        seconds=micros / 1e6 - warm_up,
        total_seconds=micros / 1e6,
        errors=int(sum(errors)),
        p50=p50 / 1e6,
        p99=p99 / 1e6,
        max=worst / 1e6,
        client_cpu=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
    )


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of process ``root`` and its live descendants."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        fields = text[text.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        times[pid] = (int(fields[11]) + int(fields[12])) / TICK
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo += [child for child, parent in parents.items() if parent == pid]
    return total


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine spent busy (all but idle and iowait) since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICK
