"""The prediction-log commands: ``log ingest|export|compact|show`` and ``labels ingest``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import skops.io
from typer.testing import CliRunner

from watchkeeper.cli import app
from watchkeeper.datasets import CHURN_FEATURES, churn, train_churn_model

if TYPE_CHECKING:
    from collections.abc import Iterator

    from typer.testing import Result

runner = CliRunner()
FEATURES = list(CHURN_FEATURES)
KEY_COLUMNS = ["version", "role", "logged_at", "request_id", "row", "key", "event_time"]
OUTPUTS = ["prediction", "prediction_proba"]
LABELLED = 1_500  # the labels file covers the first rows of the scored file
UNKNOWN_IDS = ["X-GONE-1", "X-GONE-2"]


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


class Files:
    """The model, its training data, a scored month as Parquet and CSV, and labels."""

    def __init__(self, root: Path) -> None:
        train = churn(3_000, seed=1)
        self.model = train_churn_model(train)
        self.scored = churn(2_000, seed=3)
        self.root = root
        self.model_path = root / "model.skops"
        self.train = root / "train.csv"
        self.parquet = root / "scored.parquet"
        self.csv = root / "scored.csv"
        self.labels = root / "labels.csv"
        self.conflict = root / "conflict.parquet"
        skops.io.dump(self.model, self.model_path)
        train.to_csv(self.train, index=False)
        self.scored.to_parquet(self.parquet)
        self.scored.to_csv(self.csv, index=False)
        truth = self.scored[["customer_id", "churned"]].iloc[:LABELLED]
        extra = pd.DataFrame({"customer_id": UNKNOWN_IDS, "churned": [0, 1]})
        pd.concat([truth, extra]).to_csv(self.labels, index=False)
        flipped = truth.iloc[:3].assign(churned=lambda d: 1 - d["churned"])
        flipped.to_parquet(self.conflict)
        self.truth: dict[str, int] = dict(zip(truth["customer_id"], truth["churned"], strict=True))

    def new_project(self, folder: Path) -> Path:
        """A project holding churn version 1, deployed to production."""
        ok("init", folder)
        ok(
            "register",
            "churn",
            self.model_path,
            "--project",
            folder,
            "--reference",
            self.train,
            "--target",
            "churned",
            "--id",
            "customer_id",
        )
        ok("deploy", "churn", "1", "--project", folder)
        return folder


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return Files(tmp_path_factory.mktemp("log-cli"))


@pytest.fixture(scope="module")
def logged(files: Files, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A project with the scored Parquet file logged (event times from the file) and the
    labels ingested; the labels command's output. Tests leave its log as it is."""
    project = files.new_project(tmp_path_factory.mktemp("logged") / "project")
    ok(
        "log",
        "ingest",
        "churn",
        files.parquet,
        "--event-time-col",
        "event_time",
        "--project",
        project,
    )
    out = ok(
        "labels",
        "ingest",
        "churn",
        files.labels,
        "--id-col",
        "customer_id",
        "--label-col",
        "churned",
        "--project",
        project,
    )
    return project, out


def utc(values: Any) -> pd.Series:
    """Times as UTC timestamps, at one resolution (the log keeps microseconds)."""
    times = pd.Series(pd.to_datetime(values, utc=True)).reset_index(drop=True)
    return times.astype("datetime64[us, UTC]")


def check_rows(files: Files, exported: pd.DataFrame, source: pd.DataFrame) -> None:
    """``exported`` holds ``source``'s rows, in order: features, event times, keys, outputs."""
    exported = exported.reset_index(drop=True)
    source = source.reset_index(drop=True)
    pd.testing.assert_frame_equal(exported[FEATURES], source[FEATURES], check_dtype=False)
    assert utc(exported["event_time"]).equals(utc(source["event_time"]))
    assert exported["key"].tolist() == source["customer_id"].tolist()
    assert exported["prediction"].tolist() == files.model.predict(source[FEATURES]).tolist()
    proba = files.model.predict_proba(source[FEATURES])[:, 1]
    np.testing.assert_allclose(exported["prediction_proba"], proba, rtol=1e-12)


# ---------------------------------------------------------------------------- ingest, export


def test_ingest_parquet_and_csv_then_export_and_compact(files: Files, tmp_path: Path) -> None:
    project = files.new_project(tmp_path / "p")
    at = ("--project", project)
    out = ok("log", "ingest", "churn", files.parquet, "--event-time-col", "event_time", *at)
    assert out == "Logged 2,000 predictions of churn version 1\n"
    out = ok(
        "log",
        "ingest",
        "churn",
        files.csv,
        "--version",
        "1",
        "--request-id",
        "nightly-2024-01",
        "--event-time-col",
        "event_time",
        *at,
    )
    assert out == "Logged 2,000 predictions of churn version 1\n"
    message = error("log", "ingest", "churn", files.csv, "--request-id", "nightly-2024-01", *at)
    assert message.startswith("error: 2000 prediction(s) were logged before")
    assert "nightly-2024-01/0" in message

    path = tmp_path / "all.parquet"
    assert ok("log", "export", "churn", "--output", path, *at) == (
        f"Wrote 4,000 predictions of churn to {path}\n"
    )
    exported = pd.read_parquet(path)
    assert exported.columns.tolist() == [*KEY_COLUMNS, *FEATURES, *OUTPUTS]
    assert set(exported["version"]) == {1}
    assert set(exported["role"]) == {"served"}
    first, second = exported.iloc[:2_000], exported.iloc[2_000:]
    assert first["request_id"].nunique() == 1
    assert first["request_id"].iloc[0].startswith("batch-")
    assert set(second["request_id"]) == {"nightly-2024-01"}
    assert first["row"].tolist() == second["row"].tolist() == list(range(2_000))
    check_rows(files, first, files.scored)
    check_rows(files, second, files.scored)

    assert ok("log", "compact", "churn", *at) == (
        "Compacted the prediction log of churn: 2 batches -> 1\n"
    )
    assert ok("log", "compact", "churn", *at).endswith(": 1 batches -> 1\n")
    again = tmp_path / "again.parquet"
    ok("log", "export", "churn", "-o", again, *at)
    pd.testing.assert_frame_equal(
        pd.read_parquet(again).drop(columns="logged_at"), exported.drop(columns="logged_at")
    )


def test_ingest_without_event_times_uses_now(files: Files, tmp_path: Path) -> None:
    project = files.new_project(tmp_path / "p")
    before = pd.Timestamp.now(tz="UTC")
    out = ok("log", "ingest", "churn", files.csv, "--alias", "production", "--project", project)
    assert out == "Logged 2,000 predictions of churn version 1\n"
    path = tmp_path / "now.csv"
    ok("log", "export", "churn", "--output", path, "--project", project)
    exported = pd.read_csv(path)
    times = utc(exported["event_time"])
    assert times.nunique() == 1
    assert times.iloc[0] >= before.floor("s")
    assert exported["key"].tolist() == files.scored["customer_id"].tolist()


# ---------------------------------------------------------------------------- labels


def test_labels_ingest_and_export_with_labels(
    files: Files, logged: tuple[Path, str], tmp_path: Path
) -> None:
    project, first = logged
    assert first.splitlines() == [
        "Labels for churn: 1,500 stored, 0 unchanged, 2 unknown",
        f"  ids matching no logged prediction: {', '.join(UNKNOWN_IDS)}",
    ]
    args = ("--id-col", "customer_id", "--label-col", "churned", "--project", project)
    again = ok("labels", "ingest", "churn", files.labels, *args)
    assert again.splitlines()[0] == "Labels for churn: 0 stored, 1,500 unchanged, 2 unknown"

    message = error("labels", "ingest", "churn", files.conflict, *args)
    assert "3 label(s) contradict labels already recorded for 'churn'" in message
    assert "nothing was stored" in message

    path = tmp_path / "labelled.parquet"
    out = ok("log", "export", "churn", "--output", path, "--with-labels", "--project", project)
    assert out == f"Wrote 2,000 predictions of churn to {path}\n"
    exported = pd.read_parquet(path)
    assert exported.columns.tolist() == [
        *KEY_COLUMNS,
        *FEATURES,
        *OUTPUTS,
        "label",
        "label_arrived_at",
    ]
    check_rows(files, exported, files.scored)
    has = exported["label"].notna()
    assert has.sum() == LABELLED
    assert exported["label_arrived_at"].notna().equals(has)
    # Each label is the one ingested for the row's customer (the conflicting file stored none).
    assert {
        k: int(v) for k, v in zip(exported["key"][has], exported["label"][has], strict=True)
    } == files.truth
    assert set(exported["key"][~has]).isdisjoint(files.truth)
    plain = tmp_path / "plain.parquet"
    ok("log", "export", "churn", "--output", plain, "--project", project)
    assert "label" not in pq.read_schema(plain).names


def test_labels_by_request_id_and_row(
    files: Files, logged: tuple[Path, str], tmp_path: Path
) -> None:
    project, _ = logged
    rows = tmp_path / "rows.csv"
    pd.DataFrame({"rid": ["nope", "nope"], "r": [0, 1], "y": [1, 0]}).to_csv(rows, index=False)
    out = ok(
        "labels",
        "ingest",
        "churn",
        rows,
        "--id-col",
        "rid",
        "--label-col",
        "y",
        "--row-col",
        "r",
        "--project",
        project,
    )
    assert out.splitlines() == [
        "Labels for churn: 0 stored, 0 unchanged, 2 unknown",
        "  ids matching no logged prediction: nope, nope",
    ]


# ---------------------------------------------------------------------------- windows


def test_export_windows(files: Files, logged: tuple[Path, str], tmp_path: Path) -> None:
    project, _ = logged
    at = ("--project", project)
    times = utc(files.scored["event_time"])
    start, stop = pd.Timestamp("2024-01-10", tz="UTC"), pd.Timestamp("2024-01-20", tz="UTC")
    inside = files.scored[((times >= start) & (times < stop)).to_numpy()]
    assert 0 < len(inside) < len(files.scored)

    path = tmp_path / "window.parquet"
    out = ok(
        "log", "export", "churn", "-o", path, "--since", "2024-01-10", "--until", "2024-01-20", *at
    )
    assert out == f"Wrote {len(inside):,} predictions of churn to {path}\n"
    check_rows(files, pd.read_parquet(path), inside)

    # The same window with offsets, and as CSV.
    shifted = tmp_path / "window.csv"
    since, until = "2024-01-10T02:00:00+02:00", "2024-01-19T19:00-05:00"
    ok("log", "export", "churn", "-o", shifted, "--since", since, "--until", until, *at)
    assert pd.read_csv(shifted)["key"].tolist() == inside["customer_id"].tolist()

    # Half-open windows.
    later = tmp_path / "later.parquet"
    ok("log", "export", "churn", "-o", later, "--since", "2024-01-20T00:00:00", *at)
    assert len(pd.read_parquet(later)) == int((times >= stop).sum())
    earlier = tmp_path / "earlier.parquet"
    ok("log", "export", "churn", "-o", earlier, "--until", "2024-01-10 00:00", *at)
    assert len(pd.read_parquet(earlier)) == int((times < start).sum())


def test_export_of_an_empty_window(logged: tuple[Path, str], tmp_path: Path) -> None:
    project, _ = logged
    at = ("--project", project)
    path = tmp_path / "empty.parquet"
    out = ok("log", "export", "churn", "-o", path, "--since", "2025-01-01", "--with-labels", *at)
    assert out == f"No predictions of churn in the window; wrote an empty {path}\n"
    schema = pq.read_schema(path)
    assert schema.names == [*KEY_COLUMNS, *FEATURES, *OUTPUTS, "label", "label_arrived_at"]
    assert str(schema.field("event_time").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("monthly_charges").type) == "double"
    assert pq.read_metadata(path).num_rows == 0
    for args in (("--version", "2"), ("--shadow", "--since", "2025-01-01")):
        other = tmp_path / "other.csv"
        assert "No predictions of churn in the window" in ok(
            "log", "export", "churn", "-o", other, *args, *at
        )
        assert pd.read_csv(other).empty


# ---------------------------------------------------------------------------- show


def test_show(files: Files, logged: tuple[Path, str]) -> None:
    project, _ = logged
    at = ("--project", project)
    times = utc(files.scored["event_time"])
    summary = json.loads(ok("log", "show", "churn", "--limit", "3", "--format", "json", *at))
    latest = summary.pop("latest")
    assert summary == {
        "model": "churn",
        "rows": 2_000,
        "versions": {"1": 2_000},
        "first_event": times.min().isoformat(),
        "last_event": times.max().isoformat(),
        "labelled": LABELLED,
        "label_coverage": LABELLED / 2_000,
    }
    newest = files.scored.assign(t=times.to_numpy()).sort_values("t").tail(3)
    assert [r["key"] for r in latest] == newest["customer_id"].tolist()
    assert [r["event_time"] for r in latest] == [t.isoformat() for t in newest["t"]]
    assert set(latest[0]) == {
        "event_time",
        "version",
        "request_id",
        "row",
        "key",
        *OUTPUTS,
        "label",
    }

    text = ok("log", "show", "churn", "--limit", "2", *at).splitlines()
    assert text[:4] == [
        "churn: 2,000 served predictions",
        "  versions     1: 2,000 rows",
        f"  event time   {times.min():%Y-%m-%d %H:%M:%S} .. {times.max():%Y-%m-%d %H:%M:%S} UTC",
        "  labelled     1,500 of 2,000 (75.0%)",
    ]
    assert text[4].split()[:4] == ["when", "(UTC)", "version", "request_id"]
    assert len(text) == 8  # the header, its rule and two rows
    assert newest["customer_id"].iloc[-1] in text[-1]
    assert len(ok("log", "show", "churn", "--limit", "0", *at).splitlines()) == 4

    window = json.loads(
        ok(
            "log",
            "show",
            "churn",
            "--since",
            "2024-01-10",
            "--until",
            "2024-01-20",
            "--format",
            "json",
            *at,
        )
    )
    start, stop = pd.Timestamp("2024-01-10", tz="UTC"), pd.Timestamp("2024-01-20", tz="UTC")
    assert window["rows"] == int(((times >= start) & (times < stop)).sum())
    assert ok("log", "show", "churn", "--since", "2030-01-01", *at) == (
        "churn: no served predictions logged in the window.\n"
    )
    empty = json.loads(ok("log", "show", "churn", "--since", "2030-01-01", "--format", "json", *at))
    assert empty["rows"] == 0
    assert empty["label_coverage"] is None
    assert empty["latest"] == []


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["log", "ingest", "nope", "{csv}"], "No registered model named 'nope'"),
        (["log", "export", "nope", "-o", "{out}"], "No registered model named 'nope'"),
        (["log", "show", "nope"], "No registered model named 'nope'"),
        (["log", "compact", "nope"], "No registered model named 'nope'"),
        (
            [
                "labels",
                "ingest",
                "nope",
                "{labels}",
                "--id-col",
                "customer_id",
                "--label-col",
                "churned",
            ],
            "'nope'",
        ),
        (["log", "ingest", "churn", "{missing}"], "No such file: "),
        (["labels", "ingest", "churn", "{missing}"], "No such file: "),
        (
            ["log", "ingest", "churn", "{labels}"],
            "The data lacks the model's input(s) 'tenure_months'",
        ),
        (
            ["log", "ingest", "churn", "{csv}", "--event-time-col", "when"],
            "no event-time column 'when'",
        ),
        (
            ["log", "ingest", "churn", "{csv}", "--version", "1", "--alias", "production"],
            "not both",
        ),
        (["log", "ingest", "churn", "{csv}", "--alias", "shadow"], "'churn' has no alias 'shadow'"),
        (["log", "ingest", "churn", "{csv}", "--version", "7"], "'churn' has no version 7"),
        (["labels", "ingest", "churn", "{labels}"], "The labels have no column 'id'"),
        (
            ["log", "export", "churn", "-o", "{out}", "--since", "last week"],
            "--since must be an ISO 8601",
        ),
        (
            ["log", "export", "churn", "-o", "{out}", "--until", "2024-13-01"],
            "--until must be an ISO 8601",
        ),
        (["log", "show", "churn", "--since", "01/02/2024"], "Got '01/02/2024' instead"),
        (
            [
                "log",
                "export",
                "churn",
                "-o",
                "{out}",
                "--since",
                "2024-02-01",
                "--until",
                "2024-01-01",
            ],
            "must be before",
        ),
        (["log", "export", "churn", "-o", "{nowhere}"], "{nowhere}"),
        (["log", "compact", "churn", "--target-rows", "0"], "target_rows must be positive"),
    ],
)
def test_errors_are_one_line(
    files: Files, logged: tuple[Path, str], tmp_path: Path, args: list[str], expected: str
) -> None:
    project, _ = logged
    names = {
        "csv": str(files.csv),
        "labels": str(files.labels),
        "missing": str(tmp_path / "missing.csv"),
        "out": str(tmp_path / "out.parquet"),
        "nowhere": str(tmp_path / "no" / "such" / "out.parquet"),
    }
    message = error(*[a.format(**names) for a in args], "--project", project)
    assert expected.format(**names) in message
