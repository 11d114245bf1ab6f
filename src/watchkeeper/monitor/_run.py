"""Running the checks of one comparison: a baseline and a window in, a :class:`Report` out.

Pure: nothing is stored or sent. The work is done in this order: read the window's columns
once, per-column drift in threads (the family-wise correction spans the feature columns),
dataset drift from the column results, then the multivariate checks on the encoded window.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from watchkeeper._version import __version__
from watchkeeper.drift._options import KIND_KEYS, DriftOptions
from watchkeeper.errors import InvalidParameterError, NoCommonColumnsError, UnknownMethodError
from watchkeeper.monitor._blas import single_threaded_blas
from watchkeeper.monitor.report import Report
from watchkeeper.results import CheckResult

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import numpy.typing as npt

    from watchkeeper._frame import Columns
    from watchkeeper.baseline._baseline import Baseline, Progress
    from watchkeeper.baseline._encode import FrameEncoder

__all__ = ["CHECK_NAMES", "run_checks"]

CHECK_NAMES = (
    "drift.columns",
    "drift.dataset",
    "drift.prediction",
    "drift.target",
    "drift.pca_reconstruction",
    "drift.domain_classifier",
    "drift.manifold",
)
_FAMILIES = ("drift",)
_CHUNK_ROWS = 131_072


def _selected(checks: Sequence[str] | None) -> set[str]:
    if checks is None:
        return set(CHECK_NAMES)
    if isinstance(checks, str):
        checks = [checks]
    chosen: set[str] = set()
    for name in checks:
        if name in _FAMILIES:
            chosen.update(c for c in CHECK_NAMES if c.startswith(name + "."))
        elif name in CHECK_NAMES:
            chosen.add(name)
        else:
            raise UnknownMethodError(
                f"Unknown check {name!r}; valid checks are {', '.join(_FAMILIES + CHECK_NAMES)}."
            )
    return chosen


def run_checks(
    baseline: Baseline,
    current: Any,
    *,
    checks: Sequence[str] | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> Report:
    """Compare ``current`` with ``baseline`` and return the report (see ``Baseline.compare``)."""
    from watchkeeper._convert import column_names, to_columns
    from watchkeeper.drift.univariate import ColumnTarget, column_drift

    started = time.perf_counter()
    unknown = set(options) - set(DriftOptions.field_names())
    if unknown:
        raise InvalidParameterError(
            f"Unknown option(s) {sorted(unknown)} for compare; valid options are "
            f"{', '.join(DriftOptions.field_names())}."
        )
    opts = DriftOptions(**options)
    selected = _selected(checks)
    stray = [k for k in opts.methods if k not in KIND_KEYS and k not in baseline.column_names]
    if stray:
        raise InvalidParameterError(
            f"methods names {', '.join(map(repr, stray))}, which is neither a column of the "
            f"baseline nor a kind ({', '.join(KIND_KEYS)})."
        )

    available = column_names(current, what="current")
    schema = baseline.schema
    present = [n for n in baseline.column_names if n in available]
    if not present:
        raise NoCommonColumnsError(
            "The current data has none of the baseline's columns "
            f"(baseline: {', '.join(baseline.column_names[:10])}; current: "
            f"{', '.join(list(available)[:10])})."
        )
    if progress:
        progress("preparing the current columns")
    cols = to_columns(current, schema, present, what="current")

    results: list[CheckResult] = []
    roles = {
        "drift.columns": ("feature",),
        "drift.prediction": ("prediction", "prediction_proba"),
        "drift.target": ("target",),
    }
    wanted_roles = {r for name, rs in roles.items() if name in selected for r in rs}
    if "drift.dataset" in selected:
        wanted_roles.add("feature")
    targets = [
        ColumnTarget(n, schema[n].role, baseline, schema[n].kind)
        for n in present
        if schema[n].role in wanted_roles
    ]
    if progress:
        progress(f"checking {len(targets)} columns for drift")
    # The multivariate checks run beside the per-column work: both are numpy calls that
    # release the GIL, and neither depends on the other.
    # BLAS stays single-threaded meanwhile: its idle threads spin and would steal the cores
    # the column threads are sorting on.
    with single_threaded_blas(), ThreadPoolExecutor(max_workers=1) as side:
        multivariate = side.submit(_multivariate, baseline, cols, selected, opts)
        column_results = column_drift(targets, cols, opts) if targets else []
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
    metadata = {
        "created_at": datetime.now(UTC).isoformat(),
        "watchkeeper_version": __version__,
        "n_reference": baseline.n_reference,
        "n_current": cols.n_rows,
        "baseline_fitted_at": baseline.fitted_at,
        "columns_missing_from_current": missing,
        "options": opts.to_dict(),
        "duration_seconds": round(time.perf_counter() - started, 4),
    }
    return Report(results, metadata=metadata)


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
