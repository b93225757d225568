"""The demo's weekly label feed through Dagster: each Monday's delivery is one commit to the label table, and
one tick of the label sensor re-materializes exactly the performance partitions of the days it labelled."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl

from monitoring_pipeline.demo.lake import build_demo_lake, staged_label_feed
from monitoring_pipeline.demo.run import materialize_model
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.config_file import load_config
from monitoring_pipeline_tests.conftest import write_short_config

START = date(2026, 9, 1)
DAYS = 16  # 09-01 .. 09-16: deliveries on the mornings of Monday 09-07 and Monday 09-14
DELIVERIES = [datetime(2026, 9, 7, tzinfo=UTC), datetime(2026, 9, 14, tzinfo=UTC)]


def test_weekly_deliveries_rematerialize_exactly_the_days_they_label(tmp_path: Path) -> None:
    config_path = write_short_config(tmp_path, START, DAYS, baseline_days=7)
    config = load_config(config_path)
    build_demo_lake(config, scale=0.1, progress=lambda _: None)
    model = config.model("credit_risk")
    labels = catalog.label_table(config, model)
    assert delta.scan(labels).select(pl.len()).collect().item() == 0  # nothing has arrived yet

    instance = dg.DagsterInstance.ephemeral()
    run = materialize_model(config_path, None, "credit_risk", instance)

    feed = delta.scan(staged_label_feed(config, "credit_risk")).collect()
    last_day = START + timedelta(days=DAYS - 1)
    expected, delivered_before = [], datetime(1970, 1, 1, tzinfo=UTC)
    for until in DELIVERIES:
        batch = feed.filter((pl.col("label_ts") < until) & (pl.col("label_ts") >= delivered_before))
        days = batch["prediction_id"].str.slice(3, 8).str.to_date("%Y%m%d").unique()
        expected.append(sorted(d for d in days.to_list() if d <= last_day))
        delivered_before = until
    assert run.message.endswith(f"2 label deliveries re-materialized {sum(map(len, expected))} partitions")
    assert delta.version(labels) == 2  # the empty table, then one commit per delivery
    stored = delta.scan(labels).collect()
    assert stored.height == feed.filter(pl.col("label_ts") < DELIVERIES[-1]).height
    assert stored["prediction_id"].is_unique().all()

    by_day = (
        delta.scan(catalog.table(config, catalog.PERFORMANCE))
        .filter((pl.col("metric") == "accuracy") & (pl.col("model_version") == "*") & (pl.col("segment") == "*"))
        .collect()
    )
    for day in expected[-1]:  # re-materialized after the last delivery: they read its label version
        row = by_day.filter(pl.col("day") == day).row(0, named=True)
        assert row["label_version"] == 2 and row["n_labelled"] > 0
    runs = instance.get_runs()  # who launched each run, as the UI shows it: the schedule, the label sensor
    nights = [r for r in runs if r.job_name == "credit_risk_nightly"]
    assert {r.tags.get("dagster/schedule_name") for r in nights} == {"credit_risk_nightly_schedule"}
    assert len(nights) == DAYS and {r.tags["dagster/partition"] for r in nights} == {
        (START + timedelta(days=i)).isoformat() for i in range(DAYS)
    }
    relabelled = [r for r in runs if r.tags.get("dagster/sensor_name") == "credit_risk_label_sensor"]
    assert len(relabelled) == sum(map(len, expected))
    unlabelled = by_day.filter(pl.col("day") == date(2026, 9, 12)).row(0, named=True)
    assert date(2026, 9, 12) not in expected[-1] and unlabelled["n_labelled"] == 0
    assert unlabelled["label_version"] == 1  # its nightly run (morning of 09-13) came before the second delivery
