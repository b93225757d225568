"""A model version changing mid-day (issue 8's fault matrix, row 27): the day's profiles and performance metrics
are split per model version and reconcile with the day's rows; the drift report names both versions; a logged
version the registry does not know is refused by name, and a trace of its prediction says it is not registered."""

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from monitoring_pipeline.demo.generator import labels_for, tabular_day
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.registry import models
from monitoring_pipeline.review import trace
from monitoring_pipeline.steps.performance import ALL, performance_day
from monitoring_pipeline_tests.faults.lake import (
    DAYS,
    JUDGED,
    NOW,
    config_for,
    day_rows,
    model_for,
    run_days,
    write_log,
)

pytestmark = pytest.mark.faults

NOON = 12


def _log() -> pl.DataFrame:
    """Version 1.0 all along; on the last day 1.1 takes over at noon UTC."""
    log = pl.concat([tabular_day(day, 300) for day in DAYS]).with_columns(pl.lit("1.0").alias("model_version"))
    switched = (pl.col("event_ts").dt.date() == JUDGED) & (pl.col("event_ts").dt.hour() >= NOON)
    return log.with_columns(pl.when(switched).then(pl.lit("1.1")).otherwise("model_version").alias("model_version"))


def test_a_version_switch_mid_day_splits_profiles_and_metrics_per_version(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    model = model_for(config)
    log = _log()
    write_log(config, model, log)
    delta.overwrite(catalog.label_table(config, model), labels_for(log))
    run_days(config, model, DAYS)

    validated = day_rows(config, catalog.validated_table(model), JUDGED)
    per_version = dict(validated.group_by("model_version").len().iter_rows())
    assert set(per_version) == {"1.0", "1.1"} and min(per_version.values()) > 0
    profiles = day_rows(config, catalog.FEATURE_PROFILES, JUDGED)
    for column in ("age", "region"):
        rows = dict(profiles.filter(pl.col("column") == column).select("model_version", "n_rows").iter_rows())
        assert rows == per_version  # one profile per version, each counting exactly that version's rows
    report = day_rows(config, catalog.DRIFT_REPORT, JUDGED)
    assert report["model_versions"].unique().to_list() == ["1.0,1.1"]

    metrics = performance_day(config, model, JUDGED, NOW).frame
    accuracy = metrics.filter((pl.col("metric") == "accuracy") & (pl.col("segment") == ALL))
    predictions = dict(accuracy.select("model_version", "n_predictions").iter_rows())
    assert predictions == {**per_version, ALL: validated.height}


def test_a_version_the_registry_does_not_know_is_refused_by_name_and_traced_as_unregistered(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    model = model_for(config)
    log = _log()
    write_log(config, model, log)
    with pytest.raises(models.RegistryError, match=r"^credit_risk 1\.1 is not registered$"):
        models.verify(config, model.name, "1.1")
    with pytest.raises(models.RegistryError, match=r"^credit_risk 1\.1 is not registered$"):
        models.approve(config, model.name, "1.1", "looks good", "reviewer", NOW)
    late = log.filter(pl.col("model_version") == "1.1")["prediction_id"][0]
    traced = trace.trace(config, late, model.name)
    assert traced["prediction"]["model_version"] == "1.1"
    assert traced["model_checkpoint"] is None and traced["release_matches_prediction"] is False
    assert "- **not registered** in the model registry" in trace.to_markdown(traced)


def test_the_trace_shows_the_label_the_contract_used_and_what_it_set_aside(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    model = model_for(config)
    log = _log()
    write_log(config, model, log)
    twice, conflicted = log["prediction_id"][0], log["prediction_id"][1]
    at = [datetime(2026, 10, 20, h, tzinfo=UTC) for h in range(4)]
    labels = pl.DataFrame(
        {
            "prediction_id": [twice, twice, conflicted, conflicted],
            "label": ["repaid", "repaid", "repaid", "default"],
            "label_ts": at,
        }
    )
    delta.overwrite(catalog.label_table(config, model), labels)
    kept = trace.trace(config, twice, model.name)["label"]
    assert (kept["label"], kept["label_ts"]) == ("repaid", at[0].isoformat())  # the earliest of the two
    assert [r["reason"] for r in kept["set_aside"]] == ["duplicate_label"]
    traced = trace.trace(config, conflicted, model.name)
    assert traced["label"]["label"] is None and len(traced["label"]["set_aside"]) == 2  # no label is used
    assert "set aside by the label contract: conflicting_labels ('default'" in trace.to_markdown(traced)
