"""README's "Bring your own model", run as written on a real classifier's log: NOAA's hourly temperatures of
Seattle and San Francisco in 2010 (shipped offline by the vega_datasets package), scored every hour by a model
that says whether it will be warmer 24 hours later, the truth known a day after. The three commands are taken
from README (`$PWD` stands for the clone: a temp folder holding workspace.yaml), with the log's and labels' paths
and a range filled in: init writes the config, run monitors the range through Dagster, and `dagster dev` serves
the UI with the model's assets and their partitions."""

import re
import shlex
import shutil
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
import vega_datasets

from monitoring_pipeline.cli import main
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.config_file import PROJECT_ROOT, load_config
from monitoring_pipeline_tests.readme_commands import readme_commands, serve_ui

DATA = Path(vega_datasets.__file__).parent / "_data"
DAYS = 5  # monitored after the baseline


def _city(name: str, file: str, format: str) -> pl.DataFrame:
    hourly = pl.read_csv(DATA / file).select(
        pl.col("date").str.to_datetime(format, time_zone="UTC").alias("event_ts"), pl.col("temp").alias("temp_f")
    )
    return hourly.sort("event_ts").with_columns(pl.lit(name).alias("city"))


def weather_log(folder: Path) -> tuple[Path, Path]:
    """The log and labels a user of this model would have, as Parquet: one prediction per city and hour."""
    hours = pl.concat(
        [_city("seattle", "seattle-temps.csv", "%Y/%m/%d %H:%M"), _city("sf", "sf-temps.csv", "%Y/%m/%d %H:%M:%S")]
    )
    temp = pl.col("temp_f")
    change = (temp - temp.shift(24)).over("city")
    scored = hours.with_columns(
        change.alias("change_24h"),
        pl.col("event_ts").dt.hour().cast(pl.Int64).alias("hour"),
        (1 / (1 + (-change / 0.2).exp())).alias("score"),  # the trend goes on: warmer than yesterday, warmer tomorrow
        (temp.shift(-24) > temp).over("city").alias("warmer"),
    ).drop_nulls("score")
    log = scored.select(
        pl.format("{}-{}", "city", pl.col("event_ts").dt.strftime("%Y%m%d%H")).alias("prediction_id"),
        pl.lit("mymodel").alias("model_name"),
        pl.lit("1").alias("model_version"),
        "event_ts",
        "city",
        "temp_f",
        "change_24h",
        "hour",
        "score",
        pl.when(pl.col("score") >= 0.5).then(pl.lit("warmer")).otherwise(pl.lit("cooler")).alias("prediction"),
    )
    labels = (
        log.select("prediction_id")
        .with_columns(
            pl.when(scored["warmer"]).then(pl.lit("warmer")).otherwise(pl.lit("cooler")).alias("label"),
            (scored["event_ts"] + pl.duration(hours=24)).alias("label_ts"),
        )
        .filter(scored["warmer"].is_not_null())
    )
    log.write_parquet(folder / "log.parquet")
    labels.write_parquet(folder / "labels.parquet")
    return folder / "log.parquet", folder / "labels.parquet"


def test_readme_s_three_commands_monitor_a_real_classifier_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    init, run, ui = readme_commands("Bring your own model")
    log, labels = weather_log(tmp_path)
    clone = tmp_path / "clone"
    clone.mkdir()
    shutil.copy(PROJECT_ROOT / "workspace.yaml", clone)
    (clone / "dagster_home").mkdir()
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", clone / "dagster_home")
    monkeypatch.chdir(clone)
    monkeypatch.setenv("DAGSTER_HOME", str(clone / "dagster_home"))  # run's default: the clone's dagster_home

    init = init.replace("path/to/log", str(log)).replace("path/to/labels", str(labels))
    assert main(shlex.split(init)[3:]) == 0
    config = load_config(clone / "mymodel.yaml")
    model = config.model("mymodel")
    roles = {c.name: c.role for c in model.columns if c.role in ("feature", "output")}
    assert roles == {"temp_f": "feature", "change_24h": "feature", "hour": "feature", "city": "feature"} | {
        "score": "output",
        "prediction": "output",
    }
    assert model.performance.positive_label == "warmer"  # its predictions score highest
    baseline = list(model.baseline.span())
    assert len(baseline) == 14 and baseline[0] == date(2010, 1, 2)  # the log's first two weeks
    days = [baseline[-1] + timedelta(days=i) for i in range(1, DAYS + 1)]

    run = re.sub(r"\[--from \S+ --to \S+\]", f"--from {days[0]} --to {days[-1]}", run)
    assert main(shlex.split(run)[3:]) == 0
    after = pl.col("day") > baseline[-1]
    verdicts = delta.scan(catalog.table(config, catalog.DRIFT_VERDICTS)).filter(after).collect()
    assert sorted(set(verdicts["day"])) == days
    assert {"temp_f", "city", "score", "prediction"} <= set(verdicts["column"])
    accuracy = delta.scan(catalog.table(config, catalog.PERFORMANCE)).filter(after & (pl.col("metric") == "accuracy"))
    accuracy = accuracy.collect()
    assert sorted(set(accuracy["day"])) == days and accuracy["realized"].is_not_null().all()  # the labels landed

    materialized = serve_ui(ui, clone)
    assert materialized["mymodel/drift_report"] == DAYS
    assert materialized["mymodel/feature_profiles"] == len(baseline) + DAYS  # the reference days, the range
