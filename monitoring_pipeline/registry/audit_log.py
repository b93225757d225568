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
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import polars as pl

from monitoring_pipeline.core.audit import (
    ALSO_PINNED,
    DATA_FILES,
    Anchor,
    AuditEntry,
    Pin,
    Verification,
    canonical_json,
    entries_from_frame,
    entries_to_frame,
    next_entry,
    verify,
)
from monitoring_pipeline.core.config import SIGNED, ProjectConfig
from monitoring_pipeline.io import catalog, delta, storage
from monitoring_pipeline.io.delta import TableRef
from monitoring_pipeline.registry import signatures

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
    return _sha256(path) if "://" not in table.uri and path.exists() else None


def _commit_path(table: TableRef, version: int) -> Path:
    return Path(table.uri) / "_delta_log" / f"{version:020d}.json"


def _data_path(table: TableRef, path: str) -> Path:
    return Path(table.uri) / unquote(path)


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def pin(lake: delta.Lake, name: str, version: int) -> Pin:
    """Commit `version` of table `name` as an entry vouches for it: the SHA-256 of its commit file and of every
    data file it added (local lakes; on object stores, nothing to hash yet)."""
    ref = lake.table(name)
    sha = commit_sha256(ref, version)
    if sha is None:
        return Pin(name, version, None, {})
    actions = [json.loads(line) for line in _commit_path(ref, version).read_text().splitlines() if line.strip()]
    added = sorted(action["add"]["path"] for action in actions if "add" in action)
    return Pin(name, version, sha, {path: _sha256(_data_path(ref, path)) for path in added})


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
    also: Sequence[tuple[str, int]] = (),
) -> AuditEntry | None:
    """Append one entry to the hash-chained audit log. `data_table` (a lake table name) is pinned to the Delta
    version the action committed (`data_version`; default: the table's current version): the SHA-256 of that
    commit file and of the data files it added (see `pin`); `also` pins the other commits the action wrote. A
    commit gets one entry only (None: it had one already). Concurrent appenders never fork the chain: each entry
    commits only if its `seq` is still free."""
    lake = catalog.lake_of(config)
    table = lake.table(catalog.AUDIT_LOG)
    sha = None
    if data_table is not None:
        data_version = delta.version(lake.table(data_table)) if data_version is None else data_version
    if data_table is not None and data_version is not None:
        own = pin(lake, data_table, data_version)
        sha = own.commit_sha256
        others = [asdict(pin(lake, name, version)) for name, version in also]
        payload = {**payload, DATA_FILES: own.data_files} | ({ALSO_PINNED: others} if others else {})
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


def audit_commits(
    config: ProjectConfig,
    commits: delta.Commits,
    *,
    actor: str,
    action: str,
    subject: str,
    payload: Mapping[str, Any],
    now: datetime,
) -> AuditEntry | None:
    """`audit` pinning every commit of `commits` (as `owing` lists them; the first is the entry's table and
    version)."""
    lake = catalog.lake_of(config)
    written = [(lake.name_of(ref), version) for ref, version in commits]
    first = written[0] if written else (None, None)
    return audit(
        config,
        actor=actor,
        action=action,
        subject=subject,
        payload=payload,
        now=now,
        data_table=first[0],
        data_version=first[1],
        also=written[1:],
    )


def record(
    config: ProjectConfig,
    table: str,
    row: Mapping[str, Any],
    schema: Mapping[str, pl.DataType],
    *,
    action: str,
    subject: str,
    payload: Mapping[str, Any],
    now: datetime,
    by: str | None = None,
    actor: str | None = None,
    reason: str | None = None,
    key: str | None = None,
) -> int:
    """A custody change in one call: commit `row` to the lake table `table` (appended, or upserted on `key`), then
    the audit entry that pins that commit. `by` names the person acting (the entry keeps their pseudonymous id;
    with signed identities their key signs the action first, see `signatures`), `actor` a system (a sensor). The
    commit carries the entry it is owed in its own commit info, so a command cut off between the two (killed, or
    an unwritable audit log) leaves a gap `verify` names and the next custody command closes (`custody`,
    `complete_chain`). A `reason` is kept in the table's row; the entry holds only its SHA-256 (`reason_sha256`).
    Returns the Delta version the row landed in."""
    ref = catalog.table(config, table)
    frame = pl.DataFrame([dict(row)], schema=dict(schema), orient="row")
    delta.create(ref, frame.to_arrow().schema)  # version 0 is the creation: every later one is a custody commit
    if reason is not None:
        payload = {**payload, "reason_sha256": sha256_text(reason)}
    actor = person(by) if by is not None else str(actor)
    signing = by is not None and config.governance.identity == SIGNED
    landing = (delta.version(ref) or 0) + 1 if signing else 0  # the version a signature names: read only to sign
    signed = _signed(config, by, row, actor, action, subject, payload, now, table, landing) if signing else {}
    owed = _owed(actor, action, subject, payload | signed, now)
    written = delta.upsert(ref, frame, key, owed) if key else delta.append(ref, frame, metadata=owed)
    if signed and written != landing:  # another writer took that version: sign the one the row landed in
        signed = _signed(config, by, row, actor, action, subject, payload, now, table, written)
    payload = payload | signed
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


def _signed(
    config: ProjectConfig,
    by: str,
    row: Mapping[str, Any],
    actor: str,
    action: str,
    subject: str,
    payload: Mapping[str, Any],
    now: datetime,
    table: str,
    version: int,
) -> dict[str, Any]:
    """The signature a person's action carries in its entry's payload (signed identities)."""
    message = signatures.action_bytes(actor, action, subject, payload, now, table, version)
    return signatures.sign(config.governance, by, row.get("model_name"), action, now, message)


CUSTODY_TABLES = (  # every row of these is written with its audit entry (`record`)
    catalog.MODEL_VERSIONS,
    catalog.MODEL_EVALUATIONS,
    catalog.MODEL_EVENTS,
    catalog.DEFINITIONS,
    catalog.DEFINITION_EVENTS,
    catalog.TICKETS,
    catalog.QUARANTINE_RELEASES,
)
OWED = "monitoring_pipeline.audit_entry"  # the commit-info key holding the entry a commit is owed


def _owed(actor: str, action: str, subject: str, payload: Mapping[str, Any], now: datetime) -> dict[str, str]:
    entry = {"actor": actor, "action": action, "subject": subject, "payload": payload, "ts": now}
    return {OWED: canonical_json(entry)}


COMPACT = "compact"


def compact_audited(config: ProjectConfig, actor: str, now: datetime) -> list[AuditEntry]:
    """Rewrite every audited table's small files into large ones (same rows), each OPTIMIZE commit pinned by an
    entry of its own: a compacted lake still verifies, and `trace` still reads the versions earlier entries pin
    (their files stay until the lake's retention). Returns the entries recorded."""
    lake = catalog.lake_of(config)
    recorded = []
    for name in sorted(_audited(read_audit(config))):
        if not delta.exists(lake.table(name)):
            continue
        with owing(actor, COMPACT, name, now) as commits:
            delta.compact(lake.table(name))
        if commits:
            entry = audit_commits(config, commits, actor=actor, action=COMPACT, subject=name, payload={}, now=now)
            recorded += [entry] if entry else []
    return recorded


@contextmanager
def owing(actor: str, action: str, subject: str, now: datetime) -> Iterator[delta.Commits]:
    """Every commit written inside the block carries the entry it is owed, so a caller cut off before its
    `audit` leaves a gap `complete_chain` closes; the commits are listed, in order, for that `audit` to pin."""
    with delta.tracked(_owed(actor, action, subject, {}, now)) as commits:
        yield commits


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
                payload=owed["payload"] | {"recorded_from_commit_info": True},
                now=datetime.fromisoformat(owed["ts"]),
                data_table=name,
                data_version=commit["version"],
            )
            completed += [entry] if entry else []
    return completed


def _audited(entries: list[AuditEntry]) -> dict[str, set[int]]:
    """The audited tables — the custody tables and every table an entry pins — with their pinned versions."""
    pinned: dict[str, set[int]] = {name: set() for name in CUSTODY_TABLES}
    for entry in entries:
        for each in entry.pins():
            pinned.setdefault(each.table, set()).add(each.version)
    return pinned


def coverage(config: ProjectConfig) -> list[str]:
    """What the chain does not cover of what `trace`, `changes` and `report` show, one line per commit of an
    audited table that no entry pins (empty: all of it is covered). Raises DataFileError, naming table, version
    and file, when a data file of an audited table is missing or cut short, before any reader trips on it."""
    entries = read_audit(config)
    lake = catalog.lake_of(config)
    for name in _audited(entries):
        if delta.exists(lake.table(name)):
            storage.check_table(lake.table(name))
    return [
        f"{name} v{commit['version']} ({commit.get('operation', 'unknown operation')}, "
        f"{_when(commit)}) is not covered by the audit chain: "
        + (
            "its command or run was cut off; `audit complete` records it"
            if OWED in commit
            else "written outside monitoring-pipeline; what it changed is shown but not certified"
        )
        for name, commits in _unaudited(config, entries).items()
        for commit in commits
    ]


def _when(commit: Mapping[str, Any]) -> str:
    stamp = commit.get("timestamp")
    return datetime.fromtimestamp(stamp / 1000, UTC).isoformat(timespec="seconds") if stamp else "time unknown"


def _unaudited(config: ProjectConfig, entries: list[AuditEntry] | None = None) -> dict[str, list[dict[str, Any]]]:
    """The commits of each audited table (a custody table, or any table an entry pins) that no entry pins, its
    creation aside, oldest first."""
    lake, found = catalog.lake_of(config), {}
    for name, done in _audited(read_audit(config) if entries is None else entries).items():
        ref = lake.table(name)
        version = delta.version(ref)
        if version is None or len(done) == version + 1 or (len(done) == version and 0 not in done):
            continue  # every version is pinned, or every one but the table's creation (`record` creates it first)
        missing = [
            commit
            for commit in delta.history(ref)
            if commit["version"] not in done
            and not (commit["version"] == 0 and commit.get("operation") == "CREATE TABLE")
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
    """The chain's verification (against an exported head when given); then every pinned Delta commit and the data
    files it added re-hashed, so a rewritten history or data file fails; then every commit of an audited table
    that no entry pins (a direct overwrite, a restore) fails. A pinned file may be gone only once its entry is
    older than the lake's `retention_days` (Delta's log cleanup, vacuum); gone earlier, the chain is broken. An
    empty chain certifies nothing: it fails, naming a custody table that exists without it, or the lake root."""
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
        for each in entry.pins():
            problem = _pin_problem(lake, each, entry.ts_utc < horizon, config.lake.retention_days)
            if problem == EXPIRED:
                expired += 1
            elif problem:
                return Verification(False, len(entries), entry.seq, problem, expired)
    problem = _gap(config, entries)
    if problem:
        return Verification(False, len(entries), len(entries), problem, expired)
    signed, bad, problem = _signature_problem(config, entries)
    if problem:
        return Verification(False, len(entries), bad, problem, expired, signed)
    return replace(result, expired=expired, signed=signed)


def _signature_problem(config: ProjectConfig, entries: list[AuditEntry]) -> tuple[int, int | None, str | None]:
    """(signatures verified, the first bad entry's seq, its problem): every signed entry re-verified against the
    allowed signers; with signed identities, a person's action recorded after the first signed one must be signed
    too (stripping a signature is tampering)."""
    governance = config.governance
    payloads = [json.loads(entry.payload) for entry in entries]
    signed_seqs = [e.seq for e, p in zip(entries, payloads, strict=True) if signatures.SIGNATURE in p]
    if not signed_seqs:
        return 0, None, None
    keys = signatures.allowed_signers(governance)
    people = {key.principal: person(key.principal) for key in keys}
    for before, entry, payload in zip([None, *entries], entries, payloads, strict=False):
        if signatures.SIGNATURE in payload:
            problem = signatures.entry_problem(entry, before, keys, people)
        elif governance.identity == SIGNED and entry.action in signatures.VERBS and entry.seq > signed_seqs[0]:
            problem = f"{entry.action} of {entry.subject} by a person is not signed, yet identities are signed"
        else:
            continue
        if problem:
            return len([s for s in signed_seqs if s < entry.seq]), entry.seq, problem
    return len(signed_seqs), None, None


EXPIRED = "expired"


def _pin_problem(lake: delta.Lake, each: Pin, old: bool, retention_days: int) -> str | None:
    """What is wrong with a pinned commit today: its commit file or a data file it added changed, or gone
    within the retention (`EXPIRED` when gone after it: cleaned up as promised); None when intact."""
    if each.commit_sha256 is None:
        return None
    ref = lake.table(each.table)
    files = {_commit_path(ref, each.version): each.commit_sha256} | {
        _data_path(ref, path): sha for path, sha in each.data_files.items()
    }
    for path, sha in files.items():
        what = "its commit file" if path.suffix == ".json" else f"its data file {path.relative_to(ref.uri)}"
        if not path.exists():
            if old:
                return EXPIRED
            return (
                f"commit {each.version} of {each.table}: {what} is gone, although younger than the lake's "
                f"{retention_days}-day retention"
            )
        if _sha256(path) != sha:
            return f"commit {each.version} of {each.table}: {what} no longer matches its recorded SHA-256"
    return None


def _gap(config: ProjectConfig, entries: list[AuditEntry]) -> str | None:
    """The first custody commit no entry pins, said as what it is: a change whose command was cut off before
    recording it (the commit carries its owed entry), or a commit written outside the project."""
    for name, commits in _unaudited(config, entries).items():
        commit = commits[0]
        if OWED in commit:
            owed = json.loads(commit[OWED])
            return (
                f"commit {commit['version']} of {name} ({owed['action']} of {owed['subject']}) has no entry: the "
                "command or run was cut off before recording it; `monitoring-pipeline audit complete` records it"
            )
        operation = commit.get("operation", "unknown operation")
        return f"commit {commit['version']} of {name} ({operation}) was written outside monitoring-pipeline: unaudited"
    return None
