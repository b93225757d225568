"""The profiles stage: mergeable daily profiles of features and outputs (validated rows) and guard flags (every
row), on the frozen bins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from monitoring_pipeline.core.bins import Bins
from monitoring_pipeline.core.config import ModelSpec, ProjectConfig
from monitoring_pipeline.core.contract import VERSION
from monitoring_pipeline.core.drift import text
from monitoring_pipeline.core.drift.registry import INPUT_ROLES
from monitoring_pipeline.core.drift.segments import SEGMENT_COLUMN, SEGMENT_VALUE, segment_of
from monitoring_pipeline.core.drift.text import TextProfile
from monitoring_pipeline.core.guards.evaluate import REASONS
from monitoring_pipeline.core.profile import PROFILE_SCHEMA, empty_profile, profile_frame
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.registry import definitions
from monitoring_pipeline.steps.bins import load_model_bins, load_reconstruction
from monitoring_pipeline.steps.features import (
    DEFINITION_VERSION,
    ActiveDefinitions,
    active_definitions,
    definition_versions,
    with_derived,
)
from monitoring_pipeline.steps.guards import stored_day

PROFILE_KEYS: dict[str, pl.DataType] = {
    "model_name": pl.String(),
    "day": pl.Date(),
    "model_version": pl.String(),
    "role": pl.String(),
    "bins_version": pl.String(),
}


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
            definition_versions(active),
        )
        .select(*PROFILE_KEYS, *PROFILE_SCHEMA, DEFINITION_VERSION)
        .cast(PROFILE_KEYS)
    )


def profile_day(config: ProjectConfig, model: ModelSpec, day: date) -> DayProfiles:
    """Profile one day per model version — features and outputs on the validated rows only, guard failure flags
    on every row — and replace that day's feature and output profiles."""
    bins, bins_version = load_model_bins(config, model)
    active = active_definitions(config, model, day)
    reconstruction = load_reconstruction(config, model)
    validated = with_derived(stored_day(config, catalog.validated_table(model), day), model, active, reconstruction)
    quarantined = stored_day(config, catalog.quarantine_table(model), day).drop(REASONS)
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
    if model.segments:
        segments = _segment_rows(validated, model, bins, day, bins_version)
        delta.write_partition(lake.table(catalog.SEGMENT_PROFILES), segments, partition)
    if text_columns(model):
        delta.write_partition(lake.table(catalog.TEXT_PROFILES), _text_rows(validated, model, day), partition)
    versions = definitions.versions_of(active)
    return DayProfiles(features, outputs, validated.height, quarantined.height, bins_version, versions, written)


SEGMENT_KEYS: dict[str, pl.DataType] = {
    "model_name": pl.String(),
    "day": pl.Date(),
    SEGMENT_COLUMN: pl.String(),
    SEGMENT_VALUE: pl.String(),
    "role": pl.String(),
    "bins_version": pl.String(),
}


def _segment_rows(
    valid: pl.DataFrame, model: ModelSpec, bins: dict[str, Bins], day: date, bins_version: str
) -> pl.DataFrame:
    """The features' and outputs' profiles per value of each segment column (all model versions together)."""
    columns = model.columns_with_role(*INPUT_ROLES, "output", "prompt")
    selected = {c.name: bins[c.name] for c in columns}
    frames = [pl.DataFrame(schema={**SEGMENT_KEYS, **PROFILE_SCHEMA})]
    for segment in model.segments if valid.height else ():
        rows = profile_frame(
            valid.with_columns(segment_of(segment, bins[segment]).alias(SEGMENT_VALUE)), selected, [SEGMENT_VALUE]
        )
        frames.append(
            rows.with_columns(
                pl.lit(model.name).alias("model_name"),
                pl.lit(day).alias("day"),
                pl.lit(segment).alias(SEGMENT_COLUMN),
                pl.col("column")
                .replace_strict({c.name: c.role for c in columns}, return_dtype=pl.String)
                .alias("role"),
                pl.lit(bins_version).alias("bins_version"),
            )
            .select(*SEGMENT_KEYS, *PROFILE_SCHEMA)
            .cast(SEGMENT_KEYS)
        )
    return pl.concat(frames)


def read_segment_profiles(config: ProjectConfig, model: ModelSpec, days: list[date]) -> pl.DataFrame:
    """The model's segment profile rows of `days`."""
    rows = catalog.day_rows(config, catalog.SEGMENT_PROFILES, model.name, days=days)
    return rows.collect() if rows is not None else pl.DataFrame(schema={**SEGMENT_KEYS, **PROFILE_SCHEMA})


TEXT_KEYS: dict[str, pl.DataType] = {
    "model_name": pl.String(),
    "day": pl.Date(),
    "column": pl.String(),
    "role": pl.String(),
}


def text_columns(model: ModelSpec) -> dict[str, str]:
    """The model's text columns judged for text drift, by role: its output text and its prompt."""
    return {c: role for c, role in ((model.text_output, "output"), (model.prompt_text, "prompt")) if c}


def _text_rows(valid: pl.DataFrame, model: ModelSpec, day: date) -> pl.DataFrame:
    """One hashed n-gram profile per text column (`core.drift.text`), of the validated rows."""
    rows = [
        {
            "model_name": model.name,
            "day": day,
            "column": column,
            "role": role,
            **text.to_row(
                text.text_profile(valid[column] if column in valid.columns else pl.Series(column, [], pl.String))
            ),
        }
        for column, role in text_columns(model).items()
    ]
    return pl.DataFrame(rows, schema={**TEXT_KEYS, **text.ROW_SCHEMA}, orient="row")


def read_text_profiles(
    config: ProjectConfig, model: ModelSpec, days: list[date]
) -> dict[tuple[date, str], TextProfile]:
    """The model's text profiles of `days`, by (day, column), hashed as this version hashes."""
    rows = catalog.day_rows(config, catalog.TEXT_PROFILES, model.name, days=days) if text_columns(model) else None
    if rows is None:
        return {}
    stored = rows.filter(pl.col("hashing") == text.HASHING).collect()
    return {(r["day"], r["column"]): text.from_row(r) for r in stored.iter_rows(named=True)}


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
    frames = [
        catalog.day_rows(config, name, model.name, days=days, version=version).collect()
        for name, version in versions.items()
        if version is not None
    ]
    empty = pl.DataFrame(schema={**PROFILE_KEYS, **PROFILE_SCHEMA, DEFINITION_VERSION: pl.Int64()})
    return pl.concat(frames) if frames else empty
