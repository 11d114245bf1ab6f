"""Domain classifier: null windows stay quiet, a mean shift alerts, results are reproducible."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from watchkeeper.baseline._manifold import DomainClassifierReference
from watchkeeper.drift.multivariate import domain_classifier
from watchkeeper.errors import InvalidInputError, InvalidParameterError

N_FEATURES = 10
NAMES = [f"f{j}" for j in range(N_FEATURES)]


def _gaussian(n_rows: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n_rows, N_FEATURES))


@pytest.fixture(scope="module")
def reference() -> DomainClassifierReference:
    return DomainClassifierReference.fit(
        _gaussian(10_000, 0), max_rows=3000, seed=0, feature_names=NAMES
    )


def test_reference_keeps_a_seeded_subsample(reference: DomainClassifierReference) -> None:
    x = _gaussian(10_000, 0)
    assert reference.rows_.shape == (3000, N_FEATURES)
    assert reference.feature_names_ == tuple(NAMES)
    # rows are actual reference rows, in reference order
    again = DomainClassifierReference.fit(x, max_rows=3000, seed=0)
    np.testing.assert_array_equal(again.rows_, reference.rows_)
    other = DomainClassifierReference.fit(x, max_rows=3000, seed=1)
    assert not np.array_equal(other.rows_, reference.rows_)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_null_windows_do_not_alert(reference: DomainClassifierReference, seed: int) -> None:
    result = domain_classifier(reference, _gaussian(3000, 100 + seed), seed=seed)
    assert result.status != "alert"
    assert result.value is not None
    assert abs(result.value - 0.5) < 0.05


def test_mean_shift_in_one_feature_alerts(reference: DomainClassifierReference) -> None:
    window = _gaussian(3000, 50)
    window[:, 4] += 0.5  # half a standard deviation in one of ten features
    result = domain_classifier(reference, window)
    assert result.status == "alert"
    assert result.value is not None
    assert result.threshold is not None
    assert result.value >= result.threshold
    assert result.reference_value == 0.5
    top = result.details["top_features"]
    assert len(top) == 5
    assert top[0]["feature"] == "f4"
    assert top[0]["smd"] == pytest.approx(0.5, abs=0.1)


def test_is_deterministic_for_a_fixed_seed(reference: DomainClassifierReference) -> None:
    window = _gaussian(4000, 60)
    window[:, 0] += 0.2
    a = domain_classifier(reference, window, seed=7)
    b = domain_classifier(reference, window, seed=7)
    assert a.to_dict() == b.to_dict()


def test_threshold_from_null_spread_with_practical_floor(
    reference: DomainClassifierReference,
) -> None:
    result = domain_classifier(reference, _gaussian(3000, 70))
    n0, n1 = result.details["n_reference"], result.details["n_current"]
    assert (n0, n1) == (3000, 3000)
    sd = math.sqrt((n0 + n1 + 1) / (12 * n0 * n1))
    assert result.details["null_sd"] == pytest.approx(sd)
    assert result.threshold == pytest.approx(max(0.5 + 3 * sd, 0.55))
    assert result.warning_threshold == pytest.approx(max(0.5 + 2 * sd, 0.53))
    # without the floors the threshold is the z rule alone
    loose = domain_classifier(
        reference, _gaussian(3000, 70), min_auc=0.5, min_warning_auc=0.5, max_iter=5
    )
    assert loose.threshold == pytest.approx(0.5 + 3 * sd)
    assert loose.warning_threshold == pytest.approx(0.5 + 2 * sd)
    fixed = domain_classifier(reference, _gaussian(3000, 70), threshold=0.6, max_iter=5)
    assert fixed.threshold == 0.6
    assert fixed.warning_threshold is None


def test_feature_names_default_and_override(round_trip: Callable[..., Any]) -> None:
    x = _gaussian(2000, 3)
    plain = DomainClassifierReference.fit(x)
    window = _gaussian(500, 4)
    window[:, 2] += 1.0
    result = domain_classifier(plain, window, max_iter=5)
    assert result.details["top_features"][0]["feature"] == "x2"
    named = domain_classifier(plain, window, max_iter=5, feature_names=NAMES)
    assert named.details["top_features"][0]["feature"] == "f2"
    with pytest.raises(InvalidParameterError, match="feature_names"):
        domain_classifier(plain, window, feature_names=NAMES[:3])
    back = DomainClassifierReference.from_state(*round_trip(plain.to_state()))
    np.testing.assert_array_equal(back.rows_, plain.rows_)
    assert back.feature_names_ is None
    assert domain_classifier(back, window, max_iter=5).to_dict() == result.to_dict()


def test_subsamples_the_window_to_max_rows(reference: DomainClassifierReference) -> None:
    result = domain_classifier(reference, _gaussian(5000, 80), max_rows=1000, max_iter=5)
    assert result.n == 1000
    assert result.n_reference == 1000
    assert result.details["n_current"] == 1000


def test_reference_validation() -> None:
    with pytest.raises(InvalidInputError, match="feature_names"):
        DomainClassifierReference.fit(_gaussian(100, 0), feature_names=["a"])
    with pytest.raises(InvalidInputError, match="at least 2 finite rows"):
        DomainClassifierReference.fit(np.full((10, 3), np.nan))
    with pytest.raises(InvalidParameterError, match="max_rows"):
        DomainClassifierReference.fit(_gaussian(100, 0), max_rows=1)
