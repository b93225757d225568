"""Pictures of drift, outputs, guards and performance: matplotlib figures from plain data, encoded as inline SVG
(the HTML report) or a PNG data URI (Dagster's markdown metadata). Nothing here reads a table or knows Dagster;
every figure renders offline with the Agg backend and embeds no fonts or scripts from outside.
"""

from __future__ import annotations

import base64
import io
import itertools
from collections.abc import Mapping, Sequence
from datetime import date

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from monitoring_pipeline.core.bins import Bins, CategoricalBins
from monitoring_pipeline.core.profile import ColumnProfile

REFERENCE_COLOUR, CURRENT_COLOUR = "#8c9bab", "#d9534f"
MARK_COLOURS = ("#d9534f", "#6f42c1", "#f0ad4e", "#8b4513")  # alarm points: red, purple, orange, brown
TOP_CATEGORIES = 8
plt.rcParams.update({"font.size": 8, "svg.fonttype": "none", "svg.hashsalt": "monitoring_pipeline"})


def to_svg(figure: Figure) -> str:
    """The figure as an inline <svg> element (text stays text), and closes it."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def to_png_uri(figure: Figure, dpi: int = 72) -> str:
    """The figure as a data:image/png URI (for markdown images), and closes it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


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


def distribution_overlays(columns: Sequence[tuple[str, str, ColumnProfile, ColumnProfile, Bins]]) -> Figure:
    """One panel per (column, caption, reference profile, current profile, bins): the reference and current shares
    side by side, on the reference deciles or the top categories."""
    figure, axes = plt.subplots(1, len(columns), figsize=(3.6 * len(columns), 2.6), squeeze=False)
    for axis, (column, caption, reference, current, bins) in zip(axes[0], columns, strict=True):
        labels, ref_share = _shares(reference, bins)
        _, cur_share = _shares(current, bins)
        if isinstance(bins, CategoricalBins) and len(labels) > TOP_CATEGORIES + 2:
            keep = sorted(np.argsort(-(ref_share + cur_share))[:TOP_CATEGORIES])
            labels, ref_share, cur_share = [labels[i] for i in keep], ref_share[keep], cur_share[keep]
        x = np.arange(len(labels))
        axis.bar(x - 0.2, ref_share, 0.4, color=REFERENCE_COLOUR, label="reference")
        axis.bar(x + 0.2, cur_share, 0.4, color=CURRENT_COLOUR, label="current")
        axis.set_xticks(x, labels, rotation=60, ha="right", fontsize=6)
        axis.set_title(f"{column}\n{caption}", fontsize=8)
        axis.set_ylabel("share of rows")
    axes[0][0].legend(fontsize=7, frameon=False)
    figure.subplots_adjust(left=0.08, right=0.98, top=0.82, bottom=0.38, wspace=0.3)
    return figure


VERDICT_LEVELS = {"ok": 0, "warn": 1, "drift": 2}
VERDICT_COLOURS = ListedColormap(["#f7f7f7", "#d6ead2", "#f6c85f", "#d9534f"])  # no verdict, ok, warn, drift


def drift_heatmap(verdicts: Mapping[str, Mapping[date, str]], days: Sequence[date], title: str = "") -> Figure:
    """Columns x days, coloured by verdict (ok, warn, drift; blank where there is none)."""
    columns = sorted(verdicts, key=lambda c: (-sum(v == "drift" for v in verdicts[c].values()), c))
    grid = np.array([[VERDICT_LEVELS.get(verdicts[c].get(d, ""), -1) + 1 for d in days] for c in columns])
    figure, axis = plt.subplots(figsize=(max(6.0, 0.16 * len(days) + 4), max(1.5, 0.2 * len(columns) + 0.8)))
    axis.imshow(grid, cmap=VERDICT_COLOURS, vmin=0, vmax=3, aspect="auto", interpolation="nearest")
    axis.set_yticks(range(len(columns)), columns, fontsize=6)
    step = max(1, len(days) // 15)
    axis.set_xticks(range(0, len(days), step), [days[i].strftime("%m-%d") for i in range(0, len(days), step)])
    axis.tick_params(axis="x", labelrotation=60, labelsize=6)
    handles = [plt.Rectangle((0, 0), 1, 1, color=VERDICT_COLOURS(i)) for i in (0, 1, 2, 3)]
    labels = ["no verdict (no reference or data)", "ok", "warn", "drift"]
    axis.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=6)
    axis.set_title(title or "drift verdict by day", fontsize=9)
    height = max(1.5, 0.2 * len(columns) + 0.8)
    figure.subplots_adjust(
        left=1.6 / figure.get_figwidth(),
        right=1 - 1.9 / figure.get_figwidth(),
        top=1 - 0.3 / height,
        bottom=0.5 / height,
    )
    return figure


def daily_lines(
    series: Mapping[str, tuple[Sequence[date], Sequence[float | None]]],
    title: str,
    ylabel: str = "",
    band: tuple[float, float] | None = None,
    marks: Mapping[str, Sequence[date]] | None = None,
) -> Figure:
    """One line per named daily series (missing values break the line), an optional shaded band, and optional
    marked days (for example alarms) drawn as points on the first series with a value that day."""
    figure, axis = plt.subplots(figsize=(6.4, 2.4))
    if band:
        axis.axhspan(*band, color="#5cb85c", alpha=0.12, label="band")
    for name, (days, values) in series.items():
        axis.plot(days, [np.nan if v is None else v for v in values], marker=".", markersize=3, label=name)
    lookup: dict[date, float] = {}  # a marked day sits on the first series with a value that day
    for days, values in series.values():
        for day, value in zip(days, values, strict=True):
            if value is not None:
                lookup.setdefault(day, value)
    for (name, days), colour in zip((marks or {}).items(), MARK_COLOURS, strict=False):
        picked = [d for d in days if lookup.get(d) is not None]
        axis.scatter(picked, [lookup[d] for d in picked], s=22, zorder=3, color=colour, label=name)
    axis.set_title(title, fontsize=9)
    axis.set_ylabel(ylabel)
    axis.tick_params(axis="x", labelrotation=45, labelsize=6)
    axis.legend(fontsize=6, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1))
    axis.grid(alpha=0.3)
    figure.subplots_adjust(left=0.1, right=0.8, top=0.88, bottom=0.22)
    return figure


def trend_panels(series: Mapping[str, tuple[Sequence[date], Sequence[float | None]]], ylabel: str) -> Figure:
    """Small multiples: one panel per named daily series (each on its own scale), four to a row."""
    names = sorted(series)
    columns = min(4, len(names))
    rows = -(-len(names) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 1.9 * rows), squeeze=False)
    for axis, name in zip(axes.flat, names, strict=False):
        days, values = series[name]
        axis.plot(days, [np.nan if v is None else v for v in values], marker=".", markersize=3, color="#337ab7")
        axis.set_title(name, fontsize=8)
        axis.tick_params(axis="x", labelrotation=45, labelsize=5)
        axis.tick_params(axis="y", labelsize=6)
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(names) :]:
        axis.set_visible(False)
    axes[0][0].set_ylabel(ylabel)
    figure.subplots_adjust(
        left=0.09, right=0.98, top=1 - 0.3 / (1.9 * rows), bottom=0.5 / (1.9 * rows), wspace=0.35, hspace=0.6
    )
    return figure
