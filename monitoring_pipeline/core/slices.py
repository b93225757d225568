"""Training and evaluation slices: a safe filter language and a content hash that ignores row order and file
layout, so a slice pinned at a Delta version can be proven unchanged later.

Filters are conjunctions of comparisons, parsed into Polars expressions (values are bound, never spliced into
code or SQL):   event_date >= '2026-09-01' and region == 'north' and score < 0.9
"""

from __future__ import annotations

import hashlib
import re
from datetime import date

import polars as pl

from monitoring_pipeline.core.errors import MonitoringError

CONDITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|>=|<=|>|<)\s*(.+?)\s*$")
OPERATORS = {
    "==": pl.Expr.__eq__,
    "!=": pl.Expr.__ne__,
    ">=": pl.Expr.__ge__,
    "<=": pl.Expr.__le__,
    ">": pl.Expr.__gt__,
    "<": pl.Expr.__lt__,
}


class FilterError(MonitoringError, ValueError):
    """A slice filter that is not a conjunction of `column op value` comparisons over known columns."""


def _literal(text: str, column: str, dtype: pl.DataType) -> object:
    """The value of `text` for `column`: a quoted date or string for those columns, a bare number for numbers."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        value = text[1:-1]
        if dtype.is_numeric():
            raise FilterError(f"column {column!r} holds numbers; write {value} without quotes")
        if isinstance(dtype, pl.Date):
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise FilterError(f"value {text!r} for date column {column!r} is not a date (YYYY-MM-DD)") from None
        return value
    try:
        number = int(text) if re.fullmatch(r"-?\d+", text) else float(text)
    except ValueError:
        raise FilterError(f"value {text!r} for column {column!r} is neither a number nor a quoted string") from None
    if not dtype.is_numeric():
        raise FilterError(f"column {column!r} holds {dtype}; quote the value: '{text}'")
    return number


def parse_filter(text: str | None, schema: pl.Schema) -> pl.Expr:
    """The Polars predicate of a slice filter (everything when `text` is empty)."""
    if not text or not text.strip():
        return pl.lit(True)
    predicate = pl.lit(True)
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        match = CONDITION.match(part)
        if not match:
            raise FilterError(
                f"cannot read condition {part!r}; expected `column op value` with op in {list(OPERATORS)}"
            )
        column, op, raw = match.groups()
        if column not in schema:
            raise FilterError(f"unknown column {column!r}; the table has {schema.names()}")
        value = _literal(raw, column, schema[column])
        predicate = predicate & OPERATORS[op](pl.col(column), pl.lit(value))
    return predicate


def content_hash(frame: pl.DataFrame) -> str:
    """SHA-256 over the rows as canonical JSON lines, sorted: equal for equal multisets of rows, whatever their
    order or the files they came from."""
    columns = sorted(frame.columns)
    lines = frame.select(pl.struct(columns).struct.json_encode().alias("row")).sort("row")["row"]
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()
