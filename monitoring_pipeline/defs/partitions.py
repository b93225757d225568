"""Partitions, defined once: one daily partition per UTC day of a model's log."""

from __future__ import annotations

import dagster as dg

from monitoring_pipeline.core.config import ModelSpec


def daily_partitions(model: ModelSpec) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(
        start_date=model.start_date.isoformat(),
        end_date=model.end_date.isoformat() if model.end_date else None,
        timezone="UTC",
    )
