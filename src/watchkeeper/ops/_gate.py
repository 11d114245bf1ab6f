"""The champion/challenger gate: is the challenger at least as good as the champion, on the
same labelled holdout rows, within a tolerance?

Both models' predictions of the same rows are compared *paired*, which removes the
row-to-row variance both share. Two tests (``GateConfig.test``):

``bootstrap``
    ``B`` resamples of the rows (with replacement, seeded); on each, the metric of both
    models and their difference ``d`` (challenger minus champion, negated for an error
    metric so that ``d > 0`` always means the challenger is better). The challenger passes
    when the one-sided lower confidence bound of ``d`` (the ``1 - confidence`` quantile of the
    resampled differences) is at least ``-tolerance``. The reported interval is the two-sided
    percentile interval; the p-value is the share of resampled differences below
    ``-tolerance``. A resample is a row of multinomial counts (weights), so every metric is a
    weighted metric, computed for all resamples at once (the ROC AUC as a weighted
    Mann-Whitney statistic over one sort of the scores).
``mcnemar`` (accuracy only)
    With ``b`` rows only the champion gets right, ``c`` rows only the challenger gets right and
    ``d = (c - b) / n``: for ``tolerance > 0`` the Wald statistic for paired proportions,
    ``z = (d + tolerance) / se`` with ``se = sqrt(b + c - (c - b)^2 / n) / n`` and the
    one-sided p-value ``1 - Phi(z)``; for ``tolerance = 0`` the exact binomial test of ``c``
    successes among the ``b + c`` discordant rows (one-sided, p = 1/2). The challenger passes
    when ``p < 1 - confidence`` (or when both models are right on exactly the same rows: the
    difference is then exactly 0). The reported interval is the Wald interval ``d ± z se``.

Besides the comparison, the challenger must reach ``floor`` (if set), must not be degenerate
(one predicted class, constant scores or predictions, non-finite values) and must pass the
caller's checks (``schema``, ``predicts``); with fewer than ``min_holdout_rows`` rows nothing
is computed and the gate refuses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from watchkeeper.errors import InvalidInputError, InvalidParameterError

if TYPE_CHECKING:
    from watchkeeper.config._ops import GateConfig

__all__ = ["GATE_METRICS", "GateCheck", "GateResult", "Predictions", "choose_metric", "paired_gate"]

FloatArray = npt.NDArray[np.float64]
Kernel = Callable[[FloatArray], FloatArray]

GATE_METRICS: tuple[str, ...] = (
    *("roc_auc", "accuracy", "f1", "precision", "recall", "log_loss", "brier"),
    *("mae", "mse", "rmse", "r2"),
)
"""The metrics the gate compares (``f1``, ``precision``, ``recall``: macro for multiclass)."""

_LOWER = frozenset({"log_loss", "brier", "mae", "mse", "rmse"})
_SCORED = frozenset({"roc_auc", "log_loss", "brier"})
_REGRESSION = frozenset({"mae", "mse", "rmse", "r2"})
_TASKS = ("binary", "multiclass", "regression")
_CHUNK_CELLS = 65_536  # resample weights per chunk (resamples x rows), kept cache-sized


@dataclass(frozen=True, slots=True)
class GateCheck:
    """One check of the gate: its name, whether it passed, and a sentence saying why."""

    name: str
    passed: bool
    message: str


@dataclass(frozen=True, slots=True)
class Predictions:
    """One model's predictions of the holdout rows.

    Attributes
    ----------
    labels
        Predicted classes (classification) or values (regression).
    scores
        Probability of the positive class (binary classification), else None.
    """

    labels: np.ndarray[Any, Any]
    scores: np.ndarray[Any, Any] | None = None


@dataclass(frozen=True, slots=True)
class GateResult:
    """The gate's verdict (see the module docstring for the statistics).

    ``difference``, ``ci_low`` and ``ci_high`` are challenger minus champion, negated for an
    error metric (``higher_is_better`` False), so a positive difference always favours the
    challenger. ``reasons[0]`` says ``accepted`` or ``rejected`` and why.
    """

    passed: bool
    metric: str
    higher_is_better: bool
    champion: float | None
    challenger: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    tolerance: float
    n: int
    test: str
    checks: tuple[GateCheck, ...]
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of every field (``checks`` as a list of dicts)."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["checks"] = [
            {"name": c.name, "passed": c.passed, "message": c.message} for c in self.checks
        ]
        out["reasons"] = list(self.reasons)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateResult:
        """Rebuild a result from :meth:`to_dict`'s output."""
        values = dict(data)
        values["checks"] = tuple(
            GateCheck(str(c["name"]), bool(c["passed"]), str(c["message"]))
            for c in data.get("checks", ())
        )
        values["reasons"] = tuple(str(r) for r in data.get("reasons", ()))
        return cls(**values)


def choose_metric(metric: str, *, task: str, has_scores: bool) -> str:
    """The metric the gate compares for ``task`` (``"binary"``, ``"multiclass"``,
    ``"regression"``).

    ``"auto"`` is ``roc_auc`` for a binary classifier with scores, ``accuracy`` for other
    classifiers and ``mae`` for regression; any other name must be one of
    :data:`GATE_METRICS` and fit the task.

    Raises
    ------
    InvalidParameterError
        An unknown task or metric, or one that does not fit the task (or needs scores).

    Examples
    --------
    >>> choose_metric("auto", task="binary", has_scores=True)
    'roc_auc'
    >>> choose_metric("auto", task="multiclass", has_scores=False)
    'accuracy'
    >>> choose_metric("r2", task="regression", has_scores=False)
    'r2'
    """
    if task not in _TASKS:
        raise InvalidParameterError(
            f"The task of the gate must be one of {', '.join(_TASKS)}. Got {task!r} instead."
        )
    if metric == "auto":
        if task == "regression":
            return "mae"
        return "roc_auc" if task == "binary" and has_scores else "accuracy"
    if metric not in GATE_METRICS:
        raise InvalidParameterError(
            f"The gate's metric (retrain.gate.metric) must be 'auto' or one of "
            f"{', '.join(GATE_METRICS)}. Got {metric!r} instead."
        )
    if (metric in _REGRESSION) != (task == "regression"):
        kind = "regression" if metric in _REGRESSION else "classification"
        raise InvalidParameterError(
            f"The gate's metric {metric!r} is a {kind} metric; the model is a {task} model."
        )
    if metric in _SCORED and (task != "binary" or not has_scores):
        raise InvalidParameterError(
            f"The gate's metric {metric!r} needs positive-class scores of a binary "
            f"classifier; this {task} model gives none. Use accuracy or f1."
        )
    return metric


# ------------------------------------------------------------------------- weighted metrics
def _kernel(
    metric: str, y: np.ndarray[Any, Any], pred: Predictions, positive: Any, task: str
) -> Kernel:
    """A function of resample weights ``W`` (shape ``(B, n)``) giving the metric on each
    resample, with every per-row quantity computed once here."""
    if metric in _REGRESSION:
        yt, yp = _floats(y), _floats(pred.labels)
        err = yp - yt
        if metric == "mae":
            return _mean(np.abs(err))
        if metric in ("mse", "rmse"):
            mse = _mean(err**2)
            return mse if metric == "mse" else (lambda w: np.sqrt(mse(w)))
        return _r2(yt, err)
    if metric in _SCORED:
        ypos = (y == positive).astype(np.float64)
        s = _floats(pred.scores)
        if metric == "brier":
            return _mean((s - ypos) ** 2)
        if metric == "log_loss":
            eps = np.finfo(np.float64).eps
            p = np.clip(s, eps, 1 - eps)
            return _mean(-(ypos * np.log(p) + (1 - ypos) * np.log1p(-p)))
        return _auc(ypos, s)
    labels = pred.labels
    if metric == "accuracy":
        return _mean((labels == y).astype(np.float64))
    if task == "binary":
        classes = [positive]
    else:
        classes = list(np.unique(np.concatenate([np.asarray(y), np.asarray(labels)])))
    truth = np.stack([(y == k) for k in classes], axis=1).astype(np.float64)
    said = np.stack([(labels == k) for k in classes], axis=1).astype(np.float64)
    both = truth * said

    def prf(w: FloatArray) -> FloatArray:
        tp, t, p = w @ both, w @ truth, w @ said  # (B, K) each
        if metric == "precision":
            value = _ratio(tp, p)
        elif metric == "recall":
            value = _ratio(tp, t)
        else:
            value = _ratio(2 * tp, t + p)
        return np.asarray(value.mean(axis=1), dtype=np.float64)

    return prf


def _floats(values: Any) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    """``num / den`` with 0 where ``den`` is 0 (scikit-learn's ``zero_division=0``)."""
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _mean(per_row: FloatArray) -> Kernel:
    return lambda w: np.asarray((w @ per_row) / w.sum(axis=1), dtype=np.float64)


def _r2(yt: FloatArray, err: FloatArray) -> Kernel:
    yc = yt - yt.mean()  # centred once, for accuracy of the variance below

    def r2(w: FloatArray) -> FloatArray:
        total = w.sum(axis=1)
        sse = w @ err**2
        sst = w @ yc**2 - (w @ yc) ** 2 / total
        sst = np.where(sst > 1e-12 * np.maximum(w @ yc**2, 1e-300), sst, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = 1 - sse / sst
        # scikit-learn's force_finite: a constant target scores 1 if predicted exactly, else 0
        return np.asarray(np.where(sst > 0, value, np.where(sse == 0, 1.0, 0.0)))

    return r2


def _auc(ypos: FloatArray, scores: FloatArray) -> Kernel:
    """Weighted ROC AUC: the weighted share of (positive, negative) pairs the scores order
    correctly, ties counting one half (Mann-Whitney), from one sort of the scores."""
    order = np.argsort(scores, kind="stable")
    s = scores[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    ends = np.r_[starts[1:], len(s)] - 1
    pos_sorted = ypos[order]
    ties = len(starts) < len(s)

    def auc(w: FloatArray) -> FloatArray:
        ws = w[:, order]
        pos = ws * pos_sorted
        neg = ws - pos
        cum = np.cumsum(neg, axis=1)  # negatives at or below each row's score
        if ties:  # per group of equal scores: positives times (negatives below + half tied)
            upto = cum[:, ends]
            tied = np.diff(upto, axis=1, prepend=0.0)
            numerator = (np.add.reduceat(pos, starts, axis=1) * (upto - 0.5 * tied)).sum(axis=1)
        else:  # a row is positive or negative, so pos * cum counts negatives strictly below
            numerator = (pos * cum).sum(axis=1)
        n_pos, n_neg = pos.sum(axis=1), cum[:, -1]
        with np.errstate(divide="ignore", invalid="ignore"):
            value = numerator / (n_pos * n_neg)
        return np.asarray(np.where((n_pos > 0) & (n_neg > 0), value, np.nan))

    return auc


def _resamples(n: int, n_boot: int, rng: np.random.Generator) -> Sequence[FloatArray]:
    """Chunks of ``(b, n)`` bootstrap weights: how often each row was drawn."""
    per_chunk = max(1, _CHUNK_CELLS // max(n, 1))
    chunks = []
    for start in range(0, n_boot, per_chunk):
        b = min(per_chunk, n_boot - start)
        draws = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        chunks.append(np.bincount(draws.ravel(), minlength=b * n).reshape(b, n).astype(float))
    return chunks


# ------------------------------------------------------------------------------- the gate
def paired_gate(
    y_true: Any,
    champion: Predictions,
    challenger: Predictions,
    *,
    config: GateConfig,
    task: str,
    positive_label: Any = None,
    extra_checks: Sequence[GateCheck] = (),
) -> GateResult:
    """Compare ``challenger`` with ``champion`` on the same labelled rows ``y_true``.

    Parameters
    ----------
    y_true
        The rows' labels (classes, or values for regression).
    champion, challenger
        Both models' predictions of the same rows, in the same order.
    config
        ``retrain.gate``: metric, test, tolerance, confidence, resamples, seed, floor and the
        minimum number of rows.
    task
        ``"binary"``, ``"multiclass"`` or ``"regression"``.
    positive_label
        The positive class of a binary classifier (default: ``1`` or ``True`` if a label,
        else the largest label).
    extra_checks
        Checks the caller made (e.g. ``schema``, ``predicts``); any failed one rejects.

    Returns
    -------
    GateResult
        ``passed`` only if the comparison and every check passed.

    Raises
    ------
    InvalidParameterError
        An unknown task or metric, or ``mcnemar`` with a metric other than accuracy.
    InvalidInputError
        The predictions and ``y_true`` differ in length.

    Examples
    --------
    >>> import numpy as np
    >>> from watchkeeper.config._ops import GateConfig
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 500)
    >>> good = Predictions(np.where(rng.random(500) < 0.9, y, 1 - y))
    >>> poor = Predictions(np.where(rng.random(500) < 0.7, y, 1 - y))
    >>> cfg = GateConfig(metric="accuracy", n_bootstrap=200)
    >>> paired_gate(y, poor, good, config=cfg, task="binary").passed
    True
    >>> result = paired_gate(y, good, poor, config=cfg, task="binary")
    >>> result.passed, result.reasons[0][:38]
    (False, 'rejected: accuracy 0.706 vs champion 0')
    """
    y = np.asarray(y_true)
    n = len(y)
    champion, challenger = (
        Predictions(np.asarray(p.labels), None if p.scores is None else np.asarray(p.scores))
        for p in (champion, challenger)
    )
    for who, p in (("champion", champion), ("challenger", challenger)):
        for what, values in (("labels", p.labels), ("scores", p.scores)):
            if values is not None and len(values) != n:
                raise InvalidInputError(
                    f"The {who}'s {what} have {len(values)} rows; y_true has {n}."
                )
    has_scores = champion.scores is not None and challenger.scores is not None
    metric = choose_metric(config.metric, task=task, has_scores=has_scores)
    if config.test == "mcnemar" and metric != "accuracy":
        raise InvalidParameterError(
            f"The gate's mcnemar test compares accuracy only; the metric is {metric!r}. "
            "Use test: bootstrap, or metric: accuracy."
        )
    higher = metric not in _LOWER
    stats: dict[str, Any] = dict.fromkeys(
        ("champion", "challenger", "difference", "ci_low", "ci_high", "p_value")
    )
    if n < config.min_holdout_rows:
        size = GateCheck(
            "holdout_size",
            False,
            f"only {n} labelled holdout rows; the gate needs {config.min_holdout_rows}",
        )
        return _result(False, metric, higher, stats, config, n, (size, *extra_checks))
    checks = [GateCheck("holdout_size", True, f"{n} labelled holdout rows")]
    checks.extend(extra_checks)
    positive = _positive(y, challenger.labels, positive_label) if task == "binary" else None
    checks.append(_degeneracy(y, challenger, task))
    if config.test == "mcnemar":
        comparison = _mcnemar(y, champion, challenger, config, stats)
    else:
        kernels = [_kernel(metric, y, p, positive, task) for p in (champion, challenger)]
        comparison = _bootstrap(kernels, n, metric, higher, config, stats)
    checks.append(comparison)
    if config.floor is not None and stats["challenger"] is not None:
        value, floor = stats["challenger"], config.floor
        ok = value >= floor if higher else value <= floor
        side = (
            ("below" if higher else "above")
            if not ok
            else ("at or above" if higher else "at or below")
        )
        checks.append(
            GateCheck("floor", ok, f"{metric} {value:.3f} is {side} the floor {floor:.3f}")
        )
    passed = all(c.passed for c in checks)
    return _result(passed, metric, higher, stats, config, n, tuple(checks))


def _result(
    passed: bool,
    metric: str,
    higher: bool,
    stats: Mapping[str, Any],
    config: GateConfig,
    n: int,
    checks: tuple[GateCheck, ...],
) -> GateResult:
    failed = [c.message for c in checks if not c.passed]
    if passed:
        main = next(c.message for c in checks if c.name == "paired_comparison")
        reasons = (f"accepted: {main}", *(c.message for c in checks if c.name == "floor"))
    else:
        reasons = (f"rejected: {failed[0]}", *failed[1:])
    return GateResult(
        passed=passed,
        metric=metric,
        higher_is_better=higher,
        tolerance=config.tolerance,
        n=n,
        test=config.test,
        checks=checks,
        reasons=reasons,
        **{k: None if v is None else float(v) for k, v in stats.items()},
    )


def _positive(y: np.ndarray[Any, Any], labels: np.ndarray[Any, Any], given: Any) -> Any:
    if given is not None:
        return given
    seen = set(np.unique(np.concatenate([y, np.asarray(labels)])).tolist())
    for candidate in (1, True):
        if candidate in seen:
            return candidate
    return max(seen) if seen else 1


def _degeneracy(y: np.ndarray[Any, Any], p: Predictions, task: str) -> GateCheck:
    problems = []
    if task == "regression":
        values = _floats(p.labels)
        if not np.isfinite(values).all():
            problems.append("non-finite predictions")
        elif values.min() == values.max():
            problems.append(f"the same prediction ({values[0]:.4g}) for every row")
    else:
        predicted = np.unique(p.labels)
        if len(predicted) < 2 and len(np.unique(y)) > 1:
            problems.append(f"one class ({predicted.tolist()[0]!r}) for every row")
        if p.scores is not None:
            scores = _floats(p.scores)
            if not np.isfinite(scores).all():
                problems.append("non-finite scores")
            elif scores.min() == scores.max():
                problems.append(f"the same score ({scores[0]:.4g}) for every row")
    if problems:
        return GateCheck(
            "non_degenerate", False, f"the challenger is degenerate: {'; '.join(problems)}"
        )
    return GateCheck("non_degenerate", True, "the challenger's predictions vary")


def _bootstrap(
    kernels: Sequence[Kernel],
    n: int,
    metric: str,
    higher: bool,
    config: GateConfig,
    stats: dict[str, Any],
) -> GateCheck:
    ones = np.ones((1, n))
    champ, chal = (float(k(ones)[0]) for k in kernels)
    sign = 1.0 if higher else -1.0
    if not (np.isfinite(champ) and np.isfinite(chal)):
        return GateCheck(
            "paired_comparison", False, f"{metric} is undefined on the holdout (one class only?)"
        )
    rng = np.random.default_rng(config.seed)
    diffs = np.concatenate(
        [sign * (kernels[1](w) - kernels[0](w)) for w in _resamples(n, config.n_bootstrap, rng)]
    )
    diffs = diffs[np.isfinite(diffs)]
    stats.update(champion=champ, challenger=chal, difference=sign * (chal - champ))
    if len(diffs) < config.n_bootstrap // 2:
        return GateCheck(
            "paired_comparison",
            False,
            f"{metric} is undefined on {config.n_bootstrap - len(diffs)} of "
            f"{config.n_bootstrap} resamples; too few labelled rows of each class",
        )
    alpha = 1 - config.confidence
    lo, hi, bound = np.quantile(diffs, [alpha / 2, 1 - alpha / 2, alpha])
    stats.update(ci_low=lo, ci_high=hi, p_value=float(np.mean(diffs < -config.tolerance)))
    ok = bool(bound >= -config.tolerance)
    return GateCheck(
        "paired_comparison",
        ok,
        _sentence(metric, stats, config, ok, f"one-sided bound {bound:+.3f}"),
    )


def _mcnemar(
    y: np.ndarray[Any, Any],
    champion: Predictions,
    challenger: Predictions,
    config: GateConfig,
    stats: dict[str, Any],
) -> GateCheck:
    from scipy.stats import binomtest, norm

    right1, right2 = champion.labels == y, challenger.labels == y
    n = len(y)
    b, c = int(np.sum(right1 & ~right2)), int(np.sum(~right1 & right2))
    d, tol = (c - b) / n, config.tolerance
    se = np.sqrt(max(b + c - (c - b) ** 2 / n, 0.0)) / n
    half = norm.ppf(0.5 + config.confidence / 2) * se
    stats.update(
        champion=right1.mean(),
        challenger=right2.mean(),
        difference=d,
        ci_low=d - half,
        ci_high=d + half,
    )
    if b + c == 0:
        ok, how = True, "both models are right on exactly the same rows"
    else:
        if tol == 0:
            p = binomtest(c, b + c, 0.5, alternative="greater").pvalue
        elif se == 0:
            p = 0.0 if d + tol > 0 else 1.0
        else:
            p = norm.sf((d + tol) / se)
        stats["p_value"] = p
        ok = bool(p < 1 - config.confidence)
        how = f"McNemar b={b}, c={c}, one-sided p={p:.3g}"
    return GateCheck("paired_comparison", ok, _sentence("accuracy", stats, config, ok, how))


def _sentence(metric: str, stats: Mapping[str, Any], config: GateConfig, ok: bool, how: str) -> str:
    level = f"{config.confidence * 100:g}%"
    base = (
        f"{metric} {stats['challenger']:.3f} vs champion {stats['champion']:.3f} "
        f"(difference {stats['difference']:+.3f}, {level} CI {stats['ci_low']:+.3f}.."
        f"{stats['ci_high']:+.3f}; {how})"
    )
    if ok:
        return (
            f"{base}: shown no worse than the champion within the tolerance {config.tolerance:.3f}"
        )
    return (
        f"{base}: not shown to be no worse than the champion within the tolerance "
        f"{config.tolerance:.3f}"
    )
