"""Prediction-log expectations against real Great Expectations (ephemeral context, no mocks).

Each validate_log_day call runs GX once; the file makes four of them (the first pays the ~3 s GX import).
"""

import os
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from monitoring_pipeline.io.expectations import (
    ExpectationOutcome,
    LogExpectations,
    ValidationSummary,
    exception_message,
    validate_log_day,
)

SPEC = LogExpectations(max_null_share={"income": 0.2}, categorical_sets={"country": ("DE", "FR")})
# exist + not-null per required column, then unique id, score range, one null share, one categorical set
N_EXPECTATIONS = 2 * len(SPEC.required_columns) + 4
T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


def _log_day(**overrides: list) -> pl.DataFrame:
    """Ten clean rows; `overrides` replace whole columns."""
    columns = {
        "prediction_id": [f"p{i}" for i in range(10)],
        "model_name": ["churn"] * 10,
        "model_version": ["3"] * 10,
        "event_ts": [T0 + timedelta(minutes=i) for i in range(10)],
        "score": [i / 10 for i in range(10)],
        "income": [None] + [1000.0 * i for i in range(1, 10)],  # 1 null in 10: share 0.1, under the 0.2 limit
        "country": ["DE", "FR"] * 5,
    }
    return pl.DataFrame(columns | overrides)


def _outcome(summary: ValidationSummary, expectation: str, column: str) -> ExpectationOutcome:
    (found,) = [o for o in summary.outcomes if o.expectation == expectation and o.column == column]
    return found


@pytest.fixture(scope="module")
def dirty() -> ValidationSummary:
    frame = _log_day(
        prediction_id=[f"p{i}" for i in range(7)] + ["p7"] * 3,
        score=[1.5, -0.1, None, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
        income=[None] * 5 + [1000.0] * 5,
        country=["DE", "FR"] * 4 + ["FR", "XX"],
    )
    return validate_log_day(frame, "dirty_day", SPEC)


def test_polars_to_pandas_keeps_utc_timestamps() -> None:
    assert str(_log_day().to_pandas()["event_ts"].dtype) == "datetime64[us, UTC]"


def test_clean_day_passes_with_null_share_under_the_limit() -> None:
    summary = validate_log_day(_log_day(), "clean_day", SPEC)
    assert (summary.success, summary.evaluated, summary.failed, summary.errored) == (True, N_EXPECTATIONS, 0, 0)
    income = _outcome(summary, "expect_column_values_to_not_be_null", "income")
    assert (income.success, income.unexpected_count) == (True, 1)


def test_duplicate_ids_fail_uniqueness(dirty: ValidationSummary) -> None:
    unique = _outcome(dirty, "expect_column_values_to_be_unique", "prediction_id")
    # GX counts every row whose value occurs more than once: "p7" three times is 3 unexpected, not 2 extra copies.
    assert (unique.success, unique.unexpected_count, unique.error) == (False, 3, None)


def test_scores_out_of_range_fail(dirty: ValidationSummary) -> None:
    between = _outcome(dirty, "expect_column_values_to_be_between", "score")
    # 1.5 and -0.1; the null score is "missing" to GX, not out of range.
    assert (between.success, between.unexpected_count) == (False, 2)


def test_null_share_over_the_limit_fails(dirty: ValidationSummary) -> None:
    income = _outcome(dirty, "expect_column_values_to_not_be_null", "income")
    assert (income.success, income.unexpected_count) == (False, 5)


def test_categorical_set_fails_below_mostly(dirty: ValidationSummary) -> None:
    country = _outcome(dirty, "expect_column_values_to_be_in_set", "country")
    assert (country.success, country.unexpected_count) == (False, 1)  # 9 of 10 in the set is under mostly=0.99


def test_dirty_day_counts_data_failures_not_errors(dirty: ValidationSummary) -> None:
    assert (dirty.success, dirty.evaluated, dirty.failed, dirty.errored) == (False, N_EXPECTATIONS, 4, 0)


def test_markdown_names_table_and_each_failing_expectation(dirty: ValidationSummary) -> None:
    markdown = dirty.to_markdown()
    assert "dirty_day" in markdown
    failing = [o for o in dirty.outcomes if not o.success]
    assert len(failing) == 4
    for o in failing:
        assert f"| {o.expectation} | {o.column} | failed |" in markdown


def test_missing_required_column_errors_while_others_still_report() -> None:
    summary = validate_log_day(_log_day().drop("model_version"), "no_version", SPEC)
    assert (summary.success, summary.evaluated, summary.failed, summary.errored) == (False, N_EXPECTATIONS, 1, 1)
    exists = _outcome(summary, "expect_column_to_exist", "model_version")
    assert (exists.success, exists.error) == (False, None)  # a data failure
    not_null = _outcome(summary, "expect_column_values_to_not_be_null", "model_version")
    assert not not_null.success and not_null.error is not None and "model_version" in not_null.error
    assert _outcome(summary, "expect_column_values_to_be_unique", "prediction_id").success
    # outcomes keep the suite's order even though GX reports errored expectations first
    assert summary.outcomes[0] == ExpectationOutcome("expect_column_to_exist", "prediction_id", True, None, None)
    assert "errored" in summary.to_markdown()


def test_empty_day_is_validated_and_sets_analytics_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GX_ANALYTICS_ENABLED", raising=False)
    summary = validate_log_day(_log_day().head(0), "empty_day", SPEC)
    # GX passes column-value expectations vacuously on zero rows.
    assert (summary.success, summary.evaluated, summary.errored) == (True, N_EXPECTATIONS, 0)
    assert summary.to_markdown().startswith("**empty_day**: passed")
    assert os.environ["GX_ANALYTICS_ENABLED"] == "False"


def test_exception_message_reads_flat_and_metric_keyed_shapes() -> None:
    assert exception_message({"raised_exception": False, "exception_message": None}) is None
    assert exception_message({"raised_exception": True, "exception_message": "boom"}) == "boom"
    raised = {"raised_exception": True, "exception_message": "no column x", "exception_traceback": "..."}
    assert exception_message({"metric.a": raised, "metric.b": raised}) == "no column x"


def test_gx_gets_only_the_columns_it_checks_in_forms_that_keep_every_count() -> None:
    frame = _log_day(
        prediction_id=["p1", None, "p1", "p3", "p4", "p5", "p6", "p7", "p8", "p8"],
        model_version=["3", None] * 5,
        notes=["free text nobody checks"] * 10,
    )
    checked = SPEC.as_checked(frame)
    assert checked.columns == [c for c in SPEC.columns() if c in frame.columns] and "notes" not in checked.columns
    assert checked.height == frame.height
    for column in checked.columns:
        assert checked[column].is_null().to_list() == frame[column].is_null().to_list(), column
    ids = checked["prediction_id"]
    assert ids.is_duplicated().to_list() == frame["prediction_id"].is_duplicated().to_list()
    assert checked["score"].to_list() == frame["score"].to_list()
    assert checked["country"].cast(pl.String).to_list() == frame["country"].to_list()
    summary = validate_log_day(frame, "stand_ins", SPEC)
    assert _outcome(summary, "expect_column_values_to_not_be_null", "model_version").unexpected_count == 5
    assert _outcome(summary, "expect_column_values_to_be_unique", "prediction_id").unexpected_count == 4
