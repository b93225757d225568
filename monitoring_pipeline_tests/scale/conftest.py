"""Small one-model lakes for the scale tests, run in-process the way a sequential run would, and the report rows of
a day, to compare runs made elsewhere (queued runs, Dask workers) with it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import yaml

from monitoring_pipeline.core.config import ProjectConfig
from monitoring_pipeline.definitions import build_definitions
from monitoring_pipeline.defs.assets import model_asset_keys
from monitoring_pipeline.defs.runner import QUIET_LOGS
from monitoring_pipeline.demo.lake import build_demo_lake
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.config_file import load_config
from monitoring_pipeline_tests.conftest import write_short_config

MODEL = "support_summarizer"  # no labels: a day's reports depend only on its own log and the reference window
NIGHTLY = f"{MODEL}_nightly"
SCALE = 0.05  # 40 rows per weekday: the tests watch how runs are spread, not the statistics
REPORT_KEYS = {  # each report table of a model's day, and what identifies one of its rows
    catalog.DRIFT_REPORT: ["column", "method"],
    catalog.DRIFT_VERDICTS: ["column"],
    catalog.FEATURE_PROFILES: ["model_version", "role", "column"],
    catalog.OUTPUT_PROFILES: ["model_version", "role", "column"],
    catalog.EXPECTATION_RESULTS: ["checked_table", "expectation", "column"],
    catalog.GUARD_VERDICTS: ["prediction_id", "rule_id", "reason"],
}


def one_model_lake(folder: Path, start: date, days: int, baseline_days: int) -> Path:
    """A demo lake of `days` days from `start`, and the path of a config that monitors MODEL alone. Its blocked-share
    limit is opened: a 40-row day trips a 5% limit by chance, and the guard policy is not what these tests watch."""
    path = write_short_config(folder, start, days, baseline_days)
    build_demo_lake(load_config(path), scale=SCALE, progress=lambda _: None, label_feed=False)
    raw = yaml.safe_load(path.read_text())
    raw["models"] = {MODEL: raw["models"][MODEL]}
    raw["models"][MODEL]["guards"]["max_blocked_share"] = 1.0
    path.write_text(yaml.safe_dump(raw))
    return path


def materialize(config_path: Path, selection: dg.AssetSelection, partition: str | None = None) -> None:
    """One in-process run of `selection` (an ephemeral instance, the default executor's in-process mode)."""
    job = dg.define_asset_job("scale_in_process", selection=selection)
    defs = dg.Definitions.merge(build_definitions(str(config_path)), dg.Definitions(jobs=[job]))
    defs.resolve_job_def(job.name).execute_in_process(partition_key=partition, run_config=QUIET_LOGS)


def freeze_reference(config_path: Path, baseline: list[date]) -> None:
    """Bins, then the profiles of the baseline days: every day's drift then finds its reference whatever order the
    days run in (what the demo does first)."""
    keys = model_asset_keys(MODEL)
    materialize(config_path, dg.AssetSelection.assets(keys["reference_bins"]))
    profiles = dg.AssetSelection.groups(MODEL) - dg.AssetSelection.assets(keys["reference_bins"], keys["drift_report"])
    for day in baseline:
        materialize(config_path, profiles, day.isoformat())


def run_nightly(config_path: Path, day: date) -> None:
    """The nightly job for one day, in-process."""
    job = build_definitions(str(config_path)).resolve_job_def(NIGHTLY)
    job.execute_in_process(partition_key=day.isoformat(), run_config=QUIET_LOGS)


def report_rows(config: ProjectConfig, table: str, day: date | None = None) -> pl.DataFrame:
    """MODEL's rows of a report table (of one day when given), in key order."""
    rows = delta.scan(catalog.table(config, table)).filter(pl.col("model_name") == MODEL)
    if day is not None:
        rows = rows.filter(pl.col("day") == day)
    return rows.collect().sort(["day", *REPORT_KEYS[table]])
