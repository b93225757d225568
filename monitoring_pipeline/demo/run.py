"""Materialize every partition of every asset through Dagster, day by day as the nights pass (with the label
feed delivering each Monday and the label sensor answering it), then summarize the report tables."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import dagster as dg
import polars as pl

from monitoring_pipeline.core.alerts import RECOVERED
from monitoring_pipeline.core.config import ModelSpec, ProjectConfig
from monitoring_pipeline.core.drift.multivariate import RECONSTRUCTION_ERROR
from monitoring_pipeline.core.drift.registry import INPUT_ROLES
from monitoring_pipeline.definitions import build_definitions
from monitoring_pipeline.defs import runner
from monitoring_pipeline.defs.registry import REGISTRY_JOB
from monitoring_pipeline.defs.schedules import NIGHTLY_HOUR, nightly_schedule_name
from monitoring_pipeline.demo.generator import incident_active
from monitoring_pipeline.demo.lake import LABEL_DELIVERY_WEEKDAY, deliver_labels, staged_label_feed
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.config_file import load_config
from monitoring_pipeline.review.tickets import read_tickets
from monitoring_pipeline.steps.performance import performance_series


@dataclass
class ModelRun:
    """What one model's run reports back: a line for the log, and when each watched signal first fired."""

    model_name: str
    message: str = ""
    first_fired: dict[str, tuple[date, date]] = field(default_factory=dict)  # signal -> (day judged, known on)


def materialize_all(config_path: Path, lake_root: str | None, progress: Callable[[str], None]) -> list[ModelRun]:
    """Materialize every model's assets, one worker process per model (models are independent)."""
    model_names = list(load_config(config_path, lake_root).models)
    _create_instance_storage()
    workers = min(len(model_names), os.cpu_count() or 1)
    with ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn")
    ) as pool:  # Delta's runtime forbids fork
        futures = [pool.submit(materialize_model, config_path, lake_root, name, None, progress) for name in model_names]
        runs = []
        for future in as_completed(futures):
            runs.append(future.result())
            progress(runs[-1].message)
    observe_registry(config_path, lake_root)
    review_all(config_path, lake_root, progress)
    return runs


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
            for event in result.asset_events:  # the tickets, linked on the days that feed them
                instance.report_runless_asset_event(event)
            for run in result.run_requests:
                tags = {**run.tags, runner.SENSOR_TAG: sensor.name}
                runner.run_job(defs, sensor.job_name, run.partition_key, instance, tags)
            progress(f"{sensor.name}: {len(result.run_requests)} tickets opened or updated, dossiers built")


def observe_registry(config_path: Path, lake_root: str | None) -> None:
    """Record one observation of every registry table, so the UI shows the registry's state after the demo."""
    defs = build_definitions(str(config_path), lake_root)
    with dg.DagsterInstance.get() as instance:
        runner.run_job(defs, REGISTRY_JOB, None, instance)


def _create_instance_storage() -> None:
    """Create the SQLite storages of a new DAGSTER_HOME here, once: two workers creating them at the same moment
    collide ("table secondary_indexes already exists")."""
    with dg.DagsterInstance.get() as instance:
        instance.get_runs(limit=1)
        instance.get_asset_records()
        instance.all_instigator_state()


def materialize_model(
    config_path: Path,
    lake_root: str | None,
    model_name: str,
    instance: dg.DagsterInstance | None = None,
    progress: Callable[[str], None] | None = None,
) -> ModelRun:
    """`runner.run_range` over every day of the model, as the nights pass: when the lake has a staged label feed,
    each Monday morning delivers the week's labels and one tick of the label sensor re-materializes the days they
    label; each morning also notes which signals have fired so far."""
    started = time.perf_counter()
    defs = build_definitions(str(config_path), lake_root)
    config = defs.resources["project"].load()
    model = config.model(model_name)
    instance = instance or dg.DagsterInstance.get()
    resolved = runner.with_setup_jobs(defs, model)
    days = runner.days_between(model, None, None)
    feed = LabelFeed(resolved, model, instance) if staged_label_feed(config, model.name) else None
    run = ModelRun(model.name)

    def deliver(key: str) -> None:
        morning = date.fromisoformat(key) + timedelta(days=1)
        if feed and morning.weekday() == LABEL_DELIVERY_WEEKDAY:
            feed.deliver(config, datetime.combine(morning, clock(), UTC))

    def note_alarms(key: str) -> None:
        for signal, day in first_alarms(config, model).items():
            run.first_fired.setdefault(signal, (day, date.fromisoformat(key) + timedelta(days=1)))

    runner.run_range(
        resolved, model, instance, days, progress, deliver, note_alarms, scheduled(resolved, model, instance)
    )
    elapsed = time.perf_counter() - started
    run.message = f"{model.name}: {len(days)} daily partitions materialized in {elapsed:.0f} s"
    if feed:
        run.message += f", {feed.deliveries} label deliveries re-materialized {feed.rematerialized} partitions"
    return run


def scheduled(
    defs: dg.Definitions, model: ModelSpec, instance: dg.DagsterInstance
) -> Callable[[str], Mapping[str, str]]:
    """The tags of the run the model's nightly schedule requests for a day, at its tick the next morning, with
    the schedule's name as the daemon adds it (the UI shows the run launched by the schedule)."""
    schedule = defs.resolve_schedule_def(nightly_schedule_name(model))

    def tags(key: str) -> Mapping[str, str]:
        tick = datetime.combine(date.fromisoformat(key) + timedelta(days=1), clock(NIGHTLY_HOUR), UTC)
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
        request = next(r for r in schedule.evaluate_tick(context).run_requests if r.partition_key == key)
        return {**request.tags, runner.SCHEDULE_TAG: schedule.name}

    return tags


class LabelFeed:
    """The demo's weekly label deliveries, each answered by one tick of the model's label sensor."""

    def __init__(self, defs: dg.Definitions, model: ModelSpec, instance: dg.DagsterInstance) -> None:
        self.defs, self.model, self.instance = defs, model, instance
        self.sensor = defs.resolve_sensor_def(f"{model.name}_label_sensor")
        self.cursor: str | None = None
        self.cursor = self._tick().cursor  # the first tick only notes where the label table stands
        self.deliveries = self.rematerialized = 0

    def _tick(self) -> dg.SensorResult:
        context = dg.build_sensor_context(instance=self.instance, resources=self.defs.resources, cursor=self.cursor)
        return self.sensor(context)

    def deliver(self, config: ProjectConfig, until: datetime) -> None:
        if not deliver_labels(config, self.model.name, until):
            return
        result = self._tick()
        for event in result.asset_events:  # the delivery as the sensor saw it, on the label asset
            self.instance.report_runless_asset_event(event)
        for request in result.run_requests:
            tags = {**request.tags, runner.SENSOR_TAG: self.sensor.name}
            runner.run_job(self.defs, self.sensor.job_name, request.partition_key, self.instance, tags)
        self.cursor = result.cursor
        self.deliveries += 1
        self.rematerialized += len(result.run_requests)


WATCHED_COLUMNS = ("income", RECONSTRUCTION_ERROR, "score")  # the silent regression's inputs and the output


def first_alarms(config: ProjectConfig, model: ModelSpec) -> dict[str, date]:
    """The first day, after the baseline, on which each signal fired as the report tables stand now: drift of the
    watched columns, and the accuracy alarms (estimate below the band, realized outside it, CUSUM, estimate
    against realized)."""
    after = pl.col("day") > model.baseline.end
    report = (
        delta.scan(catalog.table(config, catalog.DRIFT_REPORT))
        .filter((pl.col("model_name") == model.name) & pl.col("decisive") & (pl.col("verdict") == "drift") & after)
        .filter(pl.col("column").is_in(WATCHED_COLUMNS))
        .group_by("column")
        .agg(pl.col("day").min())
        .collect()
    )
    found = {f"drift of {column}": day for column, day in report.iter_rows()}
    if model.performance is None:
        return found
    series = performance_series(config, model, model.start_date, date.max).filter(after)
    alarms = {
        "estimated accuracy (CBPE) below the band": pl.col("estimated") < pl.col("band_low"),
        "realized accuracy outside the band": pl.col("outside_band"),
        "CUSUM on realized accuracy": pl.col("cusum_alarm"),
        "estimate off the realized accuracy": pl.col("estimation_alarm"),
    }
    for name, alarm in alarms.items():
        days = series.filter(alarm.fill_null(False))["day"]
        if days.len():
            found[name] = days.min()
    return found


def first_fired_lines(runs: list[ModelRun]) -> list[str]:
    """When each watched signal first fired: the day it judged, and the morning it became known."""
    lines = []
    for run in runs:
        if not run.first_fired:
            continue
        lines.append(f"\n{run.model_name}: when each signal first fired (day judged, known on the morning of)")
        for signal, (day, known) in sorted(run.first_fired.items(), key=lambda item: item[1]):
            lines.append(f"  {signal:<44} {day}  known {known}")
    return lines


def ticket_lines(config: ProjectConfig) -> list[str]:
    """The tickets opened, and how many opened on a day without a scripted incident (the goal is zero)."""
    opened = read_tickets(config).sort("model_name", "first_day")
    lines = ["\nRetraining-review tickets (opened day .. last breach day):"]
    quiet = 0
    for t in opened.iter_rows(named=True):
        scripted = incident_active(t["model_name"], t["first_day"])
        quiet += not scripted
        recovered = f"recovered {t['recovered_on']}, " if t["state"] == RECOVERED else ""
        lines.append(
            f"  {t['ticket_id']:<46} {t['severity']:<8} {t['first_day']} .. {t['last_day']}  {t['status']}, "
            f"{recovered}{t['delivery_status']}{'' if scripted else '  (NO scripted incident that day)'}"
        )
    lines.append(f"Tickets opened on days with no scripted incident: {quiet}")
    return lines


def summary_lines(config: ProjectConfig) -> list[str]:
    """Per model and day: the drifted features, the drifted outputs and the rows held in quarantine."""
    lake = catalog.lake_of(config)
    report = delta.scan(lake.table(catalog.DRIFT_REPORT)).collect()
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
            delta.scan(lake.table(catalog.quarantine_table(config.model(model))))
            .group_by("day")
            .len()
            .collect()
            .iter_rows()
        )
        lines.append(f"\n{model}: drifted features | drifted outputs | rows quarantined")
        for row in days.filter(pl.col("model_name") == model).sort("day").iter_rows(named=True):
            features, outputs = row["features"] or [], row["outputs"] or []
            marker = "  " if not features and not outputs else "! "
            drifted = f"{', '.join(features) or '-'} | {', '.join(outputs) or '-'}"
            lines.append(f"{marker}{row['day']}  {drifted} | {held.get(row['day'], 0)}")
    return lines
