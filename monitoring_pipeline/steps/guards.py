"""The guards stage: a day's contract-valid rows split into validated and quarantined predictions by the model's
guard rules, with every verdict kept; quarantine releases by people."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import polars as pl

from monitoring_pipeline.core.config import ModelSpec, ProjectConfig
from monitoring_pipeline.core.contract import ID
from monitoring_pipeline.core.errors import MissingInputError, MonitoringError
from monitoring_pipeline.core.guards.evaluate import GuardResult, evaluate
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.registry.audit_log import custody, record
from monitoring_pipeline.steps.log import DayLog, read_log


class ReleaseError(MonitoringError, ValueError):
    """A quarantine release that cannot be recorded as asked."""


@dataclass(frozen=True)
class DayGuards:
    result: GuardResult
    log: DayLog
    released: frozenset[str]
    stored: tuple[int, int]  # (validated, quarantined) rows of the day as counted in the Delta tables
    written: int  # Delta version of the verdicts commit


RELEASE_SCHEMA: dict[str, pl.DataType] = {
    ID: pl.String(),
    "model_name": pl.String(),
    "released_by": pl.String(),
    "reason": pl.String(),
    "released_at": pl.Datetime("us", "UTC"),
}


def released_ids(config: ProjectConfig, model: ModelSpec) -> frozenset[str]:
    releases = catalog.day_rows(config, catalog.QUARANTINE_RELEASES, model.name)
    return frozenset(releases.select(ID).collect()[ID].to_list()) if releases is not None else frozenset()


def release(
    config: ProjectConfig, model: ModelSpec, prediction_id: str, reason: str, by: str, now: datetime
) -> int | None:
    """Record that a quarantined prediction is a false positive; the next run of its day validates it. Returns
    the releases table's version, or None when it was released already (nothing new is recorded)."""
    if not reason.strip():
        raise ReleaseError("a release needs a reason")
    row = {ID: prediction_id, "model_name": model.name, "released_by": by, "reason": reason, "released_at": now}
    with custody(config, "quarantine"):  # checked under the lock: two releases at once record one
        if prediction_id in released_ids(config, model):
            return None
        held = catalog.day_rows(config, catalog.quarantine_table(model))
        if held is None or held.filter(pl.col(ID) == prediction_id).select(ID).collect().is_empty():
            table = catalog.table(config, catalog.quarantine_table(model))
            raise MissingInputError(
                f"prediction {prediction_id!r} is not in the quarantine of model {model.name} ({table})"
            )
        return record(
            config,
            catalog.QUARANTINE_RELEASES,
            row,
            RELEASE_SCHEMA,
            by=by,
            action="quarantine_release",
            subject=f"{model.name}/quarantine",
            payload={"prediction_id": prediction_id},
            now=now,
            reason=reason,
        )


def daily_guard_counts(
    config: ProjectConfig, model: ModelSpec, first: date | None = None, last: date | None = None
) -> pl.DataFrame:
    """Rows validated and quarantined per day (between `first` and `last` when given): day, validated,
    quarantined."""
    counts = pl.DataFrame(schema={"day": pl.Date})
    for name, label in (
        (catalog.validated_table(model), "validated"),
        (catalog.quarantine_table(model), "quarantined"),
    ):
        stored = catalog.day_rows(config, name)
        scan = stored if stored is not None else pl.LazyFrame(schema={"day": pl.Date})
        if first is not None and last is not None:
            scan = scan.filter(pl.col("day").is_between(first, last))
        counts = counts.join(
            scan.group_by("day").agg(pl.len().alias(label)).collect(), on="day", how="full", coalesce=True
        )
    return counts.with_columns(pl.col("validated", "quarantined").fill_null(0))


def guard_day(
    config: ProjectConfig, model: ModelSpec, day: date, now: datetime, log: DayLog | None = None
) -> DayGuards:
    """Run the model's guard rules on a day's contract-valid rows (`log`, the day under its contract, when the
    caller holds it; else read); replace that day's verdicts, validated and quarantined partitions. Input =
    validated + quarantined, always."""
    log = log if log is not None else read_log(config, model, [day], now)
    released = released_ids(config, model)
    result = evaluate(log.valid, model.guards.rules, released)
    lake = catalog.lake_of(config)
    on_day = pl.lit(day).alias("day")
    verdicts = result.verdicts.with_columns(pl.lit(model.name).alias("model_name"), on_day)
    written = delta.write_partition(
        lake.table(catalog.GUARD_VERDICTS), verdicts, {"model_name": model.name, "day": day}
    )
    for name, rows in (
        (catalog.validated_table(model), result.validated),
        (catalog.quarantine_table(model), result.quarantined),
    ):
        delta.write_partition(lake.table(name), rows.with_columns(on_day), {"day": day}, evolve_schema=True)
    stored = tuple(
        catalog.day_rows(config, name, days=day).select(pl.len()).collect().item()
        for name in (catalog.validated_table(model), catalog.quarantine_table(model))
    )  # counted from the tables as written (the reconcile check), not read back
    return DayGuards(result, log, released, stored, written)


def stored_day(config: ProjectConfig, name: str, day: date, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """One day of the model's validated or quarantined predictions (table `name`), as stored; of `columns` only
    (those the table has), when given."""
    rows = catalog.day_rows(config, name, days=day)
    if rows is None:
        raise MissingInputError(f"table {catalog.table(config, name)} does not exist; run the guards for {day} first")
    return delta.collected(rows.drop("day"), columns)
