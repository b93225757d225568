"""Mergeable column profiles: one row per (group, column), counted on frozen bins.

A profile row holds counts (rows, nulls, NaN, infinities, finite values), the finite values' mean and M2
(sum of squared deviations, merged with Chan's formula), min, max, exact quantiles of that slice, and the
histogram `counts` on the column's frozen bins (see `core.bins`). Merging rows gives the profile of their union
— exactly for counts, moments, min/max and histograms; quantiles of a merge are read off the merged histogram.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from monitoring_pipeline.core.bins import Bins, CategoricalBins, NumericBins, fine_counts_sorted, quantiles_sorted
from monitoring_pipeline.core.drift.methods import cdf_knots
from monitoring_pipeline.core.drift.registry import ColumnKind

QUANTILES: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
QUANTILE_COLUMNS = tuple(f"p{round(q * 100):02d}" for q in QUANTILES)
NEW_VALUES_KEPT = 10
SORTS_AT_ONCE = 4  # columns sorted in parallel: enough to keep the cores busy, few enough that a day's sorted
# copies never sit in memory together

PROFILE_SCHEMA: dict[str, pl.DataType] = {
    "column": pl.String(),
    "kind": pl.String(),
    "n_rows": pl.Int64(),
    "n_null": pl.Int64(),
    "n_nan": pl.Int64(),
    "n_inf": pl.Int64(),
    "n_valid": pl.Int64(),
    "mean": pl.Float64(),
    "m2": pl.Float64(),
    "min": pl.Float64(),
    "max": pl.Float64(),
    **{name: pl.Float64() for name in QUANTILE_COLUMNS},
    "counts": pl.List(pl.Int64()),
    "new_values": pl.List(pl.String()),
    "new_counts": pl.List(pl.Int64()),
}


@dataclass(frozen=True)
class ColumnProfile:
    """The profile of one column over one slice (a day, a model version, a merged window)."""

    column: str
    kind: ColumnKind
    n_rows: int
    n_null: int
    n_nan: int
    n_inf: int
    n_valid: int
    mean: float | None
    m2: float | None
    minimum: float | None
    maximum: float | None
    counts: np.ndarray
    quantiles: tuple[float | None, ...] = (None,) * len(QUANTILES)
    new_values: dict[str, int] = field(default_factory=dict)

    @property
    def n_missing(self) -> int:
        return self.n_rows - self.n_valid

    @property
    def std(self) -> float | None:
        if self.m2 is None or self.n_valid < 2:
            return None
        return float(np.sqrt(self.m2 / (self.n_valid - 1)))

    def to_row(self) -> dict[str, object]:
        new = sorted(self.new_values.items(), key=lambda kv: (-kv[1], kv[0]))[:NEW_VALUES_KEPT]
        return {
            "column": self.column,
            "kind": self.kind.value,
            "n_rows": self.n_rows,
            "n_null": self.n_null,
            "n_nan": self.n_nan,
            "n_inf": self.n_inf,
            "n_valid": self.n_valid,
            "mean": self.mean,
            "m2": self.m2,
            "min": self.minimum,
            "max": self.maximum,
            **dict(zip(QUANTILE_COLUMNS, self.quantiles, strict=True)),
            "counts": self.counts.astype(np.int64).tolist(),
            "new_values": [k for k, _ in new],
            "new_counts": [v for _, v in new],
        }


def empty_profile(column: str, bins: Bins) -> ColumnProfile:
    """The profile of a column with no rows (a missing column or an empty day)."""
    return ColumnProfile(
        column, bins.kind, 0, 0, 0, 0, 0, None, None, None, None, np.zeros(bins.n_counts, dtype=np.int64)
    )


def profile_from_row(row: dict[str, object]) -> ColumnProfile:
    return ColumnProfile(
        column=str(row["column"]),
        kind=ColumnKind(row["kind"]),
        n_rows=int(row["n_rows"]),
        n_null=int(row["n_null"]),
        n_nan=int(row["n_nan"]),
        n_inf=int(row["n_inf"]),
        n_valid=int(row["n_valid"]),
        mean=row["mean"],
        m2=row["m2"],
        minimum=row["min"],
        maximum=row["max"],
        counts=np.asarray(row["counts"], dtype=np.int64),
        quantiles=tuple(row[name] for name in QUANTILE_COLUMNS),
        new_values=dict(zip(row["new_values"] or [], row["new_counts"] or [], strict=True)),
    )


def merge(profiles: Sequence[ColumnProfile], bins: Bins | None = None) -> ColumnProfile:
    """The profile of the union of the slices. Quantiles come from the merged histogram when `bins` is given."""
    if not profiles:
        raise ValueError("cannot merge an empty list of profiles")
    first = profiles[0]
    if len(profiles) == 1:
        return first
    if any(p.column != first.column or len(p.counts) != len(first.counts) for p in profiles):
        raise ValueError(f"profiles of column {first.column!r} were counted on different bins; re-profile them")
    n_valid = sum(p.n_valid for p in profiles)
    with_values = [p for p in profiles if p.n_valid > 0 and p.mean is not None]
    mean = m2 = minimum = maximum = None
    if with_values:
        mean = sum(p.n_valid * p.mean for p in with_values) / n_valid
        m2 = sum(p.m2 + p.n_valid * (p.mean - mean) ** 2 for p in with_values)
        minimum = min(p.minimum for p in with_values)
        maximum = max(p.maximum for p in with_values)
    new_values: dict[str, int] = {}
    for p in profiles:
        for value, count in p.new_values.items():
            new_values[value] = new_values.get(value, 0) + count
    counts = np.sum([p.counts for p in profiles], axis=0)
    merged = replace(
        first,
        n_rows=sum(p.n_rows for p in profiles),
        n_null=sum(p.n_null for p in profiles),
        n_nan=sum(p.n_nan for p in profiles),
        n_inf=sum(p.n_inf for p in profiles),
        n_valid=n_valid,
        mean=mean,
        m2=m2,
        minimum=minimum,
        maximum=maximum,
        counts=counts,
        quantiles=(None,) * len(QUANTILES),
        new_values=new_values,
    )
    if isinstance(bins, NumericBins) and n_valid > 0:
        xs, fs = cdf_knots(bins.edges, counts, minimum, maximum)
        merged = replace(merged, quantiles=tuple(float(np.interp(q, fs, xs)) for q in QUANTILES))
    return merged


def profiles_from_frame(rows: pl.DataFrame) -> list[ColumnProfile]:
    return [profile_from_row(row) for row in rows.iter_rows(named=True)]


def merge_rows(rows: pl.DataFrame, bins: dict[str, Bins]) -> dict[str, ColumnProfile]:
    """Merge profile rows (any number of slices) into one profile per column."""
    by_column: dict[str, list[ColumnProfile]] = {}
    for profile in profiles_from_frame(rows):
        by_column.setdefault(profile.column, []).append(profile)
    return {column: merge(parts, bins.get(column)) for column, parts in by_column.items()}


# -- profiling raw rows ---------------------------------------------------------------------------------------


def _aggregate(lazy: pl.LazyFrame, group_by: list[str], exprs: list[pl.Expr]) -> pl.LazyFrame:
    return lazy.group_by(group_by).agg(exprs) if group_by else lazy.select(exprs)


def profile_frame(
    frame: pl.DataFrame | pl.LazyFrame, bins: dict[str, Bins], group_by: Sequence[str] = ()
) -> pl.DataFrame:
    """Profile every column in `bins`, per group; one row per (group, column) with PROFILE_SCHEMA columns."""
    lazy = frame.lazy()
    group_by = list(group_by)
    numeric = [c for c, b in bins.items() if isinstance(b, NumericBins)]
    categorical = [c for c, b in bins.items() if isinstance(b, CategoricalBins)]

    queries = [
        lazy.group_by([*group_by, pl.col(c).cast(pl.String).alias("value")]).agg(pl.len().alias("n"))
        for c in categorical
    ]
    results = iter(pl.collect_all(queries))
    rows = _numeric_rows(lazy, {c: bins[c] for c in numeric}, group_by) if numeric else []
    for c in categorical:
        rows.extend(_categorical_rows(c, next(results), group_by, bins[c]))
    schema = {g: frame.lazy().collect_schema()[g] for g in group_by} | PROFILE_SCHEMA
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def _numeric_rows(lazy: pl.LazyFrame, bins: dict[str, NumericBins], group_by: list[str]) -> list[dict[str, object]]:
    """Numeric profile rows, per group: each column's finite values sorted once (a few columns at a time, in
    parallel, by Polars), then every statistic read off the sorted array (`profile_sorted`), which is let go."""
    x = {c: pl.col(c).cast(pl.Float64) for c in bins}
    counts = _aggregate(
        lazy,
        group_by,
        [
            pl.len().alias("\x00n_rows"),
            *[v.null_count().alias(f"{c}\x00null") for c, v in x.items()],
            *[v.is_nan().sum().alias(f"{c}\x00nan") for c, v in x.items()],
        ],
    ).collect()
    groups = list(counts.iter_rows(named=True))
    parts = [lazy.filter(*[pl.col(g).eq_missing(group[g]) for g in group_by]) if group_by else lazy for group in groups]
    jobs = [(c, i) for c in bins for i in range(len(groups))]
    rows = []
    for start in range(0, len(jobs), SORTS_AT_ONCE):
        batch = jobs[start : start + SORTS_AT_ONCE]
        ordered = pl.collect_all([parts[i].select(x[c].filter(x[c].is_finite()).sort()) for c, i in batch])
        for (c, i), values in zip(batch, ordered, strict=True):
            group = groups[i]
            profile = profile_sorted(
                c,
                values.to_series().to_numpy(),
                group["\x00n_rows"],
                group[f"{c}\x00null"],
                group[f"{c}\x00nan"],
                bins[c],
            )
            rows.append({g: group[g] for g in group_by} | profile.to_row())
    return rows


def _categorical_rows(
    column: str, counted: pl.DataFrame, group_by: list[str], bins: CategoricalBins
) -> Iterable[dict[str, object]]:
    """Profile rows from the (group, value, n) counts: vocabulary values in their own bins, other seen values in
    "other", the rest in "unseen" (the most frequent NEW_VALUES_KEPT of them kept by name). Vectorised, so a day
    with a million distinct values costs a few Polars passes, not a Python loop over the values."""
    other, unseen = len(bins.vocabulary), len(bins.vocabulary) + 1
    keys = group_by or ["__all"]
    known = pl.col("value").replace_strict(
        list(bins.vocabulary), list(range(other)), default=None, return_dtype=pl.Int64
    )
    seen = pl.Series(sorted(bins.seen), dtype=pl.String).implode()
    binned = counted.with_columns(pl.lit(0).alias("__all")) if not group_by else counted
    binned = binned.with_columns(
        pl.when(pl.col("value").is_null())
        .then(None)
        .when(known.is_not_null())
        .then(known)
        .when(pl.col("value").is_in(seen))
        .then(pl.lit(other, pl.Int64))
        .otherwise(pl.lit(unseen, pl.Int64))
        .alias("bin")
    )
    per_bin = binned.group_by([*keys, "bin"]).agg(pl.col("n").sum())
    new = (
        binned.filter(pl.col("bin") == unseen)
        .sort(["n", "value"], descending=[True, False])
        .group_by(keys, maintain_order=True)
        .head(NEW_VALUES_KEPT)
    )
    groups: dict[tuple, dict[str, object]] = {}
    for row in per_bin.iter_rows(named=True):
        state = groups.setdefault(tuple(row[k] for k in keys), {"counts": np.zeros(bins.n_counts, np.int64), "null": 0})
        if row["bin"] is None:
            state["null"] += row["n"]
        else:
            state["counts"][row["bin"]] += row["n"]
    new_values: dict[tuple, dict[str, int]] = {}
    for row in new.iter_rows(named=True):
        new_values.setdefault(tuple(row[k] for k in keys), {})[row["value"]] = row["n"]
    for key, state in groups.items():
        n_valid = int(state["counts"].sum())
        profile = ColumnProfile(
            column=column,
            kind=ColumnKind.CATEGORICAL,
            n_rows=n_valid + state["null"],
            n_null=state["null"],
            n_nan=0,
            n_inf=0,
            n_valid=n_valid,
            mean=None,
            m2=None,
            minimum=None,
            maximum=None,
            counts=state["counts"],
            new_values=new_values.get(key, {}),
        )
        yield {**(dict(zip(group_by, key, strict=True)) if group_by else {}), **profile.to_row()}


def profile_sorted(
    column: str, sorted_values: np.ndarray, n_rows: int, n_null: int, n_nan: int, bins: NumericBins
) -> ColumnProfile:
    """A numeric profile computed from an ascending-sorted array of the finite values (the fast exact path)."""
    n_valid = len(sorted_values)
    has = n_valid > 0
    mean = float(sorted_values.mean()) if has else None
    return ColumnProfile(
        column=column,
        kind=ColumnKind.NUMERIC,
        n_rows=n_rows,
        n_null=n_null,
        n_nan=n_nan,
        n_inf=n_rows - n_null - n_nan - n_valid,
        n_valid=n_valid,
        mean=mean,
        m2=float(((sorted_values - mean) ** 2).sum()) if has else None,
        minimum=float(sorted_values[0]) if has else None,
        maximum=float(sorted_values[-1]) if has else None,
        counts=fine_counts_sorted(sorted_values, bins.edges),
        quantiles=tuple(float(v) for v in quantiles_sorted(sorted_values, QUANTILES))
        if has
        else (None,) * len(QUANTILES),
    )
