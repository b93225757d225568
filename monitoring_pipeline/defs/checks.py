"""Asset checks that are not emitted by an asset body."""

import warnings

import dagster as dg

from monitoring_pipeline.core.config import ModelSpec
from monitoring_pipeline.defs.assets import day_of, model_asset_keys
from monitoring_pipeline.defs.partitions import daily_partitions
from monitoring_pipeline.defs.resources import ProjectResource
from monitoring_pipeline.steps.expectations import validate_expectations

EXPECTATIONS_CHECK = "expectations"
FRESHNESS_DEADLINE = "0 4 * * *"  # each day's log materialized by 04:00 UTC the next day (the nightly run: 02:00)
CHECKED = {"prediction_log": "the day's raw log", "validated_predictions": "the day's validated predictions"}


def build_expectations_checks(model: ModelSpec) -> list[dg.AssetChecksDefinition]:
    """A Great Expectations suite on the raw log and on the validated predictions of every partition."""
    return [_expectations_check(model, source) for source in CHECKED]


def build_freshness_checks(models: list[ModelSpec]) -> tuple[list[dg.AssetChecksDefinition], dg.SensorDefinition]:
    """Dagster's time-partition freshness check on each model's `prediction_log` — WARN when the last complete UTC
    day was not materialized by the deadline (the nightly run failed or never ran) — and the sensor that
    evaluates them. Dagster calls these checks superseded by freshness policies, but those are judged per asset,
    not per partition (a backfill of an old day would make a missing yesterday look fresh) and are off by default
    in open source; the per-partition check is what a missed day needs."""
    logs = [model_asset_keys(model.name)["prediction_log"] for model in models]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is superseded", category=Warning)
        checks = list(dg.build_time_partition_freshness_checks(assets=logs, deadline_cron=FRESHNESS_DEADLINE))
        sensor = dg.build_sensor_for_freshness_checks(
            freshness_checks=checks, default_status=dg.DefaultSensorStatus.RUNNING
        )
    return checks, sensor


def _expectations_check(model: ModelSpec, source: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=model_asset_keys(model.name)[source],
        name=EXPECTATIONS_CHECK,
        partitions_def=daily_partitions(model),
        description=f"Great Expectations on {CHECKED[source]}: required columns, unique ids, score range, "
        "null shares, allowed values and row-count bounds (results in reports/expectation_results).",
    )
    def expectations(context: dg.AssetCheckExecutionContext, project: ProjectResource) -> dg.AssetCheckResult:
        config = project.load()
        summary = validate_expectations(config, config.model(model.name), day_of(context), source)
        return dg.AssetCheckResult(
            passed=summary.success,
            # an expectation that could not run (e.g. a missing column) is worse than data that failed one
            severity=dg.AssetCheckSeverity.ERROR if summary.errored else dg.AssetCheckSeverity.WARN,
            metadata={
                "evaluated": summary.evaluated,
                "failed": summary.failed,
                "errored": summary.errored,
                "results": dg.MetadataValue.md(summary.to_markdown()),
            },
        )

    return expectations
