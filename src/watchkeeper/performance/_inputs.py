"""Validate the raw arrays of a window (or of the reference) and keep the rows each metric uses.

The caller has already encoded the labels: ``y_true`` and ``y_pred`` are ``int64`` codes into
``classes`` (``-1`` = missing), ``y_score`` is the positive-class score (binary) or the
probability matrix with one column per reference class (multiclass). Regression passes floats
(NaN = missing). This module turns them into the row sets the metrics use:

* label metrics (accuracy, precision, ...): rows with a label and a prediction;
* score metrics (roc_auc, average_precision, log_loss, brier, calibration): rows with a label
  that the reference knows (a code below the number of score columns) and finite scores;
* regression metrics: rows whose ``y_true`` and ``y_pred`` are both finite.

Without ``y_pred`` the prediction is derived from the scores (binary: ``score >= threshold``
means ``classes[1]``; multiclass: the argmax of the row, first column on ties); a row with a
non-finite score then has no prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from watchkeeper._validate import check_choice
from watchkeeper.errors import InvalidInputError
from watchkeeper.performance._options import TASKS

__all__ = ["ClassData", "RegData", "prepare"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class ClassData:
    """The usable rows of a classification window."""

    task: str
    n_rows: int
    n_labelled: int
    n_classes: int
    """Label codes are in ``[0, n_classes)`` (reference classes, then labels new to it)."""
    n_score_classes: int
    """Reference classes: the columns of a multiclass score matrix (2 for binary)."""
    true: IntArray
    """Codes of the rows with a label and a prediction."""
    pred: IntArray
    has_scores: bool
    """Whether scores were given at all."""
    score_true: IntArray
    """Codes of the rows with a reference label and finite scores."""
    score: FloatArray
    """Their scores: shape ``(m,)`` for binary, ``(m, n_score_classes)`` for multiclass."""


@dataclass(frozen=True, slots=True)
class RegData:
    """The usable rows of a regression window."""

    task: str
    n_rows: int
    n_labelled: int
    true: FloatArray
    """Targets of the rows where target and prediction are both finite."""
    pred: FloatArray


def prepare(
    task: str,
    y_true: Any,
    y_pred: Any,
    y_score: Any,
    *,
    n_classes: int,
    n_score_classes: int,
    threshold: float,
) -> ClassData | RegData:
    """Validate the arrays and keep, per metric family, the rows it uses (module docstring).

    Raises
    ------
    UnknownMethodError
        If ``task`` is not one of ``binary``, ``multiclass``, ``regression``.
    InvalidInputError
        If an array has the wrong shape, dtype or codes out of range.
    """
    check_choice("performance", "task", task, TASKS)
    if task == "regression":
        return _prepare_regression(y_true, y_pred, y_score)
    t = _codes("y_true", y_true, n_classes, None)
    n = int(t.shape[0])
    if y_pred is None and y_score is None:
        raise InvalidInputError(
            "A classification check needs 'y_pred' or 'y_score' (to derive the predictions). "
            "Got neither."
        )
    s = None if y_score is None else _scores(task, y_score, n, n_score_classes)
    finite: npt.NDArray[np.bool_] | None = None
    if s is not None:
        ok = np.isfinite(s)
        finite = np.asarray(ok if s.ndim == 1 else ok.all(axis=1), dtype=np.bool_)
    if y_pred is not None:
        p = _codes("y_pred", y_pred, n_classes, n)
    elif s is not None and finite is not None:
        p = _derive(task, s, finite, threshold)
    labelled = t >= 0
    n_labelled = int(np.count_nonzero(labelled))
    keep = labelled & (p >= 0)
    if s is not None and finite is not None:
        score_keep = labelled & finite & (t < n_score_classes)
        score_true = t[score_keep]
        score = s[score_keep]
    else:
        score_true = np.empty(0, dtype=np.int64)
        score = np.empty((0,) if task == "binary" else (0, n_score_classes))
    return ClassData(
        task=task,
        n_rows=n,
        n_labelled=n_labelled,
        n_classes=n_classes,
        n_score_classes=n_score_classes,
        true=t[keep],
        pred=p[keep],
        has_scores=s is not None,
        score_true=score_true,
        score=score,
    )


def _prepare_regression(y_true: Any, y_pred: Any, y_score: Any) -> RegData:
    if y_score is not None:
        raise InvalidInputError(
            "A regression check takes no 'y_score' (it compares 'y_pred' with 'y_true'). "
            "Pass y_score=None."
        )
    if y_pred is None:
        raise InvalidInputError("A regression check needs 'y_pred'. Got None.")
    t = _floats("y_true", y_true, None)
    p = _floats("y_pred", y_pred, int(t.shape[0]))
    labelled = np.isfinite(t)
    keep = labelled & np.isfinite(p)
    return RegData(
        task="regression",
        n_rows=int(t.shape[0]),
        n_labelled=int(np.count_nonzero(labelled)),
        true=t[keep],
        pred=p[keep],
    )


def _derive(task: str, s: FloatArray, finite: npt.NDArray[np.bool_], threshold: float) -> IntArray:
    """Predicted codes from the scores; -1 where a score is not finite."""
    if task == "binary":
        pred = (s >= threshold).astype(np.int64)
    else:
        pred = np.argmax(np.where(finite[:, None], s, 0.0), axis=1).astype(np.int64)
    pred[~finite] = -1
    return pred


def _codes(name: str, values: Any, n_classes: int, n: int | None) -> IntArray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InvalidInputError(f"'{name}' must be a 1-D array of class codes. Got {arr.ndim}-D.")
    if arr.dtype.kind not in "iu":
        raise InvalidInputError(
            f"'{name}' must hold integer class codes (-1 = missing). Got dtype {arr.dtype}; "
            "encode the labels into codes of 'classes' first."
        )
    if n is not None and arr.shape[0] != n:
        raise InvalidInputError(f"'{name}' has {arr.shape[0]} rows; 'y_true' has {n}.")
    out = arr.astype(np.int64, copy=False)
    if out.shape[0]:
        lo, hi = int(out.min()), int(out.max())
        if lo < -1 or hi >= n_classes:
            raise InvalidInputError(
                f"'{name}' holds codes in [{lo}, {hi}]; codes must be in [-1, {n_classes - 1}] "
                f"(-1 = missing, else an index into the {n_classes} classes)."
            )
    return out


def _floats(name: str, values: Any, n: int | None) -> FloatArray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.dtype.kind not in "iuf":
        raise InvalidInputError(
            f"'{name}' must be a 1-D numeric array. Got a {arr.ndim}-D array of dtype {arr.dtype}."
        )
    if n is not None and arr.shape[0] != n:
        raise InvalidInputError(f"'{name}' has {arr.shape[0]} rows; 'y_true' has {n}.")
    return arr.astype(np.float64, copy=False)


def _scores(task: str, values: Any, n: int, k: int) -> FloatArray:
    arr = np.asarray(values)
    if arr.dtype.kind not in "iuf":
        raise InvalidInputError(f"'y_score' must be numeric. Got dtype {arr.dtype}.")
    want = (n,) if task == "binary" else (n, k)
    if arr.shape != want:
        what = "the positive-class score per row" if task == "binary" else "one column per class"
        raise InvalidInputError(
            f"'y_score' must have shape {want} ({what}) for a {task} task. "
            f"Got shape {arr.shape} instead."
        )
    return arr.astype(np.float64, copy=False)
