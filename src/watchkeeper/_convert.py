"""Reading user data (pandas, pyarrow, polars, mappings) into :class:`~watchkeeper._frame.Columns`.

This is the one place that knows about dataframe libraries. It converts each column once:
numeric columns to float64 (missing -> NaN), categorical and boolean columns to integer codes
into their distinct values (missing -> -1), with categories compared by their string form.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from watchkeeper._frame import CategoricalColumn, Columns, TypeErrors
from watchkeeper.errors import EmptyInputError, InvalidInputError, SchemaError

if TYPE_CHECKING:
    import pandas as pd

    from watchkeeper.schema import Schema

__all__ = [
    "column_names",
    "datetime_values",
    "is_arrow",
    "is_polars",
    "n_rows_of",
    "take_rows",
    "to_columns",
    "to_pandas",
]


def is_polars(data: Any) -> bool:
    """Whether ``data`` is a polars DataFrame (read through its arrow form)."""
    return type(data).__module__.startswith("polars")


def is_arrow(data: Any) -> bool:
    """Whether ``data`` is a pyarrow Table or RecordBatch."""
    mod = type(data).__module__
    return mod.startswith("pyarrow") and hasattr(data, "column_names")


def to_pandas(data: Any) -> pd.DataFrame:
    """Return ``data`` as a pandas DataFrame (no copy when it already is one).

    Accepts a pandas DataFrame, a pyarrow Table or RecordBatch, a polars DataFrame, or a
    mapping of column name -> array-like.
    """
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        df = data
    elif is_arrow(data):
        df = cast("pd.DataFrame", data.to_pandas())
    elif is_polars(data):
        df = cast("pd.DataFrame", data.to_arrow().to_pandas())
    elif isinstance(data, Mapping):
        df = pd.DataFrame(dict(data))
    else:
        raise InvalidInputError(
            "Expected a pandas DataFrame, pyarrow Table, polars DataFrame or a mapping of "
            f"columns. Got {type(data).__name__} instead."
        )
    if isinstance(df.columns, pd.MultiIndex):
        raise InvalidInputError(
            "The data has hierarchical (MultiIndex) column names; flatten them to strings "
            "first, e.g. df.columns = ['_'.join(map(str, c)) for c in df.columns]."
        )
    if not all(isinstance(c, str) for c in df.columns):
        df = df.rename(columns=str)  # watchkeeper names every column by its string form
    return df


def column_names(data: Any, *, what: str) -> list[str]:
    """The column names of ``data`` as strings, refusing duplicates.

    Raises
    ------
    InvalidInputError
        Two columns share a name (after conversion to strings), or names are hierarchical.
    """
    if is_arrow(data):
        raw = data.column_names
    elif is_polars(data):
        raw = data.columns
    else:
        raw = to_pandas(data).columns
    names = [str(n) for n in raw]
    from collections import Counter

    dupes = sorted(n for n, count in Counter(names).items() if count > 1)
    if dupes:
        raise InvalidInputError(
            f"The {what} data has duplicate column names: {', '.join(map(repr, dupes))}. "
            "Rename them so each column is named once."
        )
    return names


_EXAMPLES = 5


def to_columns(
    data: Any, schema: Schema, names: Sequence[str], *, what: str, coerce: bool = False
) -> Columns:
    """Convert the named columns of ``data`` as ``schema`` says.

    Parameters
    ----------
    data
        The frame.
    schema
        Kinds of the columns (numeric -> float64; categorical/boolean -> codes). Datetime and
        text columns are not converted.
    names
        Which columns to convert; each must be in ``data``.
    what
        "reference" or "current", for error messages.
    coerce
        Read values of a numeric column that are not numbers as missing, and record them in
        ``Columns.type_errors`` (for the data-quality checks), instead of raising.

    Raises
    ------
    EmptyInputError
        The frame has no rows.
    SchemaError
        A numeric column holds values that cannot be read as numbers (without ``coerce``).
    """
    if is_polars(data):
        data = data.to_arrow()
    if is_arrow(data):
        return _arrow_to_columns(data, schema, names, what=what, coerce=coerce)
    df = to_pandas(data)
    if len(df) == 0:
        raise EmptyInputError(f"The {what} data has no rows.")
    out = Columns(n_rows=len(df))
    numeric = [n for n in names if schema[n].kind == "numeric"]
    categorical = [n for n in names if schema[n].is_categorical]
    # Factorizing string columns is the slow part (and releases the GIL): do it in threads.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        codes = pool.map(lambda n: _pandas_categorical(df[n]), categorical)  # type: ignore[arg-type]
        for name in numeric:
            out.numeric[name] = _pandas_numeric(df[name], name, what, out if coerce else None)
        out.categorical.update(zip(categorical, codes, strict=True))
    out.order.extend(n for n in names if n in out)
    out.dtypes.update((n, _pandas_family(df[n].dtype)) for n in out.order)
    return out


def _pandas_family(dtype: Any) -> str:
    import pandas as pd

    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if (
        pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    ):
        return "string"
    return "other"


def _pandas_numeric(
    series: pd.Series[Any], name: str, what: str, coerce_into: Columns | None
) -> np.ndarray[Any, Any]:
    import pandas as pd

    dtype = series.dtype
    if coerce_into is not None and not (
        pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
        or pd.api.types.is_numeric_dtype(dtype)
    ):
        parsed = pd.to_numeric(series, errors="coerce")
        bad = (parsed.isna() & series.notna()).to_numpy()
        if bad.any():
            examples = tuple(str(v) for v in pd.unique(series[bad])[:_EXAMPLES])
            coerce_into.type_errors[name] = TypeErrors(rows=bad, examples=examples)
        return parsed.to_numpy(dtype=np.float64, na_value=np.nan)
    try:
        if pd.api.types.is_bool_dtype(dtype):
            return series.to_numpy(dtype=np.float64, na_value=np.nan)
        if pd.api.types.is_timedelta64_dtype(dtype):
            values = series.to_numpy(dtype="m8[ns]").astype(np.int64).astype(np.float64)
            values[series.isna().to_numpy()] = np.nan
            return values
        if pd.api.types.is_numeric_dtype(dtype):
            return series.to_numpy(dtype=np.float64, na_value=np.nan)
        return pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise SchemaError(
            f"Column {name!r} of the {what} data is numeric in the schema but holds values "
            f"that are not numbers ({exc}); fix the data or make the column categorical."
        ) from exc


def _pandas_categorical(series: pd.Series[Any]) -> CategoricalColumn:
    import pandas as pd

    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy().astype(np.int32)
        uniques: Sequence[Any] = list(series.cat.categories)
    else:
        raw_codes, raw_uniques = pd.factorize(series, use_na_sentinel=True)
        codes = raw_codes.astype(np.int32, copy=False)
        uniques = list(raw_uniques)
    return _dedupe_labels(codes, [_label(u) for u in uniques])


def _label(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _dedupe_labels(codes: np.ndarray[Any, Any], labels: list[str]) -> CategoricalColumn:
    """Merge categories whose string forms coincide (e.g. ``1`` and ``1.0``)."""
    if len(set(labels)) == len(labels):
        return CategoricalColumn(codes=codes, categories=tuple(labels))
    first: dict[str, int] = {}
    remap = np.empty(len(labels), dtype=np.int32)
    for i, lab in enumerate(labels):
        remap[i] = first.setdefault(lab, len(first))
    new_codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1).astype(np.int32)
    return CategoricalColumn(codes=new_codes, categories=tuple(first))


def _arrow_family(type_: Any) -> str:
    import pyarrow as pa

    if pa.types.is_boolean(type_):
        return "boolean"
    if pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_decimal(type_):
        return "numeric"
    if pa.types.is_duration(type_):
        return "numeric"
    if pa.types.is_timestamp(type_) or pa.types.is_date(type_):
        return "datetime"
    if pa.types.is_dictionary(type_):
        return _arrow_family(type_.value_type)
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        return "string"
    return "other"


def _arrow_to_columns(
    table: Any, schema: Schema, names: Sequence[str], *, what: str, coerce: bool
) -> Columns:
    import pyarrow as pa
    import pyarrow.compute as pc

    if table.num_rows == 0:
        raise EmptyInputError(f"The {what} data has no rows.")
    out = Columns(n_rows=int(table.num_rows))
    for name in names:
        spec = schema[name]
        col = table.column(name) if hasattr(table, "column") else table[name]
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        out.dtypes[name] = _arrow_family(col.type)
        if spec.kind == "numeric":
            try:
                as_float = pc.cast(col, pa.float64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                if coerce:
                    import pandas as pd

                    out.numeric[name] = _pandas_numeric(
                        pd.Series(col.to_pylist(), dtype=object), name, what, out
                    )
                    out.order.append(name)
                    continue
                raise SchemaError(
                    f"Column {name!r} of the {what} data is numeric in the schema but has "
                    f"arrow type {col.type}; fix the data or make the column categorical."
                ) from exc
            out.numeric[name] = np.asarray(
                pc.fill_null(as_float, np.nan).to_numpy(zero_copy_only=False), dtype=np.float64
            )
        elif spec.is_categorical:
            if pa.types.is_floating(col.type):
                # Arrow keeps NaN apart from null; pandas (and watchkeeper) call both missing.
                col = pc.if_else(pc.is_nan(col), pa.scalar(None, col.type), col)
            if not pa.types.is_dictionary(col.type):
                col = pc.dictionary_encode(col)
            codes = np.asarray(
                pc.fill_null(col.indices.cast(pa.int32()), -1).to_numpy(zero_copy_only=False),
                dtype=np.int32,
            )
            labels = [_label(v) for v in col.dictionary.to_pylist()]
            out.categorical[name] = _dedupe_labels(codes, labels)
        else:
            continue
        out.order.append(name)
    return out


def n_rows_of(data: Any) -> int | None:
    """The number of rows of a frame or mapping of columns, or None if it cannot be told."""
    if is_arrow(data):
        return int(data.num_rows)
    if is_polars(data):
        return int(data.height)
    shape = getattr(data, "shape", None)
    if shape is not None and len(shape) == 2:
        return int(shape[0])
    if isinstance(data, Mapping):
        lengths = {len(np.asarray(v)) for v in data.values()}
        return lengths.pop() if len(lengths) == 1 else None
    return None


def take_rows(data: Any, rows: npt.NDArray[np.intp] | slice) -> Any:
    """Cut the rows of one chunk out of ``data``, keeping its type.

    Parameters
    ----------
    data
        A pandas DataFrame (``iloc``), pyarrow Table or RecordBatch (``slice`` for a slice,
        ``take`` for positions), polars DataFrame (``slice`` or a gather) or a mapping of
        column name -> array-like (each column indexed as a numpy array).
    rows
        A ``slice`` with step 1 or an integer array of positions (:attr:`Chunk.rows`).

    Returns
    -------
    object
        The same kind of object as ``data`` with only those rows, in the order given.

    Raises
    ------
    InvalidInputError
        If ``data`` is none of the supported kinds.

    Examples
    --------
    >>> take_rows({"x": [1, 2, 3, 4]}, np.array([3, 0]))
    {'x': array([4, 1])}
    """
    if isinstance(rows, slice):
        start, stop, _ = rows.indices(n_rows_of(data) or 0)
        if is_arrow(data):
            return data.slice(start, max(stop - start, 0))
        if is_polars(data):
            return data.slice(start, max(stop - start, 0))
    elif is_arrow(data):
        import pyarrow as pa

        return data.take(pa.array(rows, type=pa.int64()))
    elif is_polars(data):
        return data[np.asarray(rows, dtype=np.int64)]
    iloc = getattr(data, "iloc", None)
    if iloc is not None:
        return iloc[rows]
    if isinstance(data, Mapping):
        return {name: np.asarray(values)[rows] for name, values in data.items()}
    raise InvalidInputError(
        "Expected a pandas DataFrame, pyarrow Table, polars DataFrame or a mapping of columns "
        f"to split into chunks. Got {type(data).__name__} instead."
    )


def datetime_values(data: Any, name: str) -> np.ndarray[Any, Any]:
    """Column ``name`` of ``data`` as ``datetime64[ns]`` (NaT where missing or unreadable)."""
    import pandas as pd

    if is_polars(data):
        data = data.to_arrow()
    series = data.column(name).to_pandas() if is_arrow(data) else to_pandas(data)[name]
    parsed = pd.to_datetime(series, errors="coerce", utc=True)
    return np.asarray(parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]"))
