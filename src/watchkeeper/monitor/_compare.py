"""The library one-liner: ``watchkeeper.compare(reference, current)``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from watchkeeper.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from watchkeeper.baseline._baseline import Progress
    from watchkeeper.monitor.report import Report
    from watchkeeper.schema import Schema

__all__ = ["compare"]


def compare(
    reference: Any,
    current: Any,
    schema: Schema | None = None,
    *,
    checks: Sequence[str] | None = None,
    target: str | None = None,
    prediction: str | None = None,
    prediction_proba: str | Sequence[str] | None = None,
    progress: Progress | None = None,
    n_jobs: int | None = None,
    validation: Any = None,
    pos_label: str | None = None,
    quality: Mapping[str, Any] | None = None,
    performance: Mapping[str, Any] | None = None,
    **options: Any,
) -> Report:
    """Compare a window of data with reference data in one call.

    Equivalent to ``Baseline.fit(reference, schema, ...).compare(current, ...)``: options are
    routed to the fit (``bins``, ``binning``, ``multivariate``, ``pca_*``...) or to the
    comparison (``alpha``, ``correction``, ``delta_numeric``, ``methods``...) by name.

    Parameters
    ----------
    reference, current
        pandas DataFrames, pyarrow Tables, polars DataFrames or mappings of columns.
    schema
        Column kinds and roles; inferred from ``reference`` when None.
    checks
        Which checks to run (default: all: drift, quality, performance); see
        ``Baseline.compare``.
    target, prediction, prediction_proba
        With an inferred schema: the columns with those roles.
    validation, pos_label
        As for ``Baseline.fit``: labelled validation data for the performance baseline, and
        the positive class of a binary target with labels other than 0/1, False/True, no/yes.
    quality, performance
        Options of the data-quality and performance checks, as for ``Baseline.compare``.

    Returns
    -------
    Report
        One ``CheckResult`` per column and per dataset-level check, with a summary.

    Examples
    --------
    >>> import watchkeeper
    >>> from watchkeeper.datasets import churn
    >>> ref = churn(20_000, seed=1)
    >>> cur = churn(20_000, seed=2, scenario="covariate_drift", drift_columns=["monthly_charges"])
    >>> report = watchkeeper.compare(ref, cur, target="churned")
    >>> [c.column for c in report.checks if c.status == "alert" and c.column]
    ['monthly_charges']
    """
    from watchkeeper.baseline._baseline import Baseline
    from watchkeeper.baseline._options import FitOptions
    from watchkeeper.drift._options import DriftOptions

    fit_names = set(FitOptions.field_names())
    drift_names = set(DriftOptions.field_names())
    unknown = set(options) - fit_names - drift_names
    if unknown:
        raise InvalidParameterError(
            f"Unknown option(s) {sorted(unknown)} for compare; valid options are "
            f"{', '.join(sorted(fit_names | drift_names))}."
        )
    baseline = Baseline.fit(
        reference,
        schema,
        target=target,
        prediction=prediction,
        prediction_proba=prediction_proba,
        progress=progress,
        n_jobs=n_jobs,
        # Each column is fitted in the thread task that compares it, and its reference is
        # dropped right after: the baseline serves this one comparison.
        lazy=True,
        transient=True,
        validation=validation,
        pos_label=pos_label,
        **{k: v for k, v in options.items() if k in fit_names},
    )
    return baseline.compare(
        current,
        checks=checks,
        progress=progress,
        n_jobs=n_jobs,
        quality=quality,
        performance=performance,
        **{k: v for k, v in options.items() if k in drift_names},
    )
