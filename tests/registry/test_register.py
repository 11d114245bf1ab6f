"""What a registration records: served schema, baseline, metrics, data, lineage, artifacts;
and that a failed one leaves nothing behind. On SQLite and PostgreSQL (the ``project``
fixture), except where a test makes its own project."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

from watchkeeper.datasets import CHURN_FEATURES, churn
from watchkeeper.errors import (
    ArtifactIntegrityError,
    InvalidInputError,
    InvalidParameterError,
    ProjectNotFoundError,
    SchemaError,
    SchemaOutOfDateError,
    StoreError,
    UntrustedModelError,
)
from watchkeeper.registry import Project
from watchkeeper.store.database import Database, head_revision


def _migrate(url: str, revision: str) -> None:
    database = Database(url)
    try:
        database.upgrade(revision)
    finally:
        database.dispose()  # PostgreSQL connections are closed, not left to the collector


def _artifact_files(project: Project) -> set[Path]:
    assert project.path is not None
    return {p for p in (project.path / "artifacts").rglob("*") if p.is_file()}


def _tamper(project: Project, sha256: str) -> Path:
    assert project.path is not None
    path = project.path / "artifacts" / "sha256" / sha256[:2] / sha256
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return path


class PredictsOnes:
    """Not a scikit-learn estimator: storable only as pickle."""

    feature_names_in_ = np.array(["tenure_months", "age"], dtype=object)

    def predict(self, X: Any) -> Any:
        return np.ones(len(X), dtype=np.int64)


def test_served_schema_is_the_models_inputs(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    ref = churn_data["reference"]
    version = project.register(
        "churn", churn_models[0], reference=ref, target="churned", id="customer_id"
    )
    schema = version.input_schema
    assert schema.names == list(churn_models[0].feature_names_in_) == list(CHURN_FEATURES)
    by_name = {c.name: c for c in schema.columns}
    assert by_name["contract"].kind == "categorical"
    assert by_name["contract"].dtype == "str"
    assert by_name["tenure_months"].dtype == "int64"
    assert by_name["paperless_billing"].kind == "boolean"
    for column in schema.columns:
        assert column.nullable == bool(ref[column.name].isna().any()), column.name
    assert any(c.nullable for c in schema.columns)  # the churn data has missing values
    # Roles and other reference columns are never served inputs.
    assert not {"churned", "customer_id", "event_time", "churn_score", "city"} & set(schema.names)


def test_baseline_and_metrics_come_from_the_model_on_validation_data(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    model = churn_models[0]
    val = churn_data["validation"]
    version = project.register(
        "churn",
        model,
        reference=churn_data["reference"],
        validation=val,
        target="churned",
        id="customer_id",
    )
    X = val[list(CHURN_FEATURES)]
    score = model.predict_proba(X)[:, 1]
    pred = model.predict(X)
    values = version.metrics["values"]
    assert version.metrics["source"] == "validation"
    assert version.metrics["n"] == len(val)
    assert values["roc_auc"] == pytest.approx(roc_auc_score(val["churned"], score), rel=1e-12)
    assert values["accuracy"] == pytest.approx(accuracy_score(val["churned"], pred), rel=1e-12)
    assert values["f1"] == pytest.approx(f1_score(val["churned"], pred), rel=1e-12)
    assert values["log_loss"] == pytest.approx(log_loss(val["churned"], score), rel=1e-9)
    baseline = project.load_baseline("churn", version.version)
    assert baseline.schema.role_column("target") == "churned"
    assert baseline.schema.role_column("prediction") == "prediction"
    assert version.data_info["outputs"] == {
        "prediction": "prediction",
        "proba": ["prediction_proba"],
    }
    assert version.data_schema == baseline.schema.to_dict()
    # The stored baseline compares windows: the model's own scores on drifted data drift.
    window = churn(3_000, seed=5, scenario="covariate_drift")
    window = window.assign(
        prediction=model.predict(window[list(CHURN_FEATURES)]),
        prediction_proba=model.predict_proba(window[list(CHURN_FEATURES)])[:, 1],
    )
    report = baseline.compare(window)
    assert report.summary.status == "alert"
    assert report.summary.drifted_columns


def test_a_multiclass_model_is_registered_with_one_score_column_per_class(
    project: Project,
) -> None:
    rng = np.random.default_rng(3)
    n = 3_000
    X = pd.DataFrame({"usage": rng.normal(size=n), "tenure": rng.normal(size=n)})
    noisy = X.usage + rng.normal(scale=0.5, size=n)
    y = np.where(noisy > 0.5, "high", np.where(noisy < -0.5, "low", "mid"))
    model = LogisticRegression().fit(X.iloc[:2_000], y[:2_000])
    reference = X.iloc[:2_000].assign(segment=y[:2_000])
    validation = X.iloc[2_000:].assign(segment=y[2_000:])
    version = project.register(
        "segments", model, reference=reference, validation=validation, target="segment"
    )
    proba = [f"prediction_proba_{c}" for c in ("high", "low", "mid")]
    assert version.data_info["outputs"] == {"prediction": "prediction", "proba": proba}
    baseline = project.load_baseline("segments", version.version)
    expected = model.predict(validation[["usage", "tenure"]])
    values = version.metrics["values"]
    assert values["accuracy"] == pytest.approx(
        accuracy_score(validation.segment, expected), rel=1e-12
    )
    scores = model.predict_proba(validation[["usage", "tenure"]])
    assert values["log_loss"] == pytest.approx(
        log_loss(validation.segment, scores, labels=list(model.classes_)), rel=1e-9
    )
    # A window scored by the model compares against the stored baseline, per class.
    window = X.iloc[2_000:].assign(
        segment=y[2_000:],
        prediction=expected,
        **{column: scores[:, k] for k, column in enumerate(proba)},
    )
    report = baseline.compare(window)
    accuracy = next(c for c in report.checks if c.check == "performance.accuracy")
    assert accuracy.value == pytest.approx(values["accuracy"], rel=1e-12)


def test_metrics_from_the_reference_without_validation(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    ref = churn_data["reference"]
    version = project.register("churn", churn_models[1], reference=ref, target="churned")
    assert version.metrics["source"] == "reference"
    pred = churn_models[1].predict(ref[list(CHURN_FEATURES)])
    assert version.metrics["values"]["accuracy"] == pytest.approx(
        accuracy_score(ref["churned"], pred), rel=1e-12
    )


def test_a_prediction_column_in_the_data_is_used_as_is(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    version = project.register(
        "churn",
        churn_models[0],
        reference=churn_data["reference"],
        target="churned",
        prediction="churn_pred",
    )
    assert version.data_info["outputs"]["prediction"] == "churn_pred"
    baseline = project.load_baseline("churn", 1)
    assert "prediction" not in baseline.schema
    assert baseline.schema.role_column("prediction") == "churn_pred"


def test_without_a_target_there_are_no_metrics(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    version = project.register("churn", churn_models[0], reference=churn_data["reference"])
    assert version.metrics == {}
    with pytest.raises(InvalidParameterError, match="needs the --target column"):
        project.register(
            "churn",
            churn_models[0],
            reference=churn_data["reference"],
            validation=churn_data["validation"],
        )


def test_reference_and_validation_data_are_stored_as_given(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    project.register(
        "churn",
        churn_models[0],
        reference=churn_data["reference"],
        validation=churn_data["validation"],
        target="churned",
    )
    for which in ("reference", "validation"):
        stored = project.load_data("churn", 1, which)
        pd.testing.assert_frame_equal(stored, churn_data[which].reset_index(drop=True))


def test_data_over_the_size_cap_is_sampled(
    tmp_path: Path, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    Project.init(tmp_path / "p").close()
    env = {"WATCHKEEPER_ARTIFACTS_MAX_DATA_BYTES": "60000"}
    with Project(tmp_path / "p", environ=env) as project:
        ref = churn_data["reference"]
        version = project.register("churn", churn_models[0], reference=ref, target="churned")
        stored = project.load_data("churn", 1)
    assert version.data_info["sampled"]["reference"] is True
    assert version.data_info["rows"]["reference"] == len(ref)
    assert 0 < len(stored) == version.data_info["stored_rows"]["reference"] < len(ref)
    # A sample of the real rows, not new ones.
    assert set(stored["customer_id"]) <= set(ref["customer_id"])


def test_store_data_off(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    version = project.register(
        "churn", churn_models[0], reference=churn_data["reference"], store_data=False
    )
    assert version.reference_sha256 is None
    assert version.baseline_sha256 is not None
    with pytest.raises(OSError, match="no stored reference data"):
        project.load_data("churn", 1)


def test_artifacts_are_content_addressed(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any], tmp_path: Path
) -> None:
    import skops.io as sio

    # The same bytes are stored once (skops archives carry timestamps, so save once).
    path = tmp_path / "model.skops"
    sio.dump(churn_models[0], path)
    ref = churn_data["reference"]
    v1 = project.register("churn", path, reference=ref)
    v2 = project.register("churn", path, reference=ref)
    v3 = project.register("churn", churn_models[1], reference=ref)
    assert v1.artifact_sha256 == v2.artifact_sha256 != v3.artifact_sha256
    assert v1.reference_sha256 == v2.reference_sha256 == v3.reference_sha256
    assert re.fullmatch(r"[0-9a-f]{64}", v1.artifact_sha256)
    assert v1.artifact_uri.startswith("file://")
    assert v1.artifact_uri.endswith(v1.artifact_sha256)
    assert v1.flavour == "sklearn-skops"
    assert v1.artifact_size > 0


def test_a_tampered_model_artifact_refuses_to_load_and_nothing_else_changes(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    ref = churn_data["reference"]
    v1 = project.register("churn", churn_models[0], reference=ref, target="churned")
    project.register("churn", churn_models[1], reference=ref, target="churned")
    project.deploy("churn", 1)
    before = (project.history("churn"), project.versions("churn"))
    _tamper(project, v1.artifact_sha256)
    with pytest.raises(ArtifactIntegrityError, match=v1.artifact_sha256):
        project.load_model("models:/churn@production")
    assert (project.history("churn"), project.versions("churn")) == before
    assert project.load_model("models:/churn/2").version.version == 2
    # The baseline is checked the same way.
    _tamper(project, v1.baseline_sha256 or "")
    with pytest.raises(ArtifactIntegrityError, match="will not be loaded"):
        project.load_baseline("churn", 1)


def test_a_failed_registration_leaves_nothing_behind(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    ref = churn_data["reference"]
    project.register("churn", churn_models[0], reference=ref, target="churned")
    files = _artifact_files(project)
    history = project.history("churn")
    with pytest.raises(SchemaError, match="lacks 'tenure_months'"):
        project.register("churn", churn_models[1], reference=ref.drop(columns=["tenure_months"]))
    assert _artifact_files(project) == files
    assert project.history("churn") == history


def test_a_failed_database_write_removes_the_new_artifacts_only(
    project: Project,
    churn_data: dict[str, pd.DataFrame],
    churn_models: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ref = churn_data["reference"]
    project.register("churn", churn_models[0], reference=ref, target="churned")
    files = _artifact_files(project)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise StoreError("disk full")

    monkeypatch.setattr(project.registry, "add_version", broken)
    with pytest.raises(StoreError, match="disk full"):
        # A new model artifact, the same reference data: only the new files go.
        project.register("churn", churn_models[1], reference=ref, target="churned")
    assert _artifact_files(project) == files
    assert [v.version for v in project.versions("churn")] == [1]


def test_pickle_needs_trust(
    project: Project, churn_data: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    ref = churn_data["reference"]
    with pytest.raises(UntrustedModelError, match="trust=True"):
        project.register("ones", PredictsOnes(), reference=ref)
    assert project.models() == []
    version = project.register("ones", PredictsOnes(), reference=ref, trust=True)
    assert version.flavour == "joblib"
    assert version.input_schema.names == ["tenure_months", "age"]
    loaded = project.load_model("models:/ones/1")
    assert loaded.predict(ref[["tenure_months", "age"]].head(3)).tolist() == [1, 1, 1]


def test_register_from_a_skops_file(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any], tmp_path: Path
) -> None:
    import skops.io as sio

    path = tmp_path / "model.skops"
    sio.dump(churn_models[2], path)
    version = project.register("churn", path, reference=churn_data["reference"])
    assert version.flavour == "sklearn-skops"
    rows = churn_data["validation"][list(CHURN_FEATURES)].head(20)
    np.testing.assert_array_equal(
        project.load_model(version.uri).predict_proba(rows), churn_models[2].predict_proba(rows)
    )


def test_a_model_without_feature_names_needs_them_declared(
    project: Project, churn_data: dict[str, pd.DataFrame]
) -> None:
    ref = churn_data["reference"]
    columns = ["tenure_months", "monthly_charges", "support_calls"]
    model = LogisticRegression().fit(ref[columns].fillna(0).to_numpy(), ref["churned"])
    with pytest.raises(InvalidParameterError, match="no feature_names_in_"):
        project.register("plain", model, reference=ref.fillna(dict.fromkeys(columns, 0)))
    version = project.register(
        "plain",
        model,
        reference=ref[[*columns, "churned"]].fillna(0),
        features=columns,
        target="churned",
    )
    assert version.input_schema.names == columns
    with pytest.raises(InvalidParameterError, match="does not match the inputs"):
        project.register("churn", PredictsOnes(), reference=ref, features=["age"], trust=True)


def test_a_role_column_cannot_be_an_input(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    with pytest.raises(InvalidParameterError, match="'contract' is one of the model's inputs"):
        project.register("churn", churn_models[0], reference=churn_data["reference"], id="contract")
    with pytest.raises(SchemaError, match="lacks 'label'"):
        project.register(
            "churn", churn_models[0], reference=churn_data["reference"], target="label"
        )


def test_lineage(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    ref = churn_data["reference"]
    project.register("churn", churn_models[0], reference=ref, target="churned")
    version = project.register(
        "churn",
        churn_models[1],
        reference=ref,
        validation=churn_data["validation"],
        target="churned",
        parent_version=1,
        source={"kind": "retrain", "entry_point": "churn_example.train:train"},
    )
    assert version.parent_version == 1
    assert version.source["kind"] == "retrain"
    assert version.source["entry_point"] == "churn_example.train:train"
    assert version.source["rows"] == {"reference": len(ref), "validation": 1_000}
    assert version.source["model_class"] == "sklearn.pipeline.Pipeline"
    code = version.source["code_version"]
    assert code is None or re.fullmatch(r"[0-9a-f]{40}", code)
    assert version.created_by == project.actor


def test_open_by_database_url(
    tmp_path: Path, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    _migrate(url, "head")
    with Project(url) as project:
        project.register("churn", churn_models[0], reference=churn_data["reference"])
    assert (tmp_path / "artifacts" / "sha256").is_dir()
    with Project(url) as again:
        assert again.get("churn").version == 1
    with pytest.raises(InvalidParameterError, match="needs artifacts=FOLDER"):
        Project("postgresql+psycopg://nobody@127.0.0.1:1/none")


def test_an_out_of_date_database_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _migrate(url, "0001_registry")
    with pytest.raises(SchemaOutOfDateError, match="Run `watchkeeper db upgrade`"):
        Project(url)
    with Project(url, check_schema=False) as project:
        assert project.upgrade() == ("0001_registry", head_revision())
    with Project(url) as project:
        assert project.models() == []


def test_no_project_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WATCHKEEPER_PROJECT", raising=False)
    with pytest.raises(ProjectNotFoundError, match="watchkeeper init"):
        Project()


def test_projects_are_found_from_a_subfolder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Project.init(tmp_path / "proj").close()
    (tmp_path / "proj" / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "proj" / "notebooks")
    monkeypatch.delenv("WATCHKEEPER_PROJECT", raising=False)
    with Project() as project:
        assert project.path == (tmp_path / "proj").resolve()


def test_the_id_column_is_recorded_with_its_role(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    version = project.register(
        "churn", churn_models[0], reference=churn_data["reference"], id="customer_id"
    )
    assert version.data_info["roles"]["id"] == "customer_id"
    baseline = project.load_baseline("churn", 1)
    assert baseline.schema["customer_id"].role == "id"
    assert "customer_id" not in version.input_schema.names


def test_a_model_that_fails_on_the_data_is_a_clear_error(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    ref = churn_data["reference"].assign(age="x")  # text where the model expects numbers
    with pytest.raises(InvalidInputError, match="failed to score the reference data"):
        project.register("churn", churn_models[0], reference=ref)
    assert project.models() == []
    assert _artifact_files(project) == set()


def test_a_column_parquet_cannot_store_is_named(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    ref = churn_data["reference"].copy()
    ref["notes"] = pd.Series([1, "two"] * (len(ref) // 2), dtype=object)
    with pytest.raises(InvalidInputError, match="column\\(s\\) 'notes' mix value types"):
        project.register("churn", churn_models[0], reference=ref)
    assert project.models() == []
    version = project.register("churn", churn_models[0], reference=ref, store_data=False)
    assert version.reference_sha256 is None


def test_source_must_be_json(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    with pytest.raises(InvalidParameterError, match="source must be a JSON-serializable"):
        project.register(
            "churn", churn_models[0], reference=churn_data["reference"], source={"x": object()}
        )
    assert project.models() == []


def test_computed_lineage_is_not_overwritten(
    project: Project, churn_data: dict[str, pd.DataFrame], churn_models: list[Any]
) -> None:
    version = project.register(
        "churn",
        churn_models[0],
        reference=churn_data["reference"],
        source={"rows": {"reference": 1}, "code_version": "abc123", "data_window": "2026-01"},
    )
    assert version.source["rows"] == {"reference": len(churn_data["reference"])}
    assert version.source["code_version"] == "abc123"
    assert version.source["data_window"] == "2026-01"


def test_init_takes_the_database_from_the_environment_and_joins_a_current_one(
    tmp_path: Path, database_url: str
) -> None:
    env = {"WATCHKEEPER_DATABASE_URL": database_url}
    with Project.init(tmp_path / "a", environ=env) as first:
        assert first.database.url == database_url
    assert not (tmp_path / "a" / "watchkeeper.db").exists()
    # A second project on the same (current) database joins it.
    with Project.init(tmp_path / "b", environ=env) as second:
        assert second.models() == []


def test_init_refuses_an_out_of_date_database_and_leaves_nothing(
    tmp_path: Path, database_url: str
) -> None:
    _migrate(database_url, "0001_registry")
    with pytest.raises(SchemaOutOfDateError, match="watchkeeper db upgrade"):
        Project.init(tmp_path / "new" / "project", database_url=database_url)
    assert not (tmp_path / "new").exists()
    database = Database(database_url)
    try:
        assert database.current_revision() == "0001_registry"
    finally:
        database.dispose()


def test_init_that_cannot_reach_its_database_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("user file")
    with pytest.raises(StoreError, match="Check that the server is running"):
        Project.init(tmp_path / "mine", database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["keep.txt"]
