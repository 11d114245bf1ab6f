"""The SVG chart primitives: well-formed XML, the points and markers asked for, drawn inside
the viewBox, gaps for missing values, degenerate series, escaped text."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

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


def test_band_is_drawn_inside() -> None:
    root = parse(line_chart([0, 1, 2], [0.2, 0.4, 0.9], title="b", band=(0.3, 0.6)))
    (band,) = (r for r in root.iter(f"{NS}rect") if r.attrib["class"] == "band")
    top, height = float(band.attrib["y"]), float(band.attrib["height"])
    assert height > 0
    assert inside(root, float(band.attrib["x"]), top)
    assert inside(root, float(band.attrib["x"]), top + height)


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


def test_mismatched_lengths_are_rejected() -> None:
    with pytest.raises(ValueError, match="threshold has 1 items; x has 2"):
        line_chart([0, 1], [1, 2], title="t", threshold=[1])
    with pytest.raises(ValueError, match="2 labels but 1 values"):
        bar_chart(["a", "b"], [1.0], title="t")
