"""The fitted reference a window is compared with: :class:`Baseline` and its column profiles."""

from __future__ import annotations

from watchkeeper.baseline._baseline import Baseline
from watchkeeper.baseline._options import MULTIVARIATE_METHODS, FitOptions
from watchkeeper.baseline._profiles import CategoricalProfile, NumericProfile

__all__ = ["MULTIVARIATE_METHODS", "Baseline", "CategoricalProfile", "FitOptions", "NumericProfile"]
