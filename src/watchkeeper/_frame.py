"""Columnar input, normalised once: numeric columns as float64 arrays, categoricals as codes.

Every check works on :class:`Columns`, never on a DataFrame, so pandas, pyarrow and polars input
share one code path and the hot loops see plain numpy arrays.

* numeric column: ``float64`` ndarray, missing values as NaN (inf is kept; checks count and
  exclude it);
* categorical column: :class:`CategoricalColumn`, ``codes`` (``int32``, -1 for missing) into
  ``categories`` (their string form, unique).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["CategoricalColumn", "Columns", "TypeErrors"]

FloatArray = npt.NDArray[np.float64]
CodeArray = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True, eq=False)
class CategoricalColumn:
    """A categorical column as integer codes into its categories.

    Parameters
    ----------
    codes
        ``int32`` array, one code per row; -1 marks a missing value.
    categories
        The distinct values (as strings), indexed by code.
    """

    codes: CodeArray
    categories: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def counts(self) -> npt.NDArray[np.int64]:
        """Count of each category (index = code), missing values excluded."""
        valid = self.codes[self.codes >= 0]
        return np.bincount(valid, minlength=len(self.categories)).astype(np.int64)

    @property
    def n_missing(self) -> int:
        """Number of missing rows."""
        return int(np.count_nonzero(self.codes < 0))


@dataclass(frozen=True, slots=True, eq=False)
class TypeErrors:
    """Values of a numeric column that could not be read as numbers (read as missing instead).

    ``rows`` marks them; ``examples`` holds a few of them as text.
    """

    rows: npt.NDArray[np.bool_]
    examples: tuple[str, ...]

    @property
    def count(self) -> int:
        """Number of values that were not numbers."""
        return int(np.count_nonzero(self.rows))


@dataclass(slots=True)
class Columns:
    """A frame normalised for checking: name -> numeric array or categorical column.

    ``order`` keeps the input's column order; ``n_rows`` is the common length. ``dtypes``
    holds each converted column's dtype family in the input (``numeric``, ``boolean``,
    ``string``, ``datetime`` or ``other``); ``type_errors`` the numeric columns that held
    values that are not numbers (only when converted with ``coerce=True``).
    """

    n_rows: int
    numeric: dict[str, FloatArray] = field(default_factory=dict)
    categorical: dict[str, CategoricalColumn] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    dtypes: dict[str, str] = field(default_factory=dict)
    type_errors: dict[str, TypeErrors] = field(default_factory=dict)

    def __contains__(self, name: object) -> bool:
        return name in self.numeric or name in self.categorical

    def take(self, rows: npt.NDArray[np.intp] | slice) -> Columns:
        """The same columns restricted to ``rows`` (a slice gives views, no copy)."""
        numeric = {k: v[rows] for k, v in self.numeric.items()}
        categorical = {
            k: CategoricalColumn(codes=v.codes[rows], categories=v.categories)
            for k, v in self.categorical.items()
        }
        if isinstance(rows, slice):
            n = len(range(*rows.indices(self.n_rows)))
        else:
            n = int(rows.shape[0])
        type_errors = {
            k: TypeErrors(rows=v.rows[rows], examples=v.examples)
            for k, v in self.type_errors.items()
        }
        return Columns(
            n_rows=n,
            numeric=numeric,
            categorical=categorical,
            order=list(self.order),
            dtypes=dict(self.dtypes),
            type_errors={k: v for k, v in type_errors.items() if v.count},
        )
