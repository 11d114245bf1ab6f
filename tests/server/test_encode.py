"""Encoding model outputs as OIP, MLflow and TF Serving answers: exact shapes, JSON-safe values."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from hypothesis.extra import numpy as hnp

from watchkeeper.datasets import CHURN_FEATURES
from watchkeeper.errors import InvalidParameterError
from watchkeeper.registry._register import _schema_from_frame
from watchkeeper.server._decode import STYLES, decode_invocations
from watchkeeper.server._decode_oip import decode_oip
from watchkeeper.server._encode import encode
from watchkeeper.server._validate import validate_columns

MLFLOW_STYLES = ["split", "records", "instances", "inputs", "csv"]


@pytest.fixture(scope="module")
def outputs(churn_frames: dict[str, pd.DataFrame], churn_pipelines: list[Any]) -> dict[str, Any]:
    """A real fitted churn pipeline's outputs on 25 production rows."""
    model = churn_pipelines[0]
    rows = churn_frames["production"].head(25)
    features = rows[list(CHURN_FEATURES)]
    return {
        "labels": model.predict(features),
        "proba": model.predict_proba(features),
        "classes": model.classes_,
        "ids": rows["customer_id"].to_numpy(dtype=object),
    }


def _dumps(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer through strict JSON (no NaN, no numpy types) and back."""
    back: dict[str, Any] = json.loads(json.dumps(answer, allow_nan=False))
    assert back == answer  # nothing lost: only plain Python values
    return back


def _encode(style: str, **given: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model": "churn",
        "version": 3,
        "request_id": "req-7",
        "proba": None,
        "classes": None,
        "ids": None,
    }
    base.update(given)
    return encode(style, **base)


def test_oip_answer_with_probabilities_and_ids(outputs: dict[str, Any]) -> None:
    labels, proba = outputs["labels"], outputs["proba"]
    n, k = proba.shape
    answer = _dumps(_encode("oip", **outputs))
    assert answer == {
        "model_name": "churn",
        "model_version": "3",
        "id": "req-7",
        "parameters": {"ids": outputs["ids"].tolist()},
        "outputs": [
            {"name": "predict", "shape": [n], "datatype": "INT64", "data": labels.tolist()},
            {
                "name": "predict_proba",
                "shape": [n, k],
                "datatype": "FP64",
                "data": proba.ravel().tolist(),
                "parameters": {"classes": [0, 1]},
            },
        ],
    }
    assert [type(v) for v in answer["outputs"][0]["data"]] == [int] * n
    # row-major: row i's probabilities are data[i*k:(i+1)*k]
    data = answer["outputs"][1]["data"]
    assert data[k : 2 * k] == proba[1].tolist()


def test_oip_answer_without_probabilities_or_ids(outputs: dict[str, Any]) -> None:
    answer = _dumps(_encode("oip", labels=outputs["labels"]))
    assert set(answer) == {"model_name", "model_version", "id", "outputs"}
    assert [o["name"] for o in answer["outputs"]] == ["predict"]


def test_oip_probabilities_without_classes_have_no_parameters(outputs: dict[str, Any]) -> None:
    answer = _dumps(_encode("oip", labels=outputs["labels"], proba=outputs["proba"]))
    assert "parameters" not in answer["outputs"][1]


@pytest.mark.parametrize("style", MLFLOW_STYLES)
def test_mlflow_answers(style: str, outputs: dict[str, Any]) -> None:
    answer = _dumps(_encode(style, **outputs))
    assert answer == {
        "predictions": outputs["labels"].tolist(),
        "probabilities": outputs["proba"].tolist(),
        "request_id": "req-7",
        "model_version": 3,
        "ids": outputs["ids"].tolist(),
    }
    bare = _dumps(_encode(style, labels=outputs["labels"]))
    assert bare == {
        "predictions": outputs["labels"].tolist(),
        "request_id": "req-7",
        "model_version": 3,
    }


@pytest.mark.parametrize(
    ("style", "key"), [("tf_instances", "predictions"), ("tf_columns", "outputs")]
)
def test_tfserving_answers(style: str, key: str, outputs: dict[str, Any]) -> None:
    answer = _dumps(_encode(style, **outputs))
    assert answer == {
        key: outputs["labels"].tolist(),
        "probabilities": outputs["proba"].tolist(),
        "request_id": "req-7",
        "model_version": 3,
        "ids": outputs["ids"].tolist(),
    }


def test_every_decoded_style_can_be_encoded(outputs: dict[str, Any]) -> None:
    for style in STYLES:
        _dumps(_encode(style, **outputs))


@pytest.mark.parametrize(
    ("labels", "datatype", "data"),
    [
        (np.array([0, 1], dtype=np.int32), "INT64", [0, 1]),
        (np.array([3, 250], dtype=np.uint8), "INT64", [3, 250]),
        (np.array([0.5, np.nan, np.inf], dtype=np.float32), "FP64", [0.5, None, None]),
        (np.array([1.25, -2.0]), "FP64", [1.25, -2.0]),
        (np.array([True, False]), "BOOL", [True, False]),
        (np.array(["yes", "no"]), "BYTES", ["yes", "no"]),
        (np.array(["yes", None], dtype=object), "BYTES", ["yes", None]),
        (np.array([np.int64(2), 5], dtype=object), "INT64", [2, 5]),
        (np.array([1, 2.5, None], dtype=object), "FP64", [1, 2.5, None]),
        (np.array([np.float64("nan"), 1.0], dtype=object), "FP64", [None, 1.0]),
        (np.array([np.True_, False], dtype=object), "BOOL", [True, False]),
        (np.array([b"raw"], dtype=object), "BYTES", ["raw"]),
        (
            np.array(["2024-01-31T12:00", "NaT"], dtype="datetime64[ns]"),
            "BYTES",
            ["2024-01-31T12:00:00.000000000", None],
        ),
        (
            np.array([pd.Timestamp("2024-01-31 12:00", tz="UTC"), pd.NaT], dtype=object),
            "BYTES",
            ["2024-01-31 12:00:00+00:00", None],
        ),
    ],
    ids=[
        "int32",
        "uint8",
        "float32-nonfinite",
        "float64",
        "bool",
        "unicode",
        "object-str",
        "object-int",
        "object-number",
        "object-nan",
        "object-bool",
        "object-bytes",
        "datetime64",
        "timestamps",
    ],
)
def test_label_dtypes(labels: np.ndarray, datatype: str, data: list[Any]) -> None:
    oip = _dumps(_encode("oip", labels=labels))
    assert oip["outputs"][0] == {
        "name": "predict",
        "shape": [len(labels)],
        "datatype": datatype,
        "data": data,
    }
    assert _dumps(_encode("records", labels=labels))["predictions"] == data


def test_mixed_labels_are_strings_in_oip_and_as_they_are_elsewhere() -> None:
    labels = np.array(["a", 1, None, 2.5], dtype=object)
    oip = _dumps(_encode("oip", labels=labels))["outputs"][0]
    assert (oip["datatype"], oip["data"]) == ("BYTES", ["a", "1", None, "2.5"])
    assert _dumps(_encode("inputs", labels=labels))["predictions"] == ["a", 1, None, 2.5]


def test_non_finite_probabilities_become_null() -> None:
    proba = np.array([[0.25, 0.75], [np.nan, np.inf]])
    answer = _dumps(_encode("split", labels=np.array(["a", "b"]), proba=proba))
    assert answer["probabilities"] == [[0.25, 0.75], [None, None]]
    oip = _dumps(
        _encode("oip", labels=np.array(["a", "b"]), proba=proba, classes=np.array(["a", "b"]))
    )
    assert oip["outputs"][1]["data"] == [0.25, 0.75, None, None]
    assert oip["outputs"][1]["parameters"] == {"classes": ["a", "b"]}


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        (["C1", None], ["C1", None]),
        (np.array([np.int64(4), 5.0], dtype=object), [4, 5.0]),
        ((float("nan"), "x"), [None, "x"]),
        (np.array([1, 2]), [1, 2]),
    ],
)
def test_ids_are_plain(ids: Any, expected: list[Any]) -> None:
    answer = _dumps(_encode("records", labels=np.array([0, 1]), ids=ids))
    assert answer["ids"] == expected


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"labels": np.zeros(2), "proba": np.zeros((3, 2))}, "one row per label"),
        ({"labels": np.zeros(2), "proba": np.zeros(2)}, "one row per label"),
        ({"labels": np.zeros(2), "ids": ["a"]}, "one value per row"),
        ({"labels": np.zeros((2, 1))}, "1-D"),
    ],
)
def test_outputs_that_do_not_fit_are_a_server_fault(given: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidParameterError, match=words):
        _encode("records", **given)


def test_an_unknown_style_is_a_server_fault() -> None:
    with pytest.raises(InvalidParameterError, match="'xml'"):
        _encode("xml", labels=np.zeros(1))


@pytest.mark.parametrize("fmt", ["oip", "records", "csv"])
def test_round_trip_through_decode_validate_predict_encode(
    churn_frames: dict[str, pd.DataFrame], churn_pipelines: list[Any], fmt: str
) -> None:
    reference, rows = churn_frames["reference"], churn_frames["production"].head(40)
    schema = _schema_from_frame(reference, list(CHURN_FEATURES), None)
    sent = rows[["customer_id", *CHURN_FEATURES]]
    if fmt == "csv":
        decoded = decode_invocations(sent.to_csv(index=False).encode(), "text/csv")
    else:
        records = json.loads(sent.to_json(orient="records"))
        if fmt == "records":
            decoded = decode_invocations(json.dumps({"dataframe_records": records}).encode(), None)
        else:
            kinds = {"int64": "INT64", "float64": "FP64", "bool": "BOOL"}
            inputs = [
                {
                    "name": c,
                    "shape": [len(sent)],
                    "datatype": kinds.get(str(sent[c].dtype), "BYTES"),
                    "data": [r[c] for r in records],
                }
                for c in sent.columns
            ]
            decoded = decode_oip(json.dumps({"id": "abc", "inputs": inputs}).encode())
    inputs_, passed = validate_columns(decoded, schema, max_rows=100, passthrough=["customer_id"])
    model = churn_pipelines[1]
    frame = pd.DataFrame(inputs_)
    answer = _dumps(
        encode(
            decoded.style,
            model="churn",
            version=2,
            request_id=decoded.request_id or "generated",
            labels=model.predict(frame),
            proba=model.predict_proba(frame),
            classes=model.classes_,
            ids=list(passed["customer_id"]),
        )
    )
    expected_labels = model.predict(rows[list(CHURN_FEATURES)]).tolist()
    expected_proba = model.predict_proba(rows[list(CHURN_FEATURES)])
    if fmt == "oip":
        assert answer["id"] == "abc"
        assert answer["outputs"][0]["data"] == expected_labels
        np.testing.assert_array_equal(
            np.reshape(answer["outputs"][1]["data"], answer["outputs"][1]["shape"]),
            expected_proba,
        )
        assert answer["parameters"]["ids"] == rows["customer_id"].tolist()
    else:
        assert answer["predictions"] == expected_labels
        np.testing.assert_array_equal(np.array(answer["probabilities"]), expected_proba)
        assert answer["ids"] == rows["customer_id"].tolist()


@settings(max_examples=150, deadline=None)
@given(
    labels=hnp.arrays(
        hs.sampled_from([np.float64, np.float32, np.int64, np.bool_, np.dtype("U3")]),
        hs.integers(0, 6),
    ),
    k=hs.integers(1, 3),
    data=hs.data(),
    style=hs.sampled_from(STYLES),
)
def test_fuzz_answers_are_strict_json(
    labels: np.ndarray, k: int, data: hs.DataObject, style: str
) -> None:
    n = len(labels)
    proba = data.draw(hnp.arrays(np.float64, (n, k)))
    answer = _dumps(_encode(style, labels=labels, proba=proba, ids=[f"id{i}" for i in range(n)]))
    flat = (
        answer["outputs"][1]["data"]
        if style == "oip"
        else [p for row in answer["probabilities"] for p in row]
    )
    expected = [None if not math.isfinite(p) else p for p in proba.ravel().tolist()]
    assert flat == expected
