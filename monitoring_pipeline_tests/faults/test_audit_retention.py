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
from monitoring_pipeline.registry.audit_log import read_audit, record, verify_audit
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


SOAK_DAYS = 400


@pytest.fixture(scope="module")
def soaked(tmp_path_factory: pytest.TempPathFactory) -> ProjectConfig:
    """400 simulated days, one audited commit each (with its entry), every new file of the lake dated its day:
    each table checkpoints every 10 commits and cleans its log up then, as a year of nightly runs would."""
    config = config_for(tmp_path_factory.mktemp("soak") / "lake")
    root, seen = Path(config.lake.root), set()
    for n in range(SOAK_DAYS):
        day = NOW - timedelta(days=SOAK_DAYS - n)
        _commit(config, n, day)
        for file in set(root.rglob("*")) - seen:
            seen.add(file)
            if file.is_file():
                os.utime(file, (day.timestamp(), day.timestamp()))
    return config


def test_a_year_of_daily_commits_with_log_cleanup_verifies(soaked: ProjectConfig) -> None:
    result = verify_audit(soaked)
    assert result.ok and result.entries == SOAK_DAYS and result.expired == 0


@pytest.mark.parametrize("version", [1, SOAK_DAYS // 2, SOAK_DAYS])
def test_a_forged_commit_anywhere_in_a_years_history_is_named_by_seq_table_and_version(
    soaked: ProjectConfig, version: int
) -> None:
    commit = Path(catalog.table(soaked, TABLE).uri) / "_delta_log" / f"{version:020d}.json"
    original, stat = commit.read_bytes(), commit.stat()
    forged = original.replace(b'\\"numRecords\\":1,', b'\\"numRecords\\":2,')  # what it says it added
    assert forged != original
    commit.write_bytes(forged)
    try:
        result = verify_audit(soaked)
    finally:
        commit.write_bytes(original)
        os.utime(commit, (stat.st_atime, stat.st_mtime))
    pinned = next(e for e in read_audit(soaked) if e.data_table == TABLE and e.data_version == version)
    assert not result.ok and result.first_bad_seq == pinned.seq
    assert f"commit {version} of {TABLE}: its commit file no longer matches" in result.problem
