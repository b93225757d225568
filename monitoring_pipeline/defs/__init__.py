"""The thin Dagster layer: assets, checks, schedules and resources that call `monitoring_pipeline.steps`."""
