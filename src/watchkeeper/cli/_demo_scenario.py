"""The demo's six weeks of churn traffic: what each day's customers look like, and their
outcomes (which arrive a week later).

Fixed incidents, each with the day it starts and how soon watchkeeper should notice:

* days 7-9: a promotion brings in customers with higher charges and shorter tenure
  (covariate drift in ``monthly_charges`` and ``tenure_months``);
* days 14-29: a competitor's cheap offer changes who churns (concept drift: the features stay,
  the outcomes move). Outcomes arrive seven days late, so it cannot show before day 21;
* from day 30 the offer is over and customers behave as before (the concept reverts);
* days 31-32: the web-analytics feed fails and ``avg_session_minutes`` arrives empty (a
  data-quality incident: nulls reach the log).

Pure: days in, DataFrames out; the same seed always gives the same six weeks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from watchkeeper.datasets import CHURN_FEATURES, churn

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DAYS",
    "INCIDENTS",
    "LABEL_DELAY_DAYS",
    "REQUESTS_PER_DAY",
    "ROWS_PER_DAY",
    "Incident",
    "day_traffic",
    "reference_data",
]

DAYS = 42
ROWS_PER_DAY = 2_000
REQUESTS_PER_DAY = 4
LABEL_DELAY_DAYS = 7
DRIFTED = ("monthly_charges", "tenure_months")
MISSING = "avg_session_minutes"
_COVARIATE = range(7, 10)
_CONCEPT = range(14, 30)
_QUALITY = range(31, 33)
_CONCEPT_MAGNITUDE = 1.5


@dataclass(frozen=True, slots=True)
class Incident:
    """Something that happens to production, and when watchkeeper should have noticed."""

    key: str
    title: str
    start: int
    end: int | None
    detect_within: int  # days after ``start`` (labels first arrive ``LABEL_DELAY_DAYS`` late)
    how: str


INCIDENTS = (
    Incident(
        "covariate_drift",
        "promotion: higher monthly_charges, shorter tenure_months",
        _COVARIATE.start,
        _COVARIATE.stop - 1,
        1,
        "drift checks on the day's inputs",
    ),
    Incident(
        "concept_drift",
        "competitor's offer changes who churns (features unchanged)",
        _CONCEPT.start,
        _CONCEPT.stop - 1,
        LABEL_DELAY_DAYS + 2,
        "error stream and performance on labels, which arrive 7 days late",
    ),
    Incident(
        "concept_reverts",
        "the offer ends: customers behave as before",
        _CONCEPT.stop,
        None,
        LABEL_DELAY_DAYS + 2,
        "post-deploy guard comparing the new model with the previous one on labels",
    ),
    Incident(
        "data_quality",
        f"analytics feed down: {MISSING} arrives empty",
        _QUALITY.start,
        _QUALITY.stop - 1,
        1,
        "data-quality checks on the day's inputs",
    ),
)


def reference_data(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The data version 1 is trained on and validated with (before day 0)."""
    columns = [*CHURN_FEATURES, "customer_id", "churned"]
    train = churn(5_000, seed=seed * 1_000 + 1)[columns]
    validation = churn(2_000, seed=seed * 1_000 + 2)[columns]
    return train, validation


def day_traffic(day: int, seed: int, start: datetime) -> tuple[pd.DataFrame, np.ndarray]:
    """Day ``day``'s customers (the model's inputs and ``customer_id``) and their outcomes."""
    if not 0 <= day < DAYS:
        raise ValueError(f"day must be in 0..{DAYS - 1}; got {day}")
    day_seed = seed * 1_000 + 100 + day
    when = (start + timedelta(days=day)).replace(tzinfo=None)
    options: dict[str, object] = {"start": when, "days": 1.0}
    if day in _COVARIATE:
        options |= {"scenario": "covariate_drift", "drift_columns": DRIFTED, "magnitude": 0.8}
    elif day in _CONCEPT:
        options |= {"scenario": "concept_drift", "magnitude": _CONCEPT_MAGNITUDE}
    frame = churn(ROWS_PER_DAY, seed=day_seed, **options)  # type: ignore[arg-type]
    # customer ids repeat across days (the generator numbers them per draw): make them unique.
    frame["customer_id"] = [f"d{day:02d}-{c}" for c in frame["customer_id"]]
    if day in _QUALITY:
        frame[MISSING] = np.nan
    outcomes = frame["churned"].to_numpy()
    return frame[["customer_id", *CHURN_FEATURES]], outcomes
