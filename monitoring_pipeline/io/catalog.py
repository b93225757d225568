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
from monitoring_pipeline.io.delta import Lake, TableDoc, TableRef

# what the daily steps write, one partition per model and day
LOG_REJECTS = "reports/log_rejects"
EXPECTATION_RESULTS = "reports/expectation_results"
GUARD_VERDICTS = "reports/guard_verdicts"
QUARANTINE_RELEASES = "reports/quarantine_releases"
REFERENCE_BINS = "reports/reference_bins"
FEATURE_PROFILES = "reports/feature_profiles"
OUTPUT_PROFILES = "reports/output_profiles"
SEGMENT_PROFILES = "reports/segment_profiles"  # the same profiles per value of a model's segment columns
TEXT_PROFILES = "reports/text_profiles"  # hashed n-gram profiles of a model's output and prompt texts
DRIFT_REPORT = "reports/drift_report"
DRIFT_VERDICTS = "reports/drift_verdicts"  # one row per column of the report: its verdict and deciding method
SEGMENT_DRIFT = "reports/segment_drift"  # one verdict per column and segment, with the share of drift it explains
SEGMENT_SETTINGS = "reports/segment_settings"  # per model: the thresholds each segment learned, while they hold
TEXT_DRIFT = "reports/text_drift"  # the n-grams that separate a drifting text column's day from its reference
PERFORMANCE = "reports/performance"
LABEL_REJECTS = "reports/label_rejects"  # label rows the label contract sets aside, by their prediction's day
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


DOCS = {  # set on each table when it is created: its description and the comments of its key columns
    LOG_REJECTS: TableDoc(
        "Log rows refused by the log contract, one per row, with the reason (partition: model, day)."
    ),
    EXPECTATION_RESULTS: TableDoc(
        "Great Expectations results per model, day, checked table and expectation: counts only, never raw values.",
        {"status": "passed, failed, or errored (a broken validator, not a data failure)"},
    ),
    GUARD_VERDICTS: TableDoc(
        "One row per prediction and failed output-guard rule: rule id and version, severity, reason (no values).",
        {"reason": "what failed, by kind and position; never the offending value"},
    ),
    QUARANTINE_RELEASES: TableDoc("Quarantined predictions released by a person, with who, when and why."),
    REFERENCE_BINS: TableDoc("Bins frozen from each model's baseline window, one row per model and column."),
    FEATURE_PROFILES: TableDoc(
        "Mergeable daily profiles of each feature per model, day and model version (counts, moments, quantiles)."
    ),
    OUTPUT_PROFILES: TableDoc(
        "Mergeable daily profiles of each output (score, text length, JSON depth, prompt size) and guard flag."
    ),
    SEGMENT_PROFILES: TableDoc(
        "Mergeable daily profiles of features and outputs per model, day and segment (a value of a segment column).",
        {"segment_value": "a top value of the segment column in the baseline, (other) for the rest, (missing)"},
    ),
    TEXT_PROFILES: TableDoc(
        "Mergeable daily profiles of each text column (output and prompt) per model and day: hashed word, word-pair "
        "and character 3-gram vectors summed over the day's texts, and the heaviest n-grams by name.",
        {
            "hashing": "how n-grams were hashed (profiles hashed otherwise are not compared)",
            "n": "texts profiled (a seeded sample above 5,000)",
            "vector": "the texts' unit-length n-gram vectors summed, one value per hash bucket",
        },
    ),
    TEXT_DRIFT: TableDoc(
        "Per model, day and text column that warns or drifts: the n-grams that separate the day from its "
        "reference most (the ngram_mmd rows of drift_report hold the statistic and its thresholds).",
        {
            "reference": "the n-gram's mean weight per text in the reference",
            "current": "its mean weight per text that day",
            "share": "its share of the squared distance between the named n-grams' means",
        },
    ),
    SEGMENT_SETTINGS: TableDoc(
        "Per model: the drift settings each segment learned from its ordinary days, kept while those days' profiles, "
        "the definitions and the drift config stay the same, so a fresh process does not learn them again.",
        {"key": "a hash of what the settings were learned from", "settings": "the settings by column, as JSON"},
    ),
    SEGMENT_DRIFT: TableDoc(
        "Drift of each feature and output per segment against the segment's own reference, one row per model, day, "
        "segment and column, with the share of the column's model-level drift the segment explains.",
        {
            "size": "value / threshold of the deciding method (thresholds calibrated on the segment's own noise)",
            "explains": "the share of the column's model-level PSI that goes away with this segment's own change",
            "model_verdict": "the column's verdict for the whole model that day",
            "only_here": "drifts in this segment while the model as a whole does not",
        },
    ),
    DRIFT_REPORT: TableDoc(
        "Drift of each monitored column against its reference, one row per model, day, column and method.",
        {
            "value": "the method's statistic",
            "threshold": "the drift threshold (threshold_warn: the warn one)",
            "decisive": "whether this method decides the column's verdict",
            "verdict": "the column's verdict for the day: ok, warn or drift",
        },
    ),
    DRIFT_VERDICTS: TableDoc(
        "One verdict per model, day and column: the drift report deduplicated, ranked by size.",
        {
            "verdict": "ok, warn or drift for the day",
            "window_verdict": "the rolling window's verdict, where judged",
            "method": "the deciding method with the largest size (null where none decides)",
            "size": "value / threshold: comparable across methods (PSI, KS and JS have different scales)",
        },
    ),
    PERFORMANCE: TableDoc(
        "Realized (labels so far) and estimated (CBPE) metrics per model, day, model version and segment, with the "
        "baseline's noise band; the CUSUM is computed over the series on read and stored per day in model_health.",
        {
            "model_version": "* for all versions",
            "segment": "* for all segments",
            "outside_band": "realized outside the baseline's noise band (judged once label coverage is reached)",
            "estimation_alarm": "the estimate is further from the realized value than the baseline's error allows",
            "label_version": "the label table's Delta version read",
        },
    ),
    LABEL_REJECTS: TableDoc(
        "Label rows of a day's predictions set aside by the label contract, one per row, with the reason.",
        {"reason": "null_label, conflicting_labels (every label of the id) or duplicate_label (the earliest kept)"},
    ),
    PERFORMANCE_REFERENCE: TableDoc(
        "Per model: the calibration and noise bands of its baseline, until the baseline's labels change."
    ),
    TICKETS: TableDoc(
        "Retraining-review tickets, one per model, signal and first breaching day: status, delivery, resolution."
    ),
    DOSSIERS: TableDoc("The evidence behind each ticket, as JSON and markdown."),
    MODEL_HEALTH: TableDoc(
        "Per model, day and alert signal: value against the model's threshold, crossed, breached and its ticket.",
        {
            "crossed": "the day alone is over the threshold (what its health check shows)",
            "breached": "the alert rule's persistence is met too",
            "ticket_id": "the ticket covering the day, where breached",
            "behind": "the drifting columns, or each alarming metric (band, CUSUM, estimate) with its figures",
        },
    ),
    MODEL_VERSIONS: TableDoc("Registered model checkpoints, each tied to its training slice and content hashes."),
    MODEL_EVALUATIONS: TableDoc("Evaluation checkpoints of model versions, each tied to its eval slice."),
    MODEL_EVENTS: TableDoc("Model lifecycle events: approvals, deployments (releases), rollbacks, retirements."),
    DEFINITIONS: TableDoc("Versioned feature definitions and prompt templates."),
    DEFINITION_EVENTS: TableDoc("Proposals, approvals and rollbacks of feature definitions and prompts."),
    AUDIT_LOG: TableDoc("The hash-chained audit log: every change to the lake's custody, pinned to Delta commits."),
    "validated/*": TableDoc("A model's predictions that passed every blocking guard rule (or were released), by day."),
    "quarantine/*": TableDoc("A model's predictions held back by a blocking guard rule, with every reason, by day."),
}


def lake_of(config: ProjectConfig) -> Lake:
    return Lake(config.lake.root, config.lake.storage_options, config.lake.retention_days, DOCS)


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
