"""Model checkpoints tied to their training slice: the artifact's SHA-256, the training table's Delta version,
the slice filter, its row count and content hash, the parent version, the code version and who registered it.
`verify` re-reads the slice through Delta time travel and proves it unchanged — or says what differs."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from monitoring_pipeline.core.config import ProjectConfig
from monitoring_pipeline.core.slices import content_hash, parse_filter
from monitoring_pipeline.io import delta
from monitoring_pipeline.steps import audit, lake_of

MODEL_VERSIONS = "registry/model_versions"
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


class RegistryError(ValueError):
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
    scan = delta.scan(lake_of(config).table(table), version)
    return scan.filter(parse_filter(filter_text, scan.collect_schema())).collect()


def pin_slice(config: ProjectConfig, table: str, filter_text: str) -> SlicePin:
    version = delta.version(lake_of(config).table(table))
    if version is None:
        raise RegistryError(f"training table {table} does not exist in the lake")
    rows = read_slice(config, table, version, filter_text)
    return SlicePin(table, version, filter_text, rows.height, content_hash(rows))


def code_version() -> str | None:
    """The git commit of the working tree, when there is one."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def registered(config: ProjectConfig, name: str) -> pl.DataFrame:
    table = lake_of(config).table(MODEL_VERSIONS)
    if not delta.exists(table):
        return pl.DataFrame(schema=SCHEMA)
    return delta.scan(table).filter(pl.col("model_name") == name).collect()


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
    delta.append(lake_of(config).table(MODEL_VERSIONS), pl.DataFrame([row], schema=SCHEMA, orient="row"))
    payload = {k: row[k] for k in ("artifact_sha256", "train_table", "train_table_version", "train_rows")}
    audit(
        config,
        actor=f"cli:{by}",
        action="model_register",
        subject=f"{name}@{version}",
        payload=payload,
        now=now,
        data_table=MODEL_VERSIONS,
    )
    return row


def verify(config: ProjectConfig, name: str, version: str) -> list[str]:
    """What differs between the registered checkpoint and what the lake and the artifact hold now (empty: none)."""
    rows = registered(config, name).filter(pl.col("model_version") == version)
    if rows.is_empty():
        raise RegistryError(f"{name} {version} is not registered")
    record = rows.row(0, named=True)
    problems = []
    try:
        now_rows = read_slice(config, record["train_table"], record["train_table_version"], record["train_filter"])
    except Exception as exc:  # a vacuumed or missing version is a finding, not a crash
        return [f"training slice {record['train_table']}@v{record['train_table_version']} cannot be read: {exc}"]
    if now_rows.height != record["train_rows"]:
        problems.append(f"training slice has {now_rows.height} rows, {record['train_rows']} were registered")
    if content_hash(now_rows) != record["train_content_sha256"]:
        problems.append("training slice content hash differs from the registered one")
    artifact = Path(record["artifact_path"])
    if not artifact.is_file():
        problems.append(f"artifact {artifact} is missing")
    elif file_sha256(artifact) != record["artifact_sha256"]:
        problems.append(f"artifact {artifact} has changed (SHA-256 differs)")
    return problems
