"""The command line: exit codes, one-line errors and output formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from watchkeeper.cli import app
from watchkeeper.datasets import churn

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("data")
    ref = churn(3_000, seed=1)
    paths = {
        "ref_csv": d / "ref.csv",
        "same_parquet": d / "same.parquet",
        "drift_csv": d / "drift.csv",
        "other_csv": d / "other.csv",
    }
    ref.to_csv(paths["ref_csv"], index=False)
    # Seed 4, not 2: seed 2's total_charges has a 4-sigma excess of IQR outliers (2.3 % against
    # 1.4 %), which the quality checks rightly flag; "same" must be an ordinary clean sample.
    churn(3_000, seed=4).to_parquet(paths["same_parquet"])
    churn(3_000, seed=3, scenario="covariate_drift").to_csv(paths["drift_csv"], index=False)
    paths["other_csv"].write_text("z\n1\n2\n")
    return paths


def test_compare_json_output_and_exit_0(files: dict[str, Path]) -> None:
    result = runner.invoke(
        app, ["compare", str(files["ref_csv"]), str(files["drift_csv"]), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1
    assert doc["summary"]["status"] == "alert"
    first = doc["checks"][0]
    for key in (
        "check",
        "column",
        "value",
        "reference_value",
        "p_value",
        "threshold",
        "status",
        "reason",
        "n",
    ):
        assert key in first
    alerted = {c["column"] for c in doc["checks"] if c["status"] == "alert" and c["column"]}
    assert {"monthly_charges", "tenure_months", "contract"} <= alerted


def test_fail_on_alert_exits_1(files: dict[str, Path]) -> None:
    args = ["compare", str(files["ref_csv"]), str(files["drift_csv"]), "--fail-on", "alert"]
    assert runner.invoke(app, args).exit_code == 1


def test_fail_on_with_clean_data_exits_0(files: dict[str, Path]) -> None:
    args = [
        "compare",
        str(files["ref_csv"]),
        str(files["same_parquet"]),
        "--fail-on",
        "alert",
        "--format",
        "markdown",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "**Status:" in result.stdout


def test_output_file(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    args = [
        "compare",
        str(files["ref_csv"]),
        str(files["drift_csv"]),
        "--format",
        "json",
        "-o",
        str(out),
    ]
    assert runner.invoke(app, args).exit_code == 0
    assert json.loads(out.read_text())["summary"]["status"] == "alert"


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("missing", "error: No such file: "),
        ("bad_ext", "error: Cannot tell the format of "),
        ("other", "error: The current data has none of the baseline's columns"),
        ("schema", "error: "),
    ],
)
def test_bad_input_exits_2_with_one_line(
    files: dict[str, Path], tmp_path: Path, which: str, message: str
) -> None:
    args = ["compare", str(files["ref_csv"]), str(files["drift_csv"])]
    if which == "missing":
        args[2] = str(tmp_path / "nope.csv")
    elif which == "bad_ext":
        p = tmp_path / "data.xlsx"
        p.write_text("x")
        args[2] = str(p)
    elif which == "other":
        args[2] = str(files["other_csv"])
    else:
        s = tmp_path / "schema.yaml"
        s.write_text("columns:\n  - {name: a, kind: blob}\n")
        args += ["--schema", str(s)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(message)


def test_console_script_runs_in_a_subprocess(files: dict[str, Path]) -> None:
    exe = Path(sys.executable).with_name("watchkeeper")
    proc = subprocess.run(
        [str(exe), "compare", str(files["ref_csv"]), str(files["same_parquet"])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "drift.dataset" in proc.stdout
    assert proc.stderr == ""  # no progress bar when not on a terminal


def test_version() -> None:
    from watchkeeper import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"watchkeeper {__version__}"


def test_schema_file_overrides_only_what_it_names(files: dict[str, Path], tmp_path: Path) -> None:
    s = tmp_path / "schema.yaml"
    s.write_text("columns:\n  - {name: num_products, kind: categorical}\n")
    args = [
        "compare",
        str(files["ref_csv"]),
        str(files["drift_csv"]),
        "--schema",
        str(s),
        "--target",
        "churned",
        "--format",
        "json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    checks = {
        c["column"]: c
        for c in json.loads(result.stdout)["checks"]
        if c["column"] and c["check"].startswith("drift.")
    }
    assert checks["num_products"]["check"] == "drift.jensen_shannon"  # from the file
    assert checks["monthly_charges"]["status"] == "alert"  # inferred, still checked
    assert checks["churned"]["check"] == "drift.target"  # --target applies too


def test_schema_file_naming_an_absent_column_exits_2(
    files: dict[str, Path], tmp_path: Path
) -> None:
    s = tmp_path / "schema.yaml"
    s.write_text("columns:\n  - {name: zip_code, kind: categorical}\n")
    result = runner.invoke(
        app, ["compare", str(files["ref_csv"]), str(files["drift_csv"]), "--schema", str(s)]
    )
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "'zip_code', which is not in the data" in result.stderr


def test_invalid_yaml_schema_is_one_line(files: dict[str, Path], tmp_path: Path) -> None:
    s = tmp_path / "schema.yaml"
    s.write_text("columns: [\n")
    result = runner.invoke(
        app, ["compare", str(files["ref_csv"]), str(files["drift_csv"]), "--schema", str(s)]
    )
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "not valid YAML" in result.stderr


def test_duplicate_columns_in_a_csv_exit_2(files: dict[str, Path], tmp_path: Path) -> None:
    dup = tmp_path / "dup.csv"
    dup.write_text("a,a,b\n1,2,3\n4,5,6\n")
    result = runner.invoke(app, ["compare", str(files["ref_csv"]), str(dup)])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------------------- new forms and options

ROLES = ["--target", "churned", "--prediction", "churn_pred", "--prediction-proba", "churn_score"]


@pytest.fixture(scope="module")
def fitted(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A baseline directory written once by `baseline fit` (with roles and a segment)."""
    out = tmp_path_factory.mktemp("baseline") / "churn"
    result = runner.invoke(
        app, ["baseline", "fit", str(files["ref_csv"]), "--output", str(out), *ROLES]
    )
    assert result.exit_code == 0, result.output
    return out


def _json(args: list[str]) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def _one_line_error(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    return lines[0]


def test_baseline_fit_writes_the_baseline_and_its_schema(fitted: Path) -> None:
    from watchkeeper.baseline import Baseline
    from watchkeeper.schema import Schema

    assert sorted(p.name for p in fitted.iterdir()) == ["baseline.npz", "schema.yaml"]
    schema = Schema.load(fitted / "schema.yaml")
    assert schema.role_column("target") == "churned"
    assert schema.role_column("prediction") == "churn_pred"
    assert [c.name for c in schema.by_role("prediction_proba")] == ["churn_score"]
    assert schema.role_column("timestamp") == "event_time"  # inferred
    baseline = Baseline.load(fitted / "baseline.npz")
    assert baseline.schema == schema
    assert baseline.n_reference == 3_000
    assert baseline.labels is not None
    assert baseline.labels.task == "binary"


def test_baseline_fit_prints_one_line(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "new" / "dir"  # created, parents included
    args = ["baseline", "fit", str(files["ref_csv"]), "-o", str(out), "--target", "churned"]
    result = runner.invoke(app, [*args, "--segment", "contract", "--reference-chunks", "4"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1
    line = result.stdout.strip()
    assert line.startswith(f"Wrote {out / 'baseline.npz'} and {out / 'schema.yaml'}: ")
    assert "3,000 rows" in line
    assert "task binary (target churned)" in line
    assert "segments by contract (3 values)" in line
    assert "4 reference chunks" in line


def test_baseline_fit_with_validation_data(files: dict[str, Path], tmp_path: Path) -> None:
    from watchkeeper.baseline import Baseline

    args = ["baseline", "fit", str(files["ref_csv"]), "-o", str(tmp_path), *ROLES]
    result = runner.invoke(app, [*args, "--validation", str(files["same_parquet"])])
    assert result.exit_code == 0, result.output
    own = Baseline.load(tmp_path / "baseline.npz").performance
    assert own is not None
    other = tmp_path / "own"
    runner.invoke(app, ["baseline", "fit", str(files["ref_csv"]), "-o", str(other), *ROLES])
    reference = Baseline.load(other / "baseline.npz").performance
    assert reference is not None
    assert own.to_state() != reference.to_state()  # metrics of the validation rows


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "error: baseline fit needs --output DIR"),
        (["-o", "{ref}"], "error: --output '{ref}' is a file; give a directory."),
        (["-o", "{tmp}", "--target", "nope"], "error: Role given for column(s) ['nope']"),
        (["-o", "{tmp}", "--validation", "{tmp}/missing.csv"], "error: No such file: "),
        (["-o", "{tmp}", "--segment", "nope"], "error: "),
        (["-o", "{tmp}", "--reference-chunks", "1"], "error: "),
    ],
)
def test_baseline_fit_errors_are_one_line(
    files: dict[str, Path], tmp_path: Path, extra: list[str], message: str
) -> None:
    where = {"ref": str(files["ref_csv"]), "tmp": str(tmp_path / "out")}
    args = ["baseline", "fit", str(files["ref_csv"]), *(a.format(**where) for a in extra)]
    assert _one_line_error(args).startswith(message.format(**where))
    assert not (tmp_path / "out" / "baseline.npz").exists()


def test_baseline_fit_of_a_missing_file_exits_2(tmp_path: Path) -> None:
    line = _one_line_error(["baseline", "fit", str(tmp_path / "nope.csv"), "-o", str(tmp_path)])
    assert line.startswith("error: No such file: ")


def test_compare_with_a_baseline_equals_the_two_file_compare(
    files: dict[str, Path], fitted: Path
) -> None:
    two = _json(["compare", str(files["ref_csv"]), str(files["drift_csv"]), *ROLES])
    saved = _json(["compare", "--baseline", str(fitted), str(files["drift_csv"])])
    npz = _json(["compare", "--baseline", str(fitted / "baseline.npz"), str(files["drift_csv"])])
    assert npz["checks"] == saved["checks"]

    def values(doc: dict[str, Any]) -> dict[tuple[str, str | None], tuple[Any, ...]]:
        fields = ("value", "reference_value", "p_value", "threshold", "status", "n")
        return {(c["check"], c["column"]): tuple(c[f] for f in fields) for c in doc["checks"]}

    assert values(saved) == values(two)
    assert {c["check"].split(".")[0] for c in saved["checks"]} == {
        "drift",
        "quality",
        "performance",
    }
    assert saved["summary"] == two["summary"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "{ref}"], "error: compare needs a REFERENCE and a CURRENT data file"),
        (["compare"], "error: compare needs a REFERENCE and a CURRENT data file (or --baseline"),
        (["compare", "{ref}", "{cur}", "{cur}"], "error: compare needs a REFERENCE and a CURR"),
        (
            ["compare", "--baseline", "{bl}", "{ref}", "{cur}"],
            "error: With --baseline, give just the CURRENT data file; got 2 files",
        ),
        (
            ["compare", "--baseline", "{bl}", "{cur}", "--target", "churned"],
            "error: --target cannot be used with --baseline: the baseline already has",
        ),
        (
            ["compare", "--baseline", "{bl}", "{cur}", "--segment", "x", "--schema", "s.yaml"],
            "error: --schema and --segment cannot be used with --baseline",
        ),
        (
            ["compare", "--baseline", "{bl}", "{cur}", "--prediction-proba", "churn_score"],
            "error: --prediction-proba cannot be used with --baseline",
        ),
        (["compare", "--baseline", "{tmp}/nope", "{cur}"], "error: No such baseline: "),
        (["compare", "--baseline", "{tmp}", "{cur}"], "error: '{tmp}' holds no baseline.npz"),
        (["compare", "--baseline", "{ref}", "{cur}"], "error: '{ref}' is not a baseline"),
        (["compare", "--baseline", "{bl}", "{tmp}/nope.csv"], "error: No such file: "),
        (
            ["compare", "--baseline", "{bl}", "{cur}", "--timestamp", "event_time"],
            "error: --timestamp with --baseline only says how to order rows for --chunk",
        ),
        (
            ["compare", "{ref}", "{cur}", "--chunk", "bogus"],
            "error: --chunk 'bogus' is not a chunk spec: give N or size=N",
        ),
        (
            ["compare", "{ref}", "{cur}", "--chunk", "0"],
            "error: --chunk '0': size must be a positive whole number of rows. Got '0' instead.",
        ),
        (
            ["compare", "{ref}", "{cur}", "--chunk", "number=x"],
            "error: --chunk 'number=x': number must be a positive whole number of chunks.",
        ),
        (
            ["compare", "{ref}", "{cur}", "--chunk", "period=fortnight"],
            "error: --chunk 'period=fortnight': 'fortnight' is not a calendar period",
        ),
        (
            ["compare", "{ref}", "{cur}", "--consecutive", "2"],
            "error: --consecutive applies only with --chunk.",
        ),
        (
            ["compare", "{ref}", "{cur}", "--chunk", "100", "--consecutive", "0"],
            "error: --consecutive must be a positive number of chunks. Got 0 instead.",
        ),
        (["compare", "{ref}", "{cur}", "--checks", "drift.nope"], "error: Unknown check 'drift."),
        (
            ["compare", "{ref}", "{cur}", "--segment", "nope"],
            "error: segments names column(s) 'nope'",
        ),
        (
            ["compare", "{ref}", "{cur}", "--chunk", "D", "--timestamp", "nope"],
            "error: Role given for column(s) ['nope'] not in the data",
        ),
        (
            ["compare", "--baseline", "{bl}", "{cur}", "--chunk", "D", "--timestamp", "nope"],
            "error: The data has no timestamp column 'nope'.",
        ),
    ],
)
def test_compare_usage_errors_are_one_line(
    files: dict[str, Path], fitted: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    where = {
        "ref": str(files["ref_csv"]),
        "cur": str(files["drift_csv"]),
        "bl": str(fitted),
        "tmp": str(tmp_path),
    }
    line = _one_line_error([a.format(**where) for a in args])
    assert line.startswith(message.format(**where))


def test_compare_prints_a_section_per_family(files: dict[str, Path]) -> None:
    args = ["compare", str(files["ref_csv"]), str(files["drift_csv"]), *ROLES]
    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].startswith("Status: alert — ")
    titles = [line.split(" — ")[0] for line in lines[1:] if " — " in line]
    assert titles == ["Drift", "Data quality", "Performance"]
    markdown = runner.invoke(app, [*args, "--format", "markdown"])
    assert markdown.exit_code == 0, markdown.output
    assert markdown.stdout.startswith("**Status: alert** — ")
    headings = [line for line in markdown.stdout.splitlines() if line.startswith("### ")]
    assert [h.split(" — ")[0] for h in headings] == [
        "### Drift",
        "### Data quality",
        "### Performance",
    ]


def test_compare_with_segments(files: dict[str, Path]) -> None:
    args = ["compare", str(files["ref_csv"]), str(files["drift_csv"]), "--target", "churned"]
    doc = _json([*args, "--segment", "contract"])
    segments = {c["segment"] for c in doc["checks"]}
    assert segments == {None, "contract=Month-to-month", "contract=One year", "contract=Two year"}
    assert sum(doc["metadata"]["segments"].values()) == 3_000
    whole = {c["column"] for c in doc["summary"]["drifted_columns"]}
    assert "monthly_charges" in whole
    assert len(doc["summary"]["drifted_columns"]) == len(whole)  # whole window only, once each
    text = runner.invoke(app, [*args, "--segment", "contract"]).stdout
    assert "\nSegment contract=Two year — " in text


def test_compare_with_a_baseline_fitted_with_segments(
    files: dict[str, Path], tmp_path: Path
) -> None:
    runner.invoke(
        app,
        ["baseline", "fit", str(files["ref_csv"]), "-o", str(tmp_path), "--segment", "contract"],
    )
    doc = _json(["compare", "--baseline", str(tmp_path), str(files["same_parquet"])])
    assert "contract=One year" in {c["segment"] for c in doc["checks"]}


def test_compare_checks_selects_families_and_names(files: dict[str, Path]) -> None:
    args = ["compare", str(files["ref_csv"]), str(files["drift_csv"]), *ROLES]
    doc = _json([*args, "--checks", "quality", "--checks", "performance.roc_auc"])
    names = {c["check"] for c in doc["checks"]}
    assert {n.split(".")[0] for n in names} == {"quality", "performance"}
    assert {n for n in names if n.startswith("performance.")} == {"performance.roc_auc"}
    comma = _json([*args, "--checks", "drift.target,performance"])
    drift = [c for c in comma["checks"] if c["check"].startswith("drift.")]
    assert [(c["check"], c["column"]) for c in drift] == [("drift.target", "churned")]
    assert "performance.accuracy" in {c["check"] for c in comma["checks"]}


def test_compare_in_chunks_of_rows_json(files: dict[str, Path]) -> None:
    doc = _json(["compare", str(files["ref_csv"]), str(files["drift_csv"]), "--chunk", "1200"])
    assert list(doc) == ["schema_version", "status", "metadata", "chunks"]
    assert doc["status"] == "alert"
    meta = doc["metadata"]
    assert (meta["by"], meta["size"], meta["n_chunks"], meta["n_rows"]) == ("size", 1200, 3, 3000)
    assert meta["thresholds"] == "reference"  # learned from the reference's chunks
    keys = [item["chunk"]["key"] for item in doc["chunks"]]
    assert keys == ["rows 0-1199", "rows 1200-2399", "rows 2400-2999"]
    assert [item["chunk"]["partial"] for item in doc["chunks"]] == [False, False, True]
    first = doc["chunks"][0]["report"]
    assert first["schema_version"] == 1
    assert first["metadata"]["chunk_rows"] == 1200
    assert "monthly_charges" in {c["column"] for c in first["checks"] if c["status"] == "alert"}


def test_compare_in_chunks_by_period(files: dict[str, Path], fitted: Path) -> None:
    args = ["compare", "--baseline", str(fitted), str(files["drift_csv"])]
    weekly = _json([*args, "--chunk", "W"])
    assert (weekly["metadata"]["by"], weekly["metadata"]["period"]) == ("period", "W")
    keys = [item["chunk"]["key"] for item in weekly["chunks"]]
    assert keys == ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22", "2024-01-29"]
    assert sum(item["chunk"]["n"] for item in weekly["chunks"]) == 3_000
    explicit = _json([*args, "--chunk", "period=W", "--timestamp", "event_time"])
    assert [item["chunk"]["key"] for item in explicit["chunks"]] == keys
    two_files = ["compare", str(files["ref_csv"]), str(files["drift_csv"])]
    daily = _json([*two_files, "--chunk", "2D", "--timestamp", "event_time"])
    assert daily["metadata"]["period"] == "2D"
    spans = {(item["chunk"]["start"][8:10], item["chunk"]["end"][8:10]) for item in daily["chunks"]}
    assert ("02", "04") in spans  # two-day periods, counted from the Unix epoch
    assert sum(item["chunk"]["n"] for item in daily["chunks"]) == 3_000


def test_compare_in_chunks_table_and_markdown(files: dict[str, Path], fitted: Path) -> None:
    args = ["compare", "--baseline", str(fitted), str(files["drift_csv"]), "--chunk", "number=3"]
    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0] == "Status: alert — 3 chunks: 3 alerts, 0 warnings"
    assert lines[1].startswith("rows 0-999  ")
    markdown = runner.invoke(app, [*args, "--format", "markdown"])
    assert markdown.exit_code == 0, markdown.output
    md = markdown.stdout.splitlines()
    assert md[0] == "**Status: alert** — 3 chunks: 3 alerts, 0 warnings"
    assert "| chunk | rows | status | problems |" in md
    assert sum(line.startswith("| rows ") for line in md) == 3


def test_fail_on_applies_to_any_chunk(files: dict[str, Path], fitted: Path) -> None:
    drift = ["compare", "--baseline", str(fitted), str(files["drift_csv"]), "--chunk", "1000"]
    assert runner.invoke(app, [*drift, "--fail-on", "alert"]).exit_code == 1
    assert runner.invoke(app, drift).exit_code == 0
    # A clean window: the chunks' few warnings never last three chunks, so no alert stands.
    same = ["compare", "--baseline", str(fitted), str(files["same_parquet"]), "--chunk"]
    clean = [*same, "number=3", "--consecutive", "3"]
    assert runner.invoke(app, [*clean, "--fail-on", "alert"]).exit_code == 0
    assert runner.invoke(app, [*clean, "--fail-on", "warning"]).exit_code == 1


def test_consecutive_turns_lone_alerts_into_warnings(files: dict[str, Path]) -> None:
    args = ["compare", str(files["ref_csv"]), str(files["drift_csv"]), "--chunk", "number=3"]
    once = _json(args)
    twice = _json([*args, "--consecutive", "2"])
    assert twice["metadata"]["consecutive"] == 2
    assert once["chunks"][0]["report"]["summary"]["status"] == "alert"
    assert twice["chunks"][0]["report"]["summary"]["status"] == "warning"  # none came before


def test_compare_writes_a_chunked_report_to_a_file(files: dict[str, Path], tmp_path: Path) -> None:
    from watchkeeper.monitor.chunked import ChunkedReport

    out = tmp_path / "chunks.json"
    args = ["compare", str(files["ref_csv"]), str(files["drift_csv"]), "--chunk", "number=2"]
    result = runner.invoke(app, [*args, "--format", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert len(ChunkedReport.from_json(out.read_text())) == 2


def test_multiclass_scores_take_one_prediction_proba_per_class(tmp_path: Path) -> None:
    classes = np.array(["a", "b", "c"])

    def frame(seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        x = rng.normal(size=1_500)
        logits = np.c_[x, -x, np.zeros_like(x)] + rng.normal(size=(1_500, 3))
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        y = classes[(rng.random(1_500)[:, None] > proba.cumsum(axis=1)).sum(axis=1)]
        scores = {f"proba_{k}": proba[:, i] for i, k in enumerate(classes)}
        return pd.DataFrame({"x": x, "y": y, "pred": classes[proba.argmax(axis=1)], **scores})

    frame(1).to_csv(tmp_path / "ref.csv", index=False)
    frame(2).to_csv(tmp_path / "cur.csv", index=False)
    args = ["compare", str(tmp_path / "ref.csv"), str(tmp_path / "cur.csv")]
    args += ["--target", "y", "--prediction", "pred", "--checks", "performance"]
    for k in classes:
        args += ["--prediction-proba", f"proba_{k}"]
    doc = _json(args)
    names = {c["check"] for c in doc["checks"]}
    assert {"performance.roc_auc", "performance.log_loss", "performance.f1_macro"} <= names
    assert all(c["status"] != "skipped" for c in doc["checks"])
