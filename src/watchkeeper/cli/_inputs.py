"""What the commands read from their options: schemas, baselines, chunk specs, check names.

Every helper raises a :class:`~watchkeeper.errors.WatchkeeperError` whose message reads as one
line after ``error:``; the commands catch it and exit 2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from watchkeeper.errors import DataFileError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from watchkeeper.baseline import Baseline
    from watchkeeper.schema import Schema

__all__ = [
    "BASELINE_FILE",
    "SCHEMA_FILE",
    "ChunkSpec",
    "baseline_file",
    "check_names",
    "infer_schema",
    "load_baseline",
    "parse_chunk",
]

BASELINE_FILE = "baseline.npz"
"""The baseline's file name in the directory ``watchkeeper baseline fit`` writes."""
SCHEMA_FILE = "schema.yaml"
"""The schema's file name in that directory."""

_DIGITS = re.compile(r"[0-9]+")
_CHUNK_FORMS = (
    "give N or size=N (rows per chunk), number=N (that many chunks), or a period: "
    "period=ALIAS or just the alias, such as D, W, MS or 2D"
)


def infer_schema(
    reference: Any,
    *,
    schema_path: Path | None,
    target: str | None,
    prediction: str | None,
    prediction_proba: Sequence[str],
    timestamp: str | None,
) -> Schema:
    """Infer the reference's schema; a schema file overrides the columns it names.

    Raises
    ------
    SchemaError, SerializationError
        The schema file cannot be read, or a role or override names an absent column.
    """
    from watchkeeper.schema import Schema

    overrides: dict[str, dict[str, Any]] = {}
    if schema_path is not None:
        overrides = {
            c.name: {"kind": c.kind, "role": c.role, "discrete": c.discrete}
            for c in Schema.load(schema_path)
        }
    return Schema.infer(
        reference,
        target=target,
        prediction=prediction,
        prediction_proba=list(prediction_proba) or None,
        timestamp=timestamp,
        overrides=overrides,
    )


def baseline_file(path: Path) -> Path:
    """The ``.npz`` file of a baseline given as its directory or as the file itself.

    Raises
    ------
    DataFileError
        The path does not exist, is a directory without ``baseline.npz``, or is a file whose
        name does not end in ``.npz``.
    """
    if path.is_dir():
        inner = path / BASELINE_FILE
        if not inner.is_file():
            raise DataFileError(
                f"{str(path)!r} holds no {BASELINE_FILE}; write one with "
                f"`watchkeeper baseline fit REFERENCE --output {path}`."
            )
        return inner
    if not path.exists():
        raise DataFileError(f"No such baseline: {str(path)!r}.")
    if path.suffix.lower() != ".npz":
        raise DataFileError(
            f"{str(path)!r} is not a baseline: give the directory `watchkeeper baseline fit` "
            f"wrote, or its {BASELINE_FILE}."
        )
    return path


def load_baseline(path: Path) -> Baseline:
    """Read the baseline at ``path`` (a directory written by ``baseline fit``, or a file).

    Raises
    ------
    DataFileError
        As :func:`baseline_file`.
    SerializationError
        The file is not a watchkeeper baseline, or of an unsupported format version.
    """
    from watchkeeper.baseline import Baseline

    return Baseline.load(baseline_file(path))


@dataclass(frozen=True, slots=True)
class ChunkSpec:
    """How ``--chunk`` splits the window: the ``by`` of ``compare_chunks`` and its value."""

    by: Literal["size", "number", "period"]
    size: int | None = None
    number: int | None = None
    period: str | None = None

    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``Baseline.compare_chunks`` that say how to split."""
        return {"by": self.by, "size": self.size, "number": self.number, "period": self.period}


def parse_chunk(spec: str) -> ChunkSpec:
    """Read a ``--chunk`` value: ``N``, ``size=N``, ``number=N``, ``period=ALIAS`` or ``ALIAS``.

    Raises
    ------
    InvalidParameterError
        The value is none of these forms, a count is not a positive integer, or the alias is
        not a calendar period watchkeeper splits by.

    Examples
    --------
    >>> parse_chunk("5000")
    ChunkSpec(by='size', size=5000, number=None, period=None)
    >>> parse_chunk("number=8").number, parse_chunk("W").period, parse_chunk("period=MS").by
    (8, 'W', 'period')
    """
    text = spec.strip()
    key, sep, value = text.partition("=")
    bare = not sep
    if bare:
        key, value = ("size", text) if _DIGITS.fullmatch(text) else ("period", text)
    key, value = key.strip().lower(), value.strip()
    if key in ("size", "number"):
        if not _DIGITS.fullmatch(value) or int(value) < 1:
            raise InvalidParameterError(
                f"--chunk {spec!r}: {key} must be a positive whole number of "
                f"{'rows' if key == 'size' else 'chunks'}. Got {value!r} instead."
            )
        count = int(value)
        return ChunkSpec("size", size=count) if key == "size" else ChunkSpec("number", number=count)
    if key != "period" or not value:
        raise InvalidParameterError(f"--chunk {spec!r} is not a chunk spec: {_CHUNK_FORMS}.")
    if not _is_period(value):
        if bare:
            raise InvalidParameterError(f"--chunk {spec!r} is not a chunk spec: {_CHUNK_FORMS}.")
        raise InvalidParameterError(
            f"--chunk {spec!r}: {value!r} is not a calendar period; use a pandas offset alias "
            "such as h, 15min, D, 2D, W, W-MON, MS, QS or YS."
        )
    return ChunkSpec("period", period=value)


def _is_period(period: str) -> bool:
    """Whether ``compare_chunks`` splits by this period (tried on a one-row split)."""
    import numpy as np

    from watchkeeper.monitor.chunked import split_chunks

    one_day = np.array(["2000-01-03"], dtype="M8[s]")
    try:
        split_chunks(1, by="period", period=period, timestamps=one_day)
    except InvalidParameterError:
        return False
    return True


def check_names(values: Sequence[str]) -> list[str] | None:
    """The ``--checks`` values, comma-separated lists split, validated; None when none given.

    Raises
    ------
    UnknownMethodError
        A name is neither a family (drift, quality, performance) nor a check.
    """
    from watchkeeper.monitor._run import _selected

    names = [part.strip() for value in values for part in value.split(",") if part.strip()]
    if not names:
        return None
    _selected(names)  # raises UnknownMethodError naming the valid checks
    return names
