"""Drift between two Polars frames (the ad-hoc path behind `monitoring-pipeline drift` and the Python API).

Bins are frozen from the reference frame. KS and Wasserstein are exact on the raw rows up to EXACT_LIMIT values
(both sides together, per column); above it — where an exact merge costs more than the whole rest of the
report — they are computed on LARGE_SAMPLE_BINS reference-quantile bins counted exactly from the sorted values:
KS is then exact at every bin edge and low by at most the largest bin mass (about 1/LARGE_SAMPLE_BINS of the
reference plus the current mass of that bin).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl

from monitoring_pipeline.core.bins import (
    DEFAULT_TOP_K,
    DEFAULT_VOCAB_CAP,
    Bins,
    CategoricalBins,
    categorical_bins_from_counts,
    category_counts,
    fine_counts_sorted,
    numeric_bins_from_sorted,
    quantiles_sorted,
    sorted_arrays,
    sorted_finite_query,
)
from monitoring_pipeline.core.drift.compare import DriftReport, DriftSettings, compare_profiles
from monitoring_pipeline.core.drift.methods import binned_ks_wasserstein, ks_wasserstein_sorted
from monitoring_pipeline.core.drift.registry import ColumnKind
from monitoring_pipeline.core.profile import ColumnProfile, profile_frame, profile_from_row, profile_sorted

CATEGORICAL_DTYPES = (pl.String, pl.Categorical, pl.Enum, pl.Boolean)
EXACT_LIMIT = 2_000_000
GROUP_BYTES = 512 * 2**20  # values of both frames one group of columns holds in memory at once
LARGE_SAMPLE_BINS = 10_000


def column_kind(dtype: pl.DataType, column: str) -> ColumnKind:
    if dtype.is_numeric():
        return ColumnKind.NUMERIC
    if isinstance(dtype, CATEGORICAL_DTYPES):
        return ColumnKind.CATEGORICAL
    raise TypeError(f"column {column!r} has type {dtype}; drift supports numeric, string, categorical and boolean")


def infer_kinds(schema: pl.Schema, columns: Sequence[str]) -> dict[str, ColumnKind]:
    return {c: column_kind(schema[c], c) for c in columns}


ID_NAME = re.compile(r"(?i)(?:^|_)(?:id|uuid|guid)$")
DISTINCT_SAMPLE = 1_000  # text distinct on every one of the reference's first rows: ids or free text


def judgeable(reference: pl.LazyFrame, current: pl.LazyFrame) -> tuple[list[str], dict[str, str]]:
    """The columns both frames share that drift can judge, and those it skips with why: timestamps and dates (two
    windows differ by construction), ids by name (`id`, `*_id`, `*_uuid`), and text distinct on each of the
    reference's first 1,000 rows (ids or free text, not categories)."""
    ref_schema, cur_schema = reference.collect_schema(), current.collect_schema()
    shared = [c for c in ref_schema.names() if c in cur_schema]
    skipped = {c: "a timestamp or date" for c in shared if ref_schema[c].is_temporal()}
    skipped |= {c: "an id" for c in shared if c not in skipped and ID_NAME.search(c)}
    text = [c for c in shared if c not in skipped and ref_schema[c] == pl.String]
    if text:
        head = reference.select(text).head(DISTINCT_SAMPLE).collect()
        if head.height == DISTINCT_SAMPLE:
            skipped |= {c: "an id or free text" for c in text if head[c].n_unique() == DISTINCT_SAMPLE}
    return [c for c in shared if c not in skipped], skipped


def drift_frames(
    reference: pl.DataFrame | pl.LazyFrame,
    current: pl.DataFrame | pl.LazyFrame,
    columns: Sequence[str] | None = None,
    settings: Mapping[str, DriftSettings] | None = None,
    top_k: int = DEFAULT_TOP_K,
) -> DriftReport:
    """Drift of `current` against `reference` for `columns` (default: every column both frames share)."""
    ref_schema, cur_schema = reference.lazy().collect_schema(), current.lazy().collect_schema()
    if columns is None:
        columns = [c for c in ref_schema.names() if c in cur_schema]
    for side, schema in (("reference", ref_schema), ("current", cur_schema)):
        missing = [c for c in columns if c not in schema]
        if missing:
            raise KeyError(f"{side} frame has no column {missing[0]!r} (columns: {schema.names()})")
    kinds = infer_kinds(ref_schema, columns)
    merged: tuple[dict, dict, dict, dict] = ({}, {}, {}, {})  # bins, both sides' profiles, exact KS/Wasserstein
    reference, current = reference.lazy(), current.lazy()
    for group in _column_groups(reference, current, columns):
        for whole, part in zip(merged, _judge_group(reference, current, group, kinds, top_k), strict=True):
            whole.update(part)
    bins, ref_profiles, cur_profiles, exact = merged
    settings = settings or {}
    return compare_profiles(
        ref_profiles,
        cur_profiles,
        bins,
        roles={c: "feature" for c in columns},
        settings={c: settings.get(c, DriftSettings()) for c in columns},
        exact=exact,
    )


def _column_groups(reference: pl.LazyFrame, current: pl.LazyFrame, columns: Sequence[str]) -> list[list[str]]:
    """`columns` in groups whose values (8 bytes a cell of both frames) fit GROUP_BYTES: a wide table is read a
    group of columns at a time, so memory follows the group, not the table."""
    lengths = pl.collect_all([reference.select(pl.len()), current.select(pl.len())])
    cells = sum(frame.item() for frame in lengths)
    width = max(1, GROUP_BYTES // (8 * max(cells, 1)))
    return [list(columns[i : i + width]) for i in range(0, len(columns), width)]


def _judge_group(
    reference: pl.LazyFrame, current: pl.LazyFrame, group: list[str], kinds: dict[str, ColumnKind], top_k: int
) -> tuple[dict[str, Bins], dict[str, ColumnProfile], dict[str, ColumnProfile], dict[str, tuple[float, float]]]:
    """Bins frozen from the reference, both profiles and the exact KS/Wasserstein of one group of columns."""
    reference, current = pl.collect_all([reference.select(group), current.select(group)])
    numeric = [c for c in group if kinds[c] is ColumnKind.NUMERIC]
    categorical = [c for c in group if kinds[c] is ColumnKind.CATEGORICAL]
    ref_sorted, cur_sorted = _sorted_both(reference, current, numeric)
    ref_counts = dict(
        zip(categorical, pl.collect_all([category_counts(reference, c) for c in categorical]), strict=True)
    )
    bins: dict[str, Bins] = {c: numeric_bins_from_sorted(ref_sorted[c]) for c in numeric}
    bins |= {c: categorical_bins_from_counts(ref_counts[c], top_k, DEFAULT_VOCAB_CAP) for c in categorical}
    return (
        bins,
        _profiles(reference, bins, ref_sorted),
        _profiles(current, bins, cur_sorted),
        _exact_ks_wasserstein(numeric, ref_sorted, cur_sorted),
    )


def _sorted_both(
    reference: pl.DataFrame, current: pl.DataFrame, columns: list[str]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    if not columns:
        return {}, {}
    ref_row, cur_row = pl.collect_all([sorted_finite_query(reference, columns), sorted_finite_query(current, columns)])
    return sorted_arrays(ref_row), sorted_arrays(cur_row)


def _exact_ks_wasserstein(
    columns: list[str], reference: dict[str, np.ndarray], current: dict[str, np.ndarray]
) -> dict[str, tuple[float, float]]:
    """KS and Wasserstein per column, in threads (NumPy releases the GIL in these kernels)."""
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        results = pool.map(lambda c: ks_wasserstein(reference[c], current[c]), columns)
        return dict(zip(columns, results, strict=True))


def ks_wasserstein(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Exact on up to EXACT_LIMIT values, else on LARGE_SAMPLE_BINS reference-quantile bins (see module doc)."""
    if len(reference) + len(current) <= EXACT_LIMIT or not len(reference) or not len(current):
        return ks_wasserstein_sorted(reference, current)
    edges = np.unique(quantiles_sorted(reference, np.linspace(0.0, 1.0, LARGE_SAMPLE_BINS + 1)))
    return binned_ks_wasserstein(
        edges,
        fine_counts_sorted(reference, edges),
        fine_counts_sorted(current, edges),
        (reference[0], reference[-1]),
        (current[0], current[-1]),
    )


def _profiles(
    frame: pl.DataFrame | pl.LazyFrame, bins: dict[str, Bins], sorted_values: dict[str, np.ndarray]
) -> dict[str, ColumnProfile]:
    numeric = list(sorted_values)
    counts = (
        frame.lazy()
        .select(
            pl.len().alias("n_rows"),
            *[pl.col(c).null_count().alias(f"{c}\x00null") for c in numeric],
            *[pl.col(c).cast(pl.Float64).is_nan().sum().alias(f"{c}\x00nan") for c in numeric],
        )
        .collect()
        .row(0, named=True)
    )
    profiles = {
        c: profile_sorted(c, sorted_values[c], counts["n_rows"], counts[f"{c}\x00null"], counts[f"{c}\x00nan"], bins[c])
        for c in numeric
    }
    categorical = {c: b for c, b in bins.items() if isinstance(b, CategoricalBins)}
    if categorical:
        rows = profile_frame(frame, categorical)
        profiles |= {row["column"]: profile_from_row(row) for row in rows.iter_rows(named=True)}
    return profiles
