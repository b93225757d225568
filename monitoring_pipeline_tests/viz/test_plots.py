"""The pictures are well-formed SVG that say what they show: labels escaped, missing days breaking a line, no
negative axis under rates that are never negative, one rectangle per run of equal verdicts."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import date, timedelta

import numpy as np

from monitoring_pipeline.core.bins import CategoricalBins
from monitoring_pipeline.core.profile import empty_profile
from monitoring_pipeline.viz import plots

SVG = "{http://www.w3.org/2000/svg}"
DAYS = [date(2026, 10, 1) + timedelta(days=i) for i in range(10)]


def _parsed(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and float(root.get("width")) > 100 and float(root.get("height")) > 50
    return root


def _texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_a_line_chart_breaks_at_missing_days_and_marks_alarms_on_the_line() -> None:
    values = [0.8, 0.81, None, 0.79, 0.6, 0.62, 0.7, None, 0.75, 0.76]
    svg = plots.daily_lines(
        {"realized <labels>": (DAYS, values)},
        "accuracy & more",
        "accuracy",
        band=(0.7, 0.9),
        marks={"CUSUM alarm": [DAYS[4], DAYS[7]]},  # the second has no value: it is not drawn
    )
    root = _parsed(svg)
    assert len(list(root.iter(f"{SVG}polyline"))) == 3  # three runs between the missing days
    marked = [c for c in root.iter(f"{SVG}circle") if c.get("fill") == plots.MARK_COLOURS[0]]
    assert len(marked) == 1
    assert {"accuracy & more", "realized <labels>", "CUSUM alarm", "band"} <= set(_texts(root))


def test_thresholds_are_dashed_levels_in_range_and_releases_marked_inside_the_window_only() -> None:
    values = [0.02, 0.03, 0.02, 0.05, 0.12, 0.31, 0.35, 0.33, 0.30, 0.34]
    events = [(DAYS[5], "1.1"), (DAYS[0] - timedelta(days=3), "1.0")]  # the second is before the window
    root = _parsed(
        plots.daily_lines({"psi": (DAYS, values)}, "channel: psi", levels={"warn": 0.1, "drift": 0.5}, events=events)
    )
    dashed = [line for line in root.iter(f"{SVG}line") if line.get("stroke-dasharray")]
    levels = {line.get("stroke"): line for line in dashed if line.get("y1") == line.get("y2")}
    assert set(levels) == {plots.LEVEL_COLOURS["warn"], plots.LEVEL_COLOURS["drift"]}  # 0.5 widens the axis to it
    releases = [line for line in dashed if line.get("x1") == line.get("x2")]
    assert len(releases) == 1 and "1.1" in _texts(root) and "1.0" not in _texts(root)
    assert {"warn 0.1", "drift 0.5"} <= set(_texts(root))
    panels = _parsed(plots.trend_panels({"a": (DAYS, values), "b": (DAYS, values)}, "daily mean", events))
    assert len([line for line in panels.iter(f"{SVG}line") if line.get("stroke-dasharray")]) == 2  # one a panel


def test_rates_that_are_zero_every_day_have_no_negative_axis() -> None:
    root = _parsed(plots.trend_panels({"no_refusal": (DAYS, [0.0] * len(DAYS))}, "failure rate"))
    ticks = [float(t) for t in _texts(root) if t.lstrip("-").replace(".", "", 1).isdigit()]
    assert ticks and min(ticks) == 0 and max(ticks) > 0


def test_the_heatmap_draws_one_rectangle_per_run_of_equal_verdicts() -> None:
    verdicts = {"income": {d: "ok" if i < 6 else "drift" for i, d in enumerate(DAYS)}, "age": {DAYS[0]: "warn"}}
    root = _parsed(plots.drift_heatmap(verdicts, DAYS, "verdicts"))
    colours = [r.get("fill") for r in root.iter(f"{SVG}rect")]
    assert colours.count(plots.VERDICT_COLOURS["drift"]) == 2  # income's run of drift days, and the legend
    assert colours.count(plots.VERDICT_COLOURS["ok"]) == 2  # income's run of ok days, and the legend
    assert _texts(root).index("income") < _texts(root).index("age")  # the drifting column first


def test_overlays_show_reference_and_current_shares_of_each_category() -> None:
    bins = CategoricalBins(vocabulary=("north", "south"), seen=frozenset({"north", "south"}), seen_complete=True)
    reference = replace(empty_profile("region", bins), counts=np.array([60, 40, 0, 0]))
    current = replace(empty_profile("region", bins), counts=np.array([20, 30, 0, 50]))
    svg = plots.distribution_overlays([("region", "drift: psi 1.2 (threshold 0.25)", reference, current, bins)])
    root = _parsed(svg)
    assert {"region", "north", "(unseen)", "reference", "current"} <= set(_texts(root))
    bars = [float(r.get("height")) for r in root.iter(f"{SVG}rect") if r.get("fill") == plots.CURRENT_COLOUR]
    north, south, other, unseen, _swatch = bars
    assert other == 0 and unseen > south > north > 0  # heights in proportion to the shares


def test_a_data_uri_decodes_to_the_picture() -> None:
    svg = plots.trend_panels({"score": (DAYS, list(np.linspace(0, 1, len(DAYS))))}, "daily mean")
    uri = plots.data_uri(svg)
    assert uri.startswith("data:image/svg+xml;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]).decode() == svg
