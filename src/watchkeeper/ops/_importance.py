"""Which drifted features matter: each one's drift effect weighted by the model's importance.

A drifted input the model barely uses is less urgent than a smaller shift in the input it
leans on most. :func:`rank_drifted_features` orders the feature-level drift results of a run
by

    score = effect * max(importance, floor)

where ``effect`` is the drift measured in multiples of the check's alert threshold, the
``importance`` is the permutation importance stored with the version at registration (see
:func:`stored_importance`), and ``floor`` (1% of the largest importance) keeps a feature the
model ignores, or one importance could not be measured for, in the ranking behind the others.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from watchkeeper.drift.methods import METHODS
from watchkeeper.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from watchkeeper.results import CheckResult

__all__ = ["rank_drifted_features", "stored_importance"]

_FLOOR_SHARE = 0.01  # the floor, as a share of the largest importance
_MIN_P = 1e-300  # p-values below this count as this (their log stays finite)
_NOT_FEATURES = ("drift.prediction", "drift.target")


def stored_importance(metrics: Mapping[str, Any]) -> dict[str, float] | None:
    """The per-feature importance a version's ``metrics`` hold, or None.

    None when the version was registered without validation data, or when measuring the
    importance failed (its ``metrics["importance"]`` then holds only an ``error``).

    Examples
    --------
    >>> stored_importance({"importance": {"method": "permutation", "scoring": "roc_auc",
    ...                    "n_rows": 900, "features": {"age": 0.04, "plan": None}}})
    {'age': 0.04}
    >>> stored_importance({"importance": {"error": "RuntimeError: boom"}}) is None
    True
    """
    block = metrics.get("importance")
    if not isinstance(block, Mapping):
        return None
    features = block.get("features")
    if not isinstance(features, Mapping):
        return None
    return {
        str(name): float(value)
        for name, value in features.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }


def _is_feature_drift(check: CheckResult) -> bool:
    return (
        check.family == "drift"
        and check.column is not None
        and check.segment is None
        and check.check not in _NOT_FEATURES
        and check.details.get("role", "feature") == "feature"
    )


def drift_effect(check: CheckResult) -> float:
    """How far a column drifted, in multiples of its check's alert threshold.

    A distance (the default rule's normalized Wasserstein or Jensen-Shannon distance, PSI,
    ...) gives ``value / threshold``. A test chosen as the column's method decides by its
    p-value, so it gives ``log(p) / log(alpha)``: 1 at the threshold, 2 at alpha squared.
    Without a threshold the value is taken as is; without a value, 0.

    Examples
    --------
    >>> from watchkeeper.results import CheckResult
    >>> drift_effect(CheckResult("drift.wasserstein", "age", 0.25, threshold=0.1))
    2.5
    >>> ks = CheckResult("drift.ks", "age", 0.2, p_value=0.0025, threshold=0.05,
    ...                  details={"method": "ks"})
    >>> round(drift_effect(ks), 6)
    2.0
    """
    method = METHODS.get(str(check.details.get("method", "")))
    threshold = check.threshold
    if method is not None and method.is_test:
        if check.p_value is None or threshold is None or not 0 < threshold < 1:
            return 0.0
        return math.log(max(check.p_value, _MIN_P)) / math.log(threshold)
    if check.value is None:
        return 0.0
    if threshold is not None and threshold > 0:
        return check.value / threshold
    return check.value


def rank_drifted_features(
    checks: Sequence[CheckResult], importance: Mapping[str, float] | None, top: int
) -> list[dict[str, Any]]:
    """The drifted features of a run, most urgent first.

    Parameters
    ----------
    checks
        A run's check results. Only whole-window drift results on feature columns count
        (not the prediction or target, not segments), with status ``alert`` or ``warning``.
    importance
        Each feature's importance (:func:`stored_importance`), or None to rank by drift
        effect alone.
    top
        How many features to return.

    Returns
    -------
    list of dict
        ``feature``, ``check``, ``status``, ``value``, ``threshold``, ``effect`` (see
        :func:`drift_effect`), ``importance`` (None when not known) and ``score``. Alerts
        come before warnings; within each, the higher score first (then the name).

    Raises
    ------
    InvalidParameterError
        If ``top`` is not a non-negative integer.

    Examples
    --------
    >>> from watchkeeper.results import CheckResult
    >>> checks = [
    ...     CheckResult("drift.wasserstein", "age", 0.3, threshold=0.1, status="alert"),
    ...     CheckResult("drift.wasserstein", "income", 0.2, threshold=0.1, status="alert"),
    ...     CheckResult("drift.wasserstein", "zip", 0.9, threshold=0.1, status="ok"),
    ... ]
    >>> [r["feature"] for r in rank_drifted_features(checks, None, 5)]
    ['age', 'income']
    >>> ranked = rank_drifted_features(checks, {"age": 0.01, "income": 0.2}, 1)
    >>> ranked[0]["feature"], round(ranked[0]["score"], 6)
    ('income', 0.4)
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 0:
        raise InvalidParameterError(
            f"The 'top' parameter of rank_drifted_features must be a non-negative integer. "
            f"Got {top!r} instead."
        )
    weights = None if importance is None else dict(importance)
    floor = 1.0
    if weights:
        largest = max((v for v in weights.values() if math.isfinite(v)), default=0.0)
        floor = _FLOOR_SHARE * largest if largest > 0 else 1.0
    ranked: list[dict[str, Any]] = []
    for check in checks:
        if check.status not in ("alert", "warning") or not _is_feature_drift(check):
            continue
        feature = str(check.column)
        effect = drift_effect(check)
        weight = None if weights is None else weights.get(feature)
        if weight is not None and not math.isfinite(weight):
            weight = None
        score = effect if weights is None else effect * max(weight or 0.0, floor)
        ranked.append(
            {
                "feature": feature,
                "check": check.check,
                "status": check.status,
                "value": check.value,
                "threshold": check.threshold,
                "effect": effect,
                "importance": weight,
                "score": score,
            }
        )
    ranked.sort(key=lambda r: (r["status"] != "alert", -r["score"], r["feature"]))
    return ranked[:top]
