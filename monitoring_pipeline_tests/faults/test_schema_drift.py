"""Schema drift in the prediction log (issue 8's fault matrix, rows 11 and 12): a dropped feature is judged
`feature_missing` while the other columns are still judged; a feature whose type changes stops the read with an
error naming table and column, never casting a value, and nothing is written."""

import shutil
from pathlib import Path

import polars as pl
import pytest
from deltalake import write_deltalake
from polars.testing import assert_frame_equal

from monitoring_pipeline.core.contract import FEATURE_MISSING, ContractError
from monitoring_pipeline.demo.generator import tabular_day
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.steps.drift import drift_day
from monitoring_pipeline.steps.guards import guard_day
from monitoring_pipeline.steps.log import check_log_day
from monitoring_pipeline.steps.profiles import profile_day
from monitoring_pipeline_tests.faults.lake import (
    DAYS,
    JUDGED,
    NOW,
    config_for,
    day_rows,
    model_for,
    run_days,
    table_names,
    versions,
    write_log,
)

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def built_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("built") / "lake"
    config = config_for(root)
    write_log(config, model_for(config), pl.concat([tabular_day(day, 300) for day in DAYS]))
    run_days(config, model_for(config), DAYS)
    return root


def _verdicts(config, day=JUDGED) -> dict[str, str]:
    report = delta.scan(catalog.table(config, catalog.DRIFT_REPORT)).filter(pl.col("day") == day).collect()
    return dict(report.select("column", "verdict").unique().iter_rows())


def test_a_feature_dropped_from_the_log_is_judged_missing_and_the_others_still_judged(
    built_lake: Path, tmp_path: Path
) -> None:
    config = config_for(Path(shutil.copytree(built_lake, tmp_path / "lake")))
    model = model_for(config)
    log = delta.scan(catalog.log_table(config, model)).collect()
    write_log(config, model, log.drop("income", "event_date"))  # the producer recreated its table without it
    checked = check_log_day(config, model, JUDGED, NOW)
    assert checked.missing == ("income",)
    on_day = log.filter(pl.col("event_ts").dt.date() == JUDGED).height
    assert checked.n_read == on_day == checked.valid.height + checked.rejects.height
    guarded = guard_day(config, model, JUDGED, NOW)
    assert sum(guarded.stored) == guarded.result.n_input == checked.valid.height
    profiles = profile_day(config, model, JUDGED).features
    income = profiles.filter(pl.col("column") == "income")
    assert income["n_valid"].sum() == 0 and income["n_null"].sum() == income["n_rows"].sum() == guarded.stored[0]
    drift_day(config, model, JUDGED)
    verdicts = _verdicts(config)
    assert verdicts.pop("income") == FEATURE_MISSING
    assert verdicts["age"] == "ok" and FEATURE_MISSING not in verdicts.values()  # every other column judged


def test_a_day_written_without_a_feature_reads_it_as_null_and_judges_it_undefined(tmp_path: Path) -> None:
    """Delta's schema merge writes a dropped column as nulls: on one day it is all-null, `undefined`, with the
    null share drifting; the other columns are judged as usual."""
    config = config_for(tmp_path)
    model = model_for(config)
    table = write_log(config, model, pl.concat([tabular_day(day, 300) for day in DAYS[:4]]))
    last = tabular_day(JUDGED, 300).drop("income").with_columns(pl.col("event_ts").dt.date().alias("event_date"))
    write_deltalake(table.uri, last.to_arrow(), mode="append", schema_mode="merge")
    run_days(config, model, DAYS)
    verdicts = _verdicts(config)
    assert verdicts["income"] == "undefined" and verdicts["age"] == "ok"
    report = delta.scan(catalog.table(config, catalog.DRIFT_REPORT)).collect()
    null_share = report.filter((pl.col("column") == "income") & (pl.col("method") == "null_share"))
    assert null_share["value"].item() > 0.9 and null_share["status"].item() == "drift"


def test_a_feature_changing_type_stops_the_read_naming_table_and_column_and_writes_nothing(
    built_lake: Path, tmp_path: Path
) -> None:
    config = config_for(Path(shutil.copytree(built_lake, tmp_path / "lake")))
    model = model_for(config)
    table = catalog.log_table(config, model)
    log = delta.scan(table).collect().drop("event_date")
    changed = log.with_columns(pl.col("age").cast(pl.Int64).cast(pl.String))  # "41", not 41.0
    write_log(config, model, changed)
    names = table_names(model)
    before, stored = {name: day_rows(config, name, JUDGED) for name in names}, versions(config, names)
    for step in (check_log_day, guard_day):
        with pytest.raises(ContractError) as raised:
            step(config, model, JUDGED, NOW)
        assert str(raised.value).startswith(f"table {table.uri}: column 'age': has type String, expected numeric")
        example = raised.value.example  # a real row, the value as it arrived
        assert example["age"] == changed.filter(pl.col("prediction_id") == example["prediction_id"])["age"].item()
    assert versions(config, names) == stored
    for name in names:
        assert_frame_equal(day_rows(config, name, JUDGED), before[name])
