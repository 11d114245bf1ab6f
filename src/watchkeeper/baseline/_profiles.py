"""Per-column reference profiles: everything a later comparison needs, computed once.

A numeric profile keeps the sorted finite reference values (for exact KS and Wasserstein from
sorted arrays), moments, quantiles and the reference-based bin edges and counts (for PSI, KL,
Jensen-Shannon and Hellinger). A categorical profile keeps the category table. The current
window goes through the same preparation (:func:`prepare_numeric`, :func:`prepare_categorical`),
so every check works on arrays that are already sorted or counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from watchkeeper._frame import CategoricalColumn

__all__ = [
    "QUANTILES",
    "CategoricalProfile",
    "NumericProfile",
    "PreparedCategorical",
    "PreparedNumeric",
    "fit_categorical",
    "fit_numeric",
    "prepare_categorical",
    "prepare_numeric",
    "top_count",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

QUANTILES: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


@dataclass(frozen=True, slots=True, eq=False)
class PreparedNumeric:
    """A numeric column ready for checks: sorted finite values and what was dropped."""

    sorted: FloatArray
    n: int
    n_missing: int
    n_inf: int

    @property
    def n_valid(self) -> int:
        """Number of finite values."""
        return int(self.sorted.shape[0])


def prepare_numeric(values: FloatArray) -> PreparedNumeric:
    """Drop NaN and ±inf (counting them) and sort what is left."""
    finite = np.isfinite(values)
    n_valid = int(np.count_nonzero(finite))
    n_missing = int(np.count_nonzero(np.isnan(values))) if n_valid < values.shape[0] else 0
    kept = values if n_valid == values.shape[0] else values[finite]
    return PreparedNumeric(
        sorted=np.sort(kept),
        n=int(values.shape[0]),
        n_missing=n_missing,
        n_inf=int(values.shape[0]) - n_valid - n_missing,
    )


def top_count(sorted_values: FloatArray) -> tuple[float, int]:
    """The most frequent value of a sorted array and how often it occurs (one O(n) pass)."""
    n = sorted_values.shape[0]
    if n == 0:
        return float("nan"), 0
    starts = np.flatnonzero(np.concatenate(([True], sorted_values[1:] != sorted_values[:-1])))
    lengths = np.diff(np.append(starts, n))
    best = int(np.argmax(lengths))
    return float(sorted_values[starts[best]]), int(lengths[best])


@dataclass(frozen=True, slots=True, eq=False)
class NumericProfile:
    """The fitted reference of one numeric column."""

    name: str
    discrete: bool
    sorted: FloatArray
    n: int
    n_missing: int
    n_inf: int
    mean: float
    std: float
    var_ddof1: float
    quantiles: tuple[float, ...]
    edges: FloatArray
    bin_counts: IntArray
    top_share: float = float("nan")

    @property
    def n_valid(self) -> int:
        """Number of finite reference values."""
        return int(self.sorted.shape[0])

    @property
    def scale(self) -> float:
        """The reference standard deviation, or 1.0 for a constant (or empty) column."""
        return self.std if self.std > 0 else 1.0

    def meta(self) -> dict[str, Any]:
        """JSON-safe scalars (arrays are stored separately)."""
        return {
            "name": self.name,
            "discrete": self.discrete,
            "n": self.n,
            "n_missing": self.n_missing,
            "n_inf": self.n_inf,
            "mean": self.mean,
            "std": self.std,
            "var_ddof1": self.var_ddof1,
            "quantiles": list(self.quantiles),
            "top_share": self.top_share,
        }


def fit_numeric(
    name: str, values: FloatArray, *, discrete: bool, bins: int, binning: str
) -> NumericProfile:
    """Profile one numeric reference column."""
    from watchkeeper.stats import bin_counts, bin_edges
    from watchkeeper.stats.binning import quantiles_sorted

    prep = prepare_numeric(values)
    s = prep.sorted
    n_valid = prep.n_valid
    if n_valid:
        mean = float(np.mean(s))
        std = float(np.std(s))
        var1 = float(np.var(s, ddof=1)) if n_valid > 1 else 0.0
        qs = tuple(float(q) for q in quantiles_sorted(s, np.asarray(QUANTILES)))
        edges = np.asarray(bin_edges(s, bins=bins, binning=binning, presorted=True), np.float64)
        counts = np.asarray(bin_counts(s, edges, presorted=True), dtype=np.int64)
    else:
        mean = std = var1 = float("nan")
        qs = tuple(float("nan") for _ in QUANTILES)
        edges = np.empty(0, dtype=np.float64)
        counts = np.zeros(1, dtype=np.int64)
    return NumericProfile(
        name=name,
        discrete=discrete,
        sorted=s,
        n=prep.n,
        n_missing=prep.n_missing,
        n_inf=prep.n_inf,
        mean=mean,
        std=std,
        var_ddof1=var1,
        quantiles=qs,
        edges=edges,
        bin_counts=counts,
        top_share=top_count(s)[1] / n_valid if n_valid else float("nan"),
    )


@dataclass(frozen=True, slots=True, eq=False)
class PreparedCategorical:
    """A categorical window aligned with a reference profile.

    ``counts`` has one entry per reference category; ``unseen`` maps each category the
    reference never saw to its count in the window.
    """

    counts: IntArray
    unseen: dict[str, int]
    n: int
    n_missing: int

    @property
    def n_valid(self) -> int:
        """Number of non-missing values."""
        return int(self.counts.sum()) + sum(self.unseen.values())

    @property
    def n_unseen(self) -> int:
        """Number of rows whose category the reference never saw."""
        return sum(self.unseen.values())


@dataclass(frozen=True, slots=True, eq=False)
class CategoricalProfile:
    """The fitted reference of one categorical (or boolean) column."""

    name: str
    categories: tuple[str, ...]
    counts: IntArray
    n: int
    n_missing: int

    @property
    def n_valid(self) -> int:
        """Number of non-missing reference values."""
        return int(self.counts.sum())

    def index(self) -> dict[str, int]:
        """Category -> position in :attr:`categories`."""
        return {c: i for i, c in enumerate(self.categories)}

    def meta(self) -> dict[str, Any]:
        """JSON-safe scalars and the category list (counts are stored as an array)."""
        return {
            "name": self.name,
            "categories": list(self.categories),
            "n": self.n,
            "n_missing": self.n_missing,
        }


def fit_categorical(name: str, column: CategoricalColumn) -> CategoricalProfile:
    """Profile one categorical reference column (categories sorted by label).

    Only categories that occur are kept: a level a pandas ``category`` dtype declares but no
    reference row holds was never seen, and counts as unseen if a window holds it.
    """
    counts = column.counts()
    order = sorted(
        (i for i in range(len(column.categories)) if counts[i] > 0),
        key=column.categories.__getitem__,
    )
    cats = tuple(column.categories[i] for i in order)
    return CategoricalProfile(
        name=name,
        categories=cats,
        counts=counts[np.asarray(order, dtype=np.int64)],
        n=len(column),
        n_missing=column.n_missing,
    )


def prepare_categorical(
    profile: CategoricalProfile, column: CategoricalColumn
) -> PreparedCategorical:
    """Count the window's categories and align them with the reference's."""
    raw = column.counts()
    index = profile.index()
    counts = np.zeros(len(profile.categories), dtype=np.int64)
    unseen: dict[str, int] = {}
    for code, label in enumerate(column.categories):
        c = int(raw[code])
        if c == 0:
            continue
        pos = index.get(label)
        if pos is None:
            unseen[label] = unseen.get(label, 0) + c
        else:
            counts[pos] += c
    return PreparedCategorical(
        counts=counts, unseen=unseen, n=len(column), n_missing=column.n_missing
    )
