"""Run guard rules over a batch: every failure becomes a verdict row, and every input row lands in exactly one of
`validated` (no blocking rule failed, or a person released it) and `quarantined` (with all its reasons)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import polars as pl

from monitoring_pipeline.core.guards.rules import GuardRule, Severity, check_for

ID = "prediction_id"
VERDICT_SCHEMA: dict[str, pl.DataType] = {
    ID: pl.String(),
    "rule_id": pl.String(),
    "rule_version": pl.Int64(),
    "severity": pl.String(),
    "reason": pl.String(),
    "released": pl.Boolean(),
}
REASONS = "guard_reasons"
FLAG_PREFIX = "guard_"


def guarded_rows() -> pl.Expr:
    """A day's rows that went through the guards, from its `validated` and `quarantined` counts."""
    return pl.col("validated") + pl.col("quarantined")


def quarantined_share() -> pl.Expr:
    """The share of a day's guarded rows that were quarantined (0 on a day without rows)."""
    total = guarded_rows()
    return pl.when(total > 0).then(pl.col("quarantined") / total).otherwise(0.0).cast(pl.Float64)


def flag_column(rule_id: str) -> str:
    """The 0/1 column that marks a row failing `rule_id` (profiled and drift-monitored like any output)."""
    return f"{FLAG_PREFIX}{rule_id}"


@dataclass(frozen=True)
class GuardResult:
    verdicts: pl.DataFrame
    validated: pl.DataFrame
    quarantined: pl.DataFrame
    n_input: int

    def __post_init__(self) -> None:
        if self.validated.height + self.quarantined.height != self.n_input:
            raise AssertionError("guard split lost rows")  # a bug, never bad input

    @property
    def quarantined_share(self) -> float:
        """`quarantined_share()` of this batch."""
        return self.quarantined.height / self.n_input if self.n_input else 0.0

    def failures_by_rule(self) -> dict[str, int]:
        counts = self.verdicts.group_by("rule_id").len().sort("rule_id")
        return dict(counts.iter_rows())


def _rule_column(index: int) -> str:
    return f"__guard_{index}"


def evaluate(frame: pl.DataFrame, rules: Sequence[GuardRule], released: Collection[str] = ()) -> GuardResult:
    """Apply `rules` to every row of `frame` (which must hold `prediction_id`). Both outputs keep the input's
    columns plus one 0/1 flag per rule (1 = failed, warn rules included); quarantined rows also list their
    reasons. Rows whose id is in `released` are validated even when a blocking rule fails; their verdicts stay,
    marked released."""
    columns = [_rule_column(i) for i in range(len(rules))]
    checks = [check_for(rule.check).build(rule).alias(name) for rule, name in zip(rules, columns, strict=True)]
    flagged = frame.lazy().with_columns(checks).collect()  # lazily, so rules share common subexpressions
    is_released = pl.col(ID).is_in(pl.Series(list(released), dtype=pl.String).implode())
    blocking = [name for rule, name in zip(rules, columns, strict=True) if rule.severity is Severity.BLOCK]
    blocked = pl.any_horizontal([pl.col(c).is_not_null() for c in blocking]) if blocking else pl.lit(False)
    flagged = flagged.with_columns((blocked & ~is_released).alias("__blocked"), is_released.alias("__released"))

    rule_table = pl.DataFrame(
        {
            "__rule": columns,
            "rule_id": [r.id for r in rules],
            "rule_version": [r.version for r in rules],
            "severity": [r.severity.value for r in rules],
        },
        schema={"__rule": pl.String, "rule_id": pl.String, "rule_version": pl.Int64, "severity": pl.String},
    )
    failed = pl.any_horizontal([pl.col(c).is_not_null() for c in columns]) if columns else pl.lit(False)
    verdicts = (
        (
            flagged.filter(failed)  # the rows with a verdict, before one row per rule is made of each
            .select(ID, "__released", *columns)
            .unpivot(index=[ID, "__released"], on=columns, variable_name="__rule", value_name="reason")
            .drop_nulls("reason")
            .join(rule_table, on="__rule", how="left")
            .select(ID, "rule_id", "rule_version", "severity", "reason", pl.col("__released").alias("released"))
            .cast(VERDICT_SCHEMA)
        )
        if columns
        else pl.DataFrame(schema=VERDICT_SCHEMA)
    )

    reasons = (
        pl.concat_list(
            [pl.format(f"{rule.id}:{{}}", pl.col(name)) for rule, name in zip(rules, columns, strict=True)]
        ).list.drop_nulls()
        if columns
        else pl.lit([], pl.List(pl.String))
    )
    flags = [
        pl.col(name).is_not_null().cast(pl.Float64).alias(flag_column(rule.id))
        for rule, name in zip(rules, columns, strict=True)
    ]
    helpers = [*columns, "__blocked", "__released"]
    validated = flagged.filter(~pl.col("__blocked")).with_columns(*flags).drop(helpers)
    quarantined = flagged.filter(pl.col("__blocked")).with_columns(reasons.alias(REASONS), *flags).drop(helpers)
    return GuardResult(verdicts, validated, quarantined, frame.height)
