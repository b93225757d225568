"""A regression model through the real pipeline: its nights run by Dagster on a real instance, its MAE realized,
estimated (direct loss estimation) and judged in reports/performance and in the performance asset's metadata."""

from datetime import timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import yaml

from monitoring_pipeline.demo.run import materialize_model
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.config_file import load_config
from monitoring_pipeline_tests.steps.test_performance_regression import BIASED, DAYS, _day


def test_a_regressor_s_nights_through_dagster_store_and_show_its_error(tmp_path: Path) -> None:
    model = {
        "log_table": "logs/demand",
        "label_table": "labels/demand",
        "start_date": DAYS[0].isoformat(),
        "end_date": (DAYS[-1] + timedelta(days=1)).isoformat(),
        "baseline": {"start": DAYS[0].isoformat(), "end": DAYS[6].isoformat()},
        "reference": {"kind": "fixed", "start": DAYS[0].isoformat(), "end": DAYS[6].isoformat()},
        "features": {"numeric": ["x"]},
        "outputs": {"numeric": ["forecast"]},
        "performance": {"task": "regression", "score_column": "forecast", "label_column": "units"},
    }
    config_path = tmp_path / "monitoring.yaml"
    config_path.write_text(yaml.safe_dump({"lake": {"root": str(tmp_path / "lake")}, "models": {"demand": model}}))
    config = load_config(config_path)
    spec = config.model("demand")
    days = [_day(d) for d in DAYS]
    delta.overwrite(catalog.log_table(config, spec), pl.concat([log for log, _ in days]))
    delta.overwrite(catalog.label_table(config, spec), pl.concat([labels for _, labels in days]))
    instance = dg.DagsterInstance.ephemeral()
    materialize_model(config_path, None, "demand", instance)

    stored = delta.scan(catalog.table(config, catalog.PERFORMANCE)).collect()
    mae = stored.filter(pl.col("metric") == "mae", pl.col("model_version") == "*", pl.col("segment") == "*")
    assert sorted(mae["day"]) == DAYS and mae["estimated"].is_not_null().all()  # every night, an estimate
    assert mae["estimation_error"].abs().max() < 0.1  # the loss model knows this regressor's error
    bias = stored.filter(pl.col("metric") == "bias", pl.col("model_version") == "*", pl.col("segment") == "*")
    assert bias.filter(pl.col("outside_band"))["day"].to_list() == [BIASED]
    record = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(["demand", "performance"]), asset_partitions=[str(BIASED)]),
        limit=1,
    ).records[0]
    shown = {k: v.value for k, v in record.asset_materialization.metadata.items()}
    assert shown["metric"] == "mae" and shown["realized"] is not None and shown["estimated"] is not None
