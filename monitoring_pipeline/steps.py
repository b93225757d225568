"""The pipeline's steps for one model and one day: read the log under its contract, profile it on frozen bins,
compare with the reference window. Each step reads and writes Delta through `io.delta` and calls the pure
`core` functions; Dagster assets and the CLI both call these, and neither knows the other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import polars as pl

from monitoring_pipeline.core.bins import Bins, bins_fingerprint, bins_from_json, freeze_bins
from monitoring_pipeline.core.config import ModelSpec, ProjectConfig
from monitoring_pipeline.core.contract import ID, TS, VERSION, check_schema, split_rows
from monitoring_pipeline.core.drift.compare import DriftReport, compare_profiles
from monitoring_pipeline.core.guards.evaluate import REASONS, GuardResult, evaluate
from monitoring_pipeline.core.profile import PROFILE_SCHEMA, empty_profile, merge_rows, profile_frame
from monitoring_pipeline.core.text import text_metric_exprs
from monitoring_pipeline.io import delta
from monitoring_pipeline.io.delta import TableRef
from monitoring_pipeline.io.expectations import LogExpectations, ValidationSummary, validate_log_day
from monitoring_pipeline.registry import definitions
from monitoring_pipeline.registry.audit_log import audit, lake_of, person

FEATURE_PROFILES = "reports/feature_profiles"
OUTPUT_PROFILES = "reports/output_profiles"
DRIFT_REPORT = "reports/drift_report"
LOG_REJECTS = "reports/log_rejects"
REFERENCE_BINS = "reports/reference_bins"
GUARD_VERDICTS = "reports/guard_verdicts"
EXPECTATION_RESULTS = "reports/expectation_results"
QUARANTINE_RELEASES = "reports/quarantine_releases"


def validated_table(model: ModelSpec) -> str:
    return f"validated/{model.name}"


def quarantine_table(model: ModelSpec) -> str:
    return f"quarantine/{model.name}"


PROFILE_KEYS: dict[str, pl.DataType] = {
    "model_name": pl.String(),
    "day": pl.Date(),
    "model_version": pl.String(),
    "role": pl.String(),
    "bins_version": pl.String(),
}


class MissingReferenceBins(LookupError):
    pass


def log_table(config: ProjectConfig, model: ModelSpec) -> TableRef:
    return lake_of(config).table(model.log_table)


# -- reading a log under its contract ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DayLog:
    valid: pl.DataFrame  # contract-valid rows
    rejects: pl.DataFrame
    n_read: int
    log_version: int
    written: int | None = None  # Delta version of the rejects commit (check_log_day)


def read_log(config: ProjectConfig, model: ModelSpec, days: list[date], now: datetime) -> DayLog:
    """Read the log rows of `days` at the table's current version and enforce the contract."""
    table = log_table(config, model)
    log_version = delta.version(table)
    if log_version is None:
        raise FileNotFoundError(f"prediction log table {table} of model {model.name} does not exist")
    scan = delta.scan(table, log_version)
    check_schema(scan.collect_schema(), model, str(table), scan.head(1).collect())
    split = split_rows(delta.scan_days(table, days, TS, log_version).collect(), model, now)
    return DayLog(split.valid, split.rejects, split.n_read, log_version)


ActiveDefinitions = dict[str, tuple[int, dict[str, Any]]]
DEFINITION_VERSION = "definition_version"


def active_definitions(config: ProjectConfig, model: ModelSpec, day: date) -> ActiveDefinitions:
    """The feature definitions in force when `day` starts (00:00 UTC); a change takes effect from the first day
    that starts after it."""
    return definitions.in_force(config, definitions.FEATURE, model.name, delta.day_bounds(day)[0])


def with_derived(frame: pl.DataFrame, model: ModelSpec, active: ActiveDefinitions) -> pl.DataFrame:
    """Compute the features as their active definitions say, and add the numeric signals derived from the
    model's text columns (lengths, JSON validity and depth)."""
    return frame.with_columns(definitions.feature_exprs(active, model)).with_columns(
        text_metric_exprs(model.text_output, model.prompt_text, model.prompt_context)
    )


def _definition_versions(active: ActiveDefinitions) -> pl.Expr:
    versions = {name: version for name, (version, _) in active.items()}
    return pl.col("column").replace_strict(versions, default=None, return_dtype=pl.Int64).alias(DEFINITION_VERSION)


def check_log_day(config: ProjectConfig, model: ModelSpec, day: date, now: datetime) -> DayLog:
    """Enforce the contract on one day and replace that day's rejects partition."""
    log = read_log(config, model, [day], now)
    rejects = log.rejects.with_columns(pl.lit(model.name).alias("model_name"), pl.lit(day).alias("day"))
    written = delta.write_partition(lake_of(config).table(LOG_REJECTS), rejects, {"model_name": model.name, "day": day})
    return replace(log, written=written)


def validate_expectations(config: ProjectConfig, model: ModelSpec, day: date, source: str) -> ValidationSummary:
    """Run the model's data expectations (Great Expectations) on one day of `source` — "prediction_log" (the raw
    log) or "validated_predictions" — and replace that day's rows of `reports/expectation_results`."""
    if source == "prediction_log":
        table = log_table(config, model)
        rows = delta.scan_days(table, [day], TS).collect()
    else:
        table = lake_of(config).table(validated_table(model))
        rows = _read_day(config, validated_table(model), day)
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
    delta.write_partition(lake_of(config).table(EXPECTATION_RESULTS), results, partition)
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
    table = lake_of(config).table(QUARANTINE_RELEASES)
    if not delta.exists(table):
        return frozenset()
    ids = delta.scan(table).filter(pl.col("model_name") == model.name).select(ID).collect()[ID]
    return frozenset(ids.to_list())


def release(config: ProjectConfig, model: ModelSpec, prediction_id: str, reason: str, by: str, now: datetime) -> int:
    """Record that a quarantined prediction is a false positive; the next run of its day validates it."""
    if not reason.strip():
        raise ValueError("a release needs a reason")
    table = lake_of(config).table(quarantine_table(model))
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
    version = delta.append(lake_of(config).table(QUARANTINE_RELEASES), row)
    payload = {"prediction_id": prediction_id, "reason_sha256": hashlib.sha256(reason.encode()).hexdigest()}
    audit(
        config,
        actor=person(by),
        action="quarantine_release",
        subject=f"{model.name}/quarantine",
        payload=payload,
        now=now,
        data_table=QUARANTINE_RELEASES,
        data_version=version,
    )
    return version


def guard_day(config: ProjectConfig, model: ModelSpec, day: date, now: datetime) -> DayGuards:
    """Run the model's guard rules on a day's contract-valid rows; replace that day's verdicts, validated and
    quarantined partitions. Input = validated + quarantined, always."""
    log = read_log(config, model, [day], now)
    released = released_ids(config, model)
    result = evaluate(log.valid, model.guards.rules, released)
    lake = lake_of(config)
    on_day = pl.lit(day).alias("day")
    verdicts = result.verdicts.with_columns(pl.lit(model.name).alias("model_name"), on_day)
    written = delta.write_partition(lake.table(GUARD_VERDICTS), verdicts, {"model_name": model.name, "day": day})
    for name, rows in ((validated_table(model), result.validated), (quarantine_table(model), result.quarantined)):
        delta.write_partition(lake.table(name), rows.with_columns(on_day), {"day": day}, evolve_schema=True)
    stored = tuple(_read_day(config, name, day).height for name in (validated_table(model), quarantine_table(model)))
    return DayGuards(result, log, released, stored, written)


# -- frozen bins -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrozenBins:
    bins: dict[str, Bins]
    fingerprint: str
    rows: int  # baseline rows they were frozen from
    written: int  # Delta version of the reference_bins commit


def freeze_model_bins(config: ProjectConfig, model: ModelSpec, now: datetime) -> FrozenBins:
    """Freeze the model's bins from its baseline window and store them."""
    log = read_log(config, model, model.baseline.span(), now)
    guarded = evaluate(log.valid, model.guards.rules)
    every_row = pl.concat([guarded.validated, guarded.quarantined.drop(REASONS)])
    rows = with_derived(every_row, model, active_definitions(config, model, model.baseline.start))
    kinds = {c.name: c.kind for c in model.columns}
    bins = freeze_bins(rows, kinds, config.top_k, config.vocab_cap)
    fingerprint = bins_fingerprint(bins)
    rows = pl.DataFrame({"column": list(bins), "bins_json": [b.to_json() for b in bins.values()]}).select(
        pl.lit(model.name).alias("model_name"),
        "column",
        "bins_json",
        pl.lit(fingerprint).alias("bins_version"),
        pl.lit(model.baseline.start).alias("baseline_start"),
        pl.lit(model.baseline.end).alias("baseline_end"),
        pl.lit(log.valid.height, pl.Int64).alias("baseline_rows"),
        pl.lit(log.log_version, pl.Int64).alias("log_version"),
    )
    written = delta.write_partition(lake_of(config).table(REFERENCE_BINS), rows, {"model_name": model.name})
    return FrozenBins(bins, fingerprint, log.valid.height, written)


def load_model_bins(config: ProjectConfig, model: ModelSpec) -> tuple[dict[str, Bins], str]:
    table = lake_of(config).table(REFERENCE_BINS)
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
    table = lake_of(config).table(name)
    if not delta.exists(table):
        raise LookupError(f"table {table} does not exist; run the guards for {day} first")
    return delta.scan(table).filter(pl.col("day") == day).drop("day").collect()


def profile_day(config: ProjectConfig, model: ModelSpec, day: date) -> DayProfiles:
    """Profile one day per model version — features and outputs on the validated rows only, guard failure flags
    on every row — and replace that day's feature and output profiles."""
    bins, bins_version = load_model_bins(config, model)
    active = active_definitions(config, model, day)
    validated = with_derived(_read_day(config, validated_table(model), day), model, active)
    quarantined = _read_day(config, quarantine_table(model), day).drop(REASONS)
    every_row = pl.concat([validated.select(quarantined.columns), quarantined])
    features = _profile_rows(validated, model, bins, ("feature",), day, bins_version, active)
    outputs = pl.concat(
        [
            _profile_rows(validated, model, bins, ("output", "prompt"), day, bins_version, active),
            _profile_rows(every_row, model, bins, ("guard",), day, bins_version, active),
        ]
    )
    lake = lake_of(config)
    partition = {"model_name": model.name, "day": day}
    written = (
        delta.write_partition(lake.table(FEATURE_PROFILES), features, partition),
        delta.write_partition(lake.table(OUTPUT_PROFILES), outputs, partition),
    )
    versions = {name: version for name, (version, _) in active.items()}
    return DayProfiles(features, outputs, validated.height, quarantined.height, bins_version, versions, written)


def profile_versions(config: ProjectConfig) -> dict[str, int | None]:
    """The current Delta version of each profile table (None: not written yet)."""
    return {name: delta.version(lake_of(config).table(name)) for name in (FEATURE_PROFILES, OUTPUT_PROFILES)}


def read_profiles(
    config: ProjectConfig, model: ModelSpec, days: list[date], versions: dict[str, int | None] | None = None
) -> pl.DataFrame:
    """The model's profile rows of `days`, at the given Delta versions of the profile tables (default: now)."""
    versions = versions or profile_versions(config)
    frames = []
    for name, version in versions.items():
        if version is not None:
            scan = delta.scan(lake_of(config).table(name), version)
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


def drift_day(config: ProjectConfig, model: ModelSpec, day: date) -> DayDrift:
    """Compare one day's profiles with the merged profiles of its reference window; replace that day's report."""
    bins, bins_version = load_model_bins(config, model)
    reference_days = [d for d in model.reference.days_for(day) if d >= model.start_date and d != day]
    read_versions = profile_versions(config)
    profiles = read_profiles(config, model, [*reference_days, day], read_versions)
    profiles = profiles.filter(pl.col("bins_version") == bins_version)
    active = active_definitions(config, model, day)
    current_rows = profiles.filter(pl.col("day") == day)
    if current_rows.is_empty():
        raise LookupError(
            f"no profiles of model {model.name} for {day}; materialize {model.name}/feature_profiles first"
        )
    reference_rows = profiles.filter(pl.col("day") != day)
    found = sorted(set(reference_rows["day"].to_list()))
    report = compare_profiles(
        merge_rows(reference_rows, bins),
        merge_rows(current_rows, bins),
        bins,
        roles={c.name: c.role for c in model.columns},
        settings={c.name: model.settings_for(c.name) for c in model.columns}
        | definitions.drift_overrides(active, model),
    )
    versions = sorted(v for v in current_rows["model_version"].unique().to_list() if v is not None)
    frame = report.to_frame().with_columns(
        pl.lit(model.name).alias("model_name"),
        pl.lit(day).alias("day"),
        pl.lit(model.reference.describe()).alias("reference"),
        pl.lit(found[0] if found else None, pl.Date).alias("reference_start"),
        pl.lit(found[-1] if found else None, pl.Date).alias("reference_end"),
        pl.lit(len(found), pl.Int64).alias("reference_days"),
        pl.lit(len(reference_days), pl.Int64).alias("reference_days_expected"),
        pl.lit(",".join(versions)).alias("model_versions"),
        pl.lit(bins_version).alias("bins_version"),
        _definition_versions(active),
    )
    frame = frame.select("model_name", "day", *[c for c in frame.columns if c not in ("model_name", "day")])
    written = delta.write_partition(lake_of(config).table(DRIFT_REPORT), frame, {"model_name": model.name, "day": day})
    active_versions = {name: version for name, (version, _) in active.items()}
    return DayDrift(report, frame, reference_days, found, read_versions, active_versions, written)
