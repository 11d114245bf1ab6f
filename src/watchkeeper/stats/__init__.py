"""Two-sample statistics: tests, distances, binning kernels and multiple-testing correction.

Every function takes the reference sample first and the current sample second.

* Tests (:class:`TestResult`): :func:`ks`, :func:`t_test`, :func:`mann_whitney`,
  :func:`cramer_von_mises`, :func:`anderson` (:class:`AndersonResult`), :func:`chi2`,
  :func:`z_proportions`, :func:`mmd`.
* Distances (:class:`DistanceResult`): :func:`wasserstein`, :func:`energy`, and the binned
  :func:`psi`, :func:`kl`, :func:`jensen_shannon`, :func:`hellinger`.
* Prepared-reference kernels, for columns already sorted or binned: :func:`ks_sorted`,
  :func:`wasserstein_sorted`, :func:`bin_edges`, :func:`bin_counts`, :func:`psi_counts`,
  :func:`kl_counts`, :func:`jensen_shannon_counts`, :func:`hellinger_counts`,
  :func:`chi2_counts`.
* Multiple testing: :func:`correct` (:class:`CorrectionResult`).

Nothing here imports :mod:`scipy.stats` at import time (the functions that need it import it
when called), so ``import watchkeeper.stats`` stays fast.
"""

from __future__ import annotations

from watchkeeper.stats._results import AndersonResult, DistanceResult, TestResult
from watchkeeper.stats.anderson_darling import anderson
from watchkeeper.stats.binned import hellinger, jensen_shannon, kl, psi
from watchkeeper.stats.binning import bin_counts, bin_edges
from watchkeeper.stats.cdf_distance import energy, wasserstein, wasserstein_sorted
from watchkeeper.stats.chi_square import chi2, chi2_counts
from watchkeeper.stats.correction import CorrectionResult, correct
from watchkeeper.stats.cramer import cramer_von_mises
from watchkeeper.stats.divergence import (
    hellinger_counts,
    jensen_shannon_counts,
    kl_counts,
    psi_counts,
)
from watchkeeper.stats.kernel import mmd
from watchkeeper.stats.kolmogorov_smirnov import ks, ks_sorted
from watchkeeper.stats.proportions import z_proportions
from watchkeeper.stats.rank_sum import mann_whitney
from watchkeeper.stats.ttest import t_test

__all__ = [
    "AndersonResult",
    "CorrectionResult",
    "DistanceResult",
    "TestResult",
    "anderson",
    "bin_counts",
    "bin_edges",
    "chi2",
    "chi2_counts",
    "correct",
    "cramer_von_mises",
    "energy",
    "hellinger",
    "hellinger_counts",
    "jensen_shannon",
    "jensen_shannon_counts",
    "kl",
    "kl_counts",
    "ks",
    "ks_sorted",
    "mann_whitney",
    "mmd",
    "psi",
    "psi_counts",
    "t_test",
    "wasserstein",
    "wasserstein_sorted",
    "z_proportions",
]
