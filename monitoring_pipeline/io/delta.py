"""The one adapter for Delta tables: addressing, reads (with time travel), atomic writes and locks.

Every table is a URI plus storage options — a local path today, `s3://bucket/prefix/...` tomorrow. A write is one
Delta commit that replaces exactly the rows matching a predicate (a partition, a key, the next sequence number),
built on the snapshot it read: re-running a partition replaces it, a crash leaves the last commit, and a writer
that another beat to the same rows rebuilds and retries. Read-check-write sequences across tables take a lock: an
OS file lock beside a local lake, a lease row taken by such a commit on an object store.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from monitoring_pipeline.core.config import RETENTION_DAYS
from monitoring_pipeline.core.errors import MonitoringError

SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.:\-]+$")
REMOTE_SCHEMES = ("s3://", "s3a://", "gs://", "az://", "abfss://")
CONTENDED_SECONDS = 300.0  # how long a writer keeps retrying commits that lose to other writers
BATCH_ROWS = 500_000  # rows a write converts to Arrow at a time
LEASE_SECONDS = 120.0  # an object-store lock left by a killed holder is taken over after this
UNSAFE_RENAME = "aws_s3_allow_unsafe_rename"
LOCK_TABLE = "_locks/leases"
# A checkpoint every 10 commits: opening a table replays at most 10 commit files (each a request on object stores)
CHECKPOINT_INTERVAL = "10"


class LakePathError(MonitoringError, ValueError):
    """A table path escapes the lake root or uses a scheme the lake does not allow."""


class LakeWriteError(MonitoringError, OSError):
    """The storage refused a write (disk full, read-only, permissions)."""


OS_ERROR = re.compile(r"([^:↳\n\x1b]*\(os error \d+\))")  # the innermost cause: "No space left ... (os error 28)"


class LakeConfigError(MonitoringError, ValueError):
    """A lake configuration under which concurrent writers could lose each other's commits."""


@dataclass(frozen=True)
class TableDoc:
    """What a table holds, for the people who query it: set as the Delta table's description and its columns'
    comments when the table is created (Spark, Databricks and Unity Catalog show them)."""

    description: str
    columns: Mapping[str, str] = field(default_factory=dict)

    def comment(self, schema: pa.Schema) -> pa.Schema:
        """`schema` with each documented column's comment in its field metadata (Delta's `comment`)."""
        return pa.schema(
            [
                f.with_metadata({**(f.metadata or {}), b"comment": self.columns[f.name].encode()})
                if f.name in self.columns
                else f
                for f in schema
            ],
            metadata=schema.metadata,
        )


@dataclass(frozen=True)
class TableRef:
    uri: str
    storage_options: Mapping[str, str] = field(default_factory=dict)
    retention_days: int = RETENTION_DAYS  # commit files and removed data files are kept this long
    doc: TableDoc | None = field(default=None, compare=False)

    @property
    def options(self) -> dict[str, str] | None:
        return dict(self.storage_options) or None

    @property
    def properties(self) -> dict[str, str]:
        """The table properties every table is created with: a checkpoint every 10 commits, and the whole history
        kept for `retention_days` — delta-rs otherwise deletes commit files older than 30 days at a checkpoint,
        and the audit trail re-hashes them."""
        kept = f"interval {self.retention_days} days"
        return {
            "delta.checkpointInterval": CHECKPOINT_INTERVAL,
            "delta.logRetentionDuration": kept,
            "delta.deletedFileRetentionDuration": kept,
        }

    def __str__(self) -> str:
        return self.uri


@dataclass(frozen=True)
class Lake:
    """A lake root (local directory or object-store prefix) that resolves relative table names safely."""

    root: str
    storage_options: Mapping[str, str] = field(default_factory=dict)
    retention_days: int = RETENTION_DAYS
    docs: Mapping[str, TableDoc] = field(default_factory=dict, compare=False, hash=False)  # by table name

    def __post_init__(self) -> None:
        if self.is_remote and _unsafe_rename(self.storage_options):
            raise LakeConfigError(
                f"lake {self.root}: AWS_S3_ALLOW_UNSAFE_RENAME is set (storage options or environment). It lets two "
                "writers overwrite each other's Delta commits, and this lake has concurrent writers (backfills, "
                "sensors, the audit log), so it is refused. Unset it: S3 commits use conditional puts "
                "(If-None-Match) and need no lock."
            )

    @property
    def is_remote(self) -> bool:
        return self.root.startswith(REMOTE_SCHEMES)

    def table(self, name: str) -> TableRef:
        if "://" in name or name.startswith("/") or ".." in Path(name).parts or not name.strip("/"):
            raise LakePathError(f"table name {name!r} must be a relative path inside the lake root {self.root}")
        doc = self.docs.get(name) or self.docs.get(f"{name.split('/')[0]}/*")
        if self.is_remote:
            uri = f"{self.root.rstrip('/')}/{name.strip('/')}"
            return TableRef(uri, self.storage_options, self.retention_days, doc)
        if "://" in self.root:
            raise LakePathError(f"lake root {self.root!r} uses an unsupported scheme; use a path or {REMOTE_SCHEMES}")
        return TableRef(str(Path(self.root).resolve() / name), self.storage_options, self.retention_days, doc)

    def name_of(self, ref: TableRef) -> str:
        """The lake-relative name of a table of this lake (`table`'s inverse)."""
        root = self.root.rstrip("/") if self.is_remote else str(Path(self.root).resolve())
        return ref.uri.removeprefix(root).strip("/")


def _unsafe_rename(storage_options: Mapping[str, str]) -> bool:
    settings = {key.lower(): value for key, value in os.environ.items()} | {
        key.lower(): value for key, value in storage_options.items()
    }
    return str(settings.get(UNSAFE_RENAME, "")).strip().lower() in {"1", "true", "yes"}


Commits = list[tuple[TableRef, int]]
_TRACKED: ContextVar[tuple[Mapping[str, str], Commits] | None] = ContextVar("tracked_commits", default=None)


@contextmanager
def tracked(metadata: Mapping[str, str]) -> Iterator[Commits]:
    """Every commit written inside the block carries `metadata` in its commit info and is listed, as (table,
    version) in the order they land, in the list yielded — so a step's caller can pin all it wrote."""
    commits: Commits = []
    token = _TRACKED.set((metadata, commits))
    try:
        yield commits
    finally:
        _TRACKED.reset(token)


def _landed(ref: TableRef, committed: int) -> int:
    if (tracking := _TRACKED.get()) is not None:
        tracking[1].append((ref, committed))
    return committed


def exists(ref: TableRef) -> bool:
    return DeltaTable.is_deltatable(ref.uri, storage_options=ref.options)


def version(ref: TableRef) -> int | None:
    """The table's latest Delta version, or None when the table does not exist yet."""
    try:
        return DeltaTable(ref.uri, storage_options=ref.options).version()
    except TableNotFoundError:
        return None


def scan(ref: TableRef, at_version: int | None = None) -> pl.LazyFrame:
    return pl.scan_delta(ref.uri, version=at_version, storage_options=ref.options)


def collected(rows: pl.LazyFrame, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """`rows` read, of `columns` only (those they have) when given, each column in one contiguous chunk. A day
    read from many data files comes back chunked by file; a frame whose columns are chunked unlike each other is
    copied whole by the next step that replaces a column, so the chunks are joined here, a column at a time (a
    day costs one column more, not twice itself)."""
    if columns is not None:
        rows = rows.select(c for c in columns if c in rows.collect_schema())
    parts = rows.collect().get_columns()
    for i, column in enumerate(parts):
        parts[i] = column.rechunk()
    return pl.DataFrame(parts)


def last_row(ref: TableRef, column: str, at_version: int | None = None) -> pl.DataFrame:
    """The row with the largest `column` (empty if none), reading only the data file whose Delta statistics hold
    that maximum — an append-only log's head costs one small read however long the log grows."""
    return _last_row(ref, DeltaTable(ref.uri, version=at_version, storage_options=ref.options), column)


def _last_row(ref: TableRef, table: DeltaTable, column: str) -> pl.DataFrame:
    actions = pl.DataFrame(table.get_add_actions(flatten=True))
    stat = f"max.{column}"
    if actions.is_empty() or stat not in actions.columns or actions[stat].null_count():
        return pl.scan_delta(table).sort(column, descending=True).head(1).collect()  # no statistics
    path = actions.sort(stat)["path"][-1]
    uri = f"{ref.uri.rstrip('/')}/{path}" if "://" in ref.uri else str(Path(ref.uri) / path)
    rows = pl.read_parquet(uri, storage_options=ref.options)
    return rows.sort(column, descending=True).head(1)


def files(ref: TableRef, at_version: int | None = None) -> pl.DataFrame:
    """The table's data files at a version, one row each: `path`, `num_records`, and their Delta statistics
    (`min.<column>`, `max.<column>`, `null_count.<column>`) and partition values (`partition.<column>`) where
    the writer recorded them. Reads the log only, never a data file."""
    table = DeltaTable(ref.uri, version=at_version, storage_options=ref.options)
    return pl.DataFrame(table.get_add_actions(flatten=True))


def compact(ref: TableRef) -> int | None:
    """Rewrite small files into large ones (same rows, one OPTIMIZE commit), so reads open few files; returns the
    version committed. Best effort: None when there was nothing to compact or a concurrent writer won (the files
    stay as they are until the next compaction). Earlier versions keep their files until the retention."""
    table = DeltaTable(ref.uri, storage_options=ref.options)
    try:
        metrics = table.optimize.compact(**_commit(None))
    except CommitFailedError:
        return None
    return _landed(ref, table.version()) if metrics["numFilesAdded"] else None


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, dtime(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def scan_days(ref: TableRef, days: list[date], ts_column: str, at_version: int | None = None) -> pl.LazyFrame:
    """The rows whose UTC timestamp falls on one of `days`; runs of consecutive days become one range filter,
    so file statistics prune the other days."""
    ts = pl.col(ts_column)
    in_days = pl.lit(False)
    for first, last in _runs(sorted(set(days))):
        in_days = in_days | ((ts >= day_bounds(first)[0]) & (ts < day_bounds(last)[1]))
    return scan(ref, at_version).filter(in_days)


def _runs(days: list[date]) -> list[tuple[date, date]]:
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and (day - runs[-1][1]).days == 1:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _predicate(partition: Mapping[str, object]) -> str:
    return " AND ".join(f"{column} = {_literal(column, value)}" for column, value in partition.items())


def _literal(column: str, value: object) -> str:
    """A SQL literal for a Delta predicate, from values of a strict alphabet only (no quoting games)."""
    text = value.isoformat() if isinstance(value, date) else str(value)
    if not SAFE_VALUE.match(column) or not SAFE_VALUE.match(text):
        raise ValueError(f"unsafe value {column}={text!r}: only letters, digits and _ . : - are allowed")
    return text if isinstance(value, int) else f"'{text}'"


def write_partition(
    ref: TableRef, frame: pl.DataFrame, partition: Mapping[str, object], evolve_schema: bool = False
) -> int:
    """Atomically replace the rows of one partition (e.g. {"model_name": m, "day": d}) with `frame`.

    `frame` must carry the partition columns with exactly those values; returns the committed table version. A
    write the storage refuses (disk full, read-only) raises LakeWriteError naming table, partition, cause and the
    version the table was left at.
    With `evolve_schema`, new columns are added to the table (older partitions read them as null) and missing
    ones are written as null — for tables whose columns follow a log or a rule set; report tables keep their
    schema strictly.
    """
    for column, value in partition.items():
        outside = frame.filter(pl.col(column) != value).height if frame.height else 0
        if outside:
            raise ValueError(f"{ref}: {outside} rows fall outside the partition {column}={value!r}")
    predicate = _predicate(partition)
    where = ", partition " + ", ".join(f"{column}={value}" for column, value in partition.items())
    with _storage_errors(ref, where):
        create(ref, _batches(frame).schema, partition_by=list(partition))
        return _replace(ref, lambda _: (_batches(frame), predicate), "merge" if evolve_schema else None)


def _batches(frame: pl.DataFrame | pl.LazyFrame) -> pa.RecordBatchReader:
    """`frame` as Arrow record batches of at most BATCH_ROWS rows, converted as the writer reads them (a day is
    never held twice, once in Polars and once in Arrow; a lazy frame is computed batch by batch)."""
    schema = pl.DataFrame(schema=frame.collect_schema()).to_arrow().schema
    parts = (
        frame.collect_batches(chunk_size=BATCH_ROWS, lazy=True)
        if isinstance(frame, pl.LazyFrame)
        else frame.iter_slices(BATCH_ROWS)
    )
    return pa.RecordBatchReader.from_batches(
        schema, (batch for part in parts for batch in part.to_arrow().to_batches())
    )


@contextmanager
def _storage_errors(ref: TableRef, where: str = "") -> Iterator[None]:
    """A write the storage refuses (disk full, read-only) raised as LakeWriteError naming the table, `where`
    in it, the OS cause and the version the table was left at; any other error keeps its own type."""
    before = version(ref)
    try:
        yield
    except (OSError, DeltaError) as error:
        cause = OS_ERROR.search(str(error))
        if cause is None or isinstance(error, LakeWriteError):
            raise  # not the storage: a schema or programming error keeps its own type
        after = version(ref)
        committed = (
            f"nothing was committed (the table is still at version {before})"
            if after == before
            else f"version {after} was committed before the failure"
        )
        raise LakeWriteError(
            f"table {ref}{where}: the write failed: {cause.group(1).strip()}; {committed}; "
            "free space or make the lake writable, then run it again"
        ) from error


def upsert(ref: TableRef, frame: pl.DataFrame, key: str, metadata: Mapping[str, str] | None = None) -> int:
    """Insert or replace rows by `key` in one commit (carrying `metadata` in its commit info); returns the
    committed version. Columns the table does not have yet are added (earlier rows read them as null)."""
    data = frame.to_arrow()
    keys = ", ".join(_literal(key, value) for value in frame[key].unique().sort())
    create(ref, data.schema)
    return _replace(ref, lambda _: (data, f"{key} IN ({keys})"), "merge", metadata=metadata)


def history(ref: TableRef, after: int = -1) -> list[dict[str, Any]]:
    """The commit infos of the table's versions after `after`, oldest first (each with its `version`, `operation`
    and any custom metadata a writer attached)."""
    table = DeltaTable(ref.uri, storage_options=ref.options)
    newer = table.version() - after
    return sorted(table.history(newer) if newer > 0 else [], key=lambda commit: commit["version"])


def _replace(
    ref: TableRef,
    rows_for: Callable[[DeltaTable], tuple[pa.Table | pa.RecordBatchReader, str] | None],
    schema_mode: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> int | None:
    """One commit replacing the rows that match a predicate with new ones, both built by `rows_for(snapshot)`
    against the snapshot the commit follows. When another writer commits rows matching the predicate first, the
    commit is refused; it is rebuilt on the new snapshot and retried, backing off. Delta's put-if-absent commit
    is the only arbiter, on local disks and object stores alike. Returns the committed version (None when
    `rows_for` decides there is nothing to commit)."""
    deadline = time.monotonic() + CONTENDED_SECONDS
    for losses in itertools.count(1):
        table = DeltaTable(ref.uri, storage_options=ref.options)
        rows = rows_for(table)
        if rows is None:
            return None
        data, predicate = rows
        try:
            write_deltalake(
                table, data, mode="overwrite", predicate=predicate, schema_mode=schema_mode, **_commit(metadata)
            )
            return _landed(ref, table.version())
        except CommitFailedError:
            _back_off(losses, deadline, f"{ref}: commit")
    raise AssertionError("unreachable")


def _back_off(losses: int, deadline: float, what: str) -> None:
    """Sleep (exponential, jittered, at most 0.2 s) after losing a race to another writer; give up at `deadline`."""
    if time.monotonic() > deadline:
        raise CommitFailedError(f"{what} lost {losses} races to other writers in {CONTENDED_SECONDS:.0f} s")
    time.sleep(min(0.2, 0.005 * 2 ** min(losses, 6)) * random.uniform(0.5, 1.5))


def create(ref: TableRef, schema: pa.Schema, partition_by: list[str] | None = None) -> None:
    """Create an empty table with `schema` unless it exists. Creators racing leave one creation, version 0: a
    losing creation is never retried as a later version (which would be a commit no audit entry covers)."""
    if exists(ref):
        return
    try:
        DeltaTable.create(
            ref.uri,
            ref.doc.comment(schema) if ref.doc else schema,
            mode="error",
            partition_by=partition_by,
            description=ref.doc.description if ref.doc else None,
            storage_options=ref.options,
            configuration=ref.properties,
            commit_properties=CommitProperties(max_commit_retries=0),
        )
    except DeltaError:
        if not exists(ref):
            raise


def append_next(
    ref: TableRef,
    key: str,
    rows_after: Callable[[pl.DataFrame], pl.DataFrame],
    unless: Callable[[pl.LazyFrame], bool] | None = None,
) -> int | None:
    """Append `rows_after(head)` — rows computed from the row with the largest integer `key` (empty when none) —
    in one commit that is refused if another writer took the same keys first; then the head is re-read and the
    rows recomputed, so a hash chain never forks. With `unless`, nothing is appended when it holds on the
    snapshot the commit would follow (checked again after every lost race, so two writers never both append
    what only one may). Returns the committed version (None: nothing appended)."""

    def rows_for(table: DeltaTable) -> tuple[pa.Table, str] | None:
        if unless is not None and unless(pl.scan_delta(table)):
            return None
        rows = rows_after(_last_row(ref, table, key))
        keys = ", ".join(_literal(key, int(value)) for value in rows[key].unique().sort())
        return rows.to_arrow(), f"{key} IN ({keys})"

    with _storage_errors(ref):
        create(ref, rows_after(pl.DataFrame()).to_arrow().schema)
        return _replace(ref, rows_for)


def append(
    ref: TableRef, frame: pl.DataFrame, partition_by: list[str] | None = None, metadata: Mapping[str, str] | None = None
) -> int:
    """Append rows in one commit (blind appends never conflict; the first one creates the table, version 0),
    carrying `metadata` in its commit info; returns the committed version."""
    if not exists(ref):
        data = frame.to_arrow()
        write_deltalake(
            ref.uri,
            data.cast(ref.doc.comment(data.schema)) if ref.doc else data,
            mode="append",
            partition_by=partition_by,
            storage_options=ref.options,
            configuration=ref.properties,
            description=ref.doc.description if ref.doc else None,
            **_commit(metadata),
        )
        return _landed(ref, DeltaTable(ref.uri, storage_options=ref.options).version())
    table = DeltaTable(ref.uri, storage_options=ref.options)
    write_deltalake(table, frame.to_arrow(), mode="append", **_commit(metadata))
    return _landed(ref, table.version())


def _commit(metadata: Mapping[str, str] | None) -> dict[str, CommitProperties]:
    """write_deltalake's arguments for a commit carrying `metadata` and the tracked block's (none without)."""
    tracking = _TRACKED.get()
    merged = {**(tracking[0] if tracking else {}), **(metadata or {})}
    return {"commit_properties": CommitProperties(custom_metadata=merged)} if merged else {}


def overwrite(ref: TableRef, frame: pl.DataFrame | pl.LazyFrame, partition_by: list[str] | None = None) -> int:
    """Replace the whole table (rows and schema) in one commit; returns the committed version. A lazy frame is
    computed in batches as the writer takes them (it is never collected whole; the writer buffers open files)."""
    write_deltalake(
        ref.uri,
        _batches(frame) if isinstance(frame, pl.LazyFrame) else frame.to_arrow(),
        mode="overwrite",
        schema_mode="overwrite",
        partition_by=partition_by,
        storage_options=ref.options,
        configuration=None if exists(ref) else ref.properties,
        **_commit(None),
    )
    return _landed(ref, DeltaTable(ref.uri, storage_options=ref.options).version())


@contextmanager
def lake_lock(lake: Lake, name: str) -> Iterator[None]:
    """Serialize read-check-write sequences (a registry's rules) across processes: an OS file lock beside a local
    lake; on an object store, a lease row in the lake's lock table, taken by a conditional Delta commit."""
    if lake.is_remote:
        with _lease(lake.table(LOCK_TABLE), name):
            yield
        return
    lock_path = Path(lake.root) / ".locks" / name
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


LEASE_SCHEMA = {"name": pl.String(), "holder": pl.String(), "expires_at": pl.Datetime("us", "UTC")}


@contextmanager
def _lease(ref: TableRef, name: str) -> Iterator[None]:
    """Hold the lease `name`: one commit takes it, one gives it back. Two takers read the same free (or expired)
    row and both rewrite it; Delta lets only the first commit through, so exactly one holds it."""
    if not SAFE_VALUE.match(name):
        raise ValueError(f"unsafe lock name {name!r}")
    create(ref, pl.DataFrame(schema=LEASE_SCHEMA).to_arrow().schema)
    holder = uuid.uuid4().hex
    deadline = time.monotonic() + CONTENDED_SECONDS
    for waits in itertools.count(1):
        if _take(ref, name, holder):
            break
        _back_off(waits, deadline, f"{ref}: lock {name}")
    try:
        yield
    finally:
        _give_back(ref, name, holder)


def _take(ref: TableRef, name: str, holder: str) -> bool:
    table = DeltaTable(ref.uri, storage_options=ref.options)
    now = datetime.now(UTC)
    held = pl.scan_delta(table).filter(
        (pl.col("name") == name) & pl.col("holder").is_not_null() & (pl.col("expires_at") > now)
    )
    if held.collect().height:
        return False
    try:
        _write_lease(table, name, holder, now + timedelta(seconds=LEASE_SECONDS))
        return True
    except CommitFailedError:
        return False


def _give_back(ref: TableRef, name: str, holder: str) -> None:
    """Free the lease if it is still ours (a holder slower than LEASE_SECONDS may have lost it)."""
    table = DeltaTable(ref.uri, storage_options=ref.options)
    mine = pl.scan_delta(table).filter((pl.col("name") == name) & (pl.col("holder") == holder))
    if mine.collect().height:
        with suppress(CommitFailedError):
            _write_lease(table, name, None, None)


def _write_lease(table: DeltaTable, name: str, holder: str | None, expires_at: datetime | None) -> None:
    row = pl.DataFrame([{"name": name, "holder": holder, "expires_at": expires_at}], schema=LEASE_SCHEMA)
    write_deltalake(table, row.to_arrow(), mode="overwrite", predicate=f"name = '{name}'")
