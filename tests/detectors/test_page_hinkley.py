"""PageHinkley: River 0.26 parity (river_compatible), update/update_many agreement, properties,
errors, and the false-alarm / delay behaviour of the standardized defaults."""

from __future__ import annotations

import doctest
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import drift

import watchkeeper.detectors.page_hinkley as ph_module
from watchkeeper.detectors.page_hinkley import PageHinkley
from watchkeeper.errors import InvalidInputError, InvalidParameterError, UnknownMethodError

RIVER_DEFAULTS: dict[str, Any] = {
    "min_instances": 30,
    "delta": 0.005,
    "threshold": 50.0,
    "alpha": 1 - 0.0001,
    "mode": "both",
}
RIVER_PARAMS: list[dict[str, Any]] = [
    {},
    {"threshold": 10.0},
    {"threshold": 5.0, "delta": 0.05, "mode": "up"},
    {"threshold": 5.0, "delta": 0.05, "mode": "down"},
    {"threshold": 8.0, "alpha": 1.0, "min_instances": 5},
    {"threshold": 3.0, "alpha": 0.99, "min_instances": 0, "delta": 0.0},
]
OWN_PARAMS: list[dict[str, Any]] = [
    {},
    {"threshold": 5.0, "delta": 0.5, "min_instances": 20},
    {"threshold": 3.0, "mode": "up", "alpha": 0.999, "min_instances": 2},
    {"threshold": 3.0, "mode": "down"},
]


def river_indices(params: dict[str, Any], stream: np.ndarray) -> list[int]:
    det: Any = drift.PageHinkley(**params)
    out = []
    for i, v in enumerate(stream.tolist()):
        det.update(v)
        if det.drift_detected:
            out.append(i)
    return out


def loop_indices(det: PageHinkley, stream: np.ndarray) -> list[int]:
    return [i for i, v in enumerate(stream.tolist()) if det.update(v).drift_detected]


def random_stream(seed: int) -> np.ndarray:
    """Piecewise-normal stream with several level and scale changes."""
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(4):
        parts.append(rng.normal(rng.uniform(-3, 3), rng.uniform(0.2, 3), rng.integers(50, 600)))
    return np.concatenate(parts)


# --------------------------------------------------------------------------- golden vs River


def test_river_compatible_is_rivers_defaults() -> None:
    det = PageHinkley.river_compatible()
    assert {k: getattr(det, k) for k in RIVER_DEFAULTS} == RIVER_DEFAULTS
    assert det.standardize is False
    assert PageHinkley.river_compatible(threshold=7.0).threshold == 7.0


@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_river_unit_test_streams(shift: float) -> None:
    rng = np.random.default_rng(12345)
    s1 = np.concatenate([rng.normal(0, 1, 1000), rng.normal(shift, 1, 1000)])
    legacy = np.random.RandomState(12345)  # same draws as River's np.random.seed(12345)
    s2 = np.concatenate([legacy.normal(0, 1, 1000), legacy.normal(shift, 1, 1000)])
    for stream in (s1, s2):
        expected = river_indices({}, stream)
        assert expected  # the change is found
        assert PageHinkley.river_compatible().update_many(stream).tolist() == expected
        assert loop_indices(PageHinkley.river_compatible(), stream) == expected


def test_river_docstring_stream() -> None:
    import random

    rng = random.Random(12345)
    stream = np.array(rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000), float)
    assert PageHinkley.river_compatible().update_many(stream).tolist() == [1006]
    assert river_indices({}, stream) == [1006]


@pytest.mark.parametrize("params", RIVER_PARAMS, ids=str)
def test_river_parity_random_streams(params: dict[str, Any]) -> None:
    total = 0
    for seed in range(30):
        stream = random_stream(seed)
        expected = river_indices(params, stream)
        total += len(expected)
        got_many = PageHinkley.river_compatible(**params).update_many(stream).tolist()
        explicit = PageHinkley(**{**RIVER_DEFAULTS, **params}, standardize=False)
        assert got_many == expected, seed
        assert loop_indices(explicit, stream) == expected, seed
    assert total > 30  # the comparison exercises detections and resets


# --------------------------------------------------------------- update_many == update loop


@pytest.mark.parametrize("factory", ["own", "river"])
@pytest.mark.parametrize("params", OWN_PARAMS[:2], ids=str)
def test_update_many_matches_loop_chunked_and_interleaved(
    factory: str, params: dict[str, Any]
) -> None:
    make = PageHinkley if factory == "own" else PageHinkley.river_compatible
    for seed in range(10):
        stream = random_stream(100 + seed)
        expected = loop_indices(make(**params), stream)
        det = make(**params)
        rng = np.random.default_rng(seed)
        cuts = np.sort(rng.choice(np.arange(1, len(stream)), size=8, replace=False))
        got: list[int] = []
        start = 0
        for j, stop in enumerate([*cuts.tolist(), len(stream)]):
            if j % 2:  # every other chunk through update
                for i in range(start, stop):
                    if det.update(stream[i]).drift_detected:
                        got.append(i)
            else:
                got.extend((det.update_many(stream[start:stop]) + start).tolist())
                last = loop_indices(make(**params), stream[:stop])
                assert det.drift_detected == (bool(last) and last[-1] == stop - 1)
            start = stop
        assert got == expected
        assert det.n_seen_ == len(stream)
        assert det.warning_detected is False


@pytest.mark.parametrize("params", OWN_PARAMS, ids=str)
def test_own_parameters_many_equals_loop(params: dict[str, Any]) -> None:
    for seed in range(10):
        stream = random_stream(200 + seed)
        assert PageHinkley(**params).update_many(stream).tolist() == loop_indices(
            PageHinkley(**params), stream
        )


def test_empty_update_many() -> None:
    det = PageHinkley()
    assert det.update_many([]).tolist() == []
    assert det.update_many([]).dtype == np.int64
    assert det.n_seen_ == 0


def test_constant_warmup_falls_back_to_unit_scale() -> None:
    det = PageHinkley(min_instances=5, threshold=2.0, delta=0.0)
    det.update_many([3.0] * 5)
    assert det.scale_ == 1.0
    assert det.update_many([3.0] * 10 + [30.0]).tolist() == [10]


# ------------------------------------------------------------------------------ properties

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
streams = st.lists(finite, min_size=1, max_size=300)
settings_kw: dict[str, Any] = {"max_examples": 40, "deadline": None}


@settings(**settings_kw)
@given(value=finite, n=st.integers(1, 3000), river=st.booleans())
def test_constant_stream_never_alarms(value: float, n: int, river: bool) -> None:
    det = PageHinkley.river_compatible() if river else PageHinkley()
    stream = np.full(n, value)
    assert det.update_many(stream).size == 0
    assert loop_indices(PageHinkley.river_compatible() if river else PageHinkley(), stream) == []


@settings(**settings_kw)
@given(first=streams, second=streams, river=st.booleans())
def test_reset_restores_fresh_detector(
    first: list[float], second: list[float], river: bool
) -> None:
    make = PageHinkley.river_compatible if river else PageHinkley
    det = make(threshold=2.0)
    det.update_many(first)
    det.reset()
    assert det.n_seen_ == 0
    assert det.drift_detected is False
    assert det.to_dict() == make(threshold=2.0).to_dict()
    assert det.update_many(second).tolist() == make(threshold=2.0).update_many(second).tolist()


@settings(**settings_kw)
@given(seed=st.integers(0, 10_000), cut=st.integers(0, 400), river=st.booleans())
def test_to_dict_round_trip_mid_stream(seed: int, cut: int, river: bool) -> None:
    make = PageHinkley.river_compatible if river else PageHinkley
    params: dict[str, Any] = {"threshold": 3.0, "min_instances": 10}
    stream = random_stream(seed)[:500]
    expected = make(**params).update_many(stream).tolist()
    det = make(**params)
    head = det.update_many(stream[:cut]).tolist()
    restored = PageHinkley.from_dict(json.loads(json.dumps(det.to_dict(), allow_nan=False)))
    assert isinstance(restored, PageHinkley)
    assert restored.n_seen_ == det.n_seen_
    assert restored.drift_detected == det.drift_detected
    tail = (restored.update_many(stream[cut:]) + cut).tolist()
    assert head + tail == expected


# --------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "name", "error"),
    [
        ({"min_instances": 1}, "min_instances", InvalidParameterError),
        ({"min_instances": -1, "standardize": False}, "min_instances", InvalidParameterError),
        ({"min_instances": 2.5}, "min_instances", InvalidParameterError),
        ({"delta": -0.1}, "delta", InvalidParameterError),
        ({"delta": float("nan")}, "delta", InvalidParameterError),
        ({"threshold": -1.0}, "threshold", InvalidParameterError),
        ({"threshold": "50"}, "threshold", InvalidParameterError),
        ({"alpha": 0.0}, "alpha", InvalidParameterError),
        ({"alpha": 1.5}, "alpha", InvalidParameterError),
        ({"mode": "sideways"}, "mode", UnknownMethodError),
        ({"standardize": 1}, "standardize", InvalidParameterError),
    ],
)
def test_bad_parameters(kwargs: dict[str, Any], name: str, error: type[Exception]) -> None:
    with pytest.raises(error, match=f"'{name}' parameter of PageHinkley"):
        PageHinkley(**kwargs)


def test_min_instances_zero_allowed_in_data_units() -> None:
    assert PageHinkley.river_compatible(min_instances=0).min_instances == 0


@pytest.mark.parametrize("bad", [float("nan"), "a", None])
def test_bad_update_input(bad: Any) -> None:
    with pytest.raises(InvalidInputError, match="PageHinkley"):
        PageHinkley().update(bad)


@pytest.mark.parametrize("bad", [[1.0, float("nan")], [[1.0, 2.0]], ["a", "b"]])
def test_bad_update_many_input(bad: Any) -> None:
    with pytest.raises(InvalidInputError, match="PageHinkley"):
        PageHinkley().update_many(bad)


# ----------------------------------------------------------------------- statistical behaviour


def test_false_alarms_on_stationary_streams_beat_river() -> None:
    """Docstring bound: at most 2.2 false alarms per 100k values (nominal 0.63)."""
    n = 1_000_000
    own, river_like = [], []
    for seed in range(8):
        x = np.random.default_rng(seed).normal(0, 1, n)
        own.append(PageHinkley().update_many(x).size / (n / 100_000))
        river_like.append(PageHinkley.river_compatible().update_many(x).size / (n / 100_000))
    assert np.mean(own) <= 2.2
    assert max(own) <= 4.0
    assert np.mean(river_like) >= 30  # River's defaults: about 63 per 100k
    # Scale-free: the same rate for data in other units.
    x = np.random.default_rng(99).normal(5_000.0, 250.0, n)
    assert PageHinkley().update_many(x).size <= 40


def delays(make: Any, shift: float, reps: int = 200, pre: int = 2000) -> tuple[float, int]:
    out, missed = [], 0
    for r in range(reps):
        rng = np.random.default_rng(10_000 + r)
        x = np.concatenate([rng.normal(0, 1, pre), rng.normal(shift, 1, 2000)])
        idx = make().update_many(x)
        after = idx[idx >= pre]
        if after.size:
            out.append(int(after[0]) - pre)
        else:
            missed += 1
    return float(np.mean(out)), missed


def test_detection_delay_on_mean_shift() -> None:
    """One-SD shift: CUSUM theory gives about 28 values; River's defaults take about 37."""
    own, own_missed = delays(PageHinkley, 1.0)
    river_like, _ = delays(PageHinkley.river_compatible, 1.0)
    assert own_missed == 0
    assert own <= 32
    assert own <= river_like
    big, big_missed = delays(PageHinkley, 2.0)
    assert big_missed == 0
    assert big <= 14  # (h + 1.166) / (2 - k) is about 12


def test_doctest_examples() -> None:
    result = doctest.testmod(ph_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
