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
from watchkeeper.results import CheckResult, Status

if TYPE_CHECKING:
    from collections.abc import Sequence

    from watchkeeper._frame import TypeErrors
    from watchkeeper.quality._options import QualityOptions
    from watchkeeper.quality._rows import DatasetReference

__all__ = ["column_quality", "correct_family", "dataset_quality", "fences", "rate_check"]

_SEVERITY = {"skipped": 0, "ok": 1, "warning": 2, "alert": 3}

_FAMILY_OF_KIND = {"numeric": "numeric", "categorical": "string", "boolean": "boolean"}


def _binom_sf(k: int, n: int, p0: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p0)."""
    if k <= 0:
        return 1.0
    if p0 <= 0.0:
        return 0.0
    if p0 >= 1.0:
        return 1.0
    from scipy.stats import binom

    return float(binom.sf(k - 1, n, p0))


def _fisher_sf(k: int, n: int, k_ref: int, n_ref: int) -> float:
    """One-sided Fisher exact p: P(at least ``k`` of the ``k + k_ref`` events in the window)."""
    if k <= 0:
        return 1.0
    from scipy.stats import hypergeom

    return float(min(1.0, max(0.0, hypergeom.sf(k - 1, n + n_ref, k + k_ref, n))))


def rate_check(
    check: str,
    column: str | None,
    *,
    k: int,
    n: int,
    expected: float,
    margin: float,
    options: QualityOptions,
    what: str,
    n_reference: int = 0,
    details: dict[str, Any] | None = None,
    p_value: float | None = None,
    reference_count: int | None = None,
) -> CheckResult:
    """Decide one rate: ``k`` of ``n`` rows are ``what``; the reference expects ``expected``.

    Alert when the excess over ``expected`` is significant and above ``margin``; warn above
    ``warning_fraction * margin``. Significance: with ``reference_count`` (``expected`` is then
    ``reference_count / n_reference``), a one-sided Fisher exact test of the window against the
    reference, so a small reference's own sampling error is allowed for; else a one-sided
    binomial test against ``expected``, or the given ``p_value``.
    """
    info = {"count": k, **(details or {}), "margin": margin, "alpha": options.alpha}
    if n == 0:
        return CheckResult(
            check=check,
            column=column,
            value=None,
            reference_value=expected,
            status="skipped",
            reason=f"no values to measure {what} on",
            n_reference=n_reference,
            details=info,
        )
    rate = k / n
    if p_value is not None:
        p = p_value
    elif reference_count is not None and n_reference > 0:
        p = _fisher_sf(k, n, reference_count, n_reference)
    else:
        p = _binom_sf(k, n, expected)
    excess = rate - expected
    warn_margin = margin * options.warning_fraction
    significant = p < options.alpha
    status: Status
    if significant and excess > margin:
        status = "alert"
    elif significant and margin > 0 and excess > warn_margin:
        status = "warning"
    else:
        status = "ok"
    share = f"{k} of {n} ({rate:.3g})"
    if status == "ok" and k == 0:
        reason = f"no {what}"
    elif status == "ok" and not significant:
        reason = f"{share} {what}: within sampling error of the reference's {expected:.3g}"
    elif status == "ok":
        reason = f"{share} {what}: {excess:.3g} above the reference, within the margin"
    else:
        level = margin if status == "alert" else warn_margin
        reason = (
            f"{share} {what}, {excess:.3g} above the reference's {expected:.3g} "
            f"(margin {level:g}, p={p:.3g})"
        )
    return CheckResult(
        check=check,
        column=column,
        value=rate,
        reference_value=expected,
        p_value=p,
        threshold=expected + margin,
        warning_threshold=expected + warn_margin if margin > 0 else None,
        status=status,
        reason=reason,
        n=n,
        n_reference=n_reference,
        details=info,
    )


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
    p = _fisher_sf(count, n, ref_count, n_ref) if n_ref else _binom_sf(count, n, ref_share)
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


def dataset_quality(
    *,
    n_rows: int,
    expected_columns: Sequence[str],
    present: Sequence[str],
    unexpected: Sequence[str],
    reference: DatasetReference | None,
    hashes: np.ndarray[Any, Any] | None,
    options: QualityOptions,
) -> list[CheckResult]:
    """The window-level checks: schema (missing and unexpected columns) and duplicate rows."""
    missing = [c for c in expected_columns if c not in present]
    out = [
        _column_set(
            "quality.missing_columns",
            missing,
            n_rows,
            f"column(s) {', '.join(missing)} of the schema are missing",
            "every schema column is present",
        ),
        _column_set(
            "quality.unexpected_columns",
            list(unexpected),
            n_rows,
            f"column(s) {', '.join(unexpected)} are not in the schema",
            "no column outside the schema",
        ),
    ]
    if reference is None or hashes is None:
        absent = [] if reference is None else [c for c in reference.columns if c not in present]
        out.append(
            CheckResult(
                check="quality.duplicate_rows",
                column=None,
                value=None,
                status="skipped",
                reason=(
                    f"column(s) {', '.join(absent)} are missing, so rows cannot be compared"
                    if absent
                    else "the baseline has no row reference"
                ),
            )
        )
        return out
    from watchkeeper.quality._rows import duplicate_count

    k = duplicate_count(hashes)
    expected = reference.expected_duplicates(n_rows)
    from scipy.stats import poisson

    p = 1.0 if k == 0 else (0.0 if expected <= 0 else float(poisson.sf(k - 1, expected)))
    out.append(
        rate_check(
            "quality.duplicate_rows",
            None,
            k=k,
            n=n_rows,
            expected=expected / n_rows if n_rows else 0.0,
            margin=options.margin("duplicate_rows"),
            options=options,
            what="rows that repeat an earlier row",
            n_reference=reference.n_rows,
            details={"columns": list(reference.columns), "expected_count": expected},
            p_value=p,
        )
    )
    return out


def _column_set(check: str, columns: list[str], n_rows: int, bad: str, good: str) -> CheckResult:
    """A schema check: alert when ``columns`` (missing or unexpected ones) is not empty."""
    return CheckResult(
        check=check,
        column=None,
        value=len(columns),
        reference_value=0,
        threshold=0,
        status="alert" if columns else "ok",
        reason=bad if columns else good,
        n=n_rows,
        details={"columns": columns},
    )


def empty_window(n_rows: int) -> CheckResult:
    """``quality.empty_window``: an alert when the window has no rows."""
    return CheckResult(
        check="quality.empty_window",
        column=None,
        value=n_rows,
        threshold=0,
        status="alert" if n_rows == 0 else "ok",
        reason="the window has no rows" if n_rows == 0 else f"{n_rows} rows",
        n=n_rows,
    )


def correct_family(results: Sequence[CheckResult], options: QualityOptions) -> list[CheckResult]:
    """Holm-correct the p-values of a window's quality checks and re-decide them.

    A window asks a hundred quality questions (one per rate and column); each at ``alpha``
    would make a false alarm likely on any clean window whose margins are easy to exceed (a
    small window, a small segment). Holm keeps the chance of any false quality alarm per window
    at ``alpha``. A check keeps its margin rule: it alerts when its corrected p-value is below
    ``alpha`` and its value is beyond ``threshold`` (warns beyond ``warning_threshold``).
    """
    from dataclasses import replace

    from watchkeeper.stats import correct

    tested = [i for i, r in enumerate(results) if r.p_value is not None and r.status != "skipped"]
    if len(tested) < 2:
        return list(results)
    raw = np.array([results[i].p_value for i in tested], dtype=np.float64)
    adjusted = np.asarray(correct(raw, method="holm", alpha=options.alpha).p_values)
    out = list(results)
    m = len(tested)
    for i, p in zip(tested, adjusted.tolist(), strict=True):
        r = out[i]
        details = {**r.details, "p_value_raw": r.p_value, "correction": "holm", "family": m}
        status = r.status
        # Only a status that significance decided can fall (a dtype warning, p = 1, stays).
        if r.status in ("alert", "warning") and (r.p_value or 0.0) < options.alpha:
            value = r.value if r.value is not None else 0.0
            if p >= options.alpha:
                status = "ok"
            elif r.check == "quality.constant":
                status = r.status
            elif r.threshold is not None and value > r.threshold:
                status = "alert"
            elif r.warning_threshold is not None and value > r.warning_threshold:
                status = "warning"
            if _SEVERITY[status] > _SEVERITY[r.status]:
                status = r.status  # a correction never raises a status
        reason = r.reason
        if status != r.status:
            reason = f"{r.reason}; not significant after Holm over {m} quality tests (p={p:.3g})"
        out[i] = replace(r, p_value=p, status=status, reason=reason, details=details)
    return out
