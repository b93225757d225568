"""Materialize every partition of every asset through Dagster, then summarize the drift report table."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import dagster as dg
import polars as pl

from monitoring_pipeline.core.config import ProjectConfig
from monitoring_pipeline.core.drift.registry import INPUT_ROLES
from monitoring_pipeline.definitions import build_definitions
from monitoring_pipeline.defs.assets import model_asset_keys
from monitoring_pipeline.defs.partitions import daily_partitions
from monitoring_pipeline.defs.registry import REGISTRY_JOB
from monitoring_pipeline.defs.schedules import nightly_job_name
from monitoring_pipeline.demo.generator import incident_active
from monitoring_pipeline.io import delta
from monitoring_pipeline.io.config_file import load_config
from monitoring_pipeline.registry.audit_log import lake_of
from monitoring_pipeline.registry.tickets import read_tickets
from monitoring_pipeline.steps import DRIFT_REPORT, quarantine_table

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def materialize_all(config_path: Path, lake_root: str | None, progress: Callable[[str], None]) -> None:
    """Materialize every model's assets, one worker process per model (models are independent)."""
    model_names = list(load_config(config_path, lake_root).models)
    _create_instance_storage()
    workers = min(len(model_names), os.cpu_count() or 1)
    with ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn")
    ) as pool:  # Delta's runtime forbids fork
        futures = [pool.submit(materialize_model, config_path, lake_root, name) for name in model_names]
        for future in as_completed(futures):
            progress(future.result())
    observe_registry(config_path, lake_root)
    review_all(config_path, lake_root, progress)


def review_all(config_path: Path, lake_root: str | None, progress: Callable[[str], None]) -> None:
    """One tick of every model's review sensor over everything materialized (what the daemon does after each
    nightly run), then the dossier runs it requests."""
    defs = build_definitions(str(config_path), lake_root)
    with dg.DagsterInstance.get() as instance:
        for sensor in (s for s in defs.sensors if s.name.endswith("_review_sensor")):
            context = dg.build_sensor_context(instance=instance, resources=defs.resources, cursor=None)
            result = sensor(context)
            for request in result.dynamic_partitions_requests:
                instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
            for run in result.run_requests:
                _run(defs, sensor.job_name, run.partition_key, instance)
            progress(f"{sensor.name}: {len(result.run_requests)} tickets opened or updated, dossiers built")


def observe_registry(config_path: Path, lake_root: str | None) -> None:
    """Record one observation of every registry table, so the UI shows the registry's state after the demo."""
    defs = build_definitions(str(config_path), lake_root)
    with dg.DagsterInstance.get() as instance:
        _run(defs, REGISTRY_JOB, None, instance)


def _create_instance_storage() -> None:
    """Create the SQLite storages of a new DAGSTER_HOME here, once: two workers creating them at the same moment
    collide ("table secondary_indexes already exists")."""
    with dg.DagsterInstance.get() as instance:
        instance.get_runs(limit=1)
        instance.get_asset_records()
        instance.all_instigator_state()


def materialize_model(
    config_path: Path, lake_root: str | None, model_name: str, instance: dg.DagsterInstance | None = None
) -> str:
    """Freeze bins, profile a fixed reference window's days, then run the nightly job for every day in order.

    Every reference window looks back in time, except a fixed window judging its own days: profiling its days
    first makes every window complete, whatever its kind.
    """
    started = time.perf_counter()
    defs = build_definitions(str(config_path), lake_root)
    model = defs.resources["project"].load().model(model_name)
    instance = instance or dg.DagsterInstance.get()
    keys = model_asset_keys(model.name)
    setup_jobs = [
        dg.define_asset_job(f"{model.name}_demo_bins", selection=dg.AssetSelection.assets(keys["reference_bins"])),
        dg.define_asset_job(
            f"{model.name}_demo_profiles",
            selection=dg.AssetSelection.groups(model.name)
            - dg.AssetSelection.assets(keys["reference_bins"], keys["drift_report"]),
        ),
    ]
    resolved = dg.Definitions.merge(defs, dg.Definitions(jobs=setup_jobs))
    _run(resolved, f"{model.name}_demo_bins", None, instance)
    for day in model.reference.span() if model.reference.kind == "fixed" else []:
        _run(resolved, f"{model.name}_demo_profiles", day.isoformat(), instance)
    partitions = daily_partitions(model).get_partition_keys()
    for key in partitions:
        _run(resolved, nightly_job_name(model), key, instance)
    return f"{model.name}: {len(partitions)} daily partitions materialized in {time.perf_counter() - started:.0f} s"


def _run(defs: dg.Definitions, job_name: str, partition_key: str | None, instance: dg.DagsterInstance) -> None:
    result = defs.resolve_job_def(job_name).execute_in_process(
        partition_key=partition_key, instance=instance, run_config=QUIET_LOGS, raise_on_error=True
    )
    if not result.success:
        raise RuntimeError(f"run of {job_name} for partition {partition_key} failed")


def ticket_lines(config: ProjectConfig) -> list[str]:
    """The tickets opened, and how many opened on a day without a scripted incident (the goal is zero)."""
    opened = read_tickets(config).sort("model_name", "first_day")
    lines = ["\nRetraining-review tickets (opened day .. last breach day):"]
    quiet = 0
    for t in opened.iter_rows(named=True):
        scripted = incident_active(t["model_name"], t["first_day"])
        quiet += not scripted
        lines.append(
            f"  {t['ticket_id']:<46} {t['severity']:<8} {t['first_day']} .. {t['last_day']}  {t['status']}, "
            f"{t['delivery_status']}{'' if scripted else '  (NO scripted incident that day)'}"
        )
    lines.append(f"Tickets opened on days with no scripted incident: {quiet}")
    return lines


def summary_lines(config: ProjectConfig) -> list[str]:
    """Per model and day: the drifted features, the drifted outputs and the rows held in quarantine."""
    lake = lake_of(config)
    report = delta.scan(lake.table(DRIFT_REPORT)).collect()
    per_day = (
        report.filter(pl.col("verdict") == "drift")
        .select("model_name", "day", "column", "role")
        .unique()
        .group_by("model_name", "day")
        .agg(
            pl.col("column").filter(pl.col("role").is_in(INPUT_ROLES)).sort().alias("features"),
            pl.col("column").filter(~pl.col("role").is_in(INPUT_ROLES)).sort().alias("outputs"),
        )
    )
    days = report.select("model_name", "day").unique().join(per_day, on=["model_name", "day"], how="left")
    lines = []
    for model in sorted(config.models):
        held = dict(
            delta.scan(lake.table(quarantine_table(config.model(model)))).group_by("day").len().collect().iter_rows()
        )
        lines.append(f"\n{model}: drifted features | drifted outputs | rows quarantined")
        for row in days.filter(pl.col("model_name") == model).sort("day").iter_rows(named=True):
            features, outputs = row["features"] or [], row["outputs"] or []
            marker = "  " if not features and not outputs else "! "
            drifted = f"{', '.join(features) or '-'} | {', '.join(outputs) or '-'}"
            lines.append(f"{marker}{row['day']}  {drifted} | {held.get(row['day'], 0)}")
    return lines
