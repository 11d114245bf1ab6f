"""Reference samples for the sample-based multivariate checks (opt-in).

* :class:`ManifoldReference`, behind ``drift.manifold``: an Isomap embedding fitted on half of a
  seeded reference subsample, and the other half kept as the holdout the window is compared to
  in the embedding space;
* :class:`DomainClassifierReference`, behind ``drift.domain_classifier``: a seeded reference
  subsample that a classifier later tries to tell apart from the window.

Both store raw (encoded) rows only, so their state is a few arrays; the Isomap is refitted,
deterministically, on first use after :meth:`ManifoldReference.from_state`.

:func:`permutation_two_sample` is the blocked energy-distance / MMD² permutation test the
manifold check runs in the embedding space.
"""

from __future__ import annotations

from numbers import Integral
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from watchkeeper.baseline._encode import _check_state_kind, as_matrix, sample_finite_rows
from watchkeeper.errors import (
    InvalidInputError,
    InvalidParameterError,
    NotFittedError,
    SerializationError,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from sklearn.manifold import Isomap

__all__ = ["DomainClassifierReference", "ManifoldReference", "permutation_two_sample"]

FloatArray = npt.NDArray[np.float64]

_MANIFOLD_KIND = "ManifoldReference"
_DOMAIN_KIND = "DomainClassifierReference"
_STATE_VERSION = 1
_MAX_MANIFOLD_ROWS = 10_000
"""Isomap keeps an n×n geodesic matrix: past 10k rows it is slow and memory-hungry."""
_BLOCK_ELEMENTS = 1 << 22
"""Pairwise-distance entries held at once by the permutation test (32 MB of float64)."""
_BANDWIDTH_SAMPLE = 3000
"""Pooled points whose pairwise distances give the median-heuristic RBF bandwidth (all of
them up to this many, so the default manifold check uses the exact median)."""


def _int_param(
    owner: str, name: str, value: Any, *, minimum: int, maximum: int | None = None
) -> int:
    bad = isinstance(value, bool) or not isinstance(value, Integral)
    if bad or value < minimum or (maximum is not None and value > maximum):
        span = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise InvalidParameterError(
            f"The '{name}' parameter of {owner} must be an int {span}. Got {value!r} instead."
        )
    return int(value)


class ManifoldReference:
    """Isomap fitted on half a reference subsample; the other half is the holdout.

    Build one with :meth:`fit` (a classmethod).

    Parameters
    ----------
    n_components
        Dimension of the Isomap embedding.
    n_neighbors
        Neighbours of the Isomap graph.
    max_rows
        Reference rows sampled (seeded); half fit the Isomap, half form the holdout.
        At most 10 000.
    seed
        Seed of the subsample.

    Attributes
    ----------
    fit_rows_
        Rows the Isomap is fitted on.
    holdout_rows_
        Rows the window is compared with, in the embedding.
    n_features_in_
        Input features.
    """

    fit_rows_: FloatArray
    holdout_rows_: FloatArray
    n_features_in_: int

    def __init__(
        self, *, n_components: int = 2, n_neighbors: int = 10, max_rows: int = 2000, seed: int = 0
    ) -> None:
        owner = "ManifoldReference"
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.max_rows = max_rows
        self.seed = seed
        _int_param(owner, "n_components", n_components, minimum=1)
        _int_param(owner, "n_neighbors", n_neighbors, minimum=1)
        _int_param(owner, "max_rows", max_rows, minimum=4, maximum=_MAX_MANIFOLD_ROWS)
        _int_param(owner, "seed", seed, minimum=0)
        self._isomap: Isomap | None = None
        self._holdout_embedding: FloatArray | None = None
        self._fitted = False

    @classmethod
    def fit(
        cls,
        x_ref: Any,
        *,
        n_components: int = 2,
        n_neighbors: int = 10,
        max_rows: int = 2000,
        seed: int = 0,
    ) -> ManifoldReference:
        """Sample the reference, fit the Isomap on one half, keep the other half.

        Raises
        ------
        InvalidInputError
            If ``x_ref`` is not 2-D or has too few finite rows for ``n_neighbors``.
        """
        self = cls(n_components=n_components, n_neighbors=n_neighbors, max_rows=max_rows, seed=seed)
        x = as_matrix(x_ref, name="The manifold reference")
        rng = np.random.default_rng(seed)
        rows, _ = sample_finite_rows(x, max_rows=max_rows, rng=rng)
        rows = rows[rng.permutation(rows.shape[0])]
        half = (rows.shape[0] + 1) // 2
        need = max(n_neighbors, n_components) + 1
        if rows.shape[0] - half < need:
            raise InvalidInputError(
                f"The manifold reference has {rows.shape[0]} finite row(s); each half needs "
                f"more than max(n_neighbors, n_components) = {need - 1}. Use a larger reference "
                "or fewer neighbours."
            )
        self.fit_rows_ = np.ascontiguousarray(rows[:half])
        self.holdout_rows_ = np.ascontiguousarray(rows[half:])
        self.n_features_in_ = int(x.shape[1])
        self._fitted = True
        self._get_isomap()
        return self

    def _check_fitted(self) -> None:
        if not self._fitted:
            raise NotFittedError(
                "This ManifoldReference is not fitted yet. Build it with "
                "ManifoldReference.fit(x_ref) or .from_state(meta, arrays)."
            )

    def _get_isomap(self) -> Isomap:
        """The fitted Isomap (fitted now if this model came from a saved state)."""
        self._check_fitted()
        if self._isomap is None:
            from sklearn.manifold import Isomap

            # The dense eigensolver makes the refit after from_state reproducible.
            iso = Isomap(
                n_neighbors=self.n_neighbors,
                n_components=self.n_components,
                eigen_solver="dense",
            )
            iso.fit(self.fit_rows_)
            self._isomap = iso
        return self._isomap

    def embed(self, x: Any) -> FloatArray:
        """Embed rows (all finite) with the reference Isomap."""
        arr = as_matrix(x, name="The window", n_features=self.n_features_in_)
        if not bool(np.isfinite(arr).all()):
            raise InvalidInputError("Rows to embed must be finite; drop NaN/inf rows first.")
        return np.asarray(self._get_isomap().transform(arr), dtype=np.float64)

    def holdout_embedding(self) -> FloatArray:
        """The holdout rows in the embedding space (computed once)."""
        self._check_fitted()
        if self._holdout_embedding is None:
            self._holdout_embedding = self.embed(self.holdout_rows_)
        return self._holdout_embedding

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Return ``(meta, arrays)``: the parameters and the two halves' rows (no pickle)."""
        self._check_fitted()
        meta: dict[str, Any] = {
            "kind": _MANIFOLD_KIND,
            "version": _STATE_VERSION,
            "params": {
                "n_components": int(self.n_components),
                "n_neighbors": int(self.n_neighbors),
                "max_rows": int(self.max_rows),
                "seed": int(self.seed),
            },
            "n_features_in_": self.n_features_in_,
        }
        arrays = {"fit_rows": self.fit_rows_.copy(), "holdout_rows": self.holdout_rows_.copy()}
        return meta, arrays

    @classmethod
    def from_state(
        cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
    ) -> ManifoldReference:
        """Rebuild from :meth:`to_state` output; the Isomap is refitted on first use."""
        _check_state_kind(meta, _MANIFOLD_KIND, _STATE_VERSION)
        try:
            self = cls(**dict(meta["params"]))
            self.n_features_in_ = int(meta["n_features_in_"])
            self.fit_rows_ = np.array(arrays["fit_rows"], dtype=np.float64)
            self.holdout_rows_ = np.array(arrays["holdout_rows"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise SerializationError(
                f"A ManifoldReference state is incomplete or invalid: {exc!r}."
            ) from exc
        for name, arr in (("fit_rows", self.fit_rows_), ("holdout_rows", self.holdout_rows_)):
            if arr.ndim != 2 or arr.shape[1] != self.n_features_in_:
                raise SerializationError(
                    f"A ManifoldReference state is inconsistent: {name} has shape {arr.shape}, "
                    f"expected (rows, {self.n_features_in_})."
                )
        self._fitted = True
        return self

    def __repr__(self) -> str:
        if not self._fitted:
            return "ManifoldReference(<not fitted>)"
        return (
            f"ManifoldReference(n_fit={self.fit_rows_.shape[0]}, "
            f"n_holdout={self.holdout_rows_.shape[0]}, n_components={self.n_components})"
        )


class DomainClassifierReference:
    """A seeded subsample of the encoded reference, for ``drift.domain_classifier``.

    Build one with :meth:`fit` (a classmethod).

    Parameters
    ----------
    max_rows
        Reference rows kept (a seeded subsample of the finite rows).
    seed
        Seed of the subsample.

    Attributes
    ----------
    rows_
        The kept reference rows, in reference order.
    n_features_in_
        Input features.
    feature_names_
        Names of the features (matrix column order), or None.
    """

    rows_: FloatArray
    n_features_in_: int
    feature_names_: tuple[str, ...] | None

    def __init__(self, *, max_rows: int = 20_000, seed: int = 0) -> None:
        self.max_rows = max_rows
        self.seed = seed
        _int_param("DomainClassifierReference", "max_rows", max_rows, minimum=2)
        _int_param("DomainClassifierReference", "seed", seed, minimum=0)
        self._fitted = False

    @classmethod
    def fit(
        cls,
        x_ref: Any,
        *,
        max_rows: int = 20_000,
        seed: int = 0,
        feature_names: Sequence[str] | None = None,
    ) -> DomainClassifierReference:
        """Keep a seeded subsample of at most ``max_rows`` finite rows of ``x_ref``.

        Raises
        ------
        InvalidInputError
            If ``x_ref`` is not 2-D, has no finite row, or ``feature_names`` has the wrong
            length.
        """
        self = cls(max_rows=max_rows, seed=seed)
        x = as_matrix(x_ref, name="The domain-classifier reference")
        rows, _ = sample_finite_rows(x, max_rows=max_rows, rng=np.random.default_rng(seed))
        if rows.shape[0] < 2:
            raise InvalidInputError(
                "The domain-classifier reference needs at least 2 finite rows. "
                f"Got {rows.shape[0]}."
            )
        self.rows_ = np.ascontiguousarray(rows)
        self.n_features_in_ = int(x.shape[1])
        self.feature_names_ = _names(feature_names, self.n_features_in_)
        self._fitted = True
        return self

    def _check_fitted(self) -> None:
        if not self._fitted:
            raise NotFittedError(
                "This DomainClassifierReference is not fitted yet. Build it with "
                "DomainClassifierReference.fit(x_ref) or .from_state(meta, arrays)."
            )

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Return ``(meta, arrays)``: the parameters and the kept rows (no pickle)."""
        self._check_fitted()
        meta: dict[str, Any] = {
            "kind": _DOMAIN_KIND,
            "version": _STATE_VERSION,
            "params": {"max_rows": int(self.max_rows), "seed": int(self.seed)},
            "n_features_in_": self.n_features_in_,
            "feature_names_": None if self.feature_names_ is None else list(self.feature_names_),
        }
        return meta, {"rows": self.rows_.copy()}

    @classmethod
    def from_state(
        cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
    ) -> DomainClassifierReference:
        """Rebuild from :meth:`to_state` output."""
        _check_state_kind(meta, _DOMAIN_KIND, _STATE_VERSION)
        try:
            self = cls(**dict(meta["params"]))
            self.n_features_in_ = int(meta["n_features_in_"])
            self.rows_ = np.array(arrays["rows"], dtype=np.float64)
            self.feature_names_ = _names(meta.get("feature_names_"), self.n_features_in_)
        except (KeyError, TypeError, ValueError) as exc:
            raise SerializationError(
                f"A DomainClassifierReference state is incomplete or invalid: {exc!r}."
            ) from exc
        if self.rows_.ndim != 2 or self.rows_.shape[1] != self.n_features_in_:
            raise SerializationError(
                "A DomainClassifierReference state is inconsistent: rows have shape "
                f"{self.rows_.shape}, expected (rows, {self.n_features_in_})."
            )
        self._fitted = True
        return self

    def __repr__(self) -> str:
        if not self._fitted:
            return "DomainClassifierReference(<not fitted>)"
        return f"DomainClassifierReference(n_rows={self.rows_.shape[0]})"


def _names(names: Sequence[str] | None, n_features: int) -> tuple[str, ...] | None:
    if names is None:
        return None
    if isinstance(names, str):
        raise InvalidInputError("'feature_names' must be a sequence of names, not one string.")
    out = tuple(str(n) for n in names)
    if len(out) != n_features:
        raise InvalidInputError(
            f"'feature_names' has {len(out)} name(s) but the matrix has {n_features} feature "
            "column(s)."
        )
    return out


def _median_bandwidth(z: FloatArray, rng: np.random.Generator) -> float:
    from scipy.spatial.distance import pdist

    if z.shape[0] > _BANDWIDTH_SAMPLE:
        z = z[np.sort(rng.choice(z.shape[0], size=_BANDWIDTH_SAMPLE, replace=False))]
    dist = pdist(z)
    dist = dist[dist > 0]
    return float(np.median(dist)) if dist.size else 1.0


def permutation_two_sample(
    a: FloatArray,
    b: FloatArray,
    *,
    statistic: str,
    n_permutations: int,
    rng: np.random.Generator,
    bandwidth: float | None = None,
) -> tuple[float, float, float | None]:
    """Observed statistic, permutation p-value and the RBF bandwidth used (None for energy).

    Every permutation is scored from one pass over the pooled pairwise matrix ``M`` (distances,
    or RBF kernel values) in row blocks: with ``Y`` the ``(n, B + 1)`` indicator matrix of
    "in sample b" (column 0 the observed split), ``R = M @ Y`` and the row sums ``r`` give each
    split's within- and between-sample sums, so memory is ``O(block·n + n·B)``.
    """
    from scipy.spatial.distance import cdist

    pooled = np.vstack([a, b])
    n, n0, n1 = pooled.shape[0], a.shape[0], b.shape[0]
    labels = np.zeros((n, n_permutations + 1))
    labels[n0:, 0] = 1.0
    for j in range(1, n_permutations + 1):
        labels[rng.permutation(n)[:n1], j] = 1.0

    used_bw: float | None = None
    gamma = 0.0
    if statistic == "mmd":
        used_bw = bandwidth if bandwidth is not None else _median_bandwidth(pooled, rng)
        gamma = 1.0 / (2.0 * used_bw * used_bw)

    r_mat = np.empty_like(labels)
    row_sums = np.empty(n)
    block = max(1, _BLOCK_ELEMENTS // n)
    for start in range(0, n, block):
        m = cdist(pooled[start : start + block], pooled)
        if used_bw is not None:  # RBF kernel exp(-gamma d²), in place
            np.square(m, out=m)
            m *= -gamma
            np.exp(m, out=m)
        r_mat[start : start + block] = m @ labels
        row_sums[start : start + block] = m.sum(axis=1)

    total = float(row_sums.sum())
    s_yy = np.einsum("ij,ij->j", labels, r_mat)
    s_y = row_sums @ labels
    s_xy = s_y - s_yy
    s_xx = total - 2.0 * s_y + s_yy
    if statistic == "energy":
        stats = 2.0 * s_xy / (n0 * n1) - s_xx / n0**2 - s_yy / n1**2
    else:
        stats = s_xx / n0**2 + s_yy / n1**2 - 2.0 * s_xy / (n0 * n1)
    observed = float(stats[0])
    tol = 1e-10 * max(abs(observed), np.finfo(np.float64).tiny)
    exceed = int(np.count_nonzero(stats[1:] >= observed - tol))
    return observed, (exceed + 1) / (n_permutations + 1), used_bw
