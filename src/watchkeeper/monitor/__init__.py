"""Monitoring: run checks over a window against a baseline and collect them in a :class:`Report`."""

from __future__ import annotations

from watchkeeper.monitor._compare import compare
from watchkeeper.monitor.report import DriftedColumn, Report, Summary

__all__ = ["DriftedColumn", "Report", "Summary", "compare"]
