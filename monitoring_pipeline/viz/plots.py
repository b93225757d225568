"""Pictures of drift, outputs, guards and performance, written as SVG from plain data: inline in the HTML report,
a data URI in Dagster's markdown metadata. Nothing here reads a table or knows Dagster; a picture is a few
kilobytes of text, drawn in about a millisecond, with no font, script or image from outside.
"""

from __future__ import annotations

import base64
import html
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from monitoring_pipeline.core.bins import Bins, CategoricalBins
from monitoring_pipeline.core.profile import ColumnProfile

REFERENCE_COLOUR, CURRENT_COLOUR = "#8c9bab", "#d9534f"
LINE_COLOURS = ("#337ab7", "#f0ad4e", "#5cb85c", "#6f42c1", "#8b4513", "#17a2b8")
MARK_COLOURS = ("#d9534f", "#6f42c1", "#e83e8c", "#8b4513")  # alarm points: red, purple, pink, brown
BAND_COLOUR = "#5cb85c"
LEVEL_COLOURS = {"warn": "#f0ad4e", "drift": "#d9534f"}  # threshold lines, by level
EVENT_COLOUR = "#888"  # releases: a dashed vertical line on the day one takes effect
Events = Sequence[tuple[date, str]]
TOP_CATEGORIES = 8
VERDICT_COLOURS = {"": "#f7f7f7", "ok": "#d6ead2", "warn": "#f6c85f", "drift": "#d9534f"}
VERDICT_NAMES = {"": "no verdict (no reference or data)", "ok": "ok", "warn": "warn", "drift": "drift"}
CHAR_WIDTH = 0.55  # of the font size: the width of an average character, to leave room for labels
DailySeries = Mapping[str, tuple[Sequence[date], Sequence[float | None]]]


def data_uri(svg: str) -> str:
    """The picture as a data:image/svg+xml URI (for markdown images)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


# -- drawing primitives ---------------------------------------------------------------------------------------------


def _n(value: float) -> str:
    """A coordinate, to a tenth of a pixel."""
    return f"{value:.1f}".removesuffix(".0")


def _text(x: float, y: float, text: str, size: float = 9, anchor: str = "start", rotate: float = 0, **style) -> str:
    turn = f' transform="rotate({_n(rotate)} {_n(x)} {_n(y)})"' if rotate else ""
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in style.items())
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}" text-anchor="{anchor}"{turn}{extra}>'
        f"{html.escape(text)}</text>"
    )


def _line(
    x1: float, y1: float, x2: float, y2: float, colour: str = "#ccc", width: float = 1, dash: str | None = None
) -> str:
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" stroke="{colour}" stroke-width="{width}"'
        f"{dashed}/>"
    )


def _rect(x: float, y: float, width: float, height: float, colour: str, opacity: float = 1) -> str:
    fade = f' fill-opacity="{opacity}"' if opacity < 1 else ""
    return f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(width)}" height="{_n(height)}" fill="{colour}"{fade}/>'


def _dot(x: float, y: float, radius: float, colour: str) -> str:
    return f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(radius)}" fill="{colour}"/>'


def _svg(width: float, height: float, title: str, body: Sequence[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(width)}" height="{_n(height)}" '
        f'viewBox="0 0 {_n(width)} {_n(height)}" font-family="sans-serif" fill="#333" role="img">'
        f"<title>{html.escape(title)}</title>{_rect(0, 0, width, height, '#fff')}{''.join(body)}</svg>"
    )


def _label(value: float) -> str:
    return f"{value:.3g}"


def _ticks(values: Sequence[float], count: int = 4) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) spanning `values`; from 0 when no value is
    negative, so a rate that is 0 every day has no negative axis."""
    finite = [v for v in values if math.isfinite(v)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if high - low < 1e-12 * max(1.0, abs(high)):
        pad = abs(high) * 0.1 or 1.0
        low, high = (low - pad if low < 0 else max(0.0, low - pad)), high + pad
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [round(i * step, 12) for i in range(first, last + 1)]


@dataclass(frozen=True)
class _Plot:
    """A plotting area at (left, top) of `width` x `height` pixels, mapping days and values into it."""

    left: float
    top: float
    width: float
    height: float
    values: tuple[float, float]
    days: tuple[date, date] = (date.min, date.min)

    def x(self, day: date) -> float:
        first, last = (d.toordinal() for d in self.days)
        share = (day.toordinal() - first) / (last - first) if last > first else 0.5
        return self.left + share * self.width

    def y(self, value: float) -> float:
        low, high = self.values
        return self.top + self.height - (value - low) / (high - low) * self.height

    def grid(self, ticks: Sequence[float], size: float = 8) -> list[str]:
        """Grid lines at `ticks`, labelled at the left."""
        body = []
        for tick in ticks:
            y = self.y(tick)
            body += [
                _line(self.left, y, self.left + self.width, y, "#e5e5e5"),
                _text(self.left - 4, y + 3, _label(tick), size, "end"),
            ]
        return body

    def events(self, events: Events, size: float = 7) -> list[str]:
        """A dashed vertical line, labelled at the top, on each day of `events` inside the plot's days."""
        body = []
        for day, label in events:
            if self.days[0] <= day <= self.days[1]:
                x = self.x(day)
                body.append(_line(x, self.top, x, self.top + self.height, EVENT_COLOUR, dash="3,3"))
                body.append(_text(x + 2, self.top + size, label, size, fill=EVENT_COLOUR))
        return body

    def axes(self, ticks: Sequence[float], labels: int = 8, size: float = 8) -> list[str]:
        """The grid, and up to `labels` day labels below."""
        body = self.grid(ticks, size)
        first, last = self.days
        span = last.toordinal() - first.toordinal()
        step = max(1, math.ceil((span + 1) / labels))
        for offset in range(0, span + 1, step):
            day = date.fromordinal(first.toordinal() + offset)
            x, y = self.x(day), self.top + self.height + 10
            body.append(_text(x, y, day.strftime("%m-%d"), size - 1, "end", -45))
        return body


def _series_points(
    plot: _Plot, days: Sequence[date], values: Sequence[float | None]
) -> list[list[tuple[float, float]]]:
    """The points of a series, in runs broken where a value is missing."""
    runs: list[list[tuple[float, float]]] = [[]]
    for day, value in zip(days, values, strict=True):
        if value is None or not math.isfinite(value):
            runs.append([])
        else:
            runs[-1].append((plot.x(day), plot.y(value)))
    return [run for run in runs if run]


def _draw_series(plot: _Plot, days: Sequence[date], values: Sequence[float | None], colour: str) -> list[str]:
    body = []
    for run in _series_points(plot, days, values):
        points = " ".join(f"{_n(x)},{_n(y)}" for x, y in run)
        body.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        body += [_dot(x, y, 1.6, colour) for x, y in run]
    return body


def _span(series: DailySeries) -> tuple[date, date]:
    days = [d for ds, _ in series.values() for d in ds]
    return min(days), max(days)


def _finite(series: DailySeries) -> list[float]:
    return [v for _, vs in series.values() for v in vs if v is not None and math.isfinite(v)]


# -- the pictures ---------------------------------------------------------------------------------------------------


def daily_lines(
    series: DailySeries,
    title: str,
    ylabel: str = "",
    band: tuple[float, float] | None = None,
    marks: Mapping[str, Sequence[date]] | None = None,
    levels: Mapping[str, float | None] | None = None,
    events: Events = (),
) -> str:
    """One line per named daily series (missing values break the line), an optional shaded band, optional
    marked days (for example alarms) drawn as points on the first series with a value that day, optional
    horizontal `levels` (thresholds, by name: `warn`, `drift`) and `events` (releases) as dashed vertical lines."""
    drawn = {name: value for name, value in (levels or {}).items() if value is not None and math.isfinite(value)}
    ticks = _ticks([*_finite(series), *(band or ()), *drawn.values()])
    plot = _Plot(56, 28, 400, 150, (ticks[0], ticks[-1]), _span(series))
    body = [_text(8, 16, title, 11, font_weight="bold"), *plot.axes(ticks), *plot.events(events)]
    body.append(_text(12, plot.top + plot.height / 2, ylabel, 8, "middle", -90))
    legend: list[tuple[str, str]] = []
    if band:
        top, bottom = plot.y(max(band)), plot.y(min(band))
        body.append(_rect(plot.left, top, plot.width, bottom - top, BAND_COLOUR, 0.15))
        legend.append(("band", BAND_COLOUR))
    for name, value in drawn.items():
        colour, y = LEVEL_COLOURS.get(name, EVENT_COLOUR), plot.y(value)
        body.append(_line(plot.left, y, plot.left + plot.width, y, colour, dash="5,3"))
        legend.append((f"{name} {_label(value)}", colour))
    lookup: dict[date, float] = {}  # a marked day sits on the first series with a value that day
    for (name, (days, values)), colour in zip(series.items(), itertools.cycle(LINE_COLOURS)):
        body += _draw_series(plot, days, values, colour)
        legend.append((name, colour))
        for day, value in zip(days, values, strict=True):
            if value is not None and math.isfinite(value):
                lookup.setdefault(day, value)
    for (name, days), colour in zip((marks or {}).items(), MARK_COLOURS, strict=False):
        picked = [d for d in days if d in lookup]
        body += [_dot(plot.x(d), plot.y(lookup[d]), 3.5, colour) for d in picked]
        if picked:
            legend.append((name, colour))
    for i, (name, colour) in enumerate(legend):
        x, y = plot.left + plot.width + 16, plot.top + 6 + 14 * i
        body += [_rect(x, y - 6, 8, 8, colour), _text(x + 12, y + 1, name, 8)]
    return _svg(640, 230, title, body)


def trend_panels(series: DailySeries, ylabel: str, events: Events = ()) -> str:
    """Small multiples: one panel per named daily series (each on its own scale), four to a row; `events`
    (releases) as dashed vertical lines on every panel."""
    names = sorted(series)
    columns = min(4, len(names))
    panel_width, panel_height = 220, 150
    body = [_text(8, 14, ylabel, 10, font_weight="bold")]
    for index, name in enumerate(names):
        left, top = (index % columns) * panel_width, 20 + (index // columns) * panel_height
        days, values = series[name]
        ticks = _ticks([v for v in values if v is not None and math.isfinite(v)], 3)
        plot = _Plot(
            left + 52, top + 18, panel_width - 66, panel_height - 64, (ticks[0], ticks[-1]), (min(days), max(days))
        )
        body += [_text(left + 52, top + 11, name, 9, font_weight="bold"), *plot.axes(ticks, 5, 7)]
        body += plot.events(events, 6)
        body += _draw_series(plot, days, values, LINE_COLOURS[0])
    rows = -(-len(names) // columns)
    return _svg(columns * panel_width, 20 + rows * panel_height, ylabel, body)


def _shares(profile: ColumnProfile, bins: Bins) -> tuple[list[str], np.ndarray]:
    """Labels and shares of a profile on the bins people read: a numeric column's PSI deciles, a categorical
    column's top values with `other` and `unseen`."""
    if isinstance(bins, CategoricalBins):
        counts = profile.counts.astype(np.float64)
        labels = [*bins.vocabulary, "(other)", "(unseen)"]
    else:
        counts = bins.decile_counts(profile.counts).astype(np.float64)
        cuts = bins.edges[bins.decile_positions]
        labels = [f"≤{cuts[0]:.3g}", *[f"{a:.3g}–{b:.3g}" for a, b in itertools.pairwise(cuts)]]
        labels.append(f">{cuts[-1]:.3g}")
    total = counts.sum()
    return labels, counts / total if total else counts


def distribution_overlays(columns: Sequence[tuple[str, str, ColumnProfile, ColumnProfile, Bins]]) -> str:
    """One panel per (column, caption, reference profile, current profile, bins), three to a row: the reference
    and current shares side by side, on the reference deciles or the top categories."""
    panel_width, panel_height, per_row = 300, 240, 3
    body = []
    for index, (column, caption, reference, current, bins) in enumerate(columns):
        left, top = (index % per_row) * panel_width, (index // per_row) * panel_height
        labels, ref_share = _shares(reference, bins)
        _, cur_share = _shares(current, bins)
        if isinstance(bins, CategoricalBins) and len(labels) > TOP_CATEGORIES + 2:
            keep = sorted(np.argsort(-(ref_share + cur_share))[:TOP_CATEGORIES])
            labels, ref_share, cur_share = [labels[i] for i in keep], ref_share[keep], cur_share[keep]
        ticks = _ticks([0.0, float(max(ref_share.max(initial=0), cur_share.max(initial=0)))], 4)
        plot = _Plot(left + 48, top + 44, panel_width - 64, 120, (ticks[0], ticks[-1]))
        body += [
            _text(left + 8, top + 14, column, 10, font_weight="bold"),
            _text(left + 8, top + 28, caption, 8),
            *plot.grid(ticks),
        ]
        slot = plot.width / max(1, len(labels))
        for i, (label, ref, cur) in enumerate(zip(labels, ref_share, cur_share, strict=True)):
            x = plot.left + i * slot
            for offset, share, colour in ((0.1, ref, REFERENCE_COLOUR), (0.5, cur, CURRENT_COLOUR)):
                y = plot.y(float(share))
                body.append(_rect(x + offset * slot, y, 0.4 * slot, plot.top + plot.height - y, colour))
            shown = label if len(label) <= 18 else label[:17] + "…"
            body.append(_text(x + slot / 2, plot.top + plot.height + 10, shown, 7, "end", -60))
        body.append(_text(left + 12, plot.top + plot.height / 2, "share of rows", 8, "middle", -90))
    rows = -(-len(columns) // per_row)
    for i, (name, colour) in enumerate((("reference", REFERENCE_COLOUR), ("current", CURRENT_COLOUR))):
        x = 56 + 80 * i
        body += [_rect(x, rows * panel_height + 4, 8, 8, colour), _text(x + 12, rows * panel_height + 11, name, 8)]
    width = panel_width * max(1, min(per_row, len(columns)))
    return _svg(width, rows * panel_height + 20, "reference and current distributions", body)


def drift_heatmap(verdicts: Mapping[str, Mapping[date, str]], days: Sequence[date], title: str = "") -> str:
    """Columns x days, coloured by verdict (ok, warn, drift; blank where there is none); the most drifting columns
    first."""
    columns = sorted(verdicts, key=lambda c: (-sum(v == "drift" for v in verdicts[c].values()), c))
    cell, size = 12, 8
    left = 12 + CHAR_WIDTH * size * max((len(c) for c in columns), default=4)
    top = 26
    title = title or "drift verdict by day"
    body = [_text(8, 16, title, 11, font_weight="bold")]
    for row, column in enumerate(columns):
        y = top + row * cell
        body.append(_text(left - 4, y + cell - 3, column, size, "end"))
        shown = [verdicts[column].get(d, "") for d in days]
        shown = [v if v in VERDICT_COLOURS else "" for v in shown]
        start = 0
        for verdict, run in itertools.groupby(shown):  # one rectangle per run of equal verdicts
            length = len(list(run))
            body.append(_rect(left + start * cell, y, length * cell - 1, cell - 1, VERDICT_COLOURS[verdict]))
            start += length
    bottom = top + len(columns) * cell
    step = max(1, math.ceil(len(days) / 15))
    for i in range(0, len(days), step):
        body.append(_text(left + i * cell + cell / 2, bottom + 8, days[i].strftime("%m-%d"), 7, "end", -60))
    legend_x = left + len(days) * cell + 16
    for i, verdict in enumerate(VERDICT_COLOURS):
        y = top + 14 * i
        body += [
            _rect(legend_x, y, 9, 9, VERDICT_COLOURS[verdict]),
            _text(legend_x + 13, y + 8, VERDICT_NAMES[verdict], 8),
        ]
    width = legend_x + 13 + CHAR_WIDTH * 8 * max(len(n) for n in VERDICT_NAMES.values()) + 8
    return _svg(width, max(bottom + 44, top + 14 * len(VERDICT_COLOURS) + 8), title, body)
