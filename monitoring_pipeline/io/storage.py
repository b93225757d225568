"""Storage faults made legible on read: the data files behind some days of a Delta table are checked before they
are read.

A file the Delta log references but the store lacks, or whose size differs from the size the log recorded
(truncated, overwritten), stops the read with a `DataFileError` naming the table, the days and the file — never
a silent skip, and never a Parquet reader crashing on a short file (Polars panics on one). A file that keeps its
size but whose bytes are garbled fails in the reader; that error is caught and the culprit named the same way.
Size checks need a local lake; on an object store only the reader's errors are translated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import unquote

import polars as pl
import pyarrow.parquet as pq
from deltalake import DeltaTable

from monitoring_pipeline.core.errors import MonitoringError
from monitoring_pipeline.io import delta
from monitoring_pipeline.io.delta import TableRef

MISSING_HINT = "restore it from a backup, or drop it from the table with DeltaTable.repair() (its rows are lost)"
CORRUPT_HINT = "restore it from a backup, or delete it and run DeltaTable.repair() (its rows are lost)"


@dataclass(frozen=True)
class DataFile:
    path: str  # as the Delta log records it, relative to the table root
    size: int
    partition: str  # "event_date=2026-09-02", "" when the table is not partitioned


class DataFileError(MonitoringError, OSError):
    """A data file a read needs is missing, truncated or unreadable."""

    def __init__(
        self, table: TableRef, days: list[date], file: DataFile | None, problem: str, version: int | None = None
    ) -> None:
        self.table, self.days, self.file, self.problem = str(table), days, file, problem
        where = f"day {', '.join(d.isoformat() for d in days)}" if days else f"version {version}"
        subject = "its data"
        if file is not None:
            subject = f"data file {file.path}" + (f" (partition {file.partition})" if file.partition else "")
        super().__init__(f"table {table}, {where}: {subject} {problem}")


def day_files(ref: TableRef, days: list[date], ts_column: str, at_version: int | None) -> list[DataFile]:
    """The files whose `ts_column` statistics overlap one of `days` (UTC), as a day's read would open them; a
    file without statistics may hold any day."""
    table = DeltaTable(ref.uri, version=at_version, storage_options=ref.options)
    actions = pl.DataFrame(table.get_add_actions(flatten=True))
    if actions.is_empty():
        return []
    low, high = f"min.{ts_column}", f"max.{ts_column}"
    overlaps = pl.lit(False)
    for day in days:
        start, end = delta.day_bounds(day)
        overlaps = overlaps | ((pl.col(low) < end) & (pl.col(high) >= start))
    if low in actions.columns and high in actions.columns:
        actions = actions.filter(overlaps | pl.col(low).is_null() | pl.col(high).is_null())
    return _data_files(table, actions)


def _data_files(table: DeltaTable, actions: pl.DataFrame) -> list[DataFile]:
    partition_columns = table.metadata().partition_columns
    return [
        DataFile(row["path"], row["size_bytes"], "/".join(f"{c}={row[f'partition.{c}']}" for c in partition_columns))
        for row in actions.iter_rows(named=True)
    ]


def _local_path(ref: TableRef, file: DataFile) -> Path | None:
    if "://" in ref.uri or "://" in file.path:
        return None
    path = Path(unquote(file.path))
    return path if path.is_absolute() else Path(ref.uri) / path


def check_files(ref: TableRef, days: list[date], files: list[DataFile], version: int | None = None) -> None:
    """Raise DataFileError for the first file that is missing or not the size the Delta log recorded."""
    for file in files:
        path = _local_path(ref, file)
        if path is None:
            continue
        if not path.is_file():
            problem = f"is missing (the Delta log references it); {MISSING_HINT}"
            raise DataFileError(ref, days, file, problem, version)
        size = path.stat().st_size
        if size != file.size:
            problem = f"is corrupt: {size} bytes on disk, {file.size} in the Delta log; {CORRUPT_HINT}"
            raise DataFileError(ref, days, file, problem, version)


def check_table(ref: TableRef) -> None:
    """Raise DataFileError, naming the table's version and the file, when a data file of its current version is
    missing or not the size its commit recorded — before a reader panics on it. A file stat each, no reads."""
    table = DeltaTable(ref.uri, storage_options=ref.options)
    actions = pl.DataFrame(table.get_add_actions(flatten=True))
    if actions.is_empty():
        return
    check_files(ref, [], _data_files(table, actions), table.version())


def _unreadable(ref: TableRef, files: list[DataFile]) -> tuple[DataFile, str] | None:
    """The first local file that does not read as Parquet, with the reader's complaint."""
    for file in files:
        path = _local_path(ref, file)
        try:
            if path is not None:
                pq.read_table(path)
        except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
            return file, str(error)
    return None


def read_days(
    ref: TableRef, days: list[date], ts_column: str, at_version: int | None, columns: Sequence[str] | None = None
) -> pl.DataFrame:
    """The rows of `days` (UTC) at `at_version` (None: the latest), after checking the files they live in; of
    `columns` only (those the table has), when given."""
    files = day_files(ref, days, ts_column, at_version)
    check_files(ref, days, files)
    try:
        return delta.collected(delta.scan_days(ref, days, ts_column, at_version), columns)
    except (pl.exceptions.ComputeError, OSError) as error:
        culprit = _unreadable(ref, files)
        if culprit is None:
            raise DataFileError(
                ref, days, None, f"cannot be read ({error}); files: {[f.path for f in files]}"
            ) from error
        file, complaint = culprit
        raise DataFileError(ref, days, file, f"is corrupt ({complaint}); {CORRUPT_HINT}") from error
