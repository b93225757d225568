"""The lake's map: the name of every table the project writes, where a model's own tables live, and one reader
for "the rows of table X for model M on day(s) D".

A name is relative to the lake root (`reports/drift_report`); `table` turns it into a `TableRef` under the
project's lake, local or on an object store. Every table the project writes is named here; the team's own tables
(logs, labels, training slices) are named in the config.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import polars as pl

from monitoring_pipeline.core.config import ModelSpec, ProjectConfig
from monitoring_pipeline.io import delta
from monitoring_pipeline.io.delta import Lake, TableRef

# what the daily steps write, one partition per model and day
LOG_REJECTS = "reports/log_rejects"
EXPECTATION_RESULTS = "reports/expectation_results"
GUARD_VERDICTS = "reports/guard_verdicts"
QUARANTINE_RELEASES = "reports/quarantine_releases"
REFERENCE_BINS = "reports/reference_bins"
FEATURE_PROFILES = "reports/feature_profiles"
OUTPUT_PROFILES = "reports/output_profiles"
DRIFT_REPORT = "reports/drift_report"
DRIFT_VERDICTS = "reports/drift_verdicts"  # one row per column of the report: its verdict and deciding method
PERFORMANCE = "reports/performance"
PERFORMANCE_REFERENCE = "reports/performance_reference"  # per model: what its baseline says, until its labels change
# the review workflow
TICKETS = "reports/tickets"
DOSSIERS = "reports/review_dossiers"
MODEL_HEALTH = "reports/model_health"  # per model, day and alert signal: value, threshold, crossed, breached, ticket
# what people approve, and the chain over it all
MODEL_VERSIONS = "registry/model_versions"
MODEL_EVALUATIONS = "registry/model_evaluations"
MODEL_EVENTS = "registry/model_events"
DEFINITIONS = "registry/definitions"
DEFINITION_EVENTS = "registry/definition_events"
AUDIT_LOG = "audit/log"


def lake_of(config: ProjectConfig) -> Lake:
    return Lake(config.lake.root, config.lake.storage_options, config.lake.retention_days)


def table(config: ProjectConfig, name: str) -> TableRef:
    return lake_of(config).table(name)


def validated_table(model: ModelSpec) -> str:
    """The model's validated predictions (one partition per day, no `model_name` column)."""
    return f"validated/{model.name}"


def quarantine_table(model: ModelSpec) -> str:
    """The model's quarantined predictions, with their reasons."""
    return f"quarantine/{model.name}"


def log_table(config: ProjectConfig, model: ModelSpec) -> TableRef:
    """The model's prediction log: the team's own table, read, never written."""
    return table(config, model.log_table)


def label_table(config: ProjectConfig, model: ModelSpec) -> TableRef:
    """The model's late labels: the team's own table, read, never written."""
    return table(config, model.label_table)


def day_rows(
    config: ProjectConfig,
    name: str,
    model: str | None = None,
    *,
    days: date | Iterable[date] | None = None,
    version: int | None = None,
) -> pl.LazyFrame | None:
    """The rows of table `name` for `model` (None: every row; a per-model table) on `days` (None: every day),
    lazily, at a Delta `version` (default: the current one); None while the table has not been written."""
    ref = table(config, name)
    if version is None and not delta.exists(ref):
        return None
    rows = delta.scan(ref, version)
    if model is not None:
        rows = rows.filter(pl.col("model_name") == model)
    if isinstance(days, date):
        return rows.filter(pl.col("day") == days)
    return rows if days is None else rows.filter(pl.col("day").is_in(list(days)))
