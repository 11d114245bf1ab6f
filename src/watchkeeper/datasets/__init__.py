"""Seeded synthetic data sets for tests, the demo and the benchmarks.

:func:`churn` draws a customer-churn table (features, target, a model's score and
prediction) under a reference distribution or a named scenario (covariate drift, an unseen
category, concept drift, a data-quality incident); :func:`churn_schema_hints` names the
role of each of its columns; :func:`train_churn_model` fits the scikit-learn model the
README and the demo register.
"""

from __future__ import annotations

from watchkeeper.datasets._churn import (
    CHURN_LEVELS,
    CHURN_REFERENCE_SD,
    CHURN_SCENARIOS,
    ChurnSchemaHints,
    churn,
    churn_schema_hints,
)
from watchkeeper.datasets._model import CHURN_FEATURES, retrain_churn_model, train_churn_model

__all__ = [
    "CHURN_FEATURES",
    "CHURN_LEVELS",
    "CHURN_REFERENCE_SD",
    "CHURN_SCENARIOS",
    "ChurnSchemaHints",
    "churn",
    "churn_schema_hints",
    "retrain_churn_model",
    "train_churn_model",
]
