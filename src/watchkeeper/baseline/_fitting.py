"""The parts of :meth:`Baseline.fit` beyond column profiles: labels and the performance
baseline, per-segment baselines, and the reference-chunk statistics behind learned thresholds.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from watchkeeper.errors import InvalidParameterError, SchemaError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

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


def fit_labels(
    schema: Schema,
    cols: Columns,
    *,
    validation: Any,
    task: str | None,
    performance: Mapping[str, Any] | None,
) -> tuple[LabelSpec | None, PerformanceReference | None]:
    """The label columns and the performance baseline (on ``validation``, else the reference)."""
    from watchkeeper.baseline._labels import infer_label_spec
    from watchkeeper.performance import PerformanceOptions, PerformanceReference

    spec = infer_label_spec(schema, cols, task)
    if spec is None:
        if validation is not None:
            raise InvalidParameterError(
                "Baseline.fit got validation data but the reference has no target column; "
                "name it with target=... (or a schema role) so windows can be scored."
            )
        return None, None
    if validation is not None:
        labels = spec.encode(_validation_columns(validation, schema, spec))
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


def fit_chunk_stats(baseline: Baseline, reference: Any, n_rows: int) -> ChunkStats | None:
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

    checks = [*LEARNABLE_QUALITY, "performance"]

    def run(chunk: Any) -> Report:
        report = run_checks(baseline, chunk, checks=checks)
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
