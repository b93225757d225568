"""Drift per segment: which slice of the traffic (a region, a channel) carries a model's drift.

A segment column's values are its frozen categorical bins: the top values by volume in the baseline, the rest
pooled as OTHER and nulls as MISSING, so every day and every reference window slice the rows the same way. Each
segment is judged like the model (its own profiles against its own reference days, with thresholds calibrated on
its own ordinary days' noise, and only above a minimum sample). How much of a column's model-level drift a segment
explains is what its own change adds to the column's PSI: the share of the model-level PSI that goes away when the
segment's current rows are put back to its reference distribution (at its current volume). Shares are between 0
and 1 and need not add up to 1 (shifts in two segments can reinforce or cancel).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from monitoring_pipeline.core.bins import CategoricalBins
from monitoring_pipeline.core.drift.methods import psi
from monitoring_pipeline.core.profile import ColumnProfile

OTHER = "(other)"
MISSING = "(missing)"
SEGMENT_COLUMN, SEGMENT_VALUE = "segment_column", "segment_value"


def segment_of(column: str, bins: CategoricalBins) -> pl.Expr:
    """Each row's segment of `column`: its value where the bins know it by name, else OTHER (MISSING for null)."""
    value = pl.col(column).cast(pl.String)
    known = value.is_in(list(bins.vocabulary))
    return pl.when(value.is_null()).then(pl.lit(MISSING)).when(known).then(value).otherwise(pl.lit(OTHER))


def explained_shares(
    reference: Mapping[str, ColumnProfile], current: Mapping[str, ColumnProfile]
) -> dict[str, float | None]:
    """Per segment, the share of one column's model-level PSI its own change makes (segment -> that column's
    profile on each side; None for every segment when the column did not move at all)."""
    segments = sorted(current)
    width = len(current[segments[0]].counts)
    zeros = np.zeros(width)
    ref_total = sum((p.counts for p in reference.values()), zeros)
    cur_total = sum((current[s].counts for s in segments), zeros)
    whole = psi(ref_total, cur_total) if ref_total.sum() and cur_total.sum() else 0.0
    shares: dict[str, float | None] = {}
    for segment in segments:
        counts = current[segment].counts
        before = reference.get(segment)
        if not whole or before is None or not before.counts.sum():
            shares[segment] = None
            continue
        put_back = cur_total - counts + before.counts / before.counts.sum() * counts.sum()
        shares[segment] = float(np.clip((whole - psi(ref_total, put_back)) / whole, 0.0, 1.0))
    return shares
