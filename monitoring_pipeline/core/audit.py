"""A tamper-evident audit log: entries form a SHA-256 hash chain, so editing, deleting, reordering or inserting
an entry breaks verification at the first entry touched.

    entry_hash = SHA-256(prev_hash || canonical_json(every other field))

Canonical JSON here: keys sorted, no whitespace, UTF-8, dates as ISO 8601 — stable for the flat entries we write.
The genesis entry's prev_hash is 64 zeros. Payloads carry identifiers, counts and hashes, never raw data.

A chain alone cannot show that its newest entries were cut off; an exported head (an anchor: seq and entry hash,
kept somewhere else and optionally HMAC-signed) can: verifying against it fails if that entry is gone or changed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

import polars as pl

GENESIS = "0" * 64

AUDIT_SCHEMA: dict[str, pl.DataType] = {
    "seq": pl.Int64(),
    "ts_utc": pl.Datetime("us", "UTC"),
    "actor": pl.String(),
    "action": pl.String(),
    "subject": pl.String(),
    "data_table": pl.String(),
    "data_version": pl.Int64(),
    "commit_sha256": pl.String(),
    "payload": pl.String(),
    "prev_hash": pl.String(),
    "entry_hash": pl.String(),
}


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_iso)


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot put {type(value).__name__} in an audit entry")


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    ts_utc: datetime
    actor: str  # "dagster:run/<run id>" or "person:<pseudonymous id>" (see registry.audit_log.person)
    action: str  # e.g. "materialize", "quarantine_release"
    subject: str  # e.g. "credit_risk/drift_report@2026-10-12"
    data_table: str | None
    data_version: int | None
    commit_sha256: str | None  # SHA-256 of the Delta commit file the action produced
    payload: str  # canonical JSON of the details (identifiers and counts only)
    prev_hash: str
    entry_hash: str

    def body(self) -> dict[str, Any]:
        fields = asdict(self)
        del fields["entry_hash"]
        return fields

    def pins(self) -> list[Pin]:
        """The Delta commits this entry vouches for: its own (`data_table`@`data_version`) and any others the same
        action wrote (payload `also_pinned`), each with the SHA-256 of the data files it added when recorded."""
        if self.data_table is None or self.data_version is None:
            return []
        payload = json.loads(self.payload)
        own = Pin(self.data_table, self.data_version, self.commit_sha256, payload.get(DATA_FILES, {}))
        return [own, *(Pin(**pin) for pin in payload.get(ALSO_PINNED, []))]


DATA_FILES = "data_files"  # payload key: {path in the table: SHA-256} of the files the pinned commit added
ALSO_PINNED = "also_pinned"  # payload key: the other commits the action wrote, as `Pin` fields


@dataclass(frozen=True)
class Pin:
    """One Delta commit vouched for: table, version, the commit file's SHA-256 and its added data files'."""

    table: str
    version: int
    commit_sha256: str | None
    data_files: Mapping[str, str]


def entry_hash(prev_hash: str, body: Mapping[str, Any]) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical_json(dict(body)).encode()).hexdigest()


def next_entry(
    head: AuditEntry | None,
    *,
    ts_utc: datetime,
    actor: str,
    action: str,
    subject: str,
    payload: Mapping[str, Any],
    data_table: str | None = None,
    data_version: int | None = None,
    commit_sha256: str | None = None,
) -> AuditEntry:
    """The entry that follows `head` (None: the genesis entry)."""
    seq, prev = (0, GENESIS) if head is None else (head.seq + 1, head.entry_hash)
    fields = {
        "seq": seq,
        "ts_utc": ts_utc,
        "actor": actor,
        "action": action,
        "subject": subject,
        "data_table": data_table,
        "data_version": data_version,
        "commit_sha256": commit_sha256,
        "payload": canonical_json(dict(payload)),
        "prev_hash": prev,
    }
    return AuditEntry(**fields, entry_hash=entry_hash(prev, fields))


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None
    expired: int = 0  # entries whose pinned commit file was cleaned up after the retention (chained, not re-hashed)
    signed: int = 0  # entries whose signature verified (signed identities, `registry.signatures`)


@dataclass(frozen=True)
class Anchor:
    """An exported chain head; `signature` is an HMAC-SHA256 of seq and hash when a key was given."""

    seq: int
    entry_hash: str
    signature: str | None = None

    def signed(self, key: bytes) -> Anchor:
        return replace(self, signature=self._mac(key))

    def signature_ok(self, key: bytes) -> bool:
        return self.signature is not None and hmac.compare_digest(self.signature, self._mac(key))

    def _mac(self, key: bytes) -> str:
        return hmac.new(key, f"{self.seq}:{self.entry_hash}".encode(), hashlib.sha256).hexdigest()


def verify(entries: Iterable[AuditEntry], anchor: Anchor | None = None) -> Verification:
    """Check seq contiguity from 0, every hash, and every link; report the first entry that fails. With an
    anchor, the anchored entry must still be there, unchanged (a truncated chain fails)."""
    ordered = sorted(entries, key=lambda e: e.seq)
    prev = GENESIS
    for expected, entry in enumerate(ordered):
        if entry.seq != expected:
            problem = "duplicated sequence number" if entry.seq < expected else f"entry {expected} is missing"
            return Verification(False, len(ordered), expected, problem)
        if entry.prev_hash != prev:
            return Verification(False, len(ordered), entry.seq, "prev_hash does not link to the previous entry")
        if entry_hash(entry.prev_hash, entry.body()) != entry.entry_hash:
            return Verification(False, len(ordered), entry.seq, "entry_hash does not match its content")
        prev = entry.entry_hash
    if anchor is not None:
        if anchor.seq >= len(ordered):
            problem = f"the chain ends at seq {len(ordered) - 1} but the exported head is seq {anchor.seq}: truncated"
            return Verification(False, len(ordered), len(ordered), problem)
        if ordered[anchor.seq].entry_hash != anchor.entry_hash:
            return Verification(False, len(ordered), anchor.seq, "entry differs from the exported head")
    return Verification(True, len(ordered))


def entries_from_frame(frame: pl.DataFrame) -> list[AuditEntry]:
    return [AuditEntry(**row) for row in frame.select(list(AUDIT_SCHEMA)).iter_rows(named=True)]


def entries_to_frame(entries: Iterable[AuditEntry]) -> pl.DataFrame:
    return pl.DataFrame([asdict(e) for e in entries], schema=AUDIT_SCHEMA, orient="row")
