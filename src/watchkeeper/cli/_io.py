"""Reading the CLI's data files (CSV and Parquet) into pandas, with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from watchkeeper.errors import DataFileError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["read_table"]

_CSV = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".tsv")
_PARQUET = (".parquet", ".pq")


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file by its extension.

    Raises
    ------
    DataFileError
        The file is missing, its extension is not one watchkeeper reads, or it cannot be parsed.
    """
    import pandas as pd

    name = path.name.lower()
    if not path.exists():
        raise DataFileError(f"No such file: {str(path)!r}.")
    if path.is_dir():
        raise DataFileError(f"{str(path)!r} is a directory; expected a CSV or Parquet file.")
    try:
        if name.endswith(_PARQUET):
            return pd.read_parquet(path)
        if name.endswith(_CSV):
            sep = "\t" if name.endswith(".tsv") else ","
            return pd.read_csv(path, sep=sep, low_memory=False)
    except (OSError, ValueError, ImportError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataFileError(f"Cannot read {str(path)!r}: {first}") from exc
    raise DataFileError(
        f"Cannot tell the format of {str(path)!r}: expected a file ending in "
        f"{', '.join(_CSV + _PARQUET)}."
    )
