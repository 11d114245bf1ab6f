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

FORMAT_VERSION = 2
# Fitted parts saved through their to_state()/from_state(): file name -> Baseline attribute.
_ATTRIBUTE = {"dataset": "_dataset_reference", "chunks": "chunk_stats"}
_MODELS = ("encoder", "pca", "domain", "manifold", "dataset", "performance", "chunks")


def save_baseline(baseline: Baseline, path: Path) -> Path:
    """Write ``baseline`` to ``path`` atomically (temporary file, then rename)."""
    arrays: dict[str, np.ndarray[Any, Any]] = {}
    meta_doc = {
        "format": "watchkeeper-baseline",
        "format_version": FORMAT_VERSION,
        **_pack(baseline, "", arrays),
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


def _pack(
    baseline: Baseline, prefix: str, arrays: dict[str, np.ndarray[Any, Any]]
) -> dict[str, Any]:
    """The JSON metadata of ``baseline``; its arrays go into ``arrays`` under ``prefix``."""
    baseline.ensure_multivariate()
    columns: list[dict[str, Any]] = []
    for i, (name, prof) in enumerate(baseline.profiles.items()):
        if isinstance(prof, NumericProfile):
            columns.append({"type": "numeric", **prof.meta()})
            arrays[f"{prefix}num/{i}/sorted"] = prof.sorted
            arrays[f"{prefix}num/{i}/edges"] = prof.edges
            arrays[f"{prefix}num/{i}/bin_counts"] = prof.bin_counts
        else:
            columns.append({"type": "categorical", **prof.meta()})
            arrays[f"{prefix}cat/{i}/counts"] = prof.counts
        assert columns[-1]["name"] == name
    models: dict[str, Any] = {}
    for part in _MODELS:
        model = getattr(
            baseline, "dataset_reference" if part == "dataset" else _ATTRIBUTE.get(part, part)
        )
        if model is None:
            continue
        meta, arrs = model.to_state()
        models[part] = meta
        for key, arr in arrs.items():
            arrays[f"{prefix}{part}/{key}"] = np.asarray(arr)
    segments: dict[str, list[dict[str, Any]]] = {}
    for s_i, (column, children) in enumerate(baseline.segments.items()):
        segments[column] = [
            {"value": value, **_pack(child, f"{prefix}seg/{s_i}/{c_i}/", arrays)}
            for c_i, (value, child) in enumerate(children.items())
        ]
    return {
        "fitted_at": baseline.fitted_at,
        "n_reference": baseline.n_reference,
        "schema": baseline.schema.to_dict(),
        "options": baseline.options.to_dict(),
        "columns": columns,
        "models": models,
        "labels": baseline.labels.to_dict() if baseline.labels is not None else None,
        "segments": segments,
    }


def load_baseline(path: Path) -> Baseline:
    """Read a baseline file written by :func:`save_baseline`."""

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
        baseline = _unpack(meta, arrays, "")
    except (KeyError, TypeError, ValueError) as exc:
        raise SerializationError(
            f"Baseline file {str(path)!r} is damaged or incomplete: {exc!r}"
        ) from exc
    return baseline


def _unpack(meta: dict[str, Any], arrays: dict[str, Any], prefix: str) -> Baseline:
    from watchkeeper.baseline._baseline import Baseline
    from watchkeeper.baseline._labels import LabelSpec

    profiles: dict[str, NumericProfile | CategoricalProfile] = {}
    for i, col in enumerate(meta["columns"]):
        if col["type"] == "numeric":
            profiles[col["name"]] = NumericProfile(
                name=col["name"],
                discrete=bool(col["discrete"]),
                sorted=arrays[f"{prefix}num/{i}/sorted"],
                n=int(col["n"]),
                n_missing=int(col["n_missing"]),
                n_inf=int(col["n_inf"]),
                mean=float(col["mean"]),
                std=float(col["std"]),
                var_ddof1=float(col["var_ddof1"]),
                quantiles=tuple(float(q) for q in col["quantiles"]),
                edges=arrays[f"{prefix}num/{i}/edges"],
                bin_counts=arrays[f"{prefix}num/{i}/bin_counts"],
                top_share=float(col["top_share"]),
            )
        else:
            profiles[col["name"]] = CategoricalProfile(
                name=col["name"],
                categories=tuple(col["categories"]),
                counts=arrays[f"{prefix}cat/{i}/counts"],
                n=int(col["n"]),
                n_missing=int(col["n_missing"]),
            )
    opts = dict(meta["options"])
    opts["multivariate"] = tuple(opts["multivariate"])
    labels = meta.get("labels")
    baseline = Baseline(
        schema=Schema.from_dict(meta["schema"]),
        profiles=profiles,
        options=FitOptions(**opts),
        n_reference=int(meta["n_reference"]),
        fitted_at=meta.get("fitted_at"),
        labels=LabelSpec.from_dict(labels) if labels is not None else None,
    )
    for part, model_meta in meta["models"].items():
        start = f"{prefix}{part}/"
        arrs = {k[len(start) :]: v for k, v in arrays.items() if k.startswith(start)}
        setattr(
            baseline, _ATTRIBUTE.get(part, part), _model_class(part).from_state(model_meta, arrs)
        )
    for s_i, (column, children) in enumerate(meta.get("segments", {}).items()):
        baseline.segments[column] = {
            child["value"]: _unpack(child, arrays, f"{prefix}seg/{s_i}/{c_i}/")
            for c_i, child in enumerate(children)
        }
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
    if part == "dataset":
        from watchkeeper.quality._rows import DatasetReference

        return DatasetReference
    if part == "performance":
        from watchkeeper.performance import PerformanceReference

        return PerformanceReference
    if part == "chunks":
        from watchkeeper.monitor.chunked import ChunkStats

        return ChunkStats
    raise SerializationError(f"Unknown model {part!r} in the baseline file.")
