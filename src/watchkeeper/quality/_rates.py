"""The rule every quality rate follows: a significant excess over the reference's own rate,
beyond a margin; and the Holm correction over a window's quality tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from watchkeeper.results import CheckResult, Status

if TYPE_CHECKING:
    from collections.abc import Sequence

    from watchkeeper.quality._options import QualityOptions

__all__ = ["binom_sf", "correct_family", "fisher_sf", "rate_check"]

_SEVERITY = {"skipped": 0, "ok": 1, "warning": 2, "alert": 3}


def binom_sf(k: int, n: int, p0: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p0)."""
    if k <= 0:
        return 1.0
    if p0 <= 0.0:
        return 0.0
    if p0 >= 1.0:
        return 1.0
    from scipy.stats import binom

    return float(binom.sf(k - 1, n, p0))


def fisher_sf(k: int, n: int, k_ref: int, n_ref: int) -> float:
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
        p = fisher_sf(k, n, reference_count, n_reference)
    else:
        p = binom_sf(k, n, expected)
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
