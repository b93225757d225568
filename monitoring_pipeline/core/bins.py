"""Bins frozen from a reference sample, so that every day is counted on the same grid and profiles merge.

Numeric columns: `edges` are the distinct reference quantiles at i/FINE_BINS (i = 0..FINE_BINS), computed as
numpy's default (linear interpolation). A fine histogram on these edges has the layout

    [below: x < e0, at_first: x == e0, (e0, e1], ..., (e_{m-1}, e_m], above: x > e_m]

The PSI cut points are the distinct reference deciles q(0.1)..q(0.9) — a subset of the edges — and the PSI bins
(-inf, c1], (c1, c2], ..., (ck, +inf) are sums of fine bins, so PSI on a merged window never needs raw rows.

Categorical columns: the `vocabulary` is the reference's top-k values (by count, ties by value); `seen` holds every
distinct reference value up to a cap. Counts have the layout [v1..vk, other (seen, not top-k), unseen].
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import polars as pl

from monitoring_pipeline.core.drift.registry import ColumnKind

FINE_BINS = 100
DECILE_STEP = FINE_BINS // 10
DEFAULT_TOP_K = 50
DEFAULT_VOCAB_CAP = 10_000


@dataclass(frozen=True)
class NumericBins:
    edges: np.ndarray
    decile_positions: np.ndarray  # index into `edges` of each distinct decile cut point

    kind = ColumnKind.NUMERIC

    @property
    def n_counts(self) -> int:
        return len(self.edges) + 2

    def decile_counts(self, fine_counts: np.ndarray) -> np.ndarray:
        """Counts on the PSI bins (-inf, c1], ..., (ck, +inf), summed from a fine histogram."""
        cumulative = np.cumsum(fine_counts)
        at_cuts = cumulative[self.decile_positions + 1]
        return np.diff(np.concatenate([[0], at_cuts, [cumulative[-1]]]))

    def to_json(self) -> str:
        return json.dumps({"kind": "numeric", "edges": self.edges.tolist(), "deciles": self.decile_positions.tolist()})


@dataclass(frozen=True)
class CategoricalBins:
    vocabulary: tuple[str, ...]
    seen: frozenset[str]
    seen_complete: bool

    kind = ColumnKind.CATEGORICAL

    @property
    def n_counts(self) -> int:
        return len(self.vocabulary) + 2

    def to_json(self) -> str:
        return json.dumps(
            {
                "kind": "categorical",
                "vocabulary": list(self.vocabulary),
                "seen": sorted(self.seen),
                "seen_complete": self.seen_complete,
            }
        )


Bins = NumericBins | CategoricalBins


def bins_from_json(text: str) -> Bins:
    data = json.loads(text)
    if data["kind"] == "numeric":
        return NumericBins(np.asarray(data["edges"], dtype=float), np.asarray(data["deciles"], dtype=np.int64))
    return CategoricalBins(tuple(data["vocabulary"]), frozenset(data["seen"]), bool(data["seen_complete"]))


def bins_fingerprint(bins: dict[str, Bins], transforms: dict[str, str] | None = None) -> str:
    """A short content hash identifying a set of frozen bins, and the frozen transforms (JSON) that compute
    derived columns (recorded beside every profile)."""
    digest = hashlib.sha256()
    for column in sorted(bins):
        digest.update(column.encode())
        digest.update(bins[column].to_json().encode())
    for column in sorted(transforms or {}):
        digest.update(f"transform:{column}".encode())
        digest.update(transforms[column].encode())
    return digest.hexdigest()[:16]


def quantiles_sorted(sorted_values: np.ndarray, probabilities: np.ndarray | list[float]) -> np.ndarray:
    """numpy.quantile's default (linear) method, bit for bit, on an already sorted array: O(k), not O(n)."""
    n = len(sorted_values)
    virtual = (n - 1) * np.asarray(probabilities, dtype=float)
    below = np.clip(np.floor(virtual), 0, n - 1).astype(np.int64)
    above = np.minimum(below + 1, n - 1)
    gamma = virtual - below
    low, high = sorted_values[below], sorted_values[above]
    step = high - low
    return np.where(gamma >= 0.5, high - step * (1 - gamma), low + step * gamma)


def fine_counts_sorted(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """A fine histogram ([below, at e0, (e0, e1], ..., above], see module doc) of an ascending-sorted array."""
    below = np.searchsorted(sorted_values, edges[0], "left")
    at_or_below = np.searchsorted(sorted_values, edges, "right")
    return np.diff(np.concatenate([[0, below], at_or_below, [len(sorted_values)]])).astype(np.int64)


def numeric_bins_from_sorted(sorted_finite: np.ndarray) -> NumericBins:
    """Freeze numeric bins from an ascending-sorted array of the reference's finite values."""
    if len(sorted_finite) == 0:
        return NumericBins(np.asarray([0.0]), np.asarray([], dtype=np.int64))
    fine = quantiles_sorted(sorted_finite, np.arange(FINE_BINS + 1) / FINE_BINS)
    edges = np.unique(fine)
    deciles = np.unique(fine[DECILE_STEP:FINE_BINS:DECILE_STEP])
    return NumericBins(edges, np.searchsorted(edges, deciles))


def categorical_bins_from_counts(
    value_counts: pl.DataFrame, top_k: int = DEFAULT_TOP_K, vocab_cap: int = DEFAULT_VOCAB_CAP
) -> CategoricalBins:
    """Freeze categorical bins from a frame of (value: str, count: int) with no null values."""
    ordered = value_counts.sort(["count", "value"], descending=[True, False])
    values = ordered["value"].to_list()
    return CategoricalBins(tuple(values[:top_k]), frozenset(values[:vocab_cap]), len(values) <= vocab_cap)


def sorted_finite_query(frame: pl.DataFrame | pl.LazyFrame, columns: list[str]) -> pl.LazyFrame:
    """One row holding each column's finite values, ascending, as a list (the columns sort in parallel)."""
    values = [pl.col(c).cast(pl.Float64) for c in columns]
    return frame.lazy().select([v.filter(v.is_finite()).sort().implode() for v in values])


def sorted_arrays(row: pl.DataFrame) -> dict[str, np.ndarray]:
    return {c: row[c][0].to_numpy() for c in row.columns}


def sorted_finite(frame: pl.DataFrame | pl.LazyFrame, columns: list[str]) -> dict[str, np.ndarray]:
    """Each column's finite values, ascending, as float64 arrays."""
    return sorted_arrays(sorted_finite_query(frame, columns).collect()) if columns else {}


def category_counts(frame: pl.DataFrame | pl.LazyFrame, column: str) -> pl.LazyFrame:
    """(value, count) of the non-null values of a column, as strings."""
    return (
        frame.lazy()
        .select(pl.col(column).cast(pl.String).alias("value"))
        .drop_nulls()
        .group_by("value")
        .agg(pl.len().cast(pl.Int64).alias("count"))
    )


def freeze_bins(
    frame: pl.DataFrame | pl.LazyFrame,
    kinds: dict[str, ColumnKind],
    top_k: int = DEFAULT_TOP_K,
    vocab_cap: int = DEFAULT_VOCAB_CAP,
    sorted_values: dict[str, np.ndarray] | None = None,
) -> dict[str, Bins]:
    """Freeze bins for every column from a reference frame."""
    numeric = [c for c, k in kinds.items() if k is ColumnKind.NUMERIC]
    categorical = [c for c, k in kinds.items() if k is ColumnKind.CATEGORICAL]
    if sorted_values is None:
        sorted_values = sorted_finite(frame, numeric)
    bins: dict[str, Bins] = {c: numeric_bins_from_sorted(sorted_values[c]) for c in numeric}
    counted = pl.collect_all([category_counts(frame, c) for c in categorical])
    for column, counts in zip(categorical, counted, strict=True):
        bins[column] = categorical_bins_from_counts(counts, top_k, vocab_cap)
    return bins
