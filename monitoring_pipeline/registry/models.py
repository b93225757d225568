"""Model checkpoints tied to their data slices, and their lifecycle.

A checkpoint records the artifact's SHA-256, the training table's Delta version, the slice filter, its row count
and content hash, the parent version, the code version and who registered it; evaluation checkpoints pin their
eval slice the same way, plus metrics. `verify` re-reads every slice through Delta time travel and proves it
unchanged — or says what differs.

Lifecycle events (approve, deploy, rollback, retire) are appended to `registry/model_events`; its deploy and
rollback rows are the release ledger: (model version, prompt version, feature-definition set, approved by,
reason), in force from `effective_at` until the next release.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from monitoring_pipeline.core import lifecycle
from monitoring_pipeline.core.config import ProjectConfig
from monitoring_pipeline.core.errors import MonitoringError
from monitoring_pipeline.core.slices import content_hash, parse_filter
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.registry import definitions
from monitoring_pipeline.registry.audit_log import code_version, custody, record

SCHEMA: dict[str, pl.DataType] = {
    "model_name": pl.String(),
    "model_version": pl.String(),
    "parent_version": pl.String(),
    "artifact_path": pl.String(),
    "artifact_sha256": pl.String(),
    "train_table": pl.String(),
    "train_table_version": pl.Int64(),
    "train_filter": pl.String(),
    "train_rows": pl.Int64(),
    "train_content_sha256": pl.String(),
    "code_version": pl.String(),
    "registered_by": pl.String(),
    "registered_at": pl.Datetime("us", "UTC"),
}


EVALUATION_SCHEMA: dict[str, pl.DataType] = {
    "model_name": pl.String(),
    "model_version": pl.String(),
    "eval_name": pl.String(),
    "eval_table": pl.String(),
    "eval_table_version": pl.Int64(),
    "eval_filter": pl.String(),
    "eval_rows": pl.Int64(),
    "eval_content_sha256": pl.String(),
    "metrics": pl.String(),  # JSON object of metric name -> value
    "evaluated_by": pl.String(),
    "evaluated_at": pl.Datetime("us", "UTC"),
}
EVENT_SCHEMA: dict[str, pl.DataType] = {
    "model_name": pl.String(),
    "model_version": pl.String(),
    "event": pl.String(),  # approved, deployed, rolled_back, retired
    "actor": pl.String(),
    "reason": pl.String(),
    "effective_at": pl.Datetime("us", "UTC"),
    "recorded_at": pl.Datetime("us", "UTC"),
    "release_id": pl.String(),  # deploy and rollback rows only: the release ledger
    "prompt_version": pl.Int64(),
    "feature_set": pl.String(),  # JSON object of feature name -> definition version
    "approved_by": pl.String(),
}


class RegistryError(MonitoringError, ValueError):
    pass


@dataclass(frozen=True)
class SlicePin:
    table: str
    version: int
    filter: str
    rows: int
    content_sha256: str


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_slice(config: ProjectConfig, table: str, version: int, filter_text: str) -> pl.DataFrame:
    """The slice's rows at a Delta version (time travel)."""
    scan = delta.scan(catalog.table(config, table), version)
    return scan.filter(parse_filter(filter_text, scan.collect_schema())).collect()


def pin_slice(config: ProjectConfig, table: str, filter_text: str) -> SlicePin:
    version = delta.version(catalog.table(config, table))
    if version is None:
        raise RegistryError(f"training table {table} does not exist in the lake")
    rows = read_slice(config, table, version, filter_text)
    return SlicePin(table, version, filter_text, rows.height, content_hash(rows))


def _rows_of(config: ProjectConfig, name: str, table: str, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    rows = catalog.day_rows(config, table, name)
    return rows.collect() if rows is not None else pl.DataFrame(schema=dict(schema))


def registered(config: ProjectConfig, name: str) -> pl.DataFrame:
    return _rows_of(config, name, catalog.MODEL_VERSIONS, SCHEMA)


def evaluations(config: ProjectConfig, name: str) -> pl.DataFrame:
    return _rows_of(config, name, catalog.MODEL_EVALUATIONS, EVALUATION_SCHEMA)


def events(config: ProjectConfig, name: str) -> pl.DataFrame:
    return _rows_of(config, name, catalog.MODEL_EVENTS, EVENT_SCHEMA).sort("recorded_at")


def releases(config: ProjectConfig, name: str) -> pl.DataFrame:
    """The release ledger of a model: its deploy and rollback events, in effective order (ties: release order)."""
    number = pl.col("release_id").str.extract(r"-r(\d+)$").cast(pl.Int64)
    ledger = events(config, name).filter(pl.col("release_id").is_not_null())
    return ledger.sort(pl.col("effective_at"), pl.col("recorded_at"), number)


def release_in_force(config: ProjectConfig, name: str, at: datetime) -> dict | None:
    """The release in force at `at` (None before the first deployment)."""
    before = releases(config, name).filter(pl.col("effective_at") <= at)
    return before.row(-1, named=True) if before.height else None


def _version_row(config: ProjectConfig, name: str, version: str) -> dict:
    rows = registered(config, name).filter(pl.col("model_version") == version)
    if rows.is_empty():
        raise RegistryError(f"{name} {version} is not registered")
    return rows.row(0, named=True)


def register(
    config: ProjectConfig,
    name: str,
    version: str,
    artifact: Path,
    train_table: str,
    train_filter: str,
    parent: str | None,
    by: str,
    now: datetime,
) -> dict[str, object]:
    """Record a checkpoint and its pinned training slice; a version is registered once, never rewritten."""
    config.model(name)
    with custody(config, "registry"):
        known = registered(config, name)
        if version in known["model_version"].to_list():
            raise RegistryError(f"{name} {version} is already registered; register a new version instead")
        if parent is not None and parent not in known["model_version"].to_list():
            raise RegistryError(f"parent version {parent!r} of {name} is not registered")
        if not artifact.is_file():
            raise RegistryError(f"artifact {artifact} is not a file")
        pin = pin_slice(config, train_table, train_filter)
        row = {
            "model_name": name,
            "model_version": version,
            "parent_version": parent,
            "artifact_path": str(artifact),
            "artifact_sha256": file_sha256(artifact),
            "train_table": pin.table,
            "train_table_version": pin.version,
            "train_filter": pin.filter,
            "train_rows": pin.rows,
            "train_content_sha256": pin.content_sha256,
            "code_version": code_version(),
            "registered_by": by,
            "registered_at": now,
        }
        record(
            config,
            catalog.MODEL_VERSIONS,
            row,
            SCHEMA,
            by=by,
            action="model_register",
            subject=f"{name}@{version}",
            payload={k: row[k] for k in ("artifact_sha256", "train_table", "train_table_version", "train_rows")},
            now=now,
        )
        return row


def evaluate(
    config: ProjectConfig,
    name: str,
    version: str,
    eval_name: str,
    eval_table: str,
    eval_filter: str,
    metrics: Mapping[str, float],
    by: str,
    now: datetime,
) -> dict[str, object]:
    """Attach an evaluation checkpoint to a version: its eval slice pinned like the training slice, plus metrics."""
    _version_row(config, name, version)
    if eval_name in evaluations(config, name).filter(pl.col("model_version") == version)["eval_name"].to_list():
        raise RegistryError(f"{name} {version} already has an evaluation named {eval_name!r}")
    if not metrics:
        raise RegistryError("an evaluation checkpoint needs at least one metric")
    pin = pin_slice(config, eval_table, eval_filter)
    row = {
        "model_name": name,
        "model_version": version,
        "eval_name": eval_name,
        "eval_table": pin.table,
        "eval_table_version": pin.version,
        "eval_filter": pin.filter,
        "eval_rows": pin.rows,
        "eval_content_sha256": pin.content_sha256,
        "metrics": json.dumps({k: float(v) for k, v in sorted(metrics.items())}),
        "evaluated_by": by,
        "evaluated_at": now,
    }
    record(
        config,
        catalog.MODEL_EVALUATIONS,
        row,
        EVALUATION_SCHEMA,
        by=by,
        action="model_evaluate",
        subject=f"{name}@{version}",
        payload={"eval_name": eval_name, "eval_rows": pin.rows, "eval_content_sha256": pin.content_sha256},
        now=now,
    )
    return row


def approve(
    config: ProjectConfig,
    name: str,
    version: str,
    reason: str,
    by: str,
    now: datetime,
    effective_at: datetime | None = None,
) -> dict:
    """Approve a registered version (four-eyes and an evaluation checkpoint, as the governance rules say), in
    force from `effective_at` (default: now; both times are kept, as for a deployment)."""
    with custody(config, "registry"):
        checkpoint = _version_row(config, name, version)
        n_evals = evaluations(config, name).filter(pl.col("model_version") == version).height
        lifecycle.check_model_approval(
            lifecycle.events_from(events(config, name), "model_version"),
            version,
            checkpoint["registered_by"],
            by,
            n_evals,
            config.governance,
        )
        return _record_event(config, name, version, lifecycle.APPROVED, reason, by, now, effective_at or now)


def deploy(
    config: ProjectConfig,
    name: str,
    version: str,
    reason: str,
    by: str,
    now: datetime,
    effective_at: datetime | None = None,
    prompt_version: int | None = None,
    rollback: bool = False,
) -> dict:
    """Put an approved version in force from `effective_at` (default: now) as a new release, with the prompt
    version given (or the one of the release it replaces) and the feature definitions active at that moment.
    A rollback deploys a version that was in force before; history is never rewritten."""
    at = effective_at or now
    with custody(config, "registry"):
        _version_row(config, name, version)
        history = events(config, name)
        lifecycle.check_deployment(lifecycle.events_from(history, "model_version"), version, at, rollback)
        previous = release_in_force(config, name, at)
        if prompt_version is None and previous is not None:
            prompt_version = previous["prompt_version"]
        model = config.model(name)
        if model.prompt_text and prompt_version is None:
            raise RegistryError(f"{name} is an LLM model: say which approved prompt version to deploy (--prompt)")
        if prompt_version is not None:
            definitions.require_approved(
                config, definitions.PROMPT, name, definitions.prompt_name(model), prompt_version
            )
        if (
            previous is not None
            and previous["model_version"] == version
            and previous["prompt_version"] == prompt_version
        ):
            raise lifecycle.LifecycleError(f"{name} {version} is already in force with prompt version {prompt_version}")
        approval = history.filter((pl.col("model_version") == version) & (pl.col("event") == lifecycle.APPROVED))
        release = {
            "release_id": f"{name}-r{releases(config, name).height + 1}",
            "prompt_version": prompt_version,
            "feature_set": json.dumps(definitions.active_versions(config, name, at), sort_keys=True),
            "approved_by": approval["actor"][0],
        }
        event = lifecycle.ROLLED_BACK if rollback else lifecycle.DEPLOYED
        return _record_event(config, name, version, event, reason, by, now, at, release)


def retire(config: ProjectConfig, name: str, version: str, reason: str, by: str, now: datetime) -> dict:
    with custody(config, "registry"):
        _version_row(config, name, version)
        lifecycle.check_retirement(lifecycle.events_from(events(config, name), "model_version"), version, now)
        return _record_event(config, name, version, lifecycle.RETIRED, reason, by, now, now)


def _record_event(
    config: ProjectConfig,
    name: str,
    version: str,
    event: str,
    reason: str,
    by: str,
    now: datetime,
    effective_at: datetime,
    release: Mapping[str, object] | None = None,
) -> dict:
    if not reason.strip():
        raise RegistryError(f"{event.replace('_', ' ')} needs a reason")
    row = {key: None for key in EVENT_SCHEMA} | {
        "model_name": name,
        "model_version": version,
        "event": event,
        "actor": by,
        "reason": reason,
        "effective_at": effective_at,
        "recorded_at": now,
        **(release or {}),
    }
    record(
        config,
        catalog.MODEL_EVENTS,
        row,
        EVENT_SCHEMA,
        by=by,
        action=f"model_{event}",
        subject=f"{name}@{version}",
        payload={"event": event, "effective_at": effective_at}
        | {k: v for k, v in (release or {}).items() if k != "approved_by"},
        now=now,
        reason=reason,
    )
    return row


def _slice_problems(
    config: ProjectConfig, label: str, table: str, version: int, filter_text: str, rows: int, sha: str
) -> list[str]:
    try:
        now_rows = read_slice(config, table, version, filter_text)
    except Exception as exc:  # a vacuumed or missing version is a finding, not a crash
        return [f"{label} slice {table}@v{version} cannot be read: {exc}"]
    problems = []
    if now_rows.height != rows:
        problems.append(f"{label} slice has {now_rows.height} rows, {rows} were registered")
    if content_hash(now_rows) != sha:
        problems.append(f"{label} slice content hash differs from the registered one")
    return problems


def verify(config: ProjectConfig, name: str, version: str) -> list[str]:
    """What differs between the registered checkpoint (training and eval slices, artifact) and what the lake and
    the artifact hold now (empty: nothing)."""
    checkpoint = _version_row(config, name, version)
    problems = _slice_problems(
        config,
        "training",
        checkpoint["train_table"],
        checkpoint["train_table_version"],
        checkpoint["train_filter"],
        checkpoint["train_rows"],
        checkpoint["train_content_sha256"],
    )
    for ev in evaluations(config, name).filter(pl.col("model_version") == version).iter_rows(named=True):
        problems += _slice_problems(
            config,
            f"eval {ev['eval_name']}",
            ev["eval_table"],
            ev["eval_table_version"],
            ev["eval_filter"],
            ev["eval_rows"],
            ev["eval_content_sha256"],
        )
    artifact = Path(checkpoint["artifact_path"])
    if not artifact.is_file():
        problems.append(f"artifact {artifact} is missing")
    elif file_sha256(artifact) != checkpoint["artifact_sha256"]:
        problems.append(f"artifact {artifact} has changed (SHA-256 differs)")
    return problems
