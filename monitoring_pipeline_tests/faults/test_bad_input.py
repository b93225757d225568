"""Bad input through the pipeline steps (issue 8's fault matrix, first part): the order rows arrive in never
changes a report; tiny, empty-valued, NaN and infinite days get explicit statuses; duplicates are set aside with
a reason; counts reconcile every time."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from polars.testing import assert_frame_equal

from monitoring_pipeline.core.config import ProjectConfig, ReferenceWindow, parse_config
from monitoring_pipeline.demo.generator import tabular_day
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.config_file import DEFAULT_CONFIG
from monitoring_pipeline.steps.bins import freeze_model_bins
from monitoring_pipeline.steps.drift import drift_day
from monitoring_pipeline.steps.guards import guard_day
from monitoring_pipeline.steps.log import check_log_day
from monitoring_pipeline.steps.profiles import profile_day

pytestmark = pytest.mark.faults

DAYS = [date(2026, 9, 1) + timedelta(days=i) for i in range(5)]
JUDGED = DAYS[4]
NOW = datetime(2026, 10, 1, tzinfo=UTC)


def _config(root: Path) -> ProjectConfig:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["lake"]["root"] = str(root)
    raw["models"] = {"credit_risk": raw["models"]["credit_risk"]}
    return parse_config(raw)


def _model(config: ProjectConfig):
    return replace(
        config.model("credit_risk"),
        start_date=DAYS[0],
        baseline=ReferenceWindow("fixed", DAYS[0], DAYS[3]),
        reference=ReferenceWindow("fixed", DAYS[0], DAYS[3]),
    )


def _run(root: Path, log: pl.DataFrame) -> tuple[ProjectConfig, dict[str, pl.DataFrame]]:
    """Write `log`, run every step for every day, and return the report tables."""
    config = _config(root)
    model = _model(config)
    delta.overwrite(catalog.log_table(config, model), log)
    freeze_model_bins(config, model, NOW)
    for day in DAYS:
        check_log_day(config, model, day, NOW)
        guard_day(config, model, day, NOW)
        profile_day(config, model, day)
    drift_day(config, model, JUDGED)
    lake = catalog.lake_of(config)
    names = (catalog.FEATURE_PROFILES, catalog.OUTPUT_PROFILES, catalog.DRIFT_REPORT, catalog.LOG_REJECTS)
    return config, {name: delta.scan(lake.table(name)).collect() for name in names}


def _log(last_day: pl.DataFrame | None = None) -> pl.DataFrame:
    days = [tabular_day(d, 400) for d in DAYS[:4]]
    return pl.concat([*days, tabular_day(JUDGED, 400) if last_day is None else last_day], how="diagonal_relaxed")


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns[: min(6, len(frame.columns))], nulls_last=True)


def _drift(tables: dict[str, pl.DataFrame], column: str) -> str:
    report = tables[catalog.DRIFT_REPORT]
    return report.filter((pl.col("column") == column) & (pl.col("day") == JUDGED))["verdict"][0]


def test_rows_in_any_order_give_identical_reports(tmp_path: Path) -> None:
    log = _log()
    shuffled = log.sample(fraction=1.0, shuffle=True, seed=3)
    _, ordered_tables = _run(tmp_path / "ordered", log.sort("event_ts"))
    _, shuffled_tables = _run(tmp_path / "shuffled", shuffled)
    for name, frame in ordered_tables.items():
        assert_frame_equal(_sorted(frame), _sorted(shuffled_tables[name]), check_row_order=True)


def test_a_one_row_day_is_insufficient_not_drifting(tmp_path: Path) -> None:
    _, tables = _run(tmp_path, _log(tabular_day(JUDGED, 400).head(1)))
    assert _drift(tables, "age") == "insufficient_sample"
    verdicts = set(tables[catalog.DRIFT_REPORT].filter(pl.col("day") == JUDGED)["verdict"])
    assert "drift" not in verdicts


def test_an_all_null_feature_is_undefined_and_the_others_still_judged(tmp_path: Path) -> None:
    day = tabular_day(JUDGED, 400).with_columns(pl.lit(None, pl.Float64).alias("income"))
    _, tables = _run(tmp_path, _log(day))
    assert _drift(tables, "income") == "undefined"
    assert _drift(tables, "age") == "ok"


def test_nan_and_infinities_are_counted_apart_from_the_distribution(tmp_path: Path) -> None:
    day = tabular_day(JUDGED, 400)
    income = day["income"].fill_null(48_000.0).to_numpy().copy()  # no nulls: only the planted NaN
    income[:5], income[5:8], income[8:10] = np.nan, np.inf, -np.inf
    day = day.with_columns(pl.Series("income", income))
    _, tables = _run(tmp_path, _log(day))
    profile = tables[catalog.FEATURE_PROFILES].filter((pl.col("column") == "income") & (pl.col("day") == JUDGED))
    assert profile["n_nan"].sum() == 5 and profile["n_inf"].sum() == 5
    assert profile["n_valid"].sum() == day["income"].is_finite().sum()
    assert _drift(tables, "income") == "ok"  # 10 odd values out of 400 do not move the distribution


def test_duplicate_ids_keep_one_row_and_counts_reconcile(tmp_path: Path) -> None:
    day = tabular_day(JUDGED, 400)
    copies = day.head(7).with_columns(pl.col("event_ts") + pl.duration(minutes=1))
    config, tables = _run(tmp_path, _log(pl.concat([day, copies])))
    rejects = tables[catalog.LOG_REJECTS].filter(pl.col("day") == JUDGED)
    assert rejects["reason"].to_list() == ["duplicate_prediction_id"] * 7
    validated = delta.scan(catalog.table(config, catalog.validated_table(_model(config)))).collect()
    quarantined = delta.scan(catalog.table(config, catalog.quarantine_table(_model(config)))).collect()
    kept = validated.filter(pl.col("day") == JUDGED).height + quarantined.filter(pl.col("day") == JUDGED).height
    assert kept + rejects.height == day.height + copies.height  # nothing lost, nothing counted twice
    assert validated.filter(pl.col("day") == JUDGED)["prediction_id"].is_unique().all()


def test_an_id_logged_again_on_a_later_day_is_set_aside_and_counted_once(tmp_path: Path) -> None:
    day = tabular_day(JUDGED, 400)
    earlier = _log().filter(pl.col("event_ts").dt.date() == DAYS[1]).head(5)  # logged again, three days later
    again = earlier.with_columns(pl.col("event_ts") + pl.duration(days=3))
    config, tables = _run(tmp_path, _log(pl.concat([day, again])))
    rejects = tables[catalog.LOG_REJECTS]
    assert rejects.filter(pl.col("day") == JUDGED)["reason"].to_list() == ["prediction_id_logged_on_an_earlier_day"] * 5
    assert rejects.filter(pl.col("day") == DAYS[1]).is_empty()  # the first logging stands
    validated = delta.scan(catalog.table(config, catalog.validated_table(_model(config)))).collect()
    quarantined = delta.scan(catalog.table(config, catalog.quarantine_table(_model(config)))).collect()
    kept = pl.concat([validated.select("prediction_id"), quarantined.select("prediction_id")])
    assert kept["prediction_id"].is_unique().all()  # each prediction counted once across days
    assert kept.height + rejects.height == _log(pl.concat([day, again])).height


MILLION = 1_000_000


def test_a_categorical_exploding_to_a_million_values_keeps_profiles_and_reports_small(tmp_path: Path) -> None:
    day = tabular_day(JUDGED, MILLION * 5 // 3 + 1).with_columns(  # a Saturday: the generator logs 60% of that
        (pl.lit("pc-") + pl.int_range(pl.len()).cast(pl.String)).alias("postcode")  # every row a new value
    )
    assert day["postcode"].n_unique() == MILLION
    config, tables = _run(tmp_path, _log(day))
    profiles = tables[catalog.FEATURE_PROFILES].filter(pl.col("day") == JUDGED)
    assert profiles.estimated_size() < 100_000
    profile = profiles.filter(pl.col("column") == "postcode")
    assert profile["counts"].list.len().max() <= config.top_k + 2  # top values, other, unseen: bounded
    assert profile["new_values"].list.len().max() <= 10
    assert _drift(tables, "postcode") == "drift"  # nearly every value unseen
    report = tables[catalog.DRIFT_REPORT].filter(pl.col("day") == JUDGED)
    assert report.estimated_size() < 100_000


def test_a_column_added_mid_stream_is_ignored_and_earlier_reports_do_not_change(tmp_path: Path) -> None:
    _, before = _run(tmp_path / "plain", _log())
    later = tabular_day(JUDGED, 400).with_columns(pl.lit("beta").alias("experiment_arm"))  # a new log column
    _, after = _run(tmp_path / "evolved", _log(later))  # the table's schema gains it; earlier rows hold null
    for name in (catalog.FEATURE_PROFILES, catalog.OUTPUT_PROFILES, catalog.DRIFT_REPORT):
        assert_frame_equal(_sorted(before[name]), _sorted(after[name]))
