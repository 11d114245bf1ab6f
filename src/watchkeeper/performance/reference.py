"""The performance baseline: :class:`PerformanceReference`, fitted once on validation data.

Fitting computes every metric of the task on the reference rows, the standard error of each
(so that a window's band also carries the baseline's own sampling error), and, for a binary
task with scores, the calibration bins. It is persisted without pickle: :meth:`to_state`
returns JSON-safe metadata and named numpy arrays, :meth:`from_state` reads them back exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from watchkeeper._validate import check_choice
from watchkeeper.errors import EmptyInputError, InvalidInputError, SerializationError
from watchkeeper.performance._bands import standard_errors
from watchkeeper.performance._calibration import CalibrationReference
from watchkeeper.performance._inputs import ClassData, prepare
from watchkeeper.performance._metrics import compute
from watchkeeper.performance._options import METRICS, TASKS, PerformanceOptions

__all__ = ["PerformanceReference", "check_classes"]

IntArray = npt.NDArray[np.int64]

_STATE_KIND = "PerformanceReference"
_STATE_VERSION = 1


def check_classes(task: str, classes: Any, *, owner: str) -> tuple[str, ...]:
    """Validate the class labels of ``task`` (binary: 2, multiclass: >= 3, regression: none)."""
    if isinstance(classes, str) or not isinstance(classes, Sequence):
        raise InvalidInputError(
            f"'classes' of {owner} must be a sequence of class labels (strings). "
            f"Got {classes!r} instead."
        )
    out = tuple(classes)
    if not all(isinstance(c, str) for c in out) or len(set(out)) != len(out):
        raise InvalidInputError(
            f"'classes' of {owner} must hold distinct strings. Got {list(out)!r} instead."
        )
    need = {"binary": "exactly 2", "multiclass": "at least 3", "regression": "no"}[task]
    ok = {"binary": len(out) == 2, "multiclass": len(out) >= 3, "regression": not out}[task]
    if not ok:
        hint = " (use task='binary' for two classes)" if task == "multiclass" else ""
        raise InvalidInputError(
            f"A {task} task needs {need} classes{hint}. Got {len(out)}: {list(out)!r}."
        )
    return out


@dataclass(frozen=True, slots=True, eq=False)
class PerformanceReference:
    """Baseline metrics, their standard errors and the calibration bins of one model.

    Build one with :meth:`fit` (or :meth:`from_state`).

    Attributes
    ----------
    task
        ``"binary"``, ``"multiclass"`` or ``"regression"``.
    classes
        The class labels (binary: ``classes[1]`` is the positive class; regression: empty).
    metrics
        Baseline value of every metric defined on the reference. An undefined metric (see
        :mod:`watchkeeper.performance._metrics`) is absent; its reason is in ``undefined``.
    se
        Standard error of each metric in ``metrics`` (NaN when it could not be estimated).
    methods
        How each standard error was obtained: ``binomial``, ``delong``, ``analytic`` or
        ``bootstrap``.
    undefined
        Metric name to the reason it is undefined on the reference.
    n_used
        Rows each metric used.
    n, n_labelled
        Reference rows, and rows with a label.
    has_scores
        Whether scores were given at fit (score metrics and calibration need them).
    threshold
        Binary decision threshold used to derive predictions from scores, here and in every
        window compared with this reference.
    confusion
        Confusion matrix of the reference (rows: true class, columns: predicted), or None.
    calibration
        Calibration bins (binary with scores), or None.
    options
        The options of the fit (bootstrap size, seed, bins...).
    """

    task: str
    classes: tuple[str, ...]
    metrics: Mapping[str, float]
    se: Mapping[str, float]
    methods: Mapping[str, str]
    undefined: Mapping[str, str]
    n_used: Mapping[str, int]
    n: int
    n_labelled: int
    has_scores: bool
    threshold: float
    confusion: IntArray | None
    calibration: CalibrationReference | None
    options: PerformanceOptions

    @classmethod
    def fit(
        cls,
        task: str,
        classes: Sequence[str],
        y_true: Any,
        y_pred: Any = None,
        y_score: Any = None,
        *,
        options: PerformanceOptions | None = None,
    ) -> PerformanceReference:
        """Compute the baseline on validation (or reference) data.

        Parameters
        ----------
        task
            ``"binary"``, ``"multiclass"`` or ``"regression"``.
        classes
            Class labels (strings); empty for regression.
        y_true
            Class codes (``int64``, -1 = no label) or regression targets (NaN = none).
        y_pred
            Predicted codes (-1 = none) or regression predictions; None derives classes from
            ``y_score``.
        y_score
            Positive-class scores ``(n,)`` (binary), probabilities ``(n, K)`` (multiclass), or
            None.
        options
            :class:`PerformanceOptions`; ``threshold``, ``bootstrap_below``, ``n_bootstrap``,
            ``calibration_bins`` and ``seed`` are used here.

        Returns
        -------
        PerformanceReference
            The fitted reference.

        Raises
        ------
        InvalidInputError
            If the classes or arrays do not fit the task.
        EmptyInputError
            If no row has a label.

        Examples
        --------
        >>> import numpy as np
        >>> y = np.array([0, 1, 1, 0, 1, 0, 1, 1], dtype=np.int64)
        >>> s = np.array([0.2, 0.9, 0.6, 0.4, 0.7, 0.1, 0.3, 0.8])
        >>> ref = PerformanceReference.fit("binary", ("no", "yes"), y, None, s)
        >>> ref.metrics["accuracy"], ref.metrics["roc_auc"]
        (0.875, 0.9333333333333333)
        """
        options = options if options is not None else PerformanceOptions()
        check_choice("PerformanceReference.fit", "task", task, TASKS)
        cls_ = check_classes(task, classes, owner="PerformanceReference.fit")
        data = prepare(
            task,
            y_true,
            y_pred,
            y_score,
            n_classes=len(cls_),
            n_score_classes=len(cls_),
            threshold=options.threshold,
        )
        if data.n_labelled == 0:
            raise EmptyInputError(
                f"The performance reference has no labelled row (of {data.n_rows}); a baseline "
                "needs labels. Fit it on validation data with its ground truth."
            )
        computed = compute(data)
        bands = standard_errors(
            data,
            computed,
            METRICS[task],
            bootstrap_below=options.bootstrap_below,
            n_bootstrap=options.n_bootstrap,
            seed=options.seed,
        )
        calibration = None
        if task == "binary" and computed.ranks is not None:
            calibration = CalibrationReference.fit(computed.ranks, options.calibration_bins)
        has_scores = isinstance(data, ClassData) and data.has_scores
        return cls(
            task=task,
            classes=cls_,
            metrics={m: computed.values[m] for m in METRICS[task] if m in computed.values},
            se={m: b.se for m, b in bands.items()},
            methods={m: b.method for m, b in bands.items()},
            undefined=dict(computed.undefined),
            n_used=dict(computed.n_used),
            n=data.n_rows,
            n_labelled=data.n_labelled,
            has_scores=has_scores,
            threshold=float(options.threshold),
            confusion=computed.confusion,
            calibration=calibration,
            options=options,
        )

    # ------------------------------------------------------------ serialisation
    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Return ``(meta, arrays)``: JSON-safe metadata and named numpy arrays (no pickle)."""
        meta: dict[str, Any] = {
            "kind": _STATE_KIND,
            "version": _STATE_VERSION,
            "task": self.task,
            "classes": list(self.classes),
            "metrics": dict(self.metrics),
            "se": {k: (None if math.isnan(v) else v) for k, v in self.se.items()},
            "methods": dict(self.methods),
            "undefined": dict(self.undefined),
            "n_used": dict(self.n_used),
            "n": self.n,
            "n_labelled": self.n_labelled,
            "has_scores": self.has_scores,
            "threshold": self.threshold,
            "options": self.options.to_dict(),
        }
        arrays: dict[str, np.ndarray] = {}
        if self.confusion is not None:
            arrays["confusion"] = self.confusion.copy()
        if self.calibration is not None:
            arrays["calibration_edges"] = self.calibration.edges.copy()
            arrays["calibration_counts"] = self.calibration.counts.copy()
            arrays["calibration_positives"] = self.calibration.positives.copy()
        return meta, arrays

    @classmethod
    def from_state(
        cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
    ) -> PerformanceReference:
        """Rebuild a reference from :meth:`to_state` output.

        Raises
        ------
        SerializationError
            If the state is not a PerformanceReference state of this version, or incomplete.
        """
        kind = meta.get("kind") if isinstance(meta, Mapping) else None
        if kind != _STATE_KIND:
            raise SerializationError(f"Expected a {_STATE_KIND} state. Got kind {kind!r} instead.")
        if meta.get("version") != _STATE_VERSION:
            raise SerializationError(
                f"This watchkeeper reads {_STATE_KIND} state version {_STATE_VERSION}. Got "
                f"version {meta.get('version')!r}; refit the performance reference."
            )
        try:
            calibration = None
            if "calibration_edges" in arrays:
                calibration = CalibrationReference(
                    edges=np.asarray(arrays["calibration_edges"], dtype=np.float64),
                    counts=np.asarray(arrays["calibration_counts"], dtype=np.int64),
                    positives=np.asarray(arrays["calibration_positives"], dtype=np.int64),
                )
            confusion = None
            if "confusion" in arrays:
                confusion = np.asarray(arrays["confusion"], dtype=np.int64)
            return cls(
                task=str(meta["task"]),
                classes=tuple(str(c) for c in meta["classes"]),
                metrics={str(k): float(v) for k, v in meta["metrics"].items()},
                se={str(k): math.nan if v is None else float(v) for k, v in meta["se"].items()},
                methods={str(k): str(v) for k, v in meta["methods"].items()},
                undefined={str(k): str(v) for k, v in meta["undefined"].items()},
                n_used={str(k): int(v) for k, v in meta["n_used"].items()},
                n=int(meta["n"]),
                n_labelled=int(meta["n_labelled"]),
                has_scores=bool(meta["has_scores"]),
                threshold=float(meta["threshold"]),
                confusion=confusion,
                calibration=calibration,
                options=PerformanceOptions.from_dict(meta["options"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SerializationError(
                f"A {_STATE_KIND} state is incomplete or invalid: {exc!r}."
            ) from exc

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in list(self.metrics.items())[:4])
        return f"PerformanceReference(task={self.task!r}, n_labelled={self.n_labelled}, {shown})"
