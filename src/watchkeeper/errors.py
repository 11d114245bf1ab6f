"""The exception and warning tree of watchkeeper.

Every error watchkeeper raises on purpose derives from :class:`WatchkeeperError`, so a caller
can catch them all with one clause; each leaf also derives from the builtin it refines, so
code that expects a ``ValueError`` or ``LookupError`` keeps working::

    WatchkeeperError (Exception)
    ├── InvalidParameterError (ValueError)    a parameter is out of range or of the wrong kind
    ├── InvalidInputError (ValueError)        data handed in cannot be used as given
    │   ├── EmptyInputError                   a frame or array has no rows
    │   ├── NoCommonColumnsError              reference and current share no column
    │   └── MixedTypeColumnError              an object column mixes types (e.g. str and float)
    ├── SchemaError (ValueError)              a schema is malformed or does not fit the data
    ├── UnknownMethodError (ValueError)       a method name that watchkeeper does not know
    ├── NotFittedError (RuntimeError)         learned state was used before ``fit``
    ├── SerializationError (ValueError)       a saved baseline or schema cannot be read back
    └── DataFileError (OSError)               a CSV/Parquet file is missing or unreadable

    WatchkeeperWarning (UserWarning)
    └── SmallSampleWarning                    a result rests on very few rows
"""

from __future__ import annotations

__all__ = [
    "DataFileError",
    "EmptyInputError",
    "InvalidInputError",
    "InvalidParameterError",
    "MixedTypeColumnError",
    "NoCommonColumnsError",
    "NotFittedError",
    "SchemaError",
    "SerializationError",
    "SmallSampleWarning",
    "UnknownMethodError",
    "WatchkeeperError",
    "WatchkeeperWarning",
]


class WatchkeeperError(Exception):
    """Root of every error watchkeeper raises on purpose."""


class InvalidParameterError(WatchkeeperError, ValueError):
    """A parameter is out of its range or of the wrong kind.

    The message names the parameter, the constraint, the value given and what to do.
    """


class InvalidInputError(WatchkeeperError, ValueError):
    """Data handed in (a frame, a column, an array) cannot be used as given."""


class EmptyInputError(InvalidInputError):
    """A frame or array has no rows (or no usable values)."""


class NoCommonColumnsError(InvalidInputError):
    """The reference and current data share no column to compare."""


class MixedTypeColumnError(InvalidInputError):
    """An object column mixes value types (for example strings and floats)."""


class SchemaError(WatchkeeperError, ValueError):
    """A schema is malformed, or does not fit the data it is applied to."""


class UnknownMethodError(WatchkeeperError, ValueError):
    """A method, check or correction name that watchkeeper does not know."""


class NotFittedError(WatchkeeperError, RuntimeError):
    """Learned state was used before ``fit`` was called."""


class SerializationError(WatchkeeperError, ValueError):
    """A saved baseline, schema or report cannot be read back."""


class DataFileError(WatchkeeperError, OSError):
    """A data file is missing, unreadable, or of a format watchkeeper does not read."""


class WatchkeeperWarning(UserWarning):
    """Root of the warnings watchkeeper emits."""


class SmallSampleWarning(WatchkeeperWarning):
    """A result rests on very few rows and should be read with care."""
