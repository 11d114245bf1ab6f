"""Tests for watchkeeper.monitor.report: summary, serialization, filtering and renderings."""

from __future__ import annotations

import ast
import io
import json
import math
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from watchkeeper.errors import InvalidParameterError, SerializationError
from watchkeeper.monitor.report import DriftedColumn, Report
from watchkeeper.results import CheckResult, Status

SCRIPT = "<script>alert(1)</script>"
ANSI = re.compile(r"\x1b\[")


def drift(
    column: str, value: float | None, status: Status = "alert", p_value: float | None = None
) -> CheckResult:
    return CheckResult(
        "drift.wasserstein",
        column,
        value,
        p_value=p_value,
        threshold=0.1,
        status=status,
        reason=f"{column} {status}",
    )


@pytest.fixture
def checks() -> list[CheckResult]:
    return [
        CheckResult("quality.missing_rate", "age", 0.01, threshold=0.05, reason="fine"),
        drift("age", 0.3, p_value=3.2e-05),
        drift("income", 0.9, p_value=0.0),
        CheckResult("drift.ks", "city", 0.2, p_value=0.01, threshold=0.1, status="warning"),
        drift("height", 0.5, p_value=0.0123456),
        CheckResult("quality.range", "height", None, status="skipped", reason="too few rows"),
        CheckResult("drift.dataset", None, 0.75, threshold=0.5, status="alert", n=800),
        CheckResult("performance.f1", None, 0.8123456, reference_value=0.85, threshold=0.8),
    ]


@pytest.fixture
def report(checks: list[CheckResult]) -> Report:
    return Report(
        checks,
        metadata={
            "n_reference": 1000,
            "n_current": 800,
            "created_at": "2024-05-01T12:00:00+00:00",
            "watchkeeper_version": "0.1.0",
            "options": {"alpha": 0.05, "methods": ("ks", "wasserstein")},
            "duration_seconds": 0.25,
        },
    )


# ---------------------------------------------------------------------------- summary


def test_summary_status_and_counts(report: Report) -> None:
    s = report.summary
    assert s.status == "alert"
    assert dict(s.counts) == {"ok": 2, "warning": 1, "alert": 4, "skipped": 1}
    assert s.n_checks == 8
    assert (s.n_reference, s.n_current) == (1000, 800)
    assert report.summary is s  # computed once
    assert report.status == "alert"


def test_drifted_columns_ranked_by_effect_size_alerts_only(report: Report) -> None:
    drifted = report.summary.drifted_columns
    assert [d.column for d in drifted] == ["income", "height", "age"]
    assert [d.value for d in drifted] == [0.9, 0.5, 0.3]
    assert drifted[0] == DriftedColumn("income", "drift.wasserstein", 0.9, 0.0)
    assert "city" not in {d.column for d in drifted}  # a warning is not a drifted column


def test_drifted_columns_one_entry_per_column_and_none_value_last() -> None:
    report = Report(
        [
            drift("a", None),
            CheckResult("drift.ks", "b", 0.2, status="alert"),
            drift("b", 0.4),
            drift("c", 0.1),
            CheckResult("quality.missing_rate", "d", 0.9, status="alert"),
        ]
    )
    drifted = report.summary.drifted_columns
    assert [(d.column, d.check, d.value) for d in drifted] == [
        ("b", "drift.wasserstein", 0.4),
        ("c", "drift.wasserstein", 0.1),
        ("a", "drift.wasserstein", None),
    ]


def test_summary_counts_only_whole_window_drift() -> None:
    report = Report(
        [
            drift("age", 0.3),
            drift("income", 0.8, status="alert"),
            CheckResult("drift.dataset", None, 0.2, threshold=0.5),
            *(
                replace(c, segment="plan=basic")
                for c in (
                    drift("age", 0.9),  # larger, but in a segment: does not rank "age"
                    drift("city", 0.7),
                    CheckResult("drift.dataset", None, 0.9, status="alert"),
                )
            ),
        ]
    )
    s = report.summary
    assert [(d.column, d.value) for d in s.drifted_columns] == [("income", 0.8), ("age", 0.3)]
    assert s.dataset_drift is False  # the segment's dataset drift is not the window's
    assert s.counts["alert"] == 5  # counts and status still cover every result
    assert "drifted columns: 2" in report.to_text()


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ((), None),
        (("alert",), True),
        (("ok",), False),
        (("warning",), False),
        (("skipped",), None),
        (("skipped", "alert"), True),
    ],
)
def test_dataset_drift(statuses: tuple[Status, ...], expected: bool | None) -> None:
    checks = [drift("x", 0.05, status="ok")]
    checks += [CheckResult("drift.dataset", None, 0.2, status=s) for s in statuses]
    assert Report(checks).summary.dataset_drift is expected


def test_empty_report() -> None:
    report = Report([])
    s = report.summary
    assert s.status == "skipped"
    assert dict(s.counts) == {"ok": 0, "warning": 0, "alert": 0, "skipped": 0}
    assert (s.n_checks, s.drifted_columns, s.dataset_drift) == (0, (), None)
    assert (s.n_reference, s.n_current) == (0, 0)
    assert len(report) == 0
    assert "no checks" in report.to_text()
    assert report.to_frame().shape == (0, 13)
    assert Report.from_json(report.to_json()) == report


def test_summary_to_dict_is_json_safe(report: Report) -> None:
    d = report.summary.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert d["counts"] == {"ok": 2, "warning": 1, "alert": 4, "skipped": 1}
    assert d["drifted_columns"][0] == {
        "column": "income",
        "check": "drift.wasserstein",
        "value": 0.9,
        "p_value": 0.0,
    }
    assert d["dataset_drift"] is True


# ---------------------------------------------------------------------------- access


def test_access(report: Report, checks: list[CheckResult]) -> None:
    assert report.checks == tuple(checks)
    assert list(report) == checks
    assert len(report) == 8
    assert [c.column for c in report.alerts] == ["age", "income", "height", None]
    assert [c.check for c in report.for_column("height")] == ["drift.wasserstein", "quality.range"]
    assert repr(report) == "<Report status=alert checks=8 alerts=4>"


def test_metadata_is_read_only_and_json_safe() -> None:
    report = Report(
        [],
        metadata={"n_reference": np.int64(5), "ratio": np.float64("nan"), "shape": (2, 3)},
    )
    assert report.metadata == {"n_reference": 5, "ratio": None, "shape": [2, 3]}
    assert type(report.metadata["n_reference"]) is int
    assert report.summary.n_reference == 5
    with pytest.raises(TypeError):
        report.metadata["x"] = 1  # type: ignore[index]


@pytest.mark.parametrize(
    ("checks", "metadata", "match"),
    [
        ([{"check": "drift.ks"}], None, "CheckResult items"),
        ([CheckResult("drift.ks", "a", 0.1, status="bad")], None, "status"),  # type: ignore[arg-type]
        ([], ["n_reference"], "mapping"),
        ([], {"n_reference": -1}, "non-negative integer"),
        ([], {"n_current": 1.5}, "non-negative integer"),
    ],
)
def test_constructor_rejects_bad_input(checks: list[object], metadata: object, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        Report(checks, metadata=metadata)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- filter


def test_filter(report: Report) -> None:
    assert [c.column for c in report.filter(status="alert")] == ["age", "income", "height", None]
    assert len(report.filter(status=["alert", "warning"])) == 5
    assert {c.family for c in report.filter(family="quality")} == {"quality"}
    assert len(report.filter(family=("quality", "performance"))) == 3
    assert [c.check for c in report.filter(column="height")] == [
        "drift.wasserstein",
        "quality.range",
    ]
    assert [c.column for c in report.filter(check="drift.wasserstein", column={"age", "city"})] == [
        "age"
    ]
    assert len(report.filter()) == len(report)
    assert len(report.filter(family="nonexistent")) == 0


def test_filter_keeps_metadata_and_recomputes_summary(report: Report) -> None:
    quality = report.filter(family="quality")
    assert quality.metadata == report.metadata
    assert quality.summary.status == "ok"
    assert quality.summary.n_reference == 1000


def test_filter_rejects_unknown_status(report: Report) -> None:
    with pytest.raises(InvalidParameterError, match="alrt"):
        report.filter(status="alrt")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- serialization


def test_to_dict_layout(report: Report) -> None:
    d = report.to_dict()
    assert list(d) == ["schema_version", "metadata", "summary", "checks"]
    assert d["schema_version"] == Report.SCHEMA_VERSION == 1
    assert d["metadata"]["options"] == {"alpha": 0.05, "methods": ["ks", "wasserstein"]}
    assert d["summary"]["status"] == "alert"
    assert d["checks"] == [c.to_dict() for c in report.checks]


def test_json_round_trip(report: Report) -> None:
    text = report.to_json()
    back = Report.from_json(text)
    assert back == report
    assert back.to_dict() == report.to_dict()
    assert Report.from_dict(report.to_dict()).to_dict() == report.to_dict()
    assert back.to_json() == text
    assert json.loads(report.to_json(indent=None)) == report.to_dict()


def test_to_json_turns_non_finite_into_null() -> None:
    report = Report([CheckResult("drift.psi", "a", math.inf, p_value=math.nan)])
    data = json.loads(report.to_json())
    assert data["checks"][0]["value"] is None
    assert data["checks"][0]["p_value"] is None


def test_to_dict_is_a_copy(report: Report) -> None:
    d = report.to_dict()
    d["metadata"]["options"]["alpha"] = 0.5
    assert report.metadata["options"]["alpha"] == 0.05


@pytest.mark.parametrize("version", [99, 0, None, "1", 1.5, True])
def test_from_dict_rejects_other_schema_versions(report: Report, version: object) -> None:
    data = report.to_dict()
    data["schema_version"] = version
    with pytest.raises(SerializationError, match="schema_version"):
        Report.from_dict(data)


def test_from_dict_rejects_missing_schema_version(report: Report) -> None:
    data = report.to_dict()
    del data["schema_version"]
    with pytest.raises(SerializationError, match="no schema_version"):
        Report.from_dict(data)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.update(checks="nope"), "list under 'checks'"),
        (lambda d: d["checks"].append(3), r"checks\[8\]"),
        (lambda d: d["checks"][0].update(status="meh"), "status 'meh'"),
        (lambda d: d["checks"][0].pop("check"), r"checks\[0\]"),
        (lambda d: d["checks"][0].update(value="abc"), r"checks\[0\]"),
        (lambda d: d["checks"][0].update(column=7), "non-string column"),
        (lambda d: d["metadata"].update(n_current=-3), "n_current"),
    ],
)
def test_from_dict_rejects_malformed_data(
    report: Report, mutate: Callable[[dict[str, Any]], object], match: str
) -> None:
    data = report.to_dict()
    mutate(data)
    with pytest.raises(SerializationError, match=match):
        Report.from_dict(data)


def test_from_json_rejects_bad_text() -> None:
    with pytest.raises(SerializationError, match="not valid JSON"):
        Report.from_json("{not json")
    with pytest.raises(SerializationError, match="mapping"):
        Report.from_json("[1, 2]")
    assert issubclass(SerializationError, ValueError)


def test_to_frame(report: Report) -> None:
    frame = report.to_frame()
    assert frame.shape == (8, 13)
    assert list(frame.columns) == [
        "check",
        "column",
        "value",
        "reference_value",
        "p_value",
        "threshold",
        "warning_threshold",
        "status",
        "reason",
        "n",
        "n_reference",
        "details",
        "segment",
    ]
    assert frame["value"].dtype == np.float64
    assert frame["n"].dtype == np.int64
    assert math.isnan(frame["value"].iloc[5])  # the skipped check has no value
    assert frame.loc[2, "value"] == 0.9
    assert frame["status"].tolist() == [c.status for c in report.checks]
    assert frame.loc[0, "details"] == {}
    assert isinstance(frame, pd.DataFrame)


def test_to_frame_keeps_details_as_dicts() -> None:
    frame = Report([CheckResult("drift.psi", "a", 0.1, details={"bins": [0, 1, 2]})]).to_frame()
    assert frame.loc[0, "details"] == {"bins": [0, 1, 2]}


# ---------------------------------------------------------------------------- plain text


def test_to_text(report: Report) -> None:
    text = report.to_text()
    lines = text.splitlines()
    assert lines[0] == "Status: alert — 4 alerts, 1 warning, 2 ok, 1 skipped"
    assert "reference rows: 1000, current rows: 800" in lines[1].lower()
    for check in report.checks:
        assert check.check in text
    assert not ANSI.search(text)
    assert str(report) == text


_STATUS_WORDS = ("alert", "warning", "ok", "skipped")


def rows_of(text: str) -> list[str]:
    """The table rows of a text rendering (not status, headings, headers or rules)."""
    return [line for line in text.splitlines() if line.split(" ", 1)[0] in _STATUS_WORDS]


def headings_of(text: str) -> list[str]:
    """The titles of the section headings of a text rendering."""
    return [
        line.split(" — ")[0]
        for line in text.splitlines()
        if " — " in line and not line.startswith("Status")
    ]


def test_to_text_orders_problems_first_keeping_input_order(report: Report) -> None:
    rows = rows_of(report.to_text())
    # Drift (4 alerts, then the warning), Data quality (ok, skipped), Performance (ok).
    assert [row.split()[0] for row in rows] == [
        "alert",
        "alert",
        "alert",
        "alert",
        "warning",
        "ok",
        "skipped",
        "ok",
    ]
    assert [row.split()[2] for row in rows[:3]] == ["age", "income", "height"]


def test_to_text_has_a_section_per_family_in_a_fixed_order(report: Report) -> None:
    text = report.to_text()
    assert headings_of(text) == ["Drift", "Data quality", "Performance"]
    lines = text.splitlines()
    assert lines[0] == "Status: alert — 4 alerts, 1 warning, 2 ok, 1 skipped"  # still on top
    assert "Drift — 4 alerts, 1 warning" in lines
    assert "Data quality — 0 alerts, 0 warnings, 1 ok, 1 skipped" in lines
    assert "Performance — 0 alerts, 0 warnings, 1 ok" in lines
    # Each section holds its own family's checks only.
    sections = text.split("\n\n")[1:]
    assert [{row.split()[1].split(".")[0] for row in rows_of(s)} for s in sections] == [
        {"drift"},
        {"quality"},
        {"performance"},
    ]


def test_to_text_sections_for_segments_and_other_families() -> None:
    report = Report(
        [
            CheckResult("custom.freshness", None, 3.0),
            drift("age", 0.05, status="ok"),
            CheckResult("drift.ks", "age", 0.4, status="alert", segment="plan=basic"),
            CheckResult("quality.missing_rate", "age", 0.0, segment="plan=basic"),
            CheckResult("drift.ks", "age", 0.01, segment="plan=pro"),
        ]
    )
    text = report.to_text()
    assert headings_of(text) == ["Drift", "Custom", "Segment plan=basic", "Segment plan=pro"]
    basic = text.split("Segment plan=basic — 1 alert, 0 warnings, 1 ok\n")[1].split("\n\n")[0]
    assert [row.split()[:2] for row in rows_of(basic)] == [
        ["alert", "drift.ks"],
        ["ok", "quality.missing_rate"],
    ]
    problems = report.to_text(only="problems")
    assert headings_of(problems) == ["Segment plan=basic"]  # sections without problems go
    assert len(rows_of(problems)) == 1


def test_to_text_aligns_columns_across_sections(report: Report) -> None:
    text = report.to_text()
    lines = text.splitlines()
    headers = [line for line in lines if line.startswith("status")]
    assert len(headers) == 3
    assert len(set(headers)) == 1  # the same widths in every section
    header = headers[0]
    assert header.split() == [
        "status",
        "check",
        "column",
        "value",
        "p_value",
        "threshold",
        "reason",
    ]
    # numbers are right-aligned: every row's value ends where the header's "value" ends
    end = header.index("value") + len("value")
    assert all(line[end - 1] != " " for line in rows_of(text))
    rules = [line for line in lines if line.startswith("---")]
    assert len(rules) == 3
    assert all(set(rule) <= {"-", " "} for rule in rules)


def test_to_text_formats_numbers(report: Report) -> None:
    rows = {tuple(line.split()[1:3]): line.split() for line in rows_of(report.to_text())}
    assert rows["drift.wasserstein", "age"][3:6] == ["0.3", "3.2e-05", "0.1"]
    assert rows["drift.wasserstein", "height"][3:6] == ["0.5", "0.01235", "0.1"]
    f1 = next(line for line in report.to_text().splitlines() if "performance.f1" in line)
    assert f1.split()[2:5] == ["–", "0.8123", "–"]  # None renders as an en dash


def test_to_text_only_problems_and_width(report: Report) -> None:
    text = report.to_text(only="problems", width=72)
    assert "quality.missing_rate" not in text
    assert "drift.ks" in text
    assert headings_of(text) == ["Drift"]  # only the section with problems
    assert all(len(line) <= 72 for line in text.splitlines()[2:])
    assert "…" in text  # the long reasons were cut
    ok_only = report.filter(status="ok").to_text(only="problems")
    assert ok_only.splitlines()[-1] == "No alerts or warnings."


@pytest.mark.parametrize(("kwargs", "match"), [({"only": "some"}, "only"), ({"width": 0}, "width")])
def test_to_text_rejects_bad_arguments(
    report: Report, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        report.to_text(**kwargs)  # type: ignore[arg-type]


def test_to_text_escapes_control_characters() -> None:
    report = Report([drift("bad\x1b[31mred\nline\tend", 0.5)])
    text = report.to_text()
    assert "\x1b" not in text
    assert "\t" not in text
    # status, context, blank, heading, header, rule, row: the newline added no line
    assert len(text.splitlines()) == 7
    assert r"bad\x1b[31mred\nline\tend" in text


# ---------------------------------------------------------------------------- Markdown


def test_to_markdown(report: Report) -> None:
    md = report.to_markdown()
    assert md.startswith("**Status: alert** — 4 alerts, 1 warning, 2 ok, 1 skipped\n")
    assert re.findall(r"^### (.+)$", md, flags=re.M) == [
        "Drift — 4 alerts, 1 warning",
        "Data quality — 0 alerts, 0 warnings, 1 ok, 1 skipped",
        "Performance — 0 alerts, 0 warnings, 1 ok",
    ]
    drift_part, quality_part, performance_part = md.split("### ")[1:]
    assert "drift.ks" in drift_part
    assert "<details>" not in drift_part  # every drift check is a problem
    problems, rest = quality_part.split("<details>")
    assert problems.strip().endswith("No alerts or warnings.")
    assert "<summary>2 other checks</summary>" in rest
    assert "quality.missing\\_rate" in rest
    assert rest.rstrip().endswith("</details>")
    assert "<summary>1 other check</summary>" in performance_part


def test_to_markdown_has_segment_sections() -> None:
    md = Report(
        [
            drift("age", 0.05, status="ok"),
            CheckResult("drift.ks", "age", 0.4, status="alert", segment="plan=a|b"),
        ]
    ).to_markdown()
    assert re.findall(r"^### (.+)$", md, flags=re.M) == [
        "Drift — 0 alerts, 0 warnings, 1 ok",
        "Segment plan=a\\|b — 1 alert, 0 warnings",  # the pipe is escaped
    ]


def test_to_markdown_escapes_pipes_and_html() -> None:
    md = Report([drift("a|b", 0.5), drift(SCRIPT, 0.4)]).to_markdown()
    row = next(line for line in md.splitlines() if "a\\|b" in line)
    assert len(re.findall(r"(?<!\\)\|", row)) == 8  # 7 cells, no extra cell from the name
    assert SCRIPT not in md
    assert "&lt;script&gt;" in md


def test_render_chunked_markdown() -> None:
    from watchkeeper.monitor._render import render_chunked_markdown
    from watchkeeper.monitor.chunked import ChunkedReport, ChunkInfo

    many = [drift(f"c{i}", 0.5) for i in range(10)]
    chunked = ChunkedReport(
        [
            ChunkInfo(0, "2026-01-05", None, None, 100),
            ChunkInfo(1, "rows|1", None, None, 80, partial=True),
            ChunkInfo(2, "2026-01-07", None, None, 90),
        ],
        [
            Report([drift("age", 0.01, status="ok")]),
            Report([CheckResult("drift.ks", "a_b", 0.2, status="warning", segment="p=x")]),
            Report(many),
        ],
        metadata={"thresholds": "fixed", "consecutive": 2},
    )
    md = render_chunked_markdown(chunked)
    lines = md.splitlines()
    assert lines[0] == "**Status: alert** — 3 chunks: 1 alert, 1 warning, 1 ok"
    assert "alerts need 2 chunk(s) in a row" in md
    assert "| chunk | rows | status | problems |" in lines
    assert "| 2026-01-05 | 100 | ok | – |" in lines
    assert "| rows\\|1 | 80 (partial) | warning | drift.ks\\[a\\_b \\| p=x\\] |" in lines
    last = lines[-1]
    assert last.count("drift.wasserstein") == 8
    assert last.endswith("and 2 more |")


# ---------------------------------------------------------------------------- HTML


def test_repr_html_escapes_names(report: Report) -> None:
    evil = Report([drift(SCRIPT, 0.5), *report.checks], metadata={"note": SCRIPT})
    fragment = evil._repr_html_()
    assert "<script" not in fragment
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in fragment
    assert fragment.startswith('<div class="watchkeeper-report fragment">')
    assert "<body" not in fragment
    assert "<html" not in fragment
    assert "drift.dataset" in fragment
    assert '<span class="status-alert">alert</span>' in fragment


def test_to_html_writes_a_standalone_document(report: Report, tmp_path: Path) -> None:
    evil = Report([drift(SCRIPT, 0.5), *report.checks], metadata={"note": SCRIPT})
    path = tmp_path / "report.html"
    document = evil.to_html(path)
    written = path.read_text(encoding="utf-8")
    assert written == document
    assert written.startswith("<!DOCTYPE html>")
    assert written.rstrip().endswith("</html>")
    assert "<script" not in written
    assert "<link" not in written
    assert "&lt;script&gt;" in written
    assert report.to_html().startswith("<!DOCTYPE html>")
    # hand-made drift results carry no plot data: each column still gets its figure
    for column in ("age", "income", "city", "height"):
        assert f'data-column="{column}"' in written
    assert "<svg" not in written
    assert written.count("the check has no plot data") == 5  # and the hostile one


# ---------------------------------------------------------------------------- rich


def test_print_rich_prints_names_literally(report: Report) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None)
    Report([drift("[bold]x[/bold]", 0.5), *report.checks]).print_rich(console)
    out = buffer.getvalue()
    assert out.startswith("Status: alert")
    assert "[bold]x[/bold]" in out  # not interpreted as markup
    assert "quality.missing_rate" in out
    buffer.truncate(0)
    buffer.seek(0)
    report.print_rich(console, only="problems")
    assert "quality.missing_rate" not in buffer.getvalue()


def test_print_rich_has_sections(report: Report) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None)
    segment = CheckResult("drift.ks", "a", 0.4, status="alert", segment="plan=x")
    Report([*report.checks, segment]).print_rich(console)
    titles = [line.split(" — ")[0] for line in buffer.getvalue().splitlines() if " — " in line]
    assert titles == ["Status: alert", "Drift", "Data quality", "Performance", "Segment plan=x"]
    buffer.truncate(0)
    buffer.seek(0)
    report.filter(status="ok").print_rich(console, only="problems")
    assert buffer.getvalue().splitlines()[-1] == "No alerts or warnings."


# ---------------------------------------------------------------------------- layering

_FORBIDDEN_AT_IMPORT = ("pandas", "rich", "watchkeeper.store", "watchkeeper.server")
_FORBIDDEN_ANYWHERE = ("watchkeeper.store", "watchkeeper.server", "watchkeeper.cli")


@pytest.mark.parametrize("module", ["report", "_render", "_format", "_summary"])
def test_report_modules_import_no_heavy_or_delivery_module_at_import_time(module: str) -> None:
    import watchkeeper.monitor

    source = Path(watchkeeper.monitor.__file__).with_name(f"{module}.py").read_text("utf-8")
    tree = ast.parse(source)

    def imported(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        if isinstance(node, ast.ImportFrom):
            return [node.module or ""]
        return []

    top_level = [
        name
        for node in tree.body  # `if TYPE_CHECKING:` blocks are ast.If, so skipped here
        for name in imported(node)
    ]
    everywhere = [name for node in ast.walk(tree) for name in imported(node)]
    assert not [n for n in top_level if n.startswith(_FORBIDDEN_AT_IMPORT)]
    assert not [n for n in everywhere if n.startswith(_FORBIDDEN_ANYWHERE)]
