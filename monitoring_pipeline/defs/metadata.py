"""Metadata a person reads in the Dagster UI, built from the steps' typed results."""

from __future__ import annotations

import dagster as dg
import polars as pl

from monitoring_pipeline.core.drift.compare import SEVERITY

WORST_SHOWN = 8


def worst_columns_markdown(verdicts: pl.DataFrame) -> str:
    """A markdown table of the columns with the worst verdicts (`column_verdicts` of a day), largest drift size
    (value / threshold) first within a verdict."""
    ranked = (
        verdicts.with_columns(
            pl.col("verdict").replace_strict(SEVERITY, default=-1, return_dtype=pl.Int64).alias("severity")
        )
        .sort(["severity", "size"], descending=True, nulls_last=True)
        .head(WORST_SHOWN)
    )
    if ranked.is_empty():
        return "_no columns_"
    lines = [
        "| column | role | verdict | deciding method | value | threshold | size (value / threshold) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in ranked.iter_rows(named=True):
        figures = [_figure(row[name]) for name in ("value", "threshold", "size")]
        lines.append(
            f"| {row['column']} | {row['role']} | {row['verdict']} | {row['method'] or '-'} | {' | '.join(figures)} |"
        )
    return "\n".join(lines)


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def counts_by(frame: pl.DataFrame, column: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in frame[column].value_counts().iter_rows()} if frame.height else {}


def identifier(value: object) -> dg.MetadataValue:
    """A sequence number or a Delta version: shown as text, not plotted as if it measured something."""
    return dg.MetadataValue.text("-" if value is None else str(value))


def table_metadata(frame: pl.DataFrame) -> dict[str, dg.MetadataValue]:
    """Dagster's standard table metadata (its `dagster/` keys) for the rows a partition wrote: their count and
    column schema."""
    schema = dg.TableSchema(columns=[dg.TableColumn(name, str(dtype)) for name, dtype in frame.schema.items()])
    return {
        "dagster/partition_row_count": dg.MetadataValue.int(frame.height),
        "dagster/column_schema": dg.MetadataValue.table_schema(schema),
    }
