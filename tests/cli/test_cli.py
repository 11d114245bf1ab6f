"""The command line: exit codes, one-line errors and output formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


def test_demo_runs_and_finds_the_injected_drift() -> None:
    result = runner.invoke(app, ["demo", "--rows", "20000"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("(matches)") == 3


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
