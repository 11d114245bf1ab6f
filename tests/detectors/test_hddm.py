"""HDDM_A and HDDM_W: River 0.26 parity, update/update_many equivalence, properties, errors.

The two detectors share their contract and River's calling convention, so every test runs on
both (``DETECTORS``); what differs (their parameters, River's docstring results) is per case.
"""

from __future__ import annotations

import doctest
import itertools
import json
import random
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from river.drift.binary import HDDMA, HDDMW

from watchkeeper.detectors import hddm_a, hddm_w
from watchkeeper.detectors._base import Detector
from watchkeeper.detectors.hddm_a import HDDM_A
from watchkeeper.detectors.hddm_w import HDDM_W
from watchkeeper.errors import InvalidInputError, InvalidParameterError

FAST = settings(max_examples=40, deadline=None)


@dataclass(frozen=True)
class Case:
    cls: type[HDDM_A] | type[HDDM_W]
    river: Any
    module: Any
    params: tuple[dict[str, Any], ...]
    docstring_drifts: list[int]

    def __str__(self) -> str:
        return self.cls.__name__


_COMMON: tuple[dict[str, Any], ...] = (
    {},
    {"two_sided_test": True},
    {"drift_confidence": 0.01, "warning_confidence": 0.05, "two_sided_test": True},
)
A = Case(
    HDDM_A,
    HDDMA,
    hddm_a,
    (*_COMMON, {"drift_confidence": 0.0001, "warning_confidence": 0.001}),
    [1206],
)
W = Case(
    HDDM_W,
    HDDMW,
    hddm_w,
    (
        *_COMMON,
        {"drift_confidence": 0.0001, "warning_confidence": 0.001},
        {"lambda_val": 0.2, "two_sided_test": True},
        {"lambda_val": 0.01, "warning_confidence": 0.01},
    ),
    [1077],
)
DETECTORS = [A, W]
CASE_PARAMS = [(c, p) for c in DETECTORS for p in c.params]
both = pytest.mark.parametrize("case", DETECTORS, ids=str)
each_setting = pytest.mark.parametrize(("case", "params"), CASE_PARAMS, ids=str)

bits = hs.lists(hs.integers(0, 1), max_size=400)


def river_indices(case: Case, stream: Any, **params: Any) -> tuple[list[int], list[int]]:
    det = case.river(**params)
    drifts, warnings = [], []
    for i, v in enumerate(stream):
        det.update(v)
        if det.drift_detected:
            drifts.append(i)
        if det.warning_detected:
            warnings.append(i)
    return drifts, warnings


def loop_indices(det: Detector, stream: Any, start: int = 0) -> tuple[list[int], list[int]]:
    drifts, warnings = [], []
    for i, v in enumerate(stream):
        det.update(v)
        if det.drift_detected:
            drifts.append(start + i)
        if det.warning_detected:
            warnings.append(start + i)
    return drifts, warnings


def many_indices(det: Detector, stream: Any) -> tuple[list[int], list[int]]:
    drifts = det.update_many(stream)
    assert drifts.dtype == np.int64
    return drifts.tolist(), det.warning_indices_.tolist()


def unit_streams() -> dict[str, np.ndarray]:
    """River's unit-test style: seed 12345, 2,000 samples, the error rate jumps halfway."""
    np.random.seed(12345)  # noqa: NPY002 -- the legacy seeding River's own tests use
    legacy = np.concatenate(
        [np.random.binomial(1, 0.2, 1000), np.random.binomial(1, 0.6, 1000)]  # noqa: NPY002
    )
    rng = np.random.default_rng(12345)
    modern = np.concatenate([rng.binomial(1, 0.2, 1000), rng.binomial(1, 0.6, 1000)])
    falling = np.concatenate([rng.binomial(1, 0.5, 1000), rng.binomial(1, 0.1, 1000)])
    return {"legacy": legacy, "default_rng": modern, "falling": falling}


@both
def test_docstring_example(case: Case) -> None:
    assert doctest.testmod(case.module, raise_on_error=True).attempted > 0


@both
def test_river_docstring_stream(case: Case) -> None:
    rng = random.Random(42)
    stream = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
    drifts, warnings = loop_indices(case.cls(), stream)
    assert drifts == case.docstring_drifts  # what River's docstrings print
    assert warnings[0] == 451
    assert (drifts, warnings) == river_indices(case, stream)


@pytest.mark.parametrize("name", ["legacy", "default_rng", "falling"])
@each_setting
def test_golden_unit_streams(name: str, case: Case, params: dict[str, Any]) -> None:
    stream = unit_streams()[name]
    expected = river_indices(case, stream.tolist(), **params)
    assert loop_indices(case.cls(**params), stream) == expected
    assert many_indices(case.cls(**params), stream) == expected
    if name != "falling" or params.get("two_sided_test"):
        assert expected[0], "the stream should drift"


@each_setting
def test_golden_random_seeds(case: Case, params: dict[str, Any]) -> None:
    n_drifts = n_warnings = 0
    for seed in range(30):
        rng = np.random.default_rng(seed)
        p = rng.uniform(0.0, 0.7, size=3)
        sizes = rng.integers(200, 1200, size=3)
        stream = np.concatenate([rng.binomial(1, pi, ni) for pi, ni in zip(p, sizes, strict=True)])
        expected = river_indices(case, stream.tolist(), **params)
        assert loop_indices(case.cls(**params), stream) == expected, seed
        assert many_indices(case.cls(**params), stream) == expected, seed
        n_drifts += len(expected[0])
        n_warnings += len(expected[1])
    assert n_drifts > 10
    assert n_warnings > 10


@each_setting
def test_chunked_and_interleaved_match_loop(case: Case, params: dict[str, Any]) -> None:
    rng = np.random.default_rng(7)
    stream = np.concatenate([rng.binomial(1, 0.1, 1500), rng.binomial(1, 0.5, 1500)] * 2)
    reference = case.cls(**params)
    expected = loop_indices(reference, stream)
    det = case.cls(**params)
    drifts: list[int] = []
    warnings: list[int] = []
    cuts = np.sort(rng.choice(np.arange(1, stream.size), size=40, replace=False))
    bounds = [0, *cuts.tolist(), stream.size]
    for k, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        if k % 3 == 2:  # every third chunk goes through plain update calls
            d, w = loop_indices(det, stream[lo:hi], start=lo)
        else:
            d, w = many_indices(det, stream[lo:hi])
            d, w = [lo + i for i in d], [lo + i for i in w]
        drifts += d
        warnings += w
        assert det.n_seen_ == hi
    assert (drifts, warnings) == expected
    assert det.drift_detected == reference.drift_detected
    assert det.warning_detected == reference.warning_detected
    assert det.to_dict() == reference.to_dict()


@both
def test_flags_reflect_last_element(case: Case) -> None:
    stream = unit_streams()["default_rng"]
    drifts, warnings = river_indices(case, stream.tolist())
    det = case.cls()
    det.update_many(stream[: drifts[0] + 1])
    assert det.drift_detected
    assert not det.warning_detected
    det.update_many(stream[: warnings[0] + 1])
    assert not det.drift_detected
    empty = det.update_many(np.array([]))
    assert empty.size == 0
    assert det.warning_indices_.size == 0


@both
@FAST
@given(value=hs.integers(0, 1), n=hs.integers(0, 600), two_sided=hs.booleans())
def test_constant_stream_never_alarms(case: Case, value: int, n: int, two_sided: bool) -> None:
    det = case.cls(two_sided_test=two_sided)
    assert det.update_many(np.full(n, value)).size == 0
    assert det.warning_indices_.size == 0


@both
@FAST
@given(prefix=bits, stream=bits, two_sided=hs.booleans())
def test_reset_restores_fresh(
    case: Case, prefix: list[int], stream: list[int], two_sided: bool
) -> None:
    det = case.cls(two_sided_test=two_sided)
    det.update_many(prefix)
    det.reset()
    assert det.n_seen_ == 0
    assert not det.drift_detected
    assert not det.warning_detected
    fresh = case.cls(two_sided_test=two_sided)
    assert loop_indices(det, stream) == loop_indices(fresh, stream)
    assert det.to_dict() == fresh.to_dict()


@both
@FAST
@given(stream=bits, cut=hs.integers(0, 400), two_sided=hs.booleans())
def test_serialization_round_trip(case: Case, stream: list[int], cut: int, two_sided: bool) -> None:
    cut = min(cut, len(stream))
    det = case.cls(drift_confidence=0.05, warning_confidence=0.2, two_sided_test=two_sided)
    det.update_many(stream[:cut])
    data = json.loads(json.dumps(det.to_dict(), allow_nan=False))
    clone = case.cls.from_dict(data)
    assert clone.n_seen_ == det.n_seen_
    assert clone.drift_detected == det.drift_detected
    assert clone.warning_detected == det.warning_detected
    assert many_indices(clone, stream[cut:]) == many_indices(det, stream[cut:])
    assert clone.to_dict() == det.to_dict()


_BAD = [
    ("drift_confidence", 0.0),
    ("drift_confidence", 1.0),
    ("drift_confidence", -0.1),
    ("drift_confidence", "0.01"),
    ("drift_confidence", float("nan")),
    ("warning_confidence", 0.0),
    ("warning_confidence", 1.5),
    ("warning_confidence", None),
    ("two_sided_test", 1),
    ("two_sided_test", "yes"),
]


@pytest.mark.parametrize(
    ("case", "name", "value"),
    [(c, n, v) for c in DETECTORS for n, v in _BAD]
    + [(W, "lambda_val", 0.0), (W, "lambda_val", 1.01), (W, "lambda_val", "0.1")],
    ids=str,
)
def test_bad_parameters(case: Case, name: str, value: Any) -> None:
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of {case}"):
        case.cls(**{name: value})


def test_parameters_stored_verbatim() -> None:
    det = HDDM_A(drift_confidence=0.01, warning_confidence=0.02, two_sided_test=True)
    assert (det.drift_confidence, det.warning_confidence, det.two_sided_test) == (0.01, 0.02, True)
    assert HDDM_A.binary
    assert repr(det) == (
        "HDDM_A(drift_confidence=0.01, warning_confidence=0.02, two_sided_test=True)"
    )
    w = HDDM_W(0.01, 0.02, 0.1, True)
    params = (w.drift_confidence, w.warning_confidence, w.lambda_val, w.two_sided_test)
    assert params == (0.01, 0.02, 0.1, True)
    assert HDDM_W.binary
    assert repr(w) == (
        "HDDM_W(drift_confidence=0.01, warning_confidence=0.02, lambda_val=0.1, "
        "two_sided_test=True)"
    )


@both
@pytest.mark.parametrize("bad", [float("nan"), 0.5, 2, -1, "a", None])
def test_bad_update_input(case: Case, bad: Any) -> None:
    det = case.cls()
    with pytest.raises(InvalidInputError):
        det.update(bad)
    assert det.n_seen_ == 0


@pytest.mark.parametrize(
    "bad",
    [[0, 1, float("nan")], [0, 1, 0.5], [0, 2], np.zeros((3, 2)), [[0, 1]], "abc"],
    ids=["nan", "half", "two", "2d", "nested", "string"],
)
@both
def test_bad_update_many_input(case: Case, bad: Any) -> None:
    det = case.cls()
    with pytest.raises(InvalidInputError):
        det.update_many(bad)
    assert det.n_seen_ == 0


@both
def test_booleans_accepted(case: Case) -> None:
    stream = unit_streams()["default_rng"].astype(bool)
    assert many_indices(case.cls(), stream) == loop_indices(case.cls(), stream.tolist())


@both
def test_import_does_not_load_numba(case: Case) -> None:
    code = f"import sys, {case.module.__name__}; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("lambda_val", [1.0, 0.5, 0.001])
def test_golden_extreme_lambda(lambda_val: float) -> None:
    rng = np.random.default_rng(99)
    stream = np.concatenate([rng.binomial(1, 0.1, 800), rng.binomial(1, 0.7, 800)])
    params = {"lambda_val": lambda_val, "two_sided_test": True}
    expected = river_indices(W, stream.tolist(), **params)
    assert loop_indices(W.cls(**params), stream) == expected
    assert many_indices(W.cls(**params), stream) == expected


def test_fresh_state_is_strict_json() -> None:
    data = W.cls().to_dict()
    assert data["state"]["incr_cutpoint"] is None
    assert data["state"]["decr_cutpoint"] is None
    clone = HDDM_W.from_dict(json.loads(json.dumps(data, allow_nan=False)))
    stream = unit_streams()["default_rng"]
    assert many_indices(clone, stream) == river_indices(W, stream.tolist())
