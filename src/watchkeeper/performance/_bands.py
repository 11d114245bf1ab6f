"""Standard errors of the metrics: analytic where a formula exists, else a vectorized bootstrap.

Large samples (``n_labelled >= bootstrap_below``):

* ``accuracy``, ``precision``, ``recall``: binomial, ``sqrt(p (1 − p) / d)`` with ``d`` all
  rows, the predicted positives, the actual positives (``"binomial"``);
* ``roc_auc`` (binary): DeLong's variance from the structural components (``"delong"``);
* ``log_loss``, ``brier``, ``mae``, ``mse``, ``mape``: the per-row loss's standard deviation
  (ddof 1) over ``sqrt(n)``; ``rmse`` by the delta method, ``se(mse) / (2 rmse)``
  (``"analytic"``);
* the rest (``f1``, the macro averages, ``average_precision``, multiclass ``roc_auc``,
  ``r2``): a bootstrap (``"bootstrap"``). Confusion-matrix metrics resample the matrix itself
  (a multinomial draw of the ``K²`` cell counts, which is exactly the row bootstrap, at full
  size); row-level metrics resample a seeded subsample of ``bootstrap_below`` rows and scale
  the standard error by ``sqrt(m / n)``.

Small samples (``n_labelled < bootstrap_below``): every metric by the bootstrap. Nothing loops
over replicates: the multinomial cell counts are drawn as one ``(B, K²)`` matrix; row-level
resamples as a ``(B, n)`` index matrix turned into per-cell counts with one ``np.bincount``
(cells: rows for the losses, ``(score group, label)`` pairs for the ranking metrics, whose
weighted cumulative sums along the one sort of the scores give every replicate's ROC and
precision-recall curves). Replicates where a metric is undefined are left out.

References
----------
.. [1] DeLong, E. R., DeLong, D. M. and Clarke-Pearson, D. L. (1988). Comparing the areas
   under two or more correlated receiver operating characteristic curves: a nonparametric
   approach. Biometrics 44(3), 837-845.
.. [2] Efron, B. and Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from watchkeeper.performance._inputs import ClassData, RegData

if TYPE_CHECKING:
    from collections.abc import Iterable

    from watchkeeper.performance._metrics import Computed, RankGroups

__all__ = ["Band", "delong_se", "standard_errors"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_CHUNK = 1 << 21
"""Resampled rows held at once (replicates are processed in chunks of this many cells)."""


@dataclass(frozen=True, slots=True)
class Band:
    """The standard error of one metric and how it was obtained (NaN: not estimable)."""

    se: float
    method: str


def delong_se(ranks: RankGroups) -> float:
    """DeLong's standard error of the ROC AUC from per-group counts (descending scores).

    Notes
    -----
    Each positive's structural component is the share of negatives scored below it (ties
    count half), ``V10``; each negative's, the share of positives scored above it, ``V01``.
    ``Var(AUC) = S10 / P + S01 / N`` with ``S10``, ``S01`` their variances (ddof 1). All rows
    of one score group share a component, so the sums run over groups.
    """
    pos = ranks.pos.astype(np.float64)
    neg = ranks.neg.astype(np.float64)
    p, n = float(pos.sum()), float(neg.sum())
    tps = np.cumsum(pos)
    fps = np.cumsum(neg)
    v10 = (n - fps + 0.5 * neg) / n
    v01 = (tps - 0.5 * pos) / p
    auc = float(np.dot(pos, v10)) / p
    s10 = float(np.dot(pos, (v10 - auc) ** 2)) / max(p - 1.0, 1.0)
    s01 = float(np.dot(neg, (v01 - auc) ** 2)) / max(n - 1.0, 1.0)
    return math.sqrt(s10 / p + s01 / n)


def standard_errors(
    data: ClassData | RegData,
    computed: Computed,
    names: Iterable[str],
    *,
    bootstrap_below: int,
    n_bootstrap: int,
    seed: int,
) -> dict[str, Band]:
    """Standard error of every defined metric in ``names`` (see the module docstring)."""
    wanted = [n for n in names if n in computed.values]
    rng = np.random.default_rng(seed)
    small = data.n_labelled < bootstrap_below
    out: dict[str, Band] = {}
    if isinstance(data, RegData):
        _regression(data, computed, wanted, small, bootstrap_below, n_bootstrap, rng, out)
        return out
    label = [n for n in wanted if n in _LABEL_METRICS]
    if label and computed.confusion is not None:
        _label_bands(data.task, computed.confusion, label, small, n_bootstrap, rng, out)
    ranking = [n for n in wanted if n in ("roc_auc", "average_precision")]
    if ranking:
        _ranking_bands(data, computed, ranking, small, bootstrap_below, n_bootstrap, rng, out)
    losses = [n for n in wanted if n in ("log_loss", "brier")]
    if losses:
        _loss_bands(computed, losses, small, n_bootstrap, rng, out)
    return out


_LABEL_METRICS = frozenset(
    {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "f1_weighted",
    }
)


def _binomial(x: int, d: int) -> float:
    p = x / d
    return math.sqrt(p * (1.0 - p) / d)


def _replicate_se(values: FloatArray) -> float:
    ok = values[np.isfinite(values)]
    if ok.shape[0] < 2:
        return math.nan
    return float(np.std(ok, ddof=1))


def _label_bands(
    task: str,
    cm: IntArray,
    names: list[str],
    small: bool,
    n_boot: int,
    rng: np.random.Generator,
    out: dict[str, Band],
) -> None:
    n = int(cm.sum())
    if not small:
        if "accuracy" in names:
            out["accuracy"] = Band(_binomial(int(np.trace(cm)), n), "binomial")
        if task == "binary" and "precision" in names:
            out["precision"] = Band(_binomial(int(cm[1, 1]), int(cm[:, 1].sum())), "binomial")
        if task == "binary" and "recall" in names:
            out["recall"] = Band(_binomial(int(cm[1, 1]), int(cm[1, :].sum())), "binomial")
    rest = [m for m in names if m not in out]
    if not rest:
        return
    k = cm.shape[0]
    draws = rng.multinomial(n, cm.ravel() / n, size=n_boot).reshape(n_boot, k, k)
    reps = _label_replicates(task, draws.astype(np.float64))
    for m in rest:
        out[m] = Band(_replicate_se(reps[m]), "bootstrap")


def _label_replicates(task: str, cmb: FloatArray) -> dict[str, FloatArray]:
    """Every label metric of each replicate confusion matrix ``cmb`` of shape (B, K, K)."""
    n = cmb.sum(axis=(1, 2))
    tp = np.diagonal(cmb, axis1=1, axis2=2)
    t_sum = cmb.sum(axis=2)
    p_sum = cmb.sum(axis=1)
    out = {"accuracy": tp.sum(axis=1) / n}
    if task == "binary":
        out["precision"] = _div(tp[:, 1], p_sum[:, 1])
        out["recall"] = _div(tp[:, 1], t_sum[:, 1])
        out["f1"] = _div(2.0 * tp[:, 1], t_sum[:, 1] + p_sum[:, 1])
        return out
    present = (t_sum + p_sum) > 0
    n_present = present.sum(axis=1)
    prec = np.divide(tp, p_sum, out=np.zeros_like(tp), where=p_sum > 0)
    rec = np.divide(tp, t_sum, out=np.zeros_like(tp), where=t_sum > 0)
    f1 = np.divide(2.0 * tp, t_sum + p_sum, out=np.zeros_like(tp), where=present)
    out["precision_macro"] = prec.sum(axis=1) / n_present
    out["recall_macro"] = rec.sum(axis=1) / n_present
    out["f1_macro"] = f1.sum(axis=1) / n_present
    out["f1_weighted"] = (f1 * t_sum).sum(axis=1) / t_sum.sum(axis=1)
    return out


def _div(num: FloatArray, den: FloatArray) -> FloatArray:
    """``num / den``, NaN where ``den`` is 0 (an undefined replicate)."""
    return np.divide(num, den, out=np.full_like(num, np.nan), where=den > 0)


def _subsample(
    n: int, small: bool, cap: int, rng: np.random.Generator
) -> tuple[IntArray | None, float]:
    """Rows to resample (None = all) and the factor that scales their SE to ``n`` rows."""
    if small or n <= cap:
        return None, 1.0
    rows = np.sort(rng.choice(n, size=cap, replace=False, shuffle=False)).astype(np.int64)
    return rows, math.sqrt(cap / n)


def _row_weights(m: int, n_boot: int, rng: np.random.Generator) -> Iterable[FloatArray]:
    """Chunks of ``(b, m)`` bootstrap weights: how often each of ``m`` rows was drawn."""
    step = max(1, min(n_boot, _CHUNK // max(m, 1)))
    for start in range(0, n_boot, step):
        b = min(step, n_boot - start)
        idx = rng.integers(0, m, size=(b, m))
        idx += (np.arange(b, dtype=np.int64) * m)[:, None]
        yield np.bincount(idx.ravel(), minlength=b * m).reshape(b, m).astype(np.float64)


def _group_cells(y01: npt.NDArray[np.bool_], s: FloatArray) -> tuple[IntArray, int]:
    """Cell of each row, ``2 g + y`` with ``g`` its score group in descending order."""
    order = np.argsort(s)
    ss = s[order]
    gid = np.zeros(ss.shape[0], dtype=np.int64)
    if ss.shape[0] > 1:
        np.cumsum(ss[1:] != ss[:-1], out=gid[1:])
    n_groups = int(gid[-1]) + 1 if ss.shape[0] else 0
    cells = np.empty(ss.shape[0], dtype=np.int64)
    cells[order] = 2 * (n_groups - 1 - gid) + y01[order]
    return cells, n_groups


def _auc_ap_replicates(counts: FloatArray, n_groups: int) -> tuple[FloatArray, FloatArray]:
    """Replicate AUC and AP from ``(b, 2 G)`` counts (negatives, positives per group)."""
    grouped = counts.reshape(counts.shape[0], n_groups, 2)
    neg, pos = grouped[:, :, 0], grouped[:, :, 1]
    tps = np.cumsum(pos, axis=1)
    fps = np.cumsum(neg, axis=1)
    p, n = tps[:, -1], fps[:, -1]
    ok = (p > 0) & (n > 0)
    area2 = np.einsum("bg,bg->b", neg, 2.0 * tps - pos)
    auc = _div(area2, 2.0 * p * n)
    prec = np.divide(tps, tps + fps, out=np.zeros_like(tps), where=(tps + fps) > 0)
    ap = _div(np.einsum("bg,bg->b", pos, prec), p)
    auc[~ok] = np.nan
    ap[~ok] = np.nan
    return auc, ap


def _ranking_bands(
    data: ClassData,
    computed: Computed,
    names: list[str],
    small: bool,
    cap: int,
    n_boot: int,
    rng: np.random.Generator,
    out: dict[str, Band],
) -> None:
    if data.task == "binary" and not small and "roc_auc" in names and computed.ranks is not None:
        out["roc_auc"] = Band(delong_se(computed.ranks), "delong")
        names = [n for n in names if n != "roc_auc"]
        if not names:
            return
    rows, scale = _subsample(int(data.score_true.shape[0]), small, cap, rng)
    t = data.score_true if rows is None else data.score_true[rows]
    s = data.score if rows is None else data.score[rows]
    if data.task == "binary":
        targets = [(t == 1, s)]
    else:
        present = np.flatnonzero(np.bincount(t, minlength=data.n_score_classes) > 0)
        targets = [(t == c, s[:, c]) for c in present]
    cells = [_group_cells(y, sc) for y, sc in targets]
    auc_parts: list[FloatArray] = []
    ap_parts: list[FloatArray] = []
    m = int(t.shape[0])
    step = max(1, min(n_boot, _CHUNK // max(m, 1)))
    for start in range(0, n_boot, step):
        b = min(step, n_boot - start)
        idx = rng.integers(0, m, size=(b, m))
        aucs, aps = [], []
        for cell, n_groups in cells:
            flat = cell[idx] + (np.arange(b, dtype=np.int64) * 2 * n_groups)[:, None]
            counts = np.bincount(flat.ravel(), minlength=b * 2 * n_groups)
            a, p = _auc_ap_replicates(counts.reshape(b, -1).astype(np.float64), n_groups)
            aucs.append(a)
            aps.append(p)
        auc_parts.append(_nanmean_rows(np.stack(aucs, axis=1)))
        ap_parts.append(_nanmean_rows(np.stack(aps, axis=1)))
    reps = {"roc_auc": np.concatenate(auc_parts), "average_precision": np.concatenate(ap_parts)}
    for name in names:
        out[name] = Band(_replicate_se(reps[name]) * scale, "bootstrap")


def _nanmean_rows(x: FloatArray) -> FloatArray:
    ok = np.isfinite(x)
    k = ok.sum(axis=1)
    total = np.where(ok, x, 0.0).sum(axis=1)
    # A class absent from a replicate has a NaN AUC and is left out of its macro average.
    res: FloatArray = np.divide(total, k, out=np.full(x.shape[0], np.nan), where=k > 0)
    return res


def _loss_bands(
    computed: Computed,
    names: list[str],
    small: bool,
    n_boot: int,
    rng: np.random.Generator,
    out: dict[str, Band],
) -> None:
    if not small:
        for name in names:
            out[name] = Band(_mean_se(computed.losses[name]), "analytic")
        return
    losses = np.stack([computed.losses[n] for n in names], axis=1)
    m = losses.shape[0]
    reps = np.concatenate(
        [w @ losses / m for w in _row_weights(m, n_boot, rng)],
        axis=0,
    )
    for j, name in enumerate(names):
        out[name] = Band(_replicate_se(reps[:, j]), "bootstrap")


def _mean_se(loss: FloatArray) -> float:
    n = loss.shape[0]
    if n < 2:
        return math.nan
    return float(np.std(loss, ddof=1)) / math.sqrt(n)


def _regression(
    data: RegData,
    computed: Computed,
    names: list[str],
    small: bool,
    cap: int,
    n_boot: int,
    rng: np.random.Generator,
    out: dict[str, Band],
) -> None:
    if not small:
        for name in ("mae", "mse", "mape"):
            if name in names:
                out[name] = Band(_mean_se(computed.losses[name]), "analytic")
        if "rmse" in names:
            rmse = computed.values["rmse"]
            se_mse = _mean_se(computed.losses["mse"])
            out["rmse"] = Band(se_mse / (2.0 * rmse) if rmse > 0 else 0.0, "analytic")
    rest = [n for n in names if n not in out]
    if not rest:
        return
    n = int(data.true.shape[0])
    rows, scale = _subsample(n, small, cap, rng)
    t = data.true if rows is None else data.true[rows]
    err2 = computed.losses["mse"] if rows is None else computed.losses["mse"][rows]
    ae = computed.losses["mae"] if rows is None else computed.losses["mae"][rows]
    ape = computed.losses["mape"] if rows is None else computed.losses["mape"][rows]
    yc = t - np.mean(t)
    cols = np.stack([ae, err2, ape, yc, yc * yc], axis=1)
    m = cols.shape[0]
    sums = np.concatenate([w @ cols for w in _row_weights(m, n_boot, rng)], axis=0)
    ss_tot = sums[:, 4] - sums[:, 3] ** 2 / m
    reps = {
        "mae": sums[:, 0] / m,
        "mse": sums[:, 1] / m,
        "rmse": np.sqrt(sums[:, 1] / m),
        "mape": sums[:, 2] / m,
        "r2": 1.0 - _div(sums[:, 1], np.where(ss_tot > 1e-12 * sums[:, 4], ss_tot, 0.0)),
    }
    for name in rest:
        out[name] = Band(_replicate_se(reps[name]) * scale, "bootstrap")
