"""Chart primitives for the HTML reports: pure functions that return SVG documents as strings.

Rendered on the server, so a report needs no JavaScript and no chart library: a line chart
(one series over time, an optional dashed threshold or reference line, an optional shaded
band per point, alert and warning points marked, vertical event lines) and a bar chart. Points whose
value is None or not finite are skipped and break the line; every text is XML-escaped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["Marker", "bar_chart", "line_chart"]

WIDTH = 360
HEIGHT = 150
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 10, 20, 22


@dataclass(frozen=True, slots=True)
class Marker:
    """A vertical line at ``x`` (same units as the chart's x values) with a short label;
    ``kind`` (``deploy`` or ``rollback``) picks its style."""

    x: float
    label: str
    kind: str = "deploy"


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def _label(value: float) -> str:
    """A short number for an axis: 3 significant digits."""
    return f"{value:.3g}"


def _span(values: Sequence[float]) -> tuple[float, float]:
    """A non-empty range covering ``values`` (padded when they are all equal)."""
    lo, hi = min(values), max(values)
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.05
    # Rates, distances and coverage are never negative: don't pad them below zero.
    return (lo - pad if lo - pad >= 0 or lo < 0 else 0.0), hi + pad


def _open(title: str, width: int, height: int, css: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" viewBox="0 0 {width} '
        f'{height}" width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]


def line_chart(
    x: Sequence[float],
    y: Sequence[float | None],
    *,
    title: str,
    threshold: Sequence[float | None] | None = None,
    bands: Sequence[tuple[float, float] | None] | None = None,
    statuses: Sequence[str] | None = None,
    markers: Sequence[Marker] = (),
    x_labels: tuple[str, str] = ("", ""),
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """One series ``y`` over ``x`` as an SVG line chart.

    Parameters
    ----------
    x
        Increasing positions (e.g. epoch seconds), one per point.
    y
        The values; None or non-finite values are skipped (the line breaks there).
    title
        The chart's accessible title.
    threshold
        A second series drawn as a dashed line (a threshold or reference value per point).
    bands
        One ``(low, high)`` or None per point: a shaded band that follows the points (an
        acceptable range that changes from run to run); it breaks where a point has none.
    statuses
        One status per point; ``alert`` points get a red marker, ``warning`` an amber one.
    markers
        Vertical lines (deployments, rollbacks) inside the x range.
    x_labels
        Texts under the left and right ends of the x axis.

    Returns
    -------
    str
        A standalone ``<svg>`` element whose drawing stays inside its viewBox.

    Raises
    ------
    ValueError
        If ``x``, ``y``, ``threshold``, ``bands`` or ``statuses`` differ in length.
    """
    n = len(x)
    checked = (("y", y), ("threshold", threshold), ("bands", bands), ("statuses", statuses))
    for what, seq in checked:
        if seq is not None and len(seq) != n:
            raise ValueError(f"line_chart: {what} has {len(seq)} items; x has {n}.")
    shown = [v for v in y if _finite(v)]
    limits = [v for v in (threshold or ()) if _finite(v)]
    band_points = [b if b is not None and all(_finite(v) for v in b) else None for b in bands or ()]
    limits += [v for b in band_points if b is not None for v in b]
    parts = _open(title, width, height, "line")
    if not shown:
        parts.append(
            f'<text x="{width / 2:.1f}" y="{height / 2:.1f}" text-anchor="middle" '
            'class="empty">no values</text></svg>'
        )
        return "".join(parts)
    y_lo, y_hi = _span([float(v) for v in shown + limits if v is not None])
    x_lo, x_hi = (min(x), max(x)) if n else (0.0, 1.0)
    plot_w, plot_h = width - _LEFT - _RIGHT, height - _TOP - _BOTTOM

    def px(value: float) -> float:
        if x_hi == x_lo:
            return _LEFT + plot_w / 2
        return _LEFT + (value - x_lo) / (x_hi - x_lo) * plot_w

    def py(value: float) -> float:
        return _TOP + (y_hi - value) / (y_hi - y_lo) * plot_h

    parts.append(
        f'<rect class="frame" x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" '
        'fill="none" stroke="#ccc"/>'
    )
    parts += _band_polygons(x, band_points, px, py)
    for text, at in ((_label(y_hi), _TOP + 8), (_label(y_lo), _TOP + plot_h)):
        parts.append(
            f'<text class="axis" x="{_LEFT - 4}" y="{at:.1f}" text-anchor="end">'
            f"{escape(text)}</text>"
        )
    for text, at, anchor in ((x_labels[0], _LEFT, "start"), (x_labels[1], _LEFT + plot_w, "end")):
        if text:
            parts.append(
                f'<text class="axis" x="{at:.1f}" y="{height - 6}" text-anchor="{anchor}">'
                f"{escape(text)}</text>"
            )
    for marker in markers:
        if not (_finite(marker.x) and x_lo <= marker.x <= x_hi):
            continue
        mx = _fmt(px(marker.x))
        colour = "#e76f51" if marker.kind == "rollback" else "#457b9d"
        parts.append(
            f'<line class="event {escape(marker.kind)}" x1="{mx}" x2="{mx}" y1="{_TOP}" '
            f'y2="{_TOP + plot_h}" stroke="{colour}" stroke-width="1.5">'
            f"<title>{escape(marker.label)}</title></line>"
        )
    if threshold is not None:
        parts += _polylines(x, threshold, px, py, "threshold", 'stroke-dasharray="4 3"')
    parts += _polylines(x, y, px, py, "series", "")
    for i, (xi, yi) in enumerate(zip(x, y, strict=True)):
        status = statuses[i] if statuses is not None else "ok"
        if yi is None or not math.isfinite(yi) or status not in ("alert", "warning"):
            continue
        colour = "#d62828" if status == "alert" else "#f4a261"
        parts.append(
            f'<circle class="{status}" cx="{_fmt(px(xi))}" cy="{_fmt(py(yi))}" r="3.5" '
            f'fill="{colour}"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _band_polygons(
    x: Sequence[float],
    bands: Sequence[tuple[float, float] | None],
    px: Callable[[float], float],
    py: Callable[[float], float],
) -> list[str]:
    """One shaded ``<polygon class="band">`` per run of points that have a band (a lone
    point's band is a short vertical bar)."""
    runs: list[list[tuple[float, float, float]]] = [[]]
    for xi, b in zip(x, bands, strict=False):
        if b is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((px(xi), py(max(b)), py(min(b))))
    out = []
    for run in runs:
        if not run:
            continue
        if len(run) == 1:
            cx, top, bottom = run[0]
            run = [(cx - 1.5, top, bottom), (cx + 1.5, top, bottom)]
        upper = [f"{_fmt(cx)},{_fmt(top)}" for cx, top, _ in run]
        lower = [f"{_fmt(cx)},{_fmt(bottom)}" for cx, _, bottom in reversed(run)]
        out.append(
            f'<polygon class="band" points="{" ".join(upper + lower)}" fill="#2a9d8f" '
            'fill-opacity="0.15" stroke="none"/>'
        )
    return out


def _polylines(
    x: Sequence[float],
    y: Sequence[float | None],
    px: Callable[[float], float],
    py: Callable[[float], float],
    css: str,
    extra: str,
) -> list[str]:
    """One ``<polyline>`` per run of finite values (a lone point is a short dot)."""
    runs: list[list[str]] = [[]]
    for xi, yi in zip(x, y, strict=True):
        if yi is None or not math.isfinite(yi):
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append(f"{_fmt(px(xi))},{_fmt(py(yi))}")
    colour = "#888" if css == "threshold" else "#1d3557"
    out = []
    for points in runs:
        if not points:
            continue
        if len(points) == 1:
            points = [points[0], points[0]]
        out.append(
            f'<polyline class="{css}" points="{" ".join(points)}" fill="none" '
            f'stroke="{colour}" stroke-width="1.5" stroke-linecap="round" {extra}/>'
        )
    return out


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    title: str,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """Vertical bars, one per label (None or non-finite values draw no bar); values are
    drawn from zero, negative ones below the zero line."""
    if len(labels) != len(values):
        raise ValueError(f"bar_chart: {len(labels)} labels but {len(values)} values.")
    parts = _open(title, width, height, "bar")
    shown = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not shown:
        parts.append(
            f'<text x="{width / 2:.1f}" y="{height / 2:.1f}" text-anchor="middle" '
            'class="empty">no values</text></svg>'
        )
        return "".join(parts)
    lo, hi = min(0.0, *shown), max(0.0, *shown)
    if hi == lo:
        hi = lo + 1.0
    plot_w, plot_h = width - _LEFT - _RIGHT, height - _TOP - _BOTTOM
    slot = plot_w / len(labels)

    def py(value: float) -> float:
        return _TOP + (hi - value) / (hi - lo) * plot_h

    zero = py(0.0)
    parts.append(
        f'<line class="zero" x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{_fmt(zero)}" '
        f'y2="{_fmt(zero)}" stroke="#999"/>'
    )
    parts.append(
        f'<text class="axis" x="{_LEFT - 4}" y="{_TOP + 8}" text-anchor="end">'
        f"{escape(_label(hi))}</text>"
    )
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        cx = _LEFT + slot * (i + 0.5)
        if value is not None and math.isfinite(value):
            top, bottom = sorted((py(float(value)), zero))
            parts.append(
                f'<rect class="bar" x="{_fmt(cx - slot * 0.35)}" y="{_fmt(top)}" '
                f'width="{_fmt(slot * 0.7)}" height="{_fmt(bottom - top)}" fill="#457b9d">'
                f"<title>{escape(label)}: {escape(_label(float(value)))}</title></rect>"
            )
        parts.append(
            f'<text class="axis" x="{_fmt(cx)}" y="{height - 6}" text-anchor="middle">'
            f"{escape(label[:14])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
