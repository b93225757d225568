"""The lake on object storage: the whole pipeline, the registry and the audit log against a real S3-compatible
server on 127.0.0.1, with results identical to a local lake's, and configurations that would let concurrent
writers lose commits refused."""

from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import yaml
from polars.testing import assert_frame_equal

from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.config_file import load_config
from monitoring_pipeline.registry.audit_log import read_audit, verify_audit
from monitoring_pipeline.review.trace import trace
from monitoring_pipeline_tests.concurrent_writers import assert_nothing_lost_or_doubled, lake_config, run_writers
from monitoring_pipeline_tests.conftest import run_demo_pipeline, write_short_config
from monitoring_pipeline_tests.objectstore.conftest import S3

pytestmark = pytest.mark.s3

START = date(2026, 10, 5)  # the channel mix changes on 10-11, inside the window
DAYS = 4
REPORTS = (catalog.FEATURE_PROFILES, catalog.OUTPUT_PROFILES, catalog.DRIFT_REPORT, catalog.GUARD_VERDICTS)


def on_s3(config_path: Path, s3: S3, bucket: str) -> Path:
    """The same config with its lake in `bucket`; storage options come from the config file."""
    raw = yaml.safe_load(config_path.read_text())
    raw["lake"] = {"root": f"s3://{bucket}/lake", "storage_options": s3.storage_options}
    path = config_path.with_name("monitoring-s3.yaml")
    path.write_text(yaml.safe_dump(raw))
    return path


def report(config_path: Path, name: str) -> pl.DataFrame:
    frame = delta.scan(catalog.lake_of(load_config(config_path)).table(name)).collect()
    return frame.sort(frame.columns[: min(4, frame.width)])


@pytest.mark.slow
@pytest.mark.s3_pipeline
def test_the_whole_pipeline_on_s3_gives_the_local_lake_s_reports_and_a_verifiable_audit_log(
    s3: S3, tmp_path: Path
) -> None:
    local = write_short_config(tmp_path, START, DAYS, baseline_days=3)
    remote = on_s3(local, s3, bucket := s3.new_bucket())
    run_demo_pipeline(local, scale=0.2)
    instance = run_demo_pipeline(remote, scale=0.2)

    assert not (tmp_path / "lake").with_name("s3:").exists()
    stored = s3.keys(bucket, "lake/")
    assert any(key.startswith("lake/reports/drift_report/_delta_log/") for key in stored)
    for name in REPORTS:
        local_rows, remote_rows = report(local, name), report(remote, name)
        assert local_rows.height > 0, name
        assert_frame_equal(remote_rows, local_rows, check_row_order=False)
    drift = report(remote, catalog.DRIFT_REPORT)
    assert drift.select("model_name", "day").unique().height == 2 * DAYS
    key = dg.AssetKey(["credit_risk", "drift_report"])
    assert len(instance.get_materialized_partitions(key)) == DAYS

    config = load_config(remote)
    entries = read_audit(config)
    assert verify_audit(config).ok and len(entries) == len(read_audit(load_config(local)))
    assert {e.action for e in entries} >= {"feature_propose", "feature_approved", "model_register", "model_deployed"}
    prediction = delta.scan(catalog.table(config, "logs/credit_risk")).select("prediction_id").head(1).collect()
    traced = trace(config, prediction["prediction_id"][0])
    assert traced["model_checkpoint"]["train_table_version"] is not None  # the training slice, pinned on S3
    assert traced["release_matches_prediction"] and traced["drift"]


def test_unsafe_rename_is_refused_for_an_object_store_lake(s3: S3, monkeypatch: pytest.MonkeyPatch) -> None:
    root = f"s3://{s3.new_bucket()}/lake"
    with pytest.raises(delta.LakeConfigError, match="AWS_S3_ALLOW_UNSAFE_RENAME"):
        delta.Lake(root, s3.storage_options | {"AWS_S3_ALLOW_UNSAFE_RENAME": "true"})
    monkeypatch.setenv("AWS_S3_ALLOW_UNSAFE_RENAME", "true")
    with pytest.raises(delta.LakeConfigError, match="concurrent writers"):
        delta.Lake(root, s3.storage_options)
    delta.Lake(str(Path("/tmp/local-lake")))  # a local lake has no such setting to worry about


def test_concurrent_writers_on_s3_lose_nothing_and_the_audit_chain_verifies(s3: S3) -> None:
    root = f"s3://{s3.new_bucket()}/lake"
    run_writers(root, s3.storage_options, processes=4, appends=10)
    assert_nothing_lost_or_doubled(lake_config(root, s3.storage_options), processes=4, appends=10)
