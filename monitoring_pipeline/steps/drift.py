"""The drift_report stage: one day's profiles against the merged profiles of its reference window."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import polars as pl

from monitoring_pipeline.core.bins import Bins
from monitoring_pipeline.core.config import ModelSpec, ProjectConfig
from monitoring_pipeline.core.contract import FEATURE_MISSING, missing_features
from monitoring_pipeline.core.drift import text
from monitoring_pipeline.core.drift.compare import (
    MIN_CALIBRATION_DAYS,
    REPORT_SCHEMA,
    DriftReport,
    DriftSettings,
    calibrate,
    column_verdicts,
    compare_profiles,
    noise_bands,
    settings_from_json,
    settings_to_json,
    with_bands,
)
from monitoring_pipeline.core.drift.registry import TEXT_METHOD
from monitoring_pipeline.core.drift.segments import SEGMENT_COLUMN, SEGMENT_VALUE, explained_shares
from monitoring_pipeline.core.drift.text import TextProfile
from monitoring_pipeline.core.errors import MissingInputError
from monitoring_pipeline.core.profile import ColumnProfile, merge_rows
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.registry import definitions
from monitoring_pipeline.steps.bins import load_model_bins
from monitoring_pipeline.steps.features import ActiveDefinitions, active_definitions, definition_versions
from monitoring_pipeline.steps.profiles import (
    profile_versions,
    read_profiles,
    read_segment_profiles,
    read_text_profiles,
    text_columns,
)


@dataclass(frozen=True)
class DayDrift:
    report: DriftReport
    frame: pl.DataFrame
    verdicts: pl.DataFrame  # one row per column (`column_verdicts`), as stored in reports/drift_verdicts
    reference_days: list[date]
    reference_days_found: list[date]
    profile_versions: dict[str, int | None]  # Delta version of each profile table read
    definition_versions: dict[str, int]
    written: int  # Delta version of the report commit
    reference: dict[str, ColumnProfile]  # the reference window's merged profiles, by column
    current: dict[str, ColumnProfile]  # the day's merged profiles, by column
    bins: dict[str, Bins]
    segments: pl.DataFrame  # one verdict per segment and column (`segment_drift`), as stored in reports/segment_drift
    texts: pl.DataFrame  # the n-grams separating each warning or drifting text column, as stored in reports/text_drift

    def worst(self, roles: tuple[str, ...], limit: int) -> WorstDrift:
        """The day's most drifting columns of `roles`, from what this run held (nothing is read again)."""
        return WorstDrift(_rank_worst(self.verdicts, roles, limit), self.reference, self.current, self.bins)


def reference_days(model: ModelSpec, day: date) -> list[date]:
    """The days `day` is compared against: its reference window, within the model's life, without `day` itself."""
    return [d for d in model.reference.days_for(day) if d >= model.start_date and d != day]


def ordinary_days(model: ModelSpec, day: date) -> dict[date, list[date]]:
    """The ordinary days whose differences calibrate `day`'s thresholds, each with the days it is judged against.
    A fixed window teaches with every one of its days, each against its own reference (the same weekday with
    `match_weekday`), so a training day is judged exactly as the thresholds learned it; a moving window teaches
    with its own days, each against the others."""
    if model.reference.kind == "fixed":
        return {d: reference_days(model, d) for d in model.reference.span() if d >= model.start_date}
    window = reference_days(model, day)
    return {d: [p for p in window if p != d] for d in window}


def window_of(model: ModelSpec, day: date) -> list[date]:
    """The rolling window ending `day` (its `drift_window` days), or none: the model judges days only, or the
    window reaches before the model's start or into its training days (which are in-sample)."""
    days = [day - timedelta(days=i) for i in range(model.drift_window - 1, -1, -1)]
    if model.drift_window < 2 or days[0] < model.start_date or model.training_days() & set(days):
        return []
    return days


def window_reference(model: ModelSpec, window: list[date]) -> list[date]:
    """What a window is judged against: its days' reference days together, without the window's own."""
    return sorted({r for d in window for r in reference_days(model, d)} - set(window))


def ordinary_windows(model: ModelSpec, window: list[date]) -> list[tuple[date, ...]]:
    """Blocks of consecutive ordinary days as long as `window`, whose differences calibrate the window's
    thresholds (each block is judged against the others): a fixed window's days, else the window's reference."""
    fixed = model.reference.kind == "fixed"
    pool = sorted(ordinary_days(model, window[-1])) if fixed else window_reference(model, window)
    size = len(window)
    return [tuple(pool[i : i + size]) for i in range(0, len(pool) - size + 1, size)]


def _needed(model: ModelSpec, day: date) -> list[date]:
    """Every day whose profiles judging `day` reads."""
    window = window_of(model, day)
    blocks = [d for block in ordinary_windows(model, window) for d in block] if window else []
    days = {*reference_days(model, day), *ordinary_days(model, day), day, *window, *blocks}
    return sorted(days | set(window_reference(model, window)) if window else days)


def drift_day(config: ProjectConfig, model: ModelSpec, day: date) -> DayDrift:
    """Compare one day's profiles with the merged profiles of its reference window; replace that day's report."""
    bins, bins_version = load_model_bins(config, model)
    expected = reference_days(model, day)
    read_versions = profile_versions(config)
    needed = _needed(model, day)
    profiles = read_profiles(config, model, needed, read_versions)
    texts = read_text_profiles(config, model, needed)
    active = active_definitions(config, model, day)
    missing = _features_missing(_log_schema(config, model), model, active)
    judged = _judge(model, day, profiles, texts, bins, bins_version, active, missing)
    partition = {"model_name": model.name, "day": day}
    written = delta.write_partition(  # evolving: a report written before rolling windows gains their columns
        catalog.table(config, catalog.DRIFT_REPORT), judged.frame, partition, True
    )
    verdicts = column_verdicts(judged.frame)
    delta.write_partition(catalog.table(config, catalog.DRIFT_VERDICTS), verdicts, partition, True)
    segments = segment_drift(config, model, day, bins, bins_version, active, missing, verdicts)
    if model.segments:
        delta.write_partition(catalog.table(config, catalog.SEGMENT_DRIFT), segments, partition)
    if text_columns(model):
        delta.write_partition(catalog.table(config, catalog.TEXT_DRIFT), judged.separating, partition)
    return DayDrift(
        judged.report,
        judged.frame,
        verdicts,
        expected,
        judged.found,
        read_versions,
        definitions.versions_of(active),
        written,
        judged.reference,
        judged.current,
        bins,
        segments,
        judged.separating,
    )


SEGMENT_MIN_SAMPLE = 200  # rows of a segment on each side before it is judged: below, its histogram is noise
SEGMENT_SETTINGS_FORMAT = 1  # bump when how segments learn their settings changes: stored ones are learned again
SETTINGS_SCHEMA: dict[str, pl.DataType] = {
    "model_name": pl.String(),
    "key": pl.String(),
    SEGMENT_COLUMN: pl.String(),
    SEGMENT_VALUE: pl.String(),
    "settings": pl.String(),
}
SEGMENT_SCHEMA: dict[str, pl.DataType] = {
    "model_name": pl.String(),
    "day": pl.Date(),
    SEGMENT_COLUMN: pl.String(),
    SEGMENT_VALUE: pl.String(),
    "column": pl.String(),
    "role": pl.String(),
    "verdict": pl.String(),
    "method": pl.String(),
    "value": pl.Float64(),
    "threshold": pl.Float64(),
    "size": pl.Float64(),
    "n_reference": pl.Int64(),
    "n_current": pl.Int64(),
    "explains": pl.Float64(),
    "model_verdict": pl.String(),
    "only_here": pl.Boolean(),
}


def segment_drift(
    config: ProjectConfig,
    model: ModelSpec,
    day: date,
    bins: dict[str, Bins],
    bins_version: str,
    active: ActiveDefinitions,
    missing: set[str],
    model_verdicts: pl.DataFrame,
) -> pl.DataFrame:
    """Each segment's features and outputs judged like the model's (see `core.drift.segments`): its day against its
    reference days, thresholds calibrated on its own ordinary days, nothing below `min_sample`; with the share of
    each column's model-level shift it explains, and whether it drifts where the whole model does not."""
    if not model.segments:
        return pl.DataFrame(schema=SEGMENT_SCHEMA)
    peers, expected = ordinary_days(model, day), reference_days(model, day)
    rows = read_segment_profiles(config, model, sorted({*expected, *peers, day}))
    rows = rows.filter(pl.col("bins_version") == bins_version)
    roles = {c.name: c.role for c in model.columns}
    sides: dict[tuple[str, str], tuple[dict, dict]] = {}  # (segment column, column) -> per value: reference, current
    frames = []
    stored = _stored_segment_settings(config, model)
    used: dict[str, tuple[str, str, dict[str, DriftSettings]]] = {}  # key -> segment column, value, settings
    for (segment, value), part in rows.group_by(SEGMENT_COLUMN, SEGMENT_VALUE, maintain_order=True):
        current = merge_rows(part.filter(pl.col("day") == day), bins)
        if not current:
            continue
        reference = merge_rows(part.filter(pl.col("day").is_in(expected)), bins)
        ordinary = part.filter(pl.col("day").is_in(list(peers)))
        key = _segment_key(model, active, ordinary, peers, bins, (segment, value))
        settings = stored.get(key) or _segment_settings(model, active, ordinary, peers, bins, roles)
        used[key] = (segment, value, settings)
        judged = {c: bins[c] for c in current}
        report = _mark_missing(compare_profiles(reference, current, judged, roles, settings), missing)
        frames.append(
            column_verdicts(report.to_frame()).with_columns(
                pl.lit(segment).alias(SEGMENT_COLUMN), pl.lit(value).alias(SEGMENT_VALUE)
            )
        )
        for column in judged:
            ref_side, cur_side = sides.setdefault((segment, column), ({}, {}))
            cur_side[value] = current[column]
            if column in reference:
                ref_side[value] = reference[column]
    if set(used) - set(stored):  # some were learned: keep this run's in place of the model's earlier ones
        _store_segment_settings(config, model, used)
    if not frames:
        return pl.DataFrame(schema=SEGMENT_SCHEMA)
    explains = [
        {SEGMENT_COLUMN: segment, "column": column, SEGMENT_VALUE: value, "explains": share}
        for (segment, column), (ref_side, cur_side) in sides.items()
        for value, share in explained_shares(ref_side, cur_side).items()
    ]
    shares = pl.DataFrame(
        explains,
        schema={SEGMENT_COLUMN: pl.String, "column": pl.String, SEGMENT_VALUE: pl.String, "explains": pl.Float64},
    )
    whole = model_verdicts.select("column", pl.col("verdict").alias("model_verdict"))
    return (
        pl.concat(frames)
        .join(shares, on=[SEGMENT_COLUMN, "column", SEGMENT_VALUE], how="left")
        .join(whole, on="column", how="left")
        .with_columns(
            pl.lit(model.name).alias("model_name"),
            pl.lit(day).alias("day"),
            ((pl.col("verdict") == "drift") & (pl.col("model_verdict") != "drift")).alias("only_here"),
        )
        .select(*SEGMENT_SCHEMA)
        .cast(SEGMENT_SCHEMA)
        .sort(SEGMENT_COLUMN, "column", pl.col("explains").fill_null(0), descending=[False, False, True])
    )


def _segment_settings(
    model: ModelSpec,
    active: ActiveDefinitions,
    ordinary: pl.DataFrame,
    peers: dict[date, list[date]],
    bins: dict[str, Bins],
    roles: dict[str, str],
) -> dict[str, DriftSettings]:
    """A segment's settings, calibrated on its own ordinary days, judged from SEGMENT_MIN_SAMPLE rows."""
    learned = _learned_settings(model, active, ordinary, peers, bins, roles)
    return {c: replace(s, min_sample=max(s.min_sample, SEGMENT_MIN_SAMPLE)) for c, s in learned.items()}


def _segment_key(
    model: ModelSpec,
    active: ActiveDefinitions,
    ordinary: pl.DataFrame,
    peers: dict[date, list[date]],
    bins: dict[str, Bins],
    segment: tuple[str, str],
) -> str:
    """What a segment's settings are learned from, hashed: the segment, its ordinary days and their profiles, the
    definitions and drift settings in force, the bins' columns (and the Polars version hashing the profiles)."""
    parts = (
        SEGMENT_SETTINGS_FORMAT,
        model.name,
        segment,
        sorted((d.isoformat(), [p.isoformat() for p in others]) for d, others in peers.items()),
        sorted(definitions.versions_of(active).items()),
        sorted((c, repr(s)) for c, s in _configured_settings(model, active).items()),
        int(ordinary.sort("day", "column").hash_rows().sum()),
        sorted(bins),
        pl.__version__,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _stored_segment_settings(config: ProjectConfig, model: ModelSpec) -> dict[str, dict[str, DriftSettings]]:
    rows = catalog.day_rows(config, catalog.SEGMENT_SETTINGS, model.name)
    stored = rows.select("key", "settings").collect() if rows is not None else pl.DataFrame()
    return {key: settings_from_json(text) for key, text in stored.iter_rows()}


def _store_segment_settings(
    config: ProjectConfig, model: ModelSpec, used: dict[str, tuple[str, str, dict[str, DriftSettings]]]
) -> None:
    """The settings a run used, replacing the model's stored ones: a fixed reference learns once, a moving one
    each night (the table holds one night's worth)."""
    rows = [
        {
            "model_name": model.name,
            "key": key,
            SEGMENT_COLUMN: segment,
            SEGMENT_VALUE: value,
            "settings": settings_to_json(settings),
        }
        for key, (segment, value, settings) in used.items()
    ]
    frame = pl.DataFrame(rows, schema=SETTINGS_SCHEMA, orient="row")
    delta.write_partition(catalog.table(config, catalog.SEGMENT_SETTINGS), frame, {"model_name": model.name})


def rejudge(config: ProjectConfig, model: ModelSpec, first: date, last: date) -> tuple[pl.DataFrame, list[date]]:
    """The drift report rows of the days from `first` to `last` judged again from the stored profiles under
    `config`'s settings (a what-if config: other thresholds, methods, windows), without writing anything; and the
    days that have no profiles to judge. One read of the profiles for the whole range."""
    bins, bins_version = load_model_bins(config, model)
    days = [d for d in _days(first, last) if d >= model.start_date and (not model.end_date or d < model.end_date)]
    needed = {day: _needed(model, day) for day in days}
    every = sorted({d for day in days for d in needed[day]})
    profiles, texts = read_profiles(config, model, every), read_text_profiles(config, model, every)
    schema = _log_schema(config, model)
    frames, skipped, settings = [], [], {}  # days sharing ordinary days share their settings
    for day in days:
        rows = profiles.filter(pl.col("day").is_in(needed[day]))
        active = active_definitions(config, model, day)
        missing = _features_missing(schema, model, active)
        try:
            frames.append(_judge(model, day, rows, texts, bins, bins_version, active, missing, settings).frame)
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
    separating: pl.DataFrame  # TEXT_DRIFT_SCHEMA rows


def _judge(
    model: ModelSpec,
    day: date,
    profiles: pl.DataFrame,
    texts: dict[tuple[date, str], TextProfile],
    bins: dict[str, Bins],
    bins_version: str,
    active: ActiveDefinitions,
    missing: set[str],
    known: dict[tuple, Any] | None = None,
) -> _Judged:
    """Judge `day` against its reference days, both read from `profiles` (rows of other bins are ignored), with
    settings calibrated on the ordinary days, and the rolling window ending `day` against its own reference; the
    text columns from `texts` the same way (`_judge_texts`).
    `known` keeps what days judged in a row share (the settings learned from a set of ordinary days, a window's
    merged reference)."""
    known = {} if known is None else known
    profiles = profiles.filter(pl.col("bins_version") == bins_version)
    current_rows = profiles.filter(pl.col("day") == day)
    if current_rows.is_empty():
        raise MissingInputError(
            f"no profiles of model {model.name} for {day}; materialize {model.name}/feature_profiles first"
        )
    reference_rows = profiles.filter(pl.col("day").is_in(reference_days(model, day)))
    found = sorted(set(reference_rows["day"].to_list()))
    roles = {c.name: c.role for c in model.columns}
    peers = ordinary_days(model, day)
    ordinary = profiles.filter(pl.col("day").is_in(list(peers)))
    learned_from = (tuple(sorted(set(ordinary["day"].to_list()))), tuple(definitions.versions_of(active).items()))
    if learned_from not in known:
        known[learned_from] = _learned_settings(model, active, ordinary, peers, bins, roles)
    settings = known[learned_from]
    reference, current = merge_rows(reference_rows, bins), merge_rows(current_rows, bins)
    report = _mark_missing(compare_profiles(reference, current, bins, roles=roles, settings=settings), missing)
    versions = sorted(v for v in current_rows["model_version"].unique().to_list() if v is not None)
    text_rows, separating = _judge_texts(model, day, texts, known)
    frame = pl.concat([report.to_frame(), text_rows]).join(
        _window_rows(model, day, profiles, bins, active, missing, known),
        on=["column", "method"],
        how="left",
    )
    frame = frame.with_columns(
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
    return _Judged(report, frame, found, reference, current, separating)


TEXT_DRIFT_SCHEMA: dict[str, pl.DataType] = {
    "model_name": pl.String(),
    "day": pl.Date(),
    "column": pl.String(),
    "role": pl.String(),
    "rank": pl.Int64(),
    "ngram": pl.String(),
    "reference": pl.Float64(),
    "current": pl.Float64(),
    "share": pl.Float64(),
}


def _judge_texts(
    model: ModelSpec, day: date, texts: dict[tuple[date, str], TextProfile], known: dict[tuple, Any]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each text column profiled that day (`core.drift.text`) against its reference days: report rows (method
    ngram_mmd, thresholds raised beyond the ordinary days' own range unless `calibrate` is off) and the n-grams
    separating the columns that warn or drift."""
    peers, expected = ordinary_days(model, day), reference_days(model, day)
    rows, separating = [], []
    for column, role in text_columns(model).items():
        if (day, column) not in texts:
            continue  # profiled before text drift existed: nothing to judge
        days = {d: p for (d, c), p in texts.items() if c == column}
        setting = model.settings_for(column)
        fixed = setting.thresholds.get(TEXT_METHOD, text.FIXED)
        key = ("text", column, tuple(sorted(set(peers) & set(days))), fixed, setting.calibrate)
        if key not in known:
            known[key] = text.text_thresholds(text.ordinary_values(days, peers), fixed) if setting.calibrate else fixed
        reference = text.merge_text(days[d] for d in expected if d in days)
        verdict = text.judge_text(reference, days[day], known[key], setting.min_sample)
        rows.append(
            {
                "column": column,
                "role": role,
                "kind": text.KIND,
                "method": TEXT_METHOD,
                "value": verdict.value,
                "threshold_warn": verdict.thresholds.warn,
                "threshold": verdict.thresholds.drift,
                "status": verdict.status,
                "decisive": True,
                "verdict": verdict.status,
                "n_reference": verdict.n_reference,
                "n_current": verdict.n_current,
            }
        )
        separating += [
            {"model_name": model.name, "day": day, "column": column, "role": role, "rank": i, **vars(s)}
            for i, s in enumerate(verdict.separating, 1)
        ]
    return (
        pl.DataFrame(rows, schema=REPORT_SCHEMA, orient="row"),
        pl.DataFrame(separating, schema=TEXT_DRIFT_SCHEMA, orient="row"),
    )


WINDOW_SCHEMA: dict[str, pl.DataType] = {
    "column": pl.String(),
    "method": pl.String(),
    "window_start": pl.Date(),
    "window_value": pl.Float64(),
    "window_threshold_warn": pl.Float64(),
    "window_threshold": pl.Float64(),
    "window_decisive": pl.Boolean(),
    "window_verdict": pl.String(),
}


def _window_rows(
    model: ModelSpec,
    day: date,
    profiles: pl.DataFrame,
    bins: dict[str, Bins],
    active: ActiveDefinitions,
    missing: set[str],
    known: dict[tuple, Any],
) -> pl.DataFrame:
    """The rolling window ending `day` judged against its reference, one row per (column, method): for the
    calibrated columns, once most days of the window have profiles and there are MIN_CALIBRATION_DAYS such
    ordinary blocks to learn the window's thresholds from (none otherwise: an uncalibrated window would only repeat the
    days' verdicts less sharply)."""
    window = window_of(model, day)
    have = set(profiles["day"].to_list())
    if not window or not _enough(window, have):
        return pl.DataFrame(schema=WINDOW_SCHEMA)
    blocks = [b for b in ordinary_windows(model, window) if _enough(b, have)]
    key = ("window", tuple(blocks), tuple(definitions.versions_of(active).items()))
    if key not in known:
        known[key] = _window_settings(model, active, profiles, blocks, bins)
    settings = known[key]
    judged = {c: b for c, b in bins.items() if c in settings and c not in missing}
    if not judged:
        return pl.DataFrame(schema=WINDOW_SCHEMA)
    reference_days_ = window_reference(model, window)
    ref_key = ("window reference", tuple(reference_days_))
    if ref_key not in known:
        known[ref_key] = merge_rows(profiles.filter(pl.col("day").is_in(reference_days_)), bins)
    current = merge_rows(profiles.filter(pl.col("day").is_in(window)), bins)
    roles = {c.name: c.role for c in model.columns}
    report = compare_profiles(known[ref_key], current, judged, roles=roles, settings=settings)
    return (
        report.to_frame()
        .select(
            "column",
            "method",
            pl.lit(window[0]).alias("window_start"),
            pl.col("value").alias("window_value"),
            pl.col("threshold_warn").alias("window_threshold_warn"),
            pl.col("threshold").alias("window_threshold"),
            pl.col("decisive").alias("window_decisive"),
            pl.col("verdict").alias("window_verdict"),
        )
        .cast(WINDOW_SCHEMA)
    )


def _enough(days: Sequence[date], have: set[date]) -> bool:
    """Whether most of a window's calendar days have profiles (a shop closed on Sundays still has windows)."""
    return 2 * len(have.intersection(days)) > len(days)


def _window_settings(
    model: ModelSpec,
    active: ActiveDefinitions,
    profiles: pl.DataFrame,
    blocks: list[tuple[date, ...]],
    bins: dict[str, Bins],
) -> dict[str, DriftSettings]:
    """The window's settings of the calibrated columns (without `band_k`), learned from how the ordinary blocks
    differ; empty below MIN_CALIBRATION_DAYS blocks."""
    configured = _configured_settings(model, active)
    columns = [c for c in bins if configured[c].calibrate and configured[c].band_k is None]
    if len(blocks) < MIN_CALIBRATION_DAYS or not columns:
        return {}
    per_block = {b: merge_rows(profiles.filter(pl.col("day").is_in(list(b))), bins) for b in blocks}
    peers = {b: [o for o in blocks if o != b] for b in blocks}
    roles = {c.name: c.role for c in model.columns}
    learned = calibrate(per_block, peers, bins, roles, configured)
    return {c: learned[c] for c in columns}


def _log_schema(config: ProjectConfig, model: ModelSpec) -> pl.Schema | None:
    table = catalog.log_table(config, model)
    return delta.scan(table).collect_schema() if delta.exists(table) else None


def _features_missing(schema: pl.Schema | None, model: ModelSpec, active: ActiveDefinitions) -> set[str]:
    """The features the log (of `schema`) no longer has, or whose definition in force does not compute on it."""
    if schema is None:
        return set()
    return set(missing_features(schema, model)) | set(definitions.broken_definitions(active, model, schema))


def _mark_missing(report: DriftReport, missing: set[str]) -> DriftReport:
    """Features the log no longer has get the verdict FEATURE_MISSING (their null stand-in reads `undefined`)."""
    return DriftReport(tuple(replace(c, verdict=FEATURE_MISSING) if c.column in missing else c for c in report.columns))


@dataclass(frozen=True)
class WorstDrift:
    """A day's most drifting columns (`column_verdicts` rows that warn or drift with a deciding method, largest
    `size` = value / threshold first), with the merged reference and current profiles to picture them."""

    ranked: pl.DataFrame
    reference: dict[str, Any]
    current: dict[str, Any]
    bins: dict[str, Bins]


def worst_drift(config: ProjectConfig, model: ModelSpec, day: date, roles: tuple[str, ...], limit: int) -> WorstDrift:
    """A stored day's most drifting columns (`DayDrift.worst` for the day just judged)."""
    report = catalog.day_rows(config, catalog.DRIFT_REPORT, model.name, days=day)
    if report is None:
        return WorstDrift(pl.DataFrame(), {}, {}, {})
    ranked = _rank_worst(column_verdicts(report.collect()), roles, limit)
    if ranked.is_empty():
        return WorstDrift(ranked, {}, {}, {})
    bins, bins_version = load_model_bins(config, model)
    profiles = read_profiles(config, model, [*reference_days(model, day), day]).filter(
        pl.col("bins_version") == bins_version
    )
    reference = merge_rows(profiles.filter(pl.col("day") != day), bins)
    return WorstDrift(ranked, reference, merge_rows(profiles.filter(pl.col("day") == day), bins), bins)


def _rank_worst(verdicts: pl.DataFrame, roles: tuple[str, ...], limit: int) -> pl.DataFrame:
    return (
        verdicts.filter(
            pl.col("role").is_in(roles),
            pl.col("verdict").is_in(["drift", "warn"]),
            pl.col("method").is_not_null(),
            pl.col("kind") != text.KIND,  # pictured from bins; a text column is explained by its n-grams
        )
        .sort("size", descending=True, nulls_last=True, maintain_order=True)
        .head(limit)
    )


def _learned_settings(
    model: ModelSpec,
    active: ActiveDefinitions,
    ordinary: pl.DataFrame,
    peers: dict[date, list[date]],
    bins: dict[str, Bins],
    roles: dict[str, str],
) -> dict[str, DriftSettings]:
    """Each column's settings: the config's, a definition's overrides, then what the ordinary days' profiles
    teach (the `band_k` bands, the calibration on how the days differ)."""
    settings = _configured_settings(model, active)
    banded = any(s.band_k is not None for s in settings.values())
    found = ordinary["day"].n_unique()
    if banded or (found >= MIN_CALIBRATION_DAYS and any(s.calibrate for s in settings.values())):
        per_day = {d: merge_rows(part, bins) for (d,), part in ordinary.group_by("day")}
        if banded:
            settings = with_bands(settings, noise_bands(per_day, peers, bins, roles, settings))
        settings = calibrate(per_day, peers, bins, roles, settings)
    return settings


def _configured_settings(model: ModelSpec, active: ActiveDefinitions) -> dict[str, DriftSettings]:
    """Each column's settings as configured: the config's, then a feature definition's overrides."""
    return {c.name: model.settings_for(c.name) for c in model.columns} | definitions.drift_overrides(active, model)
