"""What every streaming detector shares: the update contract, input checks and serialization.

A detector sees one value at a time (``update``) or a whole array (``update_many``, which gives
exactly the results of an ``update`` loop, in compiled or vectorized code). Binary detectors
take 1 for an error and 0 for a correct prediction; real-valued ones take any finite float.
State is serializable (``to_dict``/``from_dict``) so a monitor can resume a detector between
runs.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from watchkeeper.errors import InvalidInputError, SerializationError

__all__ = ["Detector", "as_stream", "check_value"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def as_stream(values: Any, *, binary: bool, owner: str) -> FloatArray:
    """``values`` as a 1-D float64 array, refusing NaN (and, if ``binary``, anything not 0/1)."""
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{owner}.update_many takes a 1-D array of numbers. Got {type(values).__name__}."
        ) from exc
    if x.ndim != 1:
        raise InvalidInputError(f"{owner}.update_many takes a 1-D array. Got shape {x.shape}.")
    if np.isnan(x).any():
        raise InvalidInputError(
            f"{owner} got NaN at position {int(np.flatnonzero(np.isnan(x))[0])}; drop or fill "
            "missing values first."
        )
    if binary and not np.isin(x, (0.0, 1.0)).all():
        bad = x[~np.isin(x, (0.0, 1.0))][0]
        raise InvalidInputError(
            f"{owner} is a binary detector: values must be 1 (error) or 0 (correct). Got {bad!r}."
        )
    return x


def check_value(x: Any, *, binary: bool, owner: str) -> float:
    """One value for ``update``, with the same rules as :func:`as_stream`."""
    try:
        v = float(x)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{owner}.update takes a number. Got {x!r}.") from exc
    if math.isnan(v):
        raise InvalidInputError(f"{owner} got NaN; drop or fill missing values first.")
    if binary and v not in (0.0, 1.0):
        raise InvalidInputError(
            f"{owner} is a binary detector: values must be 1 (error) or 0 (correct). Got {x!r}."
        )
    return v


class Detector:
    """Base class: subclasses implement ``_reset_state``, ``update``, ``update_many``,
    ``_params`` and ``_state``/``_load_state``.

    Attributes
    ----------
    n_seen_
        Values seen since construction (or the last explicit :meth:`reset`).
    warning_indices_
        Indices (relative to the input) of the warnings of the last ``update_many`` call.
    """

    binary: ClassVar[bool] = False

    def __init__(self) -> None:
        self.n_seen_ = 0
        self.warning_indices_: IntArray = np.empty(0, dtype=np.int64)
        self._drift_detected = False
        self._warning_detected = False

    @property
    def drift_detected(self) -> bool:
        """Whether the last value seen completed a detection."""
        return self._drift_detected

    @property
    def warning_detected(self) -> bool:
        """Whether the last value seen is in the warning zone (False where there is none)."""
        return self._warning_detected

    def reset(self) -> None:
        """Forget everything: the detector is as new (``n_seen_`` back to 0)."""
        self.n_seen_ = 0
        self.warning_indices_ = np.empty(0, dtype=np.int64)
        self._drift_detected = False
        self._warning_detected = False
        self._reset_state()

    def _reset_state(self) -> None:
        raise NotImplementedError

    def _params(self) -> dict[str, Any]:
        raise NotImplementedError

    def _state(self) -> dict[str, Any]:
        raise NotImplementedError

    def _load_state(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe parameters and state, to resume the detector later with :meth:`from_dict`."""
        return {
            "detector": type(self).__name__,
            "params": self._params(),
            "n_seen": self.n_seen_,
            "drift_detected": self._drift_detected,
            "warning_detected": self._warning_detected,
            "state": self._state(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Detector:
        """Rebuild a detector written by :meth:`to_dict` (same class)."""
        if data.get("detector") != cls.__name__:
            raise SerializationError(
                f"{cls.__name__}.from_dict got the state of {data.get('detector')!r}."
            )
        try:
            det = cls(**data["params"])
            det.n_seen_ = int(data["n_seen"])
            det._drift_detected = bool(data["drift_detected"])
            det._warning_detected = bool(data["warning_detected"])
            det._load_state(dict(data["state"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise SerializationError(f"Malformed {cls.__name__} state: {exc!r}") from exc
        return det

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({params})"
