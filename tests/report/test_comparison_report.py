"""``Report.to_html`` and ``Report._repr_html_``: one comparison as an offline page with a
distribution chart per column. The page is read with the stdlib HTML parser: section order,
the ranked columns, the exact number of charts, unseen categories, escaping, the CSV and JSON
downloads, the scoped notebook stylesheet, and the size of a 25-feature report."""

from __future__ import annotations

import base64
import csv
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import watchkeeper
from watchkeeper.datasets import churn, churn_schema_hints
from watchkeeper.monitor.report import Report
from watchkeeper.results import CheckResult

NS = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("pwned")</script>'
HINTS = churn_schema_hints()
ROLES = {k: v for k, v in HINTS.roles.items() if k not in ("id", "timestamp")}
SEVERITY = {"alert": 0, "warning": 1}
FAMILY_RANK = {"performance": 0, "drift": 1, "quality": 2}


@dataclass
class Figure:
    id: str
    column: str
    status: str
    svgs: list[ET.Element] = field(default_factory=list)
    text: str = ""


class Page(HTMLParser):
    """Collects what the tests read: sections, figures with their charts, tables, links."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self.sections: list[str] = []
        self.figures: list[Figure] = []
        self.charts: list[ET.Element] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.links: list[dict[str, str | None]] = []
        self.styles: list[str] = []
        self.scripts = 0
        self.tags: list[str] = []
        self._figure: Figure | None = None
        self._svg_start: int | None = None
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self._in_style = False
        self.feed(source)
        self.close()

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "script":
            self.scripts += 1
        elif tag == "style":
            self._in_style = True
        elif tag == "section":
            self.sections.append(str(a.get("id")))
        elif tag == "figure" and a.get("data-column") is not None:
            status = str(a.get("class")).split()[-1]
            self._figure = Figure(str(a.get("id")), str(a["data-column"]), status)
            self.figures.append(self._figure)
        elif tag == "svg":
            self._svg_start = self._offset()
        elif tag == "table":
            self._table = self.tables.setdefault(str(a.get("id")), [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "a":
            self.links.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False
        elif tag == "figure":
            self._figure = None
        elif tag == "svg" and self._svg_start is not None:
            end = self.source.index("</svg>", self._offset()) + len("</svg>")
            svg = ET.fromstring(self.source[self._svg_start : end])
            if "chart" in svg.attrib.get("class", "").split():
                self.charts.append(svg)
                if self._figure is not None:
                    self._figure.svgs.append(svg)
            self._svg_start = None
        elif tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._cell is not None and self._table is not None:
            self._table[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._figure is not None and self._svg_start is None:
            self._figure.text += data

    def downloads(self) -> dict[str, str]:
        return {str(a["download"]): str(a["href"]) for a in self.links if a.get("download")}

    def figure(self, column: str) -> Figure:
        (found,) = [f for f in self.figures if f.column == column]
        return found


def decode(uri: str) -> str:
    head, _, payload = uri.partition(",")
    assert head.startswith("data:")
    assert head.endswith(";base64")
    return base64.b64decode(payload).decode("utf-8")


def rows_of(uri: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(decode(uri))))


def bars(svg: ET.Element, css: str) -> list[ET.Element]:
    return [r for r in svg.iter(f"{NS}rect") if r.attrib.get("class") == f"bar {css}"]


@pytest.fixture(scope="module")
def churn_report() -> Report:
    reference = churn(6_000, seed=1)
    current = churn(4_000, seed=2, scenario="covariate_drift")
    return watchkeeper.compare(reference, current, **ROLES)


@pytest.fixture(scope="module")
def churn_page(churn_report: Report) -> Page:
    return Page(churn_report.to_html())


def test_summary_comes_first_and_every_column_has_one_chart(churn_page: Page) -> None:
    sections = churn_page.sections
    assert sections[0] == "summary"
    assert sections.index("summary") < sections.index("columns") < sections.index("quality")
    assert sections.index("quality") < sections.index("performance")
    # one distribution chart per compared column: every column of the frame but the id and
    # the timestamp (the features, the target, the prediction and the score)
    compared = [c for c in churn(10, seed=1).columns if c not in (HINTS.id, HINTS.timestamp)]
    assert set(compared) == set(HINTS.features) | set(ROLES.values())
    assert len(churn_page.charts) == len(compared)
    assert len(churn_page.figures) == len(compared)
    assert {f.column for f in churn_page.figures} == set(compared)
    assert all(len(f.svgs) == 1 for f in churn_page.figures)
    for svg in churn_page.charts:
        assert svg.find(f"{NS}title") is not None
    assert churn_page.scripts == 0


def test_drifted_columns_come_first_in_ranked_order(churn_report: Report, churn_page: Page) -> None:
    drift = [c for c in churn_report.checks if c.family == "drift" and c.column is not None]
    alerts = sorted((c for c in drift if c.status == "alert"), key=lambda c: -(c.value or 0))
    assert {"monthly_charges", "tenure_months", "contract"} <= {c.column for c in alerts}
    shown = [f.column for f in churn_page.figures]
    assert shown[: len(alerts)] == [c.column for c in alerts]
    assert [f.status for f in churn_page.figures[: len(alerts)]] == ["alert"] * len(alerts)
    ranked = churn_page.tables["drifted"][1:]
    assert [row[1] for row in ranked] == [c.column for c in alerts]
    assert [row[0] for row in ranked] == [str(i + 1) for i in range(len(alerts))]
    # the drifted table links to the figures
    anchors = {f.column: f.id for f in churn_page.figures}
    hrefs = [a["href"] for a in churn_page.links if str(a.get("href", "")).startswith("#")]
    assert f"#{anchors[alerts[0].column or '']}" in hrefs


def test_look_first_ranks_performance_then_drift_then_quality(
    churn_report: Report, churn_page: Page
) -> None:
    rows = churn_page.tables["first"][1:]
    assert rows
    keys = [(SEVERITY[row[0]], FAMILY_RANK.get(row[1].split(".")[0], 3)) for row in rows]
    assert keys == sorted(keys)
    families = {check.split(".")[0] for _, check, *_ in rows}
    assert {"performance", "drift"} <= families
    problems = [c for c in churn_report.checks if c.status in ("alert", "warning")]
    assert len(rows) == min(10, len(problems))


def test_what_changed_has_one_sentence_per_family_with_problems(
    churn_report: Report, churn_page: Page
) -> None:
    html = churn_report.to_html()
    changed = html[html.index('id="changed"') : html.index("Look at first")]
    sentences = re.findall(r"<li>(.*?)</li>", changed, flags=re.S)
    families = {c.family for c in churn_report.checks if c.status in ("alert", "warning")}
    titles = {"performance": "Performance:", "drift": "Drift:", "quality": "Data quality:"}
    assert len(sentences) == len(families)
    for family in families:
        assert sum(s.startswith(titles[family]) for s in sentences) == 1
    drift_sentence = next(s for s in sentences if s.startswith("Drift:"))
    assert "monthly_charges" in drift_sentence


def test_figures_show_the_statistic_threshold_and_verdict(
    churn_report: Report, churn_page: Page
) -> None:
    (check,) = churn_report.filter(column="tenure_months", family="drift").checks
    text = " ".join(churn_page.figure("tenure_months").text.split())
    assert check.reason in text
    assert "ks statistic" in text
    assert "alert at 0.1" in text
    quality = [c.check for c in churn_report.for_column("tenure_months") if c.family == "quality"]
    assert quality
    assert all(name.split(".", 1)[1] in text for name in quality)


def test_csv_downloads_are_the_plotted_numbers(churn_report: Report, churn_page: Page) -> None:
    links = churn_page.downloads()
    for figure in churn_page.figures:
        (check,) = [
            c for c in churn_report.checks if c.column == figure.column and c.family == "drift"
        ]
        (uri,) = [v for k, v in links.items() if k == f"distribution-{figure.column}.csv"]
        rows = rows_of(uri)
        (svg,) = figure.svgs
        drawn = bars(svg, "reference") + bars(svg, "current")
        if "histogram" in check.details:
            h = check.details["histogram"]
            assert [float(r["bin_start"]) for r in rows] == h["edges"][:-1]
            assert [float(r["bin_end"]) for r in rows] == h["edges"][1:]
            assert [int(r["reference_count"]) for r in rows] == h["reference"]
            assert [int(r["current_count"]) for r in rows] == h["current"]
            sizes = [float(b.attrib["height"]) for b in drawn]
        else:
            d = check.details["distribution"]
            rows = [r for r in rows if r["unseen"] == "false"]
            assert [int(r["reference_count"]) for r in rows] == d["reference"]
            assert [int(r["current_count"]) for r in rows] == d["current"]
            sizes = [float(b.attrib["width"]) for b in drawn]
        shares = [float(r["reference_share"]) for r in rows] + [
            float(r["current_share"]) for r in rows
        ]
        assert sum(float(r["reference_share"]) for r in rows) == pytest.approx(1.0)
        # the bars are drawn to these shares
        for size, share in zip(sizes, shares, strict=True):
            assert size / max(sizes) == pytest.approx(share / max(shares), abs=0.01)


def test_json_download_round_trips(churn_report: Report, churn_page: Page) -> None:
    text = decode(churn_page.downloads()["watchkeeper-report.json"])
    assert Report.from_json(text) == churn_report


def test_offline_no_scripts_no_remote_resources(churn_report: Report) -> None:
    html = churn_report.to_html()
    assert "<script" not in html
    assert "<link" not in html
    # the only URL is the SVG namespace; the page adds no links to anywhere
    assert set(re.findall(r"https?://[^\s\"'<>]*", html)) == {"http://www.w3.org/2000/svg"}
    page = Page(html)
    for link in page.links:
        href = str(link.get("href"))
        assert href.startswith(("#", "data:text/csv;base64,", "data:application/json;base64,"))


def test_unseen_categories_are_marked() -> None:
    reference = pd.DataFrame({"pay": ["card"] * 600 + ["cash"] * 400})
    new = {"crypto": 90, "gold": 70, "barter": 50, "iou": 30, "shells": 20, "beads": 12}
    values = ["card"] * 300 + ["cash"] * 200
    for label, count in new.items():
        values += [label] * count
    report = watchkeeper.compare(reference, pd.DataFrame({"pay": values}))
    page = Page(report.to_html())
    (svg,) = page.figure("pay").svgs
    unseen = bars(svg, "unseen")
    assert len(unseen) == 5 + 1  # five named, the rest in one row
    words = [t.text for t in svg.iter(f"{NS}text") if t.attrib.get("class") == "unseen"]
    assert words == ["unseen"] * 6
    labels = {t.text for t in svg.iter(f"{NS}text")}
    assert {"crypto", "gold", "barter", "iou", "shells", "(other unseen)"} <= labels
    rows = rows_of(page.downloads()["distribution-pay.csv"])
    flagged = {r["category"]: int(r["current_count"]) for r in rows if r["unseen"] == "true"}
    assert flagged == {"crypto": 90, "gold": 70, "barter": 50, "iou": 30, "shells": 20,
                       "(other unseen)": 12}  # fmt: skip


def test_hostile_names_are_escaped() -> None:
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({HOSTILE: rng.normal(0, 1, 500), "c": rng.choice(["a", "b"], 500)})
    current = pd.DataFrame(
        {HOSTILE: rng.normal(2, 1, 400), "c": rng.choice(["a", "b", HOSTILE, "x&y"], 400)}
    )
    report = watchkeeper.compare(reference, current)
    for html in (report.to_html(), report._repr_html_()):
        assert "<script" not in html
        page = Page(html)  # well-formed: every chart parses as XML
        assert page.scripts == 0
        assert len(page.charts) == 2
        figure = page.figure(HOSTILE)  # the name is shown literally
        assert HOSTILE in figure.text
        (svg,) = page.figure("c").svgs
        assert HOSTILE in {t.text for t in svg.iter(f"{NS}text")} | {
            t.text for t in svg.iter(f"{NS}title")
        }
        names = set(page.downloads())
        assert all(re.fullmatch(r"[\w.-]+", n) for n in names)


def test_repr_html_is_a_fragment_with_a_scoped_stylesheet(churn_report: Report) -> None:
    fragment = churn_report._repr_html_()
    page = Page(fragment)
    assert fragment.startswith('<div class="watchkeeper-report fragment">')
    assert fragment.rstrip().endswith("</div>")
    assert not {"html", "head", "body", "link", "script"} & set(page.tags)
    assert "<!DOCTYPE" not in fragment
    (css,) = page.styles
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    assert "@" not in css  # no at-rules that could reach outside the wrapper
    selectors = [
        s.strip() for rule in css.split("}") if "{" in rule for s in rule.split("{")[0].split(",")
    ]
    assert len(selectors) > 20
    for selector in selectors:
        assert selector.startswith(".watchkeeper-report"), selector
    # the same body as the document
    assert len(page.charts) == len(Page(churn_report.to_html()).charts)
    # two fragments on one notebook page: each one's column links land on its own figures
    ids = [
        set(re.findall(r'<figure [^>]*id="([^"]+)"', f))
        for f in (fragment, churn_report._repr_html_())
    ]
    assert ids[0]
    assert not ids[0] & ids[1]
    links = set(re.findall(r'href="#([^"]+)"', fragment))
    assert links
    assert links <= ids[0]


def test_to_html_writes_the_document(churn_report: Report, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    html = churn_report.to_html(path)
    assert path.read_text(encoding="utf-8") == html
    assert html.startswith("<!DOCTYPE html>")
    assert '<body class="watchkeeper-report">' in html


def test_columns_without_plot_data_say_why() -> None:
    reference = pd.DataFrame({"x": np.arange(200.0), "y": np.arange(200.0)})
    current = pd.DataFrame({"x": np.full(100, np.nan), "y": np.arange(100.0)})
    report = watchkeeper.compare(reference, current)
    broken = CheckResult(
        "drift.wasserstein",
        "z",
        0.5,
        threshold=0.1,
        status="alert",
        reason="hand-made",
        details={"histogram": {"edges": [0.0, 1.0], "reference": [1, 2]}},
    )
    page = Page(Report([*report.checks, broken], metadata=report.metadata).to_html())
    skipped = page.figure("x")
    assert skipped.status == "skipped"
    assert skipped.svgs == []
    assert "every value in the current window is missing" in skipped.text
    assert "no plot data" in skipped.text
    z = page.figure("z")
    assert z.svgs == []
    assert "malformed" in z.text
    assert len(page.figure("y").svgs) == 1
    assert set(page.downloads()) == {"distribution-y.csv", "watchkeeper-report.json"}


def test_report_without_checks_renders() -> None:
    page = Page(Report([]).to_html())
    assert page.charts == []
    assert page.sections[0] == "summary"


def test_performance_table_lists_every_metric(churn_report: Report, churn_page: Page) -> None:
    metrics = [c for c in churn_report.checks if c.family == "performance"]
    rows = churn_page.tables["performance-table"][1:]
    assert sorted(r[0] for r in rows) == sorted(c.check.split(".", 1)[1] for c in metrics)
    quality = [c for c in churn_report.checks if c.family == "quality"]
    problems = churn_page.tables.get("quality-problems", [[]])[1:]
    shown = problems + churn_page.tables["quality-rest"][1:]
    assert len(shown) == len(quality)


def test_a_25_feature_report_stays_small(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 50_000
    data: dict[str, Any] = {}
    for i in range(13):
        data[f"num{i:02d}"] = rng.lognormal(i % 4, 1, n)
    for i in range(12):
        levels = [f"level-{j:03d}" for j in range(10 + 30 * i)]
        data[f"cat{i:02d}"] = rng.choice(levels, n)
    reference = pd.DataFrame(data)
    current = reference.sample(frac=0.6, random_state=2).reset_index(drop=True)
    current["num00"] = current["num00"] * 1.5
    current.loc[:4_000, "cat03"] = [f"new-{j}" for j in range(4_001)]
    report = watchkeeper.compare(reference, current)
    html = report.to_html(tmp_path / "big.html")
    page = Page(html)
    assert len(page.charts) == 25
    assert len(html.encode("utf-8")) < 1_000_000


def test_csv_downloads_quote_texts_a_spreadsheet_would_run() -> None:
    rng = np.random.default_rng(1)
    formula = '=HYPERLINK("http://x","y")'
    reference = pd.DataFrame({"c": rng.choice(["a", "-b"], 500), "v": rng.normal(-5, 1, 500)})
    current = pd.DataFrame(
        {"c": rng.choice(["a", "-b", formula], 400), "v": rng.normal(-5, 1, 400)}
    )
    page = Page(watchkeeper.compare(reference, current).to_html())
    downloads = page.downloads()
    (categories,) = [uri for name, uri in downloads.items() if name.startswith("distribution-c")]
    names = {r["category"] for r in rows_of(categories)}
    assert "'" + formula in names
    assert "'-b" in names
    assert formula not in names
    # numbers stay numbers, negative ones included
    (numeric,) = [uri for name, uri in downloads.items() if name.startswith("distribution-v")]
    first = rows_of(numeric)[0]
    assert first["bin_start"].startswith("-")
    assert float(first["bin_start"]) < -6
