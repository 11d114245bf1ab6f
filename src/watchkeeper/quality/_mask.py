"""Which rows of a frame fail the data-quality rules: :func:`row_mask`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from watchkeeper.baseline._profiles import NumericProfile
from watchkeeper.errors import UnknownMethodError

if TYPE_CHECKING:
    from collections.abc import Collection

    import pandas as pd

    from watchkeeper.baseline._baseline import Baseline

__all__ = ["ROW_REASONS", "row_mask"]

ROW_REASONS = (
    "missing",
    "non_finite",
    "type_violation",
    "out_of_range",
    "unseen_category",
    "duplicate",
    "outlier",
)
_DEFAULT = ROW_REASONS[:-1]


def row_mask(
    baseline: Baseline,
    data: Any,
    *,
    reasons: Collection[str] = _DEFAULT,
    **quality: Any,
) -> tuple[npt.NDArray[np.bool_], pd.DataFrame]:
    """Flag the rows of ``data`` that fail the baseline's data-quality rules.

    Used to keep bad rows out of retraining. A row fails when any checked column of it is

    * ``missing`` where the reference column never was,
    * ``non_finite`` (±inf),
    * a ``type_violation`` (text in a numeric column),
    * ``out_of_range`` (outside the declared ``bounds``, else the reference's min/max),
    * an ``unseen_category``,
    * a ``duplicate`` of an earlier row (over the columns the baseline hashes),
    * an ``outlier`` beyond the outlier fences: not in the default ``reasons``, since a clean
      long-tailed column has several percent of them.

    Parameters
    ----------
    baseline
        The fitted baseline.
    data
        pandas DataFrame, pyarrow Table, polars DataFrame or mapping of columns.
    reasons
        Which rules make a row fail (default: all but ``outlier``).
    **quality
        :class:`~watchkeeper.quality.QualityOptions` fields (``bounds``, ``outlier_rule``...).

    Returns
    -------
    mask
        Boolean array, True for each failing row.
    reasons
        A pandas DataFrame of booleans aligned with the rows, one column ``"<reason>:<column>"``
        (``"duplicate"`` alone) for each rule and column that flags at least one row.

    Examples
    --------
    >>> import numpy as np
    >>> from watchkeeper import Baseline
    >>> from watchkeeper.datasets import churn
    >>> baseline = Baseline.fit(churn(20_000, seed=1), reference_chunks=0)
    >>> window = churn(100, seed=2)
    >>> window.loc[3, "contract"] = "Lifetime"
    >>> mask, why = row_mask(baseline, window)
    >>> bool(mask[3]), why.loc[3, "unseen_category:contract"]
    (True, np.True_)
    """
    import pandas as pd

    from watchkeeper._convert import column_names, to_columns, to_pandas
    from watchkeeper.quality._options import QualityOptions
    from watchkeeper.quality.checks import fences

    bad = set(reasons) - set(ROW_REASONS)
    if bad:
        raise UnknownMethodError(
            f"Unknown row_mask reason(s) {sorted(bad)}; valid reasons are {', '.join(ROW_REASONS)}."
        )
    opts = QualityOptions(**quality)
    available = set(column_names(data, what="current"))
    names = [n for n in baseline.column_names if n in available]
    cols = to_columns(data, baseline.schema, names, what="current", coerce=True)
    flags: dict[str, npt.NDArray[np.bool_]] = {}
    for name in names:
        prof = baseline.profile(name)
        if isinstance(prof, NumericProfile):
            values = cols.numeric[name]
            nan = np.isnan(values)
            typed = cols.type_errors.get(name)
            if typed is not None:
                flags[f"type_violation:{name}"] = typed.rows
                nan = nan & ~typed.rows
            if prof.n_missing == 0:
                flags[f"missing:{name}"] = nan
            flags[f"non_finite:{name}"] = np.isinf(values)
            low, high = opts.bounds.get(name, (None, None))
            if name not in opts.bounds and prof.n_valid:
                low, high = float(prof.sorted[0]), float(prof.sorted[-1])
            outside = np.zeros(cols.n_rows, dtype=np.bool_)
            if low is not None:
                outside |= values < low
            if high is not None:
                outside |= values > high
            flags[f"out_of_range:{name}"] = outside & np.isfinite(values)
            lo_f, hi_f = fences(prof, opts) if prof.n_valid else (0.0, 0.0)
            if lo_f < hi_f:  # fences that collapse to one value flag nothing (as the check)
                flags[f"outlier:{name}"] = (values < lo_f) | (values > hi_f)
        else:
            column = cols.categorical[name]
            if prof.n_missing == 0:
                flags[f"missing:{name}"] = column.codes < 0
            known = set(prof.categories)
            is_new = np.array([c not in known for c in column.categories] + [False])
            flags[f"unseen_category:{name}"] = is_new[column.codes]  # code -1 -> last entry
    ref = baseline.dataset_reference
    if ref is not None and all(c in cols for c in ref.columns):
        from watchkeeper.quality._rows import duplicate_mask, row_hashes

        flags["duplicate"] = duplicate_mask(row_hashes(cols, ref.columns))
    wanted = set(reasons)
    kept = {k: v for k, v in flags.items() if k.split(":", 1)[0] in wanted and v.any()}
    mask = np.zeros(cols.n_rows, dtype=np.bool_)
    for v in kept.values():
        mask |= v
    index = to_pandas(data).index if isinstance(data, pd.DataFrame) else None
    return mask, pd.DataFrame(kept, index=index, columns=list(kept))
