"""The executor a deployment chooses from its environment, and one day of a model's nightly job run by the real
`dagster job execute` on a local Dask cluster of worker processes (MP_EXECUTOR=dask, MP_DASK_SCHEDULER): every step
runs on a Dask worker, and the day's report rows equal those of Dagster's default executor."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg
import polars as pl
import pytest
import yaml
from dask._task_spec import parse_input
from distributed import Client, LocalCluster
from polars.testing import assert_frame_equal

from monitoring_pipeline.definitions import build_definitions
from monitoring_pipeline.defs.dask_executor import _Sealed
from monitoring_pipeline.defs.executors import run_executor
from monitoring_pipeline.io.config_file import DEFAULT_CONFIG, PROJECT_ROOT, load_config
from monitoring_pipeline_tests.scale.conftest import (
    NIGHTLY,
    REPORT_KEYS,
    freeze_reference,
    one_model_lake,
    report_rows,
    run_nightly,
)

START = date(2026, 9, 1)
DAY = START + timedelta(days=7)  # the baseline's weekday: its reference is START's profiles
SCHEDULER = "tcp://scheduler.example:8786"


@pytest.mark.parametrize(
    ("env", "executor"),
    [
        ({}, "multi_or_in_process_executor"),
        ({"MP_EXECUTOR": "in_process"}, "in_process"),
        ({"MP_EXECUTOR": "multiprocess"}, "multiprocess"),
        ({"MP_EXECUTOR": "dask", "MP_DASK_SCHEDULER": SCHEDULER}, "dask"),
    ],
)
def test_the_environment_chooses_every_jobs_executor(env: dict[str, str], executor: str) -> None:
    defs = build_definitions(str(DEFAULT_CONFIG), executor=run_executor(env))
    for job in ("credit_risk_nightly", "support_summarizer_nightly", "credit_risk_performance"):
        assert defs.resolve_job_def(job).executor_def.name == executor


@pytest.mark.parametrize(
    ("env", "message"),
    [({"MP_EXECUTOR": "dask"}, "needs MP_DASK_SCHEDULER"), ({"MP_EXECUTOR": "celery"}, "expected one of")],
)
def test_an_incomplete_or_unknown_executor_is_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run_executor(env)


def test_a_partitioned_run_travels_to_dask_sealed() -> None:
    """Dask walks tuple arguments and a partitioned run (a NamedTuple holding its subset) refuses the walk: why
    dagster-dask's executor fails every partitioned run here, and ours seals the run (drop it once upstream passes)."""
    partitions = dg.DailyPartitionsDefinition(start_date=START.isoformat())
    run = dg.DagsterRun(job_name=NIGHTLY, partitions_subset=partitions.subset_with_partition_keys([DAY.isoformat()]))
    with pytest.raises(Exception, match="Iteration is not allowed"):
        parse_input(run)
    sealed = _Sealed(run)
    assert parse_input(sealed) is sealed


@dataclass(frozen=True)
class DaskRun:
    """The day's report rows from each executor, the Dask run, and where its steps ran."""

    default: dict[str, pl.DataFrame]
    dask: dict[str, pl.DataFrame]
    run: dg.DagsterRun
    step_pids: set[int]
    worker_pids: set[int]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dask_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskRun]:
    folder = tmp_path_factory.mktemp("dask")
    config_path = one_model_lake(folder, START, days=8, baseline_days=1)
    config = load_config(config_path)
    freeze_reference(config_path, [START])
    run_nightly(config_path, DAY)
    default = {table: report_rows(config, table, DAY) for table in REPORT_KEYS}
    home = folder / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump({"telemetry": {"enabled": False}}))
    port = _free_port()
    env = {"DAGSTER_HOME": str(home), "MP_CONFIG": str(config_path), "MP_EXECUTOR": "dask"}
    env["MP_DASK_SCHEDULER"] = f"tcp://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as patch:  # the workers start with the deployment's environment
        for name, value in env.items():
            patch.setenv(name, value)
        patch.delenv("MP_LAKE_ROOT", raising=False)
        cluster = LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, scheduler_port=port, dashboard_address=None
        )
        with cluster, Client(cluster) as client:
            worker_pids = set(client.run(os.getpid).values())
            tags = json.dumps({"dagster/partition": DAY.isoformat()})
            command = ["-m", "dagster", "job", "execute", "-m", "monitoring_pipeline.definitions", "-j", NIGHTLY]
            done = subprocess.run([sys.executable, *command, "--tags", tags], cwd=PROJECT_ROOT, capture_output=True)
            assert done.returncode == 0, done.stderr.decode()[-4000:]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        [run] = instance.get_runs()
        starts = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
    dask = {table: report_rows(config, table, DAY) for table in REPORT_KEYS}
    yield DaskRun(default, dask, run, {e.dagster_event.pid for e in starts}, worker_pids)


@pytest.mark.slow
def test_every_step_ran_on_a_dask_worker_process(dask_run: DaskRun) -> None:
    assert dask_run.run.is_success and dask_run.run.tags["dagster/partition"] == DAY.isoformat()
    assert len(dask_run.worker_pids) == 2 and os.getpid() not in dask_run.worker_pids
    assert dask_run.step_pids and dask_run.step_pids <= dask_run.worker_pids


@pytest.mark.slow
def test_the_days_reports_equal_the_default_executors(dask_run: DaskRun) -> None:
    assert dask_run.default[next(iter(REPORT_KEYS))].height > 0
    for table, rows in dask_run.default.items():
        assert_frame_equal(rows, dask_run.dask[table])
