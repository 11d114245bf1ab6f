"""The SVG chart primitives: well-formed XML, the points and markers asked for, drawn inside
the viewBox, gaps for missing values, degenerate series, escaped text; the distribution charts:
bar heights and lengths proportional to the shares, unseen categories marked."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from watchkeeper._html._distribution import (
    CURRENT_COLOUR,
    REFERENCE_COLOUR,
    UNSEEN_COLOUR,
    category_chart,
    histogram_chart,
)
from watchkeeper._html._svg import Marker, bar_chart, line_chart

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def view_box(root: ET.Element) -> tuple[float, float, float, float]:
    x, y, w, h = (float(v) for v in root.attrib["viewBox"].split())
    return x, y, w, h


def polyline_points(root: ET.Element, css: str) -> list[list[tuple[float, float]]]:
    out = []
    for line in root.iter(f"{NS}polyline"):
        if line.attrib["class"] == css:
            pairs = [p.split(",") for p in line.attrib["points"].split()]
            out.append([(float(a), float(b)) for a, b in pairs])
    return out


def inside(root: ET.Element, x: float, y: float) -> bool:
    x0, y0, w, h = view_box(root)
    return x0 <= x <= x0 + w and y0 <= y <= y0 + h


def test_line_chart_points_markers_and_bounds() -> None:
    x = [float(i) for i in range(10)]
    y = [0.1 * i for i in range(10)]
    statuses = ["ok"] * 6 + ["warning", "alert", "alert", "alert"]
    svg = line_chart(
        x,
        y,
        title="drift",
        threshold=[0.5] * 10,
        statuses=statuses,
        markers=[Marker(4.0, "deploy v2"), Marker(8.0, "rollback", "rollback"), Marker(99, "out")],
        x_labels=("2026-01-01", "2026-01-10"),
    )
    root = parse(svg)
    (series,) = polyline_points(root, "series")
    assert len(series) == 10
    (threshold,) = polyline_points(root, "threshold")
    assert len(threshold) == 10
    assert len({py for _, py in threshold}) == 1  # a constant threshold is a flat line
    circles = list(root.iter(f"{NS}circle"))
    assert [c.attrib["class"] for c in circles] == ["warning", "alert", "alert", "alert"]
    lines = [ln for ln in root.iter(f"{NS}line") if "event" in ln.attrib["class"]]
    assert [ln.attrib["class"] for ln in lines] == ["event deploy", "event rollback"]
    for px, py in series + threshold:
        assert inside(root, px, py)
    for c in circles:
        assert inside(root, float(c.attrib["cx"]), float(c.attrib["cy"]))
    # larger values are drawn higher up
    assert series[0][1] > series[-1][1]
    assert series[0][0] < series[-1][0]
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "2026-01-01" in texts
    assert "2026-01-10" in texts


def test_missing_and_non_finite_values_break_the_line() -> None:
    y = [1.0, 2.0, None, 3.0, math.nan, math.inf, 4.0, 5.0]
    statuses = ["alert"] * len(y)
    root = parse(line_chart(list(range(len(y))), y, title="t", statuses=statuses))
    runs = polyline_points(root, "series")
    assert [len(r) for r in runs] == [2, 2, 2]  # the lone 3.0 is drawn as a dot
    assert runs[1][0] == runs[1][1]
    assert len(list(root.iter(f"{NS}circle"))) == 5  # only finite alert points are marked


def test_constant_series_and_single_point() -> None:
    flat = parse(line_chart([0, 1, 2], [0.0, 0.0, 0.0], title="flat"))
    (points,) = polyline_points(flat, "series")
    assert len({py for _, py in points}) == 1
    assert all(inside(flat, px, py) for px, py in points)

    one = parse(line_chart([5.0], [3.2], title="one", statuses=["alert"]))
    (points,) = polyline_points(one, "series")
    assert all(inside(one, px, py) for px, py in points)
    (circle,) = one.iter(f"{NS}circle")
    assert inside(one, float(circle.attrib["cx"]), float(circle.attrib["cy"]))


def test_no_values_says_so() -> None:
    root = parse(line_chart([0, 1], [None, math.nan], title="nothing"))
    assert polyline_points(root, "series") == []
    assert any(t.text == "no values" for t in root.iter(f"{NS}text"))
    assert parse(line_chart([], [], title="empty")) is not None


def test_text_is_escaped() -> None:
    hostile = '<script>alert("x")</script> & "q"'
    svg = line_chart(
        [0, 1], [1, 2], title=hostile, markers=[Marker(0.5, hostile)], x_labels=(hostile, "")
    )
    assert "<script>" not in svg
    root = parse(svg)
    assert root.find(f"{NS}title") is not None
    assert root.find(f"{NS}title").text == hostile  # type: ignore[union-attr]
    bars = bar_chart([hostile, "b"], [1.0, 2.0], title=hostile)
    assert "<script>" not in bars
    parse(bars)


def test_bar_chart() -> None:
    root = parse(bar_chart(["a", "b", "c", "d"], [3.0, None, 0.0, -1.0], title="bars"))
    rects = [r for r in root.iter(f"{NS}rect") if r.attrib["class"] == "bar"]
    assert len(rects) == 3
    heights = [float(r.attrib["height"]) for r in rects]
    assert heights[0] > heights[2] > 0 or heights[2] == 0
    assert heights[0] > heights[-1] > 0
    for r in rects:
        x, y = float(r.attrib["x"]), float(r.attrib["y"])
        assert inside(root, x, y)
        assert inside(root, x + float(r.attrib["width"]), y + float(r.attrib["height"]))
    nothing = parse(bar_chart(["a"], [None], title="none"))
    assert not [r for r in nothing.iter(f"{NS}rect") if r.attrib.get("class") == "bar"]


def test_per_point_bands_follow_the_points_and_break_where_missing() -> None:
    x, y = [0, 1, 2, 3, 4], [0.80, 0.82, 0.70, None, 0.81]
    bands = [(0.75, 0.85), (0.76, 0.86), None, None, (0.74, 0.84)]
    root = parse(line_chart(x, y, title="auc", bands=bands))
    polygons = [p for p in root.iter(f"{NS}polygon") if p.attrib["class"] == "band"]
    assert len(polygons) == 2  # runs 0-1, and the lone run 4
    first = [tuple(map(float, p.split(","))) for p in polygons[0].attrib["points"].split()]
    assert len(first) == 4  # upper edge left to right, lower edge right to left
    series, _ = polyline_points(root, "series")  # broken at the missing point
    # the points sit inside their band: between its upper and lower edge at the same x
    for (px, py), (ux, uy), (lx, ly) in zip(series[:2], first[:2], first[:1:-1], strict=True):
        assert px == ux == lx
        assert uy < py < ly
    for xx, yy in first:
        assert inside(root, xx, yy)
    # a band's edges count towards the y range: a band wider than the points is not clipped
    wide = parse(line_chart([0, 1], [0.5, 0.5], title="w", bands=[(0.0, 1.0), (0.0, 1.0)]))
    (band,) = (p for p in wide.iter(f"{NS}polygon") if p.attrib["class"] == "band")
    for pair in band.attrib["points"].split():
        assert inside(wide, *map(float, pair.split(",")))


def test_mismatched_lengths_are_rejected() -> None:
    with pytest.raises(ValueError, match="bands has 1 items; x has 2"):
        line_chart([0, 1], [1, 2], title="t", bands=[(0.0, 1.0)])
    with pytest.raises(ValueError, match="threshold has 1 items; x has 2"):
        line_chart([0, 1], [1, 2], title="t", threshold=[1])
    with pytest.raises(ValueError, match="2 labels but 1 values"):
        bar_chart(["a", "b"], [1.0], title="t")


# ---------------------------------------------------------------------- distribution charts


def bars(root: ET.Element, css: str) -> list[ET.Element]:
    return [r for r in root.iter(f"{NS}rect") if r.attrib.get("class") == f"bar {css}"]


def rect_inside(root: ET.Element, rect: ET.Element) -> bool:
    x, y = float(rect.attrib["x"]), float(rect.attrib["y"])
    w, h = float(rect.attrib["width"]), float(rect.attrib["height"])
    return w >= 0 and h >= 0 and inside(root, x, y) and inside(root, x + w, y + h)


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{NS}text")]


def assert_proportional(sizes: list[float], shares: list[float]) -> None:
    """Drawn sizes over the largest drawn size equal shares over the largest share."""
    big, top = max(sizes), max(shares)
    for size, share in zip(sizes, shares, strict=True):
        assert size / big == pytest.approx(share / top, abs=0.01)


def test_histogram_chart_draws_shares_of_each_sample() -> None:
    edges = [0.0, 1.0, 2.5, 4.0, 10.0]
    reference, current = [10, 30, 60, 0], [5, 5, 5, 35]
    root = parse(histogram_chart(edges, reference, current, title="income"))
    assert root.attrib["class"] == "chart histogram"
    assert root.find(f"{NS}title").text == "income"  # type: ignore[union-attr]
    ref_bars, cur_bars = bars(root, "reference"), bars(root, "current")
    assert len(ref_bars) == len(cur_bars) == 4
    assert all(r.attrib["fill"] == REFERENCE_COLOUR for r in ref_bars)
    assert all(r.attrib["fill"] == CURRENT_COLOUR for r in cur_bars)
    heights = [float(r.attrib["height"]) for r in ref_bars + cur_bars]
    shares = [c / 100 for c in reference] + [c / 50 for c in current]
    assert_proportional(heights, shares)
    for rect in ref_bars + cur_bars:
        assert rect_inside(root, rect)
    # bars stand on one baseline, left to right in bin order, the pair of a bin side by side
    bottoms = {round(float(r.attrib["y"]) + float(r.attrib["height"]), 1) for r in ref_bars}
    assert len(bottoms) == 1
    xs = [float(r.attrib["x"]) for pair in zip(ref_bars, cur_bars, strict=True) for r in pair]
    assert xs == sorted(xs)
    tips = [r.find(f"{NS}title").text for r in ref_bars]  # type: ignore[union-attr]
    assert tips[0] == "[0, 1) reference: 10% (10)"
    assert tips[-1] == "[4, 10] reference: 0% (0)"
    labels = texts(root)
    assert {"reference", "current", "0", "10", "70%"} <= set(labels)  # 35 of 50
    for text in root.iter(f"{NS}text"):
        assert inside(root, float(text.attrib["x"]), float(text.attrib["y"]))


def test_histogram_chart_labels_empty_samples_and_errors() -> None:
    root = parse(histogram_chart([0.0, 1.0], [0], [0], title="t", x_labels=("low", "high")))
    assert [float(r.attrib["height"]) for r in bars(root, "reference")] == [0.0]
    assert {"low", "high"} <= set(texts(root))
    with pytest.raises(ValueError, match="3 edges need 2 counts per sample"):
        histogram_chart([0.0, 1.0, 2.0], [1], [1, 2], title="t")
    with pytest.raises(ValueError, match="strictly increasing"):
        histogram_chart([0.0, 0.0, 2.0], [1, 1], [1, 2], title="t")
    with pytest.raises(ValueError, match="1 edges need 0 counts"):
        histogram_chart([0.0], [], [], title="t")


def test_category_chart_marks_unseen_categories() -> None:
    categories = ["Month-to-month", "One year", "Two year"]
    reference, current = [550, 210, 240], [300, 100, 50]
    unseen = [("Weekly", 30), ("Daily", 15)]
    root = parse(
        category_chart(
            categories, reference, current, title="contract", unseen=unseen, other_unseen=5
        )
    )
    assert root.attrib["class"] == "chart categories"
    ref_bars, cur_bars, new_bars = (
        bars(root, "reference"),
        bars(root, "current"),
        bars(root, "unseen"),
    )
    assert len(ref_bars) == len(cur_bars) == 3
    assert len(new_bars) == 3  # two named unseen categories and the other unseen rows
    assert all(r.attrib["fill"] == UNSEEN_COLOUR for r in new_bars)
    n_current = sum(current) + 30 + 15 + 5  # shares of the current sample include unseen rows
    widths = [float(r.attrib["width"]) for r in ref_bars + cur_bars + new_bars]
    shares = [c / 1000 for c in reference] + [c / n_current for c in [*current, 30, 15, 5]]
    assert_proportional(widths, shares)
    for rect in ref_bars + cur_bars + new_bars:
        assert rect_inside(root, rect)
    labels = texts(root)
    assert labels.count("unseen") == 1 + 3  # the legend, then one word per unseen row
    assert {"Weekly", "Daily", "(other unseen)", "Month-to-month"} <= set(labels)
    # unseen rows come below the reference categories
    ys = [float(r.attrib["y"]) for r in cur_bars + new_bars]
    assert ys == sorted(ys)
    marks = [t for t in root.iter(f"{NS}text") if t.attrib.get("class") == "unseen"]
    for mark, bar in zip(marks, new_bars, strict=True):
        assert float(mark.attrib["x"]) > float(bar.attrib["x"]) + float(bar.attrib["width"])
        assert inside(root, float(mark.attrib["x"]) + 30, float(mark.attrib["y"]))
    assert inside(root, 0, float(root.attrib["height"]))


def test_category_chart_without_unseen_and_long_labels() -> None:
    long = "a very long category label that goes on"
    root = parse(category_chart([long, "b"], [1, 3], [2, 2], title="c"))
    assert bars(root, "unseen") == []
    assert "unseen" not in texts(root)  # no legend entry either
    shown = [t for t in root.iter(f"{NS}text") if (t.text or "").startswith("a very")]
    (label,) = shown
    assert label.text is not None
    assert len(label.text) <= 18
    assert label.text.endswith("…")
    assert label.find(f"{NS}title").text == long  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="2 categories but 1 reference and 2 current"):
        category_chart(["a", "b"], [1], [1, 2], title="c")


def test_distribution_charts_escape_text() -> None:
    hostile = '<script>alert("x")</script> & "q"'
    svg = category_chart(
        [hostile, "b"], [1, 2], [2, 1], title=hostile, unseen=[(hostile, 3)], other_unseen=0
    )
    assert "<script>" not in svg
    root = parse(svg)
    assert root.find(f"{NS}title").text == hostile  # type: ignore[union-attr]
    titles = [t.text or "" for t in root.iter(f"{NS}title")]
    assert any(t.startswith(hostile + ": unseen") for t in titles)
    hist = histogram_chart([0.0, 1.0], [1], [1], title=hostile, x_labels=(hostile, hostile))
    assert "<script>" not in hist
    assert hostile in texts(parse(hist))
