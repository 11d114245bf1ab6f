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
    ├── DataFileError (OSError)               a CSV/Parquet file is missing or unreadable
    ├── ConfigError (ValueError)              watchkeeper.yaml or a WATCHKEEPER_* variable is bad
    ├── ProjectNotFoundError (FileNotFoundError)  no watchkeeper project where one was looked for
    ├── ProjectExistsError (FileExistsError)  ``init`` on a folder that already holds a project
    ├── StoreError (RuntimeError)             the database cannot be used as needed
    │   └── SchemaOutOfDateError              its schema is older (or newer) than this release's
    ├── ArtifactError (OSError)               a stored artifact cannot be written or read
    │   ├── ArtifactNotFoundError             no artifact with that sha256 in the store
    │   └── ArtifactIntegrityError            an artifact's bytes no longer match its sha256
    ├── ModelFormatError (ValueError)         a model cannot be saved or loaded in a known format
    │   └── UntrustedModelError               loading it would run code nobody vouched for
    ├── RegistryError                         a registry operation cannot be done as asked
    │   ├── InvalidNameError (ValueError)     a model, alias or tag name breaks the name pattern
    │   ├── ModelNotFoundError (LookupError)  no registered model, version or alias by that name
    │   ├── VersionStatusError (ValueError)   the version's status forbids the operation
    │   ├── RollbackError (ValueError)        there is nothing (or no such version) to roll back to
    │   ├── AliasMovedError (RuntimeError)    an alias moved since the caller looked at it
    │   └── LabelConflictError (ValueError)   a label contradicts one already recorded
    └── LoopError (RuntimeError)              a step of the monitoring loop cannot be done
        ├── TrainerError                      the user's trainer failed or timed out
        └── NotEnoughDataError                too few (labelled) rows for the step asked for

    WatchkeeperWarning (UserWarning)
    └── SmallSampleWarning                    a result rests on very few rows
"""

from __future__ import annotations

__all__ = [
    "AliasMovedError",
    "ArtifactError",
    "ArtifactIntegrityError",
    "ArtifactNotFoundError",
    "ConfigError",
    "DataFileError",
    "EmptyInputError",
    "InvalidInputError",
    "InvalidNameError",
    "InvalidParameterError",
    "LabelConflictError",
    "LoopError",
    "MixedTypeColumnError",
    "ModelFormatError",
    "ModelNotFoundError",
    "NoCommonColumnsError",
    "NotEnoughDataError",
    "NotFittedError",
    "ProjectExistsError",
    "ProjectNotFoundError",
    "RegistryError",
    "RollbackError",
    "SchemaError",
    "SchemaOutOfDateError",
    "SerializationError",
    "SmallSampleWarning",
    "StoreError",
    "TrainerError",
    "UnknownMethodError",
    "UntrustedModelError",
    "VersionStatusError",
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


class ConfigError(WatchkeeperError, ValueError):
    """``watchkeeper.yaml`` or a ``WATCHKEEPER_*`` variable holds an unknown key or a bad value.

    The message names the key's path (``database.url``) or the variable, and the expected form.
    """


class ProjectNotFoundError(WatchkeeperError, FileNotFoundError):
    """No watchkeeper project (a folder with ``watchkeeper.yaml``) where one was looked for."""


class ProjectExistsError(WatchkeeperError, FileExistsError):
    """``watchkeeper init`` was pointed at a folder that already holds a project."""


class StoreError(WatchkeeperError, RuntimeError):
    """The project database cannot be reached or used as needed."""


class SchemaOutOfDateError(StoreError):
    """The database schema is not the one this release of watchkeeper needs.

    The message names the database's revision, the one needed, and the command that upgrades
    it (``watchkeeper db upgrade``).
    """


class ArtifactError(WatchkeeperError, OSError):
    """A stored artifact (model file, baseline, data) cannot be written or read."""


class ArtifactNotFoundError(ArtifactError):
    """The artifact store holds no artifact with the requested sha256."""


class ArtifactIntegrityError(ArtifactError):
    """An artifact's bytes no longer match the sha256 it was recorded with; it is not loaded."""


class ModelFormatError(WatchkeeperError, ValueError):
    """A model cannot be saved or loaded in any format watchkeeper knows."""


class UntrustedModelError(ModelFormatError):
    """Loading (or saving) the model would need types or pickle code nobody vouched for.

    The message lists the types, and says how to trust them (``trusted_types=``, or
    ``trust=True`` / ``--trust-pickle`` for pickle files).
    """


class RegistryError(WatchkeeperError):
    """A registry operation cannot be done as asked."""


class InvalidNameError(RegistryError, ValueError):
    """A model, alias or tag name does not match watchkeeper's name pattern."""


class ModelNotFoundError(RegistryError, LookupError):
    """No registered model, version or alias by the name given."""


class VersionStatusError(RegistryError, ValueError):
    """The version's status (``rejected``, ``archived``) forbids the operation asked for."""


class RollbackError(RegistryError, ValueError):
    """There is nothing to roll back to, or the version asked for never held the alias."""


class LabelConflictError(RegistryError, ValueError):
    """A label contradicts one already recorded for the same prediction; nothing was stored.

    Labels are ground truth: an identical one is accepted again, a different one is refused.
    """


class AliasMovedError(RegistryError, RuntimeError):
    """An alias no longer points where the caller expected: someone moved it in between."""


class LoopError(WatchkeeperError, RuntimeError):
    """A step of the monitoring loop (monitor run, retraining, gate, promotion) cannot be done."""


class TrainerError(LoopError):
    """The user's trainer raised, timed out, or returned something that is not a model."""


class NotEnoughDataError(LoopError):
    """Too few rows (or labelled rows) for the step asked for."""


class WatchkeeperWarning(UserWarning):
    """Root of the warnings watchkeeper emits."""


class SmallSampleWarning(WatchkeeperWarning):
    """A result rests on very few rows and should be read with care."""
