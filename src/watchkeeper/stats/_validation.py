"""Parameter checks and input coercion shared by every function in :mod:`watchkeeper.stats`.

Inputs may be lists, numpy arrays or pandas Series (DataFrames for :func:`mmd`); pandas is
duck-typed (``isna``/``to_numpy``) so that importing the statistics never imports pandas.
Missing values are NaN, None, NaT and pandas' NA.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt

from watchkeeper.errors import (
    EmptyInputError,
    InvalidInputError,
    InvalidParameterError,
    UnknownMethodError,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
AnyArray: TypeAlias = npt.NDArray[Any]
NanPolicy: TypeAlias = Literal["raise", "omit"]

_S = TypeVar("_S", bound=str)


def check_choice(value: object, name: str, func: str, choices: Sequence[_S]) -> _S:
    """Return the element of ``choices`` equal to ``value``, else raise
    :class:`UnknownMethodError` listing the valid names.
    """
    if isinstance(value, str):
        for choice in choices:
            if value == choice:
                return choice
    valid = ", ".join(repr(c) for c in choices)
    raise UnknownMethodError(
        f"The {name!r} parameter of {func} must be one of {valid}. Got {value!r} instead."
    )


def check_nan_policy(value: object, func: str) -> NanPolicy:
    """Return ``value`` as a nan policy, else raise :class:`InvalidParameterError`."""
    if value == "raise" or value == "omit":
        return value
    raise InvalidParameterError(
        f"The 'nan_policy' parameter of {func} must be 'raise' or 'omit'. Got {value!r} instead."
    )


def check_bool(value: object, name: str, func: str) -> bool:
    """Return ``value`` if it is a bool, else raise :class:`InvalidParameterError`."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise InvalidParameterError(
        f"The {name!r} parameter of {func} must be a bool. Got {value!r} instead."
    )


def check_int(value: object, name: str, func: str, *, minimum: int) -> int:
    """Return ``value`` as an int >= ``minimum``, else raise :class:`InvalidParameterError`."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= minimum:
        return int(value)
    raise InvalidParameterError(
        f"The {name!r} parameter of {func} must be an int >= {minimum}. Got {value!r} instead."
    )


def check_float(
    value: object,
    name: str,
    func: str,
    *,
    low: float,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite float in the given interval, else raise.

    The interval is ``[low, high]``; ``low_open``/``high_open`` exclude an end; ``high=None``
    leaves it unbounded above.
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
    if ok:
        x = float(value)  # type: ignore[arg-type]  # numbers.Real is float-convertible
        ok = math.isfinite(x) and (x > low if low_open else x >= low)
        if ok and high is not None:
            ok = x < high if high_open else x <= high
        if ok:
            return x
    if high is None:
        constraint = f"{'>' if low_open else '>='} {low:g}"
    else:
        constraint = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    raise InvalidParameterError(
        f"The {name!r} parameter of {func} must be {constraint}. Got {value!r} instead."
    )


def check_log_base(value: object, name: str, func: str) -> float:
    """Return ``value`` as a logarithm base (finite, > 0 and != 1), else raise."""
    base = check_float(value, name, func, low=0.0, low_open=True)
    if base == 1.0:
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} must be > 0 and != 1. Got {value!r} instead."
        )
    return base


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):  # pandas.NA refuses bool(); it is missing
        return True


def _missing_mask(arr: AnyArray) -> BoolArray:
    if arr.dtype.kind in "fc":
        return np.isnan(arr)
    if arr.dtype.kind in "mM":
        return np.isnat(arr)
    if arr.dtype.kind == "O":
        flags = [_is_missing(v) for v in arr.ravel().tolist()]
        return np.asarray(flags, dtype=bool).reshape(arr.shape)
    return np.zeros(arr.shape, dtype=bool)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def as_array(
    data: object, name: str, func: str, nan_policy: NanPolicy, *, ndim: Literal[1, 2] = 1
) -> AnyArray:
    """Coerce ``data`` to a 1-D array (or a 2-D rows × features array) without missing values.

    With ``ndim=2`` a 1-D input becomes one column and a row with any missing value is missing.
    """
    isna = getattr(data, "isna", None)
    to_numpy = getattr(data, "to_numpy", None)
    if callable(isna) and callable(to_numpy):  # a pandas Series or DataFrame
        arr = np.asarray(to_numpy())
        missing: BoolArray = np.asarray(isna(), dtype=bool)
    else:
        try:
            arr = np.asarray(data)
        except ValueError as exc:  # ragged nested sequences
            raise InvalidInputError(f"{name} cannot be read as an array: {exc}") from exc
        missing = _missing_mask(arr)
    if ndim == 2 and arr.ndim == 1:
        arr, missing = arr[:, np.newaxis], missing[:, np.newaxis]
    if arr.ndim != ndim:
        shape = "1-D" if ndim == 1 else "1-D or 2-D (rows × features)"
        raise InvalidInputError(f"{name} must be {shape}; got an array of shape {arr.shape}.")
    if missing.ndim == 2:
        missing = np.asarray(missing.any(axis=1), dtype=bool)
    n_missing = int(missing.sum())
    if n_missing:
        if nan_policy == "raise":
            raise InvalidInputError(
                f"{name} contains {_plural(n_missing, 'NaN value')}; "
                "pass nan_policy='omit' to drop them."
            )
        arr = arr[~missing]
    if arr.shape[0] == 0:
        if n_missing:
            raise EmptyInputError(f"{name} has no values left after dropping the NaN values.")
        raise EmptyInputError(f"{name} is empty; {func} needs at least one value.")
    return arr


def is_real_array(arr: AnyArray, *, allow_bool: bool) -> bool:
    """Whether ``arr`` holds real numbers (numeric dtype, or objects that are all real)."""
    kinds = "biuf" if allow_bool else "iuf"
    if arr.dtype.kind in kinds:
        return True
    if arr.dtype.kind != "O":
        return False
    types = {type(v) for v in arr.ravel().tolist()}
    return all(
        issubclass(t, numbers.Real) and (allow_bool or not issubclass(t, bool | np.bool_))
        for t in types
    )


def to_float(arr: AnyArray, name: str, func: str, *, allow_inf: bool = True) -> FloatArray:
    """Convert an array of real numbers to float64, else raise :class:`InvalidInputError`."""
    if not is_real_array(arr, allow_bool=True):
        kind = sorted({type(v).__name__ for v in arr.ravel().tolist()[:1000]})
        what = f"dtype {arr.dtype}" if arr.dtype.kind != "O" else f"values of type {kind}"
        raise InvalidInputError(f"{name} must be numeric for {func}; got {what}.")
    out = np.asarray(arr, dtype=np.float64)
    if not allow_inf:
        n_inf = int(np.isinf(out).sum())
        if n_inf:
            raise InvalidInputError(
                f"{name} contains {_plural(n_inf, 'infinite value')}; {func} needs finite values."
            )
    return out


def as_float(
    data: object,
    name: str,
    func: str,
    nan_policy: NanPolicy,
    *,
    min_size: int = 1,
    allow_inf: bool = True,
) -> FloatArray:
    """Coerce ``data`` to a 1-D float64 array without NaN and with at least ``min_size`` values."""
    arr = to_float(as_array(data, name, func, nan_policy), name, func, allow_inf=allow_inf)
    check_size(arr, name, func, min_size)
    return arr


def check_size(arr: AnyArray, name: str, func: str, min_size: int) -> None:
    """Raise :class:`InvalidInputError` if ``arr`` has fewer than ``min_size`` rows."""
    if arr.shape[0] < min_size:
        raise InvalidInputError(
            f"{func} needs at least {min_size} values in {name}; got {arr.shape[0]}."
        )


def as_sorted_kernel_input(data: npt.ArrayLike, name: str, func: str) -> FloatArray:
    """Coerce a prepared (already sorted, NaN-free) kernel input to a non-empty 1-D float64 array.

    Only the cheap checks are made (shape, emptiness, a trailing NaN); sortedness is the
    caller's promise and is not verified.
    """
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-D; got an array of shape {arr.shape}.")
    if arr.size == 0:
        raise EmptyInputError(f"{name} is empty; {func} needs at least one value.")
    if np.isnan(arr[-1]):  # NaN sorts last, so a sorted array with NaN ends with one
        raise InvalidInputError(f"{name} contains NaN values; {func} needs them removed.")
    return arr


def as_counts(data: npt.ArrayLike, name: str, func: str) -> FloatArray:
    """Coerce a vector of bin counts (non-negative, finite, positive total) to float64."""
    try:
        arr = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be a vector of counts: {exc}") from exc
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-D; got an array of shape {arr.shape}.")
    if arr.size == 0:
        raise EmptyInputError(f"{name} is empty; {func} needs at least one bin.")
    if not (np.all(np.isfinite(arr)) and np.all(arr >= 0)):
        raise InvalidInputError(f"{name} must hold finite, non-negative counts.")
    if not arr.sum() > 0:
        raise EmptyInputError(f"{name} sums to 0; {func} needs at least one positive count.")
    return arr


def as_count_pair(
    ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike, func: str
) -> tuple[FloatArray, FloatArray]:
    """Validate two count vectors over the same bins."""
    ref = as_counts(ref_counts, "ref_counts", func)
    cur = as_counts(cur_counts, "cur_counts", func)
    if ref.size != cur.size:
        raise InvalidInputError(
            f"ref_counts and cur_counts must have the same length for {func}; "
            f"got {ref.size} and {cur.size}."
        )
    return ref, cur
