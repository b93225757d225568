"""A small lake for the fault tests: the shipped config cut to one model, five days of its log, every step run."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import yaml

from monitoring_pipeline.core.config import ModelSpec, ProjectConfig, ReferenceWindow, parse_config
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.config_file import DEFAULT_CONFIG
from monitoring_pipeline.io.delta import TableRef
from monitoring_pipeline.steps.bins import freeze_model_bins
from monitoring_pipeline.steps.drift import drift_day
from monitoring_pipeline.steps.guards import guard_day
from monitoring_pipeline.steps.log import check_log_day
from monitoring_pipeline.steps.profiles import profile_day

DAYS = [date(2026, 9, 1) + timedelta(days=i) for i in range(5)]
JUDGED = DAYS[4]
NOW = datetime(2026, 10, 1, tzinfo=UTC)
REPORTS = (catalog.LOG_REJECTS, catalog.FEATURE_PROFILES, catalog.OUTPUT_PROFILES, catalog.DRIFT_REPORT)


def config_for(root: Path, name: str = "credit_risk") -> ProjectConfig:
    """The shipped config with only model `name`, its lake at `root`."""
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["lake"]["root"] = str(root)
    raw["models"] = {name: raw["models"][name]}
    return parse_config(raw)


def model_for(config: ProjectConfig, name: str = "credit_risk") -> ModelSpec:
    """Model `name` living from DAYS[0], its first four days the baseline and the reference."""
    window = ReferenceWindow("fixed", DAYS[0], DAYS[3])
    return replace(config.model(name), start_date=DAYS[0], baseline=window, reference=window)


def write_log(config: ProjectConfig, model: ModelSpec, log: pl.DataFrame) -> TableRef:
    """The log as producers write it: one partition per UTC event date."""
    table = catalog.log_table(config, model)
    delta.overwrite(table, log.with_columns(pl.col("event_ts").dt.date().alias("event_date")), ["event_date"])
    return table


def run_days(config: ProjectConfig, model: ModelSpec, days: list[date]) -> None:
    """Contract, guards and profiles of each day (the bins frozen first), then the drift of JUDGED."""
    freeze_model_bins(config, model, NOW)
    for day in days:
        check_log_day(config, model, day, NOW)
        guard_day(config, model, day, NOW)
        profile_day(config, model, day)
    if JUDGED in days:
        drift_day(config, model, JUDGED)


def table_names(model: ModelSpec) -> tuple[str, ...]:
    return (*REPORTS, catalog.validated_table(model), catalog.quarantine_table(model))


def day_rows(config: ProjectConfig, name: str, day: date) -> pl.DataFrame:
    """Every stored row of `day` in table `name`, in a stable order."""
    rows = delta.scan(catalog.table(config, name)).filter(pl.col("day") == day).collect()
    return rows.sort(rows.columns[: min(6, len(rows.columns))], nulls_last=True)


def versions(config: ProjectConfig, names: tuple[str, ...]) -> dict[str, int | None]:
    return {name: delta.version(catalog.table(config, name)) for name in names}
