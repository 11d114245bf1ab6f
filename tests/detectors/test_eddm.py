"""EDDM: index-for-index parity with River 0.26, update_many == update loop, properties, errors."""

from __future__ import annotations

import doctest
import json
import random
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river.drift.binary import EDDM as RiverEDDM

import watchkeeper.detectors.eddm as eddm_module
from watchkeeper.detectors.eddm import EDDM
from watchkeeper.errors import InvalidInputError, InvalidParameterError

PARAMS: list[dict[str, Any]] = [
    {},
    {"alpha": 0.8, "beta": 0.75},
    {"warm_start": 5, "alpha": 0.9, "beta": 0.7},
    {"warm_start": 100, "alpha": 0.7, "beta": 0.6},
    {"warm_start": 0, "alpha": 1.0, "beta": 1.0},
]


def trace(det: Any, xs: list[int]) -> tuple[list[int], list[int]]:
    """Drift and warning indices seen by a per-element loop (River's or ours)."""
    drifts, warnings = [], []
    for i, x in enumerate(xs):
        det.update(x)
        if det.drift_detected:
            drifts.append(i)
        if det.warning_detected:
            warnings.append(i)
    return drifts, warnings


def batched(det: EDDM, xs: Any) -> tuple[list[int], list[int]]:
    drifts = det.update_many(xs)
    assert drifts.dtype == np.int64
    return drifts.tolist(), det.warning_indices_.tolist()


def random_stream(seed: int, n: int = 4000) -> list[int]:
    rng = np.random.default_rng(seed)
    p1, p2 = rng.uniform(0.0, 0.6, size=2)
    cut = int(rng.integers(n // 4, 3 * n // 4))
    return np.concatenate([rng.random(cut) < p1, rng.random(n - cut) < p2]).astype(int).tolist()


def river_style_streams() -> list[list[int]]:
    """River's unit-test style streams: 2,000 values, a change in the middle."""
    np.random.seed(12345)  # noqa: NPY002 - reproduces River's legacy-seeded test streams
    legacy = np.concatenate(
        [np.random.randint(2, size=1000), np.random.choice(2, size=1000, p=[0.3, 0.7])]  # noqa: NPY002
    )
    rng = np.random.default_rng(12345)
    modern = np.concatenate([rng.random(1000) < 0.1, rng.random(1000) < 0.4])
    r = random.Random(42)
    doc = r.choices([0, 1], k=1000) + r.choices([0, 1], k=1000, weights=[0.3, 0.7])
    return [legacy.astype(int).tolist(), modern.astype(int).tolist(), doc]


@pytest.mark.parametrize("params", PARAMS)
def test_river_style_streams_match_river(params: dict[str, Any]) -> None:
    for xs in river_style_streams():
        expected = trace(RiverEDDM(**params), xs)
        assert trace(EDDM(**params), xs) == expected
        assert batched(EDDM(**params), xs) == expected


def test_river_docstring_indices() -> None:
    drifts, warnings = trace(EDDM(alpha=0.8, beta=0.75), river_style_streams()[2])
    assert drifts == [1278]
    assert warnings[0] == 1059


def test_warning_flag_is_sticky_as_in_river() -> None:
    # River only revisits the warning flag at errors, and leaves it raised on the value that
    # completes a drift; both quirks must show up in warning_indices_ as in the loop.
    xs = random_stream(7)
    expected = trace(RiverEDDM(), xs)
    det = EDDM()
    assert batched(det, xs) == expected
    assert set(expected[0]) & set(expected[1])  # a drift index that is also a warning
    assert any(xs[i] == 0 for i in expected[1])  # a warning on a correct prediction


@pytest.mark.parametrize("params", PARAMS)
def test_random_streams_match_river(params: dict[str, Any]) -> None:
    n_drifts = 0
    for seed in range(30):
        xs = random_stream(seed)
        expected = trace(RiverEDDM(**params), xs)
        assert trace(EDDM(**params), xs) == expected, seed
        assert batched(EDDM(**params), xs) == expected, seed
        n_drifts += len(expected[0])
    assert n_drifts > 0  # the comparison is not vacuous


@pytest.mark.parametrize("seed", range(5))
def test_chunked_and_interleaved_equal_the_loop(seed: int) -> None:
    xs = random_stream(seed, n=6000)
    params = PARAMS[seed % len(PARAMS)]
    expected = trace(EDDM(**params), xs)
    det = EDDM(**params)
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(np.arange(1, len(xs)), size=12, replace=False)).tolist()
    drifts: list[int] = []
    warnings: list[int] = []
    start = 0
    for k, stop in enumerate([*cuts, len(xs)]):
        if k % 3 == 2:  # some pieces through update, the rest through update_many
            for i in range(start, stop):
                det.update(xs[i])
                if det.drift_detected:
                    drifts.append(i)
                if det.warning_detected:
                    warnings.append(i)
        else:
            d = det.update_many(np.asarray(xs[start:stop]))
            drifts += (d + start).tolist()
            warnings += (det.warning_indices_ + start).tolist()
            loop = EDDM(**params)
            trace(loop, xs[:stop])
            assert det.drift_detected == loop.drift_detected
            assert det.warning_detected == loop.warning_detected
        start = stop
    assert (drifts, warnings) == expected
    assert det.n_seen_ == len(xs)


def test_update_many_accepts_bools_and_empty() -> None:
    xs = random_stream(3)
    assert batched(EDDM(), np.asarray(xs, dtype=bool)) == trace(EDDM(), xs)
    det = EDDM()
    assert det.update_many([]).tolist() == []
    assert det.n_seen_ == 0


@settings(max_examples=30, deadline=None)
@given(value=st.sampled_from([0, 1]), n=st.integers(0, 3000))
def test_constant_streams_never_alarm(value: int, n: int) -> None:
    det = EDDM()
    assert det.update_many(np.full(n, value)).size == 0
    assert det.warning_indices_.size == 0
    assert not det.drift_detected
    assert not det.warning_detected


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), split=st.integers(0, 3000))
def test_reset_restores_a_fresh_detector(seed: int, split: int) -> None:
    xs = random_stream(seed, n=3000)
    det = EDDM(warm_start=10, alpha=0.9, beta=0.85)
    det.update_many(xs[:split])
    det.reset()
    assert det.n_seen_ == 0
    assert det.to_dict() == EDDM(warm_start=10, alpha=0.9, beta=0.85).to_dict()
    assert batched(det, xs) == batched(EDDM(warm_start=10, alpha=0.9, beta=0.85), xs)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), split=st.integers(0, 3000))
def test_to_dict_round_trip_mid_stream(seed: int, split: int) -> None:
    xs = random_stream(seed, n=3000)
    params = {"warm_start": 20, "alpha": 0.85, "beta": 0.8}
    expected = trace(EDDM(**params), xs)
    det = EDDM(**params)
    head = trace(det, xs[:split])
    restored = EDDM.from_dict(json.loads(json.dumps(det.to_dict(), allow_nan=False)))
    assert isinstance(restored, EDDM)
    assert restored.to_dict() == det.to_dict()
    tail_d, tail_w = batched(restored, xs[split:])
    assert head[0] + [i + split for i in tail_d] == expected[0]
    assert head[1] + [i + split for i in tail_w] == expected[1]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"warm_start": -1}, "warm_start"),
        ({"warm_start": 2.5}, "warm_start"),
        ({"warm_start": True}, "warm_start"),
        ({"alpha": 0}, "alpha"),
        ({"alpha": 1.5}, "alpha"),
        ({"alpha": float("nan")}, "alpha"),
        ({"alpha": "0.9"}, "alpha"),
        ({"beta": 0.0}, "beta"),
        ({"beta": 1.01, "alpha": 1.0}, "beta"),
        ({"beta": None}, "beta"),
        ({"alpha": 0.8, "beta": 0.9}, "alpha"),
    ],
)
def test_bad_parameters(params: dict[str, Any], name: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of EDDM"):
        EDDM(**params)


@pytest.mark.parametrize("bad", [0.5, 2, -1, float("nan"), "x", None, [0, 1]])
def test_bad_update_values(bad: Any) -> None:
    with pytest.raises(InvalidInputError, match="EDDM"):
        EDDM().update(bad)


@pytest.mark.parametrize(
    "bad", [[0, 1, 0.5], [1, float("nan")], [[0, 1], [1, 0]], [0, 2], ["a", "b"]]
)
def test_bad_update_many_values(bad: Any) -> None:
    det = EDDM()
    with pytest.raises(InvalidInputError, match="EDDM"):
        det.update_many(bad)
    assert det.n_seen_ == 0


def test_binary_flag_and_repr() -> None:
    assert EDDM.binary is True
    assert repr(EDDM()) == "EDDM(warm_start=30, alpha=0.95, beta=0.9)"


def test_numba_is_imported_lazily() -> None:
    import subprocess
    import sys

    code = "import sys, watchkeeper.detectors.eddm; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_docstring_example() -> None:
    result = doctest.testmod(eddm_module)
    assert result.attempted > 0
    assert result.failed == 0
