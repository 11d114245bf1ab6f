"""Distribution charts for the comparison report: pure functions that return SVG strings.

Two charts put a column's reference and current distributions side by side: a histogram of
shares per bin (numeric columns) and horizontal bars per category with the categories the
reference never had marked in their own colour and labelled "unseen" (categorical columns).
Each sample is drawn as shares of its own total, so samples of different sizes compare; every
bar carries a ``<title>`` with its share and count, and every text is XML-escaped.
"""

from __future__ import annotations

from html import escape
from itertools import pairwise
from typing import TYPE_CHECKING

from watchkeeper._html._svg import _BOTTOM, _LEFT, _RIGHT, _TOP, HEIGHT, WIDTH, _fmt, _label, _open

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "CURRENT_COLOUR",
    "REFERENCE_COLOUR",
    "UNSEEN_COLOUR",
    "category_chart",
    "histogram_chart",
]

REFERENCE_COLOUR = "#9db4c8"
CURRENT_COLOUR = "#1d3557"
UNSEEN_COLOUR = "#d62828"


def _shares(counts: Sequence[float], total: float) -> list[float]:
    return [c / total if total > 0 else 0.0 for c in counts]


def _percent(share: float) -> str:
    return f"{share * 100:.3g}%"


def _legend(entries: Sequence[tuple[str, str]], y: float, x: float = _LEFT) -> list[str]:
    """Coloured squares with their names, left to right from ``x`` (each item 84 px wide)."""
    out = []
    for i, (name, colour) in enumerate(entries):
        at = x + i * 84
        out.append(
            f'<rect class="legend" x="{_fmt(at)}" y="{_fmt(y - 8)}" width="9" height="9" '
            f'fill="{colour}"/><text class="legend" x="{_fmt(at + 12)}" y="{_fmt(y)}">'
            f"{escape(name)}</text>"
        )
    return out


def histogram_chart(
    edges: Sequence[float],
    reference: Sequence[float],
    current: Sequence[float],
    *,
    title: str,
    x_labels: tuple[str, str] | None = None,
    width: int = WIDTH,
    height: int = HEIGHT + 20,
) -> str:
    """Reference and current shares per bin, side by side in each bin.

    Parameters
    ----------
    edges
        Increasing bin edges (one more than the counts).
    reference, current
        Counts per bin; each is drawn as its share of its own total, so samples of
        different sizes compare.
    title
        The chart's accessible title.
    x_labels
        Texts under the left and right ends of the x axis (default: the first and last
        edges, 3 significant digits).

    Returns
    -------
    str
        A standalone ``<svg class="chart histogram">``: a legend, one pair of bars per bin
        (each with a ``<title>`` giving the bin, share and count), the largest share on the
        y axis and the first and last edges under the x axis.

    Raises
    ------
    ValueError
        If the counts do not match the edges or the edges are not increasing.
    """
    n = len(edges) - 1
    if n < 1 or len(reference) != n or len(current) != n:
        raise ValueError(
            f"histogram_chart: {len(edges)} edges need {max(n, 0)} counts per sample; got "
            f"{len(reference)} reference and {len(current)} current counts."
        )
    for i, (a, b) in enumerate(pairwise(edges)):
        if not b > a:
            raise ValueError(
                f"histogram_chart: the edges must be strictly increasing. Got edges[{i}] = "
                f"{a!r} and edges[{i + 1}] = {b!r}."
            )
    ref_s = _shares(reference, float(sum(reference)))
    cur_s = _shares(current, float(sum(current)))
    top = max(ref_s + cur_s) or 1.0
    plot_left, plot_top = _LEFT, _TOP + 10
    plot_w, plot_h = width - _LEFT - _RIGHT, height - plot_top - _BOTTOM
    slot = plot_w / n
    parts = _open(title, width, height, "histogram")
    parts += _legend([("reference", REFERENCE_COLOUR), ("current", CURRENT_COLOUR)], 12)
    base = plot_top + plot_h
    parts.append(
        f'<line class="axis" x1="{plot_left}" x2="{plot_left + plot_w}" y1="{_fmt(base)}" '
        f'y2="{_fmt(base)}" stroke="#999"/>'
        f'<text class="axis" x="{plot_left - 4}" y="{plot_top + 8}" text-anchor="end">'
        f"{escape(_percent(top))}</text>"
        f'<text class="axis" x="{plot_left - 4}" y="{_fmt(base)}" text-anchor="end">0</text>'
    )
    for i in range(n):
        span = f"[{_label(edges[i])}, {_label(edges[i + 1])}{']' if i == n - 1 else ')'}"
        for k, (css, colour, shares, counts) in enumerate(
            (
                ("reference", REFERENCE_COLOUR, ref_s, reference),
                ("current", CURRENT_COLOUR, cur_s, current),
            )
        ):
            h = shares[i] / top * plot_h
            parts.append(
                f'<rect class="bar {css}" x="{_fmt(plot_left + slot * (i + 0.08 + 0.42 * k))}" '
                f'y="{_fmt(base - h)}" width="{_fmt(slot * 0.42)}" height="{_fmt(h)}" '
                f'fill="{colour}"><title>{escape(span)} {css}: {_percent(shares[i])} '
                f"({_label(float(counts[i]))})</title></rect>"
            )
    left, right = x_labels or (_label(edges[0]), _label(edges[-1]))
    for text, at, anchor in ((left, plot_left, "start"), (right, plot_left + plot_w, "end")):
        parts.append(
            f'<text class="axis" x="{_fmt(at)}" y="{height - 6}" text-anchor="{anchor}">'
            f"{escape(text)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _short(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def category_chart(
    categories: Sequence[str],
    reference: Sequence[float],
    current: Sequence[float],
    *,
    title: str,
    unseen: Sequence[tuple[str, float]] = (),
    other_unseen: float = 0,
    width: int = WIDTH,
) -> str:
    """Horizontal reference and current bars per category; unseen categories marked.

    Parameters
    ----------
    categories
        The category labels, one row each (already ordered, e.g. largest first).
    reference, current
        Counts per category.
    title
        The chart's accessible title.
    unseen
        ``(label, count)`` of categories only the current sample has: one row each, a bar
        in the unseen colour followed by the word "unseen".
    other_unseen
        Current rows in further unseen categories, drawn as one last unseen row.

    Returns
    -------
    str
        A standalone ``<svg class="chart categories">`` whose height grows with the rows;
        shares are of each sample's total (the current total includes the unseen rows).

    Raises
    ------
    ValueError
        If the counts do not match the categories.
    """
    if len(reference) != len(categories) or len(current) != len(categories):
        raise ValueError(
            f"category_chart: {len(categories)} categories but {len(reference)} reference "
            f"and {len(current)} current counts."
        )
    unseen_rows = list(unseen)
    if other_unseen > 0:
        unseen_rows.append(("(other unseen)", other_unseen))
    ref_total = float(sum(reference))
    cur_total = float(sum(current)) + float(sum(c for _, c in unseen_rows))
    ref_s, cur_s = _shares(reference, ref_total), _shares(current, cur_total)
    new_s = _shares([c for _, c in unseen_rows], cur_total)
    top = max([*ref_s, *cur_s, *new_s, 0.0]) or 1.0
    row, label_w, right = 16, 112, 44
    rows = len(categories) + len(unseen_rows)
    plot_top = _TOP + 6
    height = plot_top + max(rows, 1) * row + 18
    plot_w = width - label_w - right
    parts = _open(title, width, height, "categories")
    legend = [("reference", REFERENCE_COLOUR), ("current", CURRENT_COLOUR)]
    if unseen_rows:
        legend.append(("unseen", UNSEEN_COLOUR))
    parts += _legend(legend, 12, x=label_w)

    def bar(css: str, y: float, share: float, colour: str, note: str) -> str:
        return (
            f'<rect class="bar {css}" x="{label_w}" y="{_fmt(y)}" '
            f'width="{_fmt(share / top * plot_w)}" height="6" fill="{colour}">'
            f"<title>{escape(note)}</title></rect>"
        )

    for i, name in enumerate(categories):
        y = plot_top + i * row
        parts.append(
            f'<text class="axis" x="{label_w - 4}" y="{_fmt(y + 11)}" text-anchor="end">'
            f"{escape(_short(name, 18))}<title>{escape(name)}</title></text>"
        )
        for css, dy, shares, counts, colour in (
            ("reference", 1, ref_s, reference, REFERENCE_COLOUR),
            ("current", 8, cur_s, current, CURRENT_COLOUR),
        ):
            note = f"{name}: {css} {_percent(shares[i])} ({_label(float(counts[i]))})"
            parts.append(bar(css, y + dy, shares[i], colour, note))
    for j, (name, count) in enumerate(unseen_rows):
        y = plot_top + (len(categories) + j) * row
        end = label_w + new_s[j] / top * plot_w
        note = f"{name}: unseen in the reference, current {_percent(new_s[j])} ({_label(count)})"
        parts.append(
            f'<text class="axis unseen" x="{label_w - 4}" y="{_fmt(y + 11)}" '
            f'text-anchor="end">{escape(_short(name, 18))}<title>{escape(name)}</title></text>'
            + bar("unseen", y + 5, new_s[j], UNSEEN_COLOUR, note)
            + f'<text class="unseen" x="{_fmt(end + 3)}" y="{_fmt(y + 11)}" '
            f'fill="{UNSEEN_COLOUR}">unseen</text>'
        )
    axis = plot_top + max(rows, 1) * row
    parts.append(
        f'<line class="axis" x1="{label_w}" x2="{label_w}" y1="{plot_top}" y2="{_fmt(axis)}" '
        f'stroke="#999"/><text class="axis" x="{label_w}" y="{_fmt(axis + 12)}">0</text>'
        f'<text class="axis" x="{label_w + plot_w}" y="{_fmt(axis + 12)}" text-anchor="end">'
        f"{escape(_percent(top))}</text></svg>"
    )
    return "".join(parts)
