"""Versioned feature definitions and prompt templates: proposed, approved (who, why, from when), rolled back.

A feature definition says how a monitored feature is computed (a source column, or a SQL expression over the
log's columns, parsed by Polars — never evaluated as Python), its dtype, description, owner, allowed range or
values and drift settings. A prompt template is the text a model is prompted with. Both live in
`registry/definitions` (one row per proposed version, never changed) and `registry/definition_events`
(approvals and rollbacks); the version active at a moment is read off the events (see `core.lifecycle`).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import polars as pl

from monitoring_pipeline.core import lifecycle
from monitoring_pipeline.core.config import ConfigError, ModelSpec, ProjectConfig, parse_drift_settings
from monitoring_pipeline.core.errors import MonitoringError
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.registry.audit_log import custody, record, sha256_text

FEATURE, PROMPT = "feature", "prompt"
FEATURE_KEYS = {"source", "expression", "dtype", "description", "owner", "allowed_range", "allowed_values", "drift"}
PROMPT_KEYS = {"template", "description", "owner"}

DEFINITION_SCHEMA: dict[str, pl.DataType] = {
    "kind": pl.String(),
    "model_name": pl.String(),
    "name": pl.String(),
    "version": pl.Int64(),
    "body": pl.String(),  # canonical JSON
    "body_sha256": pl.String(),
    "proposed_by": pl.String(),
    "proposed_at": pl.Datetime("us", "UTC"),
    "reason": pl.String(),
}
EVENT_SCHEMA: dict[str, pl.DataType] = {
    "kind": pl.String(),
    "model_name": pl.String(),
    "name": pl.String(),
    "version": pl.Int64(),
    "event": pl.String(),  # approved or rolled_back
    "actor": pl.String(),
    "reason": pl.String(),
    "effective_at": pl.Datetime("us", "UTC"),
    "recorded_at": pl.Datetime("us", "UTC"),
}


class DefinitionError(MonitoringError, ValueError):
    """A definition that cannot be proposed as written; the message names the key."""


def prompt_name(model: ModelSpec) -> str:
    """A model has one prompt template, named after the model."""
    return model.name


def canonical(body: Mapping[str, Any]) -> str:
    return json.dumps(dict(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _check_expression(name: str, expression: str) -> None:
    """A row-wise SQL expression: it parses, and it evaluates on an empty frame of the columns it names (a
    subquery or table function parses, then fails every profile)."""
    try:
        expr = pl.sql_expr(expression)
    except pl.exceptions.PolarsError as exc:
        raise DefinitionError(f"feature {name}: expression does not parse as SQL: {exc}") from None
    try:
        pl.DataFrame(schema=dict.fromkeys(expr.meta.root_names(), pl.Float64)).select(expr)
    except pl.exceptions.InvalidOperationError as exc:
        raise DefinitionError(f"feature {name}: expression must be a row-wise expression: {exc}") from None


def check_against_log(name: str, body: Mapping[str, Any], log: str, schema: pl.Schema) -> None:
    """A DefinitionError unless the definition computes on the log's columns: its source column or every column
    its expression names is in the log (`schema`, table `log`), and the result casts to the feature's dtype."""
    if body.get("source", name) not in schema and "expression" not in body:
        source = body.get("source", name)
        raise DefinitionError(
            f"feature {name}: source column {source!r} is not in the log {log}{_nearest([source], schema)}"
        )
    if "expression" not in body:
        return
    expr = pl.sql_expr(str(body["expression"]))
    absent = sorted(set(expr.meta.root_names()) - set(schema))
    if absent:
        raise DefinitionError(
            f"feature {name}: expression names {absent}, not in the log {log}{_nearest(absent, schema)}"
        )
    dtype = pl.Float64 if body.get("dtype") == "numeric" else pl.String
    try:
        pl.DataFrame(schema=schema).select(expr.cast(dtype))
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0]
        raise DefinitionError(
            f"feature {name}: expression does not compute a {dtype} on the log {log}: {first}"
        ) from None


def _nearest(names: list[str], schema: pl.Schema) -> str:
    """`; did you mean 'income'?` for the closest log columns, or the log's columns when none is close."""
    close = [match for n in names for match in difflib.get_close_matches(n, list(schema), n=1)]
    return f"; did you mean {', '.join(map(repr, close))}?" if close else f"; its columns: {sorted(schema)}"


def check_feature_body(model: ModelSpec, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The body without empty keys, or a DefinitionError naming what is wrong."""
    features = {c.name: c.kind.value for c in model.columns_with_role("feature")}
    if name not in features:
        raise DefinitionError(f"{name!r} is not a monitored feature of {model.name}; monitored: {sorted(features)}")
    body = {k: v for k, v in body.items() if v not in (None, "", [], {})}
    unknown = set(body) - FEATURE_KEYS
    if unknown:
        raise DefinitionError(f"feature {name}: unknown keys {sorted(unknown)}; expected {sorted(FEATURE_KEYS)}")
    if ("source" in body) == ("expression" in body):
        raise DefinitionError(f"feature {name}: give exactly one of `source` (a column) or `expression` (SQL)")
    if "expression" in body:
        _check_expression(name, str(body["expression"]))
    dtype = body.setdefault("dtype", features[name])
    if dtype != features[name]:
        raise DefinitionError(f"feature {name}: dtype {dtype!r} differs from the monitored kind {features[name]!r}")
    if "allowed_range" in body:
        low, high = (float(v) for v in body["allowed_range"])
        if low > high:
            raise DefinitionError(f"feature {name}: allowed_range [{low}, {high}] is empty")
        body["allowed_range"] = [low, high]
    if "drift" in body:
        try:
            parse_drift_settings(body["drift"], f"feature {name}.drift")
        except ConfigError as exc:
            raise DefinitionError(str(exc)) from None
    return body


def check_prompt_body(body: Mapping[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in body.items() if v not in (None, "")}
    unknown = set(body) - PROMPT_KEYS
    if unknown:
        raise DefinitionError(f"prompt: unknown keys {sorted(unknown)}; expected {sorted(PROMPT_KEYS)}")
    if not str(body.get("template", "")).strip():
        raise DefinitionError("prompt: the template is empty")
    return body


def diff_bodies(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Key by key: `- key: old` / `+ key: new`; a multi-line text (a template) as a unified diff."""
    lines = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if isinstance(before, str) and isinstance(after, str) and ("\n" in before or "\n" in after):
            lines.append(f"~ {key}:")
            lines += difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=1)
            continue
        if key in old:
            lines.append(f"- {key}: {json.dumps(before, ensure_ascii=False)}")
        if key in new:
            lines.append(f"+ {key}: {json.dumps(after, ensure_ascii=False)}")
    return lines


def broken_definitions(
    active: Mapping[str, tuple[int, Mapping[str, Any]]], model: ModelSpec, schema: pl.Schema
) -> dict[str, str]:
    """The active definitions that do not compute on a log of `schema`: name -> why, with the version."""
    kinds = {c.name: c.kind.value for c in model.columns_with_role("feature")}
    broken = {}
    for name, (version, body) in active.items():
        try:
            check_against_log(name, {**body, "dtype": kinds.get(name)}, model.log_table, schema)
        except DefinitionError as exc:
            broken[name] = f"definition version {version} of {exc}"
    return broken


def feature_exprs(
    active: Mapping[str, tuple[int, Mapping[str, Any]]], model: ModelSpec, schema: pl.Schema
) -> tuple[list[pl.Expr], dict[str, str]]:
    """How the active definitions compute their features on a frame of `schema` (a renamed source column or a
    SQL expression), and the broken ones (`broken_definitions`): each yields a null feature — it fails that
    feature alone, never the day."""
    kinds = {c.name: c.kind.value for c in model.columns_with_role("feature")}
    exprs, broken = [], broken_definitions(active, model, schema)
    for name, (_, body) in active.items():
        dtype = pl.Float64 if kinds.get(name) == "numeric" else pl.String
        if name in broken:
            exprs.append(pl.lit(None, dtype).alias(name))
        elif "expression" in body:
            exprs.append(pl.sql_expr(body["expression"]).cast(dtype).alias(name))
        elif body.get("source", name) != name:
            exprs.append(pl.col(body["source"]).cast(dtype).alias(name))
    return exprs, broken


def drift_overrides(active: Mapping[str, tuple[int, Mapping[str, Any]]], model: ModelSpec) -> dict[str, Any]:
    """column -> DriftSettings for the active definitions that carry drift settings (on top of the config's)."""
    return {
        name: parse_drift_settings(body["drift"], f"feature {name}.drift", model.settings_for(name))
        for name, (_, body) in active.items()
        if "drift" in body
    }


def _check_on_log(config: ProjectConfig, model: ModelSpec, name: str, body: Mapping[str, Any]) -> None:
    """`check_against_log` on the model's log as it is now (nothing to check before the log exists)."""
    log = catalog.log_table(config, model)
    if delta.exists(log):
        check_against_log(name, body, str(log), delta.scan(log).collect_schema())


# -- the registry tables -----------------------------------------------------------------------------------------


def _rows(config: ProjectConfig, table: str, schema: Mapping[str, pl.DataType], kind: str, model: str) -> pl.LazyFrame:
    rows = catalog.day_rows(config, table, model)
    return (rows if rows is not None else pl.LazyFrame(schema=dict(schema))).filter(pl.col("kind") == kind)


def versions(config: ProjectConfig, kind: str, model: str, name: str | None = None) -> pl.DataFrame:
    rows = _rows(config, catalog.DEFINITIONS, DEFINITION_SCHEMA, kind, model)
    return (rows if name is None else rows.filter(pl.col("name") == name)).sort("name", "version").collect()


def events(config: ProjectConfig, kind: str, model: str, name: str | None = None) -> pl.DataFrame:
    rows = _rows(config, catalog.DEFINITION_EVENTS, EVENT_SCHEMA, kind, model)
    return (rows if name is None else rows.filter(pl.col("name") == name)).sort("recorded_at").collect()


def _version_row(config: ProjectConfig, kind: str, model: str, name: str, version: int) -> dict[str, Any]:
    rows = versions(config, kind, model, name).filter(pl.col("version") == version)
    if rows.is_empty():
        raise DefinitionError(f"{kind} {model}/{name} has no version {version}")
    return rows.row(0, named=True)


def propose(
    config: ProjectConfig,
    kind: str,
    model: str,
    name: str,
    body: Mapping[str, Any],
    reason: str,
    by: str,
    now: datetime,
) -> int:
    """Record a new version (not active until approved); returns its number."""
    spec = config.model(model)
    checked = check_feature_body(spec, name, body) if kind == FEATURE else check_prompt_body(body)
    if kind == FEATURE:
        _check_on_log(config, spec, name, checked)
    if kind == PROMPT and name != prompt_name(spec):
        raise DefinitionError(f"the prompt template of {model} is named {prompt_name(spec)!r}")
    if not reason.strip():
        raise DefinitionError("a proposal needs a reason")
    text = canonical(checked)
    with custody(config, "registry"):
        known = versions(config, kind, model, name)
        if known.height and known["body"][-1] == text:
            raise DefinitionError(f"{kind} {model}/{name}: identical to version {known['version'][-1]}; nothing to do")
        version = known.height + 1
        row = {
            "kind": kind,
            "model_name": model,
            "name": name,
            "version": version,
            "body": text,
            "body_sha256": sha256_text(text),
            "proposed_by": by,
            "proposed_at": now,
            "reason": reason,
        }
        record(
            config,
            catalog.DEFINITIONS,
            row,
            DEFINITION_SCHEMA,
            by=by,
            action=f"{kind}_propose",
            subject=f"{model}/{name}",
            payload={"version": version, "body_sha256": row["body_sha256"]},
            now=now,
            reason=reason,
        )
    return version


def approve(
    config: ProjectConfig,
    kind: str,
    model: str,
    name: str,
    version: int,
    reason: str,
    by: str,
    now: datetime,
    effective_at: datetime | None = None,
) -> None:
    """Approve a proposed version; it becomes active from `effective_at` (default: now). Four-eyes applies."""
    with custody(config, "registry"):
        row = _version_row(config, kind, model, name, version)
        if kind == FEATURE:
            _check_on_log(config, config.model(model), name, json.loads(row["body"]))
        history = lifecycle.events_from(events(config, kind, model, name), "version")
        lifecycle.check_definition_approval(history, version, row["proposed_by"], by, config.governance)
        _record(config, kind, model, name, version, lifecycle.APPROVED, reason, by, now, effective_at or now)


def rollback(
    config: ProjectConfig, kind: str, model: str, name: str, version: int, reason: str, by: str, now: datetime
) -> None:
    """Make an earlier approved version active again, from now; the versions in between stay in the history."""
    with custody(config, "registry"):
        _version_row(config, kind, model, name, version)
        lifecycle.check_definition_rollback(
            lifecycle.events_from(events(config, kind, model, name), "version"), version, now
        )
        _record(config, kind, model, name, version, lifecycle.ROLLED_BACK, reason, by, now, now)


def _record(
    config: ProjectConfig,
    kind: str,
    model: str,
    name: str,
    version: int,
    event: str,
    reason: str,
    by: str,
    now: datetime,
    effective_at: datetime,
) -> None:
    if not reason.strip():
        raise DefinitionError(f"{event.replace('_', ' ')} needs a reason")
    row = {
        "kind": kind,
        "model_name": model,
        "name": name,
        "version": version,
        "event": event,
        "actor": by,
        "reason": reason,
        "effective_at": effective_at,
        "recorded_at": now,
    }
    record(
        config,
        catalog.DEFINITION_EVENTS,
        row,
        EVENT_SCHEMA,
        by=by,
        action=f"{kind}_{event}",
        subject=f"{model}/{name}",
        payload={"version": version, "effective_at": effective_at},
        now=now,
        reason=reason,
    )


# -- reading what is in force ------------------------------------------------------------------------------------


def in_force(config: ProjectConfig, kind: str, model: str, at: datetime) -> dict[str, tuple[int, dict[str, Any]]]:
    """name -> (version, body) of every definition of `kind` active at `at`."""
    history = events(config, kind, model)
    bodies = {
        (r["name"], r["version"]): json.loads(r["body"]) for r in versions(config, kind, model).iter_rows(named=True)
    }
    active = {}
    for name in history["name"].unique().to_list():
        current = lifecycle.in_force(
            lifecycle.events_from(history.filter(pl.col("name") == name), "version"),
            at,
            lifecycle.DEFINITION_ACTIVATIONS,
        )
        if current is not None:
            active[name] = (current.version, bodies[(name, current.version)])
    return active


def active_versions(config: ProjectConfig, model: str, at: datetime) -> dict[str, int]:
    """The feature-definition set of a model at `at`: feature name -> active version."""
    return versions_of(in_force(config, FEATURE, model, at))


def versions_of(active: Mapping[str, tuple[int, Mapping[str, Any]]]) -> dict[str, int]:
    """name -> version of definitions in force (as `in_force` returns them), by name."""
    return {name: version for name, (version, _) in sorted(active.items())}


def require_approved(config: ProjectConfig, kind: str, model: str, name: str, version: int) -> None:
    _version_row(config, kind, model, name, version)
    approved = events(config, kind, model, name).filter(
        (pl.col("version") == version) & (pl.col("event") == lifecycle.APPROVED)
    )
    if approved.is_empty():
        raise lifecycle.LifecycleError(f"{kind} {model}/{name} version {version} is not approved")


def history(config: ProjectConfig, kind: str, model: str, name: str) -> pl.DataFrame:
    """Every version with its proposal, and every approval and rollback, in the order they were recorded."""
    proposals = versions(config, kind, model, name).select(
        "version",
        pl.lit("proposed").alias("event"),
        pl.col("proposed_by").alias("actor"),
        "reason",
        pl.col("proposed_at").alias("effective_at"),
        pl.col("proposed_at").alias("recorded_at"),
        "body_sha256",
    )
    decisions = events(config, kind, model, name).select(
        "version",
        "event",
        "actor",
        "reason",
        "effective_at",
        "recorded_at",
        pl.lit(None, pl.String).alias("body_sha256"),
    )
    return pl.concat([proposals, decisions]).sort("recorded_at", "version")


def diff(config: ProjectConfig, kind: str, model: str, name: str, old: int, new: int) -> list[str]:
    before, after = (json.loads(_version_row(config, kind, model, name, v)["body"]) for v in (old, new))
    return diff_bodies(before, after)
