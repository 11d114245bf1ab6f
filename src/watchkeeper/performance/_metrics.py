"""Point values of every performance metric: one confusion matrix and one sort of the scores.

All classification label metrics come from one confusion matrix (``np.bincount`` on
``true * K + pred``); the ranking metrics from one ``argsort`` of the scores, reduced to the
distinct score values in descending order with the positives and negatives at each. The
values equal scikit-learn 1.9's (``accuracy_score``, ``precision_score``, ``recall_score``,
``f1_score``, ``roc_auc_score``, ``average_precision_score``, ``log_loss``,
``brier_score_loss``, ``mean_absolute_error``, ``mean_squared_error``,
``root_mean_squared_error``, ``mean_absolute_percentage_error``, ``r2_score``) wherever
scikit-learn defines them.

Undefined cases (the metric is left out of ``values`` and its reason put in ``undefined``;
a check on it is ``skipped`` with that reason; nothing warns):

* binary ``precision`` with no predicted positive (scikit-learn: 0.0 and a warning);
* binary ``recall`` with no actual positive (scikit-learn: 0.0 and a warning);
* binary ``f1`` with neither (scikit-learn: 0.0 and a warning); with actual positives but no
  predicted one F1 is 0.0, as in scikit-learn;
* ``roc_auc`` and ``average_precision`` when the scored rows hold a single class
  (scikit-learn: NaN, or 0.0 / 1.0 for average precision, with a warning);
* ``log_loss`` and ``brier`` when a score is outside [0, 1] (not a probability);
* ``r2`` with fewer than two rows or a constant ``y_true`` (scikit-learn: NaN, or 0.0 / 1.0
  with ``force_finite=True``);
* every metric of a family with no usable row.

Conventions where the arrays allow a choice:

* Multiclass macro precision / recall / F1 average over the labels present in ``y_true`` or
  ``y_pred`` (scikit-learn's default); a present label never predicted has precision 0, one
  never true has recall 0 (``zero_division=0``, without the warning). ``f1_weighted`` weighs
  by true support.
* Multiclass ``roc_auc`` and ``average_precision`` are one-vs-rest macro averages over the
  reference classes present in the scored rows. With every reference class present this is
  ``roc_auc_score(multi_class="ovr", average="macro", labels=...)`` and
  ``average_precision_score(average="macro")``; when a class is absent scikit-learn returns
  NaN (AUC) or raises (average precision) whereas the average here runs over the classes
  present, like the label metrics. Fewer than two classes present: undefined.
* ``log_loss`` clips probabilities to ``[eps, 1 - eps]`` (float64 eps) like scikit-learn and
  uses all reference classes as labels; scores are used as given (no renormalisation of
  multiclass rows). ``brier`` is the mean squared error of the positive-class probability for
  binary tasks and, for multiclass, scikit-learn 1.9's ``brier_score_loss(labels=...)``:
  the mean over rows of the summed squared differences to the one-hot label (range [0, 2]).
* Rows whose label is new to the reference (a code at or above the number of reference
  classes) count for the label metrics (always wrong unless predicted so) but not for the
  score metrics: the model gave them no score column. For binary tasks such a label is a
  negative.
* ``mape`` divides by ``max(|y_true|, eps)`` with float64 eps, as scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from watchkeeper.performance._inputs import ClassData, RegData

__all__ = ["EPS", "Computed", "RankGroups", "auc_ap", "compute", "rank_groups"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

EPS = float(np.finfo(np.float64).eps)

_NO_LABEL_ROWS = "no rows with both a label and a prediction"
_NO_SCORES = "no scores were given"
_NO_SCORED_ROWS = "no labelled rows with finite scores"
_ONE_CLASS = "the scored rows hold a single class"
_NOT_PROBABILITIES = "the scores are not probabilities in [0, 1]"


@dataclass(frozen=True, slots=True)
class RankGroups:
    """Distinct score values in descending order, with the positives and negatives at each."""

    pos: IntArray
    neg: IntArray
    sorted_scores: FloatArray
    """All scores, ascending (for the calibration bins)."""
    cum_pos: IntArray
    """Positives among the first ``i`` ascending scores, ``i = 0..n``."""

    @property
    def n_pos(self) -> int:
        return int(self.cum_pos[-1])

    @property
    def n_neg(self) -> int:
        return int(self.sorted_scores.shape[0]) - self.n_pos


@dataclass(slots=True)
class Computed:
    """Metric values plus what the standard errors reuse (losses per row, ranks, counts)."""

    values: dict[str, float] = field(default_factory=dict)
    undefined: dict[str, str] = field(default_factory=dict)
    n_used: dict[str, int] = field(default_factory=dict)
    confusion: IntArray | None = None
    losses: dict[str, FloatArray] = field(default_factory=dict)
    ranks: RankGroups | None = None


def rank_groups(y01: npt.NDArray[np.bool_], s: FloatArray) -> RankGroups:
    """Sort the scores once and count positives and negatives per distinct value.

    Notes
    -----
    Groups are the runs of equal values in ``np.argsort(s)``; ``pos`` and ``neg`` are reversed
    so that group 0 holds the highest score (the first ROC threshold).
    """
    order = np.argsort(s)
    ss = s[order]
    ys = y01[order]
    cum_pos = np.empty(ss.shape[0] + 1, dtype=np.int64)
    cum_pos[0] = 0
    np.cumsum(ys, out=cum_pos[1:])
    ends = np.empty(0, dtype=np.int64)
    if ss.shape[0]:
        ends = np.append(np.flatnonzero(ss[1:] != ss[:-1]) + 1, ss.shape[0])
    starts = np.empty_like(ends)
    if ends.shape[0]:
        starts[0] = 0
        starts[1:] = ends[:-1]
    pos = (cum_pos[ends] - cum_pos[starts])[::-1]
    neg = (ends - starts)[::-1] - pos
    return RankGroups(pos=pos, neg=neg, sorted_scores=ss, cum_pos=cum_pos)


def auc_ap(pos: IntArray, neg: IntArray) -> tuple[float, float]:
    """ROC AUC and average precision from per-group counts in descending score order.

    Notes
    -----
    With ``TP_g``, ``FP_g`` the cumulative counts through group ``g``, ``P`` and ``N`` the
    totals: ``AUC = Σ_g neg_g (TP_g + TP_{g-1}) / (2 P N)`` (the trapezoid rule, i.e. the
    Mann-Whitney statistic with ties counted half) and
    ``AP = Σ_g (R_g − R_{g-1}) · TP_g / (TP_g + FP_g)`` with ``R_g = TP_g / P``.
    Both need ``P > 0`` and ``N > 0``.
    """
    tps = np.cumsum(pos)
    fps = np.cumsum(neg)
    p, n = int(tps[-1]), int(fps[-1])
    area2 = int(np.dot(neg, 2 * tps - pos))
    auc = area2 / (2.0 * p * n)
    recall = tps / p
    d_recall = np.diff(recall, prepend=0.0)
    ap = float(np.dot(d_recall, tps / (tps + fps)))
    return auc, ap


def compute(data: ClassData | RegData) -> Computed:
    """Every metric of ``data.task`` on the prepared rows (see the module docstring)."""
    if isinstance(data, RegData):
        return _regression(data.true, data.pred)
    out = Computed()
    k = data.n_classes
    cm = np.bincount(data.true * k + data.pred, minlength=k * k).reshape(k, k)
    out.confusion = cm
    if data.task == "binary":
        _binary_labels(cm, out)
        _binary_scores(data, out)
    else:
        _multiclass_labels(cm, out)
        _multiclass_scores(data, out)
    return out


def _binary_labels(cm: IntArray, out: Computed) -> None:
    n = int(cm.sum())
    names = ("accuracy", "precision", "recall", "f1")
    for name in names:
        out.n_used[name] = n
    if n == 0:
        out.undefined.update(dict.fromkeys(names, _NO_LABEL_ROWS))
        return
    tp, pp, ap = int(cm[1, 1]), int(cm[:, 1].sum()), int(cm[1, :].sum())
    # Each rate rests on its own denominator: a 200-row window may hold 5 positives.
    out.n_used.update(precision=pp, recall=ap, f1=min(ap, pp))
    out.values["accuracy"] = int(np.trace(cm)) / n
    _ratio(out, "precision", tp, pp, "no predicted positives")
    _ratio(out, "recall", tp, ap, "no actual positives")
    _ratio(out, "f1", 2 * tp, ap + pp, "no predicted or actual positives")


def _ratio(out: Computed, name: str, num: int, den: int, reason: str) -> None:
    if den == 0:
        out.undefined[name] = reason
    else:
        out.values[name] = num / den


def _multiclass_labels(cm: IntArray, out: Computed) -> None:
    n = int(cm.sum())
    names = ("accuracy", "precision_macro", "recall_macro", "f1_macro", "f1_weighted")
    for name in names:
        out.n_used[name] = n
    if n == 0:
        out.undefined.update(dict.fromkeys(names, _NO_LABEL_ROWS))
        return
    out.values["accuracy"] = int(np.trace(cm)) / n
    tp = np.diag(cm).astype(np.float64)
    t_sum = cm.sum(axis=1).astype(np.float64)
    p_sum = cm.sum(axis=0).astype(np.float64)
    present = (t_sum + p_sum) > 0
    tp, t_sum, p_sum = tp[present], t_sum[present], p_sum[present]
    precision = np.divide(tp, p_sum, out=np.zeros_like(tp), where=p_sum > 0)
    recall = np.divide(tp, t_sum, out=np.zeros_like(tp), where=t_sum > 0)
    f1 = 2.0 * tp / (t_sum + p_sum)
    # A macro average is as reliable as its rarest class (whose precision or recall counts as
    # much as the commonest's): the rows of that class are what the average rests on.
    rarest = int(t_sum[t_sum > 0].min()) if (t_sum > 0).any() else 0
    out.n_used.update(precision_macro=rarest, recall_macro=rarest, f1_macro=rarest)
    out.values["precision_macro"] = float(np.mean(precision))
    out.values["recall_macro"] = float(np.mean(recall))
    out.values["f1_macro"] = float(np.mean(f1))
    out.values["f1_weighted"] = float(np.average(f1, weights=t_sum))


_SCORE_NAMES = ("roc_auc", "average_precision", "log_loss", "brier")


def _score_preamble(data: ClassData, out: Computed) -> bool:
    """Record n_used and the family-wide reasons; False when no score metric is defined."""
    m = int(data.score_true.shape[0])
    for name in _SCORE_NAMES:
        out.n_used[name] = m
    if not data.has_scores:
        out.undefined.update(dict.fromkeys(_SCORE_NAMES, _NO_SCORES))
        return False
    if m == 0:
        out.undefined.update(dict.fromkeys(_SCORE_NAMES, _NO_SCORED_ROWS))
        return False
    return True


def _binary_scores(data: ClassData, out: Computed) -> None:
    if not _score_preamble(data, out):
        return
    y01 = data.score_true == 1
    s = data.score
    ranks = rank_groups(y01, s)
    out.ranks = ranks
    # Ranking metrics rest on the rarer class: 8 positives give an AUC far noisier than its
    # error estimate says.
    out.n_used["roc_auc"] = out.n_used["average_precision"] = min(ranks.n_pos, ranks.n_neg)
    if ranks.n_pos == 0 or ranks.n_neg == 0:
        out.undefined["roc_auc"] = out.undefined["average_precision"] = _ONE_CLASS
    else:
        out.values["roc_auc"], out.values["average_precision"] = auc_ap(ranks.pos, ranks.neg)
    if ranks.sorted_scores[0] < 0.0 or ranks.sorted_scores[-1] > 1.0:
        out.undefined["log_loss"] = out.undefined["brier"] = _NOT_PROBABILITIES
        return
    q = np.where(y01, s, 1.0 - s)
    loss = -np.log(np.clip(q, EPS, 1.0 - EPS))
    sq = (y01 - s) ** 2
    out.losses["log_loss"], out.losses["brier"] = loss, sq
    out.values["log_loss"] = float(np.mean(loss))
    out.values["brier"] = float(np.mean(sq))


def _multiclass_scores(data: ClassData, out: Computed) -> None:
    if not _score_preamble(data, out):
        return
    t, s = data.score_true, data.score
    counts = np.bincount(t, minlength=data.n_score_classes)
    present = np.flatnonzero(counts > 0)
    rarest = int(counts[present].min()) if present.shape[0] else 0
    out.n_used["roc_auc"] = out.n_used["average_precision"] = min(rarest, t.shape[0] - rarest)
    if present.shape[0] < 2:
        out.undefined["roc_auc"] = out.undefined["average_precision"] = _ONE_CLASS
    else:
        pairs = [_class_auc_ap(t == c, s[:, c]) for c in present]
        out.values["roc_auc"] = float(np.mean([a for a, _ in pairs]))
        out.values["average_precision"] = float(np.mean([b for _, b in pairs]))
    if float(s.min()) < 0.0 or float(s.max()) > 1.0:
        out.undefined["log_loss"] = out.undefined["brier"] = _NOT_PROBABILITIES
        return
    rows = np.arange(t.shape[0])
    p_true = s[rows, t]
    loss = -np.log(np.clip(p_true, EPS, 1.0 - EPS))
    diff = s.copy()
    diff[rows, t] -= 1.0
    sq = np.einsum("ij,ij->i", diff, diff)
    out.losses["log_loss"], out.losses["brier"] = loss, sq
    out.values["log_loss"] = float(np.mean(loss))
    out.values["brier"] = float(np.mean(sq))


def _class_auc_ap(y01: npt.NDArray[np.bool_], s: FloatArray) -> tuple[float, float]:
    ranks = rank_groups(y01, s)
    return auc_ap(ranks.pos, ranks.neg)


_REG_NAMES = ("mae", "mse", "rmse", "mape", "r2")


def _regression(t: FloatArray, p: FloatArray) -> Computed:
    out = Computed()
    n = int(t.shape[0])
    for name in _REG_NAMES:
        out.n_used[name] = n
    if n == 0:
        out.undefined.update(
            dict.fromkeys(_REG_NAMES, "no rows with both a finite target and a prediction")
        )
        return out
    err = p - t
    ae = np.abs(err)
    se = err * err
    ape = ae / np.maximum(np.abs(t), EPS)
    out.losses.update({"mae": ae, "mse": se, "mape": ape})
    out.values["mae"] = float(np.mean(ae))
    mse = float(np.mean(se))
    out.values["mse"] = mse
    out.values["rmse"] = float(np.sqrt(mse))
    out.values["mape"] = float(np.mean(ape))
    if n < 2:
        out.undefined["r2"] = "fewer than two rows"
        return out
    centred = t - np.mean(t)
    ss_tot = float(np.dot(centred, centred))
    if ss_tot == 0.0:
        out.undefined["r2"] = "y_true is constant"
    else:
        out.values["r2"] = 1.0 - float(np.sum(se)) / ss_tot
    return out
