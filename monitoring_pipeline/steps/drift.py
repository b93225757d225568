"""The drift_report stage: one day's profiles against the merged profiles of its reference window."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import polars as pl

from monitoring_pipeline.core.bins import Bins
from monitoring_pipeline.core.config import ModelSpec, ProjectConfig
from monitoring_pipeline.core.contract import FEATURE_MISSING, missing_features
from monitoring_pipeline.core.drift.compare import (
    MIN_CALIBRATION_DAYS,
    DriftReport,
    DriftSettings,
    calibrate,
    compare_profiles,
    noise_bands,
    with_bands,
)
from monitoring_pipeline.core.errors import MissingInputError
from monitoring_pipeline.core.profile import ColumnProfile, merge_rows
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.registry import definitions
from monitoring_pipeline.steps.bins import load_model_bins
from monitoring_pipeline.steps.features import ActiveDefinitions, active_definitions, definition_versions
from monitoring_pipeline.steps.profiles import profile_versions, read_profiles


@dataclass(frozen=True)
class DayDrift:
    report: DriftReport
    frame: pl.DataFrame
    reference_days: list[date]
    reference_days_found: list[date]
    profile_versions: dict[str, int | None]  # Delta version of each profile table read
    definition_versions: dict[str, int]
    written: int  # Delta version of the report commit
    reference: dict[str, ColumnProfile]  # the reference window's merged profiles, by column
    current: dict[str, ColumnProfile]  # the day's merged profiles, by column
    bins: dict[str, Bins]

    def worst(self, roles: tuple[str, ...], limit: int) -> WorstDrift:
        """The day's most drifting columns of `roles`, from what this run held (nothing is read again)."""
        return WorstDrift(_rank_worst(self.frame.lazy(), roles, limit), self.reference, self.current, self.bins)


def reference_days(model: ModelSpec, day: date) -> list[date]:
    """The days `day` is compared against: its reference window, within the model's life, without `day` itself."""
    return [d for d in model.reference.days_for(day) if d >= model.start_date and d != day]


def drift_day(config: ProjectConfig, model: ModelSpec, day: date) -> DayDrift:
    """Compare one day's profiles with the merged profiles of its reference window; replace that day's report."""
    bins, bins_version = load_model_bins(config, model)
    expected = reference_days(model, day)
    read_versions = profile_versions(config)
    profiles = read_profiles(config, model, [*expected, day], read_versions)
    active = active_definitions(config, model, day)
    judged = _judge(model, day, profiles, bins, bins_version, active, _features_missing_now(config, model))
    written = delta.write_partition(
        catalog.table(config, catalog.DRIFT_REPORT), judged.frame, {"model_name": model.name, "day": day}
    )
    return DayDrift(
        judged.report,
        judged.frame,
        expected,
        judged.found,
        read_versions,
        definitions.versions_of(active),
        written,
        judged.reference,
        judged.current,
        bins,
    )


def rejudge(config: ProjectConfig, model: ModelSpec, first: date, last: date) -> tuple[pl.DataFrame, list[date]]:
    """The drift report rows of the days from `first` to `last` judged again from the stored profiles under
    `config`'s settings (a what-if config: other thresholds, methods, windows), without writing anything; and the
    days that have no profiles to judge. One read of the profiles for the whole range."""
    bins, bins_version = load_model_bins(config, model)
    days = [d for d in _days(first, last) if d >= model.start_date and (not model.end_date or d < model.end_date)]
    windows = {day: reference_days(model, day) for day in days}
    profiles = read_profiles(config, model, sorted({d for day in days for d in [*windows[day], day]}))
    missing = _features_missing_now(config, model)
    frames, skipped, settings = [], [], {}  # days sharing a reference window share its settings
    for day in days:
        rows = profiles.filter(pl.col("day").is_in([*windows[day], day]))
        active = active_definitions(config, model, day)
        try:
            frames.append(_judge(model, day, rows, bins, bins_version, active, missing, settings).frame)
        except MissingInputError:
            skipped.append(day)
    return (pl.concat(frames) if frames else pl.DataFrame()), skipped


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@dataclass(frozen=True)
class _Judged:
    report: DriftReport
    frame: pl.DataFrame  # the report's rows as stored
    found: list[date]  # reference days that had profiles
    reference: dict[str, ColumnProfile]
    current: dict[str, ColumnProfile]


def _judge(
    model: ModelSpec,
    day: date,
    profiles: pl.DataFrame,
    bins: dict[str, Bins],
    bins_version: str,
    active: ActiveDefinitions,
    missing: set[str],
    known: dict[tuple, dict[str, DriftSettings]] | None = None,
) -> _Judged:
    """Judge `day` against its reference days, both read from `profiles` (rows of other bins are ignored). `known`
    keeps the settings learned from each reference window, for days judged in a row."""
    profiles = profiles.filter(pl.col("bins_version") == bins_version)
    current_rows = profiles.filter(pl.col("day") == day)
    if current_rows.is_empty():
        raise MissingInputError(
            f"no profiles of model {model.name} for {day}; materialize {model.name}/feature_profiles first"
        )
    reference_rows = profiles.filter(pl.col("day") != day)
    found = sorted(set(reference_rows["day"].to_list()))
    roles = {c.name: c.role for c in model.columns}
    window = (tuple(found), tuple(definitions.versions_of(active).items()))
    settings = (known or {}).get(window) or _learned_settings(model, active, reference_rows, found, bins, roles)
    if known is not None:
        known[window] = settings
    reference, current = merge_rows(reference_rows, bins), merge_rows(current_rows, bins)
    report = _mark_missing(compare_profiles(reference, current, bins, roles=roles, settings=settings), missing)
    versions = sorted(v for v in current_rows["model_version"].unique().to_list() if v is not None)
    frame = report.to_frame().with_columns(
        pl.lit(model.name).alias("model_name"),
        pl.lit(day).alias("day"),
        pl.lit(model.reference.describe()).alias("reference"),
        pl.lit(found[0] if found else None, pl.Date).alias("reference_start"),
        pl.lit(found[-1] if found else None, pl.Date).alias("reference_end"),
        pl.lit(len(found), pl.Int64).alias("reference_days"),
        pl.lit(len(reference_days(model, day)), pl.Int64).alias("reference_days_expected"),
        pl.lit(",".join(versions)).alias("model_versions"),
        pl.lit(bins_version).alias("bins_version"),
        definition_versions(active),
    )
    frame = frame.select("model_name", "day", *[c for c in frame.columns if c not in ("model_name", "day")])
    return _Judged(report, frame, found, reference, current)


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
    """A stored day's most drifting columns (`DayDrift.worst` for the day just judged)."""
    report = catalog.day_rows(config, catalog.DRIFT_REPORT, model.name, days=day)
    if report is None:
        return WorstDrift(pl.DataFrame(), {}, {}, {})
    ranked = _rank_worst(report, roles, limit)
    if ranked.is_empty():
        return WorstDrift(ranked, {}, {}, {})
    bins, bins_version = load_model_bins(config, model)
    profiles = read_profiles(config, model, [*reference_days(model, day), day]).filter(
        pl.col("bins_version") == bins_version
    )
    reference = merge_rows(profiles.filter(pl.col("day") != day), bins)
    return WorstDrift(ranked, reference, merge_rows(profiles.filter(pl.col("day") == day), bins), bins)


def _rank_worst(report: pl.LazyFrame, roles: tuple[str, ...], limit: int) -> pl.DataFrame:
    return (
        report.filter(pl.col("decisive") & pl.col("role").is_in(roles))
        .filter(pl.col("verdict").is_in(["drift", "warn"]) & pl.col("threshold").is_not_null())
        .with_columns((pl.col("value") / pl.col("threshold")).alias("drift_size"))
        .sort("drift_size", descending=True)
        .unique("column", keep="first", maintain_order=True)
        .head(limit)
        .collect()
    )


def _learned_settings(
    model: ModelSpec,
    active: ActiveDefinitions,
    reference_rows: pl.DataFrame,
    found: list[date],
    bins: dict[str, Bins],
    roles: dict[str, str],
) -> dict[str, DriftSettings]:
    """Each column's settings: the config's, a definition's overrides, then what the reference days teach (the
    `band_k` bands, the calibration on how the days differ)."""
    settings = {c.name: model.settings_for(c.name) for c in model.columns} | definitions.drift_overrides(active, model)
    banded = any(s.band_k is not None for s in settings.values())
    if banded or (len(found) >= MIN_CALIBRATION_DAYS and any(s.calibrate for s in settings.values())):
        per_day = {d: merge_rows(part, bins) for (d,), part in reference_rows.group_by("day")}
        if banded:
            settings = with_bands(settings, noise_bands(per_day, bins, roles, settings))
        settings = calibrate(per_day, bins, roles, settings)
    return settings
