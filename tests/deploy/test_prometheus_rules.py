"""The Prometheus assets in ``deploy/prometheus``: promtool accepts the rules and the
configuration and passes the rules' unit tests; every series and label the rules use is listed
in ``docs/metrics.md``; every alert has ``for``, a severity and annotations, and is unit-tested
both firing and not firing."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "prometheus"
RULES = DEPLOY / "rules.yml"
CONFIG = DEPLOY / "prometheus.yml"
UNIT_TESTS = [DEPLOY / "rules_test.yml", *sorted((DEPLOY / "tests").glob("*.yml"))]
METRICS_DOC = REPO / "docs" / "metrics.md"

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian: apt-get install prometheus; .ci/run installs it)",
)

SEVERITIES = {"critical", "warning", "info"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
#: Labels Prometheus adds itself: the target's, and a histogram bucket's bound.
SCRAPE_LABELS = {"job", "instance"}
_TABLE_ROW = re.compile(r"^\| `(watchkeeper_[a-z_]+)` \| (\w+) \| ([^|]*) \|", re.MULTILINE)
_METRIC = re.compile(r"watchkeeper_[a-z_]+")
_SELECTOR = re.compile(r"(watchkeeper_[a-z_]+)\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_TEMPLATE_LABEL = re.compile(r"\$labels\.(\w+)")


def _promtool(*args: str, cwd: Path | None = None) -> None:
    assert PROMTOOL is not None
    result = subprocess.run(
        [PROMTOOL, *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )
    assert result.returncode == 0, (
        f"promtool {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _rules() -> list[dict[str, Any]]:
    return [rule for group in _load(RULES)["groups"] for rule in group["rules"]]


def _alerts() -> list[dict[str, Any]]:
    return [rule for rule in _rules() if "alert" in rule]


def _documented() -> dict[str, tuple[str, set[str]]]:
    """docs/metrics.md's table: name -> (type, labels)."""
    table = {
        name: (kind, {label.strip() for label in labels.split(",") if label.strip()})
        for name, kind, labels in _TABLE_ROW.findall(METRICS_DOC.read_text())
    }
    assert len(table) > 20, "docs/metrics.md's table of metrics was not found"
    return table


def _base_name(name: str, documented: dict[str, tuple[str, set[str]]]) -> str:
    """``name`` without a histogram's ``_bucket``/``_sum``/``_count`` suffix."""
    for suffix in HISTOGRAM_SUFFIXES:
        base = name.removesuffix(suffix)
        if base != name and documented.get(base, ("", set()))[0] == "histogram":
            return base
    return name


def _without_recorded(text: str, recorded: set[str]) -> str:
    """``text`` with the recording rules' names (``level:watchkeeper_x:op``) blanked out."""
    for name in sorted(recorded, key=len, reverse=True):
        text = text.replace(name, " ")
    return text


def _rule_texts(rule: dict[str, Any]) -> list[str]:
    """The expression and the annotations (their templates may query series too)."""
    return [str(rule["expr"]), *(str(v) for v in rule.get("annotations", {}).values())]


# ---------------------------------------------------------------------------- promtool
@needs_promtool
def test_promtool_check_rules() -> None:
    _promtool("check", "rules", str(RULES))


@needs_promtool
def test_promtool_unit_tests() -> None:
    _promtool("test", "rules", *(str(path) for path in UNIT_TESTS))


@needs_promtool
def test_promtool_check_config(tmp_path: Path) -> None:
    # The configuration names rules.yml relative to itself: check a copy of the pair.
    shutil.copy(CONFIG, tmp_path / "prometheus.yml")
    shutil.copy(RULES, tmp_path / "rules.yml")
    _promtool("check", "config", "prometheus.yml", cwd=tmp_path)


# ---------------------------------------------------------------------------- the config
def test_the_config_scrapes_watchkeeper_and_loads_the_rules() -> None:
    config = _load(CONFIG)
    assert config["rule_files"] == ["rules.yml"]
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "watchkeeper"
    assert job["scrape_interval"] == "15s"
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert job["static_configs"] == [{"targets": ["watchkeeper:8080"]}]
    # The alerts about the target select the job by the name the config gives it.
    target_rules = [r for r in _rules() if "up{" in str(r["expr"])]
    assert target_rules
    assert all('job="watchkeeper"' in str(r["expr"]) for r in target_rules)


# ---------------------------------------------------------------------------- the rules
def test_every_series_used_is_documented() -> None:
    documented = _documented()
    recorded = {rule["record"] for rule in _rules() if "record" in rule}
    used: set[str] = set()
    for rule in _rules():
        for text in _rule_texts(rule):
            used |= {
                _base_name(name, documented)
                for name in _METRIC.findall(_without_recorded(text, recorded))
            }
    assert used, "no watchkeeper_ series found in rules.yml"
    undocumented = sorted(used - set(documented))
    assert not undocumented, f"series not in docs/metrics.md: {undocumented}"
    # The series the brief names are all covered.
    for name in (
        "watchkeeper_requests_total",
        "watchkeeper_request_duration_seconds",
        "watchkeeper_predictions_total",
        "watchkeeper_label_delay_seconds",
        "watchkeeper_alias_moves_total",
        "watchkeeper_feature_drift_score",
        "watchkeeper_dataset_drift",
        "watchkeeper_performance_metric",
        "watchkeeper_quality_violation_ratio",
        "watchkeeper_monitor_run_timestamp_seconds",
    ):
        assert name in used, name


def test_every_recording_rule_used_is_defined() -> None:
    recorded = {rule["record"] for rule in _rules() if "record" in rule}
    assert all(re.fullmatch(r"[a-z_]+:watchkeeper_[a-z0-9_]+:[a-z0-9_]+", r) for r in recorded)
    for rule in _rules():
        for name in re.findall(r"[a-z_]+:watchkeeper_[a-z0-9_]+:[a-z0-9_]+", str(rule["expr"])):
            assert name in recorded, f"{rule.get('alert') or rule.get('record')} uses {name}"


def test_every_label_used_is_documented() -> None:
    documented = _documented()
    every_label = set().union(*(labels for _, labels in documented.values())) | SCRAPE_LABELS
    for rule in _rules():
        name = rule.get("alert") or rule["record"]
        for text in _rule_texts(rule):
            for metric, matchers in _SELECTOR.findall(text):
                base = _base_name(metric, documented)
                allowed = documented[base][1] | SCRAPE_LABELS
                if base != metric:
                    allowed = allowed | {"le"}
                wrong = set(_MATCHER.findall(matchers)) - allowed
                assert not wrong, f"{name}: {metric} has no label {sorted(wrong)}"
            grouping = {
                label.strip()
                for labels in _GROUPING.findall(text)
                for label in labels.split(",")
                if label.strip()
            }
            wrong = grouping - every_label - {"le"}
            assert not wrong, f"{name}: groups by undocumented labels {sorted(wrong)}"
            wrong = set(_TEMPLATE_LABEL.findall(text)) - every_label
            assert not wrong, f"{name}: templates undocumented labels {sorted(wrong)}"


def test_every_alert_has_for_severity_and_annotations() -> None:
    alerts = _alerts()
    names = [alert["alert"] for alert in alerts]
    assert len(names) == len(set(names)), "alert names repeat"
    for alert in alerts:
        name = alert["alert"]
        assert "for" in alert, f"{name} has no for:"
        assert alert.get("labels", {}).get("severity") in SEVERITIES, name
        annotations = alert.get("annotations", {})
        assert annotations.get("summary"), f"{name} has no summary"
        assert annotations.get("description"), f"{name} has no description"


def test_the_alerts_the_issue_asks_for_exist() -> None:
    exprs = {alert["alert"]: str(alert["expr"]) for alert in _alerts()}
    wanted = {
        "WatchkeeperFeatureDrift": "watchkeeper_feature_drift_",
        "WatchkeeperDatasetDrift": "watchkeeper_dataset_drift",
        "WatchkeeperPerformanceBelowReference": "watchkeeper_performance_reference",
        "WatchkeeperDataQualityViolations": "watchkeeper_quality_violation_ratio",
        "WatchkeeperHighErrorRate": "5xx",
        "WatchkeeperHighLatencyP99": "watchkeeper_request_duration_seconds:p99",
        "WatchkeeperNoPredictions": "watchkeeper_predictions_total",
        "WatchkeeperMonitorStale": "time() - watchkeeper_monitor_run_timestamp_seconds",
        "WatchkeeperLabelDelayHigh": "watchkeeper_label_delay_seconds",
        "WatchkeeperRollback": 'watchkeeper_alias_moves_total{trigger=~"rollback|guard"}',
    }
    for alert, fragment in wanted.items():
        assert alert in exprs, alert
        assert fragment in exprs[alert], alert


def test_every_alert_is_unit_tested_firing_and_not_firing() -> None:
    fires: set[str] = set()
    silent: set[str] = set()
    for path in UNIT_TESTS:
        document = _load(path)
        assert document["rule_files"], path
        for case in document["tests"]:
            for check in case.get("alert_rule_test", []):
                expected = check.get("exp_alerts") or []
                (fires if expected else silent).add(check["alertname"])
                for alert in expected:
                    assert alert["exp_labels"].get("severity"), (path, check["alertname"])
                    assert alert["exp_annotations"].get("summary"), (path, check["alertname"])
    names = {alert["alert"] for alert in _alerts()}
    assert names - fires == set(), f"never tested firing: {sorted(names - fires)}"
    assert names - silent == set(), f"never tested silent: {sorted(names - silent)}"
    assert (fires | silent) - names == set(), f"tests of unknown alerts: {fires | silent - names}"
