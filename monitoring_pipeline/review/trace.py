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

from monitoring_pipeline.core.alerts import PERFORMANCE_ALARMS
from monitoring_pipeline.core.bins import Bins, CategoricalBins
from monitoring_pipeline.core.config import ModelSpec, ProjectConfig
from monitoring_pipeline.core.contract import ID, TS, split_labels
from monitoring_pipeline.core.drift.methods import cdf_knots
from monitoring_pipeline.core.errors import MonitoringError
from monitoring_pipeline.core.profile import ColumnProfile, merge_rows
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.registry import definitions, models
from monitoring_pipeline.registry.audit_log import coverage, latest_entries
from monitoring_pipeline.registry.signatures import identity_note
from monitoring_pipeline.steps.bins import MissingReferenceBins, load_model_bins, load_reconstruction
from monitoring_pipeline.steps.drift import reference_days
from monitoring_pipeline.steps.features import active_definitions, with_derived
from monitoring_pipeline.steps.guards import released_ids
from monitoring_pipeline.steps.performance import alert_series
from monitoring_pipeline.steps.profiles import read_profiles

REPORT_ASSETS = ("prediction_log", "guards", "profiles", "drift_report", "performance")


class TraceError(MonitoringError, LookupError):
    """The prediction cannot be traced (unknown id); the message says where it was looked for."""


def find_prediction(config: ProjectConfig, prediction_id: str, model: str | None = None) -> tuple[ModelSpec, dict]:
    """The prediction's row from its model's log (the first model whose log holds the id)."""
    searched = []
    for spec in [config.model(model)] if model else list(config.models.values()):
        table = catalog.log_table(config, spec)
        if not delta.exists(table):
            continue
        searched.append(str(table))
        rows = delta.scan(table).filter(pl.col(ID) == prediction_id).collect()
        if rows.height:
            return spec, rows.sort(TS).row(0, named=True)
    raise TraceError(f"prediction {prediction_id!r} is in none of the prediction logs searched: {searched}")


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


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """A row with its dates and times as ISO 8601 strings."""
    return {k: (v.isoformat() if isinstance(v, (datetime, date)) else v) for k, v in row.items()}


def _records(frame: pl.DataFrame | None) -> list[dict[str, Any]]:
    return [] if frame is None else [jsonable(r) for r in frame.iter_rows(named=True)]


def trace(config: ProjectConfig, prediction_id: str, model: str | None = None) -> dict[str, Any]:
    """The trace of one prediction; `uncovered` lists what of the tables it shows the audit chain does not cover."""
    uncovered = coverage(config)  # first: a damaged data file is named before any read trips on it
    spec, row = find_prediction(config, prediction_id, model)
    at: datetime = row[TS]
    day = at.date()
    version = str(row["model_version"])
    registered = models.registered(config, spec.name).filter(pl.col("model_version") == version)
    release = models.release_in_force(config, spec.name, at)
    features = definitions.in_force(config, definitions.FEATURE, spec.name, at)
    return {
        "prediction": jsonable(row),
        "log": {
            "table": str(catalog.log_table(config, spec)),
            "delta_version": delta.version(catalog.log_table(config, spec)),
        },
        "model_checkpoint": _records(registered)[0] if registered.height else None,
        "evaluations": _records(models.evaluations(config, spec.name).filter(pl.col("model_version") == version)),
        "lifecycle": _records(models.events(config, spec.name).filter(pl.col("model_version") == version)),
        "release_in_force": jsonable(release) if release else None,
        "release_matches_prediction": release is not None and release["model_version"] == version,
        "feature_definitions": {name: v for name, (v, _) in sorted(features.items())},
        "prompt_version": release["prompt_version"] if release else None,
        "guards": _guards(config, spec, prediction_id, day),
        "drift": _drift(config, spec, row, day),
        "label": _label(config, spec, prediction_id),
        "performance": _performance(config, spec, day),
        "tickets": _tickets(config, spec, day),
        "report_runs": _runs(config, spec, day),
        "uncovered": uncovered,
        "identities": identity_note(config.governance),
    }


def _guards(config: ProjectConfig, spec: ModelSpec, prediction_id: str, day: date) -> dict[str, Any]:
    """The rules it failed, and whether it reached validated_predictions or the quarantine."""
    verdicts = catalog.day_rows(config, catalog.GUARD_VERDICTS, spec.name, days=day)
    failed = (
        verdicts.filter(pl.col(ID) == prediction_id).drop("model_name", "day", ID).collect()
        if verdicts is not None
        else None
    )
    placed = None
    for where, name in (("validated", catalog.validated_table(spec)), ("quarantined", catalog.quarantine_table(spec))):
        rows = catalog.day_rows(config, name, days=day)
        if rows is not None and rows.filter(pl.col(ID) == prediction_id).select(ID).collect().height:
            placed = where
    return {
        "placed_in": placed,
        "released": prediction_id in released_ids(config, spec),
        "failed_rules": _records(failed),
    }


def _drift(config: ProjectConfig, spec: ModelSpec, row: dict[str, Any], day: date) -> dict[str, Any]:
    report = catalog.day_rows(config, catalog.DRIFT_REPORT, spec.name, days=day)
    if report is None:
        return {"status": "no drift report"}
    frame = report.filter(pl.col("decisive")).collect()
    if frame.is_empty():
        return {"status": f"no drift report for {day}"}
    try:
        bins, bins_version = load_model_bins(config, spec)
        reconstruction = load_reconstruction(config, spec)
    except MissingReferenceBins:
        bins, bins_version, reconstruction = {}, None, None
    active = active_definitions(config, spec, day)
    row = with_derived(pl.DataFrame([row]), spec, active, reconstruction).row(0, named=True)
    reference = read_profiles(config, spec, reference_days(spec, day)).filter(pl.col("bins_version") == bins_version)
    merged = merge_rows(reference, bins) if reference.height else {}
    severity = {"drift": 0, "warn": 1}
    columns = []
    for (column,), rows in frame.sort("column", "method").group_by("column", maintain_order=True):
        first = rows.row(0, named=True)
        entry = {
            "column": column,
            "role": first["role"],
            "verdict": first["verdict"],
            "statistics": {r["method"]: r["value"] for r in rows.iter_rows(named=True)},
            "definition_version": first["definition_version"],
        }
        if column in row and column in merged:
            entry["this_prediction"] = reference_position(row[column], merged[column], bins[column])
        columns.append(entry)
    columns.sort(key=lambda c: (severity.get(c["verdict"], 2), c["role"] != "feature", c["column"]))
    return {
        "day": day.isoformat(),
        "reference": f"{spec.reference.describe()} ({len(set(reference['day'].to_list()))} days)",
        "drifted": sorted({c["column"] for c in columns if c["verdict"] == "drift"}),
        "columns": columns,
    }


def _label(config: ProjectConfig, spec: ModelSpec, prediction_id: str) -> dict[str, Any] | None:
    """The label row performance uses for the prediction (the label contract's choice: `split_labels`), with the
    rows it set aside and why; a conflicted id has no label used."""
    if not spec.label_table or not delta.exists(catalog.label_table(config, spec)):
        return None
    labels = delta.scan(catalog.label_table(config, spec)).filter(pl.col(ID) == prediction_id).collect()
    if not labels.height:
        return None
    column = spec.performance.label_column if spec.performance else "label"
    kept, rejected = split_labels(labels.select(ID, pl.col(column).alias("label"), "label_ts"))
    used = labels.join(kept.select(ID, "label_ts"), on=[ID, "label_ts"], how="semi").head(1)
    record = _records(used)[0] if used.height else {ID: prediction_id, column: None}
    return record | ({"set_aside": _records(rejected.drop(ID))} if rejected.height else {})


def _label_lines(label: dict[str, Any] | None) -> list[str]:
    if label is None:
        return ["- not known yet"]
    shown = {k: v for k, v in label.items() if k != "set_aside"}
    lines = [f"- {shown}"]
    lines += [
        f"- set aside by the label contract: {r['reason']} ({r['label']!r}, {r['label_ts']})"
        for r in label.get("set_aside", [])
    ]
    return lines


def _performance(config: ProjectConfig, spec: ModelSpec, day: date) -> list[dict[str, Any]] | None:
    """The day's alert metrics as last materialized (accuracy, AUC, calibration, or the configured ones): realized
    so far, estimated, coverage, band and alarms."""
    if spec.performance is None:
        return None
    rows = alert_series(config, spec, day, day)
    return _records(rows.drop("model_name", "day", "model_version", "segment"))


def _performance_lines(found: list[dict[str, Any]] | None) -> list[str]:
    if not found:
        return ["- no performance report for its day"]
    return [
        f"- {m['metric']}: realized {_number(m['realized'])} from {m['n_labelled']} labels "
        f"(coverage {_number(m['label_coverage'], 3)})"
        + (f", estimated {_number(m['estimated'])}" if m["estimated"] is not None else "")
        + f", band {_number(m['band_low'])}..{_number(m['band_high'])}; alarms: "
        + (", ".join(label for name, label in PERFORMANCE_ALARMS.items() if m[name]) or "none")
        for m in found
    ]


def _tickets(config: ProjectConfig, spec: ModelSpec, day: date) -> list[dict[str, Any]] | str:
    rows = catalog.day_rows(config, catalog.TICKETS, spec.name)
    if rows is None:
        return "no tickets table yet"
    return _records(rows.filter((pl.col("first_day") <= day) & (pl.col("last_day") >= day)).collect())


def _runs(config: ProjectConfig, spec: ModelSpec, day: date) -> list[dict[str, Any]]:
    """The latest audited materialization of each report partition the trace read: run, table, Delta version."""
    subjects = {f"{spec.name}/{asset}@{day}" for asset in REPORT_ASSETS}
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
        for e in latest_entries(config, subjects)
    ]


def _number(value: Any, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def _position(where: dict[str, Any] | None) -> str:
    if not where:
        return ""
    value = "missing" if where["value"] is None else _number(where["value"], digits=6)
    if "reference_percentile" in where:
        return f"{value}: percentile {where['reference_percentile']}"
    return value if where["value"] is None else f"{value}: {where['position']}"


def _definitions_line(versions: dict[str, int]) -> str:
    """`25 definitions, all v1 except debt_to_income v2`."""
    if not versions:
        return "none registered"
    common = max(set(versions.values()), key=list(versions.values()).count)
    others = [f"{name} v{v}" for name, v in versions.items() if v != common]
    return f"{len(versions)} definitions, all v{common}" + (f" except {', '.join(others)}" if others else "")


def _checkpoint_lines(result: dict[str, Any]) -> list[str]:
    c = result["model_checkpoint"]
    if not c:
        return ["- **not registered** in the model registry"]
    lines = [
        f"- artifact sha256 `{c['artifact_sha256'][:16]}…`, registered by {c['registered_by']} at "
        f"{c['registered_at']}, parent {c['parent_version']}, code {c['code_version']}",
        f"- training slice `{c['train_table']}`@v{c['train_table_version']} where "
        f"`{c['train_filter'] or 'all rows'}`: {c['train_rows']} rows, content sha256 "
        f"`{c['train_content_sha256'][:16]}…`",
    ]
    lines += [
        f"- evaluation `{e['eval_name']}` on `{e['eval_table']}`@v{e['eval_table_version']} ({e['eval_rows']} rows): "
        f"{e['metrics']}"
        for e in result["evaluations"]
    ]
    return lines + [
        f"- {e['event']} by {e['actor']} (effective {e['effective_at']}): {e['reason']}" for e in result["lifecycle"]
    ]


def _identity_lines(result: dict[str, Any]) -> list[str]:
    """The reminder, under every section naming people, that their names are claims (unsigned identities)."""
    return [f"- _{result['identities']}_"] if result["identities"] else []


def _release_line(result: dict[str, Any]) -> str:
    r = result["release_in_force"]
    if not r:
        return "- none: no release was in force at the prediction's time"
    prompt = f", prompt v{r['prompt_version']}" if r["prompt_version"] is not None else ""
    mismatch = "" if result["release_matches_prediction"] else " — **the prediction's model version differs**"
    return (
        f"- {r['release_id']}: model {r['model_version']}{prompt}, approved by {r['approved_by']}, deployed by "
        f"{r['actor']}, in force from {r['effective_at']}: {r['reason']}{mismatch}"
    )


def _drift_lines(drift: dict[str, Any]) -> list[str]:
    if "columns" not in drift:
        return [f"- {drift['status']}"]
    lines = [
        f"Reference: {drift['reference']}. Drifted: {', '.join(drift['drifted']) or 'none'}.",
        "",
        "| column | verdict | statistics | definition | this prediction vs reference |",
        "|---|---|---|---|---|",
    ]
    for c in drift["columns"]:
        statistics = ", ".join(f"{m} {_number(v)}" for m, v in c["statistics"].items())
        version = f"v{c['definition_version']}" if c["definition_version"] else ""
        cells = [c["column"], c["verdict"], statistics, version, _position(c.get("this_prediction"))]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _ticket_lines(found: list[dict[str, Any]] | str) -> list[str]:
    if isinstance(found, str) or not found:
        return [f"- {found or 'none'}"]
    return [
        f"- {t['ticket_id']} ({t['severity']}, {t['status']}): breached {t['first_day']} .. {t['last_day']}, "
        f"delivery {t['delivery_status']}"
        for t in found
    ]


def evidence_lines(uncovered: list[str]) -> list[str]:
    """What a rendering says of its evidence: covered by the audit chain, or which commits are not."""
    if not uncovered:
        return ["Evidence: every registry and report commit behind this is pinned by the audit chain."]
    return [f"**Not covered by the audit chain** ({len(uncovered)} commits):", *[f"- {line}" for line in uncovered]]


def to_markdown(result: dict[str, Any]) -> str:
    """A human-readable rendering of a trace."""
    p, guards = result["prediction"], result["guards"]
    lines = [
        f"# Decision trace of {p[ID]}",
        "",
        f"Model **{p['model_name']}** version **{p['model_version']}** at {p[TS]}.",
        "",
        *evidence_lines(result["uncovered"]),
        "",
        "## Model checkpoint",
        *_checkpoint_lines(result),
        *_identity_lines(result),
        "",
        "## Release in force",
        _release_line(result),
        *_identity_lines(result),
        "",
        "## Feature definitions in force",
        f"- {_definitions_line(result['feature_definitions'])}",
        "",
        "## Guards",
        f"- placed in: {guards['placed_in']}; released: {guards['released']}",
        *[
            f"- failed `{g['rule_id']}` v{g['rule_version']} ({g['severity']}): {g['reason']}"
            for g in guards["failed_rules"]
        ],
        "",
        "## Drift on its day",
        *_drift_lines(result["drift"]),
        "",
        "## Label",
        *_label_lines(result["label"]),
        "",
        "## Performance on its day",
        *_performance_lines(result["performance"]),
        "",
        "## Tickets covering its day",
        *_ticket_lines(result["tickets"]),
        "",
        "## Report runs",
        *[
            f"- {r['subject']}: {r['run']}, `{r['table']}`@v{r['delta_version']} (audit seq {r['audit_seq']})"
            for r in result["report_runs"]
        ],
    ]
    return "\n".join(lines) + "\n"
