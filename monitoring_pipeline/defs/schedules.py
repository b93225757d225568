"""Nightly: each model's daily assets for the last complete UTC day."""

from __future__ import annotations

import dagster as dg

from monitoring_pipeline.core.config import ModelSpec

FRESHNESS_CHECK = "freshness_check"  # the name Dagster gives a time-partition freshness check


NIGHTLY_HOUR = 2  # UTC: the nightly schedule's tick, for the day before


def nightly_job_name(model: ModelSpec) -> str:
    return f"{model.name}_nightly"


def nightly_schedule_name(model: ModelSpec) -> str:
    return f"{nightly_job_name(model)}_schedule"


def nightly_job(model: ModelSpec) -> dg.UnresolvedAssetJobDefinition:
    log = dg.AssetKey([model.name, "prediction_log"])
    daily = (
        dg.AssetSelection.groups(model.name)
        - dg.AssetSelection.assets([model.name, "reference_bins"])
        - dg.AssetSelection.checks(dg.AssetCheckKey(log, FRESHNESS_CHECK))  # its sensor judges it, not a day's run
    )
    return dg.define_asset_job(
        nightly_job_name(model),
        selection=daily,
        description=f"One UTC day of {model.name}: log contract, guards, profiles, drift and performance.",
        owners=list(model.owners),
    )


def nightly_schedule(job: dg.UnresolvedAssetJobDefinition, model: ModelSpec) -> dg.ScheduleDefinition:
    return dg.build_schedule_from_partitioned_job(
        job,
        name=nightly_schedule_name(model),
        hour_of_day=NIGHTLY_HOUR,
        minute_of_hour=0,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Runs {job.name} at {NIGHTLY_HOUR:02d}:00 UTC for the last complete UTC day.",
        owners=list(model.owners),
    )
