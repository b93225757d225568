"""Metadata a person reads in the Dagster UI, built from the steps' typed results."""

from __future__ import annotations

import dagster as dg
import polars as pl

from monitoring_pipeline.core.drift.compare import SEVERITY

WORST_SHOWN = 8


WORST_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("column", "string"),
        dg.TableColumn("role", "string"),
        dg.TableColumn("verdict", "string"),
        dg.TableColumn("method", "string", description="the method that decided the verdict"),
        dg.TableColumn("value", "float"),
        dg.TableColumn("threshold", "float", description="the threshold of the verdict's level"),
        dg.TableColumn("size", "float", description="value / threshold: comparable across methods"),
    ]
)


def worst_columns(verdicts: pl.DataFrame) -> dg.MetadataValue:
    """The columns with the worst verdicts (`column_verdicts` of a day) as a Dagster table, largest drift size
    (value / threshold) first within a verdict; figures to 3 significant digits."""
    ranked = (
        verdicts.with_columns(
            pl.col("verdict").replace_strict(SEVERITY, default=-1, return_dtype=pl.Int64).alias("severity")
        )
        .sort(["severity", "size"], descending=True, nulls_last=True)
        .head(WORST_SHOWN)
        .with_columns(pl.col("value", "threshold", "size").cast(pl.Float64).round_sig_figs(3))
    )
    records = [
        dg.TableRecord({name: row[name] for name in (c.name for c in WORST_SCHEMA.columns) if row[name] is not None})
        for row in ranked.iter_rows(named=True)
    ]
    return dg.MetadataValue.table(records, schema=WORST_SCHEMA)


SEGMENT_TABLE = dg.TableSchema(
    columns=[
        dg.TableColumn("segment", "string", description="segment column = value"),
        dg.TableColumn("column", "string"),
        dg.TableColumn("verdict", "string", description="in that segment, against its own reference"),
        dg.TableColumn("size", "float", description="value / threshold of the deciding method"),
        dg.TableColumn("explains", "float", description="share of the column's model-level PSI this segment makes"),
        dg.TableColumn("model_verdict", "string", description="the column's verdict for the whole model"),
    ]
)


def drifting_segments(segments: pl.DataFrame) -> dg.MetadataValue:
    """The segments a column drifts in (`segment_drift` rows), those the whole model does not see first."""
    rows = segments.filter(pl.col("verdict") == "drift").sort(["only_here", "size"], descending=True)
    records = [
        dg.TableRecord(
            {
                "segment": f"{row['segment_column']} = {row['segment_value']}",
                "column": row["column"],
                "verdict": row["verdict"] + (" (this segment only)" if row["only_here"] else ""),
                "size": round(row["size"], 3) if row["size"] is not None else 0.0,
                "explains": round(row["explains"], 3) if row["explains"] is not None else 0.0,
                "model_verdict": row["model_verdict"] or "-",
            }
        )
        for row in rows.head(WORST_SHOWN).iter_rows(named=True)
    ]
    return dg.MetadataValue.table(records, schema=SEGMENT_TABLE)


NGRAM_TABLE = dg.TableSchema(
    columns=[
        dg.TableColumn("column", "string", description="the text column that warns or drifts"),
        dg.TableColumn("ngram", "string", description="a word, a word pair or a character 3-gram (<, > mark edges)"),
        dg.TableColumn("reference", "float", description="its mean weight per text in the reference"),
        dg.TableColumn("current", "float", description="its mean weight per text that day"),
        dg.TableColumn("share", "float", description="its share of the distance between the two sides"),
    ]
)


def separating_ngrams(texts: pl.DataFrame) -> dg.MetadataValue:
    """The n-grams that separate each warning or drifting text column's day from its reference (`text_drift` rows)."""
    records = [
        dg.TableRecord(
            {
                "column": row["column"],
                "ngram": row["ngram"],
                **{k: round(row[k], 4) for k in ("reference", "current", "share")},
            }
        )
        for row in texts.sort("column", "rank").iter_rows(named=True)
    ]
    return dg.MetadataValue.table(records, schema=NGRAM_TABLE)


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
