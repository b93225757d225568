"""Daylight-saving days (issue 8's fault matrix, row 19): a log whose producer stamps Europe/Berlin local time
through a 25-hour and a 23-hour local day is read in UTC; each row lands in exactly one UTC day, whatever local
day the producer partitioned it under, and the counts reconcile."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from monitoring_pipeline.demo.generator import tabular_day
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.steps.guards import guard_day
from monitoring_pipeline_tests.faults.lake import config_for, model_for, write_log

pytestmark = pytest.mark.faults

STEP_MINUTES = 10
PER_HOUR = 60 // STEP_MINUTES


def _berlin_log(local_days: list[date]) -> pl.DataFrame:
    """One prediction every 10 minutes of the Berlin local days given, stamped in Berlin time."""
    stamps = pl.datetime_range(
        datetime.combine(local_days[0], datetime.min.time()),
        datetime.combine(local_days[-1] + timedelta(days=1), datetime.min.time()),
        f"{STEP_MINUTES}m",
        closed="left",
        time_zone="Europe/Berlin",
        eager=True,
    )
    rows = tabular_day(date(2026, 10, 21), len(stamps) + 100).head(len(stamps))  # a weekday: enough rows
    return rows.with_columns(
        stamps.alias("event_ts"), pl.format("dst-{}", pl.int_range(pl.len())).alias("prediction_id")
    )


@pytest.mark.parametrize(
    ("dst_day", "local_hours"), [(date(2026, 10, 25), 25), (date(2026, 3, 29), 23)], ids=["autumn", "spring"]
)
def test_a_daylight_saving_day_in_local_time_lands_each_row_in_one_utc_day(
    tmp_path: Path, dst_day: date, local_hours: int
) -> None:
    config = config_for(tmp_path)
    model = model_for(config)
    log = _berlin_log([dst_day - timedelta(days=1), dst_day, dst_day + timedelta(days=1)])
    assert log.filter(pl.col("event_ts").dt.date() == dst_day).height == local_hours * PER_HOUR
    table = write_log(config, model, log)  # partitioned by the producer's local date
    assert delta.scan(table).collect_schema()["event_ts"] == pl.Datetime("us", "UTC")  # Delta keeps UTC instants

    now = datetime.combine(dst_day + timedelta(days=7), datetime.min.time(), tzinfo=UTC)
    utc_days = [dst_day + timedelta(days=i) for i in range(-2, 3)]
    per_day = {day: guard_day(config, model, day, now) for day in utc_days}
    assert sum(g.log.n_read for g in per_day.values()) == log.height  # every row read once
    kept = pl.concat([g.log.valid.select("prediction_id", "event_ts") for g in per_day.values()])
    assert kept["prediction_id"].is_unique().all() and kept.height == log.height  # none twice, none lost
    for day, guarded in per_day.items():
        stamps = guarded.log.valid["event_ts"]
        assert stamps.dtype == pl.Datetime("us", "UTC") and (stamps.dt.date() == day).all()
    assert per_day[dst_day].log.n_read == 24 * PER_HOUR  # the UTC day has 24 hours, whatever Berlin's clocks did

    validated = delta.scan(catalog.table(config, catalog.validated_table(model))).collect()
    quarantined = delta.scan(catalog.table(config, catalog.quarantine_table(model))).collect()
    stored = pl.concat([validated.select("day", "event_ts"), quarantined.select("day", "event_ts")])
    assert stored.height == log.height and (stored["day"] == stored["event_ts"].dt.date()).all()
