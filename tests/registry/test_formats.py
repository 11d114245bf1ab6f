"""Model serialization: skops for estimators under a type policy, pickle only with trust."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from watchkeeper.errors import (
    DataFileError,
    InvalidParameterError,
    ModelFormatError,
    UntrustedModelError,
)
from watchkeeper.registry._formats import (
    JOBLIB,
    PICKLE,
    SKOPS,
    SerializedModel,
    describe_model,
    deserialize_model,
    read_model_file,
    serialize_model,
)

# Defined at module level: skops and pickle load a class by importing its module.


class Shift(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """A custom transformer: its code is not scikit-learn's, so skops asks before loading it."""

    def __init__(self, by: float = 1.0) -> None:
        self.by = by

    def fit(self, X: Any, y: Any = None) -> Shift:
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X: Any) -> Any:
        return np.asarray(X, dtype=float) + self.by


class ComplexParam(BaseEstimator):  # type: ignore[misc]
    """An estimator skops cannot save (it does not serialize complex numbers); pickle can."""

    def __init__(self, z: complex = 1j) -> None:
        self.z = z

    def predict(self, X: Any) -> Any:
        return np.full(len(X), self.z.imag)


class Threshold:
    """Not a scikit-learn estimator, but it predicts."""

    def __init__(self, cut: float) -> None:
        self.cut = cut

    def predict(self, X: Any) -> Any:
        return (np.asarray(X)[:, 0] > self.cut).astype(int)


class NoPredict:
    pass


SHIFT = f"{Shift.__module__}.{Shift.__qualname__}"


@pytest.fixture(scope="module")
def frame() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    n = 120
    X = pd.DataFrame(
        {
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "region": rng.choice(["north", "south"], n),
            "tenure": rng.integers(0, 60, n).astype(float),
            "spend": rng.normal(50, 15, n),
        }
    )
    X.loc[::11, "spend"] = np.nan
    y = ((X["tenure"] < 20) ^ (X["plan"] == "pro")).astype(int).to_numpy()
    return X, y


@pytest.fixture(scope="module")
def pipeline(frame: tuple[pd.DataFrame, np.ndarray]) -> Pipeline:
    X, y = frame
    pre = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan", "region"]),
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["tenure", "spend"]),
        ]
    )
    return make_pipeline(pre, LogisticRegression()).fit(X, y)


@pytest.fixture(scope="module")
def custom(frame: tuple[pd.DataFrame, np.ndarray]) -> Pipeline:
    X, y = frame
    numbers = X[["tenure", "spend"]].fillna(0.0).to_numpy()
    return make_pipeline(Shift(2.0), LinearRegression()).fit(numbers, y)


def test_pipeline_round_trips_through_skops(
    pipeline: Pipeline, frame: tuple[pd.DataFrame, np.ndarray]
) -> None:
    X, _ = frame
    saved = serialize_model(pipeline)
    assert saved.flavour == SKOPS
    assert saved.model_class == "sklearn.pipeline.Pipeline"
    assert saved.trusted_types == tuple(sorted(skops.io.get_untrusted_types(data=saved.data)))
    assert "numpy.dtype" in saved.trusted_types
    assert all(t.split(".")[0] in {"sklearn", "numpy", "scipy"} for t in saved.trusted_types)
    assert "data" not in repr(saved)  # the bytes are not dumped into reprs
    loaded = deserialize_model(saved.data, saved.flavour, saved.trusted_types)
    assert type(loaded) is Pipeline
    np.testing.assert_array_equal(loaded.predict_proba(X), pipeline.predict_proba(X))


def test_custom_type_needs_to_be_trusted(custom: Pipeline) -> None:
    with pytest.raises(UntrustedModelError) as info:
        serialize_model(custom)
    message = str(info.value)
    assert SHIFT in message
    assert f"trusted_types={[SHIFT]!r}" in message
    assert "trust=True" in message

    saved = serialize_model(custom, trusted_types=[SHIFT])
    assert saved.flavour == SKOPS
    assert SHIFT in saved.trusted_types
    assert list(saved.trusted_types) == sorted(saved.trusted_types)
    X = np.arange(8.0).reshape(4, 2)
    loaded = deserialize_model(saved.data, saved.flavour, saved.trusted_types)
    np.testing.assert_array_equal(loaded.predict(X), custom.predict(X))

    assert serialize_model(custom, trust=True).trusted_types == saved.trusted_types


def test_deserialize_refuses_skops_types_not_in_the_list(custom: Pipeline) -> None:
    saved = serialize_model(custom, trusted_types=[SHIFT])
    without = tuple(t for t in saved.trusted_types if t != SHIFT)
    with pytest.raises(UntrustedModelError, match=SHIFT.replace(".", r"\.")):
        deserialize_model(saved.data, SKOPS, without)


def test_plain_object_needs_trust_and_round_trips_with_joblib() -> None:
    model = Threshold(0.5)
    name = f"{Threshold.__module__}.Threshold"
    with pytest.raises(UntrustedModelError) as info:
        serialize_model(model)
    assert str(info.value) == (
        f"{name} is not a scikit-learn estimator, so it can only be stored with pickle "
        "(joblib), which runs arbitrary code when loaded; pass trust=True "
        "(CLI: --trust-pickle) if you trust this model."
    )
    saved = serialize_model(model, trust=True)
    assert saved == SerializedModel(saved.data, JOBLIB, (), name)
    loaded = deserialize_model(saved.data, saved.flavour, ())
    X = np.array([[0.2], [0.9]])
    np.testing.assert_array_equal(loaded.predict(X), [0, 1])


def test_object_without_predict_is_refused() -> None:
    for trust in (False, True):
        with pytest.raises(ModelFormatError, match="NoPredict") as info:
            serialize_model(NoPredict(), trust=trust)
        assert not isinstance(info.value, UntrustedModelError)


def test_estimator_skops_cannot_save_falls_back_to_joblib_only_with_trust() -> None:
    with pytest.raises(ModelFormatError, match="skops could not save") as info:
        serialize_model(ComplexParam())
    assert "trust=True" in str(info.value)
    assert "ComplexParam" in str(info.value)
    saved = serialize_model(ComplexParam(), trust=True)
    assert saved.flavour == JOBLIB
    assert deserialize_model(saved.data, JOBLIB, ()).z == 1j


def test_trusted_types_must_be_a_list_of_names(custom: Pipeline) -> None:
    with pytest.raises(InvalidParameterError, match="trusted_types"):
        serialize_model(custom, trusted_types=SHIFT)


def test_read_skops_file(pipeline: Pipeline, custom: Pipeline, tmp_path: Path) -> None:
    path = tmp_path / "model.skops"
    skops.io.dump(pipeline, path)
    saved = read_model_file(path)
    assert saved.flavour == SKOPS
    assert saved.data == path.read_bytes()
    assert saved.model_class == "sklearn.pipeline.Pipeline"
    assert "numpy.dtype" in saved.trusted_types

    custom_path = tmp_path / "custom.SKOPS"
    skops.io.dump(custom, custom_path)
    with pytest.raises(UntrustedModelError, match=SHIFT.replace(".", r"\.")):
        read_model_file(custom_path)
    assert SHIFT in read_model_file(custom_path, trusted_types=[SHIFT]).trusted_types

    broken = tmp_path / "broken.skops"
    broken.write_bytes(b"not a zip file")
    with pytest.raises(ModelFormatError, match="not a readable skops file"):
        read_model_file(broken)


def test_read_joblib_file_needs_trust(pipeline: Pipeline, tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    joblib.dump(pipeline, path)
    with pytest.raises(UntrustedModelError, match="--trust-pickle") as info:
        read_model_file(path)
    assert str(path) in str(info.value)
    saved = read_model_file(path, trust=True)
    assert (saved.flavour, saved.model_class) == (JOBLIB, "sklearn.pipeline.Pipeline")
    assert saved.data == path.read_bytes()
    assert saved.trusted_types == ()


def test_read_pickle_files(pipeline: Pipeline, tmp_path: Path) -> None:
    plain = tmp_path / "model.pkl"
    plain.write_bytes(pickle.dumps(pipeline))
    with pytest.raises(UntrustedModelError):
        read_model_file(plain)
    saved = read_model_file(plain, trust=True)
    assert (saved.flavour, saved.model_class) == (PICKLE, "sklearn.pipeline.Pipeline")
    assert type(deserialize_model(saved.data, saved.flavour, ())) is Pipeline

    # joblib.dump under a .pickle name: pickle.loads cannot read it, so it is recorded as joblib.
    by_joblib = tmp_path / "model.pickle"
    joblib.dump(pipeline, by_joblib)
    saved = read_model_file(by_joblib, trust=True)
    assert saved.flavour == JOBLIB
    assert type(deserialize_model(saved.data, saved.flavour, ())) is Pipeline


def test_read_pickle_without_predict(tmp_path: Path) -> None:
    path = tmp_path / "thing.pkl"
    path.write_bytes(pickle.dumps(NoPredict()))
    with pytest.raises(ModelFormatError, match=r"NoPredict .*thing\.pkl"):
        read_model_file(path, trust=True)


def test_read_model_file_rejects_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    odd = tmp_path / "model.onnx"
    odd.write_bytes(b"\x00")
    with pytest.raises(ModelFormatError, match=r"\.skops, \.joblib, \.pkl, \.pickle"):
        read_model_file(odd)
    missing = tmp_path / "missing.skops"
    with pytest.raises(DataFileError, match=r"missing\.skops"):
        read_model_file(missing)


@pytest.mark.parametrize("flavour", [SKOPS, JOBLIB, PICKLE])
def test_corrupt_bytes_are_a_format_error(flavour: str) -> None:
    with pytest.raises(ModelFormatError, match=flavour if flavour != SKOPS else "skops"):
        deserialize_model(b"\x80\x04 definitely not a model", flavour, ())


def test_truncated_skops_bytes(pipeline: Pipeline) -> None:
    saved = serialize_model(pipeline)
    with pytest.raises(ModelFormatError):
        deserialize_model(saved.data[: len(saved.data) // 2], SKOPS, saved.trusted_types)


def test_missing_module_is_a_format_error_naming_it() -> None:
    # A protocol-0 pickle of a global from a module that is not installed.
    data = b"cwatchkeeper_no_such_module\nModel\n."
    with pytest.raises(ModelFormatError, match="watchkeeper_no_such_module") as info:
        deserialize_model(data, PICKLE, ())
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_unknown_flavour() -> None:
    with pytest.raises(ModelFormatError, match="onnx"):
        deserialize_model(b"", "onnx", ())


def test_describe_classifier_pipeline(
    pipeline: Pipeline, frame: tuple[pd.DataFrame, np.ndarray]
) -> None:
    info = describe_model(pipeline)
    assert info == {
        "class": "sklearn.pipeline.Pipeline",
        "has_predict_proba": True,
        "classes": [0, 1],
        "feature_names": ["plan", "region", "tenure", "spend"],
        "n_features": 4,
    }
    assert all(type(c) is int for c in info["classes"])
    json.dumps(info)

    X, y = frame
    labelled = LogisticRegression().fit(X[["tenure"]], np.where(y == 1, "churn", "stay"))
    assert describe_model(labelled)["classes"] == ["churn", "stay"]


def test_describe_regressor() -> None:
    X = np.arange(20.0).reshape(10, 2)
    info = describe_model(LinearRegression().fit(X, X.sum(axis=1)))
    assert info == {
        "class": "sklearn.linear_model._base.LinearRegression",
        "has_predict_proba": False,
        "classes": None,
        "feature_names": None,
        "n_features": 2,
    }
    json.dumps(info)


def test_joblib_bytes_load_from_memory() -> None:
    buffer = io.BytesIO()
    joblib.dump(Threshold(1.0), buffer, compress=3)
    assert deserialize_model(buffer.getvalue(), JOBLIB, ()).cut == 1.0
