"""The audit trail outlives Delta's log cleanup: delta-rs deletes commit files older than a table's log retention
(30 days unless set) when it writes a checkpoint, and `audit verify` re-hashes the commit files it pinned. Every
table keeps its history for the lake's `retention_days` (400 by default); a commit file gone before that is a
broken chain, one cleaned up after it is reported as expired, its entry still chained."""

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable

from monitoring_pipeline.core.config import ConfigError, ProjectConfig, parse_config
from monitoring_pipeline.io import catalog
from monitoring_pipeline.registry.audit_log import record, verify_audit
from monitoring_pipeline_tests.faults.lake import config_for

TABLE = "registry/probe"
NOW = datetime.now(UTC)


def _commit(config: ProjectConfig, n: int, now: datetime) -> int:
    return record(
        config,
        TABLE,
        {"n": n},
        {"n": pl.Int64()},
        actor="cli:ana",
        action="probe",
        subject=f"probe/{n}",
        payload={},
        now=now,
    )


def _age(config: ProjectConfig, days: int) -> Path:
    """Every file of the probe table's Delta log made `days` old, as if written then."""
    log = Path(catalog.table(config, TABLE).uri) / "_delta_log"
    then = time.time() - days * 86_400
    for file in log.iterdir():
        os.utime(file, (then, then))
    return log


def _history(config: ProjectConfig, days_ago: int, early: int = 12, later: int = 12) -> Path:
    """`early` audited commits `days_ago`, then `later` today: a checkpoint after the old ones cleans the log up
    (delta-rs keeps every commit since the newest checkpoint older than the retention)."""
    for n in range(early):
        _commit(config, n, NOW - timedelta(days=days_ago))
    log = _age(config, days_ago)
    for n in range(early, early + later):
        _commit(config, n, NOW)
    return log


def test_commit_files_older_than_30_days_survive_the_log_cleanup_and_verify(tmp_path: Path) -> None:
    config = config_for(tmp_path / "lake")
    log = _history(config, days_ago=40, early=101, later=100)  # checkpoints at Delta's default interval too
    assert (log / f"{0:020d}.json").exists()  # Delta's own 30 days would have deleted it at the checkpoint
    result = verify_audit(config)
    assert result.ok and result.entries == 201 and result.expired == 0


def test_past_the_retention_the_cleanup_is_expected_and_reported(tmp_path: Path) -> None:
    config = config_for(tmp_path / "lake")
    log = _history(config, days_ago=config.lake.retention_days + 5)
    assert not (log / f"{0:020d}.json").exists()  # Delta cleaned the log up: the policy allows it
    result = verify_audit(config)
    assert result.ok and result.expired > 0


def test_a_commit_file_gone_within_the_retention_breaks_the_chain(tmp_path: Path) -> None:
    config = config_for(tmp_path / "lake")
    log = _history(config, days_ago=40)
    (log / f"{3:020d}.json").unlink()
    result = verify_audit(config)
    assert not result.ok and "is gone, although younger than the lake's 400-day retention" in result.problem


def test_every_table_is_created_to_keep_its_history_and_a_short_retention_is_refused(tmp_path: Path) -> None:
    config = config_for(tmp_path / "lake")
    _commit(config, 0, NOW)
    properties = DeltaTable(catalog.table(config, TABLE).uri).metadata().configuration
    assert properties["delta.logRetentionDuration"] == "interval 400 days"
    assert properties["delta.deletedFileRetentionDuration"] == "interval 400 days"
    raw = {"lake": {"root": str(tmp_path), "retention_days": 30}, "models": {"m": {}}}
    with pytest.raises(ConfigError, match=r"lake.retention_days: expected a whole number of days from 183"):
        parse_config(raw)
