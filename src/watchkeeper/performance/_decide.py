"""Turn a measured metric (or the calibration test) into a :class:`~watchkeeper.CheckResult`.

The decision rule is documented in :mod:`watchkeeper.performance.checks`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from scipy import special

from watchkeeper.performance._calibration import MIN_BIN_ROWS, calibration_test
from watchkeeper.performance._inputs import ClassData, RegData
from watchkeeper.performance._options import CHECK_NAMES, PerformanceOptions, metric_direction
from watchkeeper.results import CheckResult, Status

if TYPE_CHECKING:
    from watchkeeper.performance._bands import Band
    from watchkeeper.performance._metrics import Computed
    from watchkeeper.performance.reference import PerformanceReference

__all__ = ["calibration_check", "decide", "skip"]


def _base_details(name: str, common: dict[str, Any]) -> dict[str, Any]:
    """The details every metric result carries: direction, rows, label coverage."""
    return {"direction": metric_direction(name), **common}


def skip(
    reference: PerformanceReference,
    name: str,
    reason: str,
    common: dict[str, Any],
    value: float | None = None,
    computed: Computed | None = None,
) -> CheckResult:
    """A ``skipped`` result for check ``name``, with the reason (and the value, if any)."""
    details = {**common} if name == "calibration" else _base_details(name, common)
    n_ref = reference.n_used.get(name, 0)
    if name == "calibration" and reference.calibration is not None:
        n_ref = int(reference.calibration.counts.sum())
    return CheckResult(
        check=f"performance.{name}",
        column=None,
        value=value,
        reference_value=reference.metrics.get(name),
        status="skipped",
        reason=_sentence(reason),
        n=computed.n_used.get(name, 0) if computed is not None else 0,
        n_reference=n_ref,
        details=details,
    )


def decide(
    reference: PerformanceReference,
    name: str,
    computed: Computed,
    band: Band,
    options: PerformanceOptions,
    common: dict[str, Any],
    labels: tuple[str, ...],
) -> CheckResult:
    """Decide one metric check from its window value and SE against the baseline's."""
    value, base = computed.values[name], reference.metrics[name]
    se_w, se_r = band.se, reference.se.get(name, math.nan)
    details = _base_details(name, common)
    if math.isnan(se_w) or math.isnan(se_r):
        return skip(
            reference,
            name,
            f"the standard error of {name} could not be estimated",
            common,
            value,
            computed,
        )
    higher = details["direction"] == "higher_is_better"
    method = band.method
    if name in _RATES and 0.0 < base < 1.0:
        # A score test: the window's rate is judged by its sampling error under the baseline
        # rate, not at its own value (0 of 3 positives recalled would have an error of 0).
        se_w = math.sqrt(base * (1.0 - base) / max(computed.n_used.get(name, 0), 1))
        method = "binomial_at_baseline"
    se = math.hypot(se_w, se_r)
    worse_by = (base - value) if higher else (value - base)
    z = worse_by / se if se > 0 else math.copysign(math.inf, worse_by) if worse_by else 0.0
    p = float(special.ndtr(-z))
    if name in _RATES and 0.0 < base < 1.0:
        # The normal approximation is optimistic on small windows: the exact binomial tail
        # at the baseline rate must agree.
        d = max(computed.n_used.get(name, 0), 1)
        p = max(p, float(special.bdtr(math.floor(value * d + 1e-9), d, base)))
    z_a = float(special.ndtri(1.0 - options.alpha))
    limit = options.floors.get(name)
    if higher:
        practical = base - options.max_drop
        matters = worse_by >= options.max_drop
        threshold = practical if limit is None else max(practical, limit)
        breach = limit is not None and value + z_a * se_w < limit
        margin = f"drop of {options.max_drop:g}"
    else:
        practical = base * (1.0 + options.max_relative_increase)
        matters = worse_by > 0 and worse_by >= options.max_relative_increase * abs(base)
        threshold = practical if limit is None else min(practical, limit)
        breach = limit is not None and value - z_a * se_w > limit
        margin = f"{options.max_relative_increase:.0%} increase"
    significant = p < options.alpha
    moved = f"{name} {_moved(higher, worse_by)} from {base:.4g} to {value:.4g}"
    test = f"significant (p = {p:.2g} < {options.alpha:g})"
    status: Status = "ok"
    if significant and matters:
        status, reason = "alert", f"{moved}: {test} and at least the {margin} that matters"
    elif breach:
        # A floor is the user's own limit: below it is unacceptable, even when the baseline
        # was no better.
        status, reason = "alert", _beyond(name, value, limit, higher, se_w, z_a)
    elif significant:
        status, reason = "warning", f"{moved}: {test} but less than the {margin} that matters"
    elif worse_by < 0:
        reason = f"{name} improved from {base:.4g} to {value:.4g}"
    else:
        reason = f"{name} {value:.4g} is within the band of the baseline {base:.4g} (p = {p:.2g})"
    details.update(
        se=se_w,
        se_reference=se_r,
        se_combined=se,
        z=z,
        band_lower=base - z_a * se,
        band_upper=base + z_a * se,
        band_method=method,
        band_method_reference=reference.methods.get(name),
        floor=limit,
        alpha=options.alpha,
    )
    if name == "accuracy" and computed.confusion is not None:
        details["confusion_matrix"] = computed.confusion
        details["confusion_labels"] = list(labels)
    return CheckResult(
        check=f"performance.{name}",
        column=None,
        value=value,
        reference_value=base,
        p_value=p,
        threshold=threshold,
        warning_threshold=base - z_a * se if higher else base + z_a * se,
        status=status,
        reason=_sentence(reason),
        n=computed.n_used.get(name, 0),
        n_reference=reference.n_used.get(name, 0),
        details=details,
    )


_RATES = frozenset({"accuracy", "precision", "recall"})


def _sentence(text: str) -> str:
    """End with a period; capitalise unless the sentence opens with a metric name."""
    if text.split(" ", 1)[0] not in CHECK_NAMES:
        text = text[0].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def _moved(higher: bool, worse_by: float) -> str:
    return "fell" if (worse_by > 0) == higher else "rose"


def _beyond(
    name: str, value: float, limit: float | None, higher: bool, se_w: float, z_a: float
) -> str:
    if higher:
        return (
            f"{name} {value:.4g} is credibly below its floor {limit:g} (upper bound "
            f"{value + z_a * se_w:.4g})"
        )
    return (
        f"{name} {value:.4g} is credibly above its ceiling {limit:g} (lower bound "
        f"{value - z_a * se_w:.4g})"
    )


def calibration_check(
    reference: PerformanceReference,
    data: ClassData | RegData,
    computed: Computed,
    options: PerformanceOptions,
    common: dict[str, Any],
) -> CheckResult:
    """The ``performance.calibration`` result of a binary window (see ``_calibration``)."""
    ref = reference.calibration
    if ref is None:
        return skip(reference, "calibration", "the reference has no scores to calibrate", common)
    if isinstance(data, ClassData) and not data.has_scores:
        return skip(reference, "calibration", "the window has no scores (y_score is None)", common)
    ranks = computed.ranks
    n = 0 if ranks is None else int(ranks.sorted_scores.shape[0])
    if ranks is None or n < options.min_rows:
        reason = (
            f"only {n} labelled rows have a finite score; at least {options.min_rows} are needed"
        )
        return skip(reference, "calibration", reason, common)
    result = calibration_test(ref, ranks)
    details: dict[str, Any] = {
        **common,
        "edges": ref.edges,
        "reference_counts": ref.counts,
        "reference_rates": ref.rates,
        "window_counts": result.counts,
        "window_rates": result.rates,
        "bins_used": result.used,
        "statistic": result.statistic,
        "df": result.df,
        "min_bin_rows": MIN_BIN_ROWS,
    }
    n_ref = int(ref.counts.sum())
    if result.df == 0:
        return CheckResult(
            check="performance.calibration",
            column=None,
            value=None,
            status="skipped",
            reason=(
                f"No score bin holds at least {MIN_BIN_ROWS} rows in both the reference and "
                "the window with both labels present."
            ),
            n=n,
            n_reference=n_ref,
            details=details,
        )
    p, value = result.p_value, result.max_difference
    significant = p < options.alpha
    status: Status = "ok"
    if significant and value >= options.calibration_delta:
        status = "alert"
        reason = (
            f"The label rate per score bin moved by up to {value:.3g}: significant "
            f"(p = {p:.2g} < {options.alpha:g}) and at least {options.calibration_delta:g}"
        )
    elif significant:
        status = "warning"
        reason = (
            f"The label rate per score bin moved by up to {value:.3g}: significant "
            f"(p = {p:.2g} < {options.alpha:g}) but less than {options.calibration_delta:g}"
        )
    else:
        reason = (
            "The label rate per score bin matches the reference (largest difference "
            f"{value:.3g}, p = {p:.2g})"
        )
    return CheckResult(
        check="performance.calibration",
        column=None,
        value=value,
        reference_value=0.0,  # the reference's rates differ from themselves by nothing
        p_value=p,
        threshold=options.calibration_delta,
        status=status,
        reason=reason + ".",
        n=n,
        n_reference=n_ref,
        details=details,
    )
