"""The raw-array metric function :func:`compute_metrics` and its result, :class:`MetricValues`.

See :mod:`watchkeeper.performance._metrics` for the definitions (scikit-learn 1.9's) and the
conventions for undefined cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from watchkeeper._validate import check_choice
from watchkeeper.performance._inputs import prepare
from watchkeeper.performance._metrics import compute
from watchkeeper.performance._options import METRICS, TASKS

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["MetricValues", "compute_metrics"]


@dataclass(frozen=True, slots=True, eq=False)
class MetricValues:
    """Every metric of one task on one set of rows.

    Attributes
    ----------
    task
        ``"binary"``, ``"multiclass"`` or ``"regression"``.
    values
        Metric name to value, for the metrics defined on these rows (in :data:`METRICS` order).
    undefined
        Metric name to the reason it is undefined (e.g. ``"no predicted positives"``).
    n_used
        Rows each metric used.
    n_rows, n_labelled
        Rows given, and rows with a label.
    confusion
        Confusion matrix (rows: true code, columns: predicted code), None for regression.
    """

    task: str
    values: Mapping[str, float]
    undefined: Mapping[str, str]
    n_used: Mapping[str, int]
    n_rows: int
    n_labelled: int
    confusion: npt.NDArray[np.int64] | None

    def get(self, name: str) -> float | None:
        """The value of ``name``, or None when it is undefined."""
        return self.values.get(name)


def compute_metrics(
    task: str,
    y_true: Any,
    y_pred: Any = None,
    y_score: Any = None,
    *,
    classes: Sequence[str] | None = None,
    threshold: float = 0.5,
) -> MetricValues:
    """Compute every metric of ``task`` from raw arrays.

    Parameters
    ----------
    task
        ``"binary"``, ``"multiclass"`` or ``"regression"``.
    y_true
        Class codes (integers, -1 = no label) or regression targets (NaN = none).
    y_pred
        Predicted codes (-1 = none) or regression predictions. None (classification) derives
        them from ``y_score``: ``score >= threshold`` (binary), the row's argmax (multiclass).
    y_score
        Positive-class scores ``(n,)`` (binary) or probabilities ``(n, K)`` (multiclass, one
        column per class), or None (no score metrics).
    classes
        Class labels; they only fix the number of classes. None infers it: 2 for binary; for
        multiclass the number of score columns, or the largest code + 1 without scores.
        Codes at or above the number of score columns are labels without a score column.
    threshold
        Binary decision threshold for derived predictions.

    Returns
    -------
    MetricValues
        Defined values, reasons for the undefined ones, row counts, confusion matrix.

    Raises
    ------
    InvalidInputError
        If the arrays do not fit the task.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 1, 1, 0, 1], dtype=np.int64)
    >>> p = np.array([0, 1, 0, 0, 1], dtype=np.int64)
    >>> m = compute_metrics("binary", y, p)
    >>> m.values["accuracy"], m.values["recall"]
    (0.8, 0.6666666666666666)
    >>> m.undefined["roc_auc"]
    'no scores were given'
    """
    check_choice("compute_metrics", "task", task, TASKS)
    n_classes, n_score = 0, 0
    if task != "regression":
        n_classes, n_score = _class_counts(task, y_true, y_pred, y_score, classes)
    data = prepare(
        task,
        y_true,
        y_pred,
        y_score,
        n_classes=n_classes,
        n_score_classes=n_score,
        threshold=threshold,
    )
    c = compute(data)
    return MetricValues(
        task=task,
        values={m: c.values[m] for m in METRICS[task] if m in c.values},
        undefined={m: c.undefined[m] for m in METRICS[task] if m in c.undefined},
        n_used=dict(c.n_used),
        n_rows=data.n_rows,
        n_labelled=data.n_labelled,
        confusion=c.confusion,
    )


def _class_counts(
    task: str, y_true: Any, y_pred: Any, y_score: Any, classes: Sequence[str] | None
) -> tuple[int, int]:
    """``(number of classes, number of score columns)`` given or inferred."""
    if task == "binary":
        n_score = 2
    else:
        shape: tuple[int, ...] = np.shape(y_score) if y_score is not None else ()
        n_score = int(shape[1]) if len(shape) == 2 else 0
    if classes is not None:
        n_classes = len(classes)
    else:
        top = [int(np.max(a)) for a in (y_true, y_pred) if a is not None and np.size(a)]
        n_classes = max([n_score, *(t + 1 for t in top)])
    return n_classes, n_score if n_score else n_classes
