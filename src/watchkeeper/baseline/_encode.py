"""Encode a frame as one float matrix for the multivariate checks: :class:`FrameEncoder`.

Multivariate methods (PCA reconstruction, the domain classifier, the manifold test) need every
row as a point in one numeric space. :class:`FrameEncoder` learns, on the reference, how to put
each column there, and applies exactly that mapping to every later window:

* numeric column: ``(x - mean) / std`` with the reference mean and standard deviation (over the
  finite reference values, ``ddof=0``; a zero or undefined std becomes 1); missing values and
  ±inf become 0 *after* standardising, i.e. the reference mean;
* categorical column: frequency encoding, each category becomes the share of reference rows that
  hold it (a category the reference never saw, and a missing value, become 0), and that number
  is then standardised with the mean and std of the encoded reference column.

An unseen category therefore lands where the reference's rarest values are (frequency 0), so a
window full of new categories moves away from the reference instead of hiding at its mean.

The module also holds the matrix validation shared by the multivariate reference models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from watchkeeper.errors import (
    EmptyInputError,
    InvalidInputError,
    InvalidParameterError,
    NotFittedError,
    SerializationError,
)

if TYPE_CHECKING:
    from watchkeeper._frame import CategoricalColumn, Columns

__all__ = ["FrameEncoder"]

FloatArray = npt.NDArray[np.float64]

_NUMERIC = "numeric"
_CATEGORICAL = "categorical"
_STATE_KIND = "FrameEncoder"
_STATE_VERSION = 1


class FrameEncoder:
    """Turn :class:`~watchkeeper._frame.Columns` into a standardised ``float64`` matrix.

    Build one with :meth:`fit` (a classmethod); :meth:`transform` then encodes any window with
    the reference's statistics. Feature order is the order of ``features`` given to ``fit``.

    Attributes
    ----------
    features_
        The encoded columns, in matrix column order.
    kinds_
        ``"numeric"`` or ``"categorical"`` for each feature.
    mean_, scale_
        Per-feature centre and scale applied after frequency encoding (``scale_`` > 0).
    categories_
        For each categorical feature, its reference categories (strings).
    frequencies_
        For each categorical feature, the share of reference rows holding each category.

    Examples
    --------
    >>> import numpy as np
    >>> from watchkeeper._frame import CategoricalColumn, Columns
    >>> ref = Columns(
    ...     n_rows=4,
    ...     numeric={"x": np.array([1.0, 2.0, 3.0, 4.0])},
    ...     categorical={"c": CategoricalColumn(np.array([0, 0, 1, -1], np.int32), ("a", "b"))},
    ...     order=["x", "c"],
    ... )
    >>> enc = FrameEncoder.fit(ref, features=["x", "c"])
    >>> enc.transform(ref).round(3).tolist()
    [[-1.342, 0.905], [-0.447, 0.905], [0.447, -0.302], [1.342, -1.508]]
    """

    features_: tuple[str, ...]
    kinds_: tuple[str, ...]
    mean_: FloatArray
    scale_: FloatArray
    categories_: dict[str, tuple[str, ...]]
    frequencies_: dict[str, FloatArray]

    def __init__(self) -> None:
        self._fitted = False

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(cls, columns: Columns, *, features: Sequence[str]) -> FrameEncoder:
        """Learn the encoding of ``features`` from the reference ``columns``.

        Parameters
        ----------
        columns
            The reference, normalised.
        features
            Names of the columns to encode, in the order of the matrix columns.

        Returns
        -------
        FrameEncoder
            A fitted encoder.

        Raises
        ------
        InvalidParameterError
            If ``features`` is empty or names a column twice.
        InvalidInputError
            If a feature is not in ``columns``.
        EmptyInputError
            If the reference has no rows.
        """
        if isinstance(features, str):
            raise InvalidParameterError(
                "The 'features' parameter of FrameEncoder.fit must be a sequence of column "
                f"names, not a single string. Got {features!r} instead; pass [{features!r}]."
            )
        names = tuple(str(f) for f in features)
        if not names:
            raise InvalidParameterError(
                "The 'features' parameter of FrameEncoder.fit must name at least one column. "
                "Got an empty sequence instead."
            )
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise InvalidParameterError(
                "The 'features' parameter of FrameEncoder.fit must not repeat a column. "
                f"Got duplicates {dupes} instead."
            )
        _require_columns(columns, names, what="reference")
        if columns.n_rows == 0:
            raise EmptyInputError("FrameEncoder.fit needs a reference with at least one row.")

        self = cls()
        kinds: list[str] = []
        means = np.zeros(len(names))
        scales = np.ones(len(names))
        self.categories_ = {}
        self.frequencies_ = {}
        for j, name in enumerate(names):
            if name in columns.numeric:
                kinds.append(_NUMERIC)
                values = np.asarray(columns.numeric[name], dtype=np.float64)
                finite = values[np.isfinite(values)]
            else:
                kinds.append(_CATEGORICAL)
                col = columns.categorical[name]
                freq = col.counts() / float(columns.n_rows)
                self.categories_[name] = tuple(col.categories)
                self.frequencies_[name] = freq.astype(np.float64)
                finite = _frequency_lookup(freq)[col.codes]
            means[j], scales[j] = _mean_scale(finite)
        self.features_ = names
        self.kinds_ = tuple(kinds)
        self.mean_ = means
        self.scale_ = scales
        self._fitted = True
        return self

    # ---------------------------------------------------------------- transform
    def transform(self, columns: Columns) -> FloatArray:
        """Encode ``columns`` as a ``(n_rows, n_features)`` ``float64`` matrix.

        Parameters
        ----------
        columns
            A window (or the reference), normalised.

        Returns
        -------
        ndarray
            The encoded rows; every entry is finite.

        Raises
        ------
        NotFittedError
            If the encoder was not fitted.
        InvalidInputError
            If ``columns`` lacks a feature or holds it with the other kind.
        """
        self._check_fitted()
        _require_columns(columns, self.features_, what="window")
        # Column-major, so that each feature is written contiguously.
        out = np.empty((columns.n_rows, len(self.features_)), dtype=np.float64, order="F")
        for j, (name, kind) in enumerate(zip(self.features_, self.kinds_, strict=True)):
            if kind == _NUMERIC:
                if name not in columns.numeric:
                    raise _kind_error(name, expected=_NUMERIC)
                raw = np.asarray(columns.numeric[name], dtype=np.float64)
            else:
                if name not in columns.categorical:
                    raise _kind_error(name, expected=_CATEGORICAL)
                raw = self._encode_categorical(name, columns.categorical[name])
            _check_length(name, raw.shape[0], columns.n_rows)
            col = out[:, j]
            np.subtract(raw, self.mean_[j], out=col)
            col /= self.scale_[j]
            col[~np.isfinite(col)] = 0.0
        return out

    def _encode_categorical(self, name: str, col: CategoricalColumn) -> FloatArray:
        """Reference frequency of each row's category: one lookup per distinct category."""
        ref_index = {c: i for i, c in enumerate(self.categories_[name])}
        ref_freq = self.frequencies_[name]
        lookup = np.zeros(len(col.categories) + 1, dtype=np.float64)  # last slot: code -1
        for code, category in enumerate(col.categories):
            i = ref_index.get(category)
            if i is not None:
                lookup[code] = ref_freq[i]
        return lookup[col.codes]

    @property
    def n_features_(self) -> int:
        """Number of encoded features (matrix columns)."""
        self._check_fitted()
        return len(self.features_)

    def _check_fitted(self) -> None:
        if not self._fitted:
            raise NotFittedError(
                "This FrameEncoder is not fitted yet. Build it with FrameEncoder.fit(columns, "
                "features=...) or FrameEncoder.from_state(meta, arrays)."
            )

    # ------------------------------------------------------------ serialisation
    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Return ``(meta, arrays)``: JSON-safe metadata and named numpy arrays.

        :meth:`from_state` rebuilds an identical encoder from them; no pickle involved.
        """
        self._check_fitted()
        cat_names = [n for n, k in zip(self.features_, self.kinds_, strict=True) if k != _NUMERIC]
        meta: dict[str, Any] = {
            "kind": _STATE_KIND,
            "version": _STATE_VERSION,
            "features": list(self.features_),
            "kinds": list(self.kinds_),
            "categories": {n: list(self.categories_[n]) for n in cat_names},
        }
        freqs = [self.frequencies_[n] for n in cat_names]
        arrays: dict[str, np.ndarray] = {
            "mean": self.mean_.copy(),
            "scale": self.scale_.copy(),
            "frequencies": np.concatenate(freqs) if freqs else np.zeros(0),
        }
        return meta, arrays

    @classmethod
    def from_state(cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> FrameEncoder:
        """Rebuild an encoder from :meth:`to_state` output.

        Raises
        ------
        SerializationError
            If the state is not a FrameEncoder state or is inconsistent.
        """
        _check_state_kind(meta, _STATE_KIND, _STATE_VERSION)
        try:
            features = tuple(str(f) for f in meta["features"])
            kinds = tuple(str(k) for k in meta["kinds"])
            categories = {str(n): tuple(str(c) for c in v) for n, v in meta["categories"].items()}
            mean = np.asarray(arrays["mean"], dtype=np.float64)
            scale = np.asarray(arrays["scale"], dtype=np.float64)
            flat = np.asarray(arrays["frequencies"], dtype=np.float64)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise SerializationError(f"A FrameEncoder state is incomplete: {exc!r}.") from exc
        if not (len(features) == len(kinds) == mean.shape[0] == scale.shape[0]):
            raise SerializationError(
                "A FrameEncoder state is inconsistent: features, kinds, mean and scale differ "
                "in length."
            )
        self = cls()
        self.categories_ = {}
        self.frequencies_ = {}
        offset = 0
        for name, kind in zip(features, kinds, strict=True):
            if kind == _NUMERIC:
                continue
            if kind != _CATEGORICAL or name not in categories:
                raise SerializationError(
                    f"A FrameEncoder state has no categories for feature {name!r} (kind {kind!r})."
                )
            cats = categories[name]
            self.categories_[name] = cats
            self.frequencies_[name] = flat[offset : offset + len(cats)].copy()
            offset += len(cats)
        if offset != flat.shape[0]:
            raise SerializationError(
                "A FrameEncoder state is inconsistent: the stored frequencies do not match the "
                "stored categories."
            )
        self.features_ = features
        self.kinds_ = kinds
        self.mean_ = mean.copy()
        self.scale_ = scale.copy()
        self._fitted = True
        return self

    def __repr__(self) -> str:
        if not self._fitted:
            return "FrameEncoder(<not fitted>)"
        return f"FrameEncoder(n_features={len(self.features_)})"


# ---------------------------------------------------------------------- helpers
def _mean_scale(values: FloatArray) -> tuple[float, float]:
    """Mean and population std of ``values`` (already finite); std 0 or undefined -> 1."""
    if values.shape[0] == 0:
        return 0.0, 1.0
    mean = float(values.mean())
    std = float(values.std())
    if not np.isfinite(std) or std <= 0.0:
        std = 1.0
    return mean, std


def _frequency_lookup(freq: FloatArray) -> FloatArray:
    """Frequencies with a trailing 0 so that code -1 (missing) indexes 0."""
    return np.concatenate([np.asarray(freq, dtype=np.float64), np.zeros(1)])


def _require_columns(columns: Columns, names: Sequence[str], *, what: str) -> None:
    missing = [n for n in names if n not in columns]
    if missing:
        raise InvalidInputError(
            f"The {what} lacks {len(missing)} column(s) the multivariate encoding needs: "
            f"{missing}. Provide every feature the baseline was fitted on."
        )


def _kind_error(name: str, *, expected: str) -> InvalidInputError:
    other = _CATEGORICAL if expected == _NUMERIC else _NUMERIC
    return InvalidInputError(
        f"Column {name!r} was {expected} in the reference but is {other} in the window. "
        "Cast it to the reference's type or declare its kind in the schema."
    )


def _check_length(name: str, got: int, expected: int) -> None:
    if got != expected:
        raise InvalidInputError(
            f"Column {name!r} has {got} rows but the frame has {expected}. "
            "Every column must have the same length."
        )


def _check_state_kind(meta: Mapping[str, Any], kind: str, version: int) -> None:
    """Raise SerializationError unless ``meta`` is a state of ``kind`` at ``version``."""
    got_kind = meta.get("kind") if isinstance(meta, Mapping) else None
    if got_kind != kind:
        raise SerializationError(f"Expected a {kind} state. Got kind {got_kind!r} instead.")
    got_version = meta.get("version")
    if got_version != version:
        raise SerializationError(
            f"This watchkeeper reads {kind} state version {version}. Got version "
            f"{got_version!r}; refit the baseline with this version."
        )


def as_matrix(x: Any, *, name: str, n_features: int | None = None) -> FloatArray:
    """Validate ``x`` as a 2-D ``float64`` matrix (rows may hold NaN/inf; callers drop them).

    Raises
    ------
    InvalidInputError
        If ``x`` is not 2-D, or has ``n_features`` != the expected number of columns.
    """
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be a numeric 2-D array. Got {type(x)!r}.") from exc
    if arr.ndim != 2:
        raise InvalidInputError(
            f"{name} must be a 2-D array (rows, features). Got an array with shape {arr.shape}."
        )
    if n_features is not None and arr.shape[1] != n_features:
        raise InvalidInputError(
            f"{name} has {arr.shape[1]} feature column(s) but the reference model was fitted on "
            f"{n_features}. Encode the window with the baseline's FrameEncoder."
        )
    return arr


def finite_rows(x: FloatArray) -> FloatArray:
    """Return the rows of ``x`` whose every entry is finite (``x`` itself when all are)."""
    mask = np.isfinite(x).all(axis=1)
    if bool(mask.all()):
        return x
    return x[mask]


def sample_finite_rows(
    x: FloatArray, *, max_rows: int, rng: np.random.Generator
) -> tuple[FloatArray, int]:
    """A seeded subsample of at most ``max_rows`` finite rows, in their original order.

    Returns ``(rows, n_finite)``: the sampled rows (a copy) and how many finite rows there were.
    """
    mask = np.isfinite(x).all(axis=1)
    all_finite = bool(mask.all())
    n_finite = x.shape[0] if all_finite else int(np.count_nonzero(mask))
    if n_finite <= max_rows:
        return (x.copy() if all_finite else x[mask]), n_finite
    pos = np.sort(rng.choice(n_finite, size=max_rows, replace=False))
    if not all_finite:
        pos = np.flatnonzero(mask)[pos]
    return x[pos], n_finite
