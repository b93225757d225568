"""Where a run's steps execute, chosen per deployment: `MP_EXECUTOR` names the executor of every job, unset keeps
Dagster's default (each step in its own process).

- `in_process`: the steps of a run one after another in the run's process: the cheapest when runs are the unit of
  parallelism (a backfill's daily partitions spread by the run queue, one pod per run on Kubernetes).
- `multiprocess`: Dagster's default, named.
- `dask`: each step a task on the Dask cluster whose scheduler `MP_DASK_SCHEDULER` names (`tcp://host:8786`); its
  workers need the project installed, the same `MP_CONFIG`, `MP_LAKE_ROOT` and storage credentials, and one thread
  each (`dask worker --nthreads 1`: Dagster steps are not thread-safe).
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

EXECUTOR_ENV = "MP_EXECUTOR"
DASK_SCHEDULER_ENV = "MP_DASK_SCHEDULER"
LOCAL_EXECUTORS = {"in_process": dg.in_process_executor, "multiprocess": dg.multiprocess_executor}


def run_executor(env: Mapping[str, str]) -> dg.ExecutorDefinition | None:
    """The executor `env` chooses; None leaves Dagster's default."""
    name = env.get(EXECUTOR_ENV)
    if not name:
        return None
    if name in LOCAL_EXECUTORS:
        return LOCAL_EXECUTORS[name]
    if name != "dask":
        raise ValueError(f"{EXECUTOR_ENV}={name!r}: expected one of {[*LOCAL_EXECUTORS, 'dask']}")
    scheduler = env.get(DASK_SCHEDULER_ENV)
    if not scheduler:
        raise ValueError(f"{EXECUTOR_ENV}=dask needs {DASK_SCHEDULER_ENV}, the Dask scheduler's address")
    from monitoring_pipeline.defs.dask_executor import dask_executor  # Dask's imports cost a second: only here

    return dask_executor(scheduler)
