"""The prediction_log stage: read days of a model's log under its contract (a dropped input feature reads as
null) and set the rejected rows aside in `reports/log_rejects`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import polars as pl

from monitoring_pipeline.core.config import ModelSpec, ProjectConfig
from monitoring_pipeline.core.contract import ID, TS, check_schema, missing_features, split_rows
from monitoring_pipeline.core.errors import MissingTableError
from monitoring_pipeline.io import catalog, delta, storage
from monitoring_pipeline.io.delta import TableRef

REPEAT_LOOKBACK_DAYS = 35  # how far back a prediction id logged again is recognised as a repeat


@dataclass(frozen=True)
class DayLog:
    valid: pl.DataFrame  # contract-valid rows
    rejects: pl.DataFrame
    n_read: int
    log_version: int
    written: int | None = None  # Delta version of the rejects commit (check_log_day)
    missing: tuple[str, ...] = ()  # input features the log no longer has, read as null


def read_log(config: ProjectConfig, model: ModelSpec, days: list[date], now: datetime) -> DayLog:
    """Read the log rows of `days` at the table's current version (their data files checked first) and enforce
    the contract; a dropped input feature is read as null and listed in `missing`."""
    table = catalog.log_table(config, model)
    log_version = delta.version(table)
    if log_version is None:
        raise MissingTableError(f"prediction log table {table} of model {model.name} does not exist")
    scan = delta.scan(table, log_version)
    schema = scan.collect_schema()
    missing = missing_features(schema, model)
    check_schema(pl.Schema({**schema, **missing}), model, str(table), scan)
    rows = storage.read_days(table, days, TS, log_version)
    earlier = logged_before(table, log_version, model, min(days), rows[ID])
    filled = rows.with_columns(pl.lit(None, t).alias(c) for c, t in missing.items())
    split = split_rows(filled, model, now, earlier)
    return DayLog(split.valid, split.rejects, split.n_read, log_version, missing=tuple(missing))


def logged_before(table: TableRef, version: int, model: ModelSpec, first: date, ids: pl.Series) -> pl.Series:
    """Which of `ids` the log already holds on one of the `REPEAT_LOOKBACK_DAYS` days before `first` (from the
    model's start): a row logged again later is counted once. Reads the id column only, and within the ids'
    range, so the Delta statistics of time-ordered ids prune the other files."""
    since = max(first - timedelta(days=REPEAT_LOOKBACK_DAYS), model.start_date)
    if since >= first or ids.is_empty():
        return pl.Series(ID, [], pl.String)
    wanted = ids.drop_nulls().cast(pl.String)
    earlier = delta.scan_days(table, [since + timedelta(days=i) for i in range((first - since).days)], TS, version)
    return (
        earlier.select(pl.col(ID).cast(pl.String))
        .filter(pl.col(ID).is_between(pl.lit(wanted.min()), pl.lit(wanted.max())) & pl.col(ID).is_in(wanted.implode()))
        .unique()
        .collect()[ID]
    )


def check_log_day(config: ProjectConfig, model: ModelSpec, day: date, now: datetime) -> DayLog:
    """Enforce the contract on one day and replace that day's rejects partition."""
    log = read_log(config, model, [day], now)
    rejects = log.rejects.with_columns(pl.lit(model.name).alias("model_name"), pl.lit(day).alias("day"))
    written = delta.write_partition(
        catalog.table(config, catalog.LOG_REJECTS), rejects, {"model_name": model.name, "day": day}
    )
    return replace(log, written=written)
