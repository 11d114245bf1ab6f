"""The Grafana dashboard (deploy/grafana/dashboards/watchkeeper.json) and its provisioning.

Structure: stable uid, every panel placed, titled and bound to the provisioned datasource.
Queries: every PromQL expression of the panels, annotations and template variable parses
(``promtool check rules``, after substituting Grafana's variables with concrete values) and
uses only the series and labels that ``docs/metrics.md`` lists."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "watchkeeper.json"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
METRICS_DOC = ROOT / "docs" / "metrics.md"

EXPECTED_UID = "watchkeeper-overview"

# Concrete values for Grafana's variables: the dashboard's own and the built-in interval ones.
VALUES = {
    "model": "churn",
    "__rate_interval": "1m",
    "__interval": "1m",
    "__interval_ms": "60000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}
_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")
_METRIC = re.compile(r"\bwatchkeeper_[A-Za-z0-9_]+")
_SELECTOR = re.compile(r"\b(watchkeeper_[A-Za-z0-9_]+)\s*\{([^}]*)\}")
_MATCHER_LABEL = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|on|ignoring|without)\s*\(([^)]*)\)")
_LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_HISTOGRAM_SUFFIX = re.compile(r"_(?:bucket|sum|count)$")
# Labels Prometheus adds to every scraped series, and a histogram bucket's bound.
SCRAPE_LABELS = {"job", "instance"}


@dataclass(frozen=True)
class Query:
    """One PromQL expression of the dashboard and where it comes from."""

    where: str
    expr: str
    legend: str = ""


def _load_dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def _documented_metrics() -> dict[str, set[str]]:
    """Every metric of docs/metrics.md's table, with its labels."""
    metrics: dict[str, set[str]] = {}
    for line in METRICS_DOC.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|\s*`(watchkeeper_\w+)`\s*\|[^|]*\|([^|]*)\|", line)
        if match:
            labels = {label.strip() for label in match.group(2).split(",") if label.strip()}
            metrics[match.group(1)] = labels
    return metrics


def _provisioned_datasource() -> dict[str, Any]:
    config = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))
    sources = [s for s in config["datasources"] if s["type"] == "prometheus"]
    assert len(sources) == 1, "the provisioning file should define one Prometheus datasource"
    source: dict[str, Any] = sources[0]
    return source


def _query_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel that queries (rows excluded), including panels inside collapsed rows."""
    found: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            found.extend(panel.get("panels", []))
        else:
            found.append(panel)
    return found


def _all_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [p for p in dashboard["panels"] if p["type"] == "row"]
    return rows + _query_panels(dashboard)


def _prometheus_annotations(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in dashboard["annotations"]["list"] if not a.get("builtIn")]


def _queries(dashboard: dict[str, Any]) -> list[Query]:
    """Every PromQL expression: panel targets, annotations, template-variable queries."""
    queries = [
        Query(f"panel {p['id']} {p['title']!r} target {t['refId']}", t["expr"], t["legendFormat"])
        for p in _query_panels(dashboard)
        for t in p["targets"]
    ]
    queries += [
        Query(f"annotation {a['name']!r}", a["expr"], a.get("titleFormat", ""))
        for a in _prometheus_annotations(dashboard)
    ]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        text = query if isinstance(query, str) else query["query"]
        match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", text.strip())
        assert match, f"variable {variable['name']!r}: expected label_values(SELECTOR, LABEL)"
        queries.append(Query(f"variable {variable['name']!r}", match.group(1)))
    return queries


def substitute(expr: str, values: dict[str, str] = VALUES) -> str:
    """``expr`` with every Grafana variable (``$x``, ``${x}``, ``${x:fmt}``, ``[[x]]``) replaced."""

    def value(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        if name not in values:
            raise KeyError(f"no value for the Grafana variable {name!r} in {expr!r}")
        return values[name]

    return _VARIABLE.sub(value, expr)


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return _load_dashboard()


@pytest.fixture(scope="module")
def datasource_uid() -> str:
    uid: str = _provisioned_datasource()["uid"]
    return uid


def test_substitute_replaces_every_variable_form() -> None:
    expr = 'rate(x{a=~"$model", m="${model}", n="${model:regex}", o="[[model]]"}[$__rate_interval])'
    assert substitute(expr) == 'rate(x{a=~"churn", m="churn", n="churn", o="churn"}[1m])'
    with pytest.raises(KeyError, match="nosuch"):
        substitute("x{a=$nosuch}")


def test_dashboard_identity(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == EXPECTED_UID
    assert dashboard["title"] == "watchkeeper"
    assert dashboard.get("id") is None, "a provisioned dashboard carries no database id"
    assert 36 <= dashboard["schemaVersion"] <= 39, "Grafana 10's schema"
    assert "watchkeeper" in dashboard["tags"]


def test_provisioned_datasource_is_the_compose_prometheus() -> None:
    source = _provisioned_datasource()
    assert source["uid"] == "watchkeeper-prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert source["access"] == "proxy"


def test_panels_have_unique_ids_titles_and_positions(dashboard: dict[str, Any]) -> None:
    panels = _all_panels(dashboard)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {sorted(ids)}"
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        assert isinstance(panel["id"], int)
        assert panel["title"].strip(), f"panel {panel['id']} has no title"
        pos = panel["gridPos"]
        assert set(pos) >= {"h", "w", "x", "y"}, f"panel {panel['title']!r}: incomplete gridPos"
        assert pos["w"] > 0, f"{panel['title']!r} has no width"
        assert pos["h"] > 0, f"{panel['title']!r} has no height"
        assert pos["x"] >= 0, f"{panel['title']!r} is off the grid"
        assert pos["x"] + pos["w"] <= 24, f"{panel['title']!r} is off the grid"
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                other = cells.setdefault((x, y), panel["title"])
                assert other == panel["title"], f"{panel['title']!r} overlaps {other!r}"


def test_panels_query_the_provisioned_datasource(
    dashboard: dict[str, Any], datasource_uid: str
) -> None:
    for panel in _query_panels(dashboard):
        where = f"panel {panel['id']} {panel['title']!r}"
        assert panel["datasource"] == {"type": "prometheus", "uid": datasource_uid}, where
        assert panel["targets"], f"{where} has no query"
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), f"{where}: duplicate refIds {refs}"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == datasource_uid, where
            assert target["expr"].strip(), f"{where} target {target['refId']} has no expr"
    for annotation in _prometheus_annotations(dashboard):
        assert annotation["datasource"]["uid"] == datasource_uid, annotation["name"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == datasource_uid, variable["name"]


def test_model_variable(dashboard: dict[str, Any]) -> None:
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    model = variables["model"]
    assert model["type"] == "query"
    assert model["definition"] == "label_values(watchkeeper_model_info, model)"
    # Every query-panel selects models through the variable, so the picker filters everything
    # except the server-wide prediction-log and scrape-error series (they carry no model label).
    documented = _documented_metrics()
    for query in _queries(dashboard):
        metrics = {_HISTOGRAM_SUFFIX.sub("", m) for m in _METRIC.findall(query.expr)}
        has_model = any("model" in documented.get(m, set()) for m in metrics)
        if has_model and not query.where.startswith("variable"):
            assert "$model" in query.expr, f"{query.where} ignores the model picker"


def test_variables_are_defined(dashboard: dict[str, Any]) -> None:
    defined = {v["name"] for v in dashboard["templating"]["list"]}
    builtin = {name for name in VALUES if name.startswith("__")}
    for query in _queries(dashboard):
        for match in _VARIABLE.finditer(query.expr):
            name = next(group for group in match.groups() if group)
            assert name in defined | builtin, f"{query.where} uses undefined ${name}"


def test_only_documented_metrics_and_labels(dashboard: dict[str, Any]) -> None:
    documented = _documented_metrics()
    assert len(documented) > 30, "docs/metrics.md's table was not parsed"
    used: set[str] = set()
    for query in _queries(dashboard):
        expr = substitute(query.expr)
        metrics = {_HISTOGRAM_SUFFIX.sub("", m) for m in _METRIC.findall(expr)}
        assert metrics, f"{query.where} uses no watchkeeper metric: {expr}"
        unknown = metrics - set(documented)
        assert not unknown, f"{query.where} uses metrics not in docs/metrics.md: {unknown}"
        used |= metrics
        known = set().union(*(documented[m] for m in metrics)) | SCRAPE_LABELS
        for name, matchers in _SELECTOR.findall(expr):
            base = _HISTOGRAM_SUFFIX.sub("", name)
            labels = set(_MATCHER_LABEL.findall(matchers))
            extra = labels - documented[base] - SCRAPE_LABELS
            assert not extra, f"{query.where}: {name} has no label {extra}"
        for group in _GROUPING.findall(expr):
            labels = {label.strip() for label in group.split(",") if label.strip()}
            extra = labels - known - {"le"}
            assert not extra, f"{query.where} groups by unknown labels {extra}"
        legend = set(_LEGEND_LABEL.findall(query.legend))
        assert not legend - known, f"{query.where}: legend uses unknown labels"
    # The table's core series all have a panel.
    for metric in (
        "watchkeeper_requests_total",
        "watchkeeper_request_duration_seconds",
        "watchkeeper_predictions_total",
        "watchkeeper_rejected_requests_total",
        "watchkeeper_feature_drift_score",
        "watchkeeper_feature_drift_threshold",
        "watchkeeper_dataset_drift",
        "watchkeeper_performance_metric",
        "watchkeeper_performance_reference",
        "watchkeeper_quality_violation_ratio",
        "watchkeeper_feature_quality_violation_ratio",
        "watchkeeper_label_coverage_ratio",
        "watchkeeper_concept_drift_detected",
        "watchkeeper_log_queue_depth",
        "watchkeeper_alias_moves_total",
        "watchkeeper_model_info",
    ):
        assert metric in used, f"no query uses {metric}"


# Each topic the dashboard must cover: a panel whose title matches, querying these series.
TOPICS = {
    "request rate": (r"request rate", {"watchkeeper_requests_total"}),
    "prediction rate": (r"prediction rate", {"watchkeeper_predictions_total"}),
    "latency": (r"latency p50 and p99", {"watchkeeper_request_duration_seconds_bucket"}),
    "errors": (r"error ratio", {"watchkeeper_requests_total"}),
    "rejections": (r"rejected requests by reason", {"watchkeeper_rejected_requests_total"}),
    "drift per feature": (
        r"feature drift score",
        {"watchkeeper_feature_drift_score", "watchkeeper_feature_drift_threshold"},
    ),
    "dataset drift": (r"^dataset drift", {"watchkeeper_dataset_drift"}),
    "performance vs baseline": (
        r"performance vs baseline",
        {"watchkeeper_performance_metric", "watchkeeper_performance_reference"},
    ),
    "data quality": (r"quality violation ratio", {"watchkeeper_feature_quality_violation_ratio"}),
    "label coverage": (r"label coverage", {"watchkeeper_label_coverage_ratio"}),
    "concept drift": (r"concept-drift detectors", {"watchkeeper_concept_drift_detected"}),
    "log queue depth": (r"log queue depth", {"watchkeeper_log_queue_depth"}),
}


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_required_panels(dashboard: dict[str, Any], topic: str) -> None:
    pattern, metrics = TOPICS[topic]
    matching = [
        p for p in _query_panels(dashboard) if re.search(pattern, p["title"], re.IGNORECASE)
    ]
    assert matching, f"no panel titled like {pattern!r} ({topic})"
    used = {
        metric
        for panel in matching
        for target in panel["targets"]
        for metric in _METRIC.findall(target["expr"])
    }
    assert metrics <= used, f"{topic}: panels {[p['title'] for p in matching]} miss {metrics}"


def test_latency_panel_reads_the_histogram(dashboard: dict[str, Any]) -> None:
    (panel,) = [p for p in _query_panels(dashboard) if p["title"].startswith("Request latency")]
    quantiles = {
        re.search(r"histogram_quantile\(([\d.]+)", t["expr"]).group(1)  # type: ignore[union-attr]
        for t in panel["targets"]
    }
    assert quantiles == {"0.5", "0.99"}
    assert panel["fieldConfig"]["defaults"]["unit"] == "s"


def test_rates_use_the_rate_interval(dashboard: dict[str, Any]) -> None:
    for query in _queries(dashboard):
        for window in re.findall(r"\b(?:rate|increase|changes)\([^\[]*\[([^\]]+)\]", query.expr):
            assert window == "$__rate_interval", f"{query.where} uses a fixed window [{window}]"


@pytest.mark.parametrize(
    ("name", "triggers", "others"),
    [
        ("Deployments", {"manual", "policy"}, {"rollback", "guard"}),
        ("Rollbacks", {"rollback", "guard"}, {"manual", "policy"}),
    ],
)
def test_alias_move_annotations(
    dashboard: dict[str, Any], name: str, triggers: set[str], others: set[str]
) -> None:
    annotations = {a["name"]: a for a in _prometheus_annotations(dashboard)}
    assert name in annotations, f"no {name!r} annotation"
    annotation = annotations[name]
    assert annotation["enable"] is True
    expr = annotation["expr"]
    assert "watchkeeper_alias_moves_total" in expr
    match = re.search(r'trigger=~"([^"]+)"', expr)
    assert match, f"{name}: the query should select triggers with trigger=~"
    selected = {t for t in triggers | others if re.fullmatch(match.group(1), t)}
    assert selected == triggers
    assert {"model", "alias", "trigger"} <= set(annotation["tagKeys"].split(","))


def _check_rules(path: Path) -> subprocess.CompletedProcess[str]:
    """``promtool check rules PATH`` (skips when promtool is not installed)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus; .ci/run installs it)")
    return subprocess.run(
        [promtool, "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_query_parses_as_promql(dashboard: dict[str, Any], tmp_path: Path) -> None:
    queries = _queries(dashboard)
    rules = [
        {"record": f"dashboard_query_{i}", "expr": substitute(q.expr)}
        for i, q in enumerate(queries)
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = _check_rules(path)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        # Name the query behind each rule promtool refused.
        names = {f"dashboard_query_{i}": q.where for i, q in enumerate(queries)}
        for record, where in names.items():
            output = output.replace(record, f"{record} ({where})")
    assert result.returncode == 0, output
    assert f"SUCCESS: {len(rules)} rules found" in output


def test_promtool_rejects_a_broken_query(tmp_path: Path) -> None:
    """The PromQL check above fails on a bad expression (the check is not vacuous)."""
    expr = substitute('sum by (model (rate(watchkeeper_requests_total{model=~"$model"}[1m]))')
    path = tmp_path / "broken.yml"
    rule = {"record": "broken", "expr": expr}
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [rule]}]}))
    result = _check_rules(path)
    assert result.returncode != 0
