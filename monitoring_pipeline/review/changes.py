"""What changed, in order: releases and rollbacks, approvals and retirements, feature-definition and prompt
changes, drift breaks, performance breaks and quarantine spikes — and, for each break, the release it most
likely followed.

A drift break is a column's first drift day after a week without drift. It is attributed from the first day of
the warn-or-drift run that led to it, so a gradual drift is not blamed on a release that came after it began.
A performance break is the first day of alarms of the model's alert metrics (band, CUSUM, estimate) after a
week without. A quarantine spike is a day whose quarantined share exceeds the model's blocked-share limit, or
three times its median daily share with at least 10 rows quarantined. Day-level events are placed at the end of
their day, so a release at noon comes before the drift it caused that day.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import polars as pl

from monitoring_pipeline.core.alerts import performance_signal
from monitoring_pipeline.core.config import ModelSpec, ProjectConfig
from monitoring_pipeline.core.guards.evaluate import quarantined_share
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.registry import definitions, models
from monitoring_pipeline.steps.guards import daily_guard_counts
from monitoring_pipeline.steps.performance import alert_series

LIKELY_WITHIN = timedelta(days=7)
QUIET_DAYS = 7  # a column's drift "starts" on a drift day with no drift in the 7 days before it
SPIKE_FACTOR = 3.0
SPIKE_MIN_ROWS = 10
DAY_LEVEL = ("drift_break", "performance_break", "quarantine_spike")  # placed at the end of their day
CHANGE_SCHEMA: dict[str, pl.DataType] = {
    "at": pl.Datetime("us", "UTC"),
    "model_name": pl.String(),
    "kind": pl.String(),
    "subject": pl.String(),
    "detail": pl.String(),
    "followed_release": pl.String(),
}


def _end_of(day: date) -> datetime:
    return delta.day_bounds(day)[1] - timedelta(microseconds=1)


def _lifecycle(config: ProjectConfig, model: ModelSpec) -> list[dict]:
    rows = []
    for e in models.events(config, model.name).iter_rows(named=True):
        if e["release_id"]:
            prompt = f", prompt v{e['prompt_version']}" if e["prompt_version"] is not None else ""
            detail = f"{e['release_id']}: model {e['model_version']}{prompt}, approved by {e['approved_by']}, "
            kind = "rollback" if e["event"] == "rolled_back" else "release"
        else:
            detail, kind = f"{e['model_version']} ", e["event"]
        detail += f"{e['event'].replace('_', ' ')} by {e['actor']}: {e['reason']}"
        rows.append(_change(e["effective_at"], model, kind, e["model_version"], detail))
    return rows


def _definition_changes(config: ProjectConfig, model: ModelSpec) -> list[dict]:
    """Approvals and rollbacks of definitions; those made together (same moment, person and reason) are one row."""
    rows = []
    for kind in (definitions.FEATURE, definitions.PROMPT):
        together = (
            definitions.events(config, kind, model.name)
            .group_by("effective_at", "event", "actor", "reason", maintain_order=True)
            .agg(pl.format("{} v{}", "name", "version").alias("names"))
        )
        for e in together.iter_rows(named=True):
            names = ", ".join(e["names"]) if len(e["names"]) <= 3 else f"{len(e['names'])} {kind} definitions"
            detail = f"{names} {e['event'].replace('_', ' ')} by {e['actor']}: {e['reason']}"
            rows.append(_change(e["effective_at"], model, f"{kind}_definition", names, detail))
    return rows


def _drift_breaks(config: ProjectConfig, model: ModelSpec, since: date, until: date) -> list[dict]:
    """Per day, the columns whose drift starts then (no drift in the QUIET_DAYS before), with the first day of
    the unbroken warn-or-drift run that led to it: a gradual drift warned long before it broke."""
    report = catalog.day_rows(config, catalog.DRIFT_REPORT, model.name)
    if report is None:
        return []
    days = (
        report.filter(pl.col("decisive") & (pl.col("day") <= until))
        .group_by("column", "day")
        .agg(
            (pl.col("verdict") == "drift").any().alias("drift"),
            pl.col("verdict").is_in(["warn", "drift"]).any().alias("abnormal"),
        )
        .sort("column", "day")
        .collect()
    )
    breaks = (
        days.with_columns(
            pl.col("drift")
            .cast(pl.Int32)
            .rolling_sum(QUIET_DAYS, min_samples=1)
            .shift(1, fill_value=0)
            .over("column")
            .alias("recent"),
            (pl.col("abnormal") != pl.col("abnormal").shift(1)).fill_null(True).cum_sum().over("column").alias("run"),
        )
        .with_columns(pl.col("day").min().over("column", "run").alias("abnormal_since"))
        .filter(pl.col("drift") & (pl.col("recent") == 0) & (pl.col("day") >= since))
        .group_by("day")
        .agg(pl.col("column").sort(), pl.col("abnormal_since").min())
        .sort("day")
    )
    rows = []
    for r in breaks.iter_rows(named=True):
        gradual = f" (warning since {r['abnormal_since']})" if r["abnormal_since"] < r["day"] else ""
        change = _change(
            _end_of(r["day"]),
            model,
            "drift_break",
            ", ".join(r["column"]),
            f"drift starts: {', '.join(r['column'])}{gradual}",
        )
        change["abnormal_since"] = r["abnormal_since"]
        rows.append(change)
    return rows


def _performance_breaks(config: ProjectConfig, model: ModelSpec, since: date, until: date) -> list[dict]:
    """The first day of the alert metrics' alarms (band, CUSUM, estimate) after a week without, with each
    alarming metric's figures."""
    if model.performance is None:
        return []
    series = alert_series(config, model, model.start_date, until).filter(pl.col("day") > model.baseline.end)
    alarmed = performance_signal(series).filter(pl.col("value") > 0).sort("day")
    rows, last = [], None
    for r in alarmed.iter_rows(named=True):
        starts = last is None or (r["day"] - last).days > QUIET_DAYS
        last = r["day"]
        if not starts or r["day"] < since:
            continue
        metrics = ", ".join(figures.split(":")[0] for figures in r["columns"])
        detail = "performance alarms start: " + "; ".join(r["columns"])
        change = _change(_end_of(r["day"]), model, "performance_break", metrics, detail)
        change["abnormal_since"] = r["day"]
        rows.append(change)
    return rows


def _quarantine_spikes(config: ProjectConfig, model: ModelSpec, since: date, until: date) -> list[dict]:
    days = daily_guard_counts(config, model)
    if days.is_empty():
        return []
    days = days.with_columns(quarantined_share().alias("share"))
    median = days["share"].median() or 0.0
    spiking = (pl.col("share") > model.guards.max_blocked_share) | (
        (pl.col("share") > SPIKE_FACTOR * median) & (pl.col("quarantined") >= SPIKE_MIN_ROWS)
    )
    spikes = days.filter(spiking & pl.col("day").is_between(since, until)).sort("day")
    return [
        _change(
            _end_of(r["day"]),
            model,
            "quarantine_spike",
            "quarantine",
            f"{r['quarantined']} rows quarantined ({r['share']:.1%}; median day {median:.1%})",
        )
        for r in spikes.iter_rows(named=True)
    ]


def _change(at: datetime, model: ModelSpec, kind: str, subject: str, detail: str) -> dict:
    return {
        "at": at,
        "model_name": model.name,
        "kind": kind,
        "subject": subject,
        "detail": detail,
        "followed_release": None,
    }


def _attribute(rows: list[dict], config: ProjectConfig, model: ModelSpec) -> None:
    """Name, on each drift break and quarantine spike, the latest release (or rollback) in force when the
    trouble began: at the end of the spike's day, or at the end of the first abnormal day of the break."""
    ledger = models.releases(config, model.name)
    for row in rows:
        if row["kind"] not in DAY_LEVEL:
            continue
        began = _end_of(row.pop("abnormal_since")) if "abnormal_since" in row else row["at"]
        before = ledger.filter(pl.col("effective_at") <= began)
        if before.is_empty():
            row["followed_release"] = "no release before it"
            continue
        last = before.row(-1, named=True)
        gap = began - last["effective_at"]
        likely = "likely follows" if gap <= LIKELY_WITHIN else "last release was"
        ago = f"{gap.days} days" if gap.days else f"{gap.seconds // 3600} h"
        row["followed_release"] = f"{likely} {last['release_id']} ({last['model_version']}, {ago} before)"


def changes(config: ProjectConfig, since: date, until: date, model: str | None = None) -> pl.DataFrame:
    """Every change between `since` and `until` (inclusive days), oldest first."""
    start, end = delta.day_bounds(since)[0], delta.day_bounds(until)[1]
    rows: list[dict] = []
    for spec in [config.model(model)] if model else list(config.models.values()):
        found = [
            *_lifecycle(config, spec),
            *_definition_changes(config, spec),
            *_drift_breaks(config, spec, since, until),
            *_performance_breaks(config, spec, since, until),
            *_quarantine_spikes(config, spec, since, until),
        ]
        found = [r for r in found if start <= r["at"] < end]
        _attribute(found, config, spec)
        rows += found
    return pl.DataFrame(rows, schema=CHANGE_SCHEMA, orient="row").sort("at", "model_name", "kind")


def changes_before(config: ProjectConfig, model: ModelSpec, day: date) -> pl.DataFrame:
    """The releases, rollbacks, lifecycle events and definition changes of `model` in the `LIKELY_WITHIN` up to
    the end of `day`, newest first: what most likely caused what the day shows."""
    start, end = _end_of(day) - LIKELY_WITHIN, _end_of(day)
    found = [r for r in (*_lifecycle(config, model), *_definition_changes(config, model)) if start <= r["at"] < end]
    return pl.DataFrame(found, schema=CHANGE_SCHEMA, orient="row").sort("at", descending=True)


def to_markdown(frame: pl.DataFrame) -> str:
    """One line a change: when, what and its detail."""
    return "\n".join(f"- {r['at']:%Y-%m-%d %H:%M} UTC, {r['kind']}: {r['detail']}" for r in frame.iter_rows(named=True))


def to_text(frame: pl.DataFrame) -> str:
    lines = []
    for r in frame.iter_rows(named=True):
        day_level = r["kind"] in DAY_LEVEL
        when = r["at"].date().isoformat() + " (day)     " if day_level else r["at"].strftime("%Y-%m-%d %H:%M UTC")
        line = f"{when}  {r['model_name']:<20} {r['kind']:<19} {r['detail']}"
        lines.append(line + (f"\n{'':>60}-> {r['followed_release']}" if r["followed_release"] else ""))
    return "\n".join(lines) if lines else "no changes in this window"


def to_json(frame: pl.DataFrame) -> str:
    return json.dumps([{**r, "at": r["at"].isoformat()} for r in frame.iter_rows(named=True)], indent=2)
