"""Preparing a registration: the model artifact, the served schema, the baseline and the data.

Everything a version records is computed and stored as content-addressed artifacts here,
before the registry writes one row; :func:`prepare_version` returns the row's fields and the
artifacts it created, so that a failed registration can remove those of them no version
records (:meth:`Registry.discard_unreferenced`).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from watchkeeper.errors import (
    InvalidInputError,
    InvalidParameterError,
    ModelFormatError,
    SchemaError,
)
from watchkeeper.registry._records import InputColumn, InputSchema

if TYPE_CHECKING:
    import pandas as pd

    from watchkeeper.baseline import Baseline
    from watchkeeper.registry._formats import SerializedModel
    from watchkeeper.schema import Schema
    from watchkeeper.store.artifacts import ArtifactRef, ArtifactStore

__all__ = ["Prepared", "prepare_version"]

PREDICTION_COLUMN = "prediction"
PROBA_COLUMN = "prediction_proba"
_SAMPLE_SEED = 0


@dataclass
class Prepared:
    """The fields of a new version row, and the artifacts written for it."""

    fields: dict[str, Any]
    created: list[str] = field(default_factory=list)


@dataclass
class _Outputs:
    prediction: str | None = None
    proba: list[str] = field(default_factory=list)


def prepare_version(
    store: ArtifactStore,
    model: Any,
    *,
    reference: Any = None,
    validation: Any = None,
    schema: Schema | None = None,
    features: Sequence[str] | None = None,
    target: str | None = None,
    prediction: str | None = None,
    id_column: str | None = None,
    trust: bool = False,
    trusted_types: Sequence[str] = (),
    store_data: bool = True,
    max_data_bytes: int = 256_000_000,
    parent_version: int | None = None,
    source: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    prepared: Prepared | None = None,
) -> Prepared:
    """Serialize ``model``, fit its baseline, and store every artifact of the new version.

    ``prepared`` collects the sha256 of each artifact this call wrote as it goes (pass one in
    to know them when it raises); its ``fields`` are set at the end. With validation data, the
    version's ``metrics`` also hold the permutation importance of each input under
    ``"importance"`` (``{"method", "scoring", "n_rows", "features"}``, or ``{"error"}`` when
    the model failed on shuffled inputs).
    """
    from watchkeeper.registry._formats import describe_model

    say = progress or (lambda _message: None)
    say("serializing the model")
    serialized, obj, origin = _serialize(model, trust=trust, trusted_types=trusted_types)
    info = describe_model(obj)
    if info.get("feature_names") is None and origin:
        from watchkeeper.registry._mlflow import input_names

        info["feature_names"] = input_names(obj)  # an MLflow signature names the inputs
    prepared = Prepared(fields={}) if prepared is None else prepared
    names = _feature_names(info, features, schema)
    reference_df = None if reference is None else _frame(reference, "reference")
    validation_df = None if validation is None else _frame(validation, "validation")
    if reference_df is None:
        if schema is None:
            raise InvalidParameterError(
                "register needs reference data (the model's training data: it gives the "
                "served schema and the monitoring baseline) or at least a schema."
            )
        input_schema = _schema_from_declared(schema, names)
    else:
        _require_columns(reference_df, names, "reference", "the model's inputs")
        input_schema = _schema_from_frame(reference_df, names, schema)
    for role, column in (("target", target), ("prediction", prediction), ("id", id_column)):
        if column is not None and reference_df is not None:
            _require_columns(reference_df, [column], "reference", f"the --{role} column")
        if column is not None and column in names:
            raise InvalidParameterError(
                f"Column {column!r} is one of the model's inputs, so it cannot also be the "
                f"{role} column."
            )
    baseline_sha = data_schema = None
    outputs = _Outputs(prediction=prediction)
    metrics: dict[str, Any] = {}
    data_info: dict[str, Any] = {"rows": {}, "sampled": {}, "outputs": {}}
    if reference_df is not None:
        if validation_df is not None:
            if target is None:
                raise InvalidParameterError(
                    "Validation data is used to measure the model, which needs the --target "
                    "column; name it with target=... (CLI --target)."
                )
            _require_columns(validation_df, [*names, target], "validation", "the model's inputs")
        say("scoring the reference data with the model")
        ref_aug, outputs = _with_outputs(obj, info, reference_df, names, outputs, "reference")
        val_aug = None
        if validation_df is not None:
            val_aug, _ = _with_outputs(obj, info, validation_df, names, outputs, "validation")
        say("fitting the monitoring baseline")
        baseline = _fit_baseline(ref_aug, val_aug, names, schema, target, outputs, id_column)
        data_schema = baseline.schema.to_dict()
        baseline_ref = _put_baseline(store, baseline, prepared)
        baseline_sha = baseline_ref.sha256
        metrics = _metrics(baseline, validation_df is not None)
        if validation_df is not None and target is not None:
            say("measuring the permutation importance of the inputs")
            task = None if baseline.performance is None else baseline.performance.task
            metrics["importance"] = _importance(obj, info, validation_df, names, target, task)
        data_info["outputs"] = {"prediction": outputs.prediction, "proba": outputs.proba}
    data_info["roles"] = {"target": target, "prediction": prediction, "id": id_column}
    refs: dict[str, str | None] = {"reference": None, "validation": None}
    for which, frame in (("reference", reference_df), ("validation", validation_df)):
        if frame is None:
            continue
        data_info["rows"][which] = len(frame)
        if store_data:
            say(f"storing the {which} data")
            ref, stored_rows = _put_frame(store, frame, max_data_bytes, prepared)
            refs[which] = ref.sha256
            data_info["sampled"][which] = stored_rows < len(frame)
            data_info.setdefault("stored_rows", {})[which] = stored_rows
    say("storing the model")
    model_ref = _put(store, serialized.data, prepared)
    lineage: dict[str, Any] = {"kind": "manual", "entry_point": None, "data_window": None}
    lineage.update(dict(source or {}))  # the caller's say on where it came from...
    lineage.setdefault("code_version", _code_version())
    # ...but what was measured here is recorded as measured.
    lineage.update(rows=dict(data_info["rows"]), model_class=serialized.model_class, **origin)
    prepared.fields = {
        "flavour": serialized.flavour,
        "artifact_sha256": model_ref.sha256,
        "artifact_uri": model_ref.uri,
        "artifact_size": model_ref.size,
        "trusted_types": list(serialized.trusted_types),
        "model_info": info,
        "input_schema": input_schema.to_dict(),
        "data_schema": data_schema,
        "baseline_sha256": baseline_sha,
        "reference_sha256": refs["reference"],
        "validation_sha256": refs["validation"],
        "data_info": data_info,
        "metrics": metrics,
        "parent_version": parent_version,
        "source": lineage,
    }
    return prepared


# ---------------------------------------------------------------------- the model
def _serialize(
    model: Any, *, trust: bool, trusted_types: Sequence[str]
) -> tuple[SerializedModel, Any, dict[str, Any]]:
    from watchkeeper.registry._formats import (
        deserialize_model,
        read_model_file,
        serialize_model,
    )
    from watchkeeper.registry._mlflow import is_mlflow_source, read_mlflow_model

    if is_mlflow_source(model):
        serialized, origin = read_mlflow_model(model, trust=trust, trusted_types=trusted_types)
        obj = deserialize_model(serialized.data, serialized.flavour, serialized.trusted_types)
        return serialized, obj, origin
    if isinstance(model, str | os.PathLike):
        if Path(os.fspath(model)).is_dir():
            raise ModelFormatError(
                f"{os.fspath(model)!r} is a folder but not an MLflow model (it has no MLmodel "
                "file); watchkeeper reads only .skops, .joblib, .pkl, .pickle model files and "
                "MLflow model folders."
            )
        serialized = read_model_file(model, trust=trust, trusted_types=trusted_types)
        obj = deserialize_model(serialized.data, serialized.flavour, serialized.trusted_types)
        return serialized, obj, {}
    return serialize_model(model, trust=trust, trusted_types=trusted_types), model, {}


def _feature_names(
    info: Mapping[str, Any],
    features: Sequence[str] | None,
    schema: Schema | None,
) -> list[str]:
    known = info.get("feature_names")
    if features is not None:
        names = [str(f) for f in features]
        if known is not None and sorted(known) != sorted(names):
            raise InvalidParameterError(
                f"features={names} does not match the inputs the model was fitted on "
                f"({list(known)}); leave out features to use the model's own."
            )
        return list(known) if known is not None else names
    if known is not None:
        return [str(n) for n in known]
    if schema is not None:
        return [c.name for c in schema.features]
    raise InvalidParameterError(
        f"Cannot tell which columns {info.get('class', 'the model')} takes as inputs: it has no "
        "feature_names_in_ (fit it on a DataFrame to get one). Name them with features=[...] or "
        "give a schema."
    )


# ---------------------------------------------------------------------- data and schemas
def _frame(data: Any, what: str) -> pd.DataFrame:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        frame = data
    elif hasattr(data, "to_pandas"):
        frame = data.to_pandas()
    elif isinstance(data, Mapping):
        frame = pd.DataFrame(dict(data))
    else:
        raise InvalidInputError(
            f"The {what} data must be a pandas or polars DataFrame, a pyarrow Table or a mapping "
            f"of columns. Got {type(data).__name__} instead."
        )
    if len(frame) == 0:
        raise InvalidInputError(f"The {what} data has no rows.")
    return frame.reset_index(drop=True)


def _require_columns(frame: pd.DataFrame, names: Sequence[str], what: str, role: str) -> None:
    missing = [n for n in names if n not in frame.columns]
    if missing:
        have = list(map(str, frame.columns))
        raise SchemaError(
            f"The {what} data lacks {', '.join(map(repr, missing))} ({role}); it has "
            f"{', '.join(have[:15])}{', ...' if len(have) > 15 else ''}."
        )


def _dtype_name(series: pd.Series[Any]) -> str:
    dtype = series.dtype
    if dtype.kind in "OUST" or str(dtype) in ("str", "string", "category"):
        return "str"
    return str(dtype)


def _schema_from_frame(
    frame: pd.DataFrame, names: Sequence[str], declared: Schema | None
) -> InputSchema:
    from watchkeeper.schema import Schema

    inferred = Schema.infer(frame[list(names)])
    columns = []
    for name in names:
        kind = declared[name].kind if declared is not None and name in declared else None
        series = frame[name]
        columns.append(
            InputColumn(
                name=name,
                kind=kind or inferred[name].kind,
                dtype=_dtype_name(series),
                nullable=bool(series.isna().any()),
            )
        )
    return InputSchema(tuple(columns))


_KIND_DTYPES = {
    "numeric": "float64",
    "categorical": "str",
    "boolean": "bool",
    "datetime": "datetime64[ns]",
    "text": "str",
}


def _schema_from_declared(schema: Schema, names: Sequence[str]) -> InputSchema:
    missing = [n for n in names if n not in schema]
    if missing:
        raise SchemaError(f"The schema lacks the model's input(s) {', '.join(map(repr, missing))}.")
    return InputSchema(
        tuple(
            InputColumn(
                name=n,
                kind=schema[n].kind,
                dtype="int64" if schema[n].discrete else _KIND_DTYPES[schema[n].kind],
                nullable=True,
            )
            for n in names
        )
    )


def _with_outputs(
    model: Any,
    info: Mapping[str, Any],
    frame: pd.DataFrame,
    names: Sequence[str],
    outputs: _Outputs,
    what: str,
) -> tuple[pd.DataFrame, _Outputs]:
    """``frame`` with the model's predictions (and class probabilities) added as columns,
    unless the caller named a prediction column the data already has."""
    if outputs.prediction is not None and outputs.prediction in frame.columns:
        return frame, outputs
    X: Any = frame[list(names)]
    if info.get("feature_names") is None and info.get("n_features") is not None:
        X = X.to_numpy()  # fitted on an array: scikit-learn warns when given named columns
    added: dict[str, Any] = {}
    prediction = outputs.prediction or _free_name(PREDICTION_COLUMN, frame)
    proba_columns = list(outputs.proba)
    classes = info.get("classes")
    scored = info.get("has_predict_proba") and classes is not None
    try:
        added[prediction] = np.asarray(model.predict(X))
        proba = np.asarray(model.predict_proba(X), dtype=np.float64) if scored else None
    except Exception as exc:  # the user's model: any error it raises is about the data
        raise InvalidInputError(
            f"The model ({info.get('class')}) failed to score the {what} data: "
            f"{type(exc).__name__}: {exc}. Check that its input columns have the types the "
            "model was trained on."
        ) from exc
    if (
        proba is not None
        and classes is not None
        and proba.ndim == 2
        and proba.shape[1] == len(classes)
    ):
        if len(classes) == 2:
            proba_columns = proba_columns or [_free_name(PROBA_COLUMN, frame)]
            added[proba_columns[0]] = proba[:, 1]
        elif len(classes) > 2:
            proba_columns = proba_columns or [
                _free_name(f"{PROBA_COLUMN}_{c}", frame) for c in classes
            ]
            for k, column in enumerate(proba_columns):
                added[column] = proba[:, k]
    out = frame.assign(**added)
    return out, _Outputs(prediction=prediction, proba=proba_columns)


def _free_name(name: str, frame: pd.DataFrame) -> str:
    while name in frame.columns:
        name = f"wk_{name}"
    return name


def _fit_baseline(
    reference: pd.DataFrame,
    validation: pd.DataFrame | None,
    names: Sequence[str],
    declared: Schema | None,
    target: str | None,
    outputs: _Outputs,
    id_column: str | None,
) -> Baseline:
    from watchkeeper.baseline import Baseline
    from watchkeeper.schema import Schema

    roles = [c for c in (target, outputs.prediction, *outputs.proba, id_column) if c is not None]
    columns = [*names, *[c for c in roles if c not in names]]
    data = reference[columns]
    proba: str | list[str] | None = None
    if len(outputs.proba) == 1:
        proba = outputs.proba[0]
    elif outputs.proba:
        proba = list(outputs.proba)
    schema = Schema.infer(
        data, target=target, prediction=outputs.prediction, prediction_proba=proba, id=id_column
    )
    if declared is not None:
        schema = schema.with_overrides(
            {c.name: {"kind": c.kind, "discrete": c.discrete} for c in declared if c.name in names}
        )
    val = None
    if validation is not None:
        val = validation[[c for c in columns if c in validation.columns]]
    return Baseline.fit(data, schema, validation=val)


def _metrics(baseline: Baseline, validated: bool) -> dict[str, Any]:
    perf = baseline.performance
    if perf is None:
        return {}
    return {
        "source": "validation" if validated else "reference",
        "task": perf.task,
        "n": int(perf.n_labelled),
        "values": {k: float(v) for k, v in perf.metrics.items()},
    }


# ---------------------------------------------------------------------- importance
_IMPORTANCE_MAX_ROWS = 5_000
_IMPORTANCE_REPEATS = 5
_IMPORTANCE_SEED = 0


def _importance(
    model: Any,
    info: Mapping[str, Any],
    validation: pd.DataFrame,
    names: Sequence[str],
    target: str,
    task: str | None,
) -> dict[str, Any]:
    """Permutation importance of each input on the labelled validation rows.

    The score is ROC AUC for a binary classifier with ``predict_proba``, accuracy for other
    classifiers and negative MAE for regressors (scikit-learn's scorer names); at most
    ``_IMPORTANCE_MAX_ROWS`` rows (a seeded sample) bound the cost. The user's model may
    fail on shuffled inputs: the reason is recorded and the registration goes on.
    """
    from sklearn.base import BaseEstimator
    from sklearn.inspection import permutation_importance

    frame = validation.loc[validation[target].notna().to_numpy()]
    if len(frame) > _IMPORTANCE_MAX_ROWS:
        frame = frame.sample(n=_IMPORTANCE_MAX_ROWS, random_state=_IMPORTANCE_SEED)
    classes = info.get("classes")
    if classes is not None and len(classes) == 2 and info.get("has_predict_proba"):
        scoring = "roc_auc"
    elif classes is not None or task in ("binary", "multiclass"):
        scoring = "accuracy"
    else:
        scoring = "neg_mean_absolute_error"
    X: Any = frame[list(names)]
    if info.get("feature_names") is None and info.get("n_features") is not None:
        X = X.to_numpy()  # as _with_outputs scores it
    y = frame[target].to_numpy()
    estimator: Any = model
    scorer: Any = scoring
    if not isinstance(model, BaseEstimator):  # no fit() or tags: score it by hand
        estimator, scorer = _Unfitted(model), _scorer(scoring, classes)
    try:
        result = permutation_importance(
            estimator,
            X,
            y,
            scoring=scorer,
            n_repeats=_IMPORTANCE_REPEATS,
            random_state=_IMPORTANCE_SEED,
            n_jobs=1,
        )
    except Exception as exc:  # the user's model (or its data): any failure is recorded
        text = f"{type(exc).__name__}: {exc}"
        return {"error": text if len(text) <= 200 else text[:199] + "\u2026"}
    means = np.asarray(result.importances_mean, dtype=np.float64)
    return {
        "method": "permutation",
        "scoring": scoring,
        "n_rows": len(frame),
        "features": {
            str(n): float(v) if np.isfinite(v) else None for n, v in zip(names, means, strict=True)
        },
    }


class _Unfitted:
    """A model without scikit-learn's estimator API, as ``permutation_importance`` takes it
    (it asks for a ``fit`` method it never calls)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def fit(self, X: Any, y: Any) -> _Unfitted:
        raise NotImplementedError("a registered model is never refitted")


def _scorer(scoring: str, classes: Sequence[Any] | None) -> Callable[[Any, Any, Any], float]:
    """The scikit-learn scorer ``scoring`` computed from the model's own outputs."""
    from sklearn.metrics import accuracy_score, mean_absolute_error, roc_auc_score

    def score(estimator: Any, X: Any, y: Any) -> float:
        model = estimator.model
        if scoring == "roc_auc" and classes is not None:
            proba = np.asarray(model.predict_proba(X), dtype=np.float64)
            return float(roc_auc_score(np.asarray(y) == classes[1], proba[:, 1]))
        pred = np.asarray(model.predict(X))
        if pred.ndim == 2 and pred.shape[1] == 1:
            pred = pred[:, 0]  # e.g. an MLflow pyfunc's one-column frame
        if scoring == "accuracy":
            return float(accuracy_score(y, pred))
        return -float(mean_absolute_error(y, pred))

    return score


# ---------------------------------------------------------------------- artifacts
def _put(store: ArtifactStore, data: bytes, prepared: Prepared) -> ArtifactRef:
    from watchkeeper.store.artifacts import sha256_bytes

    existed = store.exists(sha256_bytes(data))
    ref = store.put_bytes(data)
    if not existed:
        prepared.created.append(ref.sha256)
    return ref


def _put_path(store: ArtifactStore, path: Path, prepared: Prepared) -> ArtifactRef:
    from watchkeeper.store.artifacts import sha256_file

    existed = store.exists(sha256_file(path))
    ref = store.put_file(path)
    if not existed:
        prepared.created.append(ref.sha256)
    return ref


def _put_baseline(store: ArtifactStore, baseline: Baseline, prepared: Prepared) -> ArtifactRef:
    with tempfile.TemporaryDirectory(prefix="watchkeeper-") as tmp:
        path = baseline.save(Path(tmp) / "baseline.npz")
        return _put_path(store, path, prepared)


def _put_frame(
    store: ArtifactStore, frame: pd.DataFrame, cap: int, prepared: Prepared
) -> tuple[ArtifactRef, int]:
    """Store ``frame`` as Parquet; above ``cap`` bytes, a seeded sample of rows that fits."""
    with tempfile.TemporaryDirectory(prefix="watchkeeper-") as tmp:
        path = Path(tmp) / "data.parquet"
        _to_parquet(frame, path)
        rows = len(frame)
        size = path.stat().st_size
        while size > cap and rows > 1:
            rows = max(1, int(rows * cap / size * 0.9))
            sample = frame.sample(n=rows, random_state=_SAMPLE_SEED).sort_index()
            _to_parquet(sample, path)
            size = path.stat().st_size
        return _put_path(store, path, prepared), rows


def _to_parquet(frame: pd.DataFrame, path: Path) -> None:
    import pyarrow as pa

    try:
        frame.to_parquet(path, index=False)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        bad = []
        for column in frame.columns:
            try:
                pa.array(frame[column])
            except (pa.ArrowException, TypeError, ValueError):
                bad.append(str(column))
        where = f"column(s) {', '.join(map(repr, bad))}" if bad else "a column"
        raise InvalidInputError(
            f"The data cannot be stored as Parquet: {where} mix value types ({exc}). Clean "
            "them, or register without storing the data (store_data=False, --no-store-data)."
        ) from exc


def _code_version() -> str | None:
    """The git commit of the current directory's repository, if there is one."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else None
