"""Materialize every partition of every asset through Dagster, then summarize the drift report table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import polars as pl

from monitoring_pipeline.core.config import ProjectConfig
from monitoring_pipeline.defs.assets import model_asset_keys
from monitoring_pipeline.definitions import build_definitions
from monitoring_pipeline.io import delta
from monitoring_pipeline.steps import DRIFT_REPORT, lake_of


def materialize_all(config_path: Path, lake_root: str | None, progress: Callable[[str], None]) -> None:
    """Per model: freeze bins, profile every day, then judge every day (profiles first, so every reference
    window is complete whatever its kind)."""
    defs = build_definitions(str(config_path), lake_root)
    config = defs.resources["project"].load()
    instance = dg.DagsterInstance.get()
    for model in config.models.values():
        keys = model_asset_keys(model.name)
        profile_job = dg.define_asset_job(
            f"{model.name}_demo_profiles",
            selection=dg.AssetSelection.assets(keys["prediction_log"], keys["feature_profiles"], keys["output_profiles"]),
        )
        drift_job = dg.define_asset_job(f"{model.name}_demo_drift", selection=dg.AssetSelection.assets(keys["drift_report"]))
        bins_job = dg.define_asset_job(f"{model.name}_demo_bins", selection=dg.AssetSelection.assets(keys["reference_bins"]))
        resolved = dg.Definitions.merge(defs, dg.Definitions(jobs=[profile_job, drift_job, bins_job]))
        _run(resolved, f"{model.name}_demo_bins", None, instance)
        partitions = resolved.get_job_def(f"{model.name}_demo_profiles").partitions_def.get_partition_keys()
        for stage in ("profiles", "drift"):
            progress(f"{model.name}: materializing {stage} for {len(partitions)} daily partitions")
            for key in partitions:
                _run(resolved, f"{model.name}_demo_{stage}", key, instance)


def _run(defs: dg.Definitions, job_name: str, partition_key: str | None, instance: dg.DagsterInstance) -> None:
    result = defs.get_job_def(job_name).execute_in_process(partition_key=partition_key, instance=instance, raise_on_error=True)
    if not result.success:
        raise RuntimeError(f"run of {job_name} for partition {partition_key} failed")


def summary_lines(config: ProjectConfig) -> list[str]:
    """Per model and day: the drifted features and drifted outputs."""
    report = delta.scan(lake_of(config).table(DRIFT_REPORT)).collect()
    per_day = (
        report.filter(pl.col("verdict") == "drift")
        .select("model_name", "day", "column", "role")
        .unique()
        .group_by("model_name", "day")
        .agg(
            pl.col("column").filter(pl.col("role") == "feature").sort().alias("features"),
            pl.col("column").filter(pl.col("role") != "feature").sort().alias("outputs"),
        )
    )
    days = report.select("model_name", "day").unique().join(per_day, on=["model_name", "day"], how="left")
    lines = []
    for model in sorted(config.models):
        lines.append(f"\n{model}: drifted features | drifted outputs")
        for row in days.filter(pl.col("model_name") == model).sort("day").iter_rows(named=True):
            features, outputs = row["features"] or [], row["outputs"] or []
            marker = "  " if not features and not outputs else "! "
            lines.append(f"{marker}{row['day']}  {', '.join(features) or '-'} | {', '.join(outputs) or '-'}")
    return lines
