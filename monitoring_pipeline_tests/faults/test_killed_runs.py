"""Runs killed with SIGKILL just before or right after a Delta commit (issue 8's fault matrix): the table is at
the previous version or holds the whole commit, never part of one, and the rerun produces partitions identical
to an uninterrupted run's — nothing doubled, nothing lost."""

import signal
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.registry.audit_log import verify_audit
from monitoring_pipeline_tests.faults import killed_run
from monitoring_pipeline_tests.faults.lake import config_for, model_for, table_names, write_log
from monitoring_pipeline_tests.faults.test_bad_input import _log, _sorted

pytestmark = pytest.mark.faults


def lake_with_log(root: Path, log: pl.DataFrame) -> None:
    config = config_for(root)
    write_log(config, model_for(config), log)


def tables(root: Path) -> tuple[str, ...]:
    config = config_for(root)
    return (catalog.REFERENCE_BINS, *table_names(model_for(config)))


def reports(root: Path) -> dict[str, pl.DataFrame]:
    lake = catalog.lake_of(config_for(root))
    return {name: _sorted(delta.scan(lake.table(name)).collect()) for name in tables(root)}


def rows(root: Path) -> dict[str, int | None]:
    lake = catalog.lake_of(config_for(root))
    return {
        name: delta.scan(lake.table(name)).collect().height if delta.exists(lake.table(name)) else None
        for name in tables(root)
    }


def test_a_run_killed_before_or_after_a_commit_reruns_to_identical_partitions(tmp_path: Path) -> None:
    log = pl.concat([_log(), _log().head(5)])  # five duplicate ids: log_rejects gets rows too
    lake_with_log(tmp_path / "uninterrupted", log)
    commits = 0

    def count(n: int, commit) -> None:
        nonlocal commits
        commits = n
        commit()

    with killed_run.commits_through(count):
        killed_run.run_steps(tmp_path / "uninterrupted")
    expected = reports(tmp_path / "uninterrupted")
    assert commits > 10 and expected[catalog.DRIFT_REPORT].height and expected[catalog.LOG_REJECTS].height == 5

    for when, nth in (
        ("before", 1),
        ("after", 1),
        ("before", commits // 2),
        ("after", commits // 2),
        ("after", commits),
    ):
        root = tmp_path / f"{when}-{nth}"
        lake_with_log(root, log)
        killed = subprocess.run(
            [sys.executable, "-m", "monitoring_pipeline_tests.faults.killed_run", str(root), when, str(nth)],
            capture_output=True,
            timeout=300,
        )
        assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
        if nth == 1 and when == "before":
            assert set(rows(root).values()) <= {None, 0}  # no row committed, no half-written table
        if nth == commits:  # killed after the last commit: the work is whole, only its recording was lost
            for name, frame in reports(root).items():
                assert_frame_equal(frame, expected[name], check_row_order=True)
        killed_run.run_steps(root)  # the rerun
        for name, frame in reports(root).items():
            assert_frame_equal(frame, expected[name], check_row_order=True)
        unaudited = verify_audit(config_for(root))  # the steps alone record nothing: the Dagster assets audit
        assert not unaudited.ok and unaudited.problem.startswith("no audit entries")  # and nothing is certified
