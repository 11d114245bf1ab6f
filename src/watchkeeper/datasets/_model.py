"""A small scikit-learn churn model, for the README, the demo and the tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from watchkeeper.datasets._churn import _FEATURES, _STRING

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pandas as pd

__all__ = ["CHURN_FEATURES", "retrain_churn_model", "train_churn_model"]

# city has 300 levels and adds nothing the region does not; the model leaves it out.
CHURN_FEATURES: tuple[str, ...] = tuple(f for f in _FEATURES if f != "city")


def train_churn_model(data: pd.DataFrame, *, target: str = "churned", C: float = 1.0) -> Any:
    """Fit a scikit-learn pipeline predicting ``target`` from :data:`CHURN_FEATURES`.

    One-hot encoded categories, imputed and standardized numbers, logistic regression: a
    model of the kind a data scientist registers, fitted on a DataFrame so that it knows its
    input columns (``feature_names_in_``). ``C`` is the inverse regularization strength (a
    different ``C`` gives a different, equally valid version).

    Examples
    --------
    >>> from watchkeeper.datasets import churn, train_churn_model, CHURN_FEATURES
    >>> df = churn(2_000, seed=1)
    >>> model = train_churn_model(df)
    >>> list(model.feature_names_in_) == list(CHURN_FEATURES)
    True
    >>> model.predict(df[list(CHURN_FEATURES)].head(3)).tolist()
    [0, 0, 0]
    """
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categorical = [f for f in CHURN_FEATURES if f in _STRING]
    numeric = [f for f in CHURN_FEATURES if f not in _STRING]
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), categorical),
            (make_pipeline(SimpleImputer(), StandardScaler()), numeric),
        ),
        LogisticRegression(C=C, max_iter=1_000),
    )
    return model.fit(data[list(CHURN_FEATURES)], data[target])


def retrain_churn_model(data: pd.DataFrame, context: Mapping[str, Any]) -> Any:
    """A trainer entry point for ``retrain.trainer``
    (``watchkeeper.datasets:retrain_churn_model``):
    :func:`train_churn_model` on the training rows the loop assembled; ``context["target"]``
    names the target column.

    Examples
    --------
    >>> from watchkeeper.datasets import churn, retrain_churn_model
    >>> model = retrain_churn_model(churn(1_000, seed=3), {"target": "churned"})
    >>> model.predict(churn(2, seed=4)[list(model.feature_names_in_)]).shape
    (2,)
    """
    return train_churn_model(data, target=str(context.get("target") or "churned"))
