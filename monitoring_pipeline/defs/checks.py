"""Asset checks that are not emitted by an asset body."""

import dagster as dg

from monitoring_pipeline import steps
from monitoring_pipeline.core.config import ModelSpec
from monitoring_pipeline.defs.assets import day_of, model_asset_keys
from monitoring_pipeline.defs.partitions import daily_partitions
from monitoring_pipeline.defs.resources import ProjectResource

LOG_EXPECTATIONS_CHECK = "log_expectations"


def build_log_expectations_check(model: ModelSpec) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=model_asset_keys(model.name)["prediction_log"],
        name=LOG_EXPECTATIONS_CHECK,
        partitions_def=daily_partitions(model),
        description="Great Expectations on the day's raw log: required columns, unique ids, score range, "
        "null shares and allowed values.",
    )
    def log_expectations(context: dg.AssetCheckExecutionContext, project: ProjectResource) -> dg.AssetCheckResult:
        config = project.load()
        summary = steps.validate_log_expectations(config, config.model(model.name), day_of(context))
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

    return log_expectations
