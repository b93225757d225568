"""The expectations check: the model's Great Expectations suite on one day of the raw log or of the validated
predictions, its results kept in `reports/expectation_results`."""

from __future__ import annotations

from datetime import date

import polars as pl

from monitoring_pipeline.core.config import ModelSpec, ProjectConfig
from monitoring_pipeline.core.contract import TS
from monitoring_pipeline.io import catalog, delta, storage
from monitoring_pipeline.io.expectations import LogExpectations, ValidationSummary, validate_log_day
from monitoring_pipeline.steps.guards import stored_day


def validate_expectations(config: ProjectConfig, model: ModelSpec, day: date, source: str) -> ValidationSummary:
    """Run the model's data expectations (Great Expectations) on one day of `source` — "prediction_log" (the raw
    log) or "validated_predictions" — and replace that day's rows of `reports/expectation_results`."""
    settings = model.expectations
    expectations = LogExpectations(
        score_column=settings.score_column,
        score_range=settings.score_range,
        max_null_share=dict(settings.max_null_share),
        categorical_sets=dict(settings.allowed_values),
        row_count=settings.row_count,
    )
    columns = expectations.columns()
    if source == "prediction_log":
        table = catalog.log_table(config, model)
        rows = storage.read_days(table, [day], TS, delta.version(table), columns)
    else:
        table = catalog.table(config, catalog.validated_table(model))
        rows = stored_day(config, catalog.validated_table(model), day, columns)
    summary = validate_log_day(rows, str(table), expectations)
    partition = {"model_name": model.name, "day": day, "checked_table": source}
    results = summary.to_frame().with_columns(pl.lit(value).alias(key) for key, value in partition.items())
    delta.write_partition(catalog.table(config, catalog.EXPECTATION_RESULTS), results, partition)
    return summary
