"""Shared seeded data for the multivariate tests."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest


def correlated_cholesky(n_features: int, rho_pair: float = 0.9) -> np.ndarray:
    """Cholesky factor of a correlation matrix: features 0 and 1 correlate at ``rho_pair``,
    every other pair at 0.3."""
    corr = np.full((n_features, n_features), 0.3)
    corr[0, 1] = corr[1, 0] = rho_pair
    np.fill_diagonal(corr, 1.0)
    return np.linalg.cholesky(corr)


@pytest.fixture(scope="session")
def draw() -> Callable[[int, int], np.ndarray]:
    """``draw(n_rows, seed)``: rows of a 6-feature Gaussian with correlated features."""
    chol = correlated_cholesky(6)

    def _draw(n_rows: int, seed: int) -> np.ndarray:
        return np.random.default_rng(seed).normal(size=(n_rows, 6)) @ chol.T

    return _draw


def _round_trip(state: tuple[dict[str, Any], dict[str, np.ndarray]]) -> tuple[Any, Any]:
    meta, arrays = state
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as npz:
        loaded = {k: npz[k] for k in npz.files}
    return json.loads(json.dumps(meta)), loaded


@pytest.fixture(scope="session")
def round_trip() -> Callable[[tuple[dict[str, Any], dict[str, np.ndarray]]], tuple[Any, Any]]:
    """Send a ``to_state`` pair through JSON text and an in-memory ``.npz`` file."""
    return _round_trip
