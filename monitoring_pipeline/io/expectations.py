"""Great Expectations (GX Core 1.x) checks on one day of a prediction log, reported as plain frozen dataclasses.

GX is imported lazily (the import takes seconds) and runs in an ephemeral context: nothing is written to disk and
no GX object leaves this module. Results use the SUMMARY format with no partial unexpected values, so raw (possibly
personal) values are never copied into them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult
    from great_expectations.expectations import Expectation

CATEGORICAL_MOSTLY = 0.99
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 0}
_GX_NAME = "prediction_log"  # datasource / asset / suite names inside the throwaway context


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str  # e.g. "expect_column_values_to_be_unique"
    column: str | None
    success: bool
    unexpected_count: int | None
    error: str | None  # the expectation itself raised (e.g. missing column): a validator error, not a data failure

    @property
    def status(self) -> str:
        if self.error is not None:
            return "errored"
        return "passed" if self.success else "failed"


@dataclass(frozen=True)
class ValidationSummary:
    table: str
    success: bool  # all expectations passed and none errored
    evaluated: int
    failed: int
    errored: int
    outcomes: tuple[ExpectationOutcome, ...]

    def to_frame(self) -> pl.DataFrame:
        """One row per expectation (no raw values: counts and messages only)."""
        return pl.DataFrame(
            [
                {
                    "expectation": o.expectation,
                    "column": o.column,
                    "status": o.status,
                    "unexpected_count": o.unexpected_count,
                    "error": o.error,
                }
                for o in self.outcomes
            ],
            schema={
                "expectation": pl.String,
                "column": pl.String,
                "status": pl.String,
                "unexpected_count": pl.Int64,
                "error": pl.String,
            },
            orient="row",
        )

    def to_markdown(self) -> str:
        """A headline and one table row per expectation, for Dagster metadata."""
        verdict = "passed" if self.success else "FAILED"
        lines = [
            f"**{self.table}**: {verdict} ({self.evaluated} evaluated, {self.failed} failed, {self.errored} errored)",
            "",
            "| expectation | column | status | unexpected | error |",
            "|---|---|---|---|---|",
        ]
        for o in self.outcomes:
            unexpected = "" if o.unexpected_count is None else str(o.unexpected_count)
            cells = (o.expectation, o.column or "", o.status, unexpected, o.error or "")
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        return "\n".join(lines)


@dataclass(frozen=True)
class LogExpectations:
    """What a prediction-log day must satisfy."""

    id_column: str = "prediction_id"
    required_columns: tuple[str, ...] = ("prediction_id", "model_name", "model_version", "event_ts")
    score_column: str | None = "score"
    score_range: tuple[float, float] = (0.0, 1.0)
    max_null_share: dict[str, float] = field(default_factory=dict)  # column -> max share of nulls
    categorical_sets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # column -> allowed values (mostly=0.99)
    row_count: tuple[int | None, int | None] | None = None  # (min, max) rows of the day; None bound = open

    def columns(self) -> list[str]:
        """Every column an expectation reads."""
        named = [*self.required_columns, self.id_column, self.score_column, *self.max_null_share]
        return list(dict.fromkeys(c for c in [*named, *self.categorical_sets] if c is not None))

    def as_checked(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The columns of `frame` the expectations read, each in the cheapest form that keeps what they test, so
        GX's pandas copy is small: the id by its dense rank (equal ids, equal ranks; nulls stay null), a column
        checked only for nulls by its null pattern, an allowed-values column of text as a categorical, the score
        as it is. Rows and nulls are those of `frame`, so every count GX reports is the same."""
        forms = {}
        for column in self.columns():
            if column not in frame.columns:
                continue  # GX reports the missing column
            value = pl.col(column)
            if column == self.id_column:
                forms[column] = value.rank("dense")
            elif column == self.score_column:
                forms[column] = value
            elif column in self.categorical_sets:
                forms[column] = value.cast(pl.Categorical) if frame.schema[column] == pl.String else value
            else:
                forms[column] = pl.when(value.is_null()).then(None).otherwise(pl.lit(0, pl.Int8))
        return frame.select(**forms)


def validate_log_day(frame: pl.DataFrame, table: str, expectations: LogExpectations) -> ValidationSummary:
    """Validate one day of a prediction log (the columns the expectations read, in the forms `as_checked` gives
    them); outcomes come back in the order the expectations are built."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # tqdm bars would otherwise go to stderr
    batch_definition = (
        context.data_sources.add_pandas(_GX_NAME)
        .add_dataframe_asset(_GX_NAME)
        .add_batch_definition_whole_dataframe(_GX_NAME)
    )
    suite = context.suites.add(gx.ExpectationSuite(name=_GX_NAME, expectations=_build_expectations(expectations)))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=_GX_NAME, data=batch_definition, suite=suite)
    )
    checked = expectations.as_checked(frame).to_pandas()
    result = definition.run(batch_parameters={"dataframe": checked}, result_format=RESULT_FORMAT)
    # GX lists errored expectations first; restore the suite's order so reports are stable.
    position = {e.id: i for i, e in enumerate(suite.expectations)}
    ordered = sorted(result.results, key=lambda r: position[r.expectation_config.id])
    return _summarize(table, tuple(_outcome(r) for r in ordered))


def _build_expectations(spec: LogExpectations) -> list[Expectation]:
    """The GX expectations `spec` stands for (requires GX to be importable)."""
    import great_expectations.expectations as gxe

    built: list[Expectation] = []
    if spec.row_count is not None:
        built.append(gxe.ExpectTableRowCountToBeBetween(min_value=spec.row_count[0], max_value=spec.row_count[1]))
    for column in spec.required_columns:
        built += [gxe.ExpectColumnToExist(column=column), gxe.ExpectColumnValuesToNotBeNull(column=column)]
    built.append(gxe.ExpectColumnValuesToBeUnique(column=spec.id_column))
    if spec.score_column is not None:
        low, high = spec.score_range
        built.append(gxe.ExpectColumnValuesToBeBetween(column=spec.score_column, min_value=low, max_value=high))
    built += [gxe.ExpectColumnValuesToNotBeNull(column=c, mostly=1 - share) for c, share in spec.max_null_share.items()]
    built += [
        gxe.ExpectColumnValuesToBeInSet(column=c, value_set=list(allowed), mostly=CATEGORICAL_MOSTLY)
        for c, allowed in spec.categorical_sets.items()
    ]
    return built


def _summarize(table: str, outcomes: tuple[ExpectationOutcome, ...]) -> ValidationSummary:
    """Counts over `outcomes`; a failure is a data failure, an errored expectation is counted apart."""
    errored = sum(o.error is not None for o in outcomes)
    failed = sum(not o.success and o.error is None for o in outcomes)
    return ValidationSummary(
        table=table,
        success=failed == 0 and errored == 0,
        evaluated=len(outcomes),
        failed=failed,
        errored=errored,
        outcomes=outcomes,
    )


def _outcome(result: ExpectationValidationResult) -> ExpectationOutcome:
    config = result.expectation_config
    unexpected = (result.result or {}).get("unexpected_count")
    error = exception_message(result.exception_info or {})
    return ExpectationOutcome(
        expectation=config.type,
        column=config.kwargs.get("column"),
        success=bool(result.success) and error is None,
        unexpected_count=None if unexpected is None else int(unexpected),
        error=error,
    )


def exception_message(exception_info: Mapping[str, Any]) -> str | None:
    """The distinct messages of raised exceptions, from a flat exception_info or one keyed by metric id."""
    infos = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    messages = [str(i.get("exception_message") or "exception raised") for i in infos if i.get("raised_exception")]
    return "; ".join(dict.fromkeys(messages)) or None


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
