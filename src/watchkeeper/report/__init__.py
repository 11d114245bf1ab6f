"""HTML reports: :class:`MonitoringReport`, a model's monitoring history as one offline page.

The page is self-contained (inline CSS, charts as server-rendered SVG, no JavaScript, no
network), and the data behind every chart can be downloaded from it as CSV, all of it as JSON.
"""

from __future__ import annotations

from watchkeeper.report._monitoring import MonitoringReport

__all__ = ["MonitoringReport"]
