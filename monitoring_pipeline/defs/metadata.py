"""Metadata a person reads in the Dagster UI, built from the steps' typed results."""

from __future__ import annotations

import polars as pl

from monitoring_pipeline.core.drift.compare import SEVERITY

WORST_SHOWN = 8


def worst_columns_markdown(frame: pl.DataFrame) -> str:
    """A markdown table of the columns with the worst verdicts, largest deciding effect first."""
    ranked = (
        frame.filter(pl.col("decisive"))
        .group_by("column", "role", "verdict")
        .agg(
            pl.col("value").max().alias("effect"),
            pl.col("method").sort_by("value", descending=True, nulls_last=True).first().alias("by"),
        )
        .with_columns(pl.col("verdict").replace_strict(SEVERITY, default=-1, return_dtype=pl.Int64).alias("severity"))
        .sort(["severity", "effect"], descending=True, nulls_last=True)
        .head(WORST_SHOWN)
    )
    if ranked.is_empty():
        return "_no columns_"
    lines = ["| column | role | verdict | largest deciding effect |", "|---|---|---|---|"]
    for row in ranked.iter_rows(named=True):
        effect = "-" if row["effect"] is None else f"{row['by']} = {row['effect']:.3f}"
        lines.append(f"| {row['column']} | {row['role']} | {row['verdict']} | {effect} |")
    return "\n".join(lines)


def counts_by(frame: pl.DataFrame, column: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in frame[column].value_counts().iter_rows()} if frame.height else {}
