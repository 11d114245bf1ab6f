"""Row-level facts of a frame: row hashes, duplicate rows and what the reference expects of them.

A row's hash combines every checked column (float bits with NaN and -0.0 normalised,
categorical labels by code within the frame) into one ``uint64`` with a SplitMix64 finaliser;
two rows are duplicates when their hashes are equal (a collision among a million rows has a
probability of about 3e-8).

Expected duplicates: rows that repeat in the reference are *atoms* with probabilities
``p_i = c_i / N``; rows that occur once are treated as drawn from a continuum (a new window
does not repeat them). A window of ``n`` rows drawn from the reference then holds on average
``sum_i (n p_i - 1 + (1 - p_i)^n)`` duplicate rows (rows beyond the first of their value).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from collections.abc import Sequence

    from watchkeeper._frame import Columns

__all__ = ["DatasetReference", "duplicate_count", "duplicate_mask", "row_hashes"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's finaliser, in place on a fresh array."""
    x ^= x >> np.uint64(30)
    x *= _M1
    x ^= x >> np.uint64(27)
    x *= _M2
    x ^= x >> np.uint64(31)
    return x


_BLOCK = 65_536  # rows hashed at a time: every pass over a block stays in the CPU cache


def row_hashes(cols: Columns, names: Sequence[str]) -> npt.NDArray[np.uint64]:
    """One 64-bit hash per row over the named columns (equal rows hash equal)."""
    out = np.empty(cols.n_rows, dtype=np.uint64)
    for start in range(0, cols.n_rows, _BLOCK):
        rows = slice(start, min(start + _BLOCK, cols.n_rows))
        h = np.zeros(rows.stop - rows.start, dtype=np.uint64)
        for i, name in enumerate(names):
            if name in cols.numeric:
                v = cols.numeric[name][rows] + 0.0  # a copy, with -0.0 folded into 0.0
                v[np.isnan(v)] = np.nan  # one NaN bit pattern
                bits = v.view(np.uint64)
            else:
                # Codes shifted so that missing (-1) is 0; labels are per frame, which is all
                # duplicate detection within one frame needs.
                codes = cols.categorical[name].codes[rows]
                bits = (codes.astype(np.int64) + 1).astype(np.uint64)
            h = _mix(h * _GOLDEN + _mix(bits + np.uint64(i + 1)))
        out[rows] = h
    return out


def duplicate_count(hashes: npt.NDArray[np.uint64]) -> int:
    """How many rows repeat an earlier row (a sort, no index bookkeeping)."""
    s = np.sort(hashes)
    return int(np.count_nonzero(s[1:] == s[:-1]))


def duplicate_mask(hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
    """True for each row that repeats an earlier row (the first occurrence stays False)."""
    order = np.argsort(hashes, kind="stable")
    sorted_h = hashes[order]
    repeat = np.zeros(hashes.shape[0], dtype=np.bool_)
    repeat[1:] = sorted_h[1:] == sorted_h[:-1]
    out = np.zeros(hashes.shape[0], dtype=np.bool_)
    out[order] = repeat
    return out


@dataclass(frozen=True, slots=True, eq=False)
class DatasetReference:
    """What the reference says about whole rows and columns.

    ``columns`` are the columns hashed for duplicates; ``atom_counts`` how often each row value
    that repeats in the reference occurs; ``dtypes`` each column's dtype family in the
    reference (``numeric``, ``boolean``, ``string``, ``datetime``, ``other``).
    """

    columns: tuple[str, ...]
    n_rows: int
    atom_counts: npt.NDArray[np.int64]
    dtypes: dict[str, str]

    @classmethod
    def fit(cls, cols: Columns, names: Sequence[str]) -> DatasetReference:
        """Hash the reference rows over ``names`` and keep the repeated values' counts."""
        hashes = row_hashes(cols, names)
        _, counts = np.unique(hashes, return_counts=True)
        return cls(
            columns=tuple(names),
            n_rows=cols.n_rows,
            atom_counts=counts[counts > 1].astype(np.int64),
            dtypes={n: cols.dtypes.get(n, "other") for n in names},
        )

    @property
    def duplicate_share(self) -> float:
        """The reference's own share of rows that repeat an earlier row."""
        extra = int(self.atom_counts.sum()) - int(self.atom_counts.shape[0])
        return extra / self.n_rows if self.n_rows else 0.0

    def expected_duplicates(self, n: int) -> float:
        """Expected duplicate rows in a window of ``n`` rows drawn from the reference."""
        if self.n_rows == 0 or self.atom_counts.shape[0] == 0 or n < 2:
            return 0.0
        p = self.atom_counts / self.n_rows
        return float(np.sum(n * p - 1.0 + np.exp(n * np.log1p(-np.minimum(p, 1 - 1e-16)))))

    def to_state(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        """JSON-safe metadata and arrays (see ``baseline._store``)."""
        meta = {"columns": list(self.columns), "n_rows": self.n_rows, "dtypes": self.dtypes}
        return meta, {"atom_counts": self.atom_counts}

    @classmethod
    def from_state(
        cls, meta: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]
    ) -> DatasetReference:
        """Rebuild from :meth:`to_state` output."""
        return cls(
            columns=tuple(meta["columns"]),
            n_rows=int(meta["n_rows"]),
            atom_counts=np.asarray(arrays["atom_counts"], dtype=np.int64),
            dtypes={str(k): str(v) for k, v in meta["dtypes"].items()},
        )
