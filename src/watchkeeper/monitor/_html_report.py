"""The HTML rendering of one comparison (:meth:`Report.to_html` and ``Report._repr_html_``).

Private. Builds what the templates ``comparison.html.j2`` (the document) and
``_comparison_fragment.html.j2`` (the notebook fragment) show through one body partial,
``_comparison_body.html.j2``, top to bottom:

* the summary: status, counts and sizes, one sentence per check family with problems
  (:func:`what_changed`), the problems to look at first (:func:`look_first`: alerts before
  warnings; performance, then drift, then quality, then the rest) and the drifted columns
  ranked by effect size;
* one figure per column with a drift check (:func:`features`): alerts first, then warnings,
  each by effect size, then the rest in check order; its reference-vs-current distribution
  drawn from ``details["histogram"]`` or ``details["distribution"]`` with a CSV download of
  the numbers, the statistic, p-value, threshold and verdict, and the column's other checks;
* the data-quality and performance tables, the dataset-level checks and per-segment results;
* a JSON download of the whole report and the metadata.

Charts come from :mod:`watchkeeper._html._distribution`; everything else is escaped by
Jinja2's autoescaping. Jinja2 is imported only when a page is rendered.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from watchkeeper._html import csv_text, data_uri, environment, slug
from watchkeeper._html._distribution import category_chart, histogram_chart
from watchkeeper.monitor._format import (
    MODEL_DRIFT_CHECKS,
    clean,
    format_number,
    format_p_value,
    is_feature_drift,
    ordered,
    status_phrase,
)
from watchkeeper.monitor._summary import _effect

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from watchkeeper.monitor.report import Report
    from watchkeeper.results import CheckResult

__all__ = ["features", "look_first", "render_document", "render_fragment", "what_changed"]

MAX_FIRST = 10
_SEVERITY = {"alert": 0, "warning": 1, "ok": 2, "skipped": 3}
_FAMILY_RANK = {"performance": 0, "drift": 1, "quality": 2}
_KNOWN_METADATA = (
    ("n_reference", "Reference rows"),
    ("n_current", "Current rows"),
    ("created_at", "Created"),
    ("baseline_fitted_at", "Baseline fitted"),
    ("watchkeeper_version", "watchkeeper"),
    ("duration_seconds", "Duration (s)"),
)


@dataclass(frozen=True, slots=True)
class Feature:
    """One column's figure: its drift check, chart, download and other checks."""

    anchor: str
    column: str
    check: CheckResult
    role: str
    kind: str
    chart: Markup | None
    note: str
    filename: str | None
    csv_uri: str | None
    facts: tuple[tuple[str, str], ...]
    others: tuple[CheckResult, ...]  # the column's other checks that are not ok
    ok_names: tuple[str, ...]  # and the short names of those that are


def _name(check: CheckResult) -> str:
    """``out_of_range on tenure`` or ``pca_reconstruction``: a short label for a sentence."""
    short = clean(check.check.split(".", 1)[-1])
    return short if check.column is None else f"{short} on {clean(check.column)}"


def _listing(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def what_changed(checks: Sequence[CheckResult], dataset_drift: bool | None) -> list[str]:
    """One sentence per check family with alerts or warnings (whole window), then segments."""
    whole = [c for c in checks if c.segment is None]
    families: dict[str, list[CheckResult]] = {}
    for c in whole:
        families.setdefault(c.family, []).append(c)
    ordered_families = sorted(families, key=lambda f: _FAMILY_RANK.get(f, 3))
    out = []
    for family in ordered_families:
        group = families[family]
        problems = [c for c in group if c.status in ("alert", "warning")]
        if not problems:
            continue
        if family == "drift":
            out.append(_drift_sentence(group, dataset_drift))
            continue
        parts = []
        for status, noun in (("alert", "alert"), ("warning", "warning")):
            hits = [_name(c) for c in problems if c.status == status]
            if hits:
                plural = noun if len(hits) == 1 else noun + "s"
                parts.append(f"{len(hits)} {plural} ({_listing(hits)})")
        title = {"performance": "Performance", "quality": "Data quality"}.get(family)
        out.append(f"{title or clean(family).capitalize()}: {', '.join(parts)}.")
    segmented = [c for c in checks if c.segment is not None and c.status in ("alert", "warning")]
    if segmented:
        segments = sorted({clean(c.segment or "") for c in segmented})
        out.append(
            f"Segments: {len(segmented)} per-segment result(s) alert or warn "
            f"(in {_listing(segments)})."
        )
    return out


def _drift_sentence(group: Sequence[CheckResult], dataset_drift: bool | None) -> str:
    features = [c for c in group if is_feature_drift(c) and c.status != "skipped"]
    parts = []
    alerts = sorted((c for c in features if c.status == "alert"), key=_effect, reverse=True)
    warns = sorted((c for c in features if c.status == "warning"), key=_effect, reverse=True)
    if alerts:
        names = [clean(c.column or "") for c in alerts]
        parts.append(
            f"{len(alerts)} of {len(features)} feature columns drifted ({_listing(names)})"
        )
    if warns:
        names = [clean(c.column or "") for c in warns]
        parts.append(f"{len(warns)} more warn ({_listing(names)})")
    for check, role in MODEL_DRIFT_CHECKS.items():
        hits = [
            clean(c.column or "")
            for c in group
            if c.check == check and c.status in ("alert", "warning")
        ]
        if hits:
            parts.append(f"the {role} moved ({_listing(hits)})")
    for c in group:
        if c.column is None and c.check != "drift.dataset" and c.status in ("alert", "warning"):
            parts.append(f"{_name(c)} {'alerts' if c.status == 'alert' else 'warns'}")
    if not parts:  # e.g. results made by hand, without the roles in their details
        named = [_name(c) for c in group if c.status in ("alert", "warning")]
        parts.append(f"{_listing(named)} alert or warn")
    if dataset_drift is not None:
        parts.append(f"dataset drift: {'yes' if dataset_drift else 'no'}")
    return "Drift: " + "; ".join(parts) + "."


def _drift_rank(check: CheckResult) -> int:
    """Feature columns, then the model's own columns, then dataset-level drift."""
    if check.column is None:
        return 2
    return 1 if check.check in MODEL_DRIFT_CHECKS else 0


def look_first(checks: Sequence[CheckResult], limit: int = MAX_FIRST) -> list[CheckResult]:
    """The worst problems: alerts before warnings; performance, drift, quality, then the
    rest; drift by effect size (features, then prediction and target, then dataset-level
    checks); whole-window results before per-segment ones."""
    problems = [c for c in checks if c.status in ("alert", "warning")]
    problems.sort(
        key=lambda c: (
            _SEVERITY[c.status],
            c.segment is not None,
            _FAMILY_RANK.get(c.family, 3),
            _drift_rank(c) if c.family == "drift" else 0,
            -_effect(c) if c.family == "drift" else 0.0,
        )
    )
    return problems[:limit]


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0


def _histogram(column: str, data: Mapping[str, Any]) -> tuple[str, str]:
    edges, ref, cur = data["edges"], data["reference"], data["current"]
    labels = None
    if data.get("discrete") is True:  # bins centred on integers: name the end integers
        labels = (format_number(edges[0] + 0.5), format_number(edges[-1] - 0.5))
    svg = histogram_chart(edges, ref, cur, title=f"{column}: reference vs current", x_labels=labels)
    n_ref, n_cur = sum(ref), sum(cur)
    table = csv_text(
        ("bin_start", "bin_end", "reference_count", "current_count", "reference_share",
         "current_share"),
        [
            (repr(edges[i]), repr(edges[i + 1]), r, c, repr(_share(r, n_ref)),
             repr(_share(c, n_cur)))
            for i, (r, c) in enumerate(zip(ref, cur, strict=True))
        ],
    )  # fmt: skip
    return svg, table


def _distribution(column: str, data: Mapping[str, Any]) -> tuple[str, str]:
    labels = list(data["categories"])
    ref, cur = list(data["reference"]), list(data["current"])
    n_other = int(data.get("n_other", 0))
    if n_other:
        labels[-1] = f"({n_other} others)"
    unseen = [(str(k), int(v)) for k, v in data.get("unseen", {}).items()]
    other_unseen = int(data.get("other_unseen", 0))
    svg = category_chart(
        labels,
        ref,
        cur,
        title=f"{column}: reference vs current",
        unseen=unseen,
        other_unseen=other_unseen,
    )
    n_ref = sum(ref)
    n_cur = sum(cur) + sum(v for _, v in unseen) + other_unseen
    rows: list[tuple[Any, ...]] = [
        (label, r, c, repr(_share(r, n_ref)), repr(_share(c, n_cur)), "false")
        for label, r, c in zip(labels, ref, cur, strict=True)
    ]
    extra = [*unseen, ("(other unseen)", other_unseen)] if other_unseen else unseen
    rows += [(label, 0, c, repr(0.0), repr(_share(c, n_cur)), "true") for label, c in extra]
    header = ("category", "reference_count", "current_count", "reference_share",
              "current_share", "unseen")  # fmt: skip
    return svg, csv_text(header, rows)


def _facts(check: CheckResult) -> tuple[tuple[str, str], ...]:
    """The numbers behind a drift verdict, as (label, text) pairs."""
    d = check.details
    if check.status == "skipped":
        return ()
    facts: list[tuple[str, str]] = []
    limits = f"alert at {format_number(check.threshold)}"
    if check.warning_threshold is not None:
        limits += f", warn at {format_number(check.warning_threshold)}"
    test = d.get("test")
    if test is not None:  # the default rule: a test and an effect size
        effect = "normalized Wasserstein" if d.get("kind") == "numeric" else "Jensen-Shannon"
        facts.append((f"effect ({effect})", f"{format_number(check.value)} ({limits})"))
        facts.append((f"{test} statistic", format_number(d.get("statistic"))))
        p_text = format_p_value(check.p_value)
        correction = d.get("correction", "none")
        if correction != "none":
            p_text += f" ({correction}-corrected; raw {format_p_value(d.get('p_value_raw'))})"
        if d.get("alpha") is not None:
            p_text += f", alpha {format_number(d['alpha'])}"
        facts.append(("p-value", p_text))
    else:
        facts.append((f"{d.get('method', check.check)}", f"{format_number(check.value)}"))
        if check.p_value is not None:
            facts.append(("p-value", format_p_value(check.p_value)))
        facts.append(("threshold", format_number(check.threshold)))
    if "reference_mean" in d and "current_mean" in d:
        means = f"{format_number(d['reference_mean'])} → {format_number(d['current_mean'])}"
        facts.append(("mean", means))
    if d.get("n_unseen"):
        facts.append(("unseen share", format_number(d.get("unseen_share"))))
    facts.append(("rows", f"{check.n_reference} reference, {check.n} current"))
    return tuple(facts)


def _chart(column: str, details: Mapping[str, Any]) -> tuple[str | None, str, str]:
    """The chart and CSV of a drift check's plot data, or None and why there is none."""
    try:
        if isinstance(details.get("histogram"), dict):
            return (*_histogram(column, details["histogram"]), "")
        if isinstance(details.get("distribution"), dict):
            return (*_distribution(column, details["distribution"]), "")
    except (KeyError, TypeError, ValueError) as exc:  # details edited by hand or by a tool
        return None, "", f"The plot data in this check's details is malformed ({exc!r})."
    return None, "", "No distribution to draw: the check has no plot data (see its reason)."


def _feature_order(check: CheckResult) -> tuple[int, float]:
    problem = check.status in ("alert", "warning")
    return _SEVERITY.get(check.status, 4), -_effect(check) if problem else 0.0


def features(checks: Sequence[CheckResult], *, prefix: str = "") -> list[Feature]:
    """One :class:`Feature` per column with a whole-window drift check, in display order;
    ``prefix`` starts each figure's anchor id."""
    whole = [c for c in checks if c.segment is None and c.column is not None]
    primary: dict[str, CheckResult] = {}
    for c in whole:
        if c.family == "drift" and c.column not in primary:
            primary[c.column or ""] = c
    ranked = sorted(primary.values(), key=_feature_order)  # stable: check order otherwise
    out, used = [], set()
    for i, check in enumerate(ranked):
        column = check.column or ""
        d = check.details
        rest = ordered(c for c in whole if c.column == column and c is not check)
        chart, table, note = _chart(column, d)
        filename = csv_uri = None
        if chart is not None:
            filename = f"distribution-{slug(column)}.csv"
            if filename in used:
                filename = f"distribution-{slug(column)}-{i + 1}.csv"
            used.add(filename)
            csv_uri = data_uri(table, "text/csv")
        out.append(
            Feature(
                anchor=f"{prefix}column-{i + 1}",
                column=column,
                check=check,
                role=str(d.get("role", "feature")),
                kind=str(d.get("kind", "")),
                chart=None if chart is None else Markup(chart),  # built by _distribution
                note=note,
                filename=filename,
                csv_uri=csv_uri,
                facts=_facts(check),
                others=tuple(c for c in rest if c.status != "ok"),
                ok_names=tuple(c.check.split(".", 1)[-1] for c in rest if c.status == "ok"),
            )
        )
    return out


def _metadata(metadata: Mapping[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    known = dict(_KNOWN_METADATA)
    facts = [(known[k], str(metadata[k])) for k, _ in _KNOWN_METADATA if k in metadata]
    rest = [
        (str(k), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True))
        for k, v in metadata.items()
        if k not in known
    ]
    return facts, rest


def _context(report: Report, *, prefix: str = "") -> dict[str, Any]:
    checks = report.checks
    summary = report.summary
    whole = [c for c in checks if c.segment is None]
    shown = features(checks, prefix=prefix)
    anchors = {f.column: f.anchor for f in shown}
    quality = ordered(c for c in whole if c.family == "quality")
    meta_facts, meta_rest = _metadata(report.metadata)
    return {
        "summary": summary,
        "phrase": status_phrase(summary.counts),
        "changed": what_changed(checks, summary.dataset_drift),
        "first": look_first(checks),
        "drifted": summary.drifted_columns,
        "features": shown,
        "anchors": anchors,
        "quality_problems": [c for c in quality if c.status in ("alert", "warning")],
        "quality_rest": [c for c in quality if c.status not in ("alert", "warning")],
        "performance": ordered(c for c in whole if c.family == "performance"),
        "dataset": ordered(
            c for c in whole if c.column is None and c.family not in ("quality", "performance")
        ),
        "segments": ordered(c for c in checks if c.segment is not None),
        "json_uri": data_uri(report.to_json(indent=None), "application/json"),
        "meta_facts": meta_facts,
        "meta_rest": meta_rest,
        "num": format_number,
        "pval": format_p_value,
    }


def render_document(report: Report) -> str:
    """The standalone HTML document of ``report``."""
    return environment().get_template("comparison.html.j2").render(_context(report))


def render_fragment(report: Report) -> str:
    """The notebook fragment: one ``<div>`` with its own scoped stylesheet, no scripts."""
    # Several reports can share a notebook page: their column links must not collide.
    prefix = f"wk-{uuid.uuid4().hex[:8]}-"
    template = environment().get_template("_comparison_fragment.html.j2")
    return template.render(_context(report, prefix=prefix))
