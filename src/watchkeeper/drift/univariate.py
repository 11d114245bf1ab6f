"""Per-column drift: each column of the window against its reference profile.

The default rule (see :mod:`watchkeeper.drift._options`) needs two numbers per column, a
p-value and an effect size: KS + normalized Wasserstein for numeric columns, chi-square +
Jensen-Shannon distance for categorical ones. Both come from the prepared reference (sorted
values, category table) and the window prepared once (sorted finite values, aligned counts).
Columns run in threads: the sorts, searches and merges are numpy calls that release the GIL.
Each result's details also carry the numbers its distribution chart draws
(:mod:`watchkeeper.drift._plot`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from watchkeeper.baseline._profiles import (
    QUANTILES,
    CategoricalProfile,
    NumericProfile,
    PreparedCategorical,
    PreparedNumeric,
    prepare_categorical,
    prepare_numeric,
)
from watchkeeper.drift._plot import categorical_distribution, numeric_histogram
from watchkeeper.drift.methods import METHODS, MethodOutcome, ks_and_wasserstein
from watchkeeper.errors import InvalidInputError
from watchkeeper.results import CheckResult, Status
from watchkeeper.stats.binning import quantiles_sorted

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from watchkeeper._frame import Columns
    from watchkeeper.drift._options import DriftOptions, MethodChoice

__all__ = ["ColumnTarget", "column_drift"]

Profile = NumericProfile | CategoricalProfile
_TOP = 5
_QUANTILE_LABELS = tuple(f"p{round(q * 100):02d}" for q in QUANTILES)


class _ProfileSource(Protocol):
    def profile(self, name: str) -> Profile: ...


@dataclass(frozen=True, slots=True)
class ColumnTarget:
    """A column to check: its name, role, and where its reference profile comes from.

    ``source.profile(name)`` may fit the profile on first use (a lazy baseline), which then
    happens inside the column's thread task, beside the window's own preparation.
    """

    name: str
    role: str
    source: _ProfileSource
    kind: str = "numeric"  # the schema kind: numeric, categorical or boolean
    drift: bool = True  # False: only prepared for the ``also`` callback of column_drift

    @property
    def profile(self) -> Profile:
        """The fitted reference profile of this column."""
        return self.source.profile(self.name)


@dataclass(slots=True)
class _Measured:
    target: ColumnTarget
    kind: str
    n_reference: int
    n: int
    n_valid: int
    skip_reason: str | None
    choice: MethodChoice | None
    test: MethodOutcome | None  # default rule: the test; chosen method: its outcome
    effect: MethodOutcome | None  # default rule: the effect size
    info: dict[str, Any]


Also = Callable[[ColumnTarget, Profile, PreparedNumeric | PreparedCategorical], list[CheckResult]]
"""Further per-column work run in the same thread task on the prepared window column."""


def column_drift(
    targets: Sequence[ColumnTarget],
    current: Columns,
    options: DriftOptions,
    *,
    also: Also | None = None,
) -> tuple[list[CheckResult], list[CheckResult]]:
    """Check each target column of ``current`` against its profile.

    Feature columns under the default rule form one family for the multiple-testing
    correction; prediction and target columns are each their own question. ``also`` is
    called with each column's profile and prepared window column (so other checks reuse the
    sort and the counts); its results come back as the second list. Targets with
    ``drift=False`` are only prepared for ``also``.
    """
    workers = options.n_jobs or min(len(targets), os.cpu_count() or 1) or 1

    def task(t: ColumnTarget) -> tuple[_Measured, list[CheckResult]]:
        return _measure(t, current, options, also)

    if workers > 1 and len(targets) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            done = list(pool.map(task, targets))
    else:
        done = [task(t) for t in targets]
    measured = [m for m, _ in done if m.target.drift]
    extra = [r for _, rs in done for r in rs]
    corrected = _correct(measured, options)
    return [_decide(m, corrected.get(m.target.name), options) for m in measured], extra


def _measure(
    target: ColumnTarget, current: Columns, options: DriftOptions, also: Also | None
) -> tuple[_Measured, list[CheckResult]]:
    prof = target.profile
    kind = "numeric" if isinstance(prof, NumericProfile) else "categorical"
    choice = options.choice_for(target.name, target.kind)
    if choice is not None and not METHODS[choice.method].supports(kind):
        from watchkeeper.errors import InvalidParameterError

        valid = sorted(n for n, m in METHODS.items() if m.supports(kind))
        raise InvalidParameterError(
            f"Drift method {choice.method!r} does not apply to {kind} column "
            f"{target.name!r}; {kind} methods are {', '.join(valid)}."
        )
    if isinstance(prof, NumericProfile):
        prep_n = prepare_numeric(current.numeric[target.name])
        m = _Measured(
            target,
            kind,
            prof.n_valid,
            prep_n.n,
            prep_n.n_valid,
            None,
            choice,
            None,
            None,
            _numeric_info(prof, prep_n),
        )
        if target.drift:
            histogram = numeric_histogram(prof.sorted, prep_n.sorted, discrete=prof.discrete)
            if histogram is not None:
                m.info["histogram"] = histogram
        m.skip_reason = _skip_reason(prof.n_valid, prep_n.n_valid, prep_n.n, options)
        if m.skip_reason is None and target.drift:
            _run_numeric(m, prof, prep_n, options)
        return m, also(target, prof, prep_n) if also else []
    prep_c = prepare_categorical(prof, current.categorical[target.name])
    m = _Measured(
        target,
        kind,
        prof.n_valid,
        prep_c.n,
        prep_c.n_valid,
        None,
        choice,
        None,
        None,
        _categorical_info(prof, prep_c),
    )
    if target.drift:
        distribution = categorical_distribution(prof, prep_c)
        if distribution is not None:
            m.info["distribution"] = distribution
    m.skip_reason = _skip_reason(prof.n_valid, prep_c.n_valid, prep_c.n, options)
    if m.skip_reason is None and target.drift:
        _run_categorical(m, prof, prep_c, options)
    return m, also(target, prof, prep_c) if also else []


def _run_numeric(
    m: _Measured, prof: NumericProfile, cur: PreparedNumeric, options: DriftOptions
) -> None:
    try:
        if m.choice is None:
            m.test, m.effect = ks_and_wasserstein(prof, cur)
        else:
            m.test = METHODS[m.choice.method].numeric(prof, cur, options.eps)  # type: ignore[misc]
    except InvalidInputError as exc:  # a method undefined on this data, e.g. all values equal
        m.skip_reason = f"{m.choice.method if m.choice else 'ks'} is undefined here: {exc}"


def _run_categorical(
    m: _Measured, prof: CategoricalProfile, cur: PreparedCategorical, options: DriftOptions
) -> None:
    try:
        if m.choice is None:
            m.test = METHODS["chi2"].categorical(prof, cur, options.eps)  # type: ignore[misc]
            m.effect = METHODS["jensen_shannon"].categorical(  # type: ignore[misc]
                prof, cur, options.eps
            )
        else:
            m.test = METHODS[m.choice.method].categorical(  # type: ignore[misc]
                prof, cur, options.eps
            )
    except InvalidInputError as exc:
        m.skip_reason = f"{m.choice.method if m.choice else 'chi2'} is undefined here: {exc}"


def _skip_reason(n_ref: int, n_cur: int, n_rows: int, options: DriftOptions) -> str | None:
    if n_rows > 0 and n_cur == 0:
        return "every value in the current window is missing or infinite"
    if n_ref == 0:
        return "every value in the reference is missing or infinite"
    if n_cur < options.min_rows:
        return f"only {n_cur} usable values in the current window (min_rows={options.min_rows})"
    if n_ref < options.min_rows:
        return f"only {n_ref} usable values in the reference (min_rows={options.min_rows})"
    return None


def _correct(measured: Sequence[_Measured], options: DriftOptions) -> dict[str, float]:
    family = [
        m
        for m in measured
        if m.target.role == "feature" and m.choice is None and m.test is not None
    ]
    if not family:
        return {}
    raw = np.array([m.test.p_value for m in family if m.test is not None], dtype=np.float64)
    if options.correction == "none":
        adjusted = raw
    else:
        from watchkeeper.stats import correct

        adjusted = np.asarray(correct(raw, method=options.correction, alpha=options.alpha).p_values)
    return {m.target.name: float(p) for m, p in zip(family, adjusted, strict=True)}


def _check_name(m: _Measured) -> str:
    if m.target.role in ("prediction", "prediction_proba"):
        return "drift.prediction"
    if m.target.role == "target":
        return "drift.target"
    if m.choice is not None:
        return f"drift.{m.choice.method}"
    return "drift.wasserstein" if m.kind == "numeric" else "drift.jensen_shannon"


def _decide(m: _Measured, p_corrected: float | None, options: DriftOptions) -> CheckResult:
    name = _check_name(m)
    n_ref = m.n_reference
    details: dict[str, Any] = {"role": m.target.role, "kind": m.kind, **m.info}
    if m.skip_reason is not None or m.test is None:
        return CheckResult(
            check=name,
            column=m.target.name,
            value=None,
            status="skipped",
            reason=m.skip_reason or "not checked",
            n=m.n_valid,
            n_reference=n_ref,
            details=details,
        )
    if m.choice is not None:
        return _decide_chosen(m, name, details, options)

    assert m.effect is not None  # the default rule always measures both
    delta = options.delta_numeric if m.kind == "numeric" else options.delta_categorical
    warn_at = delta * options.warning_fraction
    is_feature = m.target.role == "feature"
    p_raw = float(m.test.p_value) if m.test.p_value is not None else 1.0
    p = p_corrected if (is_feature and p_corrected is not None) else p_raw
    effect = m.effect.value
    test_name = "ks" if m.kind == "numeric" else "chi2"
    effect_name = (
        "normalized Wasserstein distance" if m.kind == "numeric" else "Jensen-Shannon distance"
    )
    significant = p < options.alpha
    status: Status
    if significant and effect >= delta:
        status = "alert"
    elif significant and effect >= warn_at:
        status = "warning"
    else:
        status = "ok"
    corr = options.correction if is_feature else "none"
    p_text = f"{test_name} p={p:.3g}" + (f" ({corr}-corrected)" if corr != "none" else "")
    if status == "alert":
        reason = f"{effect_name} {effect:.3g} >= {delta:g} and {p_text} < {options.alpha:g}"
    elif status == "warning":
        reason = (
            f"{effect_name} {effect:.3g} >= {warn_at:g} (warning level) and "
            f"{p_text} < {options.alpha:g}"
        )
    elif significant:
        reason = (
            f"statistically significant ({p_text}) but {effect_name} {effect:.3g} is below "
            f"{warn_at:g}: too small to matter"
        )
    else:
        reason = f"no significant change ({p_text} >= {options.alpha:g})"
    details.update(
        {
            "method": f"{test_name}+{'wasserstein' if m.kind == 'numeric' else 'jensen_shannon'}",
            "test": test_name,
            "statistic": m.test.value,
            "p_value_raw": p_raw,
            "correction": corr,
            "alpha": options.alpha,
            "delta": delta,
            **{f"effect_{k}": v for k, v in m.effect.details.items()},
        }
    )
    return CheckResult(
        check=name,
        column=m.target.name,
        value=effect,
        reference_value=0.0,
        p_value=p,
        threshold=delta,
        warning_threshold=warn_at,
        status=status,
        reason=reason,
        n=m.n_valid,
        n_reference=n_ref,
        details=details,
    )


def _decide_chosen(
    m: _Measured, name: str, details: dict[str, Any], options: DriftOptions
) -> CheckResult:
    assert m.choice is not None
    assert m.test is not None
    method = METHODS[m.choice.method]
    t = m.choice.threshold
    out = m.test
    if method.is_test:
        p = float(out.p_value) if out.p_value is not None else 1.0
        alert = p < t
        reason = f"{method.name} p={p:.3g} {'<' if alert else '>='} {t:g}"
    else:
        alert = out.value >= t
        reason = f"{method.name} {out.value:.3g} {'>=' if alert else '<'} {t:g}"
    details.update({"method": method.name, **out.details})
    return CheckResult(
        check=name,
        column=m.target.name,
        value=out.value,
        reference_value=None if method.is_test else 0.0,
        p_value=out.p_value,
        threshold=t,
        status="alert" if alert else "ok",
        reason=reason,
        n=m.n_valid,
        n_reference=m.n_reference,
        details=details,
    )


def _numeric_info(prof: NumericProfile, cur: PreparedNumeric) -> dict[str, Any]:
    s = cur.sorted
    info: dict[str, Any] = {
        "n_missing": cur.n_missing,
        "n_inf": cur.n_inf,
        "reference_mean": prof.mean,
        "reference_std": prof.std,
        "reference_quantiles": dict(zip(_QUANTILE_LABELS, prof.quantiles, strict=True)),
    }
    if s.shape[0]:
        info["current_mean"] = float(np.mean(s))
        info["current_std"] = float(np.std(s))
        # Same rule as the reference's (numpy's linear), read off the sorted window in O(1).
        current_q = quantiles_sorted(s, np.asarray(QUANTILES))
        info["current_quantiles"] = dict(zip(_QUANTILE_LABELS, current_q.tolist(), strict=True))
    return info


def _categorical_info(prof: CategoricalProfile, cur: PreparedCategorical) -> dict[str, Any]:
    ref_total = max(prof.n_valid, 1)
    cur_total = max(cur.n_valid, 1)
    ref_share = prof.counts / ref_total
    cur_share = cur.counts / cur_total
    diff = np.abs(cur_share - ref_share)
    order = np.argsort(-diff, kind="stable")[:_TOP]
    changes = [
        {
            "category": prof.categories[i],
            "reference_share": float(ref_share[i]),
            "current_share": float(cur_share[i]),
        }
        for i in order
        if diff[i] > 0
    ]
    unseen: Mapping[str, int] = dict(
        sorted(cur.unseen.items(), key=lambda kv: (-kv[1], kv[0]))[:_TOP]
    )
    return {
        "n_missing": cur.n_missing,
        "n_categories_reference": len(prof.categories),
        "n_unseen": cur.n_unseen,
        "unseen_share": cur.n_unseen / cur_total,
        "unseen_examples": dict(unseen),
        "top_changes": changes,
    }
