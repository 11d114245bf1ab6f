"""Bad inputs: too few rows, non-finite rows, wrong shapes, bad states, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest

from watchkeeper.baseline._manifold import DomainClassifierReference, ManifoldReference
from watchkeeper.baseline._pca import PCAReconstructionModel
from watchkeeper.drift.multivariate import domain_classifier, manifold, pca_reconstruction
from watchkeeper.errors import (
    EmptyInputError,
    InvalidInputError,
    NotFittedError,
    SerializationError,
)

Draw = Callable[[int, int], np.ndarray]


@pytest.fixture(scope="module")
def pca(draw: Draw) -> PCAReconstructionModel:
    return PCAReconstructionModel.fit(draw(5000, 0))


@pytest.fixture(scope="module")
def domain(draw: Draw) -> DomainClassifierReference:
    return DomainClassifierReference.fit(draw(2000, 0))


@pytest.fixture(scope="module")
def mani(draw: Draw) -> ManifoldReference:
    return ManifoldReference.fit(draw(2000, 0), max_rows=400)


def _poison(x: np.ndarray) -> np.ndarray:
    """Copy of ``x`` with NaN, +inf and -inf in three rows (every third row from 5)."""
    out = x.copy()
    out[5, 0] = np.nan
    out[8, 3] = np.inf
    out[11, 5] = -np.inf
    return out


def test_too_few_rows_are_skipped_with_a_reason(
    pca: PCAReconstructionModel,
    domain: DomainClassifierReference,
    mani: ManifoldReference,
    draw: Draw,
) -> None:
    small = draw(40, 1)
    results = [
        pca_reconstruction(pca, small),
        domain_classifier(domain, small),
        manifold(mani, small[:30]),
    ]
    for r, need in zip(results, [100, 200, 50], strict=True):
        assert r.status == "skipped"
        assert r.value is None
        assert f"at least {need}" in r.reason
        json.dumps(r.to_dict())
    # an empty window is skipped too, not an error
    assert pca_reconstruction(pca, np.empty((0, 6))).status == "skipped"
    # rows that are not finite do not count towards the minimum
    mostly_bad = draw(150, 2)
    mostly_bad[:100, 0] = np.nan
    r = pca_reconstruction(pca, mostly_bad)
    assert r.status == "skipped"
    assert r.n == 50
    assert r.details["n_nonfinite_rows"] == 100


def test_pca_skips_non_finite_rows(pca: PCAReconstructionModel, draw: Draw) -> None:
    clean = draw(1000, 3)
    dirty = _poison(clean)
    keep = np.ones(1000, dtype=bool)
    keep[[5, 8, 11]] = False
    r_dirty = pca_reconstruction(pca, dirty)
    r_clean = pca_reconstruction(pca, clean[keep])
    assert r_dirty.n == 997
    assert r_dirty.details["n_nonfinite_rows"] == 3
    assert r_dirty.value == pytest.approx(r_clean.value, rel=1e-12)
    assert r_dirty.status == r_clean.status
    errors = pca.row_errors(dirty)
    assert np.isnan(errors[[5, 8, 11]]).all()
    assert np.isfinite(errors[keep]).all()
    with pytest.raises(EmptyInputError):
        pca.reconstruction_error(np.full((3, 6), np.nan))


def test_pca_fit_ignores_non_finite_reference_rows(draw: Draw) -> None:
    x = _poison(draw(3000, 4))
    m = PCAReconstructionModel.fit(x)
    assert m.n_fit_ + m.n_holdout_ == 2997
    assert np.isfinite(m.components_).all()
    assert np.isfinite([m.mu_, m.sigma_chunk_]).all()


def test_sample_checks_skip_non_finite_rows(
    domain: DomainClassifierReference, mani: ManifoldReference, draw: Draw
) -> None:
    clean = draw(400, 5)
    dirty = _poison(clean)
    keep = np.ones(400, dtype=bool)
    keep[[5, 8, 11]] = False
    a = domain_classifier(domain, dirty, max_iter=10)
    b = domain_classifier(domain, clean[keep], max_iter=10)
    assert a.details["n_nonfinite_rows"] == 3
    assert (a.value, a.n, a.status) == (b.value, b.n, b.status)
    c = manifold(mani, dirty, n_permutations=50)
    d = manifold(mani, clean[keep], n_permutations=50)
    assert c.details["n_nonfinite_rows"] == 3
    assert (c.value, c.p_value, c.n) == (d.value, d.p_value, d.n)
    assert ManifoldReference.fit(_poison(draw(500, 6)), max_rows=500).fit_rows_.shape[0] == 249


def test_wrong_shapes_are_input_errors(
    pca: PCAReconstructionModel,
    domain: DomainClassifierReference,
    mani: ManifoldReference,
    draw: Draw,
) -> None:
    wrong = draw(300, 7)[:, :4]
    for check, model in [
        (pca_reconstruction, pca),
        (domain_classifier, domain),
        (manifold, mani),
    ]:
        with pytest.raises(InvalidInputError, match="6"):
            check(model, wrong)  # type: ignore[operator]
        with pytest.raises(InvalidInputError, match="2-D"):
            check(model, np.zeros(10))  # type: ignore[operator]
    with pytest.raises(InvalidInputError, match="numeric"):
        pca_reconstruction(pca, [["a", "b"]])


def test_unfitted_models_raise() -> None:
    with pytest.raises(NotFittedError):
        PCAReconstructionModel().to_state()
    with pytest.raises(NotFittedError):
        DomainClassifierReference().to_state()
    with pytest.raises(NotFittedError):
        ManifoldReference().holdout_embedding()


def test_bad_states_are_serialization_errors(
    pca: PCAReconstructionModel, domain: DomainClassifierReference, mani: ManifoldReference
) -> None:
    for model in (pca, domain, mani):
        meta, arrays = model.to_state()
        cls = type(model)
        with pytest.raises(SerializationError, match="Expected"):
            cls.from_state({**meta, "kind": "FrameEncoder"}, arrays)  # type: ignore[attr-defined]
        with pytest.raises(SerializationError):
            cls.from_state(meta, {})  # type: ignore[attr-defined]
    meta, arrays = pca.to_state()
    with pytest.raises(SerializationError, match="inconsistent"):
        PCAReconstructionModel.from_state(meta, {**arrays, "components": np.zeros((1, 6))})


def test_states_are_json_and_npz_safe(
    pca: PCAReconstructionModel, domain: DomainClassifierReference, mani: ManifoldReference
) -> None:
    for model in (pca, domain, mani):
        meta, arrays = model.to_state()
        assert json.loads(json.dumps(meta)) == meta
        assert all(isinstance(v, np.ndarray) and v.dtype != object for v in arrays.values())


def test_importing_the_modules_does_not_import_sklearn_or_scipy_stats() -> None:
    code = (
        "import sys\n"
        "import watchkeeper.baseline._encode, watchkeeper.baseline._pca\n"
        "import watchkeeper.baseline._manifold, watchkeeper.drift.multivariate\n"
        "bad = [m for m in ('sklearn', 'scipy.stats', 'scipy.spatial') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
