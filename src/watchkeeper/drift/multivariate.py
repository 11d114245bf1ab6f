"""Multivariate drift checks: whole rows, not one column at a time.

Per-column tests miss a change in how features vary *together* (two features that were
correlated stop being so, with unchanged marginals). These checks compare rows, as encoded by
the baseline's :class:`~watchkeeper.baseline._encode.FrameEncoder`:

``drift.pca_reconstruction`` (default, cheap)
    Mean PCA reconstruction error of the window against a band learned on reference chunks
    (NannyML's data reconstruction drift).
``drift.domain_classifier`` (opt-in, ~seconds)
    Cross-validated ROC AUC of a gradient-boosting classifier telling reference rows from window
    rows; 0.5 means indistinguishable.
``drift.manifold`` (opt-in)
    Energy distance or MMD² between the reference holdout and the window in an Isomap
    embedding of the reference, with a permutation p-value.

Each is a pure function of (fitted reference model, encoded window matrix) -> ``CheckResult``.
Rows holding a NaN or inf are skipped (``details["n_nonfinite_rows"]`` counts them); a window
with too few usable rows gives ``skipped``.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from watchkeeper.baseline._encode import as_matrix, sample_finite_rows
from watchkeeper.baseline._manifold import permutation_two_sample
from watchkeeper.errors import InvalidParameterError, UnknownMethodError
from watchkeeper.results import CheckResult, Status

if TYPE_CHECKING:
    from collections.abc import Sequence

    from watchkeeper.baseline._manifold import DomainClassifierReference, ManifoldReference
    from watchkeeper.baseline._pca import PCAReconstructionModel

__all__ = [
    "domain_classifier",
    "manifold",
    "pca_reconstruction",
    "pca_reconstruction_from_errors",
]

FloatArray = npt.NDArray[np.float64]

PCA_CHECK = "drift.pca_reconstruction"
DOMAIN_CHECK = "drift.domain_classifier"
MANIFOLD_CHECK = "drift.manifold"
_TOP_FEATURES = 5


# ---------------------------------------------------------------- validation
def _real(
    name: str, value: Any, *, low: float, high: float | None = None, low_open: bool = True
) -> float:
    ok = not isinstance(value, bool) and isinstance(value, Real) and math.isfinite(float(value))
    if ok:
        v = float(value)
        ok = (v > low if low_open else v >= low) and (high is None or v <= high)
    if not ok:
        left = "(" if low_open else "["
        span = f"{left}{low}, {high}]" if high is not None else f"{left}{low}, inf)"
        raise InvalidParameterError(
            f"The '{name}' parameter must be a number in {span}. Got {value!r} instead."
        )
    return float(value)


def _int(name: str, value: Any, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise InvalidParameterError(
            f"The '{name}' parameter must be an int >= {minimum}. Got {value!r} instead."
        )
    return int(value)


def _skipped(
    check: str, *, n: int, n_reference: int, minimum: int, details: dict[str, Any]
) -> CheckResult:
    return CheckResult(
        check=check,
        column=None,
        value=None,
        status="skipped",
        reason=(
            f"The window has {n} usable row(s) (finite in every feature); this check needs "
            f"at least {minimum}."
        ),
        n=n,
        n_reference=n_reference,
        details=details,
    )


# ------------------------------------------------------------ pca reconstruction
def pca_reconstruction(
    model: PCAReconstructionModel,
    x_window: Any,
    *,
    k: float = 3.0,
    warning_k: float | None = 2.0,
    min_rows: int = 100,
    min_relative_change: float = 0.0,
) -> CheckResult:
    """Compare the window's mean PCA reconstruction error with the reference band.

    Parameters
    ----------
    model
        The fitted :class:`~watchkeeper.baseline._pca.PCAReconstructionModel`.
    x_window
        The window, encoded like the reference: ``(n_rows, n_features)``.
    k
        Half-width of the alert band, in standard deviations of a window-sized mean.
    warning_k
        Half-width of the warning band (``0 < warning_k <= k``), or None for no warning level.
    min_rows
        Fewer finite rows than this gives ``skipped``.
    min_relative_change
        Practical floor of both bands' half-width, as a fraction of ``mu_`` (0: none). At
        very large windows the statistical band is tiny; e.g. 0.02 ignores changes of the mean
        error below 2%.

    Returns
    -------
    CheckResult
        ``value`` the window's mean error, ``reference_value`` the holdout's (``mu_``),
        ``threshold`` and ``warning_threshold`` the upper bounds of the two bands.

    Notes
    -----
    For a window of ``n`` finite rows the band is

    .. math:: \\mu \\pm \\max\\left(k \\, \\sigma_{chunk} \\sqrt{c / n + c / n_h},\\;
              m_{rel} \\, \\mu\\right)

    with ``mu`` the mean per-row error on the ``n_h`` reference holdout rows, ``sigma_chunk``
    the standard deviation of the mean error over holdout chunks of ``c`` rows
    (``model.chunk_size_``) and ``m_rel`` = ``min_relative_change``. The ``c / n_h`` term is
    the uncertainty of ``mu`` itself (the band is for a difference of two means), so a window
    far larger than the holdout is not judged on the reference's sampling noise. The
    check is two-sided: an error that *drops* below the band also alerts, since it means the
    rows now follow a simpler structure than the reference's (e.g. a feature stuck at a
    constant), which is a change too.

    References
    ----------
    NannyML, "Data Reconstruction with PCA",
    https://nannyml.readthedocs.io/en/stable/how_it_works/multivariate_drift.html
    """
    arr = as_matrix(x_window, name="The window", n_features=model.n_features_in_)
    total, n = model.error_total(arr)
    return pca_reconstruction_from_errors(
        model,
        total=total,
        n=n,
        n_rows=int(arr.shape[0]),
        k=k,
        warning_k=warning_k,
        min_rows=min_rows,
        min_relative_change=min_relative_change,
    )


def pca_reconstruction_from_errors(
    model: PCAReconstructionModel,
    *,
    total: float,
    n: int,
    n_rows: int,
    k: float = 3.0,
    warning_k: float | None = 2.0,
    min_rows: int = 100,
    min_relative_change: float = 0.0,
) -> CheckResult:
    """:func:`pca_reconstruction` from the window's summed row errors.

    For a caller that encodes and measures a large window chunk by chunk (summing
    ``model.error_total`` over the chunks), so the whole encoded window never exists at once.
    ``total`` is the sum of the row errors over ``n`` finite rows, out of ``n_rows`` rows.
    """
    k = _real("k", k, low=0.0)
    if warning_k is not None:
        warning_k = _real("warning_k", warning_k, low=0.0, high=k)
    min_rel = _real("min_relative_change", min_relative_change, low=0.0, low_open=False)
    min_rows = _int("min_rows", min_rows, minimum=1)
    details: dict[str, Any] = {
        "n_components": model.n_components_,
        "explained_variance_ratio_sum": model.explained_variance_ratio_sum,
        "chunk_size": model.chunk_size_,
        "sigma_chunk": model.sigma_chunk_,
        "k": k,
        "warning_k": warning_k,
        "min_relative_change": min_rel,
        "n_fit": model.n_fit_,
        "n_holdout": model.n_holdout_,
        "n_nonfinite_rows": int(n_rows - n),
    }
    if n < min_rows:
        return _skipped(
            PCA_CHECK, n=n, n_reference=model.n_holdout_, minimum=min_rows, details=details
        )
    value = total / n
    lower, upper = model.band(n, k, min_relative_change=min_rel)
    details.update(lower=lower, upper=upper)
    warn_upper: float | None = None
    status: Status = "ok"
    if not lower <= value <= upper:
        status = "alert"
        side = "above" if value > upper else "below"
        reason = (
            f"Mean reconstruction error {value:.4g} is {side} the reference band "
            f"[{lower:.4g}, {upper:.4g}] (k={k:g})."
        )
    else:
        reason = f"Mean reconstruction error {value:.4g} is within [{lower:.4g}, {upper:.4g}]."
    if warning_k is not None:
        warn_lower, warn_upper = model.band(n, warning_k, min_relative_change=min_rel)
        details.update(warning_lower=warn_lower, warning_upper=warn_upper)
        if status == "ok" and not warn_lower <= value <= warn_upper:
            status = "warning"
            reason = (
                f"Mean reconstruction error {value:.4g} is outside the warning band "
                f"[{warn_lower:.4g}, {warn_upper:.4g}] (k={warning_k:g}) but within the "
                f"alert band [{lower:.4g}, {upper:.4g}]."
            )
    return CheckResult(
        check=PCA_CHECK,
        column=None,
        value=value,
        reference_value=model.mu_,
        threshold=upper,
        warning_threshold=warn_upper,
        status=status,
        reason=reason,
        n=n,
        n_reference=model.n_holdout_,
        details=details,
    )


# ------------------------------------------------------------- domain classifier
def domain_classifier(
    ref_model: DomainClassifierReference,
    x_window: Any,
    *,
    max_rows: int = 20_000,
    n_splits: int = 5,
    seed: int = 0,
    min_rows: int = 200,
    threshold: float | None = None,
    warning_threshold: float | None = None,
    z: float = 3.0,
    warning_z: float = 2.0,
    min_auc: float = 0.55,
    min_warning_auc: float = 0.53,
    max_iter: int = 50,
    n_threads: int | None = 1,
    feature_names: Sequence[str] | None = None,
) -> CheckResult:
    """Can a classifier tell the window's rows from the reference's? (cross-validated AUC)

    Reference rows are labelled 0 and window rows 1 (each side a seeded subsample of at most
    ``max_rows`` finite rows); a ``HistGradientBoostingClassifier`` is trained in stratified
    K-fold and its out-of-fold probabilities give one ROC AUC. ``0.5`` means the two samples
    are indistinguishable; ``1.0`` means fully separable.

    Parameters
    ----------
    ref_model
        The fitted :class:`~watchkeeper.baseline._manifold.DomainClassifierReference`.
    x_window
        The window, encoded like the reference.
    max_rows
        At most this many rows from each side.
    n_splits
        Folds of the stratified cross-validation.
    seed
        Seed of the subsamples, the folds and the classifier.
    min_rows
        Fewer usable window rows than this gives ``skipped``.
    threshold
        Alert when AUC >= threshold; None derives it from the null spread (see Notes).
    warning_threshold
        Warning when AUC >= it. None: derived like ``threshold`` with ``warning_z`` and
        ``min_warning_auc`` when ``threshold`` is derived too; no warning level when
        ``threshold`` is given, or when the warning threshold is not below the alert one.
    z, warning_z
        Null standard deviations above 0.5 for the derived alert and warning thresholds.
    min_auc, min_warning_auc
        Practical floors of the derived thresholds: at large ``n`` the null spread is tiny and
        an AUC of 0.51 would be "significant" without being a change worth acting on.
    max_iter
        Boosting iterations (modest, so 20k + 20k rows take about a second).
    n_threads
        OpenMP threads of the classifier; None lets scikit-learn use every core. 1 by default:
        the boosting runs thousands of short parallel regions that stall whenever another
        process holds a core (measured on 2 cores: as fast as 2 threads when idle, up to 8×
        faster under load).
    feature_names
        Names of the matrix columns for ``details["top_features"]``; defaults to the names
        stored on ``ref_model``, else ``x0, x1, ...``.

    Returns
    -------
    CheckResult
        ``value`` the AUC, ``reference_value`` 0.5. ``details["top_features"]`` lists the five
        features with the largest absolute standardised mean difference between the samples
        (``(mean_window − mean_ref) / sqrt((var_ref + var_window) / 2)``).

    Notes
    -----
    Under no drift the AUC is a Mann–Whitney statistic over independent scores, centred on 0.5
    with standard deviation

    .. math:: sd = \\sqrt{(n_0 + n_1 + 1) / (12 \\, n_0 n_1)}

    and the derived threshold is ``max(0.5 + z·sd, min_auc)`` (warning:
    ``max(0.5 + warning_z·sd, min_warning_auc)``).
    """
    max_rows = _int("max_rows", max_rows, minimum=2)
    n_splits = _int("n_splits", n_splits, minimum=2)
    seed = _int("seed", seed, minimum=0)
    min_rows = _int("min_rows", min_rows, minimum=1)
    max_iter = _int("max_iter", max_iter, minimum=1)
    if n_threads is not None:
        n_threads = _int("n_threads", n_threads, minimum=1)
    z = _real("z", z, low=0.0)
    warning_z = _real("warning_z", warning_z, low=0.0)
    min_auc = _real("min_auc", min_auc, low=0.5, high=1.0, low_open=False)
    min_warning_auc = _real("min_warning_auc", min_warning_auc, low=0.5, high=1.0, low_open=False)
    if threshold is not None:
        threshold = _real("threshold", threshold, low=0.5, high=1.0)
    if warning_threshold is not None:
        warning_threshold = _real("warning_threshold", warning_threshold, low=0.5, high=1.0)

    ref_model._check_fitted()
    arr = as_matrix(x_window, name="The window", n_features=ref_model.n_features_in_)
    names = _feature_names(feature_names, ref_model.feature_names_, arr.shape[1])
    rng = np.random.default_rng(seed)
    current, n_finite = sample_finite_rows(arr, max_rows=max_rows, rng=rng)
    reference, _ = sample_finite_rows(ref_model.rows_, max_rows=max_rows, rng=rng)
    n0, n1 = reference.shape[0], current.shape[0]
    details: dict[str, Any] = {
        "n_reference": n0,
        "n_current": n1,
        "n_splits": n_splits,
        "seed": seed,
        "max_iter": max_iter,
        "n_threads": n_threads,
        "n_nonfinite_rows": int(arr.shape[0] - n_finite),
    }
    minimum = max(min_rows, n_splits)
    if n1 < minimum or n0 < n_splits:
        return _skipped(DOMAIN_CHECK, n=n1, n_reference=n0, minimum=minimum, details=details)

    auc = _cross_validated_auc(
        reference, current, n_splits=n_splits, seed=seed, max_iter=max_iter, n_threads=n_threads
    )
    sd = math.sqrt((n0 + n1 + 1) / (12.0 * n0 * n1))
    if threshold is None:
        threshold = max(0.5 + z * sd, min_auc)
        if warning_threshold is None:
            warning_threshold = max(0.5 + warning_z * sd, min_warning_auc)
    if warning_threshold is not None and warning_threshold >= threshold:
        warning_threshold = None
    details.update(
        null_sd=sd,
        z_score=(auc - 0.5) / sd,
        z=z,
        warning_z=warning_z,
        min_auc=min_auc,
        min_warning_auc=min_warning_auc,
        top_features=_top_mean_differences(reference, current, names),
    )
    status: Status = "ok"
    reason = f"Cross-validated AUC {auc:.4f} is below the alert threshold {threshold:.4f}."
    if auc >= threshold:
        status = "alert"
        reason = (
            f"A classifier tells window rows from reference rows with AUC {auc:.4f} "
            f">= {threshold:.4f}."
        )
    elif warning_threshold is not None and auc >= warning_threshold:
        status = "warning"
        reason = (
            f"Cross-validated AUC {auc:.4f} is at or above the warning threshold "
            f"{warning_threshold:.4f} but below the alert threshold {threshold:.4f}."
        )
    return CheckResult(
        check=DOMAIN_CHECK,
        column=None,
        value=auc,
        reference_value=0.5,
        threshold=threshold,
        warning_threshold=warning_threshold,
        status=status,
        reason=reason,
        n=n1,
        n_reference=n0,
        details=details,
    )


def _cross_validated_auc(
    reference: FloatArray,
    current: FloatArray,
    *,
    n_splits: int,
    seed: int,
    max_iter: int,
    n_threads: int | None,
) -> float:
    if n_threads is None:
        return _cv_auc(reference, current, n_splits=n_splits, seed=seed, max_iter=max_iter)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n_threads, user_api="openmp"):
        return _cv_auc(reference, current, n_splits=n_splits, seed=seed, max_iter=max_iter)


def _cv_auc(
    reference: FloatArray, current: FloatArray, *, n_splits: int, seed: int, max_iter: int
) -> float:
    """Out-of-fold ROC AUC of reference (0) vs current (1) rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    x = np.vstack([reference, current])
    y = np.concatenate([np.zeros(reference.shape[0]), np.ones(current.shape[0])])
    scores = np.empty(x.shape[0])
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for train, test in folds.split(x, y):
        clf = HistGradientBoostingClassifier(
            max_iter=max_iter, early_stopping=False, random_state=seed
        )
        clf.fit(x[train], y[train])
        scores[test] = clf.predict_proba(x[test])[:, 1]
    return float(roc_auc_score(y, scores))


def _feature_names(
    given: Sequence[str] | None, stored: tuple[str, ...] | None, n_features: int
) -> list[str]:
    if given is not None:
        names = [str(n) for n in given]
        if isinstance(given, str) or len(names) != n_features:
            raise InvalidParameterError(
                f"The 'feature_names' parameter must hold {n_features} names, one per matrix "
                f"column. Got {given!r} instead."
            )
        return names
    if stored is not None:
        return list(stored)
    return [f"x{j}" for j in range(n_features)]


def _top_mean_differences(
    reference: FloatArray, current: FloatArray, names: list[str]
) -> list[dict[str, Any]]:
    diff = current.mean(axis=0) - reference.mean(axis=0)
    pooled = np.sqrt((reference.var(axis=0) + current.var(axis=0)) / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        smd = np.where(pooled > 0, diff / np.where(pooled > 0, pooled, 1.0), np.sign(diff) * np.inf)
    order = np.argsort(-np.abs(smd), kind="stable")[:_TOP_FEATURES]
    return [{"feature": names[j], "smd": float(smd[j])} for j in order]


# ---------------------------------------------------------------------- manifold
def manifold(
    model: ManifoldReference,
    x_window: Any,
    *,
    statistic: Literal["energy", "mmd"] = "energy",
    n_permutations: int = 200,
    max_rows: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    min_rows: int = 50,
    bandwidth: float | None = None,
) -> CheckResult:
    """Two-sample permutation test in the reference's Isomap embedding.

    The reference holdout and a seeded subsample of at most ``max_rows`` finite window rows are
    embedded with the Isomap fitted on the other half of the reference; their distance in the
    embedding is tested by permuting the pooled labels.

    Parameters
    ----------
    model
        The fitted :class:`~watchkeeper.baseline._manifold.ManifoldReference`.
    x_window
        The window, encoded like the reference.
    statistic
        ``"energy"``: energy distance; ``"mmd"``: squared maximum mean discrepancy with an RBF
        kernel.
    n_permutations
        Label permutations of the null distribution.
    max_rows
        At most this many window rows (memory and time grow with the pooled size squared).
    seed
        Seed of the window subsample and of the permutations.
    alpha
        Alert when the permutation p-value is below it.
    min_rows
        Fewer usable window rows than this gives ``skipped``.
    bandwidth
        RBF bandwidth ``σ`` of the MMD kernel ``exp(−‖a−b‖² / (2σ²))``; None uses the median
        pairwise distance of the pooled points (of 3000 seeded ones when more), the same
        convention as :func:`watchkeeper.stats.kernel.mmd`.

    Returns
    -------
    CheckResult
        ``value`` the statistic, ``p_value`` the permutation p-value, ``threshold`` alpha.

    Notes
    -----
    Both statistics are V-statistics (averages over all pairs, self-pairs included):

    .. math:: E = 2\\,\\overline{\\|X-Y\\|} - \\overline{\\|X-X'\\|} - \\overline{\\|Y-Y'\\|}
    .. math:: MMD^2 = \\overline{k(X,X')} + \\overline{k(Y,Y')} - 2\\,\\overline{k(X,Y)}

    In one dimension ``E`` equals ``scipy.stats.energy_distance(x, y) ** 2``. The p-value is
    ``(b + 1) / (B + 1)``, ``b`` counting permuted statistics at least the observed one.

    References
    ----------
    Székely & Rizzo (2013), "Energy statistics: A class of statistics based on distances".
    Gretton et al. (2012), "A kernel two-sample test", JMLR 13.
    """
    if statistic not in ("energy", "mmd"):
        raise UnknownMethodError(
            f"The 'statistic' parameter of drift.manifold must be 'energy' or 'mmd'. "
            f"Got {statistic!r} instead."
        )
    n_permutations = _int("n_permutations", n_permutations, minimum=1)
    max_rows = _int("max_rows", max_rows, minimum=2)
    seed = _int("seed", seed, minimum=0)
    alpha = _real("alpha", alpha, low=0.0, high=1.0)
    min_rows = _int("min_rows", min_rows, minimum=2)
    if bandwidth is not None:
        bandwidth = _real("bandwidth", bandwidth, low=0.0)

    model._check_fitted()
    arr = as_matrix(x_window, name="The window", n_features=model.n_features_in_)
    rng = np.random.default_rng(seed)
    current, n_finite = sample_finite_rows(arr, max_rows=max_rows, rng=rng)
    n0 = int(model.holdout_rows_.shape[0])
    details: dict[str, Any] = {
        "statistic": statistic,
        "n_permutations": n_permutations,
        "n_components": model.n_components,
        "n_neighbors": model.n_neighbors,
        "alpha": alpha,
        "n_nonfinite_rows": int(arr.shape[0] - n_finite),
    }
    n1 = int(current.shape[0])
    if n1 < min_rows:
        return _skipped(MANIFOLD_CHECK, n=n1, n_reference=n0, minimum=min_rows, details=details)

    emb_ref = model.holdout_embedding()
    emb_cur = model.embed(current)
    value, p_value, used_bw = permutation_two_sample(
        emb_ref,
        emb_cur,
        statistic=statistic,
        n_permutations=n_permutations,
        rng=rng,
        bandwidth=bandwidth,
    )
    if statistic == "mmd":
        details["bandwidth"] = used_bw
    alert = p_value < alpha
    name = "energy distance" if statistic == "energy" else "MMD²"
    reason = (
        f"In the reference's Isomap embedding the {name} {value:.4g} has permutation p-value "
        f"{p_value:.4g} {'<' if alert else '>='} alpha={alpha:g}."
    )
    return CheckResult(
        check=MANIFOLD_CHECK,
        column=None,
        value=value,
        p_value=p_value,
        threshold=alpha,
        status="alert" if alert else "ok",
        reason=reason,
        n=n1,
        n_reference=n0,
        details=details,
    )
