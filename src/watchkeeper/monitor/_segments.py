"""Per-segment comparison: each segment of a window against its own baseline."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from watchkeeper.monitor.report import Report

if TYPE_CHECKING:
    from watchkeeper.baseline._baseline import Baseline

__all__ = ["compare_segments"]


def compare_segments(baseline: Baseline, current: Any, overall: Report, **compare: Any) -> Report:
    """``overall`` plus, for each segment column and value, the segment's own comparison.

    Rows whose value has no baseline of its own (rare in the reference, unseen, missing) go to
    the ``"__other__"`` segment when the baseline has one (else they are counted in the
    metadata's ``segments_unassigned``). Segments without rows in the window are left out;
    the row count of each compared segment is in the metadata's ``segments``.
    """
    from watchkeeper._convert import column_names, take_rows
    from watchkeeper.baseline._fitting import OTHER, segment_codes

    results = list(overall.checks)
    sizes: dict[str, int] = {}
    unassigned: dict[str, int] = {}
    available = column_names(current, what="current")
    for column, children in baseline.segments.items():
        if column not in available:
            continue
        codes, labels = segment_codes(current, baseline.schema, column)
        position = {lab: i for i, lab in enumerate(children)}
        lookup = np.array([position.get(lab, -1) for lab in labels] + [-1], dtype=np.int64)
        which = lookup[codes]
        other = position.get(OTHER)
        if other is not None:
            which = np.where(which < 0, other, which)
        elif (which < 0).any():
            unassigned[column] = int(np.count_nonzero(which < 0))
        for i, (label, child) in enumerate(children.items()):
            rows = np.flatnonzero(which == i)
            if rows.size == 0:
                continue
            name = f"{column}={label}"
            sizes[name] = int(rows.size)
            report = child.compare(take_rows(current, rows), **compare)
            results += [replace(r, segment=name) for r in report.checks]
    metadata = {**overall.metadata, "segments": sizes, "segments_unassigned": unassigned}
    return Report(results, metadata=metadata)
