"""The feature definitions in force on a day, and the columns they and the model's text derive (lengths, JSON
depth, the PCA reconstruction error)."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import polars as pl

from monitoring_pipeline.core.config import ModelSpec, ProjectConfig
from monitoring_pipeline.core.drift.multivariate import PcaModel
from monitoring_pipeline.core.text import text_metric_exprs
from monitoring_pipeline.io import delta
from monitoring_pipeline.registry import definitions

LOG = logging.getLogger(__name__)
ActiveDefinitions = dict[str, tuple[int, dict[str, Any]]]
DEFINITION_VERSION = "definition_version"


def active_definitions(config: ProjectConfig, model: ModelSpec, day: date) -> ActiveDefinitions:
    """The feature definitions in force when `day` starts (00:00 UTC); a change takes effect from the first day
    that starts after it."""
    return definitions.in_force(config, definitions.FEATURE, model.name, delta.day_bounds(day)[0])


def with_derived(
    frame: pl.DataFrame, model: ModelSpec, active: ActiveDefinitions, reconstruction: PcaModel | None
) -> pl.DataFrame:
    """Compute the features as their active definitions say, add the numeric signals derived from the model's
    text columns (lengths, JSON validity and depth) and, given the frozen PCA model, each row's reconstruction
    error."""
    exprs, broken = definitions.feature_exprs(active, model, frame.schema)
    for why in broken.values():
        LOG.warning("%s: the feature is null today", why)
    derived = frame.with_columns(exprs).with_columns(
        text_metric_exprs(model.text_output, model.prompt_text, model.prompt_context)
    )
    return derived.with_columns(reconstruction.error_expr()) if reconstruction else derived


def definition_versions(active: ActiveDefinitions) -> pl.Expr:
    """Each profiled or judged column's definition version (null: not a defined feature)."""
    versions = definitions.versions_of(active)
    return pl.col("column").replace_strict(versions, default=None, return_dtype=pl.Int64).alias(DEFINITION_VERSION)
