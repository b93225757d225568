"""What changed, in order: releases and rollbacks, approvals and retirements, feature-definition and prompt
changes, drift breaks and quarantine spikes — and, for each break, the release it most likely followed.

A drift break is a column's first drift day after a day without drift. A quarantine spike is a day whose
quarantined share exceeds the model's blocked-share limit, or three times its median daily share with at least
10 rows quarantined. Day-level
events are placed at the end of their day, so a release at noon comes before the drift it caused that day.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import polars as pl

from monitoring_pipeline import steps
from monitoring_pipeline.core.config import ModelSpec, ProjectConfig
from monitoring_pipeline.io import delta
from monitoring_pipeline.registry import definitions, models
from monitoring_pipeline.registry.audit_log import lake_of

LIKELY_WITHIN = timedelta(days=7)
SPIKE_FACTOR = 3.0
SPIKE_MIN_ROWS = 10
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
            detail = f"{e['release_id']}: model {e['model_version']}{prompt}, approved by {e['approved_by']}"
            kind = "rollback" if e["event"] == "rolled_back" else "release"
        else:
            detail, kind = f"{e['model_version']} {e['event']}", e["event"]
        rows.append(
            _change(e["effective_at"], model, kind, e["model_version"], f"{detail} by {e['actor']}: {e['reason']}")
        )
    return rows


def _definition_changes(config: ProjectConfig, model: ModelSpec) -> list[dict]:
    rows = []
    for kind in (definitions.FEATURE, definitions.PROMPT):
        for e in definitions.events(config, kind, model.name).iter_rows(named=True):
            detail = f"{e['name']} v{e['version']} {e['event'].replace('_', ' ')} by {e['actor']}: {e['reason']}"
            rows.append(_change(e["effective_at"], model, f"{kind}_definition", e["name"], detail))
    return rows


def _drift_breaks(config: ProjectConfig, model: ModelSpec, since: date, until: date) -> list[dict]:
    table = lake_of(config).table(steps.DRIFT_REPORT)
    if not delta.exists(table):
        return []
    verdicts = (
        delta.scan(table)
        .filter((pl.col("model_name") == model.name) & pl.col("decisive"))
        .filter(pl.col("day").is_between(since - timedelta(days=1), until))
        .group_by("column", "day")
        .agg((pl.col("verdict") == "drift").any().alias("drift"), pl.col("value").max().alias("value"))
        .sort("column", "day")
        .with_columns(pl.col("drift").shift(1, fill_value=False).over("column").alias("before"))
        .filter(pl.col("drift") & ~pl.col("before") & (pl.col("day") >= since))
        .group_by("day")
        .agg(pl.col("column").sort())
        .sort("day")
        .collect()
    )
    return [
        _change(
            _end_of(r["day"]), model, "drift_break", ", ".join(r["column"]), f"drift starts: {', '.join(r['column'])}"
        )
        for r in verdicts.iter_rows(named=True)
    ]


def _quarantine_spikes(config: ProjectConfig, model: ModelSpec, since: date, until: date) -> list[dict]:
    lake = lake_of(config)
    counts = []
    for name, label in ((steps.validated_table(model), "validated"), (steps.quarantine_table(model), "quarantined")):
        if not delta.exists(lake.table(name)):
            return []
        counts.append(delta.scan(lake.table(name)).group_by("day").agg(pl.len().alias(label)).collect())
    days = counts[0].join(counts[1], on="day", how="full", coalesce=True).fill_null(0)
    days = days.with_columns((pl.col("quarantined") / (pl.col("validated") + pl.col("quarantined"))).alias("share"))
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
    """Name, on each drift break and quarantine spike, the latest release (or rollback) at or before it."""
    ledger = models.releases(config, model.name)
    for row in rows:
        if row["kind"] not in ("drift_break", "quarantine_spike"):
            continue
        before = ledger.filter(pl.col("effective_at") <= row["at"])
        if before.is_empty():
            row["followed_release"] = "no release before it"
            continue
        last = before.row(-1, named=True)
        gap = row["at"] - last["effective_at"]
        likely = "likely follows" if gap <= LIKELY_WITHIN else "last release was"
        row["followed_release"] = f"{likely} {last['release_id']} ({last['model_version']}, {gap.days} days before)"


def changes(config: ProjectConfig, since: date, until: date, model: str | None = None) -> pl.DataFrame:
    """Every change between `since` and `until` (inclusive days), oldest first."""
    start, end = delta.day_bounds(since)[0], delta.day_bounds(until)[1]
    rows: list[dict] = []
    for spec in [config.model(model)] if model else list(config.models.values()):
        found = [
            *_lifecycle(config, spec),
            *_definition_changes(config, spec),
            *_drift_breaks(config, spec, since, until),
            *_quarantine_spikes(config, spec, since, until),
        ]
        found = [r for r in found if start <= r["at"] < end]
        _attribute(found, config, spec)
        rows += found
    return pl.DataFrame(rows, schema=CHANGE_SCHEMA, orient="row").sort("at", "model_name", "kind")


def to_text(frame: pl.DataFrame) -> str:
    lines = []
    for r in frame.iter_rows(named=True):
        day_level = r["kind"] in ("drift_break", "quarantine_spike")
        when = r["at"].date().isoformat() + " (day)     " if day_level else r["at"].strftime("%Y-%m-%d %H:%M UTC")
        line = f"{when}  {r['model_name']:<20} {r['kind']:<19} {r['detail']}"
        lines.append(line + (f"\n{'':>60}-> {r['followed_release']}" if r["followed_release"] else ""))
    return "\n".join(lines) if lines else "no changes in this window"


def to_json(frame: pl.DataFrame) -> str:
    return json.dumps([{**r, "at": r["at"].isoformat()} for r in frame.iter_rows(named=True)], indent=2)
