"""MLflow models as a registration source: a scikit-learn model MLflow saved with skops becomes
watchkeeper's own ``sklearn-skops`` model (no trust, no MLflow to load it); any other MLflow
model is stored whole as a deterministic tar (flavour ``mlflow``), only with ``trust=True``;
``runs:/`` and ``models:/`` URIs are downloaded from the tracking server MLFLOW_TRACKING_URI
names. (The database kind does not matter to MLflow, so one SQLite project is enough.)"""

from __future__ import annotations

import re
import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

pytest.importorskip(
    "mlflow", reason="MLflow sources need the mlflow extra (pip install 'watchkeeper[mlflow]')"
)

import mlflow  # only once importorskip found it

with warnings.catch_warnings():
    # Importing mlflow.pyfunc infers the schemas of MLflow's own agent types, one of which has
    # an `Any` hint; MLflow hides that warning by patching showwarning, which a warning
    # turned into an error never reaches. A mark cannot help: this runs at collection.
    warnings.filterwarnings(
        "ignore", message=r".*Any type hint is inferred as AnyType", category=UserWarning
    )
    import mlflow.pyfunc
import mlflow.sklearn
import mlflow.tracking._tracking_service.utils as tracking_utils
from mlflow.models import infer_signature

from watchkeeper.errors import DataFileError, ModelFormatError, UntrustedModelError
from watchkeeper.registry import Project

# MLflow 3.17's SQL tracking store configures its mappers with SQLAlchemy's ``noload``
# strategy, which SQLAlchemy 2.1 deprecates; MLflow's code, not ours. (Raised as an error, it
# leaves MLflow's mappers broken for the rest of the process, so every test that creates a
# tracking store carries this mark.)
sqlalchemy_noload = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)
# infer_signature hints that integer columns cannot hold missing values; tenure_months is an
# integer column on purpose (the reference data has no missing values there).
integer_column_hint = pytest.mark.filterwarnings(
    "ignore:Hint. Inferred schema contains integer column:UserWarning"
)

# save_model advises an input example; giving one fails instead (MLflow 3.17 compares a
# pandas 3 string index with a range, a Pandas4Warning), and the signature is what is tested.
no_input_example = pytest.mark.filterwarnings(
    "ignore:.*An input example was not provided:UserWarning"
)

PYFUNC_INPUTS = ["tenure_months", "monthly_charges", "contract"]


class NewCustomers(mlflow.pyfunc.PythonModel):
    """Predicts churn (1) for customers of less than a year; a model only MLflow can load.

    ``model_input`` is annotated (a DataFrame: MLflow infers no schema from that) because
    MLflow warns about a ``predict`` without type hints when the class is defined.
    """

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> np.ndarray[Any, Any]:
        return (model_input["tenure_months"] < 12).to_numpy().astype(np.int64)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    """A SQLite project (replaces the conftest's, which also runs on PostgreSQL)."""
    with Project.init(tmp_path / "p") as opened:
        yield opened


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, churn_models: list[Any]) -> dict[str, Path]:
    """The first churn pipeline saved by MLflow with skops (its default) and with cloudpickle.

    ``pip_requirements`` is given so that MLflow does not infer it (seconds per save)."""
    root = tmp_path_factory.mktemp("mlflow-models")
    paths = {"skops": root / "skops", "cloudpickle": root / "cloudpickle"}
    mlflow.sklearn.save_model(
        churn_models[0],
        paths["skops"],
        skops_trusted_types=["numpy.dtype"],
        pip_requirements=["scikit-learn"],
    )
    mlflow.sklearn.save_model(
        churn_models[0],
        paths["cloudpickle"],
        serialization_format="cloudpickle",
        pip_requirements=["scikit-learn"],
    )
    return paths


@pytest.fixture
def tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite MLflow tracking server in tmp_path, configured the way users do it (the
    MLFLOW_TRACKING_URI variable), with an experiment whose artifacts live in tmp_path too.

    Returns the experiment id. monkeypatch restores the variable and MLflow's own setting."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setattr(tracking_utils, "_tracking_uri", None)  # set_tracking_uri wins over env
    return str(
        mlflow.create_experiment(
            "watchkeeper-test", artifact_location=(tmp_path / "mlartifacts").as_uri()
        )
    )


def _features(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    return frame[list(model.feature_names_in_)]


def _assert_nothing_recorded(project: Project) -> None:
    assert project.models() == []
    assert project.path is not None
    assert [p for p in (project.path / "artifacts").rglob("*") if p.is_file()] == []


def test_skops_sklearn_model_needs_no_trust_and_no_mlflow_to_load(
    project: Project,
    saved: dict[str, Path],
    churn_data: dict[str, pd.DataFrame],
    churn_models: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ref, val = churn_data["reference"], churn_data["validation"]
    version = project.register(
        "churn", saved["skops"], reference=ref, validation=val, target="churned"
    )
    assert version.flavour == "sklearn-skops"
    assert version.source["model_class"] == "sklearn.pipeline.Pipeline"
    origin = version.source["mlflow"]
    assert origin["source"] == str(saved["skops"])
    assert {"sklearn", "python_function"} <= set(origin["flavors"])
    assert origin["mlflow_version"] == mlflow.__version__
    assert origin["model_uuid"]
    assert origin["run_id"] is None  # saved, not logged in a run

    with monkeypatch.context() as patched:
        patched.setitem(sys.modules, "mlflow", None)  # `import mlflow` now fails
        loaded = project.load_model(version)
    assert isinstance(loaded.model, Pipeline)
    X = _features(churn_models[0], val)
    np.testing.assert_array_equal(loaded.predict_proba(X), churn_models[0].predict_proba(X))

    baseline = project.load_baseline("churn", version.version)
    assert baseline.schema.role_column("target") == "churned"
    assert version.metrics["source"] == "validation"
    assert version.metrics["n"] == len(val)
    assert {"accuracy", "roc_auc", "log_loss"} <= set(version.metrics["values"])
    # The MLflow wrapping changes the artifact and the lineage, nothing the model measures.
    direct = project.register(
        "churn", churn_models[0], reference=ref, validation=val, target="churned"
    )
    assert version.metrics == direct.metrics
    assert version.input_schema == direct.input_schema


def test_cloudpickle_sklearn_model_needs_trust_and_is_stored_whole(
    project: Project,
    saved: dict[str, Path],
    churn_data: dict[str, pd.DataFrame],
    churn_models: list[Any],
    tmp_path: Path,
) -> None:
    ref, val = churn_data["reference"], churn_data["validation"]
    with pytest.raises(UntrustedModelError, match="--trust-pickle"):
        project.register("churn", saved["cloudpickle"], reference=ref)
    _assert_nothing_recorded(project)

    version = project.register(
        "churn", saved["cloudpickle"], reference=ref, validation=val, target="churned", trust=True
    )
    assert version.flavour == "mlflow"
    assert version.source["mlflow"]["flavors"] == ["python_function", "sklearn"]
    assert version.model_info["feature_names"] == list(churn_models[0].feature_names_in_)
    loaded = project.load_model(version)
    X = _features(churn_models[0], val)
    np.testing.assert_array_equal(loaded.predict_proba(X), churn_models[0].predict_proba(X))

    # The tar depends only on the files' names and bytes: the same directory, or a copy of
    # it with new modification times, is the same artifact.
    copy = shutil.copytree(saved["cloudpickle"], tmp_path / "copy", copy_function=shutil.copyfile)
    again = project.register("churn", saved["cloudpickle"], reference=ref, trust=True)
    copied = project.register("churn", copy, reference=ref, trust=True)
    assert again.artifact_sha256 == copied.artifact_sha256 == version.artifact_sha256


@integer_column_hint
@no_input_example
def test_pyfunc_model_takes_its_inputs_from_the_signature(
    project: Project, churn_data: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    ref, val = churn_data["reference"], churn_data["validation"]
    example = ref[PYFUNC_INPUTS].head(5)
    signature = infer_signature(example, NewCustomers().predict(None, example))
    path = tmp_path / "pyfunc"
    mlflow.pyfunc.save_model(
        path,
        python_model=NewCustomers(),
        signature=signature,
        pip_requirements=["pandas"],
    )
    with pytest.raises(UntrustedModelError, match="--trust-pickle"):
        project.register("new-customers", path, reference=ref)
    _assert_nothing_recorded(project)

    version = project.register(
        "new-customers", path, reference=ref, validation=val, target="churned", trust=True
    )
    assert version.flavour == "mlflow"
    assert version.source["mlflow"]["flavors"] == ["python_function"]
    # Not the reference's columns (it has many more): the signature's inputs, in its order.
    assert signature.inputs.input_names() == PYFUNC_INPUTS
    assert version.input_schema.names == PYFUNC_INPUTS
    assert version.model_info["feature_names"] == PYFUNC_INPUTS
    assert version.metrics["task"] == "binary"

    loaded = project.load_model(version)
    expected = (val["tenure_months"] < 12).to_numpy().astype(np.int64)
    np.testing.assert_array_equal(np.asarray(loaded.predict(val[PYFUNC_INPUTS])), expected)


@sqlalchemy_noload
def test_runs_uri_is_downloaded_from_the_tracking_server(
    project: Project,
    tracking: str,
    churn_data: dict[str, pd.DataFrame],
    churn_models: list[Any],
) -> None:
    ref, val = churn_data["reference"], churn_data["validation"]
    with mlflow.start_run(experiment_id=tracking) as run:
        logged = mlflow.sklearn.log_model(
            churn_models[0],
            name="model",
            skops_trusted_types=["numpy.dtype"],
            pip_requirements=["scikit-learn"],
        )
    uri = f"runs:/{run.info.run_id}/model"
    version = project.register("churn", uri, reference=ref)
    assert version.flavour == "sklearn-skops"
    assert version.source["mlflow"]["source"] == uri
    assert version.source["mlflow"]["run_id"] == run.info.run_id
    X = _features(churn_models[0], val)
    loaded = project.load_model(version)
    np.testing.assert_array_equal(loaded.predict_proba(X), churn_models[0].predict_proba(X))

    # MLflow 3's own URI of the logged model (models:/m-...) is MLflow's, not watchkeeper's.
    assert logged.model_uri.startswith("models:/")
    by_model_uri = project.register("churn", logged.model_uri, reference=ref)
    assert by_model_uri.source["mlflow"]["source"] == logged.model_uri
    assert by_model_uri.artifact_sha256 == version.artifact_sha256


def test_directory_without_mlmodel_is_read_as_a_model_file(
    project: Project, saved: dict[str, Path], churn_data: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    plain = shutil.copytree(saved["skops"], tmp_path / "plain")
    (plain / "MLmodel").unlink()
    with pytest.raises(ModelFormatError, match=r"reads only \.skops, \.joblib, \.pkl, \.pickle"):
        project.register("churn", plain, reference=churn_data["reference"])
    _assert_nothing_recorded(project)


@sqlalchemy_noload
def test_unknown_run_is_a_data_file_error_naming_the_uri(
    project: Project, tracking: str, churn_data: dict[str, pd.DataFrame]
) -> None:
    uri = "runs:/nonexistent/model"
    with pytest.raises(DataFileError, match=re.escape(f"{uri!r}")) as caught:
        project.register("churn", uri, reference=churn_data["reference"])
    assert "MLFLOW_TRACKING_URI" in str(caught.value)
    _assert_nothing_recorded(project)


def test_types_mlflow_recorded_are_not_trusted_for_the_caller(
    project: Project, churn_data: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    import operator

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    ref = churn_data["reference"]
    columns = ["tenure_months", "age"]
    model = make_pipeline(FunctionTransformer(operator.pos), LogisticRegression())
    model.fit(ref[columns], ref["churned"])
    path = tmp_path / "pos"
    # Whoever saved the model listed the function as trusted; that is not the caller's say.
    mlflow.sklearn.save_model(
        model, path, skops_trusted_types=["_operator.pos"], pip_requirements=["scikit-learn"]
    )
    with pytest.raises(UntrustedModelError, match=r"_operator\.pos"):
        project.register("pos", path, reference=ref)
    _assert_nothing_recorded(project)
    version = project.register("pos", path, reference=ref, trusted_types=["_operator.pos"])
    assert version.trusted_types == ("_operator.pos",)
    assert version.source["mlflow"]["skops_trusted_types"] == ["_operator.pos"]


@no_input_example
def test_a_pyfunc_model_without_a_signature_gets_its_inputs_named(
    project: Project, churn_data: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    path = tmp_path / "unsigned"
    mlflow.pyfunc.save_model(path, python_model=NewCustomers(), pip_requirements=["pandas"])
    ref = churn_data["reference"]
    version = project.register(
        "unsigned", path, reference=ref, features=["tenure_months", "age"], trust=True
    )
    assert version.input_schema.names == ["tenure_months", "age"]
    rows = ref[["tenure_months", "age"]].head(20)
    np.testing.assert_array_equal(
        project.load_model(version.uri).predict(rows), (rows["tenure_months"] < 12).astype(int)
    )
