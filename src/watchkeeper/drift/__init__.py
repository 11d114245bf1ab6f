"""Drift checks: per column, for the dataset as a whole, and multivariate.

Pure functions of (fitted reference, prepared window) -> :class:`~watchkeeper.CheckResult`.
The decision rules and their defaults are documented in :mod:`watchkeeper.drift._options`;
the per-column methods in :mod:`watchkeeper.drift.methods`.
"""

from __future__ import annotations

from watchkeeper.drift._options import CORRECTIONS, DriftOptions
from watchkeeper.drift.methods import METHODS

__all__ = ["CORRECTIONS", "METHODS", "DriftOptions"]
