"""Profiles merge exactly: the merge of daily profiles equals the profile of the union, without raw rows."""

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from monitoring_pipeline.core.bins import freeze_bins, sorted_finite
from monitoring_pipeline.core.drift.registry import ColumnKind
from monitoring_pipeline.core.profile import QUANTILE_COLUMNS, merge, merge_rows, profile_frame, profile_sorted

KINDS = {"x": ColumnKind.NUMERIC, "c": ColumnKind.CATEGORICAL}


def _frame(seed: int, n: int, shift: float = 0.0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.lognormal(shift, 1.0, n)
    x[rng.random(n) < 0.03] = np.nan
    x[rng.random(n) < 0.01] = np.inf
    values = rng.choice(["a", "b", "c", "d", "e", "f"], n, p=[0.4, 0.3, 0.1, 0.1, 0.05, 0.05])
    return pl.DataFrame({"x": x, "c": values, "day": [seed] * n}).with_columns(
        pl.when(pl.int_range(pl.len()) % 50 == 0).then(None).otherwise(pl.col("x")).alias("x"),
        pl.when(pl.int_range(pl.len()) % 40 == 0).then(None).otherwise(pl.col("c")).alias("c"),
    )


@pytest.fixture
def days() -> list[pl.DataFrame]:
    return [_frame(seed, 3000 + 500 * seed) for seed in range(4)]


def test_merged_daily_profiles_equal_profile_of_union(days: list[pl.DataFrame]) -> None:
    bins = freeze_bins(days[0], KINDS, top_k=3)
    union = pl.concat(days)
    daily = profile_frame(union, bins, ["day"])
    merged = merge_rows(daily, bins)
    whole = merge_rows(profile_frame(union, bins), bins)
    for column in KINDS:
        m, w = merged[column], whole[column]
        assert (m.n_rows, m.n_null, m.n_nan, m.n_inf, m.n_valid) == (w.n_rows, w.n_null, w.n_nan, w.n_inf, w.n_valid)
        assert m.counts.tolist() == w.counts.tolist()
        assert m.new_values == w.new_values
    assert merged["x"].mean == pytest.approx(whole["x"].mean, rel=1e-12)
    assert merged["x"].m2 == pytest.approx(whole["x"].m2, rel=1e-9)
    assert (merged["x"].minimum, merged["x"].maximum) == (whole["x"].minimum, whole["x"].maximum)


def test_counts_of_nulls_nan_inf_and_explicit_bins() -> None:
    frame = pl.DataFrame({"x": [None, float("nan"), float("inf"), -float("inf"), -5.0, 0.0, 1.0, 2.0, 99.0]})
    bins = freeze_bins(pl.DataFrame({"x": [0.0, 1.0, 2.0]}), {"x": ColumnKind.NUMERIC})
    row = profile_frame(frame, bins).row(0, named=True)
    assert (row["n_rows"], row["n_null"], row["n_nan"], row["n_inf"], row["n_valid"]) == (9, 1, 1, 2, 5)
    counts = row["counts"]  # [below, at e0, (e0, e1], ..., above]
    assert counts[0] == 1 and counts[1] == 1 and counts[-1] == 1 and sum(counts) == 5


def test_sorted_fast_path_equals_polars_path(days: list[pl.DataFrame]) -> None:
    frame = days[1]
    bins = freeze_bins(days[0], {"x": ColumnKind.NUMERIC})
    via_polars = merge_rows(profile_frame(frame, bins), bins)["x"]
    values = sorted_finite(frame, ["x"])["x"]
    fast = profile_sorted("x", values, frame.height, frame["x"].null_count(), int(frame["x"].is_nan().sum()), bins["x"])
    assert fast.counts.tolist() == via_polars.counts.tolist()
    assert (fast.n_inf, fast.n_valid) == (via_polars.n_inf, via_polars.n_valid)
    assert fast.quantiles == pytest.approx(via_polars.quantiles, rel=1e-12)


def test_quantiles_match_numpy_linear(days: list[pl.DataFrame]) -> None:
    frame = days[2]
    bins = freeze_bins(frame, {"x": ColumnKind.NUMERIC})
    row = profile_frame(frame, bins).row(0, named=True)
    finite = frame["x"].drop_nulls().to_numpy()
    finite = finite[np.isfinite(finite)]
    expected = np.quantile(finite, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])
    assert [row[name] for name in QUANTILE_COLUMNS] == pytest.approx(expected, rel=1e-12)


def test_merged_quantiles_come_from_the_merged_histogram(days: list[pl.DataFrame]) -> None:
    bins = freeze_bins(days[0], KINDS)
    merged = merge_rows(profile_frame(pl.concat(days), bins, ["day"]), bins)["x"]
    finite = pl.concat(days)["x"].drop_nulls().to_numpy()
    finite = finite[np.isfinite(finite)]
    assert merged.quantiles[3] == pytest.approx(np.median(finite), rel=0.05)


def test_categorical_top_k_other_and_unseen() -> None:
    reference = pl.DataFrame({"c": ["a"] * 5 + ["b"] * 3 + ["c"] * 1})
    bins = freeze_bins(reference, {"c": ColumnKind.CATEGORICAL}, top_k=2)
    current = pl.DataFrame({"c": ["a", "b", "c", "c", "new", "new", "newer", None]})
    profile = merge_rows(profile_frame(current, bins), bins)["c"]
    assert profile.counts.tolist() == [1, 1, 2, 3]  # a, b, other (seen, not top-k), unseen
    assert profile.new_values == {"new": 2, "newer": 1}
    assert profile.n_null == 1


def test_merge_refuses_profiles_on_different_bins(days: list[pl.DataFrame]) -> None:
    a = merge_rows(profile_frame(days[0], freeze_bins(days[0], KINDS, top_k=2)), {})["c"]
    b = merge_rows(profile_frame(days[0], freeze_bins(days[0], KINDS, top_k=3)), {})["c"]
    with pytest.raises(ValueError, match="different bins"):
        merge([a, b])


def test_profile_rows_are_independent_of_row_order(days: list[pl.DataFrame]) -> None:
    frame = days[3]
    bins = freeze_bins(days[0], KINDS)
    forward = profile_frame(frame, bins).sort("column")
    shuffled = profile_frame(frame.sample(fraction=1.0, shuffle=True, seed=5), bins).sort("column")
    assert_frame_equal(forward.drop("mean", "m2"), shuffled.drop("mean", "m2"))
    numeric = pl.col("column") == "x"
    assert forward.filter(numeric)["mean"].item() == pytest.approx(shuffled.filter(numeric)["mean"].item(), rel=1e-12)


def test_profiles_by_one_group_column_equal_each_group_profiled_alone() -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    x = rng.normal(size=n)
    x[rng.random(n) < 0.05] = np.nan
    x[rng.random(n) < 0.01] = np.inf
    frame = pl.DataFrame(
        {"g": rng.choice(["a", "b", "c"], n), "x": x, "k": rng.integers(0, 4, n).astype(float)}
    ).with_columns(pl.when(pl.col("g") == "c").then(None).otherwise(pl.col("g")).alias("g"))
    bins = freeze_bins(frame, {"x": ColumnKind.NUMERIC, "k": ColumnKind.NUMERIC})
    grouped = profile_frame(frame, bins, ["g"])  # one sort a column, split by each row's group
    assert sorted(grouped["g"].unique().to_list(), key=str) == [None, "a", "b"]
    for value in ("a", "b", None):
        alone = profile_frame(frame.filter(pl.col("g").eq_missing(value)), bins)
        mine = grouped.filter(pl.col("g").eq_missing(value)).drop("g")
        assert_frame_equal(mine.sort("column"), alone.sort("column"))
