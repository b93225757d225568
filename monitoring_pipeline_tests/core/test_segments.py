"""Segments: rows sliced by a segment column's frozen bins, and the share of a column's drift each one explains."""

import numpy as np
import polars as pl
import pytest

from monitoring_pipeline.core.bins import CategoricalBins, numeric_bins_from_sorted
from monitoring_pipeline.core.config import ConfigError, parse_segments
from monitoring_pipeline.core.config import MonitoredColumn as Column
from monitoring_pipeline.core.drift.registry import ColumnKind
from monitoring_pipeline.core.drift.segments import MISSING, OTHER, explained_shares, segment_of
from monitoring_pipeline.core.profile import merge_rows, profile_frame


def test_a_row_s_segment_is_its_value_where_the_bins_know_it() -> None:
    bins = CategoricalBins(("north", "south"), frozenset({"north", "south", "east"}), True)
    frame = pl.DataFrame({"region": ["north", "east", None, "south"]})
    assert frame.select(segment_of("region", bins).alias("s"))["s"].to_list() == ["north", OTHER, MISSING, "south"]


def _profiles(frame: pl.DataFrame, bins) -> dict[str, object]:
    rows = profile_frame(frame, {"x": bins}, ["segment"])
    return {value: merge_rows(rows.filter(pl.col("segment") == value), {"x": bins})["x"] for value in ("a", "b")}


def test_the_segment_that_moved_explains_the_drift_and_the_quiet_one_none() -> None:
    rng = np.random.default_rng(3)
    segment = np.repeat(["a", "b"], [3_000, 7_000])
    reference = pl.DataFrame({"segment": segment, "x": rng.normal(size=10_000)})
    moved = rng.normal(size=10_000) + np.where(segment == "a", 1.5, 0.0)
    current = pl.DataFrame({"segment": segment, "x": moved})
    bins = numeric_bins_from_sorted(np.sort(reference["x"].to_numpy()))
    shares = explained_shares(_profiles(reference, bins), _profiles(current, bins))
    assert shares["a"] > 0.9 and shares["b"] < 0.1  # b's own sampling noise is all it adds
    assert set(explained_shares(_profiles(reference, bins), _profiles(reference, bins)).values()) == {None}


def test_segments_must_be_categorical_features() -> None:
    columns = [Column("region", ColumnKind.CATEGORICAL, "feature"), Column("score", ColumnKind.NUMERIC, "output")]
    assert parse_segments(["region"], columns, "models.m.segments") == ("region",)
    for wrong, message in ((["score"], "'score' is not a categorical feature"), ("region", "expected a list")):
        with pytest.raises(ConfigError, match=message):
            parse_segments(wrong, columns, "models.m.segments")
