"""The loop's orchestration: monitor runs over the prediction log, alerts, the update policy,
retraining in a subprocess, the champion/challenger gate, deployment and the post-deploy guard.

Everything here takes a :class:`~watchkeeper.Project` and runs on its clock, so a simulated
clock replays weeks of production in seconds. ``watchkeeper.monitor`` and
``watchkeeper.policy`` stay pure; this package reads and writes the project's database.
"""

from __future__ import annotations

from watchkeeper.ops._monitor import MonitorRun, run_monitor

__all__ = ["MonitorRun", "run_monitor"]
