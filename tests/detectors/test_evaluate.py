"""evaluate(): CD-MOA detection measures, checked against examples worked by hand."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchkeeper.detectors.evaluate import DetectionEvaluation, evaluate
from watchkeeper.errors import InvalidInputError, InvalidParameterError

# -- worked examples ------------------------------------------------------------------------


def test_docstring_example_by_hand() -> None:
    # drift 100 owns [100, 150): 103 detects (delay 3), 110 is a second alarm -> false.
    # drift 300 owns [300, 350): empty -> missed. 50, 400, 450 are outside every window.
    r = evaluate([50, 103, 110, 400, 450], [100, 300], max_delay=50, n=500)
    assert r.n_drifts == 2
    assert r.n_detected == 1
    assert r.n_missed == 1
    assert r.n_false_alarms == 4
    assert r.detections == (103, None)
    assert r.false_alarms == (50, 110, 400, 450)
    assert r.mtd == 3.0
    assert r.mdr == 0.5
    assert r.false_alarms_per_100k == 800.0  # 4 / 500 * 100_000
    assert r.mtfa == 125.0  # 500 / 4
    assert r.mtr == pytest.approx(125.0 / 3.0 * 0.5)


def test_three_drifts_all_detected() -> None:
    # windows [1000, 1200), [5000, 5200), [9000, 9200); delays 10, 100, 30.
    alarms = [200, 1010, 1040, 5100, 5600, 9030]
    r = evaluate(alarms, [1000, 5000, 9000], max_delay=200, n=10_000)
    assert r.detections == (1010, 5100, 9030)
    assert r.false_alarms == (200, 1040, 5600)
    assert r.mtd == pytest.approx(140.0 / 3.0)
    assert r.mdr == 0.0
    assert r.false_alarms_per_100k == pytest.approx(30.0)
    assert r.mtfa == pytest.approx(10_000.0 / 3.0)
    assert r.mtr == pytest.approx(10_000.0 / 140.0)  # (10000/3) / (140/3) * 1


def test_alarm_exactly_at_the_drift_has_delay_zero() -> None:
    r = evaluate([100, 300], [100], max_delay=10, n=1000)
    assert r.detections == (100,)
    assert r.mtd == 0.0
    assert r.mtfa == 1000.0
    assert r.mtr == math.inf  # MTFA / 0


def test_alarm_one_before_the_drift_is_false() -> None:
    r = evaluate([99], [100], max_delay=10, n=1000)
    assert r.detections == (None,)
    assert r.false_alarms == (99,)
    assert r.mdr == 1.0
    assert math.isnan(r.mtd)
    assert math.isnan(r.mtr)


@pytest.mark.parametrize(
    ("alarm", "detected"),
    [(100, True), (109, True), (110, False), (111, False)],
)
def test_window_is_half_open(alarm: int, detected: bool) -> None:
    r = evaluate([alarm], [100], max_delay=10, n=1000)
    assert (r.detections == (alarm,)) is detected
    assert r.n_false_alarms == (0 if detected else 1)


def test_next_drift_closes_the_window() -> None:
    # drifts 100 and 120 with max_delay 50: drift 100 owns only [100, 120).
    r = evaluate([125], [100, 120], max_delay=50, n=1000)
    assert r.detections == (None, 125)
    assert r.mtd == 5.0
    assert r.mdr == 0.5
    assert r.n_false_alarms == 0
    assert r.mtfa == math.inf
    assert r.mtr == math.inf


def test_alarm_on_the_next_drift_index_belongs_to_the_next_drift() -> None:
    r = evaluate([120], [100, 120], max_delay=50, n=1000)
    assert r.detections == (None, 120)
    assert r.mtd == 0.0


def test_each_drift_counts_its_first_alarm_once() -> None:
    r = evaluate([101, 102, 103], [100], max_delay=10, n=1000)
    assert r.detections == (101,)
    assert r.false_alarms == (102, 103)
    assert r.mtd == 1.0
    assert r.mtfa == 500.0  # 1000 / 2


def test_drift_near_the_end_keeps_a_truncated_window() -> None:
    missed = evaluate([], [100], max_delay=50, n=110)
    assert missed.detections == (None,)
    assert missed.mdr == 1.0
    hit = evaluate([109], [100], max_delay=50, n=110)
    assert hit.detections == (109,)
    assert hit.mtd == 9.0


def test_no_drifts_every_alarm_is_false() -> None:
    r = evaluate([10, 20, 30, 40], [], max_delay=5, n=200)
    assert r.n_drifts == 0
    assert r.false_alarms == (10, 20, 30, 40)
    assert math.isnan(r.mdr)
    assert math.isnan(r.mtd)
    assert math.isnan(r.mtr)
    assert r.mtfa == 50.0
    assert r.false_alarms_per_100k == 2000.0


def test_no_alarms() -> None:
    r = evaluate([], [100, 200], max_delay=5, n=300)
    assert r.detections == (None, None)
    assert r.mdr == 1.0
    assert r.mtfa == math.inf
    assert r.false_alarms_per_100k == 0.0
    assert math.isnan(r.mtd)
    assert math.isnan(r.mtr)


def test_nothing_at_all() -> None:
    r = evaluate([], [], max_delay=1, n=1)
    assert (r.n_drifts, r.n_detected, r.n_missed, r.n_false_alarms) == (0, 0, 0, 0)
    assert math.isnan(r.mdr)
    assert r.mtfa == math.inf


def test_max_delay_one_only_the_drift_index_detects() -> None:
    r = evaluate([100, 201], [100, 200], max_delay=1, n=300)
    assert r.detections == (100, None)
    assert r.false_alarms == (201,)


def test_huge_max_delay_means_until_the_next_drift() -> None:
    r = evaluate([150, 950], [100, 900], max_delay=10**30, n=1000)
    assert r.detections == (150, 950)
    assert r.max_delay == 10**30
    assert r.mtd == 50.0


def test_numpy_inputs_and_integer_scalars() -> None:
    r = evaluate(
        np.array([50, 103], dtype=np.uint32),
        np.array([100], dtype=np.int16),
        max_delay=np.int64(50),
        n=np.int32(500),
    )
    assert r.detections == (103,)
    assert r.false_alarms == (50,)
    assert type(r.n) is int
    assert type(r.detections[0]) is int
    assert type(r.false_alarms[0]) is int


def test_result_is_frozen() -> None:
    r = evaluate([1], [0], max_delay=5, n=10)
    assert isinstance(r, DetectionEvaluation)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.mtd = 1.0  # type: ignore[misc]


# -- an independent, alarm-by-alarm reference --------------------------------------------


def _reference(
    alarms: list[int], drifts: list[int], max_delay: int, n: int
) -> tuple[list[int | None], list[int]]:
    """Walk the alarms in order, tracking which drift (if any) is still open."""
    detections: list[int | None] = [None] * len(drifts)
    false_alarms = []
    for a in alarms:
        owner = None
        for k, d in enumerate(drifts):
            nxt = drifts[k + 1] if k + 1 < len(drifts) else n
            if d <= a < min(d + max_delay, nxt):
                owner = k
        if owner is not None and detections[owner] is None:
            detections[owner] = a
        else:
            false_alarms.append(a)
    return detections, false_alarms


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 300),
    max_delay=st.integers(1, 60),
    data=st.data(),
)
def test_matches_alarm_by_alarm_reference(n: int, max_delay: int, data: st.DataObject) -> None:
    idx = st.integers(0, n - 1)
    alarms = sorted(data.draw(st.sets(idx, max_size=20)))
    drifts = sorted(data.draw(st.sets(idx, max_size=6)))
    r = evaluate(alarms, drifts, max_delay=max_delay, n=n)
    detections, false_alarms = _reference(alarms, drifts, max_delay, n)
    assert list(r.detections) == detections
    assert list(r.false_alarms) == false_alarms
    assert r.n_detected + r.n_missed == len(drifts)
    assert r.n_detected + r.n_false_alarms == len(alarms)
    delays = [a - d for a, d in zip(detections, drifts, strict=True) if a is not None]
    if delays:
        assert r.mtd == pytest.approx(sum(delays) / len(delays))
        assert all(0 <= x < max_delay for x in delays)
    else:
        assert math.isnan(r.mtd)
    if false_alarms:
        assert r.mtfa * r.false_alarms_per_100k == pytest.approx(100_000.0)


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_delay": 0}, r"'max_delay' parameter of evaluate must be an integer >= 1\. Got 0"),
        ({"max_delay": -5}, r"'max_delay'.*Got -5"),
        ({"max_delay": 2.5}, r"'max_delay'.*Got 2\.5"),
        ({"max_delay": True}, r"'max_delay'.*Got True"),
        ({"n": 0}, r"'n' parameter of evaluate must be an integer >= 1\. Got 0"),
        ({"n": 10.0}, r"'n'.*Got 10\.0"),
        ({"n": "100"}, r"'n'.*Got '100'"),
    ],
)
def test_bad_parameters(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"alarms": [1], "drifts": [0], "max_delay": 5, "n": 10}
    args.update(kwargs)
    with pytest.raises(InvalidParameterError, match=match):
        evaluate(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["alarms", "drifts"])
@pytest.mark.parametrize(
    ("values", "match"),
    [
        ([3, 1], r"strictly increasing.*Got 3 followed by 1 at position 1"),
        ([1, 1], r"strictly increasing.*no repeats.*Got 1 followed by 1"),
        ([-1, 2], r"indices >= 0\. Got -1"),
        ([2, 10], r"indices < n = 10 \(the stream length\)\. Got 10"),
        ([1.0, 2.0], r"integer indices\. Got dtype float64"),
        ([True], r"integer indices\. Got dtype bool"),
        (["a"], r"integer indices\. Got dtype <U1"),
        ([[1, 2]], r"1-D sequence.*Got shape \(1, 2\)"),
        (5, r"1-D sequence.*Got shape \(\)"),
    ],
)
def test_bad_indices(name: str, values: object, match: str) -> None:
    args: dict[str, object] = {"alarms": [], "drifts": [], "max_delay": 5, "n": 10}
    args[name] = values
    with pytest.raises(InvalidInputError, match=rf"'{name}' argument of evaluate.*{match}"):
        evaluate(**args)  # type: ignore[arg-type]


def test_ragged_input_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="'alarms' argument of evaluate"):
        evaluate([[1], [2, 3]], [], max_delay=5, n=10)
