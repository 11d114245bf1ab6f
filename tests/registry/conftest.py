"""Fixtures for the registry suite (``database_url`` comes from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from watchkeeper.datasets import churn, train_churn_model


@pytest.fixture
def project(tmp_path: Path, database_url: str) -> Iterator[Any]:
    """A new project on each database kind."""
    from watchkeeper.registry import Project

    with Project.init(tmp_path / "project", database_url=database_url) as opened:
        yield opened


@pytest.fixture(scope="session")
def churn_data() -> dict[str, pd.DataFrame]:
    """Small churn reference and validation frames (shared; do not modify)."""
    return {"reference": churn(3_000, seed=1), "validation": churn(1_000, seed=2)}


@pytest.fixture(scope="session")
def churn_models(churn_data: dict[str, pd.DataFrame]) -> list[Any]:
    """Three distinct fitted churn pipelines (different regularization)."""
    return [train_churn_model(churn_data["reference"], C=c) for c in (1.0, 0.1, 0.01)]
