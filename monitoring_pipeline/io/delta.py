"""The one adapter for Delta tables: addressing, reads (with time travel) and atomic partition writes.

Every table is a URI plus storage options — a local path today, `s3://bucket/prefix/...` tomorrow. A partition
write is one Delta commit that replaces exactly the rows matching the partition predicate (overwrite by
predicate), so re-running a partition replaces it and a crash before the commit leaves the table untouched.
"""

from __future__ import annotations

import fcntl
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import polars as pl
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError

SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.:\-]+$")
REMOTE_SCHEMES = ("s3://", "s3a://", "gs://", "az://", "abfss://")
COMMIT_RETRIES = 8


class LakePathError(ValueError):
    """A table path escapes the lake root or uses a scheme the lake does not allow."""


@dataclass(frozen=True)
class TableRef:
    uri: str
    storage_options: Mapping[str, str] = field(default_factory=dict)

    @property
    def options(self) -> dict[str, str] | None:
        return dict(self.storage_options) or None

    def __str__(self) -> str:
        return self.uri


@dataclass(frozen=True)
class Lake:
    """A lake root (local directory or object-store prefix) that resolves relative table names safely."""

    root: str
    storage_options: Mapping[str, str] = field(default_factory=dict)

    def table(self, name: str) -> TableRef:
        if "://" in name or name.startswith("/") or ".." in Path(name).parts or not name.strip("/"):
            raise LakePathError(f"table name {name!r} must be a relative path inside the lake root {self.root}")
        if self.root.startswith(REMOTE_SCHEMES):
            return TableRef(f"{self.root.rstrip('/')}/{name.strip('/')}", self.storage_options)
        if "://" in self.root:
            raise LakePathError(f"lake root {self.root!r} uses an unsupported scheme; use a path or {REMOTE_SCHEMES}")
        return TableRef(str(Path(self.root).resolve() / name), self.storage_options)


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


def last_row(ref: TableRef, column: str) -> pl.DataFrame:
    """The row with the largest `column` (empty if none), reading only the data file whose Delta statistics hold
    that maximum — an append-only log's head costs one small read however long the log grows."""
    actions = pl.DataFrame(DeltaTable(ref.uri, storage_options=ref.options).get_add_actions(flatten=True))
    stat = f"max.{column}"
    if actions.is_empty() or stat not in actions.columns or actions[stat].null_count():
        return scan(ref).sort(column, descending=True).head(1).collect()  # no statistics: read everything
    path = actions.sort(stat)["path"][-1]
    uri = f"{ref.uri.rstrip('/')}/{path}" if "://" in ref.uri else str(Path(ref.uri) / path)
    rows = pl.read_parquet(uri, storage_options=ref.options)
    return rows.sort(column, descending=True).head(1)


def compact(ref: TableRef) -> None:
    """Rewrite small files into large ones (same rows, one commit), so reads open few files."""
    DeltaTable(ref.uri, storage_options=ref.options).optimize.compact()


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
    parts = []
    for column, value in partition.items():
        text = value.isoformat() if isinstance(value, date) else str(value)
        if not SAFE_VALUE.match(column) or not SAFE_VALUE.match(text):
            raise ValueError(f"unsafe partition value {column}={text!r}")
        parts.append(f"{column} = '{text}'")
    return " AND ".join(parts)


def write_partition(
    ref: TableRef, frame: pl.DataFrame, partition: Mapping[str, object], evolve_schema: bool = False
) -> int:
    """Atomically replace the rows of one partition (e.g. {"model_name": m, "day": d}) with `frame`.

    `frame` must carry the partition columns with exactly those values. Concurrent writers to other partitions
    are retried (the write is idempotent); returns the committed table version. With `evolve_schema`, new
    columns are added to the table (older partitions read them as null) and missing ones are written as null —
    for tables whose columns follow a log or a rule set; report tables keep their schema strictly.
    """
    for column, value in partition.items():
        outside = frame.filter(pl.col(column) != value).height if frame.height else 0
        if outside:
            raise ValueError(f"{ref}: {outside} rows fall outside the partition {column}={value!r}")
    predicate = _predicate(partition)
    data = frame.to_arrow()
    partition_by = list(partition)
    for attempt in range(COMMIT_RETRIES):
        try:
            if exists(ref):
                write_deltalake(
                    ref.uri,
                    data,
                    mode="overwrite",
                    predicate=predicate,
                    schema_mode="merge" if evolve_schema else None,
                    partition_by=partition_by,
                    storage_options=ref.options,
                )
            else:
                write_deltalake(ref.uri, data, mode="append", partition_by=partition_by, storage_options=ref.options)
            return DeltaTable(ref.uri, storage_options=ref.options).version()
        except CommitFailedError:
            if attempt == COMMIT_RETRIES - 1:
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


def upsert(ref: TableRef, frame: pl.DataFrame, key: str) -> int:
    """Insert or replace rows by `key` in one Delta MERGE commit (retried when another writer commits first);
    returns the committed version."""
    if not SAFE_VALUE.match(key):
        raise ValueError(f"unsafe key column {key!r}")
    for attempt in range(COMMIT_RETRIES):
        try:
            if not exists(ref):
                return append(ref, frame)
            (
                DeltaTable(ref.uri, storage_options=ref.options)
                .merge(frame.to_arrow(), predicate=f"t.{key} = s.{key}", source_alias="s", target_alias="t")
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute()
            )
            return DeltaTable(ref.uri, storage_options=ref.options).version()
        except CommitFailedError:
            if attempt == COMMIT_RETRIES - 1:
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


def append(ref: TableRef, frame: pl.DataFrame, partition_by: list[str] | None = None) -> int:
    """Append rows in one commit (blind appends never conflict); returns the committed version."""
    write_deltalake(ref.uri, frame.to_arrow(), mode="append", partition_by=partition_by, storage_options=ref.options)
    return DeltaTable(ref.uri, storage_options=ref.options).version()


def overwrite(ref: TableRef, frame: pl.DataFrame, partition_by: list[str] | None = None) -> int:
    """Replace the whole table (rows and schema) in one commit; returns the committed version."""
    write_deltalake(
        ref.uri,
        frame.to_arrow(),
        mode="overwrite",
        schema_mode="overwrite",
        partition_by=partition_by,
        storage_options=ref.options,
    )
    return DeltaTable(ref.uri, storage_options=ref.options).version()


@contextmanager
def lake_lock(lake: Lake, name: str) -> Iterator[None]:
    """Serialize read-check-append sequences (the audit chain's head, a registry's rules) with an OS file lock
    beside a local lake. Object-store lakes have no lock yet: one writer at a time there."""
    if "://" in lake.root:
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
