"""MLflow models as a registration source (the ``mlflow`` extra).

``register`` accepts an MLflow model directory (one holding an ``MLmodel`` file) or an MLflow
URI (``runs:/<run>/model``, ``models:/<name>/<version>`` of an MLflow registry,
``mlflow-artifacts:/...``), downloaded with MLflow's own client from the tracking server the
environment configures (``MLFLOW_TRACKING_URI``). The directory is stored as one
deterministic tar archive (flavour ``"mlflow"``) and loaded back with MLflow: the native
scikit-learn model when the ``sklearn`` flavour is present (so ``predict_proba`` and
``feature_names_in_`` work), else the ``python_function`` model; MLflow's loaders unpickle,
so these need ``trust=True`` (``--trust-pickle``), like any pickle.

A scikit-learn model MLflow saved with skops (MLflow 3's default) is different: its
``model.skops`` is stored as watchkeeper's own ``sklearn-skops`` flavour, checked against the
trusted types MLflow recorded, and loads without MLflow or trust.
"""

from __future__ import annotations

import atexit
import io
import os
import shutil
import tarfile
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from watchkeeper.errors import DataFileError, ModelFormatError, UntrustedModelError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from watchkeeper.registry._formats import SerializedModel

__all__ = ["input_names", "is_mlflow_source", "load_mlflow_model", "read_mlflow_model"]

_URI_SCHEMES = ("runs:/", "models:/", "mlflow-artifacts:/")
_loaded_dirs: list[str] = []


def is_mlflow_source(model: object) -> bool:
    """Whether ``model`` names an MLflow model: a directory with ``MLmodel``, or an MLflow URI."""
    if isinstance(model, str) and model.startswith(_URI_SCHEMES):
        return True
    if isinstance(model, str | os.PathLike):
        path = Path(os.fspath(model))
        return path.is_dir() and (path / "MLmodel").is_file()
    return False


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError as exc:
        raise ModelFormatError(
            "Registering an MLflow model needs MLflow: pip install 'watchkeeper[mlflow]'."
        ) from exc
    return mlflow


def read_mlflow_model(
    source: str | os.PathLike[str],
    *,
    trust: bool = False,
    trusted_types: Sequence[str] = (),
) -> tuple[SerializedModel, dict[str, Any]]:
    """Read an MLflow model directory or URI; returns the serialized model and its origin.

    A scikit-learn model that MLflow saved with skops (its default since MLflow 3) is taken
    out of the directory and stored as a ``sklearn-skops`` model, under the same trusted-type
    rule as any skops file (the types MLflow recorded count as named): it then loads without
    MLflow and without trusting pickle. Any other MLflow model is stored whole (flavour
    ``"mlflow"``) and needs ``trust=True``.
    """
    from watchkeeper.registry._formats import MLFLOW, SerializedModel, read_model_file

    text = os.fspath(source)
    if text.startswith(_URI_SCHEMES):
        mlflow = _mlflow()
        try:
            local = mlflow.artifacts.download_artifacts(artifact_uri=text)
        except Exception as exc:
            raise DataFileError(
                f"Cannot download the MLflow model {text!r}: {type(exc).__name__}: {exc}. Check "
                "MLFLOW_TRACKING_URI and the URI."
            ) from exc
        directory = Path(local)
    else:
        directory = Path(text)
    spec = _spec(directory, text)
    flavors = spec.get("flavors") or {}
    origin: dict[str, Any] = {
        "mlflow": {
            "source": text,
            "flavors": sorted(flavors),
            "model_uuid": spec.get("model_uuid"),
            "run_id": spec.get("run_id"),
            "mlflow_version": spec.get("mlflow_version"),
        }
    }
    sk = flavors.get("sklearn") or {}
    if sk.get("serialization_format") == "skops" and sk.get("pickled_model"):
        # The types MLflow recorded come with the model, so they do not count as trusted:
        # only the caller's trusted_types (and the default packages) do.
        origin["mlflow"]["skops_trusted_types"] = list(sk.get("skops_trusted_types") or [])
        serialized = read_model_file(
            directory / str(sk["pickled_model"]), trust=trust, trusted_types=trusted_types
        )
        return serialized, origin
    if not trust:
        raise UntrustedModelError(
            f"{text!r} is an MLflow model that MLflow loads by unpickling it, which runs "
            "arbitrary code. Pass trust=True (CLI: --trust-pickle) if you trust it (or save "
            "scikit-learn models with MLflow's skops format, which needs no trust)."
        )
    data = _pack(directory)
    return SerializedModel(data, MLFLOW, (), _model_class(flavors)), origin


def input_names(model: Any) -> list[str] | None:
    """The input column names of an MLflow ``python_function`` model's signature, if any."""
    metadata = getattr(model, "metadata", None)
    get_schema = getattr(metadata, "get_input_schema", None)
    schema = get_schema() if callable(get_schema) else None
    names = getattr(schema, "input_names", None)
    has_names = getattr(schema, "has_input_names", None)
    if not callable(names) or not callable(has_names) or not has_names():
        return None
    found = [str(n) for n in names()]
    return found or None


def _spec(directory: Path, text: str) -> dict[str, Any]:
    import yaml

    path = directory / "MLmodel"
    if not path.is_file():
        raise ModelFormatError(f"{text!r} is not an MLflow model (no MLmodel file in it).")
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ModelFormatError(f"Cannot read {path}: {exc}") from exc
    if not isinstance(spec, dict):
        raise ModelFormatError(f"{path} is not an MLmodel file (not a mapping).")
    return spec


def _model_class(flavors: dict[str, Any]) -> str:
    return f"mlflow.models.Model[{', '.join(sorted(flavors)) or 'no flavours'}]"


def _pack(directory: Path) -> bytes:
    """The directory as a tar archive whose bytes depend only on the files' names and contents
    (sorted entries, no times or owners), so the same model gets the same sha256."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path in sorted(directory.rglob("*")):
            if not path.is_file():
                continue
            info = tarfile.TarInfo(path.relative_to(directory).as_posix())
            info.size = path.stat().st_size
            info.mode = 0o644
            with path.open("rb") as handle:
                archive.addfile(info, handle)
    return buffer.getvalue()


def load_mlflow_model(data: bytes) -> Any:
    """Unpack a stored MLflow model and load it with MLflow (sklearn flavour if present)."""
    mlflow = _mlflow()
    directory = tempfile.mkdtemp(prefix="watchkeeper-mlflow-")
    _loaded_dirs.append(directory)  # pyfunc models may read their files later; removed at exit
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r") as archive:
            archive.extractall(directory, filter="data")
        flavors = _spec(Path(directory), "the stored MLflow model").get("flavors") or {}
        with warnings.catch_warnings():
            # Importing MLflow's pyfunc machinery warns about its own type hints.
            warnings.filterwarnings("ignore", message="Any type hint is inferred as AnyType")
            if "sklearn" in flavors:
                return mlflow.sklearn.load_model(directory)
            return mlflow.pyfunc.load_model(directory)
    except ModelFormatError:
        raise
    except Exception as exc:
        raise ModelFormatError(
            f"The stored MLflow model cannot be loaded ({type(exc).__name__}: {exc}). Install "
            "the packages the model needs (see its requirements.txt)."
        ) from exc


@atexit.register
def _cleanup() -> None:
    for directory in _loaded_dirs:
        shutil.rmtree(directory, ignore_errors=True)
