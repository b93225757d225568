"""The demo generator: deterministic, well-typed, seasonal, and with each scripted incident where it belongs."""

from __future__ import annotations

import contextlib
import itertools
import json
from datetime import UTC, date, datetime, time, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from monitoring_pipeline.demo.generator import (
    DEMO_DAYS,
    DEMO_START,
    INCIDENTS,
    LLM_CATEGORICAL,
    LLM_NUMERIC,
    TABULAR_CATEGORICAL,
    TABULAR_NUMERIC,
    demo_days,
    labels_for,
    llm_day,
    tabular_day,
)

ROWS = 3000
UTC_US = pl.Datetime("us", "UTC")


def day(d: int) -> date:
    return DEMO_START + timedelta(days=d)


def share(frame: pl.DataFrame, column: str, value: str) -> float:
    return (frame[column] == value).mean()


def zero_share(frame: pl.DataFrame, column: str) -> float:
    return (frame[column].drop_nulls() == 0).mean()


def json_depth(value: object) -> int:
    """Nesting depth of containers: a scalar is 0, {"a": ["x"]} is 2."""
    if isinstance(value, dict):
        return 1 + max((json_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((json_depth(v) for v in value), default=0)
    return 0


def parsed(texts: pl.Series) -> list[object]:
    out = []
    for text in texts:
        with contextlib.suppress(json.JSONDecodeError):
            out.append(json.loads(text))
    return out


# --- metadata -------------------------------------------------------------------------------------------------


def test_demo_days_and_feature_lists() -> None:
    days = demo_days()
    assert len(days) == DEMO_DAYS == 60
    assert days[0] == DEMO_START == date(2026, 9, 1)
    assert all((b - a).days == 1 for a, b in itertools.pairwise(days))
    assert len(TABULAR_NUMERIC) == 20 and len(set(TABULAR_NUMERIC)) == 20
    assert len(TABULAR_CATEGORICAL) == 5
    assert LLM_NUMERIC == ("ticket_length",) and LLM_CATEGORICAL == ("customer_tier", "language")


def test_incidents_point_at_real_columns() -> None:
    kinds = [
        "gradual_drift",
        "joint_drift",
        "silent_regression",
        "category_mix",
        "model_release",
        "segment_shift",
        "prompt_release",
        "guard_burst",
    ]
    assert [i.kind for i in INCIDENTS] == kinds
    tabular = tabular_day(day(0), 100)
    columns = {
        "credit_risk": [*tabular.columns, *labels_for(tabular).columns],
        "support_summarizer": llm_day(day(0), 100).columns,
    }
    for incident in INCIDENTS:
        assert incident.column in columns[incident.model]
        assert DEMO_START < incident.start_day <= day(DEMO_DAYS - 1)


def _accuracy(frame: pl.DataFrame) -> float:
    labelled = frame.join(labels_for(frame), on="prediction_id")
    return float(((labelled["score"] >= 0.5) == (labelled["label"] == "default")).mean())


def test_silent_regression_keeps_scores_flat_while_accuracy_falls() -> None:
    before = pl.concat([tabular_day(day(d), 4_000) for d in (22, 23, 24)])
    after = pl.concat([tabular_day(day(d), 4_000) for d in (41, 42, 43)])  # before the release on day 45
    assert abs(after["score"].mean() - before["score"].mean()) < 0.005
    assert _accuracy(before) - _accuracy(after) > 0.02


def test_joint_drift_unlinks_income_from_savings_but_not_its_own_shape() -> None:
    def income_savings_correlation(frame: pl.DataFrame) -> float:
        logs = frame.select(pl.col("income", "savings_balance").log()).drop_nulls()
        return logs.select(pl.corr("income", "savings_balance")).item()

    before, late = tabular_day(day(20), 20_000), tabular_day(day(50), 20_000)
    assert 0.55 < income_savings_correlation(before) < 0.65
    assert income_savings_correlation(late) < 0.3
    deflated = late["income"] / (1 + 0.015 * 21)  # without the separate gradual drift
    assert abs(deflated.log().std() - before["income"].log().std()) < 0.02


# --- determinism, schema, ids, timestamps ---------------------------------------------------------------------


@pytest.mark.parametrize("generate", [tabular_day, llm_day])
def test_same_inputs_give_equal_frames(generate) -> None:
    assert_frame_equal(generate(day(12), ROWS), generate(day(12), ROWS))
    assert not generate(day(12), ROWS).equals(generate(day(12), ROWS, seed=99))


def test_labels_are_deterministic() -> None:
    frame = tabular_day(day(3), ROWS)
    assert_frame_equal(labels_for(frame), labels_for(frame))


def test_tabular_schema() -> None:
    frame = tabular_day(day(0), ROWS)
    expected = {
        "prediction_id": pl.String,
        "model_name": pl.String,
        "model_version": pl.String,
        "event_ts": UTC_US,
        **dict.fromkeys(TABULAR_NUMERIC, pl.Float64),
        **dict.fromkeys(TABULAR_CATEGORICAL, pl.String),
        "score": pl.Float64,
        "prediction": pl.String,
        "output_length": pl.Int64,
    }
    assert frame.schema == pl.Schema(expected)
    assert frame["model_name"].unique().to_list() == ["credit_risk"]
    assert frame["score"].is_between(0, 1, closed="none").all()
    assert frame["prediction"].to_list() == ["reject" if s >= 0.5 else "approve" for s in frame["score"]]
    assert frame["output_length"].is_between(0, 8).all()


def test_llm_schema() -> None:
    frame = llm_day(day(0), ROWS)
    expected = {
        "prediction_id": pl.String,
        "model_name": pl.String,
        "model_version": pl.String,
        "event_ts": UTC_US,
        "prompt_version": pl.String,
        "ticket_length": pl.Float64,
        "customer_tier": pl.String,
        "language": pl.String,
        "prompt_text": pl.String,
        "retrieved_context": pl.String,
        "output_text": pl.String,
        "score": pl.Float64,
    }
    assert frame.schema == pl.Schema(expected)
    assert frame["model_version"].unique().to_list() == ["2.3"]
    assert frame["customer_tier"].n_unique() == 4 and frame["language"].n_unique() == 6
    assert frame["score"].is_between(0, 1, closed="none").all()
    assert frame["prompt_text"].str.contains("Ticket:").all()
    assert all(text.isascii() for text in frame["output_text"])


@pytest.mark.parametrize(("generate", "prefix"), [(tabular_day, "cr-"), (llm_day, "ss-")])
def test_ids_unique_within_and_across_days(generate, prefix: str) -> None:
    ids = pl.concat([generate(day(7), ROWS)["prediction_id"], generate(day(8), ROWS)["prediction_id"]])
    assert ids.n_unique() == ids.len()
    assert ids.str.starts_with(prefix).all()


@pytest.mark.parametrize("generate", [tabular_day, llm_day])
def test_event_ts_within_the_utc_day(generate) -> None:
    d = day(20)
    ts = generate(d, ROWS)["event_ts"]
    assert ts.dtype == UTC_US
    assert ts.dt.date().unique().to_list() == [d]
    busy = ts.dt.hour().is_between(8, 21).mean()
    assert busy > 15 / 24  # the daily cycle: more traffic 08-22h


def test_numeric_null_shares() -> None:
    frame = tabular_day(day(0), 10_000)
    for name in TABULAR_NUMERIC:
        assert 0.005 <= frame[name].null_count() / frame.height <= 0.06, name
    for name in TABULAR_CATEGORICAL:
        assert frame[name].null_count() == 0


# --- weekly seasonality ---------------------------------------------------------------------------------------


def test_weekend_volume() -> None:
    saturday, sunday, monday = day(4), day(5), day(6)
    assert (saturday.weekday(), sunday.weekday(), monday.weekday()) == (5, 6, 0)
    assert tabular_day(saturday, 1000).height == tabular_day(sunday, 1000).height == 600
    assert tabular_day(monday, 1000).height == 1000
    assert llm_day(saturday, 1000).height == 700 and llm_day(monday, 1000).height == 1000


def test_weekend_seasonality_is_quiet_against_the_same_weekday() -> None:
    friday, saturday, next_saturday = (tabular_day(day(d), 20_000) for d in (3, 4, 11))
    assert share(saturday, "channel", "mobile_app") > share(friday, "channel", "mobile_app") + 0.05
    assert saturday["avg_txn_amount"].median() > 1.1 * friday["avg_txn_amount"].median()
    mobile, mobile_next = share(saturday, "channel", "mobile_app"), share(next_saturday, "channel", "mobile_app")
    assert mobile == pytest.approx(mobile_next, abs=0.02)
    ratio = saturday["avg_txn_amount"].median() / next_saturday["avg_txn_amount"].median()
    assert ratio == pytest.approx(1.0, abs=0.05)


# --- scripted incidents ---------------------------------------------------------------------------------------


def test_income_drifts_gradually_from_day_30() -> None:
    mean = {d: tabular_day(day(d), ROWS)["income"].mean() for d in (10, 29, 45, 59)}
    assert mean[29] == pytest.approx(mean[10], rel=0.05)
    assert mean[10] * 1.15 < mean[45] < mean[59]
    assert mean[59] > 1.3 * mean[10]


def test_channel_mix_changes_at_day_40() -> None:
    for d in (0, 10, 39):
        assert share(tabular_day(day(d), ROWS), "channel", "partner_api") == 0
    before, after = tabular_day(day(33), ROWS), tabular_day(day(47), ROWS)  # both Sundays
    for frame in (tabular_day(day(40), ROWS), after):
        assert share(frame, "channel", "partner_api") > 0.1
    assert share(after, "channel", "branch") < 0.65 * share(before, "channel", "branch")


def test_model_release_at_noon_of_day_45() -> None:
    release = datetime.combine(day(45), time(12), tzinfo=UTC)
    frame = tabular_day(day(45), 10_000)
    morning = frame.filter(pl.col("event_ts") < release)
    afternoon = frame.filter(pl.col("event_ts") >= release)
    assert morning["model_version"].unique().to_list() == ["1.0"]
    assert afternoon["model_version"].unique().to_list() == ["1.1"]
    assert tabular_day(day(44), ROWS)["model_version"].unique().to_list() == ["1.0"]
    assert tabular_day(day(46), ROWS)["model_version"].unique().to_list() == ["1.1"]
    assert afternoon["score"].mean() > morning["score"].mean() + 0.05
    assert share(afternoon, "prediction", "reject") > share(morning, "prediction", "reject") + 0.05
    assert afternoon["credit_score"].mean() == pytest.approx(morning["credit_score"].mean(), rel=0.02)


def test_prompt_release_at_day_50() -> None:
    v1, v2 = llm_day(day(49), ROWS), llm_day(day(50), ROWS)
    assert v1["prompt_version"].unique().to_list() == ["v1"] and v2["prompt_version"].unique().to_list() == ["v2"]
    output_ratio = v2["output_text"].str.len_chars().mean() / v1["output_text"].str.len_chars().mean()
    prompt_ratio = v2["prompt_text"].str.len_chars().mean() / v1["prompt_text"].str.len_chars().mean()
    context_ratio = v2["retrieved_context"].str.len_chars().mean() / v1["retrieved_context"].str.len_chars().mean()
    assert output_ratio > 1.7
    assert 1.25 < prompt_ratio < 1.6
    assert context_ratio == pytest.approx(1.0, abs=0.05)
    assert {json_depth(doc) for doc in parsed(v1["output_text"])} == {2}
    assert min(json_depth(doc) for doc in parsed(v2["output_text"])) >= 4


@pytest.mark.parametrize("d", [10, 49, 50, 59])
def test_a_few_outputs_are_malformed_every_day(d: int) -> None:
    frame = llm_day(day(d), ROWS)
    malformed = 1 - len(parsed(frame["output_text"])) / frame.height
    assert 0 < malformed < 0.015


def test_false_alarm_features_stay_stationary() -> None:
    early, late = tabular_day(day(5), 20_000), tabular_day(day(55), 20_000)
    for name in ("savings_balance", "loan_amount"):  # heavy-tailed
        assert late[name].median() == pytest.approx(early[name].median(), rel=0.1), name
    for name in ("num_late_payments", "collateral_value"):  # mostly zero
        assert zero_share(late, name) == pytest.approx(zero_share(early, name), abs=0.02), name
    assert zero_share(early, "num_late_payments") == pytest.approx(0.9, abs=0.02)


# --- labels ---------------------------------------------------------------------------------------------------


def test_labels_follow_predictions() -> None:
    frame = tabular_day(day(20), 20_000)
    labels = labels_for(frame)
    assert labels.schema == pl.Schema({"prediction_id": pl.String, "label": pl.String, "label_ts": UTC_US})
    joined = frame.join(labels, on="prediction_id", validate="1:1")
    assert joined.height == frame.height
    assert set(joined["label"].unique()) == {"default", "repaid"}
    delay = joined["label_ts"] - joined["event_ts"]
    assert (delay >= timedelta(days=3)).all() and (delay <= timedelta(days=20)).all()
    assert share(joined, "label", "default") == pytest.approx(joined["score"].mean(), abs=0.02)  # calibrated 1.0


def test_release_11_over_predicts_default() -> None:
    frame = tabular_day(day(50), 20_000)
    joined = frame.join(labels_for(frame), on="prediction_id")
    assert share(joined, "label", "default") < joined["score"].mean() - 0.05
