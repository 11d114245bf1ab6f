"""Performance checks of a window against a :class:`PerformanceReference`.

One :class:`~watchkeeper.CheckResult` per metric (``performance.<metric>``, ``column=None``)
and, for binary tasks with scores, ``performance.calibration``.

Decision of a metric check
    ``SE = sqrt(se_window² + se_reference²)``; ``z = (baseline − value) / SE`` for a
    higher-is-better metric, ``(value − baseline) / SE`` for an error metric;
    ``p = 1 − Φ(z)`` (one-sided). With ``z_α = Φ⁻¹(1 − alpha)``:

    * ``alert`` when ``p < alpha`` and the change matters: a drop of at least ``max_drop``
      (higher-is-better), an increase of at least ``max_relative_increase`` times the baseline
      (error metrics); or when a floor is given and the value is credibly below it,
      ``value + z_α · se_window < floor`` (a ceiling: ``value − z_α · se_window > ceiling``),
      even when the baseline was no better: a floor is the user's own limit (the seed's
      "accuracy < 0.9");
    * ``warning`` when ``p < alpha`` but the change is smaller than the margin (without a
      floor, an improvement never alerts);
    * ``ok`` otherwise;
    * ``skipped`` (with the reason) when the window has no label (``"no labels in the
      window"``), fewer than ``min_rows`` labelled rows, no scores for a score metric, too few
      usable rows for the metric, or the metric is undefined in the window or on the
      reference.

    ``threshold`` is the practical limit (``baseline − max_drop``, or the floor if higher;
    ``baseline · (1 + max_relative_increase)``, or the ceiling if lower);
    ``warning_threshold`` the statistical one, the edge of the band ``baseline ∓ z_α · SE``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from watchkeeper.errors import InvalidInputError, InvalidParameterError
from watchkeeper.performance._bands import standard_errors
from watchkeeper.performance._decide import calibration_check, decide, skip
from watchkeeper.performance._inputs import ClassData, RegData, prepare
from watchkeeper.performance._metrics import Computed, compute
from watchkeeper.performance._options import METRICS, SCORE_METRICS, PerformanceOptions

if TYPE_CHECKING:
    from collections.abc import Sequence

    from watchkeeper.performance.reference import PerformanceReference
    from watchkeeper.results import CheckResult

__all__ = ["performance_checks"]


def performance_checks(
    reference: PerformanceReference,
    y_true: Any,
    y_pred: Any = None,
    y_score: Any = None,
    *,
    classes: Sequence[str] | None = None,
    options: PerformanceOptions | None = None,
) -> list[CheckResult]:
    """Compare a window's model performance with the reference (module docstring).

    Parameters
    ----------
    reference
        The fitted baseline.
    y_true, y_pred, y_score
        The window's arrays, coded like the reference's (see
        :meth:`PerformanceReference.fit`). Binary predictions derived from scores use the
        reference's ``threshold``.
    classes
        The window's class labels: the reference classes, then any labels new to it (codes at
        or above ``len(reference.classes)``). None means the reference classes.
    options
        Decision options; None uses the defaults.

    Returns
    -------
    list of CheckResult
        One result per metric of the task (in :data:`METRICS` order, restricted to
        ``options.metrics``), then ``performance.calibration`` for binary tasks.

    Raises
    ------
    InvalidInputError
        If the arrays or classes do not fit the reference.
    InvalidParameterError
        If ``options.metrics`` names a check that does not apply to the task.

    Examples
    --------
    >>> import numpy as np
    >>> from watchkeeper.performance import PerformanceReference
    >>> rng = np.random.default_rng(0)
    >>> def draw(n, drop=0.0):
    ...     eta = rng.normal(0, 2, n)
    ...     y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.int64)
    ...     flip = rng.random(n) < drop
    ...     y[flip] = 1 - y[flip]
    ...     return y, 1 / (1 + np.exp(-eta - rng.normal(0, 0.5, n)))
    >>> y, s = draw(20_000)
    >>> ref = PerformanceReference.fit("binary", ("no", "yes"), y, None, s)
    >>> y2, s2 = draw(5_000, drop=0.15)
    >>> for r in performance_checks(ref, y2, None, s2)[:2]:
    ...     print(r.check, r.status, round(r.value, 3), round(r.reference_value, 3))
    performance.accuracy alert 0.681 0.765
    performance.precision alert 0.676 0.766
    """
    options = options if options is not None else PerformanceOptions()
    task = reference.task
    window_classes = _window_classes(reference, classes)
    names = _selected(task, options)
    want_calibration = task == "binary" and options.wants("calibration")
    data = prepare(
        task,
        y_true,
        y_pred,
        y_score,
        n_classes=len(window_classes),
        n_score_classes=len(reference.classes),
        threshold=reference.threshold,
    )
    common: dict[str, Any] = {
        "n_rows": data.n_rows,
        "n_labelled": data.n_labelled,
        "label_coverage": data.n_labelled / data.n_rows if data.n_rows else None,
    }
    all_names = [*names, "calibration"] if want_calibration else names
    if data.n_labelled == 0:
        return [skip(reference, n, "no labels in the window", common) for n in all_names]
    if data.n_labelled < options.min_rows:
        few = (
            f"only {data.n_labelled} labelled rows in the window; at least "
            f"{options.min_rows} are needed"
        )
        return [skip(reference, n, few, common) for n in all_names]
    computed = compute(data)
    reasons = {n: _skip_reason(reference, data, computed, n, options) for n in names}
    bands = standard_errors(
        data,
        computed,
        [n for n in names if reasons[n] is None],
        bootstrap_below=options.bootstrap_below,
        n_bootstrap=options.n_bootstrap,
        seed=options.seed,
    )
    results = []
    for name in names:
        reason = reasons[name]
        if reason is None:
            results.append(
                decide(reference, name, computed, bands[name], options, common, window_classes)
            )
        else:
            value = computed.values.get(name)
            results.append(skip(reference, name, reason, common, value, computed))
    if want_calibration:
        results.append(calibration_check(reference, data, computed, options, common))
    return results


def _window_classes(
    reference: PerformanceReference, classes: Sequence[str] | None
) -> tuple[str, ...]:
    if classes is None:
        return reference.classes
    out = tuple(classes)
    k = len(reference.classes)
    if (
        isinstance(classes, str)
        or out[:k] != reference.classes
        or len(set(out)) != len(out)
        or not all(isinstance(c, str) for c in out)
        or (reference.task == "regression" and out)
    ):
        raise InvalidInputError(
            "The window's 'classes' must be the reference classes "
            f"{list(reference.classes)!r} followed by any distinct labels new to it. "
            f"Got {list(out)!r} instead."
        )
    return out


def _selected(task: str, options: PerformanceOptions) -> list[str]:
    if options.metrics is not None:
        valid = (*METRICS[task], "calibration") if task == "binary" else METRICS[task]
        bad = [m for m in options.metrics if m not in valid]
        if bad:
            raise InvalidParameterError(
                f"The 'metrics' parameter of PerformanceOptions names {bad!r}, which do not "
                f"apply to a {task} task; its checks are {', '.join(valid)}."
            )
    return [m for m in METRICS[task] if options.wants(m)]


def _skip_reason(
    reference: PerformanceReference,
    data: ClassData | RegData,
    computed: Computed,
    name: str,
    options: PerformanceOptions,
) -> str | None:
    if name in SCORE_METRICS and not reference.has_scores:
        return f"the reference has no scores, so {name} has no baseline"
    if name in SCORE_METRICS and isinstance(data, ClassData) and not data.has_scores:
        return f"the window has no scores (y_score is None), so {name} cannot be computed"
    if name in computed.undefined:
        return f"{name} is undefined in the window: {computed.undefined[name]}"
    if name not in reference.metrics:
        why = reference.undefined.get(name, "not computed")
        return f"{name} is undefined on the reference: {why}"
    if (
        name == "mape"
        and isinstance(data, RegData)
        and (bool(np.any(data.true == 0.0)) or reference.metrics["mape"] > 1e9)
    ):
        return (
            "mape is not meaningful with zero targets (each adds |error| / 2.2e-16, as in "
            "scikit-learn); use mae"
        )
    used = computed.n_used.get(name, 0)
    if used < options.min_rows:
        what = _DENOMINATORS.get(name, "rows usable")
        return f"only {used} {what} for {name}; at least {options.min_rows} are needed"
    return None


_DENOMINATORS = {
    "precision": "predicted positives",
    "recall": "actual positives",
    "f1": "actual or predicted positives",
    "roc_auc": "rows of the rarer class",
    "average_precision": "rows of the rarer class",
    "precision_macro": "rows of the rarest class",
    "recall_macro": "rows of the rarest class",
    "f1_macro": "rows of the rarest class",
}
