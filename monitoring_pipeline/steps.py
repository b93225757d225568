"""The pipeline's steps for one model and one day: read the log under its contract, profile it on frozen bins,
compare with the reference window. Each step reads and writes Delta through `io.delta` and calls the pure
`core` functions; Dagster assets and the CLI both call these, and neither knows the other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import numpy as np
import polars as pl

from monitoring_pipeline.core import performance as perf
from monitoring_pipeline.core.bins import Bins, bins_fingerprint, bins_from_json, freeze_bins
from monitoring_pipeline.core.config import ModelSpec, ProjectConfig
from monitoring_pipeline.core.contract import (
    FEATURE_MISSING,
    ID,
    TS,
    VERSION,
    check_schema,
    missing_features,
    split_rows,
)
from monitoring_pipeline.core.drift.compare import DriftReport, compare_profiles, noise_bands, with_bands
from monitoring_pipeline.core.drift.multivariate import RECONSTRUCTION_ERROR, PcaModel, fit_on_frame
from monitoring_pipeline.core.drift.registry import INPUT_ROLES
from monitoring_pipeline.core.guards.evaluate import REASONS, GuardResult, evaluate
from monitoring_pipeline.core.profile import PROFILE_SCHEMA, empty_profile, merge_rows, profile_frame
from monitoring_pipeline.core.text import text_metric_exprs
from monitoring_pipeline.io import catalog, delta, storage
from monitoring_pipeline.io.expectations import LogExpectations, ValidationSummary, validate_log_day
from monitoring_pipeline.registry import definitions
from monitoring_pipeline.registry.audit_log import audit, person

PROFILE_KEYS: dict[str, pl.DataType] = {
    "model_name": pl.String(),
    "day": pl.Date(),
    "model_version": pl.String(),
    "role": pl.String(),
    "bins_version": pl.String(),
}


class MissingReferenceBins(LookupError):
    pass


# -- reading a log under its contract ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DayLog:
    valid: pl.DataFrame  # contract-valid rows
    rejects: pl.DataFrame
    n_read: int
    log_version: int
    written: int | None = None  # Delta version of the rejects commit (check_log_day)
    missing: tuple[str, ...] = ()  # input features the log no longer has, read as null


def read_log(config: ProjectConfig, model: ModelSpec, days: list[date], now: datetime) -> DayLog:
    """Read the log rows of `days` at the table's current version (their data files checked first) and enforce
    the contract; a dropped input feature is read as null and listed in `missing`."""
    table = catalog.log_table(config, model)
    log_version = delta.version(table)
    if log_version is None:
        raise FileNotFoundError(f"prediction log table {table} of model {model.name} does not exist")
    scan = delta.scan(table, log_version)
    schema = scan.collect_schema()
    missing = missing_features(schema, model)
    check_schema(pl.Schema({**schema, **missing}), model, str(table), scan)
    rows = storage.read_days(table, days, TS, log_version)
    split = split_rows(rows.with_columns(pl.lit(None, t).alias(c) for c, t in missing.items()), model, now)
    return DayLog(split.valid, split.rejects, split.n_read, log_version, missing=tuple(missing))


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
    derived = frame.with_columns(definitions.feature_exprs(active, model)).with_columns(
        text_metric_exprs(model.text_output, model.prompt_text, model.prompt_context)
    )
    return derived.with_columns(reconstruction.error_expr()) if reconstruction else derived


def _definition_versions(active: ActiveDefinitions) -> pl.Expr:
    versions = {name: version for name, (version, _) in active.items()}
    return pl.col("column").replace_strict(versions, default=None, return_dtype=pl.Int64).alias(DEFINITION_VERSION)


def check_log_day(config: ProjectConfig, model: ModelSpec, day: date, now: datetime) -> DayLog:
    """Enforce the contract on one day and replace that day's rejects partition."""
    log = read_log(config, model, [day], now)
    rejects = log.rejects.with_columns(pl.lit(model.name).alias("model_name"), pl.lit(day).alias("day"))
    written = delta.write_partition(
        catalog.table(config, catalog.LOG_REJECTS), rejects, {"model_name": model.name, "day": day}
    )
    return replace(log, written=written)


def validate_expectations(config: ProjectConfig, model: ModelSpec, day: date, source: str) -> ValidationSummary:
    """Run the model's data expectations (Great Expectations) on one day of `source` — "prediction_log" (the raw
    log) or "validated_predictions" — and replace that day's rows of `reports/expectation_results`."""
    if source == "prediction_log":
        table = catalog.log_table(config, model)
        rows = storage.read_days(table, [day], TS, delta.version(table))
    else:
        table = catalog.table(config, catalog.validated_table(model))
        rows = _read_day(config, catalog.validated_table(model), day)
    settings = model.expectations
    expectations = LogExpectations(
        score_column=settings.score_column,
        score_range=settings.score_range,
        max_null_share=dict(settings.max_null_share),
        categorical_sets=dict(settings.allowed_values),
        row_count=settings.row_count,
    )
    summary = validate_log_day(rows, str(table), expectations)
    partition = {"model_name": model.name, "day": day, "checked_table": source}
    results = summary.to_frame().with_columns(pl.lit(value).alias(key) for key, value in partition.items())
    delta.write_partition(catalog.table(config, catalog.EXPECTATION_RESULTS), results, partition)
    return summary


# -- guards ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayGuards:
    result: GuardResult
    log: DayLog
    released: frozenset[str]
    stored: tuple[int, int]  # (validated, quarantined) rows of the day as read back from the Delta tables
    written: int  # Delta version of the verdicts commit

    @property
    def blocked_share(self) -> float:
        return self.result.quarantined.height / self.result.n_input if self.result.n_input else 0.0


def released_ids(config: ProjectConfig, model: ModelSpec) -> frozenset[str]:
    table = catalog.table(config, catalog.QUARANTINE_RELEASES)
    if not delta.exists(table):
        return frozenset()
    ids = delta.scan(table).filter(pl.col("model_name") == model.name).select(ID).collect()[ID]
    return frozenset(ids.to_list())


def release(config: ProjectConfig, model: ModelSpec, prediction_id: str, reason: str, by: str, now: datetime) -> int:
    """Record that a quarantined prediction is a false positive; the next run of its day validates it."""
    if not reason.strip():
        raise ValueError("a release needs a reason")
    table = catalog.table(config, catalog.quarantine_table(model))
    held = delta.scan(table).filter(pl.col(ID) == prediction_id).select(ID).collect() if delta.exists(table) else None
    if held is None or held.is_empty():
        raise LookupError(f"prediction {prediction_id!r} is not in the quarantine of model {model.name} ({table})")
    row = pl.DataFrame(
        {
            ID: [prediction_id],
            "model_name": [model.name],
            "released_by": [by],
            "reason": [reason],
            "released_at": [now],
        },
        schema={
            ID: pl.String,
            "model_name": pl.String,
            "released_by": pl.String,
            "reason": pl.String,
            "released_at": pl.Datetime("us", "UTC"),
        },
    )
    version = delta.append(catalog.table(config, catalog.QUARANTINE_RELEASES), row)
    payload = {"prediction_id": prediction_id, "reason_sha256": hashlib.sha256(reason.encode()).hexdigest()}
    audit(
        config,
        actor=person(by),
        action="quarantine_release",
        subject=f"{model.name}/quarantine",
        payload=payload,
        now=now,
        data_table=catalog.QUARANTINE_RELEASES,
        data_version=version,
    )
    return version


def daily_guard_counts(
    config: ProjectConfig, model: ModelSpec, first: date | None = None, last: date | None = None
) -> pl.DataFrame:
    """Rows validated and quarantined per day (between `first` and `last` when given): day, validated,
    quarantined."""
    counts = pl.DataFrame(schema={"day": pl.Date})
    for name, label in (
        (catalog.validated_table(model), "validated"),
        (catalog.quarantine_table(model), "quarantined"),
    ):
        table = catalog.table(config, name)
        scan = delta.scan(table) if delta.exists(table) else pl.LazyFrame(schema={"day": pl.Date})
        if first is not None and last is not None:
            scan = scan.filter(pl.col("day").is_between(first, last))
        counts = counts.join(
            scan.group_by("day").agg(pl.len().alias(label)).collect(), on="day", how="full", coalesce=True
        )
    return counts.with_columns(pl.col("validated", "quarantined").fill_null(0))


def guard_day(config: ProjectConfig, model: ModelSpec, day: date, now: datetime) -> DayGuards:
    """Run the model's guard rules on a day's contract-valid rows; replace that day's verdicts, validated and
    quarantined partitions. Input = validated + quarantined, always."""
    log = read_log(config, model, [day], now)
    released = released_ids(config, model)
    result = evaluate(log.valid, model.guards.rules, released)
    lake = catalog.lake_of(config)
    on_day = pl.lit(day).alias("day")
    verdicts = result.verdicts.with_columns(pl.lit(model.name).alias("model_name"), on_day)
    written = delta.write_partition(
        lake.table(catalog.GUARD_VERDICTS), verdicts, {"model_name": model.name, "day": day}
    )
    for name, rows in (
        (catalog.validated_table(model), result.validated),
        (catalog.quarantine_table(model), result.quarantined),
    ):
        delta.write_partition(lake.table(name), rows.with_columns(on_day), {"day": day}, evolve_schema=True)
    stored = tuple(
        _read_day(config, name, day).height
        for name in (catalog.validated_table(model), catalog.quarantine_table(model))
    )
    return DayGuards(result, log, released, stored, written)


# -- frozen bins -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrozenBins:
    bins: dict[str, Bins]
    fingerprint: str
    rows: int  # baseline rows they were frozen from
    written: int  # Delta version of the reference_bins commit
    reconstruction: PcaModel | None  # the multivariate signal's PCA model, fitted on the validated baseline rows


def freeze_model_bins(config: ProjectConfig, model: ModelSpec, now: datetime) -> FrozenBins:
    """Freeze the model's bins from its baseline window and store them."""
    log = read_log(config, model, model.baseline.span(), now)
    guarded = evaluate(log.valid, model.guards.rules)
    every_row = pl.concat([guarded.validated, guarded.quarantined.drop(REASONS)])
    rows = with_derived(every_row, model, active_definitions(config, model, model.baseline.start), None)
    reconstruction = None
    if model.multivariate:
        settings = model.multivariate
        baseline = rows.filter(pl.col(ID).is_in(guarded.validated[ID].implode()))
        reconstruction = fit_on_frame(baseline, settings.columns, settings.explained)
        rows = rows.with_columns(reconstruction.error_expr())
    kinds = {c.name: c.kind for c in model.columns}
    bins = freeze_bins(rows, kinds, config.top_k, config.vocab_cap)
    transforms = {RECONSTRUCTION_ERROR: reconstruction.to_json()} if reconstruction else {}
    fingerprint = bins_fingerprint(bins, transforms)
    rows = pl.DataFrame(
        {
            "column": list(bins),
            "bins_json": [b.to_json() for b in bins.values()],
            "transform_json": [transforms.get(c) for c in bins],
        },
        schema={"column": pl.String, "bins_json": pl.String, "transform_json": pl.String},
    ).select(
        pl.lit(model.name).alias("model_name"),
        "column",
        "bins_json",
        "transform_json",
        pl.lit(fingerprint).alias("bins_version"),
        pl.lit(model.baseline.start).alias("baseline_start"),
        pl.lit(model.baseline.end).alias("baseline_end"),
        pl.lit(log.valid.height, pl.Int64).alias("baseline_rows"),
        pl.lit(log.log_version, pl.Int64).alias("log_version"),
    )
    written = delta.write_partition(catalog.table(config, catalog.REFERENCE_BINS), rows, {"model_name": model.name})
    return FrozenBins(bins, fingerprint, log.valid.height, written, reconstruction)


def load_model_bins(config: ProjectConfig, model: ModelSpec) -> tuple[dict[str, Bins], str]:
    table = catalog.table(config, catalog.REFERENCE_BINS)
    rows = delta.scan(table).filter(pl.col("model_name") == model.name).collect() if delta.exists(table) else None
    if rows is None or rows.is_empty():
        raise MissingReferenceBins(
            f"no frozen bins for model {model.name} in {table}; materialize {model.name}/reference_bins first"
        )
    bins = {row["column"]: bins_from_json(row["bins_json"]) for row in rows.iter_rows(named=True)}
    missing = [c.name for c in model.columns if c.name not in bins]
    if missing:
        raise MissingReferenceBins(f"frozen bins of model {model.name} lack columns {missing}; re-freeze them")
    return bins, rows["bins_version"][0]


def load_reconstruction(config: ProjectConfig, model: ModelSpec) -> PcaModel | None:
    """The PCA model frozen with the bins (None when the model has no multivariate signal)."""
    if not model.multivariate:
        return None
    rows = (
        delta.scan(catalog.table(config, catalog.REFERENCE_BINS))
        .filter((pl.col("model_name") == model.name) & (pl.col("column") == RECONSTRUCTION_ERROR))
        .select("transform_json")
        .collect()
    )
    if rows.is_empty() or rows.item(0, 0) is None:
        raise MissingReferenceBins(f"no frozen reconstruction model for {model.name}; re-freeze its bins")
    return PcaModel.from_json(rows.item(0, 0))


# -- profiles ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayProfiles:
    features: pl.DataFrame
    outputs: pl.DataFrame
    n_validated: int
    n_quarantined: int
    bins_version: str
    definition_versions: dict[str, int]
    written: tuple[int, int]  # Delta versions of the feature and output profile commits


def _profile_rows(
    valid: pl.DataFrame,
    model: ModelSpec,
    bins: dict[str, Bins],
    roles: tuple[str, ...],
    day: date,
    bins_version: str,
    active: ActiveDefinitions,
) -> pl.DataFrame:
    columns = model.columns_with_role(*roles)
    selected = {c.name: bins[c.name] for c in columns}
    role_of = {c.name: c.role for c in columns}
    if valid.height:
        rows = profile_frame(valid.with_columns(pl.col(VERSION).cast(pl.String)), selected, [VERSION])
    else:  # an empty day still gets rows, so "profiled, empty" differs from "not profiled"
        rows = pl.DataFrame(
            [{VERSION: None, **empty_profile(c, b).to_row()} for c, b in selected.items()],
            schema={VERSION: pl.String(), **PROFILE_SCHEMA},
            orient="row",
        )
    return (
        rows.with_columns(
            pl.lit(model.name).alias("model_name"),
            pl.lit(day).alias("day"),
            pl.col("column").replace_strict(role_of, return_dtype=pl.String).alias("role"),
            pl.lit(bins_version).alias("bins_version"),
            _definition_versions(active),
        )
        .select(*PROFILE_KEYS, *PROFILE_SCHEMA, DEFINITION_VERSION)
        .cast(PROFILE_KEYS)
    )


def _read_day(config: ProjectConfig, name: str, day: date) -> pl.DataFrame:
    table = catalog.table(config, name)
    if not delta.exists(table):
        raise LookupError(f"table {table} does not exist; run the guards for {day} first")
    return delta.scan(table).filter(pl.col("day") == day).drop("day").collect()


def profile_day(config: ProjectConfig, model: ModelSpec, day: date) -> DayProfiles:
    """Profile one day per model version — features and outputs on the validated rows only, guard failure flags
    on every row — and replace that day's feature and output profiles."""
    bins, bins_version = load_model_bins(config, model)
    active = active_definitions(config, model, day)
    reconstruction = load_reconstruction(config, model)
    validated = with_derived(_read_day(config, catalog.validated_table(model), day), model, active, reconstruction)
    quarantined = _read_day(config, catalog.quarantine_table(model), day).drop(REASONS)
    every_row = pl.concat([validated.select(quarantined.columns), quarantined])
    features = _profile_rows(validated, model, bins, INPUT_ROLES, day, bins_version, active)
    outputs = pl.concat(
        [
            _profile_rows(validated, model, bins, ("output", "prompt"), day, bins_version, active),
            _profile_rows(every_row, model, bins, ("guard",), day, bins_version, active),
        ]
    )
    lake = catalog.lake_of(config)
    partition = {"model_name": model.name, "day": day}
    written = (
        delta.write_partition(lake.table(catalog.FEATURE_PROFILES), features, partition),
        delta.write_partition(lake.table(catalog.OUTPUT_PROFILES), outputs, partition),
    )
    versions = {name: version for name, (version, _) in active.items()}
    return DayProfiles(features, outputs, validated.height, quarantined.height, bins_version, versions, written)


def profile_versions(config: ProjectConfig) -> dict[str, int | None]:
    """The current Delta version of each profile table (None: not written yet)."""
    return {
        name: delta.version(catalog.table(config, name)) for name in (catalog.FEATURE_PROFILES, catalog.OUTPUT_PROFILES)
    }


def read_profiles(
    config: ProjectConfig, model: ModelSpec, days: list[date], versions: dict[str, int | None] | None = None
) -> pl.DataFrame:
    """The model's profile rows of `days`, at the given Delta versions of the profile tables (default: now)."""
    versions = versions or profile_versions(config)
    frames = []
    for name, version in versions.items():
        if version is not None:
            scan = delta.scan(catalog.table(config, name), version)
            frames.append(scan.filter((pl.col("model_name") == model.name) & pl.col("day").is_in(days)).collect())
    empty = pl.DataFrame(schema={**PROFILE_KEYS, **PROFILE_SCHEMA, DEFINITION_VERSION: pl.Int64()})
    return pl.concat(frames) if frames else empty


# -- drift -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayDrift:
    report: DriftReport
    frame: pl.DataFrame
    reference_days: list[date]
    reference_days_found: list[date]
    profile_versions: dict[str, int | None]  # Delta version of each profile table read
    definition_versions: dict[str, int]
    written: int  # Delta version of the report commit


def reference_days(model: ModelSpec, day: date) -> list[date]:
    """The days `day` is compared against: its reference window, within the model's life, without `day` itself."""
    return [d for d in model.reference.days_for(day) if d >= model.start_date and d != day]


def drift_day(config: ProjectConfig, model: ModelSpec, day: date) -> DayDrift:
    """Compare one day's profiles with the merged profiles of its reference window; replace that day's report."""
    bins, bins_version = load_model_bins(config, model)
    expected = reference_days(model, day)
    read_versions = profile_versions(config)
    profiles = read_profiles(config, model, [*expected, day], read_versions)
    profiles = profiles.filter(pl.col("bins_version") == bins_version)
    active = active_definitions(config, model, day)
    current_rows = profiles.filter(pl.col("day") == day)
    if current_rows.is_empty():
        raise LookupError(
            f"no profiles of model {model.name} for {day}; materialize {model.name}/feature_profiles first"
        )
    reference_rows = profiles.filter(pl.col("day") != day)
    found = sorted(set(reference_rows["day"].to_list()))
    roles = {c.name: c.role for c in model.columns}
    settings = {c.name: model.settings_for(c.name) for c in model.columns} | definitions.drift_overrides(active, model)
    if any(s.band_k is not None for s in settings.values()):
        per_day = {d: merge_rows(part, bins) for (d,), part in reference_rows.group_by("day")}
        settings = with_bands(settings, noise_bands(per_day, bins, roles, settings))
    report = compare_profiles(
        merge_rows(reference_rows, bins), merge_rows(current_rows, bins), bins, roles=roles, settings=settings
    )
    report = _mark_missing(report, _features_missing_now(config, model))
    versions = sorted(v for v in current_rows["model_version"].unique().to_list() if v is not None)
    frame = report.to_frame().with_columns(
        pl.lit(model.name).alias("model_name"),
        pl.lit(day).alias("day"),
        pl.lit(model.reference.describe()).alias("reference"),
        pl.lit(found[0] if found else None, pl.Date).alias("reference_start"),
        pl.lit(found[-1] if found else None, pl.Date).alias("reference_end"),
        pl.lit(len(found), pl.Int64).alias("reference_days"),
        pl.lit(len(expected), pl.Int64).alias("reference_days_expected"),
        pl.lit(",".join(versions)).alias("model_versions"),
        pl.lit(bins_version).alias("bins_version"),
        _definition_versions(active),
    )
    frame = frame.select("model_name", "day", *[c for c in frame.columns if c not in ("model_name", "day")])
    written = delta.write_partition(
        catalog.table(config, catalog.DRIFT_REPORT), frame, {"model_name": model.name, "day": day}
    )
    active_versions = {name: version for name, (version, _) in active.items()}
    return DayDrift(report, frame, expected, found, read_versions, active_versions, written)


def _features_missing_now(config: ProjectConfig, model: ModelSpec) -> set[str]:
    table = catalog.log_table(config, model)
    return set(missing_features(delta.scan(table).collect_schema(), model)) if delta.exists(table) else set()


def _mark_missing(report: DriftReport, missing: set[str]) -> DriftReport:
    """Features the log no longer has get the verdict FEATURE_MISSING (their null stand-in reads `undefined`)."""
    return DriftReport(tuple(replace(c, verdict=FEATURE_MISSING) if c.column in missing else c for c in report.columns))


@dataclass(frozen=True)
class WorstDrift:
    """A day's most drifting columns (decisive report rows with a warn or drift verdict, one per column, largest
    value/threshold first, as `drift_size`), with the merged reference and current profiles to picture them."""

    ranked: pl.DataFrame
    reference: dict[str, Any]
    current: dict[str, Any]
    bins: dict[str, Bins]


def worst_drift(config: ProjectConfig, model: ModelSpec, day: date, roles: tuple[str, ...], limit: int) -> WorstDrift:
    ranked = (
        delta.scan(catalog.table(config, catalog.DRIFT_REPORT))
        .filter((pl.col("model_name") == model.name) & (pl.col("day") == day) & pl.col("decisive"))
        .filter(pl.col("role").is_in(roles))
        .filter(pl.col("verdict").is_in(["drift", "warn"]) & pl.col("threshold").is_not_null())
        .with_columns((pl.col("value") / pl.col("threshold")).alias("drift_size"))
        .sort("drift_size", descending=True)
        .unique("column", keep="first", maintain_order=True)
        .head(limit)
        .collect()
    )
    if ranked.is_empty():
        return WorstDrift(ranked, {}, {}, {})
    bins, bins_version = load_model_bins(config, model)
    profiles = read_profiles(config, model, [*reference_days(model, day), day]).filter(
        pl.col("bins_version") == bins_version
    )
    reference = merge_rows(profiles.filter(pl.col("day") != day), bins)
    return WorstDrift(ranked, reference, merge_rows(profiles.filter(pl.col("day") == day), bins), bins)


# -- performance -------------------------------------------------------------------------------------------------

ALL = "*"  # every model version, or every segment
ESTIMATION_TOLERANCE = 0.02  # an estimate this far from the realized value is flagged, whatever the reference says
MIN_BAND_DAYS = 5  # baseline days with enough labels before a band is drawn
PERFORMANCE_SCHEMA: dict[str, pl.DataType] = {
    "model_name": pl.String(),
    "day": pl.Date(),
    "model_version": pl.String(),
    "segment": pl.String(),
    "metric": pl.String(),
    "realized": pl.Float64(),
    "estimated": pl.Float64(),
    "estimation_error": pl.Float64(),
    "n_predictions": pl.Int64(),
    "n_labelled": pl.Int64(),
    "label_coverage": pl.Float64(),
    "band_low": pl.Float64(),
    "band_high": pl.Float64(),
    "outside_band": pl.Boolean(),
    "estimation_alarm": pl.Boolean(),
    "label_version": pl.Int64(),
}


@dataclass(frozen=True)
class DayPerformance:
    frame: pl.DataFrame
    label_version: int
    written: int

    def overall(self, metric: str) -> dict[str, Any] | None:
        rows = self.frame.filter(
            (pl.col("model_version") == ALL) & (pl.col("segment") == ALL) & (pl.col("metric") == metric)
        )
        return rows.row(0, named=True) if rows.height else None


def labelled_predictions(
    config: ProjectConfig, model: ModelSpec, days: list[date], label_version: int, now: datetime
) -> pl.DataFrame:
    """The validated predictions of `days` with their label where one has arrived (label time <= now): day,
    model_version, segment, score, y (1 for the positive label, 0 otherwise, null when unknown)."""
    settings = model.performance
    table = catalog.table(config, catalog.validated_table(model))
    segment = pl.col(settings.segment).cast(pl.String) if settings.segment else pl.lit(ALL)
    predictions = (
        delta.scan(table)
        .filter(pl.col("day").is_in(days))
        .select(ID, "day", pl.col(VERSION).cast(pl.String), segment.alias("segment"), pl.col(settings.score_column))
        .collect()
    )
    labels = (
        delta.scan(catalog.label_table(config, model), label_version)
        .filter(pl.col("label_ts") <= now)
        .select(ID, pl.col(settings.label_column).alias("label"))
        .join(predictions.lazy().select(ID), on=ID, how="semi")
        .unique(ID, keep="first")
        .collect()
    )
    if settings.task == "classification":
        truth = (pl.col("label").cast(pl.String) == settings.positive_label).cast(pl.Int8)
    else:
        truth = pl.col("label").cast(pl.Float64)
    return predictions.join(labels, on=ID, how="left").with_columns(
        pl.when(pl.col("label").is_not_null()).then(truth).alias("y")
    )


def _metrics(rows: pl.DataFrame, model: ModelSpec, calibrator: perf.Calibrator | None) -> dict[str, dict]:
    """metric -> {realized, estimated} for one slice."""
    settings = model.performance
    labelled = rows.filter(pl.col("y").is_not_null())
    score, y = labelled[settings.score_column].to_numpy(), labelled["y"].to_numpy()
    if settings.task == "regression":
        realized = perf.regression_metrics(y, score)
        estimated = {}
    else:
        realized = perf.classification_metrics(y, score, settings.threshold)
        all_scores = rows[settings.score_column].to_numpy()
        estimated = (
            perf.estimated_classification_metrics(all_scores, calibrator, settings.threshold) if calibrator else {}
        )
    names = [k for k in realized if k != "n"] or [k for k in estimated if k != "n"]
    return {name: {"realized": realized.get(name), "estimated": estimated.get(name)} for name in names}


def _coverage(rows: pl.DataFrame) -> float | None:
    return rows["y"].is_not_null().mean() if rows.height else None


def _slices(rows: pl.DataFrame) -> list[tuple[str, str, pl.DataFrame]]:
    slices = [(ALL, ALL, rows)]
    for (version,), part in rows.group_by(VERSION, maintain_order=True):
        slices.append((version, ALL, part))
    for (segment,), part in rows.group_by("segment", maintain_order=True):
        if segment != ALL:
            slices.append((ALL, segment, part))
    return slices


@dataclass(frozen=True)
class PerformanceReference:
    """What the baseline days say: the calibrator of the estimate, and per metric the noise band of the realized
    value and the spread of the estimation error (from the baseline days with enough labels)."""

    calibrator: perf.Calibrator | None
    bands: dict[str, perf.Band]
    error_sd: dict[str, float]


_REFERENCE_CACHE: dict[tuple, PerformanceReference] = {}  # one process often runs many days of one model


def _reference(config: ProjectConfig, model: ModelSpec, label_version: int, now: datetime) -> PerformanceReference:
    """The baseline's reference (cached per lake, model, baseline days validated so far, label-table version and
    UTC date)."""
    validated = delta.scan(catalog.table(config, catalog.validated_table(model)))
    present = validated.filter(pl.col("day").is_in(model.baseline.span())).select("day").unique().collect()
    key = (config.lake.root, model.name, frozenset(present["day"].to_list()), label_version, now.date())
    if key not in _REFERENCE_CACHE:
        if len(_REFERENCE_CACHE) >= 8:
            _REFERENCE_CACHE.clear()
        _REFERENCE_CACHE[key] = _compute_reference(config, model, label_version, now)
    return _REFERENCE_CACHE[key]


def _compute_reference(
    config: ProjectConfig, model: ModelSpec, label_version: int, now: datetime
) -> PerformanceReference:
    settings = model.performance
    rows = labelled_predictions(config, model, model.baseline.span(), label_version, now)
    labelled = rows.filter(pl.col("y").is_not_null())
    calibrator = None
    if settings.task == "classification" and labelled.height:
        calibrator = perf.fit_calibrator(labelled[settings.score_column].to_numpy(), labelled["y"].to_numpy())
    daily: dict[str, list[tuple[float | None, float | None]]] = {}
    for _, part in rows.group_by("day"):
        if (_coverage(part) or 0.0) >= settings.min_coverage:
            for name, values in _metrics(part, model, calibrator).items():
                daily.setdefault(name, []).append((values["realized"], values["estimated"]))
    bands, error_sd = {}, {}
    for name, pairs in daily.items():
        realized = np.array([r for r, _ in pairs if r is not None], dtype=np.float64)
        if len(realized) >= max(2, min(MIN_BAND_DAYS, len(model.baseline.span()))):
            bands[name] = perf.noise_band(realized, settings.band_k)
        errors = np.array([e - r for r, e in pairs if r is not None and e is not None], dtype=np.float64)
        error_sd[name] = float(errors.std(ddof=1)) if len(errors) >= 2 else 0.0
    return PerformanceReference(calibrator, bands, error_sd)


def performance_day(config: ProjectConfig, model: ModelSpec, day: date, now: datetime) -> DayPerformance:
    """Realized (labels that have arrived) and estimated (CBPE) metrics of one day, per model version and segment,
    with the baseline's noise band and the estimation error; replaces that day's rows of `reports/performance`.
    The realized value is judged (outside the band, estimation alarm) only once the day has `min_coverage` of its
    labels. Depends on no other day's results, so days materialize in any order."""
    if model.performance is None or not model.label_table:
        raise LookupError(f"model {model.name} has no performance settings (a label table and `performance`)")
    label_ref = catalog.label_table(config, model)
    label_version = delta.version(label_ref)
    if label_version is None:
        raise FileNotFoundError(f"label table {label_ref} of model {model.name} does not exist")
    reference = _reference(config, model, label_version, now)
    rows = labelled_predictions(config, model, [day], label_version, now)
    out = []
    for version, segment, part in _slices(rows):
        n_labelled = int(part["y"].is_not_null().sum())
        judged = (_coverage(part) or 0.0) >= model.performance.min_coverage
        overall = version == ALL and segment == ALL
        for name, values in _metrics(part, model, reference.calibrator).items():
            out.append(
                {
                    "model_name": model.name,
                    "day": day,
                    "model_version": version,
                    "segment": segment,
                    "metric": name,
                    **values,
                    **_judgement(
                        values,
                        reference.bands.get(name) if overall else None,
                        reference.error_sd.get(name, 0.0),
                        judged,
                        model,
                    ),
                    "n_predictions": part.height,
                    "n_labelled": n_labelled,
                    "label_coverage": _coverage(part),
                    "label_version": label_version,
                }
            )
    frame = pl.DataFrame(out, schema=PERFORMANCE_SCHEMA, orient="row")
    written = delta.write_partition(
        catalog.table(config, catalog.PERFORMANCE), frame, {"model_name": model.name, "day": day}
    )
    return DayPerformance(frame, label_version, written)


def _judgement(
    values: dict[str, float | None], band: perf.Band | None, error_sd: float, judged: bool, model: ModelSpec
) -> dict[str, Any]:
    """The band, whether the realized value left it, and whether the estimate missed the realized value by more
    than k·σ of the baseline's estimation errors (and at least ESTIMATION_TOLERANCE)."""
    realized, estimated = values["realized"], values["estimated"]
    error = estimated - realized if realized is not None and estimated is not None else None
    judge = judged and band is not None and realized is not None
    return {
        "estimation_error": error,
        "band_low": band.low if band else None,
        "band_high": band.high if band else None,
        "outside_band": (not band.contains(realized)) if judge else None,
        "estimation_alarm": abs(error) > max(model.performance.band_k * error_sd, ESTIMATION_TOLERANCE)
        if judge and error is not None
        else None,
    }


def performance_series(
    config: ProjectConfig, model: ModelSpec, first: date, last: date, metric: str = "accuracy"
) -> pl.DataFrame:
    """The overall daily rows of `metric` between two days, with a CUSUM alarm run over the judged days after the
    baseline (standardized by each day's band): the sequential view no single partition can hold, recomputed
    from the stored days whenever it is read."""
    table = catalog.table(config, catalog.PERFORMANCE)
    if not delta.exists(table):
        return pl.DataFrame(schema={**PERFORMANCE_SCHEMA, "cusum_alarm": pl.Boolean()})
    rows = (
        delta.scan(table)
        .filter(
            (pl.col("model_name") == model.name)
            & (pl.col("model_version") == ALL)
            & (pl.col("segment") == ALL)
            & (pl.col("metric") == metric)
            & (pl.col("day") <= last)
            & ((pl.col("day") >= first) | (pl.col("day") > model.baseline.end))
        )
        .sort("day")
        .collect()
    )
    judged = rows.filter((pl.col("day") > model.baseline.end) & pl.col("outside_band").is_not_null())
    k = model.performance.band_k
    mean = ((judged["band_low"] + judged["band_high"]) / 2).to_numpy()
    std = ((judged["band_high"] - judged["band_low"]) / (2 * k)).to_numpy()
    alarms = perf.cusum_alarms(judged["realized"].to_numpy(), mean, std) if judged.height else []
    cusum = pl.DataFrame({"day": judged["day"], "cusum_alarm": pl.Series(alarms, dtype=pl.Boolean)})
    return rows.join(cusum, on="day", how="left").filter(pl.col("day") >= first)


def days_with_new_labels(config: ProjectConfig, model: ModelSpec, after_version: int | None) -> tuple[list[date], int]:
    """The prediction days whose labels changed since label-table version `after_version` (None: every labelled
    day), and the label table's current version."""
    labels = catalog.label_table(config, model)
    version = delta.version(labels)
    if version is None or version == after_version:
        return [], after_version if version is None else version
    current = delta.scan(labels, version).select(ID, pl.col(model.performance.label_column).alias("label"))
    if after_version is not None:
        before = delta.scan(labels, after_version).select(ID, pl.col(model.performance.label_column).alias("label"))
        current = current.join(before, on=[ID, "label"], how="anti", nulls_equal=True)
    log = delta.scan(catalog.log_table(config, model)).select(ID, pl.col(TS).dt.date().alias("day"))
    days = log.join(current.select(ID), on=ID, how="semi").select("day").unique().collect()["day"]
    in_range = [
        d for d in sorted(days.to_list()) if d >= model.start_date and (not model.end_date or d < model.end_date)
    ]
    return in_range, version
