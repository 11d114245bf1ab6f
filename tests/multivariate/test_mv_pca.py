"""PCA reconstruction: golden against scikit-learn, false alarms, power, serialisation."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sklearn.decomposition import PCA

from watchkeeper.baseline._pca import PCAReconstructionModel, fit_pca_svd, split_reference
from watchkeeper.drift.multivariate import pca_reconstruction
from watchkeeper.errors import InvalidInputError, InvalidParameterError, NotFittedError

Draw = Callable[[int, int], np.ndarray]


@pytest.fixture(scope="module")
def model(draw: Draw) -> PCAReconstructionModel:
    return PCAReconstructionModel.fit(draw(50_000, 0))


def _sklearn_errors(pca: PCA, x: np.ndarray) -> np.ndarray:
    recon = pca.inverse_transform(pca.transform(x))
    return np.linalg.norm(x - recon, axis=1)


@pytest.mark.parametrize("n_components", [1, 3, 0.8, 0.95])
def test_fit_matches_sklearn_pca(draw: Draw, n_components: float) -> None:
    x = draw(3000, 1) * np.array([1.0, 2.0, 0.5, 1.0, 3.0, 1.0]) + 4.0
    ours = fit_pca_svd(x, n_components)
    sk = PCA(n_components=n_components, svd_solver="full").fit(x)
    assert ours.components.shape == sk.components_.shape
    signs = np.sign(np.sum(ours.components * sk.components_, axis=1))
    np.testing.assert_allclose(ours.components, sk.components_ * signs[:, None], atol=1e-10)
    np.testing.assert_allclose(ours.explained_variance, sk.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(
        ours.explained_variance_ratio, sk.explained_variance_ratio_, rtol=1e-10
    )
    np.testing.assert_allclose(ours.mean, sk.mean_, rtol=1e-12)


def test_model_reconstruction_error_matches_sklearn(draw: Draw) -> None:
    x = draw(3000, 2)
    m = PCAReconstructionModel.fit(x, n_components=3, max_rows=2500, seed=5)
    fit_idx, hold_idx = split_reference(3000, max_rows=2500, holdout_fraction=0.3, seed=5)
    assert (m.n_fit_, m.n_holdout_) == (fit_idx.size, hold_idx.size) == (1750, 750)
    assert np.intersect1d(fit_idx, hold_idx).size == 0
    sk = PCA(n_components=3, svd_solver="full").fit(x[fit_idx])
    window = draw(1000, 3) + 0.3
    expected = _sklearn_errors(sk, window)
    np.testing.assert_allclose(m.row_errors(window), expected, rtol=0, atol=1e-10)
    assert m.reconstruction_error(window) == pytest.approx(expected.mean(), abs=1e-10)
    # the band's centre is the mean error of the held-out reference rows
    assert m.mu_ == pytest.approx(_sklearn_errors(sk, x[hold_idx]).mean(), abs=1e-10)


def test_float_n_components_keeps_a_residual_dimension() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 3))  # independent features: 0.99 would need all three
    m = PCAReconstructionModel.fit(x, n_components=0.99)
    assert m.n_components_ == 2
    assert m.mu_ > 0


def test_chunked_error_equals_row_mean(model: PCAReconstructionModel, draw: Draw) -> None:
    window = draw(250_000, 3)  # spans three 100k-row chunks
    errors = model.row_errors(window)
    assert errors.shape == (250_000,)
    assert model.reconstruction_error(window) == pytest.approx(errors.mean(), rel=1e-12)


@pytest.mark.slow
def test_false_alarm_rate_on_null_windows(model: PCAReconstructionModel, draw: Draw) -> None:
    results = [pca_reconstruction(model, draw(5000, 1000 + s)) for s in range(50)]
    alerts = sum(r.status == "alert" for r in results)
    assert alerts <= 5  # at most 10%
    assert all(r.status != "skipped" for r in results)


def test_broken_correlation_alerts(model: PCAReconstructionModel, draw: Draw) -> None:
    window = draw(5000, 7)
    original = window.copy()
    # Shuffle feature 1 on its own: every marginal is unchanged, the 0.9 correlation is gone.
    window[:, 1] = np.random.default_rng(8).permutation(window[:, 1])
    np.testing.assert_array_equal(np.sort(window, axis=0), np.sort(original, axis=0))
    assert pca_reconstruction(model, original).status != "alert"
    result = pca_reconstruction(model, window)
    assert result.status == "alert"
    assert result.value is not None
    assert result.threshold is not None
    assert result.value > result.threshold
    assert "above" in result.reason


def test_error_that_drops_also_alerts(model: PCAReconstructionModel, draw: Draw) -> None:
    window = draw(5000, 9)
    v = model.components_
    # Project the rows onto the principal subspace: the reconstruction error becomes ~0.
    flat = model.mean_ + ((window - model.mean_) @ v.T) @ v
    result = pca_reconstruction(model, flat)
    assert result.status == "alert"
    assert result.value == pytest.approx(0.0, abs=1e-9)
    assert "below" in result.reason


def test_result_fields_and_band(model: PCAReconstructionModel, draw: Draw) -> None:
    window = draw(4000, 11)
    r = pca_reconstruction(model, window, k=3.0, warning_k=2.0)
    assert r.check == "drift.pca_reconstruction"
    assert r.column is None
    assert r.n == 4000
    assert r.n_reference == model.n_holdout_
    assert r.reference_value == model.mu_
    c = model.chunk_size_
    half = model.sigma_chunk_ * math.sqrt(c / 4000 + c / model.n_holdout_)
    assert r.threshold == pytest.approx(model.mu_ + 3.0 * half, rel=1e-12)
    assert r.warning_threshold == pytest.approx(model.mu_ + 2.0 * half, rel=1e-12)
    assert r.details["lower"] == pytest.approx(model.mu_ - 3.0 * half, rel=1e-12)
    assert r.details["n_components"] == model.n_components_
    assert r.details["chunk_size"] == model.chunk_size_
    assert r.details["k"] == 3.0
    assert 0.9 <= r.details["explained_variance_ratio_sum"] < 1.0
    assert r.value == pytest.approx(model.reconstruction_error(window), rel=1e-12)
    # a very narrow warning band turns an in-band window into a warning
    narrow = pca_reconstruction(model, window, k=50.0, warning_k=0.001)
    assert narrow.status == "warning"
    no_warning = pca_reconstruction(model, window, k=50.0, warning_k=None)
    assert no_warning.status == "ok"
    assert no_warning.warning_threshold is None


def test_min_relative_change_floors_the_band(model: PCAReconstructionModel, draw: Draw) -> None:
    window = draw(5000, 7)
    window[:, 1] = np.random.default_rng(8).permutation(window[:, 1])
    r = pca_reconstruction(model, window, min_relative_change=0.05)
    assert r.threshold == pytest.approx(1.05 * model.mu_)
    assert r.details["lower"] == pytest.approx(0.95 * model.mu_)
    assert r.details["min_relative_change"] == 0.05
    assert r.value is not None
    # the broken correlation moves the error far more than 5%
    assert r.status == "alert"
    quiet = pca_reconstruction(model, window, min_relative_change=100.0)
    assert quiet.status == "ok"


def test_huge_window_is_judged_against_the_uncertainty_of_mu(
    model: PCAReconstructionModel, draw: Draw
) -> None:
    # As n grows the band shrinks to k·sigma_chunk·sqrt(c / n_holdout), not to zero.
    lower, upper = model.band(10**9, 3.0)
    floor = 3.0 * model.sigma_chunk_ * math.sqrt(model.chunk_size_ / model.n_holdout_)
    assert upper - model.mu_ == pytest.approx(floor, rel=1e-4)
    assert model.mu_ - lower == pytest.approx(floor, rel=1e-4)
    result = pca_reconstruction(model, draw(300_000, 12))
    assert result.status in ("ok", "warning")


def test_state_round_trip_gives_identical_results(
    model: PCAReconstructionModel, draw: Draw, round_trip: Callable[..., Any]
) -> None:
    back = PCAReconstructionModel.from_state(*round_trip(model.to_state()))
    for seed, transform in [(20, None), (21, "break")]:
        window = draw(3000, seed)
        if transform == "break":
            window[:, 1] = np.random.default_rng(seed).permutation(window[:, 1])
        assert (
            pca_reconstruction(back, window).to_dict()
            == pca_reconstruction(model, window).to_dict()
        )


def test_chunk_size_is_honoured(draw: Draw) -> None:
    m = PCAReconstructionModel.fit(draw(10_000, 4), chunk_size=250)
    assert m.chunk_size_ == 250
    assert m.n_chunks_ == m.n_holdout_ // 250
    assert m.sigma_chunk_ > 0


def test_parameters_are_validated(draw: Draw) -> None:
    x = draw(1000, 5)
    for bad in (0, 1.0, 1.5, -0.2, True, "0.9"):
        with pytest.raises(InvalidParameterError, match="n_components"):
            PCAReconstructionModel.fit(x, n_components=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match=r"\[1, 5\]"):
        PCAReconstructionModel.fit(x, n_components=6)
    with pytest.raises(InvalidParameterError, match="holdout_fraction"):
        PCAReconstructionModel.fit(x, holdout_fraction=1.0)
    with pytest.raises(InvalidParameterError, match="max_rows"):
        PCAReconstructionModel.fit(x, max_rows=0)
    with pytest.raises(InvalidInputError, match="chunk"):
        PCAReconstructionModel.fit(x, chunk_size=200)
    with pytest.raises(InvalidInputError, match="at least 2 features"):
        PCAReconstructionModel.fit(x[:, :1])
    m = PCAReconstructionModel.fit(x)
    with pytest.raises(InvalidParameterError, match="warning_k"):
        pca_reconstruction(m, x, warning_k=4.0)
    with pytest.raises(InvalidParameterError, match="'k'"):
        pca_reconstruction(m, x, k=0)
    with pytest.raises(NotFittedError):
        PCAReconstructionModel().reconstruction_error(x)
