"""Performance on a real temp lake: realized metrics from the labels that have arrived, label coverage, the
estimate from the morning a day is scored, and a label commit re-materializing only the days it labels."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest
import yaml
from polars.testing import assert_frame_equal

from monitoring_pipeline.core import performance as perf
from monitoring_pipeline.core.config import ReferenceWindow, label_text
from monitoring_pipeline.core.contract import ContractError
from monitoring_pipeline.definitions import build_definitions
from monitoring_pipeline.demo.generator import labels_for, tabular_day
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.config_file import DEFAULT_CONFIG, load_config
from monitoring_pipeline.steps import performance
from monitoring_pipeline.steps.guards import guard_day
from monitoring_pipeline.steps.performance import LabelError, alert_series, performance_day, performance_series

DAYS = [date(2026, 9, 1) + timedelta(days=i) for i in range(6)]
NOW = datetime(2026, 9, 7, tzinfo=UTC)


@pytest.fixture
def lake(tmp_path: Path):
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["lake"]["root"] = str(tmp_path / "lake")
    raw["models"] = {"credit_risk": raw["models"]["credit_risk"]}
    raw["models"]["credit_risk"] |= {"start_date": DAYS[0], "end_date": DAYS[-1] + timedelta(days=1)}
    raw["models"]["credit_risk"]["reference"] = {"kind": "fixed", "start": DAYS[0], "end": DAYS[2]}
    config_path = tmp_path / "monitoring.yaml"
    config_path.write_text(yaml.safe_dump(raw))
    config = load_config(config_path)
    model = config.model("credit_risk")
    model = replace(  # by NOW the baseline days have 3-15% of their labels: judge them anyway
        model,
        baseline=ReferenceWindow("fixed", DAYS[0], DAYS[2]),
        performance=replace(model.performance, min_coverage=0.01),
    )
    frame = pl.concat([tabular_day(d, 600) for d in DAYS]).with_columns(
        pl.col("event_ts").dt.date().alias("event_date")
    )
    delta.overwrite(catalog.log_table(config, model), frame, partition_by=["event_date"])
    labels = labels_for(frame)
    delta.overwrite(catalog.label_table(config, model), labels.filter(pl.col("label_ts") < NOW))
    for day in DAYS:
        guard_day(config, model, day, NOW)
    return config_path, config, model, frame, labels


def test_realized_metrics_use_the_labels_that_arrived_and_match_a_direct_computation(lake) -> None:
    _, config, model, frame, labels = lake
    day = DAYS[1]  # labels are 3-20 days late: by NOW, some of this day's have arrived
    result = performance_day(config, model, day, NOW)
    overall = result.overall("accuracy")
    known = frame.filter(pl.col("event_ts").dt.date() == day).join(
        labels.filter(pl.col("label_ts") <= NOW), on="prediction_id"
    )
    y = (known["label"] == "default").cast(pl.Int8).to_numpy()
    assert 0 < overall["n_labelled"] == known.height < overall["n_predictions"]
    assert overall["label_coverage"] == pytest.approx(known.height / overall["n_predictions"])
    assert overall["realized"] == pytest.approx(perf.classification_metrics(y, known["score"].to_numpy())["accuracy"])
    assert overall["estimated"] is not None and overall["band_low"] < overall["band_high"]
    segments = result.frame.filter((pl.col("metric") == "accuracy") & (pl.col("segment") != "*"))
    assert (
        set(segments["segment"]) == set(frame["region"].unique())
        and segments["n_predictions"].sum() == overall["n_predictions"]
    )
    today = performance_day(config, model, DAYS[5], NOW).overall("accuracy")
    assert today["n_labelled"] == 0 and today["realized"] is None and today["estimated"] > 0.5  # scored this morning


def test_duplicate_conflicting_and_null_labels_are_set_aside_with_a_reason_and_counts_reconcile(lake) -> None:
    _, config, model, frame, labels = lake
    day = DAYS[1]
    arrived = labels.filter(pl.col("label_ts") <= NOW).join(
        frame.filter(pl.col("event_ts").dt.date() == day).select("prediction_id"), on="prediction_id", how="semi"
    )
    twice, flipped, blank = (arrived[i : i + 1] for i in range(3))
    faults = pl.concat(
        [
            twice.with_columns(pl.col("label_ts") + timedelta(hours=1)),  # the same label again, later
            flipped.with_columns(  # a second, different label for the same id
                pl.when(pl.col("label") == "default").then(pl.lit("repaid")).otherwise(pl.lit("default")).alias("label")
            ),
            blank.with_columns(pl.lit(None, pl.String).alias("label"), pl.col("label_ts") + timedelta(hours=2)),
        ]
    )
    delta.append(catalog.label_table(config, model), faults)
    result = performance_day(config, model, day, NOW)
    reasons = dict(result.label_rejects.group_by("reason").len().iter_rows())
    assert reasons == {"duplicate_label": 1, "conflicting_labels": 2, "null_label": 1}
    assert result.labels_used + result.label_rejects.height == arrived.height + faults.height  # every row counted
    assert result.labels_used == arrived.height - 1  # the conflicted id counts as unlabelled; the blank kept its own
    assert result.overall("accuracy")["n_labelled"] == result.labels_used
    stored = delta.scan(catalog.table(config, catalog.LABEL_REJECTS)).filter(pl.col("day") == day).collect()
    assert sorted(stored["reason"]) == sorted(result.label_rejects["reason"]) and set(stored["model_name"]) == {
        model.name
    }


def test_a_label_commit_rematerializes_only_the_days_it_labels(lake) -> None:
    config_path, config, model, frame, labels = lake
    defs = build_definitions(str(config_path))
    sensor = defs.resolve_sensor_def("credit_risk_label_sensor")
    with dg.instance_for_test() as instance:
        first = sensor(dg.build_sensor_context(instance=instance, resources=defs.resources))
        assert first.run_requests == [] and first.cursor == "0"  # the nightly runs cover what is already there
        again = sensor(dg.build_sensor_context(instance=instance, resources=defs.resources, cursor=first.cursor))
        assert again.run_requests == []  # nothing new
        late = labels.filter(pl.col("label_ts") >= NOW)
        day_four = frame.filter(pl.col("event_ts").dt.date() == DAYS[3]).select("prediction_id")
        strays = late.head(2).with_columns(pl.format("unknown-{}", "prediction_id").alias("prediction_id"))
        delta.append(catalog.label_table(config, model), pl.concat([late.join(day_four, on="prediction_id"), strays]))
        after = sensor(dg.build_sensor_context(instance=instance, resources=defs.resources, cursor=first.cursor))
        assert [r.partition_key for r in after.run_requests] == [DAYS[3].isoformat()]
        assert after.run_requests[0].run_key == f"labels-v{int(first.cursor) + 1}:{DAYS[3]}"
        (delivery,) = after.asset_events  # the commit as the sensor saw it, on labels/credit_risk
        assert delivery.metadata["labels_without_prediction"].value == 2  # labels for ids never logged: counted
        assert delivery.metadata["days_relabelled"].value == 1
        run = defs.resolve_job_def("credit_risk_performance").execute_in_process(
            partition_key=DAYS[3].isoformat(), instance=instance, raise_on_error=True
        )
        assert run.success
    stored = delta.scan(catalog.table(config, catalog.PERFORMANCE)).filter(pl.col("day") == DAYS[3]).collect()
    overall = stored.filter(
        (pl.col("metric") == "accuracy") & (pl.col("model_version") == "*") & (pl.col("segment") == "*")
    )
    assert overall["label_coverage"][0] == 1.0 and np.isfinite(overall["realized"][0])


def test_the_band_follows_the_baseline_days_validated_so_far(lake) -> None:
    _, config, model, _, _ = lake
    first = performance_day(config, model, DAYS[5], NOW).overall("accuracy")
    table = catalog.table(config, catalog.validated_table(model))
    delta.write_partition(table, delta.scan(table).filter(pl.col("day") == DAYS[1]).head(0).collect(), {"day": DAYS[1]})
    second = performance_day(config, model, DAYS[5], NOW).overall("accuracy")
    assert first["band_low"] is not None  # three judged baseline days
    assert second["band_low"] is None  # two of three: too few for a band; recomputed, not served stale


def test_the_baseline_reference_is_stored_and_recomputed_only_when_the_baseline_labels_change(lake) -> None:
    _, config, model, frame, labels = lake
    table = catalog.table(config, catalog.PERFORMANCE_REFERENCE)

    def run(day: date) -> tuple[dict, int | None]:
        performance._REFERENCES.clear()  # as a fresh process: only the stored reference is at hand
        return performance_day(config, model, day, NOW).overall("accuracy"), delta.version(table)

    first, stored = run(DAYS[4])
    assert stored is not None and delta.scan(table).collect()["model_name"].to_list() == ["credit_risk"]
    again, kept = run(DAYS[5])
    assert kept == stored and again["band_low"] == first["band_low"]  # read back, not computed again
    late = labels.filter(pl.col("label_ts") >= NOW)

    def labels_of(day: date) -> pl.DataFrame:
        return late.join(frame.filter(pl.col("event_ts").dt.date() == day).select("prediction_id"), on="prediction_id")

    delta.append(catalog.label_table(config, model), labels_of(DAYS[4]))  # a later day's labels: same baseline
    assert run(DAYS[4])[1] == stored
    delta.append(catalog.label_table(config, model), labels_of(DAYS[1]).with_columns(label_ts=pl.lit(NOW)))
    recomputed = run(DAYS[4])[1]
    assert recomputed == stored + 1  # a baseline day's labels: the reference follows them
    assert delta.scan(table).collect().height == 1


def test_days_judge_independently_and_cusum_runs_over_the_stored_series(lake) -> None:
    _, config, model, _, labels = lake
    later = NOW + timedelta(days=30)
    delta.append(catalog.label_table(config, model), labels.filter(pl.col("label_ts") >= NOW))
    model = replace(model, performance=replace(model.performance, min_coverage=0.5))
    backwards = {d: performance_day(config, model, d, later).frame for d in reversed(DAYS[3:])}
    series_backwards = performance_series(config, model, DAYS[3], DAYS[-1])
    for day in DAYS[3:]:
        assert_frame_equal(performance_day(config, model, day, later).frame, backwards[day])
    assert_frame_equal(performance_series(config, model, DAYS[3], DAYS[-1]), series_backwards)
    assert series_backwards["cusum_alarm"].null_count() == 0 and series_backwards.height == 3
    before_labels = performance_day(config, model, DAYS[5], NOW).overall("accuracy")
    assert before_labels["label_coverage"] < 0.5 and before_labels["outside_band"] is None  # not judged yet
    series = performance_series(config, model, DAYS[3], DAYS[-1])
    assert series.filter(pl.col("day") == DAYS[5])["cusum_alarm"].to_list() == [None]


def test_the_alert_metrics_by_default_are_accuracy_ranking_and_calibration(lake) -> None:
    _, config, model, _, labels = lake
    later = NOW + timedelta(days=30)
    delta.append(catalog.label_table(config, model), labels.filter(pl.col("label_ts") >= NOW))
    for day in DAYS:
        performance_day(config, model, day, later)
    series = alert_series(config, model, DAYS[3], DAYS[-1])
    assert sorted(series["metric"].unique()) == ["accuracy", "ece", "roc_auc"]
    assert series.filter(pl.col("metric") == "roc_auc")["band_low"].null_count() == 0  # AUC has its own band
    flags = ["band_alarm", "cusum_alarm", "estimate_alarm"]
    assert series.filter(pl.col("metric") == "accuracy").select(flags).null_count().sum_horizontal().item() == 0
    only_auc = replace(model, performance=replace(model.performance, alert_metrics=("roc_auc",)))
    assert alert_series(config, only_auc, DAYS[3], DAYS[-1])["metric"].unique().to_list() == ["roc_auc"]


def test_an_integer_positive_label_matches_integer_labels_and_one_never_seen_is_refused_before_a_run(lake) -> None:
    _, config, model, _, labels = lake
    coded = labels.with_columns((pl.col("label") == "default").cast(pl.Int64).alias("label"))  # 1: default
    delta.overwrite(catalog.label_table(config, model), coded.filter(pl.col("label_ts") < NOW))
    positive = label_text(1, "positive_label")  # `positive_label: 1` in the YAML
    integer = replace(model, performance=replace(model.performance, positive_label=positive))
    performance.check_positive_label(config, integer)
    accuracy = performance_day(config, integer, DAYS[4], NOW).overall("accuracy")  # the baseline's 1s are positives
    assert accuracy["estimated"] > 0.5 and accuracy["band_low"] is not None
    unseen = replace(model, performance=replace(model.performance, positive_label="2"))
    with pytest.raises(
        LabelError,
        match=r"none of the labels is models\.credit_risk\.performance\.positive_label '2' "
        r"\(found '0', '1'\)",
    ):
        performance.check_positive_label(config, unseen)


def test_a_label_table_with_naive_times_or_without_its_column_is_refused_before_a_run_and_on_its_day(lake) -> None:
    _, config, model, _, labels = lake
    naive = labels.filter(pl.col("label_ts") < NOW).with_columns(pl.col("label_ts").dt.replace_time_zone(None))
    delta.overwrite(catalog.label_table(config, model), naive)
    refused = r"column label_ts is Datetime\(.*time_zone=None\); store when each label became known"
    with pytest.raises(LabelError, match=refused):
        performance.check_positive_label(config, model)  # at the first step of a run: the bins
    with pytest.raises(LabelError, match=refused):
        performance_day(config, model, DAYS[4], NOW)  # a table replaced after the bins were frozen
    delta.overwrite(catalog.label_table(config, model), labels.rename({"label": "outcome"}))
    with pytest.raises(LabelError, match=r"column label is missing \(nearest: .*\)"):
        performance.check_positive_label(config, model)


def test_a_score_that_is_no_probability_is_refused_naming_the_column_a_row_and_the_fix(lake) -> None:
    _, config, model, frame, _ = lake
    percent = frame.with_columns(pl.col("score") * 100)  # the model logged a percentage
    delta.overwrite(catalog.log_table(config, model), percent, partition_by=["event_date"])
    unguarded = replace(model, guards=replace(model.guards, rules=()))  # no guard keeps the score in [0, 1]
    guard_day(config, unguarded, DAYS[4], NOW)
    refused = r"column 'score': holds [\d.]+; .*must be the probability .* in \[0, 1\]: rescale it"
    with pytest.raises(ContractError, match=refused):
        performance_day(config, unguarded, DAYS[4], NOW)  # not a silent accuracy at threshold 0.5 of a percentage


def test_labels_in_another_vocabulary_are_refused_naming_table_column_and_values(lake) -> None:
    _, config, model, _, labels = lake
    coded = labels.with_columns(
        pl.when(pl.col("label") == "default").then(pl.lit("1")).otherwise(pl.lit("0")).alias("label")
    )
    delta.overwrite(catalog.label_table(config, model), coded.filter(pl.col("label_ts") < NOW))
    with pytest.raises(LabelError, match=r"column label: none of the \d+ baseline labels is .*'default' \(found '0'"):
        performance_day(config, model, DAYS[4], NOW)  # not a silent base rate of 0 and no alarm ever
