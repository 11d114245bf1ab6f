"""The parts of :meth:`Baseline.fit` beyond column profiles: labels and the performance
baseline, per-segment baselines, and the reference-chunk statistics behind learned thresholds.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from watchkeeper.baseline._profiles import (
    CategoricalProfile,
    NumericProfile,
    fit_categorical,
    fit_numeric,
)
from watchkeeper.errors import InvalidParameterError, SchemaError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from watchkeeper._frame import Columns
    from watchkeeper.baseline._baseline import Baseline
    from watchkeeper.baseline._labels import LabelSpec
    from watchkeeper.baseline._options import FitOptions
    from watchkeeper.monitor.chunked import ChunkStats
    from watchkeeper.monitor.report import Report
    from watchkeeper.performance import PerformanceReference
    from watchkeeper.schema import Schema

__all__ = ["OTHER", "fit_chunk_stats", "fit_labels", "fit_segments", "segment_codes"]

OTHER = "__other__"
Profile = NumericProfile | CategoricalProfile


def fit_labels(
    schema: Schema,
    cols: Columns,
    *,
    validation: Any,
    task: str | None,
    performance: Mapping[str, Any] | None,
    pos_label: str | None = None,
) -> tuple[LabelSpec | None, PerformanceReference | None]:
    """The label columns and the performance baseline (on ``validation``, else the reference)."""
    from watchkeeper.baseline._labels import infer_label_spec
    from watchkeeper.performance import PerformanceOptions, PerformanceReference

    spec = infer_label_spec(schema, cols, task, pos_label)
    if spec is None:
        if validation is not None:
            raise InvalidParameterError(
                "Baseline.fit got validation data but the reference has no target column; "
                "name it with target=... (or a schema role) so windows can be scored."
            )
        return None, None
    if validation is not None:
        labels = spec.encode(_validation_columns(validation, schema, spec))
        new = labels.classes[len(spec.classes) :]
        if new and (spec.proba or spec.task == "binary"):
            raise SchemaError(
                f"The validation target has class(es) {list(new)} that the reference lacks "
                f"(reference classes: {list(spec.classes)}); the model's scores have no column "
                "for them. Fit on a reference that holds every class."
            )
    else:
        labels = spec.encode(cols)
    if labels.y_true is None or (labels.y_pred is None and labels.y_score is None):
        return spec, None  # nothing to score: no performance baseline
    spec = replace(spec, classes=labels.classes) if spec.task != "regression" else spec
    popts = PerformanceOptions(**dict(performance or {}))
    reference = PerformanceReference.fit(
        spec.task, labels.classes, labels.y_true, labels.y_pred, labels.y_score, options=popts
    )
    return spec, reference


def _validation_columns(validation: Any, schema: Schema, spec: LabelSpec) -> Columns:
    from watchkeeper._convert import column_names, to_columns

    if isinstance(validation, tuple):
        if len(validation) not in (2, 3):
            raise InvalidParameterError(
                "The 'validation' parameter of Baseline.fit must be a frame or a tuple "
                f"(y_true, y_pred) or (y_true, y_pred, y_score). Got a {len(validation)}-tuple."
            )
        y_true, y_pred, *rest = validation
        frame: dict[str, Any] = {spec.target: np.asarray(y_true)}
        if y_pred is not None:
            if spec.prediction is None:
                raise InvalidParameterError(
                    "validation has predictions but the schema has no prediction column; "
                    "name it with prediction=..."
                )
            frame[spec.prediction] = np.asarray(y_pred)
        if rest and rest[0] is not None:
            score = np.asarray(rest[0], dtype=np.float64)
            if not spec.proba:
                raise InvalidParameterError(
                    "validation has scores but the schema has no prediction_proba column; "
                    "name it with prediction_proba=..."
                )
            score = score.reshape(len(score), -1)
            if score.shape[1] != len(spec.proba):
                raise InvalidParameterError(
                    f"validation scores have {score.shape[1]} column(s); expected "
                    f"{len(spec.proba)} ({', '.join(spec.proba)})."
                )
            frame.update({p: score[:, i] for i, p in enumerate(spec.proba)})
        validation = frame
    available = column_names(validation, what="validation")
    names = [c for c in spec.columns if c in available]
    if spec.target not in names:
        raise SchemaError(
            f"The validation data has no target column {spec.target!r} (it has "
            f"{', '.join(available[:12])})."
        )
    return to_columns(validation, schema, names, what="validation")


def segment_codes(
    data: Any, schema: Schema, column: str
) -> tuple[npt.NDArray[np.int64], list[str]]:
    """The rows' segment labels of ``column`` as codes (-1 missing) into a label list."""
    from watchkeeper._convert import column_names, to_columns
    from watchkeeper.baseline._labels import _label

    if column not in column_names(data, what="segmented"):
        raise SchemaError(f"The data has no segment column {column!r}.")
    spec = schema[column]
    kind_schema = schema if spec.kind in ("numeric", "categorical", "boolean") else None
    if kind_schema is None:
        from watchkeeper.schema import ColumnSpec, Schema

        kind_schema = Schema([ColumnSpec(column, "categorical")])
    cols = to_columns(data, kind_schema, [column], what="segmented")
    if column in cols.categorical:
        cat = cols.categorical[column]
        return cat.codes.astype(np.int64), list(cat.categories)
    values = cols.numeric[column]
    finite = np.isfinite(values)
    uniques, inverse = np.unique(np.where(finite, values, 0.0), return_inverse=True)
    return np.where(finite, inverse, -1).astype(np.int64), [_label(v) for v in uniques]


def fit_segments(
    reference: Any,
    schema: Schema,
    segments: Sequence[str] | str,
    opts: FitOptions,
    *,
    validation: Any,
    task: str | None,
    performance: Mapping[str, Any] | None = None,
    pos_label: str | None = None,
) -> dict[str, dict[str, Baseline]]:
    """One baseline per segment value with enough reference rows, and one for the rest."""
    from watchkeeper._convert import column_names, take_rows
    from watchkeeper.baseline._baseline import Baseline

    columns = [segments] if isinstance(segments, str) else list(segments)
    unknown = [c for c in columns if c not in schema]
    if unknown:
        raise SchemaError(
            f"segments names column(s) {', '.join(map(repr, unknown))} that the reference "
            "does not have."
        )
    child_options = {**opts.to_dict(), "multivariate": (), "reference_chunks": 0}
    out: dict[str, dict[str, Baseline]] = {}
    for column in columns:
        codes, labels = segment_codes(reference, schema, column)
        counts = np.bincount(codes[codes >= 0], minlength=len(labels))
        big = {labels[i] for i in np.flatnonzero(counts >= opts.segment_min_rows)}
        value_rows = _rows_by_label(codes, labels, big)
        v_rows: dict[str, Any] = {}
        if (
            validation is not None
            and not isinstance(validation, tuple)
            and column in column_names(validation, what="validation")
        ):
            v_codes, v_labels = segment_codes(validation, schema, column)
            v_rows = _rows_by_label(v_codes, v_labels, big)
        children: dict[str, Baseline] = {}
        for label, rows in value_rows.items():
            if rows.shape[0] < opts.segment_min_rows:
                continue  # too few rows pooled as "__other__" to fit a baseline on
            val = v_rows.get(label)
            children[label] = Baseline.fit(
                take_rows(reference, rows),
                schema,
                validation=take_rows(validation, val) if val is not None and val.size else None,
                task=task,
                performance=performance,
                pos_label=pos_label,
                **child_options,
            )
        out[column] = children
    return out


def _rows_by_label(
    codes: npt.NDArray[np.int64], labels: list[str], kept: set[str]
) -> dict[str, npt.NDArray[np.int64]]:
    """Row indices per kept label, and every other row (rare values, missing) as OTHER."""
    keep = np.array([lab in kept for lab in labels] + [False])
    is_kept = keep[codes]
    out = {labels[c]: np.flatnonzero(codes == c) for c in range(len(labels)) if keep[c]}
    out[OTHER] = np.flatnonzero(~is_kept)
    return out


def fit_chunk_stats(
    baseline: Baseline, reference: Any, n_rows: int, *, validated: bool = False
) -> ChunkStats | None:
    """Check values over ``reference_chunks`` chunks of the reference (in time order when the
    schema has a timestamp column), for ``compare_chunks``' learned thresholds."""
    from watchkeeper._convert import column_names, datetime_values
    from watchkeeper.monitor._run import run_checks
    from watchkeeper.monitor.chunked import reference_chunk_stats

    number = baseline.options.reference_chunks
    if n_rows < 2 * number:
        return None
    timestamp = baseline.schema.role_column("timestamp")
    times = None
    if timestamp is not None and timestamp in column_names(reference, what="reference"):
        times = datetime_values(reference, timestamp)
    from watchkeeper.monitor._thresholds import LEARNABLE_QUALITY

    # With validation data, the performance baseline is out of sample; chunks of the (training)
    # reference would centre the learned limits on in-sample metrics, so performance keeps its
    # own band there.
    checks = [*LEARNABLE_QUALITY] if validated else [*LEARNABLE_QUALITY, "performance"]

    def run(chunk: Any) -> Report:
        # Only the chunk values are kept, not their bands: a few replicates are enough.
        report = run_checks(baseline, chunk, checks=checks, performance={"n_bootstrap": 10})
        return report.filter(
            check=[c.check for c in report.checks if c.check != "performance.calibration"]
        )

    return reference_chunk_stats(
        reference,
        run=run,
        n_rows=n_rows,
        number=number,
        timestamps=times,
    )


def resolve_schema(
    reference: Any,
    schema: Schema | None,
    *,
    target: str | None,
    prediction: str | None,
    prediction_proba: str | Sequence[str] | None,
) -> Schema:
    """The schema to fit with: inferred with the given roles, or the given one checked."""
    from watchkeeper._convert import column_names
    from watchkeeper.schema import Schema

    available = column_names(reference, what="reference")
    if schema is None:
        schema = Schema.infer(
            reference, target=target, prediction=prediction, prediction_proba=prediction_proba
        )
    elif not isinstance(schema, Schema):
        raise InvalidParameterError(
            f"The 'schema' parameter of Baseline.fit must be a Schema. Got "
            f"{type(schema).__name__} instead."
        )
    else:
        roles = {
            "target": target,
            "prediction": prediction,
            "prediction_proba": prediction_proba,
        }
        given = [k for k, v in roles.items() if v is not None]
        if given:
            raise InvalidParameterError(
                f"Baseline.fit got a schema and also {', '.join(given)}=...; give the roles "
                "in the schema (or leave out the schema to infer it with these roles)."
            )
        absent = [c.name for c in schema if c.name not in available]
        if absent:
            raise SchemaError(
                f"The schema names column(s) {', '.join(map(repr, absent))} that the "
                f"reference does not have (it has {', '.join(available[:12])}"
                f"{', ...' if len(available) > 12 else ''})."
            )
    return schema


def fit_multivariate(self: Baseline, cols: Columns) -> None:
    """Fit the multivariate models of ``self.options.multivariate`` on the reference columns."""
    from watchkeeper.baseline._encode import FrameEncoder
    from watchkeeper.errors import InvalidInputError

    features = [c.name for c in self.schema.features if c.name in self.column_names]
    if len(features) < 2:
        return  # multivariate checks need at least two features; they report skipped
    opts = self.options
    self.encoder = FrameEncoder.fit(cols, features=features)
    want = max(
        opts.pca_max_rows if "pca_reconstruction" in opts.multivariate else 0,
        opts.domain_max_rows if "domain_classifier" in opts.multivariate else 0,
        opts.manifold_max_rows if "manifold" in opts.multivariate else 0,
    )
    rng = np.random.default_rng(opts.seed)
    rows = (
        np.sort(rng.choice(cols.n_rows, size=want, replace=False))
        if cols.n_rows > want
        else slice(None)
    )
    x = self.encoder.transform(cols.take(rows))
    # A feature that does not vary in the reference (a constant, an all-missing column)
    # carries no structure, and would fill the one residual dimension PCA needs.
    varying = x.std(axis=0) > 0
    if not varying.all():
        features = [f for f, keep in zip(features, varying, strict=True) if keep]
        if len(features) < 2:
            self.encoder = None
            return
        self.encoder = FrameEncoder.fit(cols, features=features)
        x = self.encoder.transform(cols.take(rows))
    try:
        if "pca_reconstruction" in opts.multivariate:
            from watchkeeper.baseline._pca import PCAReconstructionModel

            self.pca = PCAReconstructionModel.fit(
                x,
                n_components=opts.pca_n_components,
                max_rows=opts.pca_max_rows,
                seed=opts.seed,
            )
        if "domain_classifier" in opts.multivariate:
            from watchkeeper.baseline._manifold import DomainClassifierReference

            self.domain = DomainClassifierReference.fit(
                x,
                max_rows=opts.domain_max_rows,
                seed=opts.seed,
                feature_names=self.encoder.features_,
            )
        if "manifold" in opts.multivariate:
            from watchkeeper.baseline._manifold import ManifoldReference

            self.manifold = ManifoldReference.fit(
                x, max_rows=opts.manifold_max_rows, seed=opts.seed
            )
    except InvalidInputError:
        # Too small a reference for a multivariate model: its check reports skipped.
        return


def profile_task(
    cols: Columns, schema: Schema, name: str, opts: FitOptions
) -> Callable[[], Profile]:
    def one() -> Profile:
        if name in cols.numeric:
            return fit_numeric(
                name,
                cols.numeric[name],
                discrete=schema[name].discrete,
                bins=opts.bins,
                binning=opts.binning,
            )
        return fit_categorical(name, cols.categorical[name])

    return one


def fit_profiles(
    cols: Columns, schema: Schema, names: Sequence[str], opts: FitOptions, n_jobs: int | None
) -> dict[str, Profile]:
    def one(name: str) -> Profile:
        return profile_task(cols, schema, name, opts)()

    workers = n_jobs or min(len(names), os.cpu_count() or 1) or 1
    if workers > 1 and len(names) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            fitted = list(pool.map(one, names))
    else:
        fitted = [one(n) for n in names]
    return dict(zip(names, fitted, strict=True))
