"""The trainer subprocess: a model trained in the child equals one trained here, the context
and paths reach it, and every failure (exception, import error, timeout with the child's
process group killed, hard exit, a non-model) becomes a TrainerError with the facts."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from watchkeeper.datasets import CHURN_FEATURES, churn, retrain_churn_model
from watchkeeper.errors import InvalidParameterError, TrainerError
from watchkeeper.ops._trainer import TrainerRun, run_trainer
from watchkeeper.ops._trainer_main import load_entry_point

from .trainers.sample import FEATURES, fit_logistic

HERE = Path(__file__).parent  # holds the importable package ``trainers``
SAMPLE = "trainers.sample"


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(300, 3))
    y = (x @ np.array([1.5, -2.0, 0.5]) + rng.normal(size=300) > 0).astype(int)
    df = pd.DataFrame(x, columns=FEATURES)
    df["label"] = y
    df["segment"] = np.where(y == 1, "a", "b")
    return df


def _run(
    entry: str, data: pd.DataFrame, context: dict[str, object], tmp: Path, **kw: float
) -> TrainerRun:
    return run_trainer(
        entry,
        data,
        context,
        timeout=kw.get("timeout", 60.0),
        cwd=tmp,
        python_path=[HERE],
    )


def _workdirs() -> set[str]:
    import tempfile

    return {p.name for p in Path(tempfile.gettempdir()).glob("watchkeeper-trainer-*")}


def test_model_equals_in_process_training(frame: pd.DataFrame, tmp_path: Path) -> None:
    before = _workdirs()
    run = _run(f"{SAMPLE}:fit_logistic", frame, {"target": "label", "C": 0.3}, tmp_path)
    local = fit_logistic(frame, {"target": "label", "C": 0.3})
    x = frame[FEATURES]
    np.testing.assert_array_equal(run.model.predict(x), local.predict(x))
    np.testing.assert_allclose(run.model.coef_, local.coef_, rtol=1e-12)
    assert run.entry_point == f"{SAMPLE}:fit_logistic"
    assert "training on 300 rows" in run.stdout_tail
    assert run.seconds > 0
    assert _workdirs() <= before  # the temporary folder is gone


def test_context_paths_and_data_reach_the_child(frame: pd.DataFrame, tmp_path: Path) -> None:
    out = tmp_path / "seen.json"
    context = {"target": "label", "out": str(out), "nested": {"a": [1, 2.5, None]}}
    run_trainer(
        f"{SAMPLE}:echo_context",
        frame,
        context,
        timeout=60,
        cwd=tmp_path,
        python_path=[HERE],
    )
    seen = json.loads(out.read_text())
    assert seen["context"] == context
    assert seen["type"] == "dict"
    assert seen["rows"] == len(frame)
    assert seen["columns"] == list(frame.columns)
    assert seen["dtypes"][:3] == ["float64"] * 3
    assert Path(seen["cwd"]).resolve() == tmp_path.resolve()
    assert seen["sys_path"][:2] == [str(tmp_path.resolve()), str(HERE.resolve())]
    assert seen["pid"] != os.getpid()


def test_trainer_exception_becomes_trainer_error(frame: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(TrainerError, match=r"raised ValueError: target column 'label' has") as e:
        _run(f"{SAMPLE}:fail", frame, {"target": "label"}, tmp_path)
    assert "Traceback" in str(e.value)
    assert "sample.py" in str(e.value)


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("trainers.no_such_module:fit", "No module named 'trainers.no_such_module'"),
        (f"{SAMPLE}:no_such_function", "has no attribute 'no_such_function'"),
    ],
)
def test_import_errors_name_entry_point_and_path(
    frame: pd.DataFrame, tmp_path: Path, entry: str, words: str
) -> None:
    with pytest.raises(TrainerError) as e:
        _run(entry, frame, {}, tmp_path)
    message = str(e.value)
    assert f"trainer {entry!r} could not be imported" in message
    assert words in message
    assert str(HERE.resolve()) in message
    assert str(tmp_path.resolve()) in message


def test_load_entry_point_refuses_non_callables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HERE))
    assert load_entry_point(f"{SAMPLE}:fail").__name__ == "fail"
    with pytest.raises(ImportError, match="is a int, not a function"):
        load_entry_point(f"{SAMPLE}:NOT_CALLABLE")
    with pytest.raises(ImportError, match="expected an entry point"):
        load_entry_point("trainers.sample")


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_timeout_kills_the_whole_process_group(frame: pd.DataFrame, tmp_path: Path) -> None:
    pids = tmp_path / "pids.json"
    with pytest.raises(TrainerError, match=r"did not finish within 4s; it was killed"):
        # 4 s: long enough for the child to start and write the pids even on a busy machine
        _run(f"{SAMPLE}:sleep_forever", frame, {"pids": str(pids)}, tmp_path, timeout=4)
    child, grandchild = json.loads(pids.read_text())
    deadline = time.monotonic() + 10  # SIGKILL is immediate; this only absorbs reaping
    while (_alive(child) or _alive(grandchild)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)
    assert not _alive(grandchild)


def test_hard_exit_reports_code_and_output(frame: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(TrainerError, match=r"exited with code 3 without reporting") as e:
        _run(f"{SAMPLE}:hard_exit", frame, {}, tmp_path)
    assert "about to vanish" in str(e.value)


def test_non_model_is_refused(frame: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(TrainerError, match=r"returned a int \(42\), not a fitted model"):
        _run(f"{SAMPLE}:not_a_model", frame, {}, tmp_path)


def test_context_must_be_json_safe(frame: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="JSON-safe"):
        _run(f"{SAMPLE}:fit_logistic", frame, {"when": object()}, tmp_path)


def test_churn_entry_point(tmp_path: Path) -> None:
    data, holdout = churn(1_500, seed=11), churn(300, seed=12)
    run = _run("watchkeeper.datasets:retrain_churn_model", data, {"target": "churned"}, tmp_path)
    local = retrain_churn_model(data, {"target": "churned"})
    x = holdout[list(CHURN_FEATURES)]
    assert list(run.model.feature_names_in_) == list(CHURN_FEATURES)
    np.testing.assert_array_equal(run.model.predict(x), local.predict(x))
    np.testing.assert_allclose(run.model.predict_proba(x), local.predict_proba(x), rtol=1e-9)
