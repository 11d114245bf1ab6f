"""Saving and loading a :class:`Baseline` as one ``.npz`` file, without pickle.

Layout: the array ``__meta__`` holds UTF-8 JSON (format version, schema, options, per-column
scalars and category lists, multivariate model metadata); every other array is named
``<part>/<index>/<field>`` (``num/3/sorted``, ``cat/0/counts``, ``pca/components``...). Loading
uses ``allow_pickle=False``, so a baseline file can never execute code.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from watchkeeper.baseline._options import FitOptions
from watchkeeper.baseline._profiles import CategoricalProfile, NumericProfile
from watchkeeper.errors import SerializationError
from watchkeeper.schema import Schema

if TYPE_CHECKING:
    from watchkeeper.baseline._baseline import Baseline

__all__ = ["FORMAT_VERSION", "load_baseline", "save_baseline"]

FORMAT_VERSION = 1
_MODELS = ("encoder", "pca", "domain", "manifold")


def save_baseline(baseline: Baseline, path: Path) -> Path:
    """Write ``baseline`` to ``path`` atomically (temporary file, then rename)."""
    baseline.ensure_multivariate()
    arrays: dict[str, np.ndarray[Any, Any]] = {}
    columns: list[dict[str, Any]] = []
    for i, (name, prof) in enumerate(baseline.profiles.items()):
        if isinstance(prof, NumericProfile):
            columns.append({"type": "numeric", **prof.meta()})
            arrays[f"num/{i}/sorted"] = prof.sorted
            arrays[f"num/{i}/edges"] = prof.edges
            arrays[f"num/{i}/bin_counts"] = prof.bin_counts
        else:
            columns.append({"type": "categorical", **prof.meta()})
            arrays[f"cat/{i}/counts"] = prof.counts
        assert columns[-1]["name"] == name
    models: dict[str, Any] = {}
    for part in _MODELS:
        model = getattr(baseline, part)
        if model is None:
            continue
        meta, arrs = model.to_state()
        models[part] = meta
        for key, arr in arrs.items():
            arrays[f"{part}/{key}"] = np.asarray(arr)
    meta_doc = {
        "format": "watchkeeper-baseline",
        "format_version": FORMAT_VERSION,
        "fitted_at": baseline.fitted_at,
        "n_reference": baseline.n_reference,
        "schema": baseline.schema.to_dict(),
        "options": baseline.options.to_dict(),
        "columns": columns,
        "models": models,
    }
    text = json.dumps(meta_doc, allow_nan=True)
    arrays["__meta__"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    path = path if path.suffix == ".npz" else path.with_name(path.name + ".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_baseline(path: Path) -> Baseline:
    """Read a baseline file written by :func:`save_baseline`."""
    from watchkeeper.baseline._baseline import Baseline

    if not path.exists() and path.with_name(path.name + ".npz").exists():
        path = path.with_name(path.name + ".npz")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except FileNotFoundError as exc:
        raise SerializationError(f"Cannot read baseline file {str(path)!r}: no such file.") from exc
    except (OSError, ValueError) as exc:
        raise SerializationError(
            f"Cannot read baseline file {str(path)!r}: it is not a watchkeeper baseline file "
            f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})."
        ) from exc
    try:
        meta = json.loads(bytes(arrays.pop("__meta__")).decode("utf-8"))
    except (KeyError, ValueError) as exc:
        raise SerializationError(f"{str(path)!r} is not a watchkeeper baseline file.") from exc
    if meta.get("format") != "watchkeeper-baseline":
        raise SerializationError(f"{str(path)!r} is not a watchkeeper baseline file.")
    if meta.get("format_version") != FORMAT_VERSION:
        raise SerializationError(
            f"Baseline file {str(path)!r} has format version {meta.get('format_version')!r}; "
            f"this watchkeeper reads version {FORMAT_VERSION}. Refit the baseline."
        )
    try:
        profiles: dict[str, NumericProfile | CategoricalProfile] = {}
        for i, col in enumerate(meta["columns"]):
            if col["type"] == "numeric":
                profiles[col["name"]] = NumericProfile(
                    name=col["name"],
                    discrete=bool(col["discrete"]),
                    sorted=arrays[f"num/{i}/sorted"],
                    n=int(col["n"]),
                    n_missing=int(col["n_missing"]),
                    n_inf=int(col["n_inf"]),
                    mean=float(col["mean"]),
                    std=float(col["std"]),
                    var_ddof1=float(col["var_ddof1"]),
                    quantiles=tuple(float(q) for q in col["quantiles"]),
                    edges=arrays[f"num/{i}/edges"],
                    bin_counts=arrays[f"num/{i}/bin_counts"],
                )
            else:
                profiles[col["name"]] = CategoricalProfile(
                    name=col["name"],
                    categories=tuple(col["categories"]),
                    counts=arrays[f"cat/{i}/counts"],
                    n=int(col["n"]),
                    n_missing=int(col["n_missing"]),
                )
        opts = meta["options"]
        opts["multivariate"] = tuple(opts["multivariate"])
        baseline = Baseline(
            schema=Schema.from_dict(meta["schema"]),
            profiles=profiles,
            options=FitOptions(**opts),
            n_reference=int(meta["n_reference"]),
            fitted_at=meta.get("fitted_at"),
        )
        for part, model_meta in meta["models"].items():
            prefix = f"{part}/"
            arrs = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            setattr(baseline, part, _model_class(part).from_state(model_meta, arrs))
    except (KeyError, TypeError, ValueError) as exc:
        raise SerializationError(
            f"Baseline file {str(path)!r} is damaged or incomplete: {exc!r}"
        ) from exc
    return baseline


def _model_class(part: str) -> Any:
    if part == "encoder":
        from watchkeeper.baseline._encode import FrameEncoder

        return FrameEncoder
    if part == "pca":
        from watchkeeper.baseline._pca import PCAReconstructionModel

        return PCAReconstructionModel
    if part == "domain":
        from watchkeeper.baseline._manifold import DomainClassifierReference

        return DomainClassifierReference
    if part == "manifold":
        from watchkeeper.baseline._manifold import ManifoldReference

        return ManifoldReference
    raise SerializationError(f"Unknown model {part!r} in the baseline file.")
