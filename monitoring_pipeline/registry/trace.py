"""The decision trace of one prediction: everything that produced it and everything known about it since.

The prediction row; the model checkpoint with its training slice, evaluation checkpoints and approvals; the
release in force at the prediction's time; the feature definitions and prompt version in force; the guard
verdicts and where the row went; the drift status of its day and where its feature values sit in the reference
distribution; its label when known; the tickets covering its day; and the Dagster runs and Delta versions of
every report row used. Reads are pruned to the prediction's day (Delta statistics do the rest).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import numpy as np
import polars as pl

from monitoring_pipeline import steps
from monitoring_pipeline.core.bins import Bins, CategoricalBins
from monitoring_pipeline.core.config import ModelSpec, ProjectConfig
from monitoring_pipeline.core.contract import ID, TS
from monitoring_pipeline.core.drift.methods import cdf_knots
from monitoring_pipeline.core.profile import ColumnProfile, merge_rows
from monitoring_pipeline.io import delta
from monitoring_pipeline.registry import definitions, models
from monitoring_pipeline.registry.audit_log import lake_of, read_audit

TICKETS = "reports/tickets"
REPORT_ASSETS = ("prediction_log", "guards", "profiles", "drift_report")


class TraceError(LookupError):
    """The prediction cannot be traced (unknown id); the message says where it was looked for."""


def find_prediction(config: ProjectConfig, prediction_id: str, model: str | None = None) -> tuple[ModelSpec, dict]:
    """The prediction's row from its model's log (the first model whose log holds the id)."""
    searched = []
    for spec in [config.model(model)] if model else list(config.models.values()):
        table = steps.log_table(config, spec)
        if not delta.exists(table):
            continue
        searched.append(str(table))
        rows = delta.scan(table).filter(pl.col(ID) == prediction_id).collect()
        if rows.height:
            return spec, rows.sort(TS).row(0, named=True)
    raise TraceError(f"prediction {prediction_id!r} is in none of the prediction logs searched: {searched}")


def _day_rows(config: ProjectConfig, table_name: str, model: str, day: date) -> pl.LazyFrame | None:
    table = lake_of(config).table(table_name)
    if not delta.exists(table):
        return None
    return delta.scan(table).filter((pl.col("model_name") == model) & (pl.col("day") == day))


def reference_position(value: Any, profile: ColumnProfile, bins: Bins) -> dict[str, Any]:
    """Where a value sits in a reference profile: its percentile (numeric) or the reference share of its value."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return {"value": value, "position": "missing or non-finite"}
    total = int(profile.counts.sum())
    if total == 0:
        return {"value": value, "position": "no reference data"}
    if isinstance(bins, CategoricalBins):
        index = bins.vocabulary.index(value) if value in bins.vocabulary else None
        share = profile.counts[index] / total if index is not None else None
        seen = "in the reference" if value in bins.seen else "never seen in the baseline"
        return {"value": value, "reference_share": share, "position": seen if share is None else f"{share:.1%}"}
    xs, fs = cdf_knots(bins.edges, profile.counts, profile.minimum, profile.maximum)
    percentile = float(np.interp(float(value), xs, fs))
    return {"value": value, "reference_percentile": round(100 * percentile, 1)}


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, (datetime, date)) else v) for k, v in row.items()}


def _records(frame: pl.DataFrame | None) -> list[dict[str, Any]]:
    return [] if frame is None else [_jsonable(r) for r in frame.iter_rows(named=True)]


def trace(config: ProjectConfig, prediction_id: str, model: str | None = None) -> dict[str, Any]:
    spec, row = find_prediction(config, prediction_id, model)
    at: datetime = row[TS]
    day = at.date()
    version = str(row["model_version"])
    registered = models.registered(config, spec.name).filter(pl.col("model_version") == version)
    release = models.release_in_force(config, spec.name, at)
    features = definitions.in_force(config, definitions.FEATURE, spec.name, at)
    return {
        "prediction": _jsonable(row),
        "log": {
            "table": str(steps.log_table(config, spec)),
            "delta_version": delta.version(steps.log_table(config, spec)),
        },
        "model_checkpoint": _records(registered)[0] if registered.height else None,
        "evaluations": _records(models.evaluations(config, spec.name).filter(pl.col("model_version") == version)),
        "lifecycle": _records(models.events(config, spec.name).filter(pl.col("model_version") == version)),
        "release_in_force": _jsonable(release) if release else None,
        "release_matches_prediction": release is not None and release["model_version"] == version,
        "feature_definitions": {name: v for name, (v, _) in sorted(features.items())},
        "prompt_version": release["prompt_version"] if release else None,
        "guards": _guards(config, spec, prediction_id, day),
        "drift": _drift(config, spec, row, day),
        "label": _label(config, spec, prediction_id),
        "tickets": _tickets(config, spec, day),
        "report_runs": _runs(config, spec, day),
    }


def _guards(config: ProjectConfig, spec: ModelSpec, prediction_id: str, day: date) -> dict[str, Any]:
    verdicts = _day_rows(config, steps.GUARD_VERDICTS, spec.name, day)
    failed = verdicts.filter(pl.col(ID) == prediction_id).collect() if verdicts is not None else None
    placed = None
    for where, name in (("validated", steps.validated_table(spec)), ("quarantined", steps.quarantine_table(spec))):
        table = lake_of(config).table(name)
        if (
            delta.exists(table)
            and delta.scan(table)
            .filter((pl.col("day") == day) & (pl.col(ID) == prediction_id))
            .select(ID)
            .collect()
            .height
        ):
            placed = where
    return {
        "evaluated": verdicts is not None and placed is not None,
        "placed_in": placed,
        "released": prediction_id in steps.released_ids(config, spec),
        "failed_rules": _records(failed.drop("model_name", "day", ID) if failed is not None else None),
    }


def _drift(config: ProjectConfig, spec: ModelSpec, row: dict[str, Any], day: date) -> dict[str, Any]:
    report = _day_rows(config, steps.DRIFT_REPORT, spec.name, day)
    if report is None:
        return {"status": "no drift report"}
    frame = report.filter(pl.col("decisive")).collect()
    if frame.is_empty():
        return {"status": f"no drift report for {day}"}
    try:
        bins, bins_version = steps.load_model_bins(config, spec)
    except steps.MissingReferenceBins:
        bins, bins_version = {}, None
    reference_days = [d for d in spec.reference.days_for(day) if d >= spec.start_date and d != day]
    reference = steps.read_profiles(config, spec, reference_days).filter(pl.col("bins_version") == bins_version)
    merged = merge_rows(reference, bins) if reference.height else {}
    columns = []
    for r in frame.sort("role", "column").iter_rows(named=True):
        entry = {k: r[k] for k in ("column", "role", "method", "value", "threshold", "verdict", "definition_version")}
        if r["column"] in row and r["column"] in merged:
            entry["this_prediction"] = reference_position(row[r["column"]], merged[r["column"]], bins[r["column"]])
        columns.append(entry)
    return {
        "day": day.isoformat(),
        "reference": f"{spec.reference.describe()} ({len(set(reference['day'].to_list()))} days)",
        "drifted": sorted({c["column"] for c in columns if c["verdict"] == "drift"}),
        "columns": columns,
    }


def _label(config: ProjectConfig, spec: ModelSpec, prediction_id: str) -> dict[str, Any] | None:
    if not spec.label_table or not delta.exists(lake_of(config).table(spec.label_table)):
        return None
    labels = delta.scan(lake_of(config).table(spec.label_table)).filter(pl.col(ID) == prediction_id).collect()
    return _records(labels)[0] if labels.height else None


def _tickets(config: ProjectConfig, spec: ModelSpec, day: date) -> list[dict[str, Any]] | str:
    table = lake_of(config).table(TICKETS)
    if not delta.exists(table):
        return "no tickets table yet"
    rows = delta.scan(table).filter(
        (pl.col("model_name") == spec.name) & (pl.col("first_day") <= day) & (pl.col("last_day") >= day)
    )
    return _records(rows.collect())


def _runs(config: ProjectConfig, spec: ModelSpec, day: date) -> list[dict[str, Any]]:
    """The latest audited materialization of each report partition the trace read: run, table, Delta version."""
    subjects = {f"{spec.name}/{asset}@{day}" for asset in REPORT_ASSETS}
    latest = {e.subject: e for e in read_audit(config) if e.subject in subjects}
    return [
        {
            "subject": e.subject,
            "run": e.actor,
            "table": e.data_table,
            "delta_version": e.data_version,
            "commit_sha256": e.commit_sha256,
            "audit_seq": e.seq,
            **json.loads(e.payload),
        }
        for e in sorted(latest.values(), key=lambda e: e.subject)
    ]


def to_markdown(result: dict[str, Any]) -> str:
    """A human-readable rendering of a trace."""
    p = result["prediction"]
    lines = [
        f"# Decision trace of {p[ID]}",
        "",
        f"Model **{p['model_name']}** version **{p['model_version']}** at {p[TS]}.",
        "",
    ]
    checkpoint = result["model_checkpoint"]
    lines.append("## Model checkpoint")
    if checkpoint:
        lines += [
            f"- artifact sha256 `{checkpoint['artifact_sha256'][:16]}…`, registered by "
            f"{checkpoint['registered_by']} at {checkpoint['registered_at']}, parent {checkpoint['parent_version']}, "
            f"code {checkpoint['code_version']}",
            f"- training slice `{checkpoint['train_table']}`@v{checkpoint['train_table_version']} "
            f"where `{checkpoint['train_filter'] or 'all rows'}`: {checkpoint['train_rows']} rows, "
            f"content sha256 `{checkpoint['train_content_sha256'][:16]}…`",
        ]
        lines += [
            f"- evaluation `{e['eval_name']}` on `{e['eval_table']}`@v{e['eval_table_version']} "
            f"({e['eval_rows']} rows): {e['metrics']}"
            for e in result["evaluations"]
        ]
        lines += [
            f"- {e['event']} by {e['actor']} (effective {e['effective_at']}): {e['reason']}"
            for e in result["lifecycle"]
        ]
    else:
        lines.append("- **not registered** in the model registry")
    release = result["release_in_force"]
    lines += ["", "## Release in force"]
    lines.append(
        f"- {release['release_id']}: model {release['model_version']}, prompt {release['prompt_version']}, "
        f"approved by {release['approved_by']}, deployed by {release['actor']} effective {release['effective_at']}: "
        f"{release['reason']}"
        + ("" if result["release_matches_prediction"] else " — **the prediction's model version differs**")
        if release
        else "- none: no release was in force at the prediction's time"
    )
    lines += [
        "",
        "## Feature definitions in force",
        ", ".join(f"{k} v{v}" for k, v in result["feature_definitions"].items()) or "none registered",
    ]
    guards = result["guards"]
    lines += ["", "## Guards", f"- placed in: {guards['placed_in']}; released: {guards['released']}"]
    lines += [
        f"- failed `{g['rule_id']}` v{g['rule_version']} ({g['severity']}): {g['reason']}"
        for g in guards["failed_rules"]
    ]
    drift = result["drift"]
    lines += ["", "## Drift on its day"]
    if "columns" in drift:
        lines += [
            f"Reference: {drift['reference']}. Drifted: {', '.join(drift['drifted']) or 'none'}.",
            "",
            "| column | method | value | verdict | def | this prediction |",
            "|---|---|---|---|---|---|",
        ]
        for c in drift["columns"]:
            where = c.get("this_prediction", {})
            position = where.get("reference_percentile", where.get("position", ""))
            shown = (
                f"{where.get('value')} (p{position})"
                if "reference_percentile" in where
                else f"{where.get('value', '')} {position}"
            )
            value = "" if c["value"] is None else f"{c['value']:.4f}"
            cells = [c["column"], c["method"], value, c["verdict"], c["definition_version"] or "", shown.strip()]
            lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    else:
        lines.append(f"- {drift['status']}")
    lines += [
        "",
        "## Label",
        f"- {result['label'] or 'not known yet'}",
        "",
        "## Tickets",
        f"- {result['tickets'] or 'none'}",
    ]
    lines += ["", "## Report runs"]
    lines += [
        f"- {r['subject']}: {r['run']}, `{r['table']}`@v{r['delta_version']} (audit seq {r['audit_seq']})"
        for r in result["report_runs"]
    ]
    return "\n".join(lines) + "\n"
