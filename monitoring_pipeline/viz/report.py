"""What people look at: the pictures of a model's day (for the Dagster UI's metadata) and the self-contained HTML
report of a window (`monitoring-pipeline report`). Reads the report tables through `io.catalog`, the steps and the
registry, draws with `viz.plots`; the HTML has no external script, stylesheet, font or image.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import polars as pl

from monitoring_pipeline.core.alerts import NO_DATA, readings_on
from monitoring_pipeline.core.config import ModelSpec, ProjectConfig
from monitoring_pipeline.core.contract import MAX_REJECTED_SHARE
from monitoring_pipeline.core.drift.registry import INPUT_ROLES, OUTPUT_ROLES
from monitoring_pipeline.core.guards.evaluate import guarded_rows, quarantined_share
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.registry import audit_log, models
from monitoring_pipeline.registry.signatures import identity_note
from monitoring_pipeline.review.tickets import read_tickets, signals_and_states
from monitoring_pipeline.steps.drift import WorstDrift, worst_drift
from monitoring_pipeline.steps.guards import daily_guard_counts
from monitoring_pipeline.steps.performance import alert_series
from monitoring_pipeline.steps.profiles import read_profiles, text_columns
from monitoring_pipeline.viz import plots

TRAILING_DAYS = 28  # the window the UI's pictures look back over
PICTURED_COLUMNS = 12  # the day's columns that are not ok, pictured largest drift size (value / threshold) first
WORST_ROLES = (*INPUT_ROLES, *OUTPUT_ROLES)  # the columns the pictures rank: inputs and outputs, not guard flags
DailySeries = dict[str, tuple[list[date], list[float | None]]]


def window(day: date, days: int, model: ModelSpec) -> list[date]:
    """The `days` days ending with `day`, from the model's first day on."""
    return [d for d in (day - timedelta(days=i) for i in range(days - 1, -1, -1)) if d >= model.start_date]


# -- data ----------------------------------------------------------------------------------------------------------


def verdict_grid(config: ProjectConfig, model: ModelSpec, days: Sequence[date]) -> dict[str, dict[date, str]]:
    """column -> day -> verdict, for the model's input and output columns."""
    report = catalog.day_rows(config, catalog.DRIFT_REPORT, model.name, days=days)
    if report is None:
        return {}
    rows = (
        report.filter(pl.col("decisive") & pl.col("role").is_in([*INPUT_ROLES, *OUTPUT_ROLES]))
        .select("column", "day", "verdict")
        .unique()
        .collect()
    )
    grid: dict[str, dict[date, str]] = {}
    for column, day, verdict in rows.iter_rows():
        grid.setdefault(column, {})[day] = verdict
    return grid


def daily_means(config: ProjectConfig, model: ModelSpec, days: Sequence[date], roles: tuple[str, ...]) -> DailySeries:
    """Per numeric column of `roles`: its mean per day over every model version (from the stored profiles)."""
    rows = (
        read_profiles(config, model, list(days))
        .filter(pl.col("role").is_in(roles) & pl.col("mean").is_not_null() & (pl.col("n_valid") > 0))
        .group_by("column", "day")
        .agg(((pl.col("mean") * pl.col("n_valid")).sum() / pl.col("n_valid").sum()).alias("mean"))
        .sort("column", "day")
    )
    return {column: (part["day"].to_list(), part["mean"].to_list()) for (column,), part in rows.group_by("column")}


def guard_failure_rates(config: ProjectConfig, model: ModelSpec, days: Sequence[date]) -> DailySeries:
    """Per guard rule: the share of the day's contract-valid rows it failed."""
    verdicts = catalog.day_rows(config, catalog.GUARD_VERDICTS, model.name, days=days)
    counts = daily_guard_counts(config, model, min(days), max(days))
    if verdicts is None or counts.is_empty():
        return {}
    totals = counts.select("day", guarded_rows().alias("rows"))
    failures = verdicts.group_by("rule_id", "day").len().collect()
    rules = [rule.id for rule in model.guards.rules]
    grid = totals.join(pl.DataFrame({"rule_id": rules}, schema={"rule_id": pl.String}), how="cross").join(
        failures, on=["rule_id", "day"], how="left"
    )
    rates = grid.with_columns((pl.col("len").fill_null(0) / pl.col("rows")).alias("rate")).sort("rule_id", "day")
    return {rule: (part["day"].to_list(), part["rate"].to_list()) for (rule,), part in rates.group_by("rule_id")}


@dataclass(frozen=True)
class PerformancePicture:
    metric: str
    series: DailySeries
    band: tuple[float, float] | None
    marks: dict[str, list[date]]
    table: pl.DataFrame


ALARM_MARKS = {  # how each alarm of an alert metric is marked on its chart
    "band_alarm": "worse than the band",
    "cusum_alarm": "CUSUM alarm",
    "estimate_alarm": "estimate worse than the band",
    "estimation_alarm": "estimate off the realized value",
}


def performance_pictures(config: ProjectConfig, model: ModelSpec, days: Sequence[date]) -> list[PerformancePicture]:
    """One picture per alert metric (`performance.alert_metrics`): realized and estimated values over `days`,
    the baseline band and the days each alarm sounded."""
    if model.performance is None:
        return []
    series = alert_series(config, model, min(days), max(days))
    pictures = []
    for metric in model.performance.alerting():
        rows = series.filter(pl.col("metric") == metric).sort("day")
        if rows.is_empty():
            continue
        days_, banded = rows["day"].to_list(), rows.filter(pl.col("band_low").is_not_null())
        alarmed = {flag: pl.col(flag).fill_null(False) for flag in ALARM_MARKS}
        marks = {label: rows.filter(alarmed[flag])["day"].to_list() for flag, label in ALARM_MARKS.items()}
        pictures.append(
            PerformancePicture(
                metric,
                {"realized": (days_, rows["realized"].to_list()), "estimated": (days_, rows["estimated"].to_list())},
                (banded["band_low"][-1], banded["band_high"][-1]) if banded.height else None,
                marks,
                rows.select("day", "realized", "estimated", "label_coverage", "band_low", "band_high", *ALARM_MARKS),
            )
        )
    return pictures


def worst_overlays(worst: WorstDrift) -> str | None:
    """The worst columns' reference and current distributions, overlaid (None: no column warns or drifts)."""
    panels = [
        (
            r["column"],
            f"{r['verdict']}: {r['method']} {r['value']:.3g} (threshold {r['threshold']:.3g})",
            worst.reference[r["column"]],
            worst.current[r["column"]],
            worst.bins[r["column"]],
        )
        for r in worst.ranked.iter_rows(named=True)
        if r["column"] in worst.reference and r["column"] in worst.current
    ]
    return plots.distribution_overlays(panels) if panels else None


# -- the Dagster UI's pictures --------------------------------------------------------------------------------------


def _image(svg: str | None, alt: str) -> list[str]:
    return [f"![{alt}]({plots.data_uri(svg)})", ""] if svg else []


def drift_markdown(config: ProjectConfig, model: ModelSpec, day: date, worst: WorstDrift) -> str:
    """The day's worst-drifting columns (`worst`, as the run that judged it holds them) against their reference,
    and the columns x days verdict heatmap of the trailing window."""
    days = window(day, TRAILING_DAYS, model)
    grid = verdict_grid(config, model, days)
    heatmap = plots.drift_heatmap(grid, days, f"verdicts, {days[0]} .. {day}") if grid else None
    overlays = worst_overlays(worst)
    return "\n".join(
        [
            f"### {model.name}: drift on {day}",
            "",
            *_image(overlays, "columns that warn or drift"),
            *_image(heatmap, "drift heatmap"),
        ]
    )


def trend_markdown(title: str, series: DailySeries) -> str:
    """Small multiples of daily series (one panel per name)."""
    if not series:
        return f"### {title}\n\nnothing to show yet"
    return "\n".join([f"### {title}", "", *_image(plots.trend_panels(series, title), title)])


def performance_markdown(pictures: Sequence[PerformancePicture]) -> str:
    """Each alert metric's chart: realized vs estimated, with its band and alarms."""
    if not pictures:
        return "### performance\n\nnothing to show yet"
    images = [_image(plots.daily_lines(p.series, p.metric, p.metric, p.band, p.marks), p.metric) for p in pictures]
    return "\n".join(["### performance: the alert metrics", "", *itertools.chain.from_iterable(images)])


# -- the HTML report ------------------------------------------------------------------------------------------------

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#222}
h1{font-size:22px}h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 6px;text-align:left}
th{background:#f5f5f5}.drift{color:#b52b27;font-weight:600}.warn{color:#a66f00}.muted{color:#777}
figure{margin:8px 0}svg{max-width:100%;height:auto}details{margin:4px 0}summary{cursor:pointer}
.alert{border:1px solid #b52b27;background:#fdf0ef;padding:6px 10px;margin:8px 0}
.summary{border:1px solid #ddd;background:#fafafa;padding:4px 12px;margin:8px 0}.ok{color:#2e7d32}
"""


CELL_CLASSES = {"drift": "drift", "warn": "warn", "FAILED": "drift", "passed": "ok"}


def _table(frame: pl.DataFrame) -> str:
    if frame.is_empty():
        return '<p class="muted">none</p>'
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    body = []
    for row in frame.iter_rows():
        cells = []
        for value in row:
            text = f"{value:.4g}" if isinstance(value, float) else "" if value is None else str(value)
            css = f' class="{CELL_CLASSES[text]}"' if text in CELL_CLASSES else ""
            cells.append(f"<td{css}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _figure(svg: str | None, caption: str) -> str:
    if not svg:
        return f'<p class="muted">{html.escape(caption)}: nothing to show</p>'
    return f"<figure>{svg}<figcaption class='muted'>{html.escape(caption)}</figcaption></figure>"


def _drift_table(config: ProjectConfig, model: ModelSpec, day: date) -> pl.DataFrame:
    report = catalog.day_rows(config, catalog.DRIFT_REPORT, model.name, days=day)
    if report is None:
        return pl.DataFrame()
    return (
        report.filter(pl.col("decisive"))
        .select("column", "role", "method", "value", "threshold", "p_value_adjusted", "verdict", "n_current")
        .with_columns(
            pl.col("verdict").replace_strict({"drift": 0, "warn": 1}, default=2, return_dtype=pl.Int8).alias("order")
        )
        .sort("order", "column", "method")
        .drop("order")
        .collect()
    )


def segment_table(config: ProjectConfig, model: ModelSpec, day: date) -> pl.DataFrame:
    """The segments a column drifts in on `day`: those the whole model does not see first, then by share explained."""
    rows = catalog.day_rows(config, catalog.SEGMENT_DRIFT, model.name, days=day)
    if rows is None:
        return pl.DataFrame()
    return (
        rows.filter(pl.col("verdict") == "drift")
        .select(
            pl.format("{} = {}", "segment_column", "segment_value").alias("segment"),
            "column",
            "method",
            pl.col("size").round(2),
            pl.col("explains").round(2),
            "model_verdict",
            pl.when("only_here").then(pl.lit("this segment only")).otherwise(pl.lit("")).alias("seen"),
        )
        .sort(["seen", "explains"], descending=True, nulls_last=True)
        .collect()
    )


def ngram_table(config: ProjectConfig, model: ModelSpec, day: date) -> pl.DataFrame:
    """The n-grams that separate each text column that warns or drifts on `day` from its reference, most first."""
    rows = catalog.day_rows(config, catalog.TEXT_DRIFT, model.name, days=day)
    if rows is None:
        return pl.DataFrame()
    return (
        rows.sort("column", "rank")
        .select("column", "ngram", *(pl.col(c).round(4) for c in ("reference", "current", "share")))
        .collect()
    )


def report_html(config: ProjectConfig, model: ModelSpec, day: date, days: int, progress: Callable = print) -> str:
    """One self-contained HTML file: a summary first (the day's alert signals against their thresholds, what is
    behind those that crossed, the open tickets) and the day's checks passed or failed, then the window's drift
    heatmap, the day's columns that warn or drift (pictured against their reference, and each one's statistic
    over the window against its thresholds, folded), its drift table and the segments that drift, output
    trends, guard failure rates, performance — every trend marking the releases — the releases in the window and
    the open tickets. Nothing in it names the machine it was built on."""
    progress("the audit chain's coverage")
    uncovered = audit_log.coverage(config)  # first: a damaged data file is named before any read trips on it
    span = window(day, days, model)
    progress(f"drift verdicts for {len(span)} days")
    grid = verdict_grid(config, model, span)
    progress("the day's signals, checks, releases and open tickets")
    open_tickets = _open_tickets(config, model)
    releases = _releases(config, model, span)
    events = [(r["effective_at"].date(), r["model_version"]) for r in releases.iter_rows(named=True)]
    sections = [
        f"<h1>{html.escape(model.name)}: monitoring report for {day}</h1>",
        _summary(config, model, day, open_tickets),
        f'<p class="muted">Window {span[0]} .. {day} ({len(span)} days); reference: '
        f"{html.escape(model.reference.describe())}; generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.</p>",
        _evidence(uncovered),
        "<h2>Checks of the day</h2>",
        _table(_checks(config, model, day)),
        "<h2>Drift</h2>",
        _figure(plots.drift_heatmap(grid, span) if grid else None, "drift verdict by column and day"),
    ]
    progress("worst-drifting columns")
    sections += [
        _figure(
            worst_overlays(worst_drift(config, model, day, WORST_ROLES, PICTURED_COLUMNS)),
            f"the day's columns that warn or drift, largest drift size (value / threshold) first, {day}",
        ),
        f"<h3>Columns that warn or drift on {day}, over the window</h3>",
        *_column_histories(config, model, day, span, events),
        f"<h3>Drift table, {day}</h3>",
        _table(_drift_table(config, model, day)),
        *(
            [f"<h3>Segments that drift on {day}</h3>", _table(segment_table(config, model, day))]
            if model.segments
            else []
        ),
        *(
            [f"<h3>What separates the texts on {day}</h3>", _table(ngram_table(config, model, day))]
            if text_columns(model)
            else []
        ),
        "<h2>Outputs</h2>",
    ]
    progress("output trends and guards")
    outputs = daily_means(config, model, span, OUTPUT_ROLES)
    rates = guard_failure_rates(config, model, span)
    sections += [
        _figure(plots.trend_panels(outputs, "daily mean", events) if outputs else None, "output trends"),
        "<h2>Guards</h2>",
        _figure(plots.trend_panels(rates, "failure rate", events) if rates else None, "failure rate by rule"),
        _table(_guard_summary(rates)),
    ]
    progress("performance, releases and tickets")
    pictures = performance_pictures(config, model, span)
    sections.append("<h2>Performance</h2>")
    for picture in pictures:
        lines = plots.daily_lines(
            picture.series, picture.metric, picture.metric, picture.band, picture.marks, events=events
        )
        sections += [
            _figure(lines, f"{picture.metric}: realized (labels so far) and estimated"),
            _table(picture.table),
        ]
    if not pictures:
        sections.append('<p class="muted">no labels configured</p>')
    sections += [
        "<h2>Releases in the window</h2>",
        _table(releases),
        *([f'<p class="muted">{html.escape(note)}</p>'] if (note := identity_note(config.governance)) else []),
        "<h2>Open tickets</h2>",
        _table(open_tickets),
    ]
    body = "\n".join(sections)
    title = html.escape(f"{model.name} {day}")
    head = f"<meta charset='utf-8'><title>{title}</title><style>{STYLE}</style>"
    return f"<!doctype html><html lang='en'><head>{head}</head><body>{body}</body></html>"


SIGNAL_NAMES = {
    "feature_drift": "features drifting",
    "output_drift": "outputs drifting",
    "guard_failure": "share of rows quarantined",
    "missing_data": "contract-valid rows",
    "performance": "performance alarms",
}


def _summary(config: ProjectConfig, model: ModelSpec, day: date, open_tickets: pl.DataFrame) -> str:
    """The verdict first, in one screen: each alert signal of the day against the model's threshold (the health
    checks' readings), what is behind the ones that crossed, and the open tickets."""
    signals, states = signals_and_states(config, model, day, day)
    readings = readings_on(signals, model.alerts, day, model.training_days())
    crossed = [r for r in readings if r.crossed]
    verdict = (
        f'<p class="drift"><b>In trouble on {day}:</b> '
        + "; ".join(f"{SIGNAL_NAMES.get(r.signal, r.signal)} {r.value:.4g}" for r in crossed)
        + "</p>"
        if crossed
        else f'<p class="ok"><b>Quiet on {day}:</b> no alert signal crossed its threshold.</p>'
    )
    rows = "".join(
        f"<tr><td>{html.escape(SIGNAL_NAMES.get(r.signal, r.signal))}</td><td>{r.value:.4g}</td>"
        f"<td>{html.escape(r.comparison)} {r.threshold:g}</td>"
        f"<td{' class=drift' if r.crossed else ''}>{'crossed' if r.crossed else 'ok'}</td>"
        f"<td>{states[r.signal].get(day, NO_DATA)}</td>"
        f"<td>{html.escape(', '.join(r.columns))}</td></tr>"
        for r in readings
    )
    table = (
        "<table><tr><th>signal</th><th>value</th><th>alert threshold</th><th>day</th><th>state</th>"
        "<th>behind it</th></tr>"
        f"{rows}</table>"
    )
    tickets = f"<p>Open retraining-review tickets: <b>{open_tickets.height}</b>.</p>"
    return f'<div class="summary">{verdict}{table}{tickets}</div>'


def _column_histories(
    config: ProjectConfig, model: ModelSpec, day: date, span: Sequence[date], events: plots.Events
) -> list[str]:
    """Each column that warns or drifts on `day` (largest drift size first), folded: its deciding method's
    statistic on every day of the window against the warn and drift thresholds, with the releases marked."""
    verdicts = catalog.day_rows(config, catalog.DRIFT_VERDICTS, model.name, days=day)
    report = catalog.day_rows(config, catalog.DRIFT_REPORT, model.name, days=span)
    if verdicts is None or report is None:
        return ['<p class="muted">no drift report</p>']
    flagged = (
        verdicts.filter(pl.col("verdict").is_in(["warn", "drift"]) & pl.col("role").is_in(WORST_ROLES))
        .filter(pl.col("method").is_not_null())
        .sort(pl.col("verdict") == "drift", "size", descending=True, nulls_last=True)
        .collect()
    )
    if flagged.is_empty():
        return [f'<p class="muted">no column warns or drifts on {day}</p>']
    history = (
        report.join(flagged.lazy().select("column", "method"), on=["column", "method"], how="semi")
        .select("column", "method", "day", "value", "threshold_warn", "threshold")
        .unique(["column", "method", "day"])
        .sort("day")
        .collect()
    )
    parts = []
    for row in flagged.iter_rows(named=True):
        rows = history.filter((pl.col("column") == row["column"]) & (pl.col("method") == row["method"]))
        latest = rows.filter(pl.col("day") == day)
        levels = {"warn": latest["threshold_warn"].item(), "drift": latest["threshold"].item()} if latest.height else {}
        series = {row["method"]: (rows["day"].to_list(), rows["value"].to_list())}
        svg = plots.daily_lines(
            series, f"{row['column']}: {row['method']}", row["method"], levels=levels, events=events
        )
        summary = (
            f"<b>{html.escape(row['column'])}</b> <span class='{row['verdict']}'>{row['verdict']}</span>: "
            f"{html.escape(row['method'])} {row['value']:.3g} (threshold {row['threshold']:.3g}, "
            f"size {row['size']:.3g})"
        )
        parts.append(f"<details><summary>{summary}</summary>{_figure(svg, 'the statistic over the window')}</details>")
    return parts


def _checks(config: ProjectConfig, model: ModelSpec, day: date) -> pl.DataFrame:
    """The day's data checks as the lake records them, passed or failed, with the figure behind each: the log
    contract's rejected share, the blocked share against the guards' limit, the Great Expectations suites and the
    reference window's days (the alert signals are in the summary above)."""
    rows = []
    rejects = catalog.day_rows(config, catalog.LOG_REJECTS, model.name, days=day)
    counts = daily_guard_counts(config, model, day, day).select(guarded_rows(), quarantined_share())
    kept, blocked_share = counts.row(0) if counts.height else (0, 0.0)
    rejected = rejects.select(pl.len()).collect().item() if rejects is not None else 0
    if kept + rejected:
        share = rejected / (kept + rejected)
        rows.append(
            (
                "log contract: rejected share",
                share <= MAX_REJECTED_SHARE,
                f"{share:.2%} (limit {MAX_REJECTED_SHARE:.0%})",
            )
        )
    if kept:
        limit = model.guards.max_blocked_share
        rows.append(("guards: blocked share", blocked_share <= limit, f"{blocked_share:.2%} (limit {limit:.0%})"))
    results = catalog.day_rows(config, catalog.EXPECTATION_RESULTS, model.name, days=day)
    if results is not None:
        suites = results.group_by("checked_table").agg(
            (pl.col("status") != "passed").sum().alias("failed"), pl.len().alias("expectations")
        )
        for table, failed, total in suites.sort("checked_table").collect().iter_rows():
            rows.append((f"expectations on {table}", failed == 0, f"{total - failed} of {total} passed"))
    report = catalog.day_rows(config, catalog.DRIFT_REPORT, model.name, days=day)
    if report is not None:
        found = report.select("reference_days", "reference_days_expected").head(1).collect()
        if found.height:
            have, want = found.row(0)
            rows.append(("reference window complete", have >= want, f"{have} of {want} days profiled"))
    frame = pl.DataFrame(rows, schema={"check": pl.String, "passed": pl.Boolean, "figures": pl.String}, orient="row")
    return frame.with_columns(
        pl.when(pl.col("passed")).then(pl.lit("passed")).otherwise(pl.lit("FAILED")).alias("passed")
    )


def _evidence(uncovered: list[str]) -> str:
    if not uncovered:
        return '<p class="muted">Evidence: every registry and report commit shown is pinned by the audit chain.</p>'
    items = "".join(f"<li>{html.escape(line)}</li>" for line in uncovered)
    return f'<div class="alert"><b>Not covered by the audit chain</b> ({len(uncovered)} commits):<ul>{items}</ul></div>'


def _guard_summary(rates: DailySeries) -> pl.DataFrame:
    rows = [
        {
            "rule": rule,
            "mean rate": sum(v or 0 for v in values) / len(values),
            "worst day": days[values.index(max(values))],
            "worst rate": max(values),
        }
        for rule, (days, values) in sorted(rates.items())
        if values
    ]
    return pl.DataFrame(rows)


def _releases(config: ProjectConfig, model: ModelSpec, span: Sequence[date]) -> pl.DataFrame:
    start, end = delta.day_bounds(span[0])[0], delta.day_bounds(span[-1])[1]
    ledger = models.releases(config, model.name)
    if ledger.is_empty():
        return ledger
    return ledger.filter(pl.col("effective_at").is_between(start, end, closed="left")).select(
        "effective_at", "release_id", "model_version", "prompt_version", "approved_by", "actor", "reason"
    )


def _open_tickets(config: ProjectConfig, model: ModelSpec) -> pl.DataFrame:
    tickets = read_tickets(config, model.name)
    if tickets.is_empty():
        return tickets
    return tickets.filter(pl.col("status") != "resolved").select(
        "ticket_id", "severity", "status", "state", "recovered_on", "first_day", "last_day", "delivery_status"
    )
