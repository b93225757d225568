"""Monitor a range of one model's days through Dagster, in this process: what `monitoring-pipeline run` and the demo
do. Every run is recorded in the instance the UI reads."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl

from monitoring_pipeline.core.config import ModelSpec, ProjectConfig
from monitoring_pipeline.core.contract import MODEL, TS
from monitoring_pipeline.core.errors import MissingInputError
from monitoring_pipeline.definitions import build_definitions
from monitoring_pipeline.defs.assets import model_asset_keys
from monitoring_pipeline.defs.partitions import daily_partitions
from monitoring_pipeline.defs.schedules import nightly_job_name
from monitoring_pipeline.io import catalog, delta

PARTITION_TAG = "dagster/partition"
SCHEDULE_TAG, SENSOR_TAG = "dagster/schedule_name", "dagster/sensor_name"  # who launched a run, as the UI reads it
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}  # a failure is raised, in one line
PROGRESS_EVERY = 10  # days between progress lines


def run_job(
    defs: dg.Definitions,
    job_name: str,
    partition_key: str | None,
    instance: dg.DagsterInstance,
    tags: Mapping[str, str] | None = None,
) -> None:
    """One run of `job_name` (for `partition_key`), in this process, with `tags` (who launched it: a schedule's or
    a sensor's name, as the daemon tags the runs it launches); a failed run raises."""
    result = defs.resolve_job_def(job_name).execute_in_process(
        partition_key=partition_key, instance=instance, run_config=QUIET_LOGS, raise_on_error=True, tags=tags
    )
    if not result.success:
        raise RuntimeError(f"run of {job_name} for partition {partition_key} failed")


def with_setup_jobs(defs: dg.Definitions, model: ModelSpec) -> dg.Definitions:
    """`defs` plus the two jobs a range needs before its nights: the model's bins, and its profiles alone."""
    keys = model_asset_keys(model.name)
    bins = dg.AssetSelection.assets(keys["reference_bins"])
    setup = [
        dg.define_asset_job(f"{model.name}_bins", selection=bins),
        dg.define_asset_job(
            f"{model.name}_profiles",
            selection=dg.AssetSelection.groups(model.name) - bins - dg.AssetSelection.assets(keys["drift_report"]),
        ),
    ]
    return dg.Definitions.merge(defs, dg.Definitions(jobs=setup))


def days_between(model: ModelSpec, first: date | None, last: date | None) -> list[str]:
    """The model's daily partition keys from `first` to `last` (both included; open ends: every day)."""
    return [
        key
        for key in daily_partitions(model).get_partition_keys()
        if (first is None or date.fromisoformat(key) >= first) and (last is None or date.fromisoformat(key) <= last)
    ]


def run_range(
    defs: dg.Definitions,
    model: ModelSpec,
    instance: dg.DagsterInstance,
    days: list[str],
    progress: Callable[[str], None] | None = None,
    before_night: Callable[[str], None] | None = None,
    after_night: Callable[[str], None] | None = None,
    night_tags: Callable[[str], Mapping[str, str]] | None = None,
    resume: bool = False,
) -> None:
    """Freeze the bins, profile a fixed reference window's days (with `resume`, those not profiled yet), then run
    the nightly job for each of `days` in order (tagged `night_tags(day)`). Every reference window looks back in
    time, except a fixed window judging its own days: profiling its days first makes every window complete,
    whatever its kind. `defs` must hold `with_setup_jobs`."""
    run_job(defs, f"{model.name}_bins", None, instance)
    profiled = succeeded(instance, f"{model.name}_profiles") if resume else set()
    for day in model.reference.span() if model.reference.kind == "fixed" else []:
        if day.isoformat() not in profiled:
            run_job(defs, f"{model.name}_profiles", day.isoformat(), instance)
    for done, key in enumerate(days, start=1):
        if before_night:
            before_night(key)
        run_job(defs, nightly_job_name(model), key, instance, night_tags(key) if night_tags else None)
        if after_night:
            after_night(key)
        if progress and done % PROGRESS_EVERY == 0 and done < len(days):
            progress(f"{model.name}: {done} of {len(days)} days materialized")


def succeeded(instance: dg.DagsterInstance, job_name: str) -> set[str]:
    """The partitions a run of `job_name` succeeded for in `instance`."""
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=job_name, statuses=[dg.DagsterRunStatus.SUCCESS]))
    return {run.tags[PARTITION_TAG] for run in runs if PARTITION_TAG in run.tags}


def last_logged_day(config: ProjectConfig, model: ModelSpec) -> date | None:
    """The UTC day of the model's latest logged prediction (None: none logged): where an open range ends."""
    log = delta.scan(catalog.log_table(config, model)).filter(pl.col(MODEL) == model.name)
    latest = log.select(pl.col(TS).max()).collect().item()
    return latest.date() if latest is not None else None


def run_model(
    config_path: Path,
    lake_root: str | None,
    model_name: str,
    first: date | None,
    last: date | None,
    progress: Callable[[str], None],
    resume: bool = False,
) -> int:
    """`run_range` over `first`..`last` of one model of the config at `config_path` (open ends: the model's first
    day, the log's last; with `resume`, only the days without a successful nightly run yet); the days run."""
    defs = build_definitions(str(config_path), lake_root)
    config = defs.resources["project"].load()
    model = config.model(model_name)
    if last is None and (last := last_logged_day(config, model)) is None:
        raise MissingInputError(f"log table {catalog.log_table(config, model)} holds no rows of model {model.name}")
    days = days_between(model, first, last)
    with dg.DagsterInstance.get() as instance:
        if resume:
            done = succeeded(instance, nightly_job_name(model))
            if skipped := sum(day in done for day in days):
                progress(f"{model.name}: {skipped} of {len(days)} days already ran; resuming with the rest")
            days = [day for day in days if day not in done]
        run_range(with_setup_jobs(defs, model), model, instance, days, progress, resume=resume)
    return len(days)
