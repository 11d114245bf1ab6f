"""Reading the target, prediction and score columns as the performance checks need them.

Classification labels become integer codes into one class list (labels compared by their
string form, so ``1``, ``1.0`` and ``"1"`` are the same class; ``True``/``False`` are the
classes ``1``/``0``, so a bool prediction of a 0/1 target is one binary task). For a binary
task the positive class (the one the score is the probability of) comes second:
``pos_label`` names it, else it is ``1``, ``yes``, ``y`` or ``positive`` (any case) of such a
pair; other labels (``"churn"``/``"stay"``) need ``pos_label``, as guessing would invert every
metric. A window's labels that the reference never had get codes after the reference's
classes. Regression columns stay float64.

Task inference (``task=None``): a categorical or boolean target, or any ``prediction_proba``
column, means classification; an integer target whose predictions (if any) take only values the
target takes, with at most 20 distinct values, is classification too; any other numeric target
is regression. Binary needs exactly two classes; multiclass scores come from one
``prediction_proba`` column per class, named ``prediction_proba_<class>`` (what ``register``
adds), ``proba_<class>`` or just ``<class>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from watchkeeper.errors import InvalidParameterError, SchemaError

if TYPE_CHECKING:
    from watchkeeper._frame import Columns
    from watchkeeper.schema import Schema

__all__ = ["TASKS", "LabelSpec", "Labels", "infer_label_spec"]

TASKS = ("binary", "multiclass", "regression")
_MAX_DISCRETE_CLASSES = 20


def _label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


_BOOLEAN = {"False": "0", "True": "1"}


def _canon(label: str) -> str:
    """Booleans are the classes 0 and 1: a bool prediction of a 0/1 target is the same task."""
    return _BOOLEAN.get(label, label)


def _column_labels(cols: Columns, name: str) -> list[str]:
    if name in cols.categorical:
        column = cols.categorical[name]
        present = np.flatnonzero(column.counts())
        return sorted({_canon(column.categories[i]) for i in present})
    values = cols.numeric[name]
    return [_label(v) for v in np.unique(values[np.isfinite(values)])]


@dataclass(frozen=True, slots=True)
class Labels:
    """One frame's labels, encoded: ``y_true``, ``y_pred``, ``y_score`` and the class list."""

    y_true: npt.NDArray[Any] | None
    y_pred: npt.NDArray[Any] | None
    y_score: npt.NDArray[np.float64] | None
    classes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LabelSpec:
    """Which columns hold the labels, and the task and classes they were fitted with."""

    task: str
    target: str
    prediction: str | None
    proba: tuple[str, ...]
    classes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "task": self.task,
            "target": self.target,
            "prediction": self.prediction,
            "proba": list(self.proba),
            "classes": list(self.classes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelSpec:
        """Rebuild from :meth:`to_dict`."""
        return cls(
            task=str(data["task"]),
            target=str(data["target"]),
            prediction=data.get("prediction"),
            proba=tuple(data.get("proba", ())),
            classes=tuple(data.get("classes", ())),
        )

    @property
    def columns(self) -> list[str]:
        """Every label column."""
        return [self.target, *([self.prediction] if self.prediction else []), *self.proba]

    def encode(self, cols: Columns) -> Labels:
        """Encode a frame's label columns (absent ones are None)."""
        if self.task == "regression":
            return Labels(
                y_true=cols.numeric.get(self.target),
                y_pred=cols.numeric.get(self.prediction) if self.prediction else None,
                y_score=None,
                classes=(),
            )
        classes = list(self.classes)
        index = {c: i for i, c in enumerate(classes)}

        def codes(name: str | None) -> npt.NDArray[np.int64] | None:
            if name is None or name not in cols:
                return None
            if name in cols.categorical:
                column = cols.categorical[name]
                labels, raw = tuple(_canon(c) for c in column.categories), column.codes
            else:
                values = cols.numeric[name]
                finite = np.isfinite(values)
                uniques, inverse = np.unique(np.where(finite, values, 0.0), return_inverse=True)
                labels = tuple(_label(v) for v in uniques)
                raw = np.where(finite, inverse, -1)
            for label in labels:
                if label not in index:
                    index[label] = len(classes)
                    classes.append(label)
            lookup = np.array([index[label] for label in labels] + [-1], dtype=np.int64)
            return lookup[raw]  # raw code -1 (missing) reads the trailing -1

        y_true = codes(self.target)
        y_pred = codes(self.prediction)
        score: npt.NDArray[np.float64] | None = None
        if self.proba and all(p in cols.numeric for p in self.proba):
            if self.task == "binary":
                score = cols.numeric[self.proba[0]]
            else:
                score = np.column_stack([cols.numeric[p] for p in self.proba])
        return Labels(y_true=y_true, y_pred=y_pred, y_score=score, classes=tuple(classes))


# Binary label pairs whose positive class is unambiguous (compared case-insensitively).
_KNOWN_PAIRS = (("0", "1"), ("false", "true"), ("no", "yes"), ("n", "y"), ("negative", "positive"))


def _binary_order(classes: tuple[str, ...], pos_label: str | None, target: str) -> tuple[str, str]:
    """The two classes with the positive one second."""
    if pos_label is not None:
        pos_label = _canon(pos_label)
        if pos_label not in classes:
            raise InvalidParameterError(
                f"The 'pos_label' parameter of Baseline.fit must be one of the classes of "
                f"{target!r} ({', '.join(map(repr, classes))}). Got {pos_label!r} instead."
            )
        return (next(c for c in classes if c != pos_label), pos_label)
    lowered = tuple(c.lower() for c in classes)
    for neg, pos in _KNOWN_PAIRS:
        if set(lowered) <= {neg, pos}:
            if len(classes) == 2:
                return (classes[1], classes[0]) if lowered[0] == pos else (classes[0], classes[1])
            # One class in the reference: name the other in the same letter case.
            seen = classes[0]
            other = neg if lowered[0] == pos else pos
            other = other.title() if seen.istitle() else other.upper() if seen.isupper() else other
            return (other, seen) if lowered[0] == pos else (seen, other)
    raise InvalidParameterError(
        f"The binary target {target!r} has classes {', '.join(map(repr, classes))}: say which "
        "is the positive class (the one the score is the probability of) with "
        "pos_label=..."
    )


def infer_label_spec(
    schema: Schema, cols: Columns, task: str | None = None, pos_label: str | None = None
) -> LabelSpec | None:
    """The label columns of ``schema`` with their task and classes (None without a target)."""
    target = schema.role_column("target")
    if target is None or target not in cols:
        return None
    prediction = schema.role_column("prediction")
    prediction = prediction if prediction in cols else None
    proba = tuple(c.name for c in schema.by_role("prediction_proba") if c.name in cols.numeric)
    if task is not None and task not in TASKS:
        raise InvalidParameterError(
            f"The 'task' parameter of Baseline.fit must be one of {', '.join(TASKS)}. "
            f"Got {task!r} instead."
        )
    if task is None:
        task = _infer_task(schema, cols, target, prediction, proba)
    if task == "regression":
        if target not in cols.numeric:
            raise SchemaError(f"Regression needs a numeric target; {target!r} is categorical.")
        return LabelSpec("regression", target, prediction, (), ())
    labels = set(_column_labels(cols, target))
    if prediction is not None:
        labels |= set(_column_labels(cols, prediction))
    if task == "multiclass" or len(proba) > 1:
        proba_classes = [_proba_class(p) for p in proba]
        labels |= set(proba_classes)
        classes = tuple(sorted(labels))
        order = {c: i for i, c in enumerate(classes)}
        proba = tuple(
            p for _, p in sorted(zip(proba_classes, proba, strict=True), key=lambda t: order[t[0]])
        )
        if proba and len(proba) != len(classes):
            raise SchemaError(
                f"Multiclass scores need one prediction_proba column per class "
                f"({', '.join(classes)}); got {', '.join(proba)}."
            )
        return LabelSpec("multiclass", target, prediction, proba, classes)
    classes = tuple(sorted(labels))
    if len(classes) > 2:
        return LabelSpec("multiclass", target, prediction, (), classes)
    if not classes:
        return None
    if (
        len(classes) < 2
        and pos_label is None
        and classes[0].lower() not in {x for pair in _KNOWN_PAIRS for x in pair}
    ):
        return None  # one unknown class: nothing says what the other one is
    return LabelSpec(
        "binary", target, prediction, proba[:1], _binary_order(classes, pos_label, target)
    )


def _infer_task(
    schema: Schema, cols: Columns, target: str, prediction: str | None, proba: tuple[str, ...]
) -> str:
    if proba or target in cols.categorical:
        n = len(_column_labels(cols, target))
        return "multiclass" if len(proba) > 1 or n > 2 else "binary"
    labels = _column_labels(cols, target)
    integral = all("." not in x and "e" not in x for x in labels)
    few = len(labels) <= _MAX_DISCRETE_CLASSES
    predicted_ok = prediction is None or set(_column_labels(cols, prediction)) <= set(labels)
    if (schema[target].discrete or integral) and few and predicted_ok and len(labels) >= 2:
        return "binary" if len(labels) == 2 else "multiclass"
    return "regression"


def _proba_class(column: str) -> str:
    """The class a multiclass score column is about: its name without the
    ``prediction_proba_`` or ``proba_`` prefix (the longer one first)."""
    for prefix in ("prediction_proba_", "proba_"):
        if column.startswith(prefix) and len(column) > len(prefix):
            return column[len(prefix) :]
    return column
