"""``MonitoringReport``: the HTML page of a model's monitoring history, from synthetic runs
(exact chart counts, ordering, downloads, escaping, size) and from a real project through
``watchkeeper report``."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import drifted_churn_project
from typer.testing import CliRunner

import watchkeeper
from watchkeeper.cli._app import app
from watchkeeper.datasets import CHURN_FEATURES
from watchkeeper.ops import run_monitor
from watchkeeper.ops._history import StoredRun
from watchkeeper.registry._records import Event
from watchkeeper.report import MonitoringReport
from watchkeeper.results import CheckResult

T0 = datetime(2026, 1, 5, tzinfo=UTC)
DAY = timedelta(days=1)
N_RUNS, N_FEATURES = 30, 25
DRIFTED = "f07"  # alerts from run 10 on
HOSTILE = '<script>alert("pwned")</script>'


def run_at(i: int, checks: list[CheckResult], detectors: dict[str, Any] | None = None) -> StoredRun:
    return StoredRun(
        id=i + 1,
        model="churn",
        version=1 if i < 20 else 2,
        alias="production",
        ran_at=T0 + i * DAY,
        window_start=T0 + (i - 1) * DAY,
        window_end=T0 + i * DAY,
        reference="baseline",
        source="schedule",
        status="alert" if i >= 10 else "ok",
        n_rows=500,
        n_labeled=250,
        label_coverage=0.5,
        duration_seconds=0.1,
        summary={},
        detectors=detectors or {},
        checks=tuple(checks),
    )


def drift_value(feature: int, i: int) -> float:
    return (
        0.01
        + 0.001 * feature
        + 0.0001 * i
        + (0.2 if f"f{feature:02d}" == DRIFTED and i >= 10 else 0)
    )


def synthetic_runs() -> list[StoredRun]:
    runs = []
    for i in range(N_RUNS):
        checks = []
        for f in range(N_FEATURES):
            value = drift_value(f, i)
            checks.append(
                CheckResult(
                    check="drift.wasserstein",
                    column=f"f{f:02d}",
                    value=value,
                    threshold=0.1,
                    status="alert" if value > 0.1 else "ok",
                    details={"role": "feature", "bins": list(range(20))},
                )
            )
        checks.append(  # prediction drift is not a feature chart
            CheckResult(
                check="drift.wasserstein",
                column="churn_score",
                value=0.3,
                threshold=0.1,
                status="alert",
                details={"role": "prediction_proba"},
            )
        )
        checks.append(CheckResult(check="drift.dataset", column=None, value=0.1, status="ok"))
        accuracy = 0.85 if i < 15 else 0.70
        checks.append(
            CheckResult(
                check="performance.accuracy",
                column=None,
                value=accuracy,
                reference_value=0.85,
                threshold=0.05,
                status="alert" if accuracy < 0.8 else "ok",
                reason="accuracy fell below the floor" if accuracy < 0.8 else "",
            )
        )
        for column in ("tenure", "monthly_charges"):
            rate = 0.2 if column == "tenure" and i == 29 else 0.01
            checks.append(
                CheckResult(
                    check="quality.missing_rate",
                    column=column,
                    value=rate,
                    threshold=0.1,
                    status="warning" if rate > 0.1 else "ok",
                )
            )
        checks.append(
            CheckResult(check="monitor.label_coverage", column=None, value=0.5, threshold=0.1)
        )
        detectors = {"adwin": {"drift": i in (16, 22), "warning": False, "n": 250}}
        runs.append(run_at(i, checks, detectors))
    return runs


def event(i: int, kind: str, at: datetime, reason: str, **kw: Any) -> Event:
    fields: dict[str, Any] = {
        "version": None,
        "alias": None,
        "from_version": None,
        "to_version": None,
        "trigger": None,
        "details": {},
    }
    fields.update(kw)
    return Event(
        id=i, model="churn", kind=kind, reason=reason, actor="watchkeeper", created_at=at, **fields
    )


def synthetic_events() -> list[Event]:
    return [
        event(1, "version_registered", T0 - DAY, "registered", version=1),
        event(
            2,
            "alias_move",
            T0 - DAY,
            "first deploy",
            alias="production",
            to_version=1,
            trigger="manual",
        ),
        event(3, "policy_decision", T0 + 3 * DAY, "nothing to do", details={"action": "none"}),
        event(
            4,
            "policy_decision",
            T0 + 18 * DAY,
            "accuracy below floor",
            details={"action": "retrain"},
        ),
        event(5, "retrain", T0 + 19 * DAY, "retrained", version=2),
        event(6, "gate", T0 + 19 * DAY, "challenger wins", version=2, details={"passed": True}),
        event(
            7,
            "alias_move",
            T0 + 20 * DAY,
            "policy deploy",
            alias="production",
            from_version=1,
            to_version=2,
            trigger="policy",
        ),
        event(
            8,
            "alias_move",
            T0 + 25 * DAY,
            f"guard: v2 regressed {HOSTILE}",
            alias="production",
            from_version=2,
            to_version=1,
            trigger="rollback",
        ),
    ]


class Collector(HTMLParser):
    """Parses the page (raising nothing on well-formed input) and collects the links."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append(dict(attrs))
        if tag == "script":
            self.scripts += 1


def parse_page(html: str) -> Collector:
    parser = Collector()
    parser.feed(html)
    parser.close()
    return parser


def svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(s) for s in re.findall(r"<svg.*?</svg>", html, flags=re.S)]


def decode(uri: str) -> str:
    head, _, payload = uri.partition(",")
    assert head.endswith(";base64")
    return base64.b64decode(payload).decode()


def downloads(page: Collector) -> dict[str, str]:
    return {str(a["download"]): str(a["href"]) for a in page.links if a.get("download")}


@pytest.fixture(scope="module")
def page() -> str:
    return MonitoringReport("churn", synthetic_runs(), synthetic_events()).to_html()


def test_page_parses_and_has_every_chart(page: str) -> None:
    parsed = parse_page(page)
    assert parsed.scripts == 0
    # 25 features + accuracy + the missing rate that warned + label coverage + detector
    # firings; the missing rate that stayed ok is listed, not drawn
    charts = svgs(page)
    assert page.count("<svg") == len(charts) == N_FEATURES + 1 + 1 + 1 + 1
    quiet = page[page.index('id="quality-quiet"') :]
    assert "quality.missing_rate on monthly_charges." in quiet[: quiet.index("</p>")]
    drift = page[page.index('id="drift"') : page.index('id="performance"')]
    assert "churn_score" not in drift  # prediction drift is not a feature chart
    for needle in ("http://", "https://"):  # offline: only the SVG namespace
        assert set(re.findall(needle + r"[^\s\"']*", page)) <= {"http://www.w3.org/2000/svg"}
    # deployments and rollbacks inside the period are vertical lines on every line chart
    first = next(c for c in charts if "line" in c.attrib["class"])
    classes = [e.attrib["class"] for e in first.iter("{http://www.w3.org/2000/svg}line")]
    assert classes.count("event deploy") == 1
    assert classes.count("event rollback") == 1


def test_summary_ranks_performance_then_drift_then_quality(page: str) -> None:
    table = page[page.index('id="first"') : page.index("</table>", page.index('id="first"'))]
    order = re.findall(r"<td>((?:performance|drift|quality)\.[a-z_]+)</td>", table)
    assert order[0] == "performance.accuracy"
    assert order[1] == "drift.wasserstein"
    assert order[-1] == "quality.missing_rate"
    assert "v1, v2" in page
    assert "Runs<b>30</b>" in page


def test_features_with_alerts_come_first(page: str) -> None:
    section = page[page.index('id="drift"') : page.index('id="performance"')]
    keys = re.findall(r'data-key="drift:drift.wasserstein:(f\d\d)"', section)
    assert len(keys) == N_FEATURES
    assert keys[0] == DRIFTED
    assert keys[1:] == sorted(k for k in keys if k != DRIFTED)


def test_csv_behind_a_chart_is_the_stored_values(page: str) -> None:
    links = downloads(parse_page(page))
    rows = list(csv.DictReader(io.StringIO(decode(links[f"drift-{DRIFTED}.csv"]))))
    assert len(rows) == N_RUNS
    assert [float(r["value"]) for r in rows] == [drift_value(7, i) for i in range(N_RUNS)]
    assert [r["status"] for r in rows] == ["ok"] * 10 + ["alert"] * 20
    assert [r["ran_at"] for r in rows] == [(T0 + i * DAY).isoformat() for i in range(N_RUNS)]
    perf = list(csv.DictReader(io.StringIO(decode(links["performance-accuracy.csv"]))))
    assert [float(r["reference"]) for r in perf] == [0.85] * N_RUNS
    assert {"quality-missing_rate-tenure.csv", "label-coverage.csv"} <= set(links)
    firings = decode(links["concept-drift-firings.csv"])
    assert firings == "detector,firings\nadwin,2\n"


def test_json_download_round_trips(page: str) -> None:
    report = MonitoringReport("churn", synthetic_runs(), synthetic_events())
    links = downloads(parse_page(page))
    data = json.loads(decode(links["churn-monitoring.json"]))
    assert data == json.loads(json.dumps(report.to_dict()))
    assert len(data["runs"]) == N_RUNS
    values = [c["value"] for r in data["runs"] for c in r["checks"] if c["column"] == DRIFTED]
    assert values == [drift_value(7, i) for i in range(N_RUNS)]


def test_timeline_lists_the_rollback_with_its_reason(page: str) -> None:
    table = page[page.index('id="events"') :]
    rows = re.findall(r'<tr class="([a-z_]+)">(.*?)</tr>', table, flags=re.S)
    kinds = [k for k, _ in rows]
    # the "none" policy decision and the version registration are left out
    assert kinds == ["alias_move", "policy_decision", "retrain", "gate", "alias_move", "alias_move"]
    rollback = rows[-1][1]
    assert "rollback production: v2 -&gt; v1 (rollback)" in rollback
    assert "guard: v2 regressed &lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in rollback
    assert HOSTILE not in page


def test_hostile_names_are_escaped() -> None:
    runs = [
        run_at(
            i,
            [
                CheckResult(
                    check="drift.jensen_shannon",
                    column=HOSTILE,
                    value=0.5,
                    threshold=0.1,
                    status="alert",
                    reason=HOSTILE,
                )
            ],
        )
        for i in range(3)
    ]
    html = MonitoringReport(HOSTILE, runs, synthetic_events()).to_html()
    assert "<script" not in html
    assert len(svgs(html)) == 1
    parse_page(html)


def test_size_at_25_features_by_30_runs(page: str) -> None:
    assert len(page.encode()) <= 2_000_000


def test_plot_data_in_check_details_stays_out_of_the_page(page: str) -> None:
    # Drift checks carry the numbers of their distribution charts; the history page draws
    # values over time and must not grow with them.
    histogram = {"edges": [i / 10 for i in range(21)], "reference": [7] * 20, "current": [9] * 20}
    runs = [
        replace(
            run,
            checks=tuple(
                replace(c, details={**c.details, "histogram": histogram}) for c in run.checks
            ),
        )
        for run in synthetic_runs()
    ]
    heavy = MonitoringReport("churn", runs, synthetic_events()).to_html()
    assert len(heavy) == len(page)
    data = decode(downloads(parse_page(heavy))["churn-monitoring.json"])
    assert "histogram" not in data


def test_no_runs_renders_a_clear_page(tmp_path: Path) -> None:
    out = tmp_path / "empty.html"
    html = MonitoringReport("churn", [], synthetic_events()).to_html(out)
    assert out.read_text(encoding="utf-8") == html
    assert "No monitor runs yet for churn" in html
    assert "<svg" not in html
    assert 'id="events"' in html  # the timeline still shows
    parse_page(html)


def test_period_filters_events() -> None:
    report = MonitoringReport(
        "churn", synthetic_runs()[:5], synthetic_events(), since=T0, until=T0 + 5 * DAY
    )
    assert [e.id for e in report.events] == [3]
    html = report.to_html()
    assert "No deployments, rollbacks, retrains or policy decisions" in html


# ---------------------------------------------------------------------- a real project


def test_report_command_on_a_real_project(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    drifted_churn_project(folder, n_train=2_000, n_window=800)
    with watchkeeper.Project(folder) as project:
        stored = run_monitor(project, "churn").stored
    features = {
        c.column
        for c in stored.checks
        if c.family == "drift"
        and c.column in CHURN_FEATURES
        and c.details.get("role", "feature") == "feature"
    }
    assert features

    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        app, ["report", "churn", "--output", str(out), "--project", str(folder)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out)
    html = out.read_text(encoding="utf-8")
    parse_page(html)
    charts = svgs(html)
    drift = html[html.index('id="drift"') : html.index('id="performance"')]
    assert drift.count("<svg") == len(features)
    assert len(charts) >= len(features) + 1  # and label coverage
    assert "Runs<b>1</b>" in html

    missing = CliRunner().invoke(
        app, ["report", "nope", "--output", str(out), "--project", str(folder)]
    )
    assert missing.exit_code == 2
    assert "No registered model named 'nope'" in missing.output
    bad = CliRunner().invoke(
        app, ["report", "churn", "-o", str(out), "--since", "soon", "--project", str(folder)]
    )
    assert bad.exit_code == 2
    assert "--since must be an ISO 8601 date" in bad.output


def test_summary_tells_what_happened_in_time_order(page: str) -> None:
    table = page[page.index('id="story"') : page.index("</table>", page.index('id="story"'))]
    kinds = re.findall(r'<tr class="story-([a-z]+)">', table)
    # the first deploy, churn_score drift from run 0, f07 from run 10, accuracy from run 15,
    # the retrain and gate, the policy's deploy of v2, the rollback
    assert kinds == ["deploy", "alert", "alert", "alert", "retrain", "gate", "deploy", "rollback"]
    # peak at the last run: 0.01 + 0.007 + 0.0029 + 0.2 = 0.2199
    assert "drift: f07 0.22 (20 runs, still alerting)" in table
    assert "performance: accuracy 0.7 (15 runs, still alerting)" in table
    assert '<td class="when">15 Jan 00:00 to 03 Feb 00:00</td>' in table
    assert "production rolled back from v2 to v1 by a manual rollback" in table
    assert HOSTILE not in table  # escaped
    assert "&lt;script&gt;" in table


def test_performance_charts_draw_each_runs_band_and_export_it() -> None:
    runs = []
    for i in range(4):
        value = 0.85 - 0.05 * i
        check = CheckResult(
            check="performance.roc_auc",
            column=None,
            value=value,
            reference_value=0.85,
            threshold=0.02,
            status="alert" if value < 0.8 else "ok",
            details={"band_lower": 0.8 - 0.01 * i, "band_upper": 0.9 + 0.01 * i},
        )
        runs.append(run_at(i, [check] if i != 2 else []))  # run 2 has no labels
    page = MonitoringReport("churn", runs).to_html()
    section = page[page.index('id="performance"') : page.index('id="quality"')]
    (chart,) = svgs(section)
    polygons = list(chart.iter("{http://www.w3.org/2000/svg}polygon"))
    assert [p.attrib["class"] for p in polygons] == ["band", "band"]  # runs 0-1 and 3
    (uri,) = [v for k, v in downloads(parse_page(section)).items() if k.endswith(".csv")]
    rows = list(csv.DictReader(io.StringIO(decode(uri))))
    assert [r["band_lower"] for r in rows] == ["0.8", "0.79", "", "0.77"]
    assert [r["band_upper"] for r in rows] == ["0.9", "0.91", "", "0.93"]


def test_naive_times_are_utc_and_an_empty_period_is_refused() -> None:
    naive = MonitoringReport(
        "churn", synthetic_runs(), synthetic_events(), since=datetime(2026, 1, 20)
    )
    assert naive.since == datetime(2026, 1, 20, tzinfo=UTC)
    assert [e.id for e in naive.events] == [4, 5, 6, 7, 8]  # from 23 Jan on
    with pytest.raises(watchkeeper.errors.InvalidParameterError, match=r"'until' .* after 'since'"):
        MonitoringReport("churn", [], since=T0, until=T0)


def test_shadow_moves_are_not_drawn_as_deployments_or_rollbacks() -> None:
    events = [
        *synthetic_events(),
        event(
            9,
            "alias_move",
            T0 + 20 * DAY,
            "watch",
            alias="shadow",
            to_version=1,
            trigger="policy",
            details={"guard_of": 2},
        ),
        event(
            10,
            "alias_move",
            T0 + 25 * DAY,
            "stop",
            alias="shadow",
            from_version=1,
            to_version=None,
            trigger="guard",
        ),
    ]
    page = MonitoringReport("churn", synthetic_runs(), events).to_html()
    first = next(c for c in svgs(page) if "line" in c.attrib["class"])
    classes = [e.attrib["class"] for e in first.iter("{http://www.w3.org/2000/svg}line")]
    assert classes.count("event deploy") == 1
    assert classes.count("event rollback") == 1
    assert "vNone" not in page


def test_a_period_without_runs_still_tells_its_events() -> None:
    page = MonitoringReport("churn", [], synthetic_events()).to_html()
    assert "No monitor runs yet" in page
    table = page[page.index('id="story"') : page.index("</table>", page.index('id="story"'))]
    assert re.findall(r'<tr class="story-([a-z]+)">', table) == [
        "deploy",
        "retrain",
        "gate",
        "deploy",
        "rollback",
    ]


def test_the_json_has_the_story_and_the_bands() -> None:
    check = CheckResult(
        "performance.roc_auc",
        None,
        0.7,
        reference_value=0.85,
        threshold=0.02,
        status="alert",
        details={"band_lower": 0.8, "band_upper": 0.9},
    )
    data = MonitoringReport("churn", [run_at(0, [check])], synthetic_events()).to_dict()
    (stored,) = data["runs"][0]["checks"]
    assert stored["band"] == [0.8, 0.9]
    assert [line["kind"] for line in data["story"]][:2] == ["deploy", "alert"]
    assert data["story"][1]["text"] == "performance: roc_auc 0.7 (the latest run)"
    json.dumps(data, allow_nan=False)
