"""The public API is what ``__all__`` says, and every name in it resolves."""

from __future__ import annotations

import importlib

import pytest

import watchkeeper

EXPECTED = {
    "Baseline",
    "CheckResult",
    "ChunkedReport",
    "Clock",
    "ColumnSpec",
    "Project",
    "Report",
    "Schema",
    "SimulatedClock",
    "Summary",
    "WallClock",
    "WatchkeeperError",
    "__version__",
    "compare",
    "datasets",
    "detectors",
    "errors",
    "performance",
    "quality",
    "stats",
}


def test_all_is_pinned() -> None:
    assert set(watchkeeper.__all__) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(watchkeeper, name) is not None


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = watchkeeper.nope  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "module",
    [
        "watchkeeper.stats",
        "watchkeeper.baseline",
        "watchkeeper.drift",
        "watchkeeper.monitor",
        "watchkeeper.quality",
        "watchkeeper.performance",
        "watchkeeper.detectors",
        "watchkeeper.datasets",
        "watchkeeper.errors",
        "watchkeeper.clock",
        "watchkeeper.config",
        "watchkeeper.registry",
        "watchkeeper.store.artifacts",
    ],
)
def test_subpackage_all_names_exist(module: str) -> None:
    mod = importlib.import_module(module)
    missing = [n for n in mod.__all__ if not hasattr(mod, n)]
    assert missing == []


def test_error_tree_refines_builtins() -> None:
    from watchkeeper import errors

    assert issubclass(errors.InvalidParameterError, ValueError)
    assert issubclass(errors.NoCommonColumnsError, errors.InvalidInputError)
    assert issubclass(errors.DataFileError, OSError)
    assert issubclass(errors.NotFittedError, RuntimeError)
    assert issubclass(errors.ModelNotFoundError, LookupError)
    assert issubclass(errors.ArtifactIntegrityError, OSError)
    assert issubclass(errors.SchemaOutOfDateError, errors.StoreError)
    assert issubclass(errors.ProjectNotFoundError, FileNotFoundError)
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.WatchkeeperError | errors.WatchkeeperWarning), name
