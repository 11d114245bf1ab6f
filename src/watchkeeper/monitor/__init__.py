"""Monitoring: run checks over a window (or its chunks and segments) against a baseline and
collect them in a :class:`Report` (a :class:`ChunkedReport` for a series of chunks)."""

from __future__ import annotations

from watchkeeper.monitor._compare import compare
from watchkeeper.monitor.chunked import ChunkedReport, ChunkStats
from watchkeeper.monitor.report import DriftedColumn, Report, Summary

__all__ = ["ChunkStats", "ChunkedReport", "DriftedColumn", "Report", "Summary", "compare"]
