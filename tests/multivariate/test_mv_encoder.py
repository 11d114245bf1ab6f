"""FrameEncoder: hand-computed encodings, unseen/missing values, serialisation."""

from __future__ import annotations

import doctest
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from watchkeeper._frame import CategoricalColumn, Columns
from watchkeeper.baseline import _encode
from watchkeeper.baseline._encode import FrameEncoder
from watchkeeper.errors import (
    EmptyInputError,
    InvalidInputError,
    InvalidParameterError,
    NotFittedError,
    SerializationError,
)


def _cat(codes: list[int], categories: tuple[str, ...]) -> CategoricalColumn:
    return CategoricalColumn(np.array(codes, dtype=np.int32), categories)


@pytest.fixture
def reference() -> Columns:
    # "c": a x5, b x3, c x2 -> frequencies 0.5 / 0.3 / 0.2; "x": 1..9 and one NaN.
    codes = [0, 0, 0, 0, 0, 1, 1, 1, 2, 2]
    x = np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9, np.nan])
    return Columns(
        n_rows=10,
        numeric={"x": x},
        categorical={"c": _cat(codes, ("a", "b", "c"))},
        order=["x", "c"],
    )


# Frequency encoding by hand: mean = Σ p·f = 0.5² + 0.3² + 0.2² = 0.38;
# var = Σ p·f² − mean² = 0.125 + 0.027 + 0.008 − 0.1444 = 0.0156.
CAT_MEAN = 0.38
CAT_STD = math.sqrt(0.0156)
X_MEAN = 5.0  # mean of 1..9 (the NaN is ignored)
X_STD = math.sqrt(60.0 / 9.0)  # population std of 1..9


def test_hand_computed_encoding(reference: Columns) -> None:
    enc = FrameEncoder.fit(reference, features=["c", "x"])
    assert enc.features_ == ("c", "x")
    assert enc.kinds_ == ("categorical", "numeric")
    np.testing.assert_allclose(enc.frequencies_["c"], [0.5, 0.3, 0.2])
    np.testing.assert_allclose(enc.mean_, [CAT_MEAN, X_MEAN])
    np.testing.assert_allclose(enc.scale_, [CAT_STD, X_STD])

    out = enc.transform(reference)
    assert out.shape == (10, 2)
    assert out.dtype == np.float64
    expected_cat = [(f - CAT_MEAN) / CAT_STD for f in [0.5] * 5 + [0.3] * 3 + [0.2] * 2]
    np.testing.assert_allclose(out[:, 0], expected_cat, rtol=1e-12)
    assert out[0, 0] == pytest.approx(0.12 / math.sqrt(0.0156))
    expected_x = [(v - X_MEAN) / X_STD for v in range(1, 10)] + [0.0]  # NaN -> 0 (the mean)
    np.testing.assert_allclose(out[:, 1], expected_x, rtol=1e-12, atol=1e-15)


def test_window_maps_categories_by_string_and_handles_unseen_missing(reference: Columns) -> None:
    enc = FrameEncoder.fit(reference, features=["x", "c"])
    # The window orders its categories differently and has an unseen one ("z") and missing.
    window = Columns(
        n_rows=6,
        numeric={"x": np.array([5.0, np.nan, np.inf, -np.inf, 1.0, 9.0])},
        categorical={"c": _cat([2, 1, 0, -1, 2, 1], ("a", "z", "c"))},
        order=["c", "x"],
    )
    out = enc.transform(window)
    # numeric: NaN and ±inf become 0 after standardising, i.e. the reference mean
    np.testing.assert_allclose(
        out[:, 0], [0.0, 0.0, 0.0, 0.0, -4 / X_STD, 4 / X_STD], rtol=1e-12, atol=0
    )
    # categorical: window code 2 is "c" (0.2), 0 is "a" (0.5), "z" and missing -> frequency 0
    unseen = (0.0 - CAT_MEAN) / CAT_STD
    expected = [(0.2 - CAT_MEAN) / CAT_STD, unseen, (0.5 - CAT_MEAN) / CAT_STD, unseen]
    expected += [(0.2 - CAT_MEAN) / CAT_STD, unseen]
    np.testing.assert_allclose(out[:, 1], expected, rtol=1e-12)


def test_constant_and_all_missing_columns_scale_one() -> None:
    cols = Columns(
        n_rows=3,
        numeric={"k": np.array([2.0, 2.0, 2.0]), "m": np.array([np.nan, np.nan, np.nan])},
        order=["k", "m"],
    )
    enc = FrameEncoder.fit(cols, features=["k", "m"])
    np.testing.assert_array_equal(enc.scale_, [1.0, 1.0])
    np.testing.assert_array_equal(enc.mean_, [2.0, 0.0])
    np.testing.assert_array_equal(enc.transform(cols), np.zeros((3, 2)))


def test_missing_columns_are_named(reference: Columns) -> None:
    enc = FrameEncoder.fit(reference, features=["x", "c"])
    window = Columns(n_rows=2, numeric={"y": np.zeros(2)}, order=["y"])
    with pytest.raises(InvalidInputError, match=r"\['x', 'c'\]"):
        enc.transform(window)


def test_kind_mismatch_is_an_error(reference: Columns) -> None:
    enc = FrameEncoder.fit(reference, features=["x", "c"])
    window = Columns(
        n_rows=2,
        numeric={"c": np.zeros(2)},
        categorical={"x": _cat([0, 0], ("1",))},
        order=["x", "c"],
    )
    with pytest.raises(InvalidInputError, match="'x' was numeric"):
        enc.transform(window)


def test_fit_validates(reference: Columns) -> None:
    with pytest.raises(InvalidParameterError, match="at least one"):
        FrameEncoder.fit(reference, features=[])
    with pytest.raises(InvalidParameterError, match="repeat"):
        FrameEncoder.fit(reference, features=["x", "x"])
    with pytest.raises(InvalidParameterError, match="single string"):
        FrameEncoder.fit(reference, features="x")
    with pytest.raises(InvalidInputError, match="lacks"):
        FrameEncoder.fit(reference, features=["x", "nope"])
    with pytest.raises(EmptyInputError):
        FrameEncoder.fit(Columns(n_rows=0, numeric={"x": np.zeros(0)}), features=["x"])
    with pytest.raises(NotFittedError):
        FrameEncoder().transform(reference)


def test_empty_window_gives_empty_matrix(reference: Columns) -> None:
    enc = FrameEncoder.fit(reference, features=["x", "c"])
    window = Columns(
        n_rows=0,
        numeric={"x": np.zeros(0)},
        categorical={"c": _cat([], ("a",))},
        order=["x", "c"],
    )
    assert enc.transform(window).shape == (0, 2)


def test_state_round_trip(reference: Columns, round_trip: Callable[..., Any]) -> None:
    enc = FrameEncoder.fit(reference, features=["c", "x"])
    meta, arrays = round_trip(enc.to_state())
    back = FrameEncoder.from_state(meta, arrays)
    assert back.features_ == enc.features_
    assert back.kinds_ == enc.kinds_
    assert back.categories_ == enc.categories_
    window = Columns(
        n_rows=4,
        numeric={"x": np.array([0.5, np.nan, 3.0, 12.0])},
        categorical={"c": _cat([0, 1, -1, 2], ("b", "c", "new"))},
    )
    np.testing.assert_array_equal(back.transform(window), enc.transform(window))
    np.testing.assert_array_equal(back.transform(reference), enc.transform(reference))


def test_state_errors(reference: Columns) -> None:
    meta, arrays = FrameEncoder.fit(reference, features=["c", "x"]).to_state()
    with pytest.raises(SerializationError, match="Expected a FrameEncoder"):
        FrameEncoder.from_state({**meta, "kind": "Other"}, arrays)
    with pytest.raises(SerializationError, match="version"):
        FrameEncoder.from_state({**meta, "version": 99}, arrays)
    with pytest.raises(SerializationError, match="incomplete"):
        FrameEncoder.from_state(meta, {k: v for k, v in arrays.items() if k != "scale"})
    with pytest.raises(SerializationError, match="frequencies"):
        FrameEncoder.from_state(meta, {**arrays, "frequencies": np.zeros(7)})


def test_doctests() -> None:
    result = doctest.testmod(_encode, raise_on_error=False)
    assert result.attempted > 0
    assert result.failed == 0
