"""Sensitive columns (``watchkeeper.store.privacy``): exclusion, keyed hashes computed here
independently with ``hmac``/``hashlib``, nulls, both input forms, the key from the
environment, and ``Project.log_predictions`` applying ``log.columns`` on both databases."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from watchkeeper.clock import SimulatedClock
from watchkeeper.datasets import CHURN_FEATURES, churn, train_churn_model
from watchkeeper.errors import ConfigError, InvalidParameterError
from watchkeeper.registry import Project
from watchkeeper.store.predictions import make_batch
from watchkeeper.store.privacy import (
    HASH_KEY_ENV,
    apply_column_rules,
    canonical_text,
    hash_key_from_env,
    hash_value,
)

KEY = b"0123456789abcdef-test-key"
FEATURES = list(CHURN_FEATURES)


def hmac32(text: str, key: bytes = KEY) -> str:
    """HMAC-SHA256 of ``text`` (UTF-8) under ``key``, hex, first 32 characters."""
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


# ---------------------------------------------------------------------------- values
@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("alice@example.org", "alice@example.org"),
        ("SW1A 1AA", "SW1A 1AA"),
        ("", ""),
        ("é", "é"),
        (7, "7"),
        (np.int64(-7), "-7"),
        (7.0, "7"),  # an integer column that holds a null becomes float: same hashes
        (np.float64(2.5), "2.5"),
        (0.1, "0.1"),
        (float("inf"), "inf"),
        (True, "true"),
        (np.bool_(False), "false"),
        (datetime(2024, 1, 31, 12, 0), "2024-01-31T12:00:00"),
        (datetime(2024, 1, 31, 12, 0, tzinfo=UTC), "2024-01-31T12:00:00+00:00"),
        (pd.Timestamp("2024-01-31 12:00:00.5"), "2024-01-31T12:00:00.500000"),
        (np.datetime64("2024-01-31T12:00:00"), "2024-01-31T12:00:00"),
        (b"\x01\xff", "01ff"),
    ],
)
def test_hash_value_is_the_hmac_of_the_canonical_text(value: Any, text: str) -> None:
    assert canonical_text(value) == text
    assert hash_value(value, KEY) == hmac32(text)
    assert len(hash_value(value, KEY)) == 32
    assert hash_value(value, b"another key") != hash_value(value, KEY)


# ---------------------------------------------------------------------------- columns
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "email": ["a@x.org", None, "b@y.org", "a@x.org", None],
            "age": [31, 40, 52, 31, 40],
            "postcode": [10115, 20095, np.nan, 10115, 80331],  # float: a null among ints
            "score": [0.5, 0.25, 0.125, 0.5, 1.0],
            "seen": pd.to_datetime(["2024-01-01", None, "2024-01-02", "2024-01-01", None]),
        },
        index=[10, 11, 12, 13, 14],
    )


RULES: dict[str, Any] = {
    "email": "hash",
    "postcode": "hash",
    "seen": "hash",
    "age": "exclude",
    "ssn": "exclude",  # not a column: ignored
    "phone": "hash",  # not a column: ignored
}
JAN1 = hmac32("2024-01-01T00:00:00")
EXPECTED = {
    "email": [hmac32("a@x.org"), None, hmac32("b@y.org"), hmac32("a@x.org"), None],
    "postcode": [hmac32("10115"), hmac32("20095"), None, hmac32("10115"), hmac32("80331")],
    "seen": [JAN1, None, hmac32("2024-01-02T00:00:00"), JAN1, None],
}


def _values(column: Any) -> list[Any]:
    """The column's values, None for a null."""
    return [None if pd.isna(v) else v for v in list(column)]


def test_a_dataframe_keeps_its_kind_index_and_column_order() -> None:
    source = frame()
    original = source.copy()
    out = apply_column_rules(source, RULES, KEY)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["email", "postcode", "score", "seen"]
    assert list(out.index) == [10, 11, 12, 13, 14]
    for name, expected in EXPECTED.items():
        assert _values(out[name]) == expected, name
    pd.testing.assert_series_equal(out["score"], source["score"])
    pd.testing.assert_frame_equal(source, original)  # the input is not changed


def test_a_dict_of_arrays_gives_the_same_hashes() -> None:
    source = {name: column.to_numpy() for name, column in frame().items()}
    out = apply_column_rules(source, RULES, KEY)
    assert isinstance(out, dict)
    assert list(out) == ["email", "postcode", "score", "seen"]
    for name, expected in EXPECTED.items():
        assert isinstance(out[name], np.ndarray)
        assert out[name].dtype == object
        assert out[name].tolist() == expected, name  # nulls are None
    assert out["score"] is source["score"]
    assert "age" in source  # the input is not changed
    # Text given as a numpy string array, and ints without a null, hash alike.
    plain = apply_column_rules(
        {"email": np.array(["a@x.org", "b@y.org"]), "postcode": np.array([10115, 20095])},
        RULES,
        KEY,
    )
    assert plain["email"].tolist() == [EXPECTED["email"][0], EXPECTED["email"][2]]
    assert plain["postcode"].tolist() == EXPECTED["postcode"][:2]


def test_equal_values_get_equal_hashes_over_many_rows() -> None:
    rng = np.random.default_rng(0)
    values = rng.choice(np.array(["p1", "p2", "p3", None], dtype=object), size=10_000)
    out = apply_column_rules({"v": values}, {"v": "hash"}, KEY)["v"]
    for value in ("p1", "p2", "p3"):
        assert set(out[values == value]) == {hmac32(value)}
    nulls = np.array([v is None for v in values])
    assert all(v is None for v in out[nulls])
    assert len(set(out[~nulls])) == 3


def test_only_exclusions_need_no_key_and_no_rules_change_nothing() -> None:
    out = apply_column_rules(frame(), {"age": "exclude", "email": "exclude"}, None)
    assert list(out.columns) == ["postcode", "score", "seen"]
    pd.testing.assert_frame_equal(apply_column_rules(frame(), {}, None), frame())


def test_hash_rules_need_a_key() -> None:
    for key in (None, b""):
        with pytest.raises(ConfigError, match=f"{HASH_KEY_ENV} is not set"):
            apply_column_rules(frame(), {"email": "hash"}, key)
    with pytest.raises(ConfigError, match=HASH_KEY_ENV):
        hash_key_from_env({})
    with pytest.raises(ConfigError, match="reversed"):
        hash_key_from_env({HASH_KEY_ENV: ""})
    assert hash_key_from_env({HASH_KEY_ENV: "s3cret"}) == b"s3cret"
    with pytest.raises(InvalidParameterError, match="'exclude' or 'hash'"):
        apply_column_rules(frame(), {"email": "encrypt"}, KEY)  # type: ignore[dict-item]


def test_hashed_inputs_make_equal_batches_from_either_form() -> None:
    source = frame().drop(columns="age").reset_index(drop=True)
    as_frame = apply_column_rules(source, RULES, KEY)
    as_arrays = apply_column_rules({c: v.to_numpy() for c, v in source.items()}, RULES, KEY)
    batches = [
        make_batch(
            "m",
            1,
            inputs,
            {"prediction": np.zeros(5)},
            request_id="r",
            event_time=datetime.now(UTC),
        ).table
        for inputs in (as_frame, as_arrays)
    ]
    assert batches[0].drop_columns("event_time").equals(batches[1].drop_columns("event_time"))
    assert str(batches[1].schema.field("email").type) == "large_string"


# ---------------------------------------------------------------------------- the project
@pytest.fixture
def configured(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Any]:
    """A project whose watchkeeper.yaml excludes ``age`` and hashes ``region`` and
    ``plan_code``, holding churn v1 in production; and the model."""
    for name in ("WATCHKEEPER_DATABASE_URL", "WATCHKEEPER_ARTIFACTS_ROOT", HASH_KEY_ENV):
        monkeypatch.delenv(name, raising=False)
    reference = churn(1_000, seed=1)
    model = train_churn_model(reference)
    folder = tmp_path / "p"
    with Project.init(folder, database_url=database_url) as project:
        project.register(
            "churn", model, reference=reference.head(300), target="churned", id="customer_id"
        )
        project.deploy("churn", 1)
    config_file = folder / "watchkeeper.yaml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    config["log"] = {"columns": {"age": "exclude", "region": "hash", "plan_code": "hash"}}
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    return folder, model


def test_log_predictions_applies_the_configured_rules(
    configured: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, model = configured
    data = churn(400, seed=2)
    clock = SimulatedClock(datetime(2024, 3, 1, tzinfo=UTC))
    with Project(folder, clock=clock) as project:
        assert project.config is not None
        with pytest.raises(ConfigError, match=HASH_KEY_ENV):
            project.log_predictions("churn", data, event_time_col="event_time")
        assert len(project.read_log("churn")) == 0  # nothing was logged

        monkeypatch.setenv(HASH_KEY_ENV, KEY.decode())
        assert project.log_predictions("churn", data, event_time_col="event_time") == 400
        out = project.read_log("churn")

    kept = [c for c in FEATURES if c != "age"]
    assert "age" not in out.columns  # excluded: absent from the log
    assert [c for c in out.columns if c in FEATURES] == kept
    assert out["region"].tolist() == [hmac32(v) for v in data["region"]]
    assert out["plan_code"].tolist() == [hmac32(v) for v in data["plan_code"]]
    assert out["region"].nunique() == data["region"].nunique()
    plain = [c for c in kept if c not in ("region", "plan_code")]
    pd.testing.assert_frame_equal(out[plain], data[plain])
    # The model scored the data as given (age and the raw region included).
    np.testing.assert_array_equal(out["prediction"], model.predict(data[FEATURES]))
    np.testing.assert_array_equal(
        out["prediction_proba"], model.predict_proba(data[FEATURES])[:, 1]
    )
    assert out["key"].tolist() == data["customer_id"].tolist()  # the id column stays as given


def test_a_project_opened_by_url_logs_every_column(
    configured: tuple[Path, Any], database_url: str
) -> None:
    folder, _ = configured
    data = churn(20, seed=4)
    with Project(database_url, artifacts=folder / "artifacts") as project:
        assert project.config is None
        project.log_predictions("churn", data, event_time_col="event_time")
        out = project.read_log("churn")
    assert out["region"].tolist() == data["region"].tolist()
    assert "age" in out.columns


def test_the_key_may_be_set_before_the_project_is_opened(
    configured: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _ = configured
    monkeypatch.setenv(HASH_KEY_ENV, KEY.decode())
    with Project(folder) as project:
        data = churn(10, seed=5)
        project.log_predictions("churn", data, event_time_col="event_time")
        assert project.read_log("churn")["region"].tolist() == [hmac32(v) for v in data["region"]]
