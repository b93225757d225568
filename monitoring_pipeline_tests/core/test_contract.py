"""The prediction-log contract: schema errors name table, column and an example row; bad rows are set aside."""

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from monitoring_pipeline.core.config import ProjectConfig
from monitoring_pipeline.core.contract import ContractError, check_schema, split_rows

NOW = datetime(2026, 9, 2, tzinfo=UTC)
TABLE = "lake/logs/support_summarizer"


def _log(n: int = 4, **overrides: list) -> pl.DataFrame:
    base = {
        "prediction_id": [f"p{i}" for i in range(n)],
        "model_name": ["support_summarizer"] * n,
        "model_version": ["2.3"] * n,
        "event_ts": [datetime(2026, 9, 1, 10, i, tzinfo=UTC) for i in range(n)],
        "ticket_length": [float(i) for i in range(n)],
        "customer_tier": ["gold"] * n,
        "language": ["en"] * n,
        "score": [0.5] * n,
        "prompt_version": ["v1"] * n,
        "output_text": ['{"a": 1}'] * n,
        "prompt_text": ["hello"] * n,
        "retrieved_context": ["ctx"] * n,
    }
    return pl.DataFrame(base | overrides)


def test_valid_log_passes_schema(demo_config: ProjectConfig) -> None:
    frame = _log()
    check_schema(frame.schema, demo_config.model("support_summarizer"), TABLE, frame)


def test_missing_column_names_table_and_column(demo_config: ProjectConfig) -> None:
    frame = _log().drop("language")
    with pytest.raises(ContractError, match=r"table lake/logs/support_summarizer: column 'language': missing"):
        check_schema(frame.schema, demo_config.model("support_summarizer"), TABLE, frame)


def test_wrong_type_names_column_and_example_row(demo_config: ProjectConfig) -> None:
    frame = _log(ticket_length=["long", "short", "x", "y"])
    with pytest.raises(ContractError) as raised:
        check_schema(frame.schema, demo_config.model("support_summarizer"), TABLE, frame)
    assert raised.value.column == "ticket_length"
    assert raised.value.example == {"prediction_id": "p0", "ticket_length": "long"}
    assert "expected numeric" in str(raised.value)


def test_naive_timestamps_are_refused(demo_config: ProjectConfig) -> None:
    frame = _log().with_columns(pl.col("event_ts").dt.replace_time_zone(None))
    with pytest.raises(ContractError, match=r"event_ts.*naive") as raised:
        check_schema(frame.schema, demo_config.model("support_summarizer"), TABLE, frame)
    assert raised.value.example["prediction_id"] == "p0"


def test_bad_rows_are_set_aside_with_reasons_and_counts_reconcile(demo_config: ProjectConfig) -> None:
    frame = _log(
        6,
        prediction_id=["a", "b", "b", None, "d", "e"],
        model_name=["support_summarizer"] * 5 + ["credit_risk"],
        event_ts=[
            datetime(2026, 9, 1, 10, tzinfo=UTC),
            datetime(2026, 9, 1, 11, tzinfo=UTC),
            datetime(2026, 9, 1, 9, tzinfo=UTC),  # the earliest "b" is kept
            datetime(2026, 9, 1, 12, tzinfo=UTC),
            NOW + timedelta(hours=1),
            datetime(2026, 9, 1, 13, tzinfo=UTC),
        ],
    )
    result = split_rows(frame, demo_config.model("support_summarizer"), NOW)
    assert result.n_read == 6 == result.valid.height + result.rejects.height
    assert sorted(result.valid["prediction_id"].to_list()) == ["a", "b"]
    assert result.valid.filter(pl.col("prediction_id") == "b")["event_ts"].dt.hour().item() == 9
    reasons = dict(zip(result.rejects["prediction_id"].to_list(), result.rejects["reason"].to_list(), strict=True))
    assert reasons == {
        "b": "duplicate_prediction_id",
        None: "null_prediction_id",
        "d": "event_ts_in_future",
        "e": "other_model_name",
    }
    kept_row = result.rejects.filter(pl.col("prediction_id") == "d")["row_json"].item()
    assert '"ticket_length":4.0' in kept_row  # the whole row is kept, nothing is lost


def test_split_is_independent_of_row_order(demo_config: ProjectConfig) -> None:
    frame = _log(
        5,
        prediction_id=["x", "x", "y", "y", "z"],
        ticket_length=[1.0, 2.0, 3.0, 4.0, 5.0],
        event_ts=[datetime(2026, 9, 1, 10, tzinfo=UTC)] * 5,
    )
    model = demo_config.model("support_summarizer")
    forward = split_rows(frame, model, NOW)
    backward = split_rows(frame.reverse(), model, NOW)
    assert forward.valid.sort("prediction_id").equals(backward.valid.sort("prediction_id"))
