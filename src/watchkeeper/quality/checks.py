"""Data-quality checks of one window against the reference: pure functions, results out.

Per column (numeric): ``quality.missing_rate``, ``quality.non_finite``, ``quality.outlier_rate``,
``quality.out_of_range``, ``quality.type_violations``, ``quality.constant``; (categorical and
boolean): ``quality.missing_rate``, ``quality.unseen_categories``, ``quality.cardinality``,
``quality.type_violations``, ``quality.constant``. Per window: ``quality.missing_columns``,
``quality.unexpected_columns``, ``quality.duplicate_rows``, ``quality.empty_window``.

The column checks work on the window column as the drift pass prepared it (sorted finite
values, or category counts aligned with the reference), so counting a rate is a binary search
or a sum, not another pass over the data. See :mod:`watchkeeper.quality._options` for the
decision rule and its margins.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from watchkeeper.baseline._profiles import (
    CategoricalProfile,
    NumericProfile,
    PreparedCategorical,
    PreparedNumeric,
    top_count,
)
from watchkeeper.quality._dataset import dataset_quality, empty_window
from watchkeeper.quality._rates import binom_sf, correct_family, fisher_sf, rate_check
from watchkeeper.results import CheckResult

if TYPE_CHECKING:
    from watchkeeper._frame import TypeErrors
    from watchkeeper.quality._options import QualityOptions

__all__ = ["column_quality", "correct_family", "dataset_quality", "empty_window", "fences"]

_FAMILY_OF_KIND = {"numeric": "numeric", "categorical": "string", "boolean": "boolean"}


def fences(prof: NumericProfile, options: QualityOptions) -> tuple[float, float]:
    """The outlier fences of a numeric column: quartiles ± k·IQR, or mean ± z·SD."""
    if options.outlier_rule == "zscore":
        return prof.mean - options.z * prof.std, prof.mean + options.z * prof.std
    q = dict(zip((0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99), prof.quantiles, strict=True))
    iqr = q[0.75] - q[0.25]
    return q[0.25] - options.iqr_k * iqr, q[0.75] + options.iqr_k * iqr


def _outside(s: np.ndarray[Any, Any], low: float | None, high: float | None) -> tuple[int, int]:
    """Counts of sorted values strictly below ``low`` and strictly above ``high``."""
    below = int(np.searchsorted(s, low, side="left")) if low is not None else 0
    above = s.shape[0] - int(np.searchsorted(s, high, side="right")) if high is not None else 0
    return below, above


def _examples(s: np.ndarray[Any, Any], below: int, above: int, count: int) -> list[float]:
    """The most extreme offending values of a sorted array, lowest first then highest."""
    take_low = min(below, (count + 1) // 2 if above else count)
    take_high = min(above, count - take_low)
    picked = s[:take_low].tolist() + (s[s.shape[0] - take_high :].tolist() if take_high else [])
    return [float(v) for v in picked]


def column_quality(
    name: str,
    kind: str,
    prof: NumericProfile | CategoricalProfile,
    prepared: PreparedNumeric | PreparedCategorical,
    options: QualityOptions,
    *,
    type_errors: TypeErrors | None = None,
    dtype: str | None = None,
    reference_dtype: str | None = None,
) -> list[CheckResult]:
    """Every column-level quality check of one column (see the module docstring).

    Values that were not numbers were read as missing; they count as type violations, not as
    missing values.
    """
    out = [
        rate_check(
            "quality.missing_rate",
            name,
            k=prepared.n_missing - (type_errors.count if type_errors is not None else 0),
            n=prepared.n,
            expected=prof.n_missing / prof.n if prof.n else 0.0,
            margin=options.margin("missing_rate", name, kind),
            options=options,
            what="missing values",
            n_reference=prof.n,
            reference_count=prof.n_missing,
        )
    ]
    if isinstance(prof, NumericProfile) and isinstance(prepared, PreparedNumeric):
        out += _numeric_checks(name, kind, prof, prepared, options)
    elif isinstance(prof, CategoricalProfile) and isinstance(prepared, PreparedCategorical):
        out += _categorical_checks(name, kind, prof, prepared, options)
    out.append(_type_check(name, kind, prepared.n, type_errors, dtype, reference_dtype, options))
    return out


def _numeric_checks(
    name: str, kind: str, prof: NumericProfile, cur: PreparedNumeric, options: QualityOptions
) -> list[CheckResult]:
    out = [
        rate_check(
            "quality.non_finite",
            name,
            k=cur.n_inf,
            n=cur.n,
            expected=prof.n_inf / prof.n if prof.n else 0.0,
            margin=options.margin("non_finite", name, kind),
            options=options,
            what="infinite values",
            n_reference=prof.n,
            reference_count=prof.n_inf,
        )
    ]
    if prof.n_valid == 0:
        why = "every reference value is missing or infinite"
        for check in ("quality.outlier_rate", "quality.out_of_range", "quality.constant"):
            out.append(
                CheckResult(check=check, column=name, value=None, status="skipped", reason=why)
            )
        return out
    # Outliers: the same fences on both sides, so the reference's own share is the expectation.
    low, high = fences(prof, options)
    if low == high:
        out.append(
            CheckResult(
                check="quality.outlier_rate",
                column=name,
                value=None,
                status="skipped",
                reason=f"the {options.outlier_rule} fences collapse to one value ({low:g}): "
                "most reference values are equal",
                n_reference=prof.n_valid,
            )
        )
    else:
        out.append(_outliers(name, kind, prof, cur, low, high, options))
    out += _range_and_constant(name, kind, prof, cur, options)
    return out


def _outliers(
    name: str,
    kind: str,
    prof: NumericProfile,
    cur: PreparedNumeric,
    low: float,
    high: float,
    options: QualityOptions,
) -> CheckResult:
    ref, s = prof.sorted, cur.sorted
    ref_out = sum(_outside(ref, low, high))
    below, above = _outside(s, low, high)
    return rate_check(
        "quality.outlier_rate",
        name,
        k=below + above,
        n=cur.n_valid,
        expected=ref_out / prof.n_valid,
        margin=options.margin("outlier_rate", name, kind),
        options=options,
        what=f"outliers ({options.outlier_rule} fences)",
        n_reference=prof.n_valid,
        reference_count=ref_out,
        details={
            "rule": options.outlier_rule,
            "low_fence": low,
            "high_fence": high,
            "below": below,
            "above": above,
            "examples": _examples(s, below, above, options.examples),
        },
    )


def _range_and_constant(
    name: str, kind: str, prof: NumericProfile, cur: PreparedNumeric, options: QualityOptions
) -> list[CheckResult]:
    ref, s = prof.sorted, cur.sorted
    out: list[CheckResult] = []
    # Out of range: user bounds (the reference's own share outside them is expected), else the
    # reference range (a new draw lands outside n draws' range with probability 2 / (n + 1)).
    declared = options.bounds.get(name)
    ref_count: int | None
    if declared is not None:
        lo, hi = declared
        ref_count = sum(_outside(ref, lo, hi))
        expected = ref_count / prof.n_valid
        source = "declared bounds"
    else:
        lo, hi = float(ref[0]), float(ref[-1])
        expected = 2.0 / (prof.n_valid + 1)
        ref_count = None
        source = "reference range"
    below, above = _outside(s, lo, hi)
    out.append(
        rate_check(
            "quality.out_of_range",
            name,
            k=below + above,
            n=cur.n_valid,
            expected=expected,
            margin=options.margin("out_of_range", name, kind),
            options=options,
            what=f"values outside the {source}",
            n_reference=prof.n_valid,
            reference_count=ref_count,
            details={
                "source": source,
                "low": lo,
                "high": hi,
                "below": below,
                "above": above,
                "examples": _examples(s, below, above, options.examples),
            },
        )
    )
    value, count = top_count(s)
    if cur.n_valid:
        ref_count = int(np.searchsorted(ref, value, "right") - np.searchsorted(ref, value, "left"))
        out.append(
            _constant(
                name, value, count, cur.n_valid, ref_count, prof.n_valid, prof.top_share, options
            )
        )
    else:
        out.append(_no_values("quality.constant", name))
    return out


def _categorical_checks(
    name: str,
    kind: str,
    prof: CategoricalProfile,
    cur: PreparedCategorical,
    options: QualityOptions,
) -> list[CheckResult]:
    n_valid_ref = prof.n_valid
    singletons = int(np.count_nonzero(prof.counts == 1))
    unseen = sorted(cur.unseen.items(), key=lambda kv: (-kv[1], kv[0]))
    out = [
        rate_check(
            "quality.unseen_categories",
            name,
            k=cur.n_unseen,
            n=cur.n_valid,
            # Good-Turing with add-one: a small reference that happens to hold no singleton
            # still leaves some mass for categories it has not seen.
            expected=(singletons + 1) / (n_valid_ref + 1) if n_valid_ref else 0.0,
            margin=options.margin("unseen", name, kind),
            options=options,
            what="values of categories the reference never had",
            n_reference=n_valid_ref,
            details={
                "n_unseen_categories": len(unseen),
                "examples": dict(unseen[: options.examples]),
                "expected_rule": "good_turing",
            },
        )
    ]
    # Cardinality: distinct values in the window against the reference's count.
    r = len(prof.categories)
    distinct = int(np.count_nonzero(cur.counts)) + len(unseen)
    limit = max(options.cardinality_factor * r, r + options.cardinality_min_new)
    exploded = distinct > limit
    out.append(
        CheckResult(
            check="quality.cardinality",
            column=name,
            value=distinct,
            reference_value=r,
            threshold=limit,
            status="alert" if exploded else "ok",
            reason=(
                f"{distinct} distinct values against {r} in the reference (limit {limit:g})"
                if exploded
                else f"{distinct} distinct values (reference {r}, limit {limit:g})"
            ),
            n=cur.n_valid,
            n_reference=n_valid_ref,
            details={
                "n_new": len(unseen),
                "new_examples": [k for k, _ in unseen[: options.examples]],
            },
        )
    )
    if cur.n_valid == 0:
        out.append(_no_values("quality.constant", name))
        return out
    seen_top = int(np.argmax(cur.counts)) if cur.counts.shape[0] else -1
    top_seen = int(cur.counts[seen_top]) if seen_top >= 0 else 0
    top_unseen = unseen[0] if unseen else None
    if top_unseen is not None and top_unseen[1] > top_seen:
        value: Any = top_unseen[0]
        count, ref_count = top_unseen[1], 0
    else:
        value = prof.categories[seen_top]
        count, ref_count = top_seen, int(prof.counts[seen_top])
    ref_top = float(prof.counts.max()) / n_valid_ref if n_valid_ref else float("nan")
    out.append(_constant(name, value, count, cur.n_valid, ref_count, n_valid_ref, ref_top, options))
    return out


def _constant(
    name: str,
    value: Any,
    count: int,
    n: int,
    ref_count: int,
    n_ref: int,
    ref_top_share: float,
    options: QualityOptions,
) -> CheckResult:
    if n < options.min_rows:
        return CheckResult(
            check="quality.constant",
            column=name,
            value=count / n,
            status="skipped",
            reason=f"only {n} values; a column is judged constant on at least {options.min_rows}",
            n=n,
            n_reference=n_ref,
        )
    share = count / n
    ref_share = ref_count / n_ref if n_ref else 0.0
    cut = options.near_constant_share
    p = fisher_sf(count, n, ref_count, n_ref) if n_ref else binom_sf(count, n, ref_share)
    was_constant = not math.isnan(ref_top_share) and ref_top_share >= cut
    alert = share >= cut and not was_constant and p < options.alpha
    label = "constant" if count == n else "near-constant"
    if alert:
        reason = (
            f"{label}: {value!r} holds {share:.3g} of the values (reference: {ref_share:.3g}, "
            f"top value share {ref_top_share:.3g}; p={p:.3g})"
        )
    elif was_constant:
        reason = f"the reference was already near-constant (top value share {ref_top_share:.3g})"
    else:
        reason = f"top value {value!r} holds {share:.3g} of the values (limit {cut:g})"
    return CheckResult(
        check="quality.constant",
        column=name,
        value=share,
        reference_value=ref_share,
        p_value=p,
        threshold=cut,
        status="alert" if alert else "ok",
        reason=reason,
        n=n,
        n_reference=n_ref,
        details={"top_value": value, "count": count, "reference_top_share": ref_top_share},
    )


def _no_values(check: str, name: str) -> CheckResult:
    return CheckResult(
        check=check,
        column=name,
        value=None,
        status="skipped",
        reason="every value in the window is missing or infinite",
    )


def _type_check(
    name: str,
    kind: str,
    n: int,
    errors: TypeErrors | None,
    dtype: str | None,
    reference_dtype: str | None,
    options: QualityOptions,
) -> CheckResult:
    count = 0 if errors is None else errors.count
    expected_family = reference_dtype or _FAMILY_OF_KIND.get(kind)
    details: dict[str, Any] = {
        "dtype": dtype,
        "reference_dtype": expected_family,
        "examples": list(errors.examples) if errors is not None else [],
    }
    result = rate_check(
        "quality.type_violations",
        name,
        k=count,
        n=n,
        expected=0.0,
        margin=options.margin("type_violations", name, kind),
        options=options,
        what=f"values that are not {'numbers' if kind == 'numeric' else 'valid'}",
        details=details,
    )
    if (
        result.status == "ok"
        and dtype is not None
        and expected_family is not None
        and dtype != expected_family
    ):
        from dataclasses import replace

        return replace(
            result,
            status="warning",
            reason=f"wrong dtype: {dtype} values where the reference has {expected_family}",
        )
    return result
