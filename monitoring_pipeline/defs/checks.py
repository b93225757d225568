"""Asset checks that are not emitted by an asset body."""

import dagster as dg

from monitoring_pipeline.core.config import ModelSpec
from monitoring_pipeline.defs.assets import day_of, model_asset_keys
from monitoring_pipeline.defs.partitions import daily_partitions
from monitoring_pipeline.defs.resources import ProjectResource
from monitoring_pipeline.steps.expectations import validate_expectations

EXPECTATIONS_CHECK = "expectations"
CHECKED = {"prediction_log": "the day's raw log", "validated_predictions": "the day's validated predictions"}


def build_expectations_checks(model: ModelSpec) -> list[dg.AssetChecksDefinition]:
    """A Great Expectations suite on the raw log and on the validated predictions of every partition."""
    return [_expectations_check(model, source) for source in CHECKED]


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
