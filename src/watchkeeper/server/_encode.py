"""Model outputs to the JSON answer of the protocol the request came in by.

:func:`encode` shapes ``predict`` (and ``predict_proba``) output as an Open Inference Protocol
infer response, an MLflow scoring answer or a TF Serving predict answer, from plain Python
values only (numpy scalars become Python numbers, NaN and ±inf become null), so that
``json.dumps(..., allow_nan=False)`` always succeeds.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from watchkeeper.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["encode"]

_MLFLOW_STYLES = frozenset({"split", "records", "instances", "inputs", "csv"})
_STYLES = frozenset({"oip", "tf_instances", "tf_columns"} | _MLFLOW_STYLES)


def _plain(value: Any) -> Any:
    """One value as a JSON-safe Python value."""
    if isinstance(value, np.generic):
        if isinstance(value, np.datetime64 | np.timedelta64):
            return None if np.isnat(value) else str(value)
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is getattr(value, "NaT", None) or str(value) == "NaT":
        return None
    return str(value)  # Timestamps, Decimals...: their text


def _plain_list(values: np.ndarray) -> list[Any]:
    """A 1-D array as a list of JSON-safe values (vectorized for numeric dtypes)."""
    kind = values.dtype.kind
    if kind in "biu":
        out: list[Any] = values.tolist()
        return out
    if kind == "f":
        finite = np.isfinite(values)
        if finite.all():
            floats: list[Any] = values.astype(np.float64).tolist()
            return floats
        return [v if ok else None for v, ok in zip(values.tolist(), finite.tolist(), strict=True)]
    if kind == "M":
        text = np.datetime_as_string(values)
        return [None if nat else t for t, nat in zip(text.tolist(), np.isnat(values), strict=True)]
    if kind == "U":
        strings: list[Any] = values.tolist()
        return strings
    return [_plain(v) for v in values.tolist()]


def _datatype(labels: np.ndarray, data: list[Any]) -> str:
    """The OIP datatype of the labels: INT64, FP64, BOOL or BYTES."""
    kind = labels.dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return "INT64"
    if kind == "f":
        return "FP64"
    kinds = set(map(type, data)) - {type(None)}
    if kinds == {bool}:
        return "BOOL"
    if kinds == {int}:
        return "INT64"
    if kinds and kinds <= {int, float}:
        return "FP64"
    return "BYTES"


def encode(
    style: str,
    *,
    model: str,
    version: int,
    request_id: str,
    labels: np.ndarray,
    proba: np.ndarray | None,
    classes: Sequence[Any] | None,
    ids: Sequence[Any] | None,
) -> dict[str, Any]:
    """The JSON answer to a prediction request, shaped as its ``style`` asks.

    Parameters
    ----------
    style
        :attr:`Decoded.style <watchkeeper.server._decode.Decoded>`: ``oip``; ``split``,
        ``records``, ``instances``, ``inputs``, ``csv`` (MLflow); ``tf_instances``,
        ``tf_columns`` (TF Serving).
    model, version, request_id
        What answered, and the request's id.
    labels
        ``predict`` output, one per row.
    proba
        ``predict_proba`` output (rows × classes), or None.
    classes
        The model's ``classes_`` (the columns of ``proba``), or None.
    ids
        The request's id-column values, one per row, or None.

    Returns
    -------
    dict
        ``oip``: ``{"model_name", "model_version", "id", "parameters"?, "outputs": [predict,
        predict_proba?]}``; MLflow: ``{"predictions", "probabilities"?, "request_id",
        "model_version", "ids"?}``; ``tf_instances`` the same, ``tf_columns`` with ``outputs``
        for ``predictions``.

    Raises
    ------
    InvalidParameterError
        An unknown style, or outputs that do not have one row per label (a server fault).

    Examples
    --------
    >>> import numpy as np
    >>> encode("records", model="churn", version=3, request_id="r1", labels=np.array([0, 1]),
    ...        proba=None, classes=None, ids=None)
    {'predictions': [0, 1], 'request_id': 'r1', 'model_version': 3}
    """
    if style not in _STYLES:
        raise InvalidParameterError(
            f"Unknown answer style {style!r}; expected one of {', '.join(sorted(_STYLES))}."
        )
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise InvalidParameterError(f"labels must be 1-D; got shape {labels.shape}.")
    n = len(labels)
    predictions = _plain_list(labels)
    probabilities: list[Any] | None = None
    if proba is not None:
        proba = np.asarray(proba, dtype=np.float64)
        if proba.ndim != 2 or proba.shape[0] != n:
            raise InvalidParameterError(
                f"proba must have one row per label ({n}); got shape {proba.shape}."
            )
        probabilities = [_plain_list(row) for row in proba] if n else []
    id_list = None if ids is None else [_plain(v) for v in ids]
    if id_list is not None and len(id_list) != n:
        raise InvalidParameterError(f"ids must have one value per row ({n}); got {len(id_list)}.")
    if style == "oip":
        datatype = _datatype(labels, predictions)
        if datatype == "BYTES":  # OIP BYTES data are strings
            predictions = [v if v is None or isinstance(v, str) else str(v) for v in predictions]
        outputs: list[dict[str, Any]] = [
            {"name": "predict", "shape": [n], "datatype": datatype, "data": predictions}
        ]
        if probabilities is not None and proba is not None:
            k = proba.shape[1]
            output: dict[str, Any] = {
                "name": "predict_proba",
                "shape": [n, k],
                "datatype": "FP64",
                "data": [p for row in probabilities for p in row],
            }
            if classes is not None:
                output["parameters"] = {"classes": [_plain(c) for c in classes]}
            outputs.append(output)
        answer: dict[str, Any] = {
            "model_name": model,
            "model_version": str(version),
            "id": request_id,
        }
        if id_list is not None:
            answer["parameters"] = {"ids": id_list}
        answer["outputs"] = outputs
        return answer
    key = "outputs" if style == "tf_columns" else "predictions"
    answer = {key: predictions}
    if probabilities is not None:
        answer["probabilities"] = probabilities
    answer["request_id"] = request_id
    answer["model_version"] = int(version)
    if id_list is not None:
        answer["ids"] = id_list
    return answer
