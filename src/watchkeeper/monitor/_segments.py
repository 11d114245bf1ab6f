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
    the row count of each compared segment is in the metadata's ``segments``, segment columns
    the window lacks in ``segments_missing``.

    Each segment asks every question again, so the segments share the significance levels:
    with ``m`` segments compared, drift, quality and performance tests run at ``alpha / m``
    (Bonferroni), and a clean window is no likelier to alert because it was segmented.
    """
    from watchkeeper._convert import column_names, take_rows
    from watchkeeper.baseline._fitting import OTHER, segment_codes

    available = column_names(current, what="current")
    planned: list[tuple[str, Baseline, np.ndarray[Any, Any]]] = []
    unassigned: dict[str, int] = {}
    missing = [c for c in baseline.segments if c not in available]
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
            if rows.size:
                planned.append((f"{column}={label}", child, rows))
    results = list(overall.checks)
    shared = _shared_levels(compare, len(planned))
    for name, child, rows in planned:
        report = child.compare(take_rows(current, rows), **shared)
        results += [replace(r, segment=name) for r in report.checks]
    metadata = {
        **overall.metadata,
        "segments": {name: int(rows.size) for name, _, rows in planned},
        "segments_unassigned": unassigned,
        "segments_missing": missing,
        "segment_alpha_divisor": max(len(planned), 1),
    }
    return Report(results, metadata=metadata)


def _shared_levels(compare: dict[str, Any], m: int) -> dict[str, Any]:
    """``compare``'s options with every family's alpha divided by ``m``."""
    from watchkeeper.drift._options import DriftOptions
    from watchkeeper.performance import PerformanceOptions
    from watchkeeper.quality._options import QualityOptions

    if m <= 1:
        return compare
    out = dict(compare)
    out["alpha"] = compare.get("alpha", DriftOptions().alpha) / m
    for key, cls in (("quality", QualityOptions), ("performance", PerformanceOptions)):
        given = compare.get(key)
        if isinstance(given, QualityOptions | PerformanceOptions):
            out[key] = replace(given, alpha=given.alpha / m)
        else:
            options = dict(given or {})
            options["alpha"] = options.get("alpha", cls().alpha) / m
            out[key] = options
    return out
