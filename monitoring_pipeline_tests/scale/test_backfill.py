"""Sixty daily partitions of one model backfilled by Dagster's own machinery, as a deployment runs them: a real
instance in a temp DAGSTER_HOME (SQLite storage, the QueuedRunCoordinator at 4 concurrent runs), one code server,
`dagster job backfill` queueing a run per day, and the real `dagster-daemon` launching them. Then every run
succeeded, never more than 4 ran at once, nothing met "database is locked", and the report tables hold each day
once, with the values a sequential run gives."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml
from polars.testing import assert_frame_equal

from monitoring_pipeline.definitions import build_definitions
from monitoring_pipeline.io import catalog
from monitoring_pipeline.io.config_file import PROJECT_ROOT, load_config
from monitoring_pipeline.registry.audit_log import read_audit, verify_audit
from monitoring_pipeline_tests.scale.conftest import (
    MODEL,
    NIGHTLY,
    REPORT_KEYS,
    freeze_reference,
    one_model_lake,
    report_rows,
    run_nightly,
)

pytestmark = [pytest.mark.slow, pytest.mark.backfill]

START = date(2026, 9, 1)
DAYS = 60
BASELINE_DAYS = 7
MAX_CONCURRENT_RUNS = 4
INSTANCE = {  # SQLite storage (the default under DAGSTER_HOME), the run queue capped at 4 runs
    "telemetry": {"enabled": False},
    "run_coordinator": {
        "module": "dagster.core.run_coordinator",
        "class": "QueuedRunCoordinator",
        "config": {"dequeue_interval_seconds": 1},
    },
    "concurrency": {"runs": {"max_concurrent_runs": MAX_CONCURRENT_RUNS}},
}
DEADLINE_SECONDS = 1800
LOCKED = "database is locked"
SEQUENTIAL_DAYS = [START + timedelta(days=n) for n in (7, 35, DAYS - 1)]  # after the baseline, the 10-06 spike, last


@dataclass(frozen=True)
class Backfill:
    """What the backfill left: its runs, the lake's config, the daemon's and code server's output, wall time."""

    config_path: Path
    runs: list[dg.RunRecord]
    logs: dict[str, list[str]]  # run id -> its event messages
    process_output: str
    seconds: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dagster(*args: str, env: dict[str, str], port: int) -> None:
    """One `dagster` CLI command against the code server on `port`."""
    command = [sys.executable, "-m", "dagster", *args, "--grpc-host", "127.0.0.1", "--grpc-port", str(port)]
    subprocess.run(command, env=env, cwd=PROJECT_ROOT, check=True, capture_output=True, timeout=300)


def _start(command: list[str], env: dict[str, str], output: Path) -> subprocess.Popen:
    """A long-running process in its own process group (stopped with everything it launched)."""
    with output.open("w") as sink:
        return subprocess.Popen(
            command, env=env, cwd=PROJECT_ROOT, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(process: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        if process.poll() is not None:
            return
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


def _wait_for_code_server(env: dict[str, str], port: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and server.poll() is None:
        check = [sys.executable, "-m", "dagster", "api", "grpc-health-check", "-p", str(port)]
        if subprocess.run(check, env=env, capture_output=True).returncode == 0:
            return
        time.sleep(1)
    pytest.fail("the code server did not answer within 300 s")


def _wait_for_runs(instance: dg.DagsterInstance, daemon: subprocess.Popen) -> None:
    finished = dg.RunsFilter(
        statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
    )
    deadline = time.monotonic() + DEADLINE_SECONDS
    while instance.get_runs_count(finished) < DAYS:
        if daemon.poll() is not None:
            pytest.fail(f"dagster-daemon exited with {daemon.returncode}")
        if time.monotonic() > deadline:
            pytest.fail(f"{instance.get_runs_count(finished)} of {DAYS} runs finished in {DEADLINE_SECONDS} s")
        time.sleep(2)


@pytest.fixture(scope="module")
def backfill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backfill]:
    folder = tmp_path_factory.mktemp("backfill")
    config_path = one_model_lake(folder, START, DAYS, BASELINE_DAYS)
    freeze_reference(config_path, [START + timedelta(days=n) for n in range(BASELINE_DAYS)])
    home = folder / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(INSTANCE))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MP_")}
    # runs are the unit of parallelism here: each run's steps go one after another in its own process
    env |= {"DAGSTER_HOME": str(home), "MP_CONFIG": str(config_path), "MP_EXECUTOR": "in_process"}
    env["DAGSTER_GRPC_TIMEOUT_SECONDS"] = "300"  # a loaded host starts a run process in over 60 s, the default
    port = _free_port()
    server_command = ["-m", "dagster", "api", "grpc", "-m", "monitoring_pipeline.definitions", "-h", "127.0.0.1"]
    server = _start([sys.executable, *server_command, "-p", str(port)], env, folder / "code_server.log")
    daemon = None
    try:
        _wait_for_code_server(env, port, server)
        defs = build_definitions(str(config_path))
        for sensor in defs.sensors:  # only the backfill's runs: nothing else is launched meanwhile
            _dagster("sensor", "stop", sensor.name, env=env, port=port)
        for schedule in defs.schedules:
            _dagster("schedule", "stop", schedule.name, env=env, port=port)
        started = time.perf_counter()
        _dagster("job", "backfill", "-j", NIGHTLY, "--all", "--noprompt", env=env, port=port)
        daemon_command = [sys.executable, "-m", "dagster._daemon", "run", "--grpc-host", "127.0.0.1"]
        daemon = _start([*daemon_command, "--grpc-port", str(port)], env, folder / "daemon.log")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            _wait_for_runs(instance, daemon)
            seconds = time.perf_counter() - started
            runs = list(instance.get_run_records(dg.RunsFilter(job_name=NIGHTLY)))
            logs = {r.dagster_run.run_id: [e.message for e in instance.all_logs(r.dagster_run.run_id)] for r in runs}
    finally:
        for process in (daemon, server):
            if process is not None:
                _stop(process)
    output = (folder / "daemon.log").read_text() + (folder / "code_server.log").read_text()
    print(f"\n{DAYS} daily partitions backfilled at {MAX_CONCURRENT_RUNS} concurrent runs in {seconds:.0f} s")
    yield Backfill(config_path, runs, logs, output, seconds)


def _most_at_once(runs: list[dg.RunRecord]) -> int:
    """The most runs in progress at one moment, from their start and end times."""
    changes = sorted([(r.start_time, 1) for r in runs] + [(r.end_time, -1) for r in runs])
    in_progress = most = 0
    for _, change in changes:  # at equal times an end (-1) sorts before a start (+1)
        in_progress += change
        most = max(most, in_progress)
    return most


def test_every_day_ran_once_through_the_queue_and_succeeded(backfill: Backfill) -> None:
    partitions = sorted(r.dagster_run.tags["dagster/partition"] for r in backfill.runs)
    assert partitions == [(START + timedelta(days=n)).isoformat() for n in range(DAYS)]
    assert {r.dagster_run.status for r in backfill.runs} == {dg.DagsterRunStatus.SUCCESS}
    assert len({r.dagster_run.tags["dagster/backfill"] for r in backfill.runs}) == 1


def test_the_queue_kept_to_its_limit_and_used_it(backfill: Backfill) -> None:
    most = _most_at_once(backfill.runs)
    print(f"\nmost runs in progress at once: {most}")
    assert 2 <= most <= MAX_CONCURRENT_RUNS


def test_no_run_met_a_locked_database(backfill: Backfill) -> None:
    messages = [m for logs in backfill.logs.values() for m in logs]
    assert len(messages) > DAYS * 10  # the events were read
    assert not [m for m in messages if LOCKED in m]
    assert LOCKED not in backfill.process_output


def test_each_day_is_reported_once_with_the_values_of_a_sequential_run(backfill: Backfill) -> None:
    config = load_config(backfill.config_path)
    days = {START + timedelta(days=n) for n in range(DAYS)}
    backfilled = {table: report_rows(config, table) for table in REPORT_KEYS}
    for table, rows in backfilled.items():
        assert rows.select("day", *REPORT_KEYS[table]).is_unique().all(), table
        if table != catalog.GUARD_VERDICTS:  # a day without a failed rule has no verdict rows
            assert set(rows["day"]) == days, table
    assert backfilled[catalog.DRIFT_REPORT].group_by("day").len()["len"].n_unique() == 1  # as many columns each day
    for day in SEQUENTIAL_DAYS:  # rerun alone, after everything: what a sequential run writes, replacing the day
        run_nightly(backfill.config_path, day)
        for table, rows in backfilled.items():
            assert_frame_equal(rows.filter(rows["day"] == day), report_rows(config, table, day))


def test_the_audit_chain_holds_every_concurrent_run(backfill: Backfill) -> None:
    config = load_config(backfill.config_path)
    assert verify_audit(config).ok
    subjects = {e.subject for e in read_audit(config)}
    assert {f"{MODEL}/drift_report@{START + timedelta(days=n)}" for n in range(DAYS)} <= subjects
