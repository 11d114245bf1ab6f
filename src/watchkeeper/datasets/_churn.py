"""A seeded, synthetic customer-churn table for tests, the demo and the benchmarks.

:func:`churn` draws ``n`` customers of a subscription business, the features a churn model
would see, the observed outcome and the score of a deployed model. Every distribution
parameter is a module constant: two seeds give independent samples of the *same*
distribution (the null case of every false-alarm test), one seed always gives the identical
frame, and a scenario changes exactly what its description says.

Columns (in frame order)
------------------------
============================ ============== ==================================================
column                       dtype          distribution
============================ ============== ==================================================
``customer_id``              str            unique per frame, ``"C"`` + 10 digits (role: id)
``event_time``               datetime64[ns] sorted, uniform over ``[start, start + days)``
                                            (role: timestamp)
``tenure_months``            int64          0–72; short for month-to-month contracts, long for
                                            two-year ones
``contract``                 str            Month-to-month 55 %, One year 21 %, Two year 24 %
``monthly_charges``          float64        18.25–118.75, by internet service and products
``total_charges``            float64        ≈ tenure × monthly charges; missing when tenure is
                                            0 and at 1 % of rows (≈ 2 % in all)
``internet_service``         str            Fiber optic 44 %, DSL 34 %, No 22 %
``num_products``             int64          1–6, 1 + Binomial(5, 0.3)
``payment_method``           str            4 levels (Electronic check 34 %, ...); 2 % missing
``paperless_billing``        bool           True 59 %
``support_calls``            int64          Poisson, mean 1.6 / 1.1 / 0.7 by internet service
``support_wait_minutes``     float64        0 without calls, else Gamma(2, 4) (mean 8),
                                            rounded to 0.1 min, at least 0.1
``avg_session_minutes``      float64        lognormal (median ≈ 16, long right tail); 3 % missing
``age``                      int64          18–90, rounded normal (46, 16) clipped
``region``                   str            12 levels, the region of ``city``
``city``                     str            300 levels, Zipf(1.07) frequencies (the top city
                                            holds ≈ 19 %, the last ≈ 0.04 %)
``plan_code``                str            40 levels, geometric frequencies
``churned``                  int64          0/1, Bernoulli(sigmoid(η)), ≈ 26.5 % ones (role:
                                            target)
``churn_score``              float64        sigmoid(η + N(0, 0.9²)) in (0, 1), ROC AUC ≈ 0.80
                                            against ``churned`` (role: prediction_proba)
``churn_pred``               int64          ``churn_score >= 0.5`` as 0/1 (role: prediction)
============================ ============== ==================================================

The string columns use pandas' default string dtype (``str`` on pandas 3) with NaN for a
missing value, or ``category`` with ``as_category=True``. η is a fixed logistic model of
contract, tenure, monthly charges, internet service, payment method, paperless billing,
support calls and wait, number of products and session length (see ``_logit``); ``region``,
``city``, ``plan_code``, ``age`` and ``total_charges`` do not enter it.
:func:`churn_schema_hints` names every column's role.

Scenarios
---------
``"none"``
    The reference distribution.
``"covariate_drift"`` (options ``drift_columns``, ``magnitude``)
    Each feature named in ``drift_columns`` (default ``("monthly_charges", "tenure_months",
    "contract")``) moves; every other feature keeps the reference distribution exactly
    (for the same seed its values are identical to ``"none"``). A float column is shifted by
    ``magnitude`` reference standard deviations (:data:`CHURN_REFERENCE_SD`), a pure
    location shift that may leave the reference range. An integer column is shifted by the
    same amount with stochastic rounding: ``floor(d)`` plus 1 with probability ``frac(d)``,
    so the mean moves by exactly ``d`` in expectation and the values stay integers. A
    categorical or boolean column is redrawn, in a random fraction ``m = abs(magnitude)``
    (at most 1) of rows, from its level probabilities in reversed order (the first level of
    :data:`CHURN_LEVELS` takes the probability of the last, and so on; for a boolean, True
    and False swap), so its distribution becomes ``(1 - m) p + m reversed(p)``.
    Derived features (``total_charges``, ``support_wait_minutes``, ``region``) and the
    missing-value masks are built from the reference values, so they do not move, but
    ``churned``, ``churn_score`` and ``churn_pred`` are computed from the drifted values and
    move too whenever a drifted column enters the model (``contract``, ``tenure_months``,
    ``monthly_charges``, ``internet_service``, ``payment_method``, ``paperless_billing``,
    ``support_calls``, ``support_wait_minutes``, ``num_products``, ``avg_session_minutes``).
``"unseen_category"`` (options ``column``, ``rate``, ``unseen_value``)
    Exactly ``round(rate * n)`` rows (default rate 0.05), chosen at random, of the
    categorical ``column`` (default ``"payment_method"``) take a level never seen in the
    reference (default ``"Crypto"`` for ``payment_method``, ``"Unseen"`` otherwise).
    Everything else, targets included, is as in ``"none"``.
``"concept_drift"`` (option ``magnitude``, default 1.0)
    Features, ``churn_score`` and ``churn_pred`` are as in ``"none"`` (the deployed model
    is stale); ``churned`` follows the logit ``η + magnitude × Δ``, where Δ models a
    competitor's cheap offer that buys customers out of their contracts: neither tenure nor
    a contract protects any more, price sensitivity rises, fiber customers leave more and
    electronic-check payers less. The churn rate stays near 26 % while the score's ROC AUC
    falls from 0.80 to ≈ 0.66 at magnitude 1.
``"quality_incident"`` (option ``rate``, default 0.05)
    After the targets are drawn, in independent random fractions ``rate`` of rows:
    ``monthly_charges`` is missing, ``contract`` is missing, ``age`` is the sentinel -1,
    ``total_charges`` is negative (sign flipped) and ``support_wait_minutes`` is recorded
    in seconds (× 60). Targets and the other columns are as in ``"none"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from watchkeeper.errors import InvalidParameterError, UnknownMethodError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "CHURN_LEVELS",
    "CHURN_REFERENCE_SD",
    "CHURN_SCENARIOS",
    "ChurnSchemaHints",
    "churn",
    "churn_schema_hints",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Array = npt.NDArray[Any]

CHURN_SCENARIOS: Final = (
    "none", "covariate_drift", "unseen_category", "concept_drift", "quality_incident",
)  # fmt: skip
"""The scenario names :func:`churn` accepts."""

_CITY_PREFIXES = (
    "Ash", "Bel", "Cal", "Dun", "El", "Fair", "Glen", "Har", "Iver", "Ken",
    "Lin", "Mar", "New", "Oak", "Pine", "Red", "Stan", "Thorn", "Wes", "York",
)  # fmt: skip
_CITY_SUFFIXES = (
    "ford", "ton", "field", "bury", "wick", "dale", "mouth", "port",
    "ham", "ley", "stead", "bridge", "haven", "more", "croft",
)  # fmt: skip
_REGIONS = (
    "North", "North-East", "East", "South-East", "South", "South-West",
    "West", "North-West", "Central", "Coastal", "Highlands", "Islands",
)  # fmt: skip


def _normalised(weights: npt.ArrayLike) -> FloatArray:
    w = np.asarray(weights, dtype=np.float64)
    return np.asarray(w / w.sum(), dtype=np.float64)


_CITY_P = _normalised(np.arange(1, 301, dtype=np.float64) ** -1.07)
_REGION_OF_CITY = np.arange(300, dtype=np.int64) % len(_REGIONS)

CHURN_LEVELS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "contract": ("Month-to-month", "One year", "Two year"),
        "payment_method": (
            "Electronic check",
            "Mailed check",
            "Bank transfer (automatic)",
            "Credit card (automatic)",
        ),
        "internet_service": ("Fiber optic", "DSL", "No"),
        "region": _REGIONS,
        "city": tuple(p + s for p in _CITY_PREFIXES for s in _CITY_SUFFIXES),
        "plan_code": tuple(
            f"{t}-{v:02d}" for t in ("BAS", "STD", "PLS", "PRO", "MAX") for v in range(1, 9)
        ),
    }
)
"""The reference levels of every string column, in the order of their codes."""

_LEVEL_P: Final[Mapping[str, FloatArray]] = MappingProxyType(
    {
        "contract": _normalised([0.55, 0.21, 0.24]),
        "payment_method": _normalised([0.34, 0.23, 0.22, 0.21]),
        "internet_service": _normalised([0.44, 0.34, 0.22]),
        "region": _normalised(np.bincount(_REGION_OF_CITY, weights=_CITY_P, minlength=12)),
        "city": _CITY_P,
        "plan_code": _normalised(0.92 ** np.arange(40, dtype=np.float64)),
        "paperless_billing": np.array([0.41, 0.59]),  # P(False), P(True)
    }
)

CHURN_REFERENCE_SD: Final[Mapping[str, float]] = MappingProxyType(
    {
        "tenure_months": 22.279,
        "monthly_charges": 22.578,
        "total_charges": 1635.6,
        "num_products": math.sqrt(5 * 0.3 * 0.7),  # binomial, exact
        "support_calls": 1.1661,  # Poisson mixture, exact to 4 digits
        "support_wait_minutes": 5.981,
        "avg_session_minutes": math.sqrt(math.expm1(0.64) * math.exp(5.6 + 0.64)),  # lognormal
        "age": 15.398,
    }
)
"""Reference standard deviation of every numeric feature (over its non-missing values).

``covariate_drift`` shifts a numeric column by ``magnitude`` times this value. Values not
exact by construction were measured on 10 million rows (relative error below 1e-3).
"""

_INTEGER = ("tenure_months", "num_products", "support_calls", "age")
_FLOAT = ("monthly_charges", "total_charges", "support_wait_minutes", "avg_session_minutes")
_STRING = ("contract", "payment_method", "internet_service", "region", "city", "plan_code")
_ORDER = (
    "customer_id", "event_time", "tenure_months", "contract", "monthly_charges",
    "total_charges", "internet_service", "num_products", "payment_method",
    "paperless_billing", "support_calls", "support_wait_minutes", "avg_session_minutes",
    "age", "region", "city", "plan_code", "churned", "churn_score", "churn_pred",
)  # fmt: skip
_FEATURES = tuple(c for c in _ORDER if c in (*_INTEGER, *_FLOAT, *_STRING, "paperless_billing"))
_UNSEEN_DEFAULT = {"payment_method": "Crypto"}
# Independent random streams, one per purpose; drift of feature i uses stream 100 + i.
_S_CONTRACT, _S_TENURE, _S_INTERNET, _S_PRODUCTS, _S_MONTHLY, _S_TOTAL = range(6)
_S_SESSION, _S_CALLS, _S_WAIT, _S_AGE, _S_PAYMENT, _S_PAPERLESS, _S_CITY = range(6, 13)
_S_PLAN, _S_EVENT, _S_ID, _S_MISSING, _S_TARGET, _S_SCORE, _S_SCENARIO = range(13, 20)


@dataclass(frozen=True, slots=True)
class ChurnSchemaHints:
    """The role of every column of :func:`churn`'s frame.

    ``numeric`` holds the float and integer features (``integer`` the integer ones),
    ``categorical`` the string features, ``boolean`` the boolean ones.
    """

    id: str = "customer_id"
    timestamp: str = "event_time"
    target: str = "churned"
    prediction: str = "churn_pred"
    prediction_proba: str = "churn_score"
    numeric: tuple[str, ...] = tuple(c for c in _FEATURES if c in _INTEGER + _FLOAT)
    integer: tuple[str, ...] = tuple(c for c in _FEATURES if c in _INTEGER)
    categorical: tuple[str, ...] = tuple(c for c in _FEATURES if c in _STRING)
    boolean: tuple[str, ...] = ("paperless_billing",)

    @property
    def features(self) -> tuple[str, ...]:
        """Every feature column, in frame order."""
        return _FEATURES

    @property
    def roles(self) -> dict[str, str]:
        """Role name (``id``, ``timestamp``, ``target``, ...) to column name."""
        return {
            "id": self.id,
            "timestamp": self.timestamp,
            "target": self.target,
            "prediction": self.prediction,
            "prediction_proba": self.prediction_proba,
        }


def churn_schema_hints() -> ChurnSchemaHints:
    """Return the roles of the columns of :func:`churn`'s frame.

    Examples
    --------
    >>> churn_schema_hints().roles["target"]
    'churned'
    """
    return ChurnSchemaHints()


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream,)))


def _draw(rng: np.random.Generator, p: FloatArray, n: int) -> IntArray:
    """Inverse-CDF draw of ``n`` level codes with probabilities ``p``."""
    codes = np.searchsorted(np.cumsum(p), rng.random(n), side="right")
    out: IntArray = np.minimum(codes, p.shape[0] - 1).astype(np.int64)
    return out


def _features(n: int, seed: int) -> dict[str, Array]:
    """Draw the reference features, complete (no missing values), as numpy arrays."""
    contract = _draw(_rng(seed, _S_CONTRACT), _LEVEL_P["contract"], n)
    r = _rng(seed, _S_TENURE)
    z, e = r.standard_normal(n), r.standard_exponential(n)
    base = np.where(
        contract == 0, 1.0 + 15.0 * e, np.where(contract == 1, 34.0 + 18.0 * z, 72.0 - 18.0 * e)
    )
    tenure = np.clip(np.floor(base), 0, 72).astype(np.int64)
    internet = _draw(_rng(seed, _S_INTERNET), _LEVEL_P["internet_service"], n)
    products = 1 + _rng(seed, _S_PRODUCTS).binomial(5, 0.3, n).astype(np.int64)
    monthly = np.array([72.0, 48.0, 21.0])[internet] + 7.0 * (products - 1)
    monthly = monthly + 9.0 * _rng(seed, _S_MONTHLY).standard_normal(n)
    monthly = np.round(np.clip(monthly, 18.25, 118.75), 2)
    total = tenure * monthly * np.exp(0.06 * _rng(seed, _S_TOTAL).standard_normal(n))
    calls = _rng(seed, _S_CALLS).poisson(np.array([1.6, 1.1, 0.7])[internet]).astype(np.int64)
    wait = np.maximum(np.round(_rng(seed, _S_WAIT).gamma(2.0, 4.0, n), 1), 0.1)
    session = np.exp(2.8 + 0.8 * _rng(seed, _S_SESSION).standard_normal(n))
    age = np.clip(np.rint(46.0 + 16.0 * _rng(seed, _S_AGE).standard_normal(n)), 18, 90)
    city = _draw(_rng(seed, _S_CITY), _LEVEL_P["city"], n)
    return {
        "tenure_months": tenure,
        "contract": contract,
        "monthly_charges": monthly,
        "total_charges": np.round(total, 2),
        "internet_service": internet,
        "num_products": products,
        "payment_method": _draw(_rng(seed, _S_PAYMENT), _LEVEL_P["payment_method"], n),
        "paperless_billing": _rng(seed, _S_PAPERLESS).random(n) < 0.59,
        "support_calls": calls,
        "support_wait_minutes": np.where(calls > 0, wait, 0.0),
        "avg_session_minutes": np.round(session, 2),
        "age": age.astype(np.int64),
        "region": _REGION_OF_CITY[city],
        "city": city,
        "plan_code": _draw(_rng(seed, _S_PLAN), _LEVEL_P["plan_code"], n),
    }


def _drift(f: dict[str, Array], columns: tuple[str, ...], m: float, seed: int, n: int) -> None:
    """Apply ``covariate_drift`` in place to ``columns`` (each from its own random stream)."""
    for name in columns:
        r = _rng(seed, 100 + _FEATURES.index(name))
        x = f[name]
        if name in _FLOAT:
            f[name] = x + m * CHURN_REFERENCE_SD[name]
        elif name in _INTEGER:
            d = m * CHURN_REFERENCE_SD[name]
            whole = math.floor(d)
            f[name] = x + whole + (r.random(n) < d - whole).astype(np.int64)
        else:
            p = _LEVEL_P[name]
            new = _draw(r, p[::-1].copy(), n)
            moved = r.random(n) < abs(m)
            f[name] = np.where(moved, new.astype(bool) if x.dtype == np.bool_ else new, x)


def _logit(f: Mapping[str, Array]) -> FloatArray:
    """The reference churn logit η of every row."""
    contract, internet = f["contract"], f["internet_service"]
    eta = (
        -2.47
        + 1.1 * (contract == 0)
        - 1.0 * (contract == 2)
        - 0.035 * (f["tenure_months"].astype(np.float64) - 30.0)
        + 0.015 * (f["monthly_charges"].astype(np.float64) - 65.0)
        + 0.5 * (internet == 0)
        - 0.4 * (internet == 2)
        + 0.45 * (f["payment_method"] == 0)
        + 0.25 * f["paperless_billing"].astype(np.float64)
        + 0.3 * (f["support_calls"].astype(np.float64) - 1.2)
        + 0.03 * (f["support_wait_minutes"].astype(np.float64) - 6.0)
        - 0.15 * (f["num_products"].astype(np.float64) - 2.5)
        - 0.3 * (np.log1p(np.maximum(f["avg_session_minutes"].astype(np.float64), 0.0)) - 2.85)
    )
    return np.asarray(eta, dtype=np.float64)


def _concept_delta(f: Mapping[str, Array]) -> FloatArray:
    """Δ of ``concept_drift``: a competitor's cheap offer changes who churns."""
    contract = f["contract"]
    delta = (
        0.035 * (f["tenure_months"].astype(np.float64) - 30.0)
        + 1.1 * (contract == 2)
        - 1.0 * (contract == 0)
        + 0.04 * (f["monthly_charges"].astype(np.float64) - 65.0)
        + 0.8 * (f["internet_service"] == 0)
        - 0.45 * (f["payment_method"] == 0)
    )
    return np.asarray(delta, dtype=np.float64)


def _sigmoid(x: FloatArray) -> FloatArray:
    return 1.0 / (1.0 + np.exp(-x))


_OPTIONS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "drift_columns": ("covariate_drift",),
        "magnitude": ("covariate_drift", "concept_drift"),
        "column": ("unseen_category",),
        "rate": ("unseen_category", "quality_incident"),
        "unseen_value": ("unseen_category",),
    }
)


def _count(value: object, name: str, minimum: int) -> int:
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < minimum:
        raise InvalidParameterError(
            f"The '{name}' parameter of churn must be an int >= {minimum}. Got {value!r} instead."
        )
    return int(value)


def _real(value: object, name: str, low: float = -math.inf, high: float = math.inf) -> float:
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    x = float(value) if ok else math.nan  # type: ignore[arg-type]
    if not (math.isfinite(x) and low <= x <= high):
        where = "be a finite number" if math.isinf(low) else f"be a number in [{low:g}, {high:g}]"
        raise InvalidParameterError(
            f"The '{name}' parameter of churn must {where}. Got {value!r} instead."
        )
    return x


def _drift_columns(value: str | Sequence[str] | None, m: float) -> tuple[str, ...]:
    if value is None:
        return ("monthly_charges", "tenure_months", "contract")
    columns = (value,) if isinstance(value, str) else tuple(value)
    unknown = [c for c in columns if c not in _FEATURES]
    if not columns or unknown or len(set(columns)) != len(columns):
        raise InvalidParameterError(
            "The 'drift_columns' parameter of churn must name distinct feature columns among "
            f"{list(_FEATURES)}. Got {value!r} instead."
        )
    if abs(m) > 1 and any(c not in _INTEGER + _FLOAT for c in columns):
        raise InvalidParameterError(
            "The 'magnitude' parameter of churn must be in [-1, 1] when 'drift_columns' holds a "
            "categorical or boolean column (it is the fraction of rows redrawn). "
            f"Got {m!r} instead."
        )
    return columns


def _strings(
    levels: Sequence[str], codes: IntArray, as_category: bool
) -> pd.Series | pd.Categorical:
    """Level ``codes`` (-1 for missing) as a string (or category) column."""
    if as_category:
        return pd.Categorical.from_codes(codes, categories=pd.Index(list(levels), dtype="str"))
    import pyarrow as pa  # loaded on first use, not at import
    import pyarrow.compute as pc

    values = pc.take(
        pa.array(list(levels), type=pa.large_string()), pa.array(codes, mask=codes < 0)
    )
    return pd.Series(values, dtype="str")


def _customer_ids(n: int, seed: int) -> pd.Series:
    import pyarrow as pa
    import pyarrow.compute as pc

    # i -> (i * A + offset) mod 10**10 is a bijection (A is coprime with 10), so ids are unique.
    offset = int(_rng(seed, _S_ID).integers(0, 10**10))
    ids = (np.arange(n, dtype=np.int64) * 2_654_435_761 + offset) % 10**10
    digits = pc.utf8_lpad(pc.cast(pa.array(ids), pa.string()), 10, "0")
    return pd.Series(pc.binary_join_element_wise("C", digits, ""), dtype="str")


def _event_times(n: int, seed: int, start: str | pd.Timestamp, days: float) -> pd.Series:
    try:
        origin = pd.Timestamp(start)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(
            "The 'start' parameter of churn must be a timestamp or a date string. "
            f"Got {start!r} instead."
        ) from exc
    if pd.isna(origin):
        raise InvalidParameterError(
            f"The 'start' parameter of churn must not be NaT. Got {start!r} instead."
        )
    gaps = np.cumsum(_rng(seed, _S_EVENT).standard_exponential(n + 1))
    seconds = np.floor(gaps[:-1] / gaps[-1] * (days * 86_400.0)).astype(np.int64)
    base = origin.tz_localize(None).as_unit("ns").to_datetime64()
    times = pd.Series(base + seconds.astype("timedelta64[s]").astype("timedelta64[ns]"))
    return times if origin.tz is None else times.dt.tz_localize(origin.tz)


def churn(
    n: int,
    *,
    seed: int = 0,
    scenario: str = "none",
    drift_columns: str | Sequence[str] | None = None,
    magnitude: float | None = None,
    column: str | None = None,
    rate: float | None = None,
    unseen_value: str | None = None,
    start: str | pd.Timestamp = "2024-01-01",
    days: float = 30.0,
    as_category: bool = False,
) -> pd.DataFrame:
    """Draw ``n`` rows of the synthetic churn table, optionally under a scenario.

    The columns, their distributions and the scenarios are described in the module
    docstring (:mod:`watchkeeper.datasets`, ``_churn``).

    Parameters
    ----------
    n
        Number of rows, at least 1.
    seed
        Non-negative seed; the same seed (and arguments) always gives the identical frame,
        and features a scenario does not touch are identical to those of ``"none"``.
    scenario
        One of :data:`CHURN_SCENARIOS`.
    drift_columns
        ``covariate_drift`` only: the feature (or features) to drift. Default
        ``("monthly_charges", "tenure_months", "contract")``.
    magnitude
        ``covariate_drift``: shift in reference standard deviations for numeric columns and
        fraction of rows redrawn for categorical ones (default 0.5); ``concept_drift``:
        weight of the new concept in the churn logit (default 1.0).
    column
        ``unseen_category`` only: the string column that gets the new level (default
        ``"payment_method"``).
    rate
        ``unseen_category``: fraction of rows given the new level (default 0.05);
        ``quality_incident``: fraction of rows hit by each defect (default 0.05). In [0, 1].
    unseen_value
        ``unseen_category`` only: the new level (default ``"Crypto"`` for payment_method,
        ``"Unseen"`` otherwise); must not be a reference level.
    start, days
        ``event_time`` is spread uniformly over ``[start, start + days)`` and sorted.
    as_category
        Give the string columns the ``category`` dtype instead of pandas' string dtype.

    Returns
    -------
    pandas.DataFrame
        ``n`` rows, the columns of the module docstring in that order, a RangeIndex.

    Raises
    ------
    InvalidParameterError
        If a parameter is out of range, or an option is given to a scenario that does not
        use it.
    UnknownMethodError
        If ``scenario`` is not one of :data:`CHURN_SCENARIOS`.

    Examples
    --------
    >>> df = churn(1_000, seed=7)
    >>> df.shape
    (1000, 20)
    >>> shifted = churn(1_000, seed=7, scenario="covariate_drift", magnitude=0.5)
    >>> round(float((shifted["monthly_charges"] - df["monthly_charges"]).max()), 3)
    11.289
    >>> shifted["age"].equals(df["age"])
    True
    """
    n = _count(n, "n", 1)
    seed = _count(seed, "seed", 0)
    if scenario not in CHURN_SCENARIOS:
        raise UnknownMethodError(
            f"Unknown scenario {scenario!r} for churn; valid scenarios are "
            f"{', '.join(repr(s) for s in CHURN_SCENARIOS)}."
        )
    given = {"drift_columns": drift_columns, "magnitude": magnitude, "column": column}
    given |= {"rate": rate, "unseen_value": unseen_value}
    for option, value in given.items():
        if value is not None and scenario not in _OPTIONS[option]:
            raise InvalidParameterError(
                f"The '{option}' option of churn applies only to scenario "
                f"{' or '.join(repr(s) for s in _OPTIONS[option])}. Got scenario={scenario!r}."
            )
    days = _real(days, "days", 1e-9, 1e9)
    default_m = 1.0 if scenario == "concept_drift" else 0.5
    m = _real(default_m if magnitude is None else magnitude, "magnitude")
    p = _real(0.05 if rate is None else rate, "rate", 0.0, 1.0)
    drifted = _drift_columns(drift_columns, m) if scenario == "covariate_drift" else ()
    column, unseen_value = _unseen_option(column, unseen_value)

    f = _features(n, seed)
    u = _rng(seed, _S_MISSING).random((3, n))
    missing_total = (f["tenure_months"] == 0) | (u[0] < 0.01)
    missing_session, missing_payment = u[1] < 0.03, u[2] < 0.02
    _drift(f, drifted, m, seed, n)
    eta = _logit(f)
    score = _sigmoid(eta + 0.9 * _rng(seed, _S_SCORE).standard_normal(n))
    if scenario == "concept_drift":
        eta = eta + m * _concept_delta(f)
    churned = (_rng(seed, _S_TARGET).random(n) < _sigmoid(eta)).astype(np.int64)

    f["total_charges"] = np.where(missing_total, np.nan, f["total_charges"])
    f["avg_session_minutes"] = np.where(missing_session, np.nan, f["avg_session_minutes"])
    f["payment_method"] = np.where(missing_payment, -1, f["payment_method"])
    levels = dict(CHURN_LEVELS)
    if scenario == "unseen_category":
        rows = _rng(seed, _S_SCENARIO).choice(n, size=round(p * n), replace=False)
        codes = np.array(f[column], dtype=np.int64, copy=True)
        codes[rows] = len(levels[column])
        f[column], levels[column] = codes, (*levels[column], unseen_value)
    elif scenario == "quality_incident":
        hit = _rng(seed, _S_SCENARIO).random((5, n)) < p
        f["monthly_charges"] = np.where(hit[0], np.nan, f["monthly_charges"])
        f["contract"] = np.where(hit[1], -1, f["contract"])
        f["age"] = np.where(hit[2], -1, f["age"])
        f["total_charges"] = np.where(hit[3], -f["total_charges"], f["total_charges"])
        f["support_wait_minutes"] = np.where(
            hit[4], 60.0 * f["support_wait_minutes"], f["support_wait_minutes"]
        )

    data: dict[str, object] = {
        "customer_id": _customer_ids(n, seed),
        "event_time": _event_times(n, seed, start, days),
    }
    for name in _FEATURES:
        is_string = name in _STRING
        data[name] = _strings(levels[name], f[name], as_category) if is_string else f[name]
    data["churned"], data["churn_score"] = churned, score
    data["churn_pred"] = (score >= 0.5).astype(np.int64)
    return pd.DataFrame(data)


def _unseen_option(column: str | None, value: str | None) -> tuple[str, str]:
    """Validate ``unseen_category``'s ``column`` and ``unseen_value`` and fill the defaults."""
    column = "payment_method" if column is None else column
    if column not in _STRING:
        raise InvalidParameterError(
            f"The 'column' parameter of churn must be one of the string columns {list(_STRING)}. "
            f"Got {column!r} instead."
        )
    value = _UNSEEN_DEFAULT.get(column, "Unseen") if value is None else value
    if not isinstance(value, str) or not value or value in CHURN_LEVELS[column]:
        raise InvalidParameterError(
            f"The 'unseen_value' parameter of churn must be a non-empty string that is not a "
            f"reference level of {column!r}. Got {value!r} instead."
        )
    return column, value
