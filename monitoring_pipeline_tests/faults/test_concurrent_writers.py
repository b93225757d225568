"""Concurrent writers (issue 8's fault matrix): processes that append to the audit and ticket tables at once, and
two materializations of one partition at once. Nothing is lost, nothing is committed twice, the audit chain
verifies, and each pinned Delta version really holds the change it records."""

import multiprocessing
import shutil
import time
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from monitoring_pipeline.io import delta
from monitoring_pipeline_tests.concurrent_writers import assert_nothing_lost_or_doubled, lake_config, run_writers

pytestmark = pytest.mark.faults

PROCESSES = 8
APPENDS = 50


def test_eight_processes_append_fifty_tickets_each_and_the_audit_chain_verifies(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    run_writers(root, {}, PROCESSES, APPENDS)
    assert_nothing_lost_or_doubled(lake_config(root), PROCESSES, APPENDS)


def write_day(root: str, value: float, start_at: float) -> None:
    ref = delta.Lake(root).table("reports/day")
    frame = pl.DataFrame({"model_name": ["m"] * 1000, "day": [date(2026, 9, 1)] * 1000, "value": [value] * 1000})
    time.sleep(max(0.0, start_at - time.time()))
    delta.write_partition(ref, frame, {"model_name": "m", "day": date(2026, 9, 1)})


def test_two_materializations_of_one_partition_at_once_leave_exactly_one_copy(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    ref = delta.Lake(root).table("reports/day")
    other = pl.DataFrame({"model_name": ["m"] * 3, "day": [date(2026, 8, 31)] * 3, "value": [7.0] * 3})
    delta.write_partition(ref, other, {"model_name": "m", "day": date(2026, 8, 31)})
    context = multiprocessing.get_context("spawn")
    for trial in range(3):
        start_at = time.time() + 5
        writers = [context.Process(target=write_day, args=(root, float(v), start_at)) for v in (trial, trial + 10)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(timeout=120)
        assert [writer.exitcode for writer in writers] == [0, 0]
        day = delta.scan(ref).filter(pl.col("day") == date(2026, 9, 1)).collect()
        assert day.height == 1000  # one copy, never two
        assert day["value"].n_unique() == 1 and day["value"][0] in (trial, trial + 10)  # one writer's rows whole
    assert delta.scan(ref).filter(pl.col("day") == date(2026, 8, 31)).collect()["value"].to_list() == [7.0] * 3


def create_table(root: str, start_at: float) -> None:
    time.sleep(max(0.0, start_at - time.time()))
    delta.create(delta.Lake(root).table("reports/created"), pa.schema([("ticket_id", pa.string())]))


def test_processes_creating_one_table_at_once_leave_one_creation_and_no_later_commit(tmp_path: Path) -> None:
    """A creation that lost the race must not land as a later version: no audit entry would cover it."""
    root = str(tmp_path / "lake")
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 6
    for _ in range(3):  # three rounds of eight racers: a retried creation showed up in about one round of three
        workers = [context.Process(target=create_table, args=(root, start_at)) for _ in range(PROCESSES)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        assert [worker.exitcode for worker in workers] == [0] * PROCESSES
        commits = delta.history(delta.Lake(root).table("reports/created"))
        assert [(c["version"], c["operation"]) for c in commits] == [(0, "CREATE TABLE")]
        shutil.rmtree(tmp_path / "lake")
        start_at = time.time() + 6
