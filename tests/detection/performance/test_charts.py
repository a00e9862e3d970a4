"""The SVG charts draw what they are given: one polyline or bar group per series, one vertex or bar per point."""

import re

from detection.charts import BarSeries, Series, bar_chart, line_chart, nice_ticks
from detection.performance.metrics import MAX_CURVE_POINTS, curves


def polyline_points(svg: str, name: str) -> list[str]:
    match = re.search(rf'data-series="{name}" data-points="(\d+)" points="([^"]*)"', svg)
    assert match, f"no polyline for {name}"
    return match.group(2).split()


def test_line_chart_draws_one_vertex_per_point():
    svg = line_chart([Series("roc", [(0, 0), (0.1, 0.5), (0.4, 0.9), (1, 1)])], title="ROC", x_label="x", y_label="y")

    assert svg.startswith("<svg")
    assert len(polyline_points(svg, "roc")) == 4


def test_step_series_keeps_its_point_count_and_adds_corners():
    svg = line_chart([Series("pr", [(0, 1), (0.5, 0.8), (1, 0.3)], step=True)], title="PR", x_label="x", y_label="y")

    assert 'data-points="3"' in svg
    assert len(polyline_points(svg, "pr")) == 5


def test_line_chart_maps_the_corners_of_the_unit_square_to_the_plot_area():
    svg = line_chart([Series("diag", [(0, 0), (1, 1)])], title="t", x_label="x", y_label="y", width=480, height=320)

    assert polyline_points(svg, "diag") == ["56.0,274.0", "464.0,50.0"]


def test_every_series_gets_a_legend_entry():
    svg = line_chart(
        [Series("ensemble", [(0, 0), (1, 1)]), Series("autoencoder", [(0, 0), (1, 1)])],
        title="t",
        x_label="x",
        y_label="y",
    )

    assert svg.count('class="legend-item"') == 2
    assert ">ensemble</text>" in svg and ">autoencoder</text>" in svg


def test_text_is_escaped():
    svg = line_chart([Series("<b>", [(0, 0), (1, 1)])], title="a & b", x_label="x", y_label="y")

    assert "<b>" not in svg
    assert "&lt;b&gt;" in svg and "a &amp; b" in svg


def test_bar_chart_draws_one_bar_per_known_value():
    svg = bar_chart(
        ["03-01", "03-02", "03-03"],
        [BarSeries("flagged", [3, 0, 5]), BarSeries("precision", [0.5, None, 1.0])],
        title="t",
        y_label="n",
    )

    groups = re.findall(r'<g class="series" data-series="([^"]+)" data-points="(\d+)">(.*?)</g>', svg)
    assert [(name, n, body.count("<rect")) for name, n, body in groups] == [("flagged", "3", 3), ("precision", "3", 2)]


def test_axis_ticks_are_round_numbers():
    assert nice_ticks(0, 1) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0, 37) == [0, 10, 20, 30]


def test_curves_are_thinned_to_at_most_the_limit_keeping_both_ends():
    import numpy as np

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 5000)
    scores = rng.random(5000) + labels * 0.3

    found = curves("ensemble", labels, scores)

    assert len(found.roc) <= MAX_CURVE_POINTS and len(found.pr) <= MAX_CURVE_POINTS
    assert found.roc[0] == (0.0, 0.0) and found.roc[-1] == (1.0, 1.0)
    assert found.pr[-1][0] == 1.0
    assert 0.5 < found.roc_auc < 1.0


def test_count_axes_write_whole_numbers_only_when_every_tick_is_one():
    from detection.charts import count_format

    assert count_format([8]) == "{:,.0f}"  # ticks 0, 2, 4, 6, 8
    assert count_format([21]) == "{:,.0f}"  # 0, 5, …, 25
    assert count_format([12]) == "{:,.1f}"  # 0, 2.5, …, 12.5
    assert count_format([]) == "{:,.1f}"  # an empty axis of 0 to 1


def test_a_gauge_draws_its_bands_needle_and_threshold():
    from detection.charts import gauge

    svg = gauge(0.97, bands=[(0.0, "low", "#0a0"), (0.8, "medium", "#aa0"), (0.95, "high", "#a00")], marker=0.9)

    assert svg.count('class="band"') == 3 and 'class="needle"' in svg and 'class="threshold"' in svg
    assert 'data-value="0.970000"' in svg and ">0.970<" in svg
