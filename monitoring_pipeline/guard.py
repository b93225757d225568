"""Guards for a serving path: check one record (or a small batch) in-process before anything acts on it.

    from monitoring_pipeline import check_record, guard_rules

    rules = guard_rules("support_summarizer")          # from the project's monitoring.yaml (or config_path=...)
    violations = check_record({"prediction_id": "p1", "output_text": text, ...}, rules)
    if any(v.severity == "block" for v in violations):
        ...  # do not show the output

These are the very rules the nightly pipeline applies; nothing here imports Dagster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from monitoring_pipeline.core.guards.evaluate import ID, evaluate
from monitoring_pipeline.core.guards.rules import GuardRule
from monitoring_pipeline.core.guards.scalar import as_text, check_one


@dataclass(frozen=True)
class Violation:
    rule_id: str
    rule_version: int
    severity: str
    reason: str


def guard_rules(model: str, config_path: str | Path | None = None) -> tuple[GuardRule, ...]:
    """The guard rules declared for `model` in the project config."""
    from monitoring_pipeline.io.config_file import DEFAULT_CONFIG, load_config

    return load_config(config_path or DEFAULT_CONFIG).model(model).guards.rules


SMALL_BATCH = 64
NOT_TEXT = {"numeric_range", "vocabulary"}  # the checks that read a value as it is, not as text


def check_records(records: Sequence[Mapping[str, Any]], rules: Sequence[GuardRule]) -> list[list[Violation]]:
    """The violations of each record, in order (an empty list: the record passed every rule). Small batches
    go record by record; larger ones through the vectorised rules."""
    if len(records) <= SMALL_BATCH:
        return [check_record(record, rules) for record in records]
    # the row number stands in for the id, so verdicts map back to records whatever ids they carry
    texts = {column for rule in rules if rule.check not in NOT_TEXT for column in rule.read()}
    rows = [{k: as_text(v) if k in texts else v for k, v in record.items()} for record in records]
    frame = pl.DataFrame(rows, infer_schema_length=None).with_columns(pl.int_range(pl.len()).cast(pl.String).alias(ID))
    found: list[list[Violation]] = [[] for _ in records]
    for row in evaluate(frame, rules).verdicts.iter_rows(named=True):
        found[int(row[ID])].append(Violation(row["rule_id"], row["rule_version"], row["severity"], row["reason"]))
    return found


def check_record(record: Mapping[str, Any], rules: Sequence[GuardRule]) -> list[Violation]:
    """The violations of one record (an empty list: it passed every rule); plain Python, no DataFrame."""
    return [Violation(rule.id, rule.version, rule.severity.value, reason) for rule, reason in check_one(record, rules)]
