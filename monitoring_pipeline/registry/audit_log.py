"""The lake of a project and its tamper-evident audit log (the hash chain itself is in `core.audit`).

Every registry change, approval, rollback, report materialization and quarantine release appends one entry,
pinned to the Delta version and commit-file SHA-256 of the table it changed.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from monitoring_pipeline.core.audit import (
    Anchor,
    AuditEntry,
    Verification,
    canonical_json,
    entries_from_frame,
    entries_to_frame,
    next_entry,
    verify,
)
from monitoring_pipeline.core.config import ProjectConfig
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.delta import TableRef

COMPACT_EVERY = 100  # audit-table commits between compactions


@functools.cache
def code_version() -> str | None:
    """The git commit of the working tree, when there is one (else the package version)."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=5)
        return done.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return f"monitoring-pipeline {importlib.metadata.version('monitoring-pipeline')}"


def person(name: str) -> str:
    """The audit log's pseudonymous id of a person: `person:` + the first 16 hex digits of the SHA-256 of their
    name. The registry tables keep names; the audit log keeps no personal data."""
    return f"person:{sha256_text(name)[:16]}"


def commit_sha256(table: TableRef, version: int) -> str | None:
    """SHA-256 of the raw Delta commit file `version` of a local table (None for object stores, for now)."""
    path = _commit_path(table, version)
    return hashlib.sha256(path.read_bytes()).hexdigest() if "://" not in table.uri and path.exists() else None


def _commit_path(table: TableRef, version: int) -> Path:
    return Path(table.uri) / "_delta_log" / f"{version:020d}.json"


def read_audit(config: ProjectConfig) -> list[AuditEntry]:
    rows = catalog.day_rows(config, catalog.AUDIT_LOG)
    return entries_from_frame(rows.sort("seq").collect()) if rows is not None else []


def audit(
    config: ProjectConfig,
    *,
    actor: str,
    action: str,
    subject: str,
    payload: Mapping[str, Any],
    now: datetime,
    data_table: str | None = None,
    data_version: int | None = None,
) -> AuditEntry | None:
    """Append one entry to the hash-chained audit log. `data_table` (a lake table name) is pinned to the Delta
    version the action committed (`data_version`; default: the table's current version) and the SHA-256 of that
    commit file; a commit gets one entry only (None: it had one already). Concurrent appenders never fork the
    chain: each entry commits only if its `seq` is still free."""
    lake = catalog.lake_of(config)
    table = lake.table(catalog.AUDIT_LOG)
    sha = None
    if data_table is not None:
        ref = lake.table(data_table)
        data_version = delta.version(ref) if data_version is None else data_version
        sha = commit_sha256(ref, data_version) if data_version is not None else None
    appended: list[AuditEntry] = []

    def entry_after(last: pl.DataFrame) -> pl.DataFrame:
        head = entries_from_frame(last)[0] if last.height else None
        entry = next_entry(
            head,
            ts_utc=now,
            actor=actor,
            action=action,
            subject=subject,
            payload=payload,
            data_table=data_table,
            data_version=data_version,
            commit_sha256=sha,
        )
        appended[:] = [entry]
        return entries_to_frame([entry])

    def recorded(log: pl.LazyFrame) -> bool:  # this commit already has its entry (completed by another process)
        pinned = (pl.col("data_table") == data_table) & (pl.col("data_version") == data_version)
        return data_version is not None and log.filter(pinned).select(pl.len()).collect().item() > 0

    committed = delta.append_next(table, "seq", entry_after, recorded if data_table else None)
    if committed is None:
        return None
    if committed % COMPACT_EVERY == 0:
        delta.compact(table)  # one file per entry would make every full read slower
    return appended[0]


def record(
    config: ProjectConfig,
    table: str,
    row: Mapping[str, Any],
    schema: Mapping[str, pl.DataType],
    *,
    actor: str,
    action: str,
    subject: str,
    payload: Mapping[str, Any],
    now: datetime,
    reason: str | None = None,
    key: str | None = None,
) -> int:
    """A custody change in one call: commit `row` to the lake table `table` (appended, or upserted on `key`), then
    the audit entry that pins that commit. The commit carries the entry it is owed in its own commit info, so a
    command cut off between the two (killed, or an unwritable audit log) leaves a gap `verify` names and the next
    custody command closes (`custody`, `complete_chain`). A `reason` is kept in the table's row; the entry holds
    only its SHA-256 (`reason_sha256`). Returns the Delta version the row landed in."""
    ref = catalog.table(config, table)
    frame = pl.DataFrame([dict(row)], schema=dict(schema), orient="row")
    delta.create(ref, frame.to_arrow().schema)  # version 0 is the creation: every later one is a custody commit
    if reason is not None:
        payload = {**payload, "reason_sha256": sha256_text(reason)}
    owed = {OWED: canonical_json({"actor": actor, "action": action, "subject": subject, "payload": payload, "ts": now})}
    written = delta.upsert(ref, frame, key, owed) if key else delta.append(ref, frame, metadata=owed)
    try:
        audit(
            config,
            actor=actor,
            action=action,
            subject=subject,
            payload=payload,
            now=now,
            data_table=table,
            data_version=written,
        )
    except delta.LakeWriteError as error:
        raise delta.LakeWriteError(
            f"{table} version {written} ({action} of {subject}) is committed, but its audit entry is not: {error}. "
            "Once the audit log is writable, `monitoring-pipeline audit complete` records it from the commit"
        ) from error
    return written


CUSTODY_TABLES = (  # every row of these is written with its audit entry (`record`)
    catalog.MODEL_VERSIONS,
    catalog.MODEL_EVALUATIONS,
    catalog.MODEL_EVENTS,
    catalog.DEFINITIONS,
    catalog.DEFINITION_EVENTS,
    catalog.TICKETS,
    catalog.QUARANTINE_RELEASES,
)
OWED = "monitoring_pipeline.audit_entry"  # the commit-info key holding the entry a custody commit is owed


@contextmanager
def custody(config: ProjectConfig, lock: str) -> Iterator[None]:
    """The lake lock `lock` for a read-check-write of custody tables, taken after closing any gap a cut-off
    command left: a retry finds the chain whole before it decides."""
    with delta.lake_lock(catalog.lake_of(config), lock):
        complete_chain(config)
        yield


def complete_chain(config: ProjectConfig) -> list[AuditEntry]:
    """Record every custody commit's owed entry that never landed, from the commit's own metadata (its actor,
    action, subject, payload and time), pinned to that commit; returns the entries added. Idempotent, and safe
    beside a command still recording its own: a commit gets one entry."""
    completed = []
    for name, commits in _unaudited(config).items():
        for commit in commits:
            if OWED not in commit:
                continue
            owed = json.loads(commit[OWED])
            entry = audit(
                config,
                actor=owed["actor"],
                action=owed["action"],
                subject=owed["subject"],
                payload=owed["payload"],
                now=datetime.fromisoformat(owed["ts"]),
                data_table=name,
                data_version=commit["version"],
            )
            completed += [entry] if entry else []
    return completed


def _unaudited(config: ProjectConfig, entries: list[AuditEntry] | None = None) -> dict[str, list[dict[str, Any]]]:
    """The commits of each custody table that no entry pins (its creation aside), oldest first."""
    pinned: dict[str, set[int]] = {}
    for entry in read_audit(config) if entries is None else entries:
        if entry.data_table in CUSTODY_TABLES:
            pinned.setdefault(entry.data_table, set()).add(entry.data_version)
    lake, found = catalog.lake_of(config), {}
    for name in CUSTODY_TABLES:
        ref = lake.table(name)
        version, done = delta.version(ref), pinned.get(name, set())
        if version is None or len(done) == version + 1 or (len(done) == version and 0 not in done):
            continue  # every version is pinned, or every one but the table's creation (`record` creates it first)
        missing = [
            commit
            for commit in delta.history(ref)
            if commit["version"] not in done and commit.get("operation") != "CREATE TABLE"
        ]
        if missing:
            found[name] = missing
    return found


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def latest_entries(config: ProjectConfig, subjects: set[str]) -> list[AuditEntry]:
    """The newest entry of each of `subjects` (e.g. `credit_risk/drift_report@2026-10-12`), by subject."""
    latest = {e.subject: e for e in read_audit(config) if e.subject in subjects}
    return sorted(latest.values(), key=lambda e: e.subject)


def head_anchor(config: ProjectConfig, key: bytes | None = None) -> Anchor | None:
    """The current head of the chain, to keep elsewhere (signed with `key` when given)."""
    entries = read_audit(config)
    if not entries:
        return None
    last = max(entries, key=lambda e: e.seq)
    anchor = Anchor(last.seq, last.entry_hash)
    return anchor.signed(key) if key else anchor


def verify_audit(config: ProjectConfig, anchor: Anchor | None = None, now: datetime | None = None) -> Verification:
    """The chain's verification (against an exported head when given), then every pinned Delta commit re-hashed:
    a rewritten history fails too. A pinned commit file may be gone only once it is older than the lake's
    `retention_days` (Delta's log cleanup); gone earlier, it is a broken chain. An empty chain certifies nothing:
    it fails, naming a custody table that exists without it, or the lake root that may be mistyped."""
    entries = read_audit(config)
    if not entries:
        lake = catalog.lake_of(config)
        present = [name for name in CUSTODY_TABLES if delta.exists(lake.table(name))]
        problem = _gap(config, entries) or (
            f"the audit log {lake.table(catalog.AUDIT_LOG)} is missing or empty, yet {present[0]} exists"
            if present
            else f"no audit entries under the lake root {lake.root}: nothing is certified (is the root right?)"
        )
        return Verification(False, 0, 0, problem)
    result = verify(entries, anchor)
    if not result.ok:
        return result
    lake = catalog.lake_of(config)
    horizon = (now or datetime.now(UTC)) - timedelta(days=config.lake.retention_days)
    expired = 0
    for entry in entries:
        if not entry.commit_sha256:
            continue
        path = _commit_path(lake.table(entry.data_table), entry.data_version)
        if not path.exists() and entry.ts_utc < horizon:
            expired += 1
            continue
        problem = None
        if not path.exists():
            problem = (
                f"commit {entry.data_version} of {entry.data_table} is gone, although it is younger than the lake's "
                f"{config.lake.retention_days}-day retention"
            )
        elif commit_sha256(lake.table(entry.data_table), entry.data_version) != entry.commit_sha256:
            problem = f"commit {entry.data_version} of {entry.data_table} no longer matches its recorded SHA-256"
        if problem:
            return Verification(False, len(entries), entry.seq, problem, expired)
    problem = _gap(config, entries)
    if problem:
        return Verification(False, len(entries), len(entries), problem, expired)
    return replace(result, expired=expired)


def _gap(config: ProjectConfig, entries: list[AuditEntry]) -> str | None:
    """The first custody commit no entry pins, said as what it is: a change whose command was cut off before
    recording it (the commit carries its owed entry), or a commit written outside the project."""
    for name, commits in _unaudited(config, entries).items():
        commit = commits[0]
        if OWED in commit:
            owed = json.loads(commit[OWED])
            return (
                f"commit {commit['version']} of {name} ({owed['action']} of {owed['subject']}) has no entry: the "
                "command was cut off before recording it; `monitoring-pipeline audit complete` records it"
            )
        operation = commit.get("operation", "unknown operation")
        return f"commit {commit['version']} of {name} ({operation}) was written outside monitoring-pipeline: unaudited"
    return None
