"""Data-quality checks against the reference's own rates, and per-row failure flags.

``baseline.compare`` runs these checks (``checks="quality"`` for them alone); options go in as
``compare(window, quality={...})``. See :mod:`watchkeeper.quality._options` for the decision
rule (binomial excess over the reference's rate plus a margin) and
:mod:`watchkeeper.quality.checks` for the checks.
"""

from __future__ import annotations

from watchkeeper.quality._mask import ROW_REASONS, row_mask
from watchkeeper.quality._options import DEFAULT_MARGINS, QualityOptions
from watchkeeper.quality._rows import DatasetReference
from watchkeeper.quality.checks import column_quality, dataset_quality, empty_window

__all__ = [
    "DEFAULT_MARGINS",
    "ROW_REASONS",
    "DatasetReference",
    "QualityOptions",
    "column_quality",
    "dataset_quality",
    "empty_window",
    "row_mask",
]
