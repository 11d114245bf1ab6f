"""Turning a model into bytes and back, refusing code nobody vouched for.

Three flavours:

* ``"sklearn-skops"`` — scikit-learn estimators, saved with :func:`skops.io.dumps`. Loading
  a skops file imports only the types it lists; types from scikit-learn, NumPy and SciPy are
  accepted automatically, any other type only when the caller names it (``trusted_types``) or
  trusts everything (``trust=True``). The accepted types are recorded with the bytes, and
  loading refuses a file that needs a type outside that record.
* ``"joblib"`` and ``"pickle"`` — anything else with a ``predict`` method. Unpickling runs
  arbitrary code, so these are written and read only with ``trust=True`` (CLI:
  ``--trust-pickle``).

skops and joblib are imported only when a model is saved or loaded.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from watchkeeper.errors import (
    DataFileError,
    InvalidParameterError,
    ModelFormatError,
    UntrustedModelError,
)

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

__all__ = [
    "FLAVOURS",
    "JOBLIB",
    "MODEL_SUFFIXES",
    "PICKLE",
    "SKOPS",
    "SerializedModel",
    "describe_model",
    "deserialize_model",
    "read_model_file",
    "serialize_model",
]

SKOPS: Final = "sklearn-skops"
JOBLIB: Final = "joblib"
PICKLE: Final = "pickle"
MLFLOW: Final = "mlflow"
"""An MLflow model directory, stored as a tar archive (watchkeeper.registry._mlflow)."""
FLAVOURS: Final = (SKOPS, JOBLIB, PICKLE, MLFLOW)
MODEL_SUFFIXES: Final = {".skops": SKOPS, ".joblib": JOBLIB, ".pkl": PICKLE, ".pickle": PICKLE}
"""The model-file suffixes :func:`read_model_file` reads, and the flavour of each."""

# Types from these top-level packages are accepted in skops files without being named.
_DEFAULT_TRUSTED_PACKAGES: Final = frozenset({"sklearn", "numpy", "scipy"})


@dataclass(frozen=True)
class SerializedModel:
    """A model as bytes, with what is needed to load it back.

    Parameters
    ----------
    data
        The serialized model.
    flavour
        How it was serialized: ``"sklearn-skops"``, ``"joblib"`` or ``"pickle"``.
    trusted_types
        The types outside scikit-learn's defaults that loading needs and that were accepted
        when it was saved, sorted (skops only; empty for joblib and pickle).
    model_class
        The model's class as ``module.QualName``.
    """

    data: bytes = field(repr=False)
    flavour: str
    trusted_types: tuple[str, ...]
    model_class: str


def _class_name(obj: object) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _pickle_refused(model_class: str) -> UntrustedModelError:
    return UntrustedModelError(
        f"{model_class} is not a scikit-learn estimator, so it can only be stored with pickle "
        "(joblib), which runs arbitrary code when loaded; pass trust=True "
        "(CLI: --trust-pickle) if you trust this model."
    )


def _check_predict(model: object, where: str = "") -> None:
    if not callable(getattr(model, "predict", None)):
        raise ModelFormatError(
            f"A model must have a callable 'predict' method, but {_class_name(model)}{where} "
            "has none. Register the fitted estimator (or pipeline) itself."
        )


def _checked_types(trusted_types: Sequence[str]) -> tuple[str, ...]:
    if isinstance(trusted_types, str) or not all(isinstance(t, str) for t in trusted_types):
        raise InvalidParameterError(
            "The 'trusted_types' parameter must be a list of type names such as "
            f"['mypackage.MyTransformer']. Got {trusted_types!r} instead."
        )
    return tuple(trusted_types)


def _untrusted_types(data: bytes, what: str) -> list[str]:
    """The non-default types a skops file needs, read without loading anything."""
    import skops.io  # type: ignore[import-untyped]  # skops ships no type hints

    try:
        found: list[str] = skops.io.get_untrusted_types(data=data)
    except Exception as exc:
        raise ModelFormatError(
            f"{what} is not a readable skops file ({type(exc).__name__}: {exc}). "
            "Save the model again with skops.io.dump or register the estimator itself."
        ) from exc
    return [str(t) for t in found]


def _accepted_types(
    found: Sequence[str], *, trust: bool, trusted_types: Sequence[str], what: str
) -> tuple[str, ...]:
    """Apply the skops policy to ``found``; return every type accepted, sorted."""
    named = set(trusted_types)
    refused = sorted(
        {t for t in found if t.split(".", 1)[0] not in _DEFAULT_TRUSTED_PACKAGES and t not in named}
    )
    if refused and not trust:
        raise UntrustedModelError(
            f"{what} needs types outside scikit-learn, NumPy and SciPy, whose code would run "
            f"when it is loaded: {', '.join(refused)}. If you trust that code, pass "
            f"trusted_types={refused!r} (or trust=True)."
        )
    return tuple(sorted(set(found)))


def _joblib_bytes(model: object, model_class: str) -> bytes:
    import joblib  # type: ignore[import-untyped]  # joblib ships no type hints

    buffer = io.BytesIO()
    try:
        joblib.dump(model, buffer)
    except Exception as exc:
        raise ModelFormatError(
            f"{model_class} cannot be saved with joblib either ({type(exc).__name__}: {exc}). "
            "Remove what cannot be pickled (open files, generators, lambdas) from the model."
        ) from exc
    return buffer.getvalue()


def serialize_model(
    model: object, *, trust: bool = False, trusted_types: Sequence[str] = ()
) -> SerializedModel:
    """Serialize a fitted model, with skops when it is a scikit-learn estimator.

    Parameters
    ----------
    model
        A fitted model with a callable ``predict``.
    trust
        Accept every type the model needs, and allow pickle (joblib) for models that are not
        scikit-learn estimators or that skops cannot save.
    trusted_types
        Type names (``module.QualName``) outside scikit-learn, NumPy and SciPy that are
        accepted in a skops file.

    Returns
    -------
    SerializedModel
        Flavour ``"sklearn-skops"`` for estimators, ``"joblib"`` otherwise.

    Raises
    ------
    ModelFormatError
        If the model has no ``predict``, or skops cannot save it and ``trust`` is false.
    UntrustedModelError
        If saving it needs types nobody trusted, or pickle without ``trust``.
    InvalidParameterError
        If ``trusted_types`` is not a sequence of strings.
    """
    named = _checked_types(trusted_types)
    _check_predict(model)
    model_class = _class_name(model)
    from sklearn.base import BaseEstimator

    if not isinstance(model, BaseEstimator):
        if not trust:
            raise _pickle_refused(model_class)
        return SerializedModel(_joblib_bytes(model, model_class), JOBLIB, (), model_class)

    import skops.io

    try:
        data: bytes = skops.io.dumps(model)
    except Exception as exc:
        if not trust:
            raise ModelFormatError(
                f"skops could not save {model_class} ({type(exc).__name__}: {exc}). "
                "trust=True (CLI: --trust-pickle) saves it with pickle (joblib) instead, which "
                "runs arbitrary code when loaded; use it only if you trust this model."
            ) from exc
        return SerializedModel(_joblib_bytes(model, model_class), JOBLIB, (), model_class)
    found = _untrusted_types(data, model_class)
    accepted = _accepted_types(found, trust=trust, trusted_types=named, what=model_class)
    return SerializedModel(data, SKOPS, accepted, model_class)


def _skops_class(data: bytes, what: str) -> str:
    """The top-level class recorded in a skops file's schema, read as JSON (nothing loaded)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = json.loads(archive.read("schema.json"))
        return f"{schema['__module__']}.{schema['__class__']}"
    except (zipfile.BadZipFile, KeyError, TypeError, ValueError) as exc:
        raise ModelFormatError(
            f"{what} is not a readable skops file (its schema.json is missing or malformed: "
            f"{exc}). Save the model again with skops.io.dump."
        ) from exc


def read_model_file(
    path: str | os.PathLike[str], *, trust: bool = False, trusted_types: Sequence[str] = ()
) -> SerializedModel:
    """Read a saved model file as a :class:`SerializedModel`, by its suffix.

    ``.skops`` files are checked with the same type policy as :func:`serialize_model` and
    are not loaded; their ``model_class`` comes from the file's schema. ``.joblib``, ``.pkl``
    and ``.pickle`` files are read only with ``trust=True``, and loaded once to check that
    the model has a ``predict`` method.

    Parameters
    ----------
    path
        The model file.
    trust, trusted_types
        As in :func:`serialize_model`.

    Returns
    -------
    SerializedModel
        The file's bytes unchanged, with their flavour.

    Raises
    ------
    DataFileError
        If the file is missing or unreadable.
    ModelFormatError
        If the suffix is not one of :data:`MODEL_SUFFIXES`, the file cannot be read in its
        format, or the model has no ``predict``.
    UntrustedModelError
        If the file needs types nobody trusted, or is a pickle and ``trust`` is false.

    Notes
    -----
    A ``.pkl``/``.pickle`` file written by :func:`joblib.dump` (a pickle stream followed by
    raw NumPy buffers) cannot be read by :func:`pickle.loads`; such a file is recorded with
    the ``"joblib"`` flavour, which reads it.
    """
    named = _checked_types(trusted_types)
    file = Path(path)
    flavour = MODEL_SUFFIXES.get(file.suffix.lower())
    if flavour is None:
        raise ModelFormatError(
            f"Model file {str(file)!r} has the suffix {file.suffix!r}, but watchkeeper reads "
            f"only {', '.join(MODEL_SUFFIXES)} files. Save the model in one of these formats."
        )
    try:
        data = file.read_bytes()
    except FileNotFoundError as exc:
        raise DataFileError(
            f"Cannot read model file {str(file)!r}: no such file. Check the path."
        ) from exc
    except OSError as exc:
        raise DataFileError(f"Cannot read model file {str(file)!r}: {exc}.") from exc
    what = f"Model file {str(file)!r}"
    if flavour == SKOPS:
        found = _untrusted_types(data, what)
        accepted = _accepted_types(found, trust=trust, trusted_types=named, what=what)
        return SerializedModel(data, SKOPS, accepted, _skops_class(data, what))
    if not trust:
        raise UntrustedModelError(
            f"{what} can only be read with pickle (joblib), which runs arbitrary code when "
            "loaded; pass trust=True (CLI: --trust-pickle) if you trust this file, or save "
            "the model with skops.io.dump (.skops) instead."
        )
    try:
        model = _load(data, flavour, (), what)
    except ModelFormatError as first:
        if flavour != PICKLE:
            raise
        # Not a plain pickle: perhaps joblib.dump wrote it under a .pkl name.
        try:
            model = _load(data, JOBLIB, (), what)
        except ModelFormatError:
            raise first from first.__cause__
        flavour = JOBLIB
    _check_predict(model, f" (loaded from {str(file)!r})")
    return SerializedModel(data, flavour, (), _class_name(model))


def deserialize_model(data: bytes, flavour: str, trusted_types: Sequence[str]) -> Any:
    """Load a model serialized by :func:`serialize_model` or read by :func:`read_model_file`.

    Parameters
    ----------
    data
        The serialized model.
    flavour
        ``"sklearn-skops"``, ``"joblib"``, ``"pickle"`` or ``"mlflow"``.
    trusted_types
        The types a skops file may need (its recorded ``trusted_types``). A skops file that
        needs any other type is not loaded.

    Returns
    -------
    Any
        The model.

    Raises
    ------
    UntrustedModelError
        If a skops file needs a type not in ``trusted_types``.
    ModelFormatError
        If the flavour is unknown, or the library cannot load the bytes (corrupt data, a
        missing dependency such as the module defining a custom class).
    """
    return _load(data, flavour, _checked_types(trusted_types), f"The stored {flavour} model")


def _load(data: bytes, flavour: str, named: Sequence[str], what: str) -> Any:
    if flavour not in FLAVOURS:
        raise ModelFormatError(
            f"Unknown model flavour {flavour!r}; watchkeeper loads {', '.join(FLAVOURS)}."
        )
    if flavour == SKOPS:
        found = _untrusted_types(data, what)
        missing = sorted(set(found) - set(named))
        if missing:
            raise UntrustedModelError(
                f"{what} needs types that were not trusted when it was registered: "
                f"{', '.join(missing)}. It will not be loaded; register it again with "
                f"trusted_types={missing!r} if you trust that code."
            )
    if flavour == MLFLOW:
        from watchkeeper.registry._mlflow import load_mlflow_model

        return load_mlflow_model(data)
    try:
        if flavour == SKOPS:
            import skops.io

            return skops.io.loads(data, trusted=list(named))
        if flavour == JOBLIB:
            import joblib

            return joblib.load(io.BytesIO(data))
        import pickle

        # Only reached when the caller trusted pickle (read_model_file checks ``trust``).
        return pickle.loads(data)
    except Exception as exc:
        raise ModelFormatError(
            f"{what} cannot be loaded with {flavour} ({type(exc).__name__}: {exc}). If a "
            "module is missing, install the package that defines the model's classes; if the "
            "bytes are corrupt, register the model again."
        ) from exc


def _scalar(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def describe_model(model: object) -> dict[str, Any]:
    """A JSON-safe summary of a fitted model.

    Returns
    -------
    dict
        ``class`` (``module.QualName``), ``has_predict_proba``, ``classes`` (a list, or None
        for a model without ``classes_``), ``feature_names`` (a list of str from
        ``feature_names_in_``, or None) and ``n_features`` (from ``n_features_in_``, or None).

    Examples
    --------
    >>> describe_model(object())["class"]
    'builtins.object'
    """
    classes = getattr(model, "classes_", None)
    if classes is not None:
        tolist = getattr(classes, "tolist", None)
        classes = [_scalar(c) for c in (tolist() if callable(tolist) else list(classes))]
    names = getattr(model, "feature_names_in_", None)
    n_features = getattr(model, "n_features_in_", None)
    return {
        "class": _class_name(model),
        "has_predict_proba": callable(getattr(model, "predict_proba", None)),
        "classes": classes,
        "feature_names": None if names is None else [str(n) for n in names],
        "n_features": None if n_features is None else int(n_features),
    }
