"""Running the checks of one comparison: a baseline and a window in, a :class:`Report` out.

Pure: nothing is stored or sent. The work is done in this order: read the window's columns
once, per-column drift in threads (the family-wise correction spans the feature columns),
dataset drift from the column results, then the multivariate checks on the encoded window.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from watchkeeper._version import __version__
from watchkeeper.drift._options import KIND_KEYS, DriftOptions
from watchkeeper.drift.univariate import ColumnTarget, column_drift
from watchkeeper.errors import (
    EmptyInputError,
    InvalidParameterError,
    NoCommonColumnsError,
    UnknownMethodError,
)
from watchkeeper.monitor._blas import single_threaded_blas
from watchkeeper.monitor.report import Report
from watchkeeper.results import CheckResult

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt

    from watchkeeper._frame import Columns
    from watchkeeper.baseline._baseline import Baseline, Progress
    from watchkeeper.baseline._encode import FrameEncoder
    from watchkeeper.drift.univariate import Also
    from watchkeeper.performance import PerformanceOptions
    from watchkeeper.quality._options import QualityOptions

__all__ = ["CHECK_NAMES", "DRIFT_CHECKS", "run_checks"]

DRIFT_CHECKS = (
    "drift.columns",
    "drift.dataset",
    "drift.prediction",
    "drift.target",
    "drift.pca_reconstruction",
    "drift.domain_classifier",
    "drift.manifold",
)
QUALITY_COLUMN_CHECKS = (
    "quality.missing_rate",
    "quality.non_finite",
    "quality.outlier_rate",
    "quality.out_of_range",
    "quality.type_violations",
    "quality.constant",
    "quality.unseen_categories",
    "quality.cardinality",
)
QUALITY_DATASET_CHECKS = (
    "quality.missing_columns",
    "quality.unexpected_columns",
    "quality.duplicate_rows",
    "quality.empty_window",
)
CHECK_NAMES = DRIFT_CHECKS + QUALITY_COLUMN_CHECKS + QUALITY_DATASET_CHECKS
_FAMILIES = ("drift", "quality", "performance")
_CHUNK_ROWS = 131_072


def _selected(checks: Sequence[str] | None) -> tuple[set[str], tuple[str, ...] | None]:
    """The selected check names, and the performance metrics asked for by name (None: all)."""
    if checks is None:
        return set(CHECK_NAMES) | {"performance"}, None
    if isinstance(checks, str):
        checks = [checks]
    chosen: set[str] = set()
    metrics: list[str] = []
    for name in checks:
        if name in _FAMILIES:
            chosen.update(c for c in CHECK_NAMES if c.startswith(name + "."))
            if name == "performance":
                chosen.add("performance")
        elif name in CHECK_NAMES:
            chosen.add(name)
        elif name.startswith("performance.") and name.count(".") == 1:
            metrics.append(name.removeprefix("performance."))
        else:
            raise UnknownMethodError(
                f"Unknown check {name!r}; valid checks are {', '.join(_FAMILIES + CHECK_NAMES)} "
                "and performance.<metric>."
            )
    if metrics and "performance" not in chosen:
        chosen.add("performance")
        return chosen, tuple(metrics)
    return chosen, None


def _n_rows(data: Any) -> int:
    from watchkeeper._convert import n_rows_of, to_pandas

    n = n_rows_of(data)
    return len(to_pandas(data)) if n is None else n


def run_checks(
    baseline: Baseline,
    current: Any,
    *,
    checks: Sequence[str] | None = None,
    progress: Progress | None = None,
    quality: Mapping[str, Any] | QualityOptions | None = None,
    performance: Mapping[str, Any] | PerformanceOptions | None = None,
    **options: Any,
) -> Report:
    """Compare ``current`` with ``baseline`` and return the report (see ``Baseline.compare``)."""
    from watchkeeper._convert import column_names, to_columns

    started = time.perf_counter()
    unknown = set(options) - set(DriftOptions.field_names())
    if unknown:
        raise InvalidParameterError(
            f"Unknown option(s) {sorted(unknown)} for compare; valid options are "
            f"{', '.join(DriftOptions.field_names())}, quality={{...}} and performance={{...}}."
        )
    opts = DriftOptions(**options)
    selected, metrics = _selected(checks)
    qopts = _quality_options(quality)
    popts = _performance_options(performance, metrics)
    stray = [k for k in opts.methods if k not in KIND_KEYS and k not in baseline.column_names]
    if stray:
        raise InvalidParameterError(
            f"methods names {', '.join(map(repr, stray))}, which is neither a column of the "
            f"baseline nor a kind ({', '.join(KIND_KEYS)})."
        )
    qopts.check_keys(baseline.column_names)

    available = column_names(current, what="current")
    schema = baseline.schema
    present = [n for n in baseline.column_names if n in available]
    if not present:
        raise NoCommonColumnsError(
            "The current data has none of the baseline's columns "
            f"(baseline: {', '.join(baseline.column_names[:10])}; current: "
            f"{', '.join(list(available)[:10])})."
        )
    metadata: dict[str, Any] = {
        "created_at": datetime.now(UTC).isoformat(),
        "watchkeeper_version": __version__,
        "n_reference": baseline.n_reference,
        "n_current": 0,
        "baseline_fitted_at": baseline.fitted_at,
        "columns_missing_from_current": [],
        "options": opts.to_dict(),
        "quality_options": qopts.to_dict(),
        "performance_options": popts.to_dict(),
    }
    quality_selected = [c for c in QUALITY_COLUMN_CHECKS if c in selected]
    results: list[CheckResult] = []
    n_rows = _n_rows(current)
    if n_rows == 0:
        from watchkeeper.quality.checks import empty_window

        if "quality.empty_window" not in selected:
            raise EmptyInputError("The current data has no rows.")
        metadata["duration_seconds"] = round(time.perf_counter() - started, 4)
        return Report([empty_window(0)], metadata=metadata)
    if progress:
        progress("preparing the current columns")
    cols = to_columns(current, schema, present, what="current", coerce=True)

    roles = {
        "drift.columns": ("feature",),
        "drift.prediction": ("prediction", "prediction_proba"),
        "drift.target": ("target",),
    }
    wanted_roles = {r for name, rs in roles.items() if name in selected for r in rs}
    if "drift.dataset" in selected:
        wanted_roles.add("feature")
    targets = [
        ColumnTarget(n, schema[n].role, baseline, schema[n].kind, schema[n].role in wanted_roles)
        for n in present
        if schema[n].role in wanted_roles or quality_selected
    ]
    also = _quality_task(baseline, cols, qopts, set(quality_selected)) if quality_selected else None
    if progress:
        progress(f"checking {len(targets)} columns")
    # The multivariate checks run beside the per-column work: both are numpy calls that
    # release the GIL, and neither depends on the other.
    # BLAS stays single-threaded meanwhile: its idle threads spin and would steal the cores
    # the column threads are sorting on.
    with single_threaded_blas(), ThreadPoolExecutor(max_workers=1) as side:
        multivariate = side.submit(_multivariate, baseline, cols, selected, opts)
        column_results, quality_results = (
            column_drift(targets, cols, opts, also=also) if targets else ([], [])
        )
        multivariate_results = multivariate.result()
    missing = [
        n for n in baseline.column_names if n not in available and schema[n].role in wanted_roles
    ]
    column_results += [_missing_column(n, schema[n].role) for n in missing]
    unchecked = [
        c.name
        for c in schema.features
        if c.kind in ("text", "datetime") and "drift.columns" in selected
    ]
    column_results += [_unsupported(n, schema[n].kind) for n in unchecked]
    feature_results = [r for r in column_results if r.details.get("role", "feature") == "feature"]
    if "drift.columns" in selected:
        results += column_results
    else:
        results += [r for r in column_results if r.details.get("role") != "feature"]
    if "drift.dataset" in selected:
        from watchkeeper.drift.dataset import dataset_drift

        results.append(dataset_drift(feature_results, share=opts.dataset_drift_share))
    results += multivariate_results
    from watchkeeper.quality.checks import correct_family

    results += correct_family(
        quality_results + _dataset_quality(baseline, cols, available, qopts, selected), qopts
    )
    if "performance" in selected:
        results += _performance(baseline, cols, popts)
    metadata["n_current"] = cols.n_rows
    metadata["columns_missing_from_current"] = missing
    metadata["duration_seconds"] = round(time.perf_counter() - started, 4)
    return Report(results, metadata=metadata)


def _family_options(family: str, value: Any, cls: Any) -> Any:
    """``value`` (None, a mapping of options, or an options object) as a ``cls`` object."""
    if isinstance(value, cls):
        return value
    if value is not None and not isinstance(value, Mapping):
        raise InvalidParameterError(
            f"The {family!r} parameter of compare must be a mapping of {family} options. Got "
            f"{type(value).__name__} instead."
        )
    unknown = set(value or {}) - set(cls.field_names())
    if unknown:
        raise InvalidParameterError(
            f"Unknown {family} option(s) {sorted(unknown)}; valid options are "
            f"{', '.join(cls.field_names())}."
        )
    return cls(**(value or {}))


def _quality_options(value: Mapping[str, Any] | QualityOptions | None) -> QualityOptions:
    from watchkeeper.quality._options import QualityOptions

    out: QualityOptions = _family_options("quality", value, QualityOptions)
    return out


def _performance_options(
    value: Mapping[str, Any] | PerformanceOptions | None, metrics: tuple[str, ...] | None
) -> PerformanceOptions:
    from dataclasses import replace

    from watchkeeper.performance import PerformanceOptions

    out: PerformanceOptions = _family_options("performance", value, PerformanceOptions)
    return replace(out, metrics=metrics) if metrics is not None else out


def _quality_task(
    baseline: Baseline, cols: Columns, qopts: QualityOptions, wanted: set[str]
) -> Also:
    from watchkeeper.quality.checks import column_quality

    ref = baseline.dataset_reference
    ref_dtypes = ref.dtypes if ref is not None else {}

    def task(target: ColumnTarget, prof: Any, prepared: Any) -> list[CheckResult]:
        found = column_quality(
            target.name,
            target.kind,
            prof,
            prepared,
            qopts,
            type_errors=cols.type_errors.get(target.name),
            dtype=cols.dtypes.get(target.name),
            reference_dtype=ref_dtypes.get(target.name),
        )
        return [r for r in found if r.check in wanted]

    return task


def _dataset_quality(
    baseline: Baseline,
    cols: Columns,
    available: Sequence[str],
    qopts: QualityOptions,
    selected: set[str],
) -> list[CheckResult]:
    wanted = [c for c in QUALITY_DATASET_CHECKS if c in selected]
    if not wanted:
        return []
    from watchkeeper.quality._rows import row_hashes
    from watchkeeper.quality.checks import dataset_quality, empty_window

    schema = baseline.schema
    ref = baseline.dataset_reference
    hashes = None
    if ref is not None and all(c in cols for c in ref.columns):
        hashes = row_hashes(cols, ref.columns)
    found = dataset_quality(
        n_rows=cols.n_rows,
        expected_columns=[c.name for c in schema.features],
        present=list(available),
        unexpected=[c for c in available if c not in schema],
        reference=ref,
        hashes=hashes,
        options=qopts,
    )
    found.append(empty_window(cols.n_rows))
    return [r for r in found if r.check in wanted]


def _performance(baseline: Baseline, cols: Columns, popts: PerformanceOptions) -> list[CheckResult]:
    spec, reference = baseline.labels, baseline.performance
    if spec is None or reference is None:
        return []
    from watchkeeper.performance import performance_checks

    labels = spec.encode(cols)
    if labels.y_pred is None and labels.y_score is None:
        return [
            CheckResult(
                check=f"performance.{name}",
                column=None,
                value=None,
                reference_value=value,
                status="skipped",
                reason="the window has neither the prediction nor the score column",
            )
            for name, value in reference.metrics.items()
            if popts.wants(name)
        ]
    y_true = labels.y_true
    if y_true is None:  # no target column in the window: no labels have arrived
        y_true = (
            np.full(cols.n_rows, np.nan)
            if spec.task == "regression"
            else np.full(cols.n_rows, -1, dtype=np.int64)
        )
    return performance_checks(
        reference,
        y_true,
        labels.y_pred,
        labels.y_score,
        classes=labels.classes,
        options=popts,
    )


def _missing_column(name: str, role: str) -> CheckResult:
    return CheckResult(
        check="drift.column",
        column=name,
        value=None,
        status="skipped",
        reason="column is missing from the current data",
        details={"role": role},
    )


def _unsupported(name: str, kind: str) -> CheckResult:
    return CheckResult(
        check=f"drift.{kind}",
        column=name,
        value=None,
        status="skipped",
        reason=f"{kind} columns are not checked for drift yet",
        details={"role": "feature", "kind": kind},
    )


def _multivariate(
    baseline: Baseline, cols: Columns, selected: set[str], opts: DriftOptions
) -> list[CheckResult]:
    from watchkeeper.drift import multivariate as mv

    baseline.ensure_multivariate()
    fitted = {
        "drift.pca_reconstruction": baseline.pca,
        "drift.domain_classifier": baseline.domain,
        "drift.manifold": baseline.manifold,
    }
    asked = [
        name
        for name in fitted
        if name in selected and name.removeprefix("drift.") in baseline.options.multivariate
    ]
    if not asked:
        return []
    encoder = baseline.encoder
    missing = [] if encoder is None else [f for f in encoder.features_ if f not in cols]
    out: list[CheckResult] = []
    if encoder is None or missing:
        why = (
            f"features missing from the current data: {', '.join(missing)}"
            if missing
            else "the baseline has no multivariate model (fewer than two features, or a "
            "reference too small to fit one)"
        )
        return [
            CheckResult(check=n, column=None, value=None, status="skipped", reason=why)
            for n in asked
        ]
    x: npt.NDArray[np.float64] | None = None
    for name in asked:
        model = fitted[name]
        if model is None:
            out.append(
                CheckResult(
                    check=name,
                    column=None,
                    value=None,
                    status="skipped",
                    reason="the reference was too small to fit this model",
                )
            )
        elif name == "drift.pca_reconstruction":
            out.append(_pca(baseline, encoder, cols, opts))
        else:
            # The opt-in methods subsample the window; encode it once for both.
            x = encoder.transform(cols) if x is None else x
            if name == "drift.domain_classifier":
                out.append(mv.domain_classifier(model, x, seed=opts.seed))  # type: ignore[arg-type]
            else:
                out.append(mv.manifold(model, x, seed=opts.seed, alpha=opts.alpha))  # type: ignore[arg-type]
    return out


def _pca(
    baseline: Baseline, encoder: FrameEncoder, cols: Columns, opts: DriftOptions
) -> CheckResult:
    """PCA reconstruction error, encoding and measuring the window chunk by chunk."""
    from watchkeeper.drift.multivariate import pca_reconstruction_from_errors

    model = baseline.pca
    assert model is not None
    total, n = 0.0, 0
    for start in range(0, cols.n_rows, _CHUNK_ROWS):
        chunk = cols.take(slice(start, start + _CHUNK_ROWS))
        t, m = model.error_total(encoder.transform(chunk))
        total += t
        n += m
    return pca_reconstruction_from_errors(
        model, total=total, n=n, n_rows=cols.n_rows, k=opts.pca_k, warning_k=opts.pca_warning_k
    )
