"""A custody change never lands unaudited: `models register` killed around each of its Delta commits, and an
audit log that cannot be written. The registry commit carries the entry it is owed in its own commit info, so the
gap is named by `audit verify` and closed by the retry (or `audit complete`) from the commit itself; a commit
written behind the project's back is named too."""

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from deltalake import write_deltalake

from monitoring_pipeline.cli import main
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.delta import LakeWriteError
from monitoring_pipeline.registry import models
from monitoring_pipeline.registry.audit_log import read_audit, verify_audit
from monitoring_pipeline_tests.faults import killed_register
from monitoring_pipeline_tests.faults.conftest import mount
from monitoring_pipeline_tests.faults.killed_register import NOW
from monitoring_pipeline_tests.faults.killed_run import commits_through
from monitoring_pipeline_tests.faults.lake import config_for


def _lake(root: Path) -> None:
    config = config_for(root)
    frame = pl.DataFrame({"prediction_id": ["a", "b", "c"], "income": [1.0, 2.0, 3.0]})
    delta.overwrite(catalog.table(config, "logs/credit_risk"), frame)
    (root / "model.bin").write_bytes(b"weights v1")


def _commits_of_a_register(root: Path) -> int:
    _lake(root)
    seen = 0

    def count(n: int, commit) -> None:
        nonlocal seen
        seen = n
        commit()

    with commits_through(count):
        killed_register.register(root)
    return seen


def test_a_register_killed_around_any_commit_leaves_no_change_unaudited_once_retried(tmp_path: Path) -> None:
    commits = _commits_of_a_register(tmp_path / "whole")
    assert commits >= 2  # the registry row, then its entry
    for nth in range(1, commits + 1):
        for when in ("before", "after"):
            root = tmp_path / f"{when}-{nth}"
            _lake(root)
            killed = subprocess.run(
                [sys.executable, "-m", "monitoring_pipeline_tests.faults.killed_register", str(root), when, str(nth)],
                capture_output=True,
            )
            assert killed.returncode == -9, killed.stderr.decode()[-2000:]
            config = config_for(root)
            rows = (
                delta.scan(catalog.table(config, catalog.MODEL_VERSIONS)).collect().height
                if delta.exists(catalog.table(config, catalog.MODEL_VERSIONS))
                else 0
            )
            entries = read_audit(config)
            result = verify_audit(config)
            if rows and not entries:  # the row landed, its entry did not: named, never certified
                assert not result.ok and "(model_register of credit_risk@1.0) has no entry" in result.problem
            try:  # the retry: registers, or is refused because the row is there; either way the chain is whole
                killed_register.register(root)
            except models.RegistryError as refused:
                assert "already registered" in str(refused)
            assert verify_audit(config).ok, (when, nth, verify_audit(config).problem)
            (entry,) = [e for e in read_audit(config) if e.data_table == catalog.MODEL_VERSIONS]
            assert entry.action == "model_register" and entry.subject == "credit_risk@1.0"


def test_an_unwritable_audit_log_leaves_a_gap_that_is_named_and_closed(
    tmp_path: Path, small_disk: Path, capsys
) -> None:
    root = tmp_path / "lake"
    _lake(root)
    (root / "audit").symlink_to(small_disk)  # the audit log on a disk of its own, which goes read-only
    config = config_for(root)
    models.register(config, "credit_risk", "0.9", root / "model.bin", "logs/credit_risk", "", None, "ana", NOW)
    assert mount("-o", "remount,ro", str(small_disk)).returncode == 0
    try:
        with pytest.raises(LakeWriteError, match=r"is committed, but its audit entry is not: table .*Read-only file"):
            killed_register.register(root)
    finally:
        assert mount("-o", "remount,rw", str(small_disk)).returncode == 0
    result = verify_audit(config)
    assert not result.ok and "(model_register of credit_risk@1.0) has no entry" in result.problem
    config_file = _config_file(tmp_path, root)
    assert main(["audit", "complete", "--config", config_file]) == 0
    assert "1 owed entries recorded" in capsys.readouterr().out
    assert verify_audit(config).ok
    assert main(["audit", "complete", "--config", config_file]) == 0  # idempotent
    assert "no audited commit is missing its entry" in capsys.readouterr().out


def test_a_registry_commit_written_behind_the_chains_back_is_named(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    _lake(root)
    config = config_for(root)
    killed_register.register(root)
    table = catalog.table(config, catalog.MODEL_VERSIONS)
    forged = delta.scan(table).collect().with_columns(pl.lit("forged").alias("registered_by"))
    write_deltalake(table.uri, forged.to_arrow(), mode="overwrite")
    result = verify_audit(config)
    assert not result.ok and "was written outside monitoring-pipeline: unaudited" in result.problem


def _config_file(tmp_path: Path, root: Path) -> str:
    import yaml

    from monitoring_pipeline.io.config_file import DEFAULT_CONFIG

    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["lake"]["root"] = str(root)
    raw["models"] = {"credit_risk": raw["models"]["credit_risk"]}
    path = tmp_path / "monitoring.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)
