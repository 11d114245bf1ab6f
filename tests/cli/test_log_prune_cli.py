"""``watchkeeper log prune``: retention from the command line (text and JSON output, dry
runs, time parsing, one-line errors)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest
import skops.io
from typer.testing import CliRunner

from watchkeeper.cli import app
from watchkeeper.datasets import churn, train_churn_model

if TYPE_CHECKING:
    from collections.abc import Iterator

    from typer.testing import Result

runner = CliRunner()


@pytest.fixture(scope="module", autouse=True)
def _environment() -> Iterator[None]:
    """No project, database or artifact override from the outer environment."""
    with pytest.MonkeyPatch.context() as mp:
        for name in (
            "WATCHKEEPER_PROJECT",
            "WATCHKEEPER_DATABASE_URL",
            "WATCHKEEPER_ARTIFACTS_ROOT",
        ):
            mp.delenv(name, raising=False)
        mp.setenv("WATCHKEEPER_ACTOR", "tester@ci")
        yield


def invoke(*args: str | Path) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def ok(*args: str | Path) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def error(*args: str | Path) -> str:
    """The one line a failing command prints on stderr (exit 2, nothing on stdout)."""
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def utc(values: pd.Series) -> pd.Series:
    times = pd.Series(pd.to_datetime(values, utc=True)).reset_index(drop=True)
    return times.astype("datetime64[us, UTC]")


class Files:
    """The model, and a month of scored rows in event-time order as two Parquet files (the
    first half all earlier than the second), with labels for every other row."""

    def __init__(self, root: Path) -> None:
        train = churn(2_000, seed=1)
        self.model_path = root / "model.skops"
        skops.io.dump(train_churn_model(train), self.model_path)
        self.train = root / "train.csv"
        train.to_csv(self.train, index=False)
        scored = churn(2_000, seed=3).sort_values("event_time", kind="stable")
        self.scored = scored.reset_index(drop=True)
        self.halves = [root / "first.parquet", root / "second.parquet"]
        self.scored.iloc[:1_000].to_parquet(self.halves[0])
        self.scored.iloc[1_000:].to_parquet(self.halves[1])
        self.labelled = self.scored.iloc[::2]
        self.labels = root / "labels.csv"
        self.labels_frame = self.labelled[["customer_id", "churned"]]
        self.labels_frame.to_csv(self.labels, index=False)

    def new_project(self, folder: Path) -> Path:
        """churn v1 in production, both halves logged, the labels ingested."""
        ok("init", folder)
        at = ("--project", folder)
        roles = ("--target", "churned", "--id", "customer_id")
        ok("register", "churn", self.model_path, *at, "--reference", self.train, *roles)
        ok("deploy", "churn", "1", *at)
        for half in self.halves:
            ok("log", "ingest", "churn", half, "--event-time-col", "event_time", *at)
        labels = ("--id-col", "customer_id", "--label-col", "churned")
        assert " 1,000 stored" in ok("labels", "ingest", "churn", self.labels, *labels, *at)
        return folder


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return Files(tmp_path_factory.mktemp("prune-cli"))


def export(project: Path, path: Path) -> pd.DataFrame:
    ok("log", "export", "churn", "-o", path, "--with-labels", "--project", project)
    return pd.read_parquet(path)


def test_prune_dry_run_then_prune(files: Files, tmp_path: Path) -> None:
    project = files.new_project(tmp_path / "p")
    at = ("--project", project)
    times = utc(files.scored["event_time"])
    cutoff = times.iloc[1_500].ceil("h")  # inside the second half
    assert times.iloc[999] < cutoff <= times.iloc[-1]
    early = times < cutoff
    rows = int(early.sum())
    labels = int(early.iloc[::2].sum())
    naive = f"{cutoff:%Y-%m-%dT%H:%M}"  # naive = UTC
    shown = f"{cutoff:%Y-%m-%d %H:%M:%S}"
    counts = f"{rows:,} predictions and {labels:,} labels (batches: 1 deleted, 1 rewritten)"
    before = export(project, tmp_path / "before.parquet")

    out = ok("log", "prune", "churn", "--before", naive, "--dry-run", *at)
    assert out == (
        f"Dry run, nothing was changed: pruning the prediction log of churn before {shown} UTC "
        f"would delete {counts}\n"
    )
    doc = json.loads(
        ok("log", "prune", "churn", "--before", naive, "--dry-run", "--format", "json", *at)
    )
    assert doc == {
        "model": "churn",
        "before": cutoff.isoformat(),
        "dry_run": True,
        "rows": rows,
        "batches_deleted": 1,
        "batches_rewritten": 1,
        "labels": labels,
    }
    # The same instant with an offset.
    shifted = (cutoff.tz_convert("Europe/Berlin")).isoformat()
    again = ok("log", "prune", "churn", "--before", shifted, "--dry-run", "--format", "json", *at)
    assert json.loads(again) == doc
    pd.testing.assert_frame_equal(export(project, tmp_path / "still.parquet"), before)

    out = ok("log", "prune", "churn", "--before", naive, *at)
    assert out == f"Pruned the prediction log of churn before {shown} UTC: deleted {counts}\n"
    after = export(project, tmp_path / "after.parquet")
    kept = before[utc(before["event_time"]) >= cutoff].reset_index(drop=True)
    assert len(after) == 2_000 - rows
    pd.testing.assert_frame_equal(after, kept)
    assert int(after["label"].notna().sum()) == 1_000 - labels

    nothing = "0 predictions and 0 labels (batches: 0 deleted, 0 rewritten)"
    assert ok("log", "prune", "churn", "--before", naive, *at).endswith(f"deleted {nothing}\n")
    doc = json.loads(ok("log", "prune", "churn", "--before", naive, "--format", "json", *at))
    assert doc["dry_run"] is False
    assert (doc["rows"], doc["labels"]) == (0, 0)


def test_prune_errors(files: Files, tmp_path: Path) -> None:
    project = tmp_path / "empty"
    ok("init", project)
    at = ("--project", project)
    assert error("log", "prune", "nope", "--before", "2024-01-01", *at) == (
        "error: No registered model named 'nope'."
    )
    message = error("log", "prune", "churn", "--before", "last week", *at)
    assert "--before must be an ISO 8601 date or time" in message
    assert "Got 'last week' instead" in message
    missing = invoke("log", "prune", "churn", *at)
    assert missing.exit_code == 2
    assert "--before" in missing.stderr
