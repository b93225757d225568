"""The prediction-log contract, enforced on read.

Schema breaches (a missing column, a wrong type, naive timestamps) stop the read with a `ContractError` naming
the table, the column and an example row; a value is never cast to the type the contract expects. A dropped input
feature is the one exception: the read goes on with that column null and reports it (`FEATURE_MISSING`), so the
other columns are still judged. Row breaches that can be set aside without losing anything (a null or
duplicate `prediction_id`, one already logged on an earlier day, a null or future `event_ts`, another model's
row) go to the rejects table with a
reason, the full row kept as JSON. Counts always reconcile: rows read = valid + rejected. Text logged as bytes is
decoded as UTF-8, each invalid sequence replaced (U+FFFD) for the guards to quarantine: no string column ever holds
invalid UTF-8.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from monitoring_pipeline.core.config import ModelSpec
from monitoring_pipeline.core.drift.registry import ColumnKind
from monitoring_pipeline.core.errors import MonitoringError

ID, MODEL, VERSION, TS = "prediction_id", "model_name", "model_version", "event_ts"
REPEATED = "prediction_id_logged_on_an_earlier_day"  # the reject reason of a cross-day repeat
FEATURE_MISSING = "feature_missing"  # the drift verdict of a feature the log no longer has
MAX_REJECTED_SHARE = 0.01  # above this share of a day's rows breaking the contract, its check warns
REJECTS_SCHEMA: dict[str, pl.DataType] = {
    "prediction_id": pl.String(),
    "event_ts": pl.Datetime("us", "UTC"),
    "reason": pl.String(),
    "row_json": pl.String(),
}


class ContractError(MonitoringError, ValueError):
    """The log breaks the contract in a way no row-level quarantine can absorb."""

    def __init__(self, table: str, column: str, problem: str, example: dict | None = None) -> None:
        self.table, self.column, self.problem, self.example = table, column, problem, example
        shown = f"; example row: {example}" if example else ""
        super().__init__(f"table {table}: column {column!r}: {problem}{shown}")


@dataclass(frozen=True)
class ContractResult:
    valid: pl.DataFrame
    rejects: pl.DataFrame
    n_read: int

    def __post_init__(self) -> None:
        if self.valid.height + self.rejects.height != self.n_read:
            raise AssertionError("contract split lost rows")  # a bug, never bad input


def _family(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "timestamp"
    if dtype.is_numeric():
        return "numeric"
    if isinstance(dtype, (pl.String, pl.Categorical, pl.Enum)):
        return "string"
    if isinstance(dtype, pl.Boolean):
        return "boolean"
    if isinstance(dtype, pl.Binary):
        return "binary"
    return str(dtype)


def expected_families(model: ModelSpec) -> dict[str, set[str]]:
    """Column -> acceptable type families, for every column the contract requires of this model's log."""
    expected: dict[str, set[str]] = {ID: {"string"}, MODEL: {"string"}, VERSION: {"string"}, TS: {"timestamp"}}
    for column in model.source_columns:
        if column in _text_columns(model):
            expected[column] = {"string", "binary"}  # bytes are decoded on read (decode_text)
        else:
            kind = next(c.kind for c in model.columns if c.name == column)
            expected[column] = {"numeric"} if kind is ColumnKind.NUMERIC else {"string", "boolean", "numeric"}
    return expected


def _text_columns(model: ModelSpec) -> set[str]:
    return {model.text_output, model.prompt_text, model.prompt_context} - {None}


def _utf8(values: pl.Series) -> pl.Series:
    try:
        return values.cast(pl.String)
    except pl.exceptions.ComputeError:  # invalid UTF-8 somewhere: decode row by row, replacing what is invalid
        decoded = [None if raw is None else raw.decode("utf-8", "replace") for raw in values]
        return pl.Series(values.name, decoded, pl.String)


def decode_text(frame: pl.DataFrame, model: ModelSpec) -> pl.DataFrame:
    """The model's text columns as strings: text logged as bytes is decoded as UTF-8, each invalid sequence
    replaced by U+FFFD, which the `text_characters` guard quarantines (`replacement_character`). No string
    column ever holds invalid UTF-8."""
    binary = [c for c in _text_columns(model) if isinstance(frame.schema.get(c), pl.Binary)]
    return frame.with_columns(_utf8(frame[c]) for c in binary)


def check_schema(
    schema: pl.Schema, model: ModelSpec, table: str, sample: pl.DataFrame | pl.LazyFrame | None = None
) -> None:
    """Raise ContractError for the first missing column, wrong type or naive timestamp column. The example row
    is the first of `sample` (a lazy sample is read only when there is something to show)."""
    for column, families in expected_families(model).items():
        if column not in schema:
            near = difflib.get_close_matches(column, schema.names(), n=3, cutoff=0.5)
            hint = f"nearest: {', '.join(near)}" if near else f"the log has {schema.names()}"
            raise ContractError(table, column, f"missing ({hint}); fix the name in the config or the log")
        dtype = schema[column]
        if _family(dtype) not in families:
            example = _example(sample)
            shown = {ID: example.get(ID), column: example.get(column)} if example else None
            raise ContractError(table, column, f"has type {dtype}, expected {' or '.join(sorted(families))}", shown)
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
            example = _example(sample)
            shown = {ID: example.get(ID), column: str(example.get(column))} if example else None
            raise ContractError(table, column, "timestamps are naive; the contract requires UTC timestamps", shown)


def _example(sample: pl.DataFrame | pl.LazyFrame | None) -> dict | None:
    if sample is None:
        return None
    first = sample.head(1).collect() if isinstance(sample, pl.LazyFrame) else sample.head(1)
    return first.row(0, named=True) if first.height else None


def missing_features(schema: pl.Schema, model: ModelSpec) -> dict[str, pl.DataType]:
    """The model's input features absent from the log's schema, each with the type its null stand-in takes.
    Identifiers, timestamps, outputs and text the guards read stay required."""
    return {
        c.name: pl.Float64() if c.kind is ColumnKind.NUMERIC else pl.String()
        for c in model.columns_with_role("feature")
        if c.name in model.source_columns and c.name not in schema
    }


def split_rows(
    frame: pl.DataFrame, model: ModelSpec, now: datetime, logged_before: pl.Series | None = None
) -> ContractResult:
    """Set aside rows that break the contract, each with its first reason. A `prediction_id` among
    `logged_before` (the ids of earlier days) is a repeat, counted once already. Of several otherwise valid rows
    sharing a `prediction_id`, the one with the earliest `event_ts` is kept (ties broken by a hash of the row,
    so the result does not depend on the order rows were read in). Text logged as bytes is decoded first."""
    flagged = decode_text(frame, model)
    if getattr(flagged.schema[TS], "time_zone", None) != "UTC":  # replacing a column copies a many-chunk frame whole
        flagged = flagged.with_columns(pl.col(TS).dt.convert_time_zone("UTC"))
    flagged = flagged.with_row_index("__row")
    earlier = pl.Series([], dtype=pl.String) if logged_before is None else logged_before.cast(pl.String)
    reason = (
        pl.when(pl.col(ID).is_null())
        .then(pl.lit("null_prediction_id"))
        .when(pl.col(TS).is_null())
        .then(pl.lit("null_event_ts"))
        .when(pl.col(TS) > pl.lit(now).dt.convert_time_zone("UTC"))
        .then(pl.lit("event_ts_in_future"))
        .when(pl.col(MODEL) != model.name)
        .then(pl.lit("other_model_name"))
        .when(pl.col(ID).cast(pl.String).is_in(earlier.implode()))
        .then(pl.lit(REPEATED))
    )
    flagged = flagged.with_columns(reason.alias("__reason"))
    repeated = flagged.filter(pl.col("__reason").is_null()).filter(pl.col(ID).is_duplicated())
    if repeated.height:
        tiebreak = pl.struct(pl.exclude("__row", "__reason")).hash(seed=0)
        ranked = repeated.with_columns(tiebreak.alias("__tiebreak")).sort([ID, TS, "__tiebreak"])
        losers = ranked.filter(~pl.col(ID).is_first_distinct())["__row"]
        duplicate = pl.col("__row").is_in(losers.implode())
        flagged = flagged.with_columns(
            pl.when(duplicate).then(pl.lit("duplicate_prediction_id")).otherwise(pl.col("__reason")).alias("__reason")
        )
    valid = flagged.filter(pl.col("__reason").is_null()).drop("__row", "__reason")
    rejects = flagged.filter(pl.col("__reason").is_not_null()).select(
        pl.col(ID),
        pl.col(TS),
        pl.col("__reason").alias("reason"),
        pl.struct(pl.exclude("__row", "__reason")).struct.json_encode().alias("row_json"),
    )
    return ContractResult(valid, rejects.cast(REJECTS_SCHEMA), frame.height)


LABEL_REJECTS_SCHEMA: dict[str, pl.DataType] = {
    "prediction_id": pl.String(),
    "label": pl.String(),
    "label_ts": pl.Datetime("us", "UTC"),
    "reason": pl.String(),
}


def split_labels(labels: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The labels of a set of predictions (`prediction_id`, `label`, `label_ts`) under the label contract: one
    label an id, and the rows set aside with a reason — `null_label`; `conflicting_labels` (an id given different
    labels: every one is set aside and the id counts as unlabelled, since no rule can say which is right);
    `duplicate_label` (the same label again: the earliest is kept). Returns (kept, rejected); the two add up to
    the input."""
    present = labels.filter(pl.col("label").is_not_null())
    values = pl.col("label").n_unique().over(ID)
    ranked = present.sort(ID, "label_ts", nulls_last=True, maintain_order=True).with_columns(
        pl.int_range(pl.len()).over(ID).alias("__n"), values.alias("__values")
    )
    kept = ranked.filter((pl.col("__values") == 1) & (pl.col("__n") == 0)).drop("__n", "__values")
    reason = pl.when(pl.col("__values") > 1).then(pl.lit("conflicting_labels")).otherwise(pl.lit("duplicate_label"))
    set_aside = ranked.filter((pl.col("__values") > 1) | (pl.col("__n") > 0)).with_columns(reason.alias("reason"))
    nulls = labels.filter(pl.col("label").is_null()).with_columns(pl.lit("null_label").alias("reason"))
    rejected = pl.concat(
        [frame.select(ID, pl.col("label").cast(pl.String), "label_ts", "reason") for frame in (nulls, set_aside)]
    )
    return kept, rejected.cast(LABEL_REJECTS_SCHEMA)
