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

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import dagster as dg
import distributed
from dagster import _check as check
from dagster._core.definitions.reconstruct import ReconstructableJob
from dagster._core.errors import raise_execution_interrupts
from dagster._core.execution.context.system import PlanOrchestrationContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.plan.state import KnownExecutionState
from dagster._core.instance.ref import InstanceRef
from dagster._utils import iterate_with_context
from dagster_dask.executor import DaskExecutor, get_dask_resource_requirements, query_on_dask_worker

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
    return dask_executor(scheduler)


def dask_executor(scheduler: str) -> dg.ExecutorDefinition:
    """dagster-dask's executor on the existing cluster at `scheduler`."""

    @dg.executor(name="dask", requirements=dg.multiple_process_executor_requirements())
    def dask(_: dg.InitExecutorContext) -> RunScopedDaskExecutor:
        return RunScopedDaskExecutor("existing", {"address": scheduler})

    return dask


@dataclass(frozen=True)
class _Sealed:
    """A value Dask passes through untouched (it walks tuples, and a run is one)."""

    value: dg.DagsterRun


def _run_step(
    dependencies: list,
    job: ReconstructableJob,
    run: _Sealed,
    run_config: Mapping[str, object],
    step_keys: Sequence[str],
    instance: InstanceRef,
    known_state: KnownExecutionState | None,
) -> Sequence[dg.DagsterEvent]:
    return query_on_dask_worker(dependencies, job, run.value, run_config, step_keys, instance, known_state)


class RunScopedDaskExecutor(DaskExecutor):
    """dagster-dask 0.29's executor, submitting each step to the worker function it ships, with two fixes. The run
    travels sealed: Dask 2025+ walks tuple arguments, and a partitioned run (a NamedTuple holding its partition
    subset) cannot be walked, so upstream fails every partitioned run. Each task's key names the run: upstream keys
    by job and step, so two runs of one job on one cluster would share tasks (dagster-io/dagster#21418)."""

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[dg.DagsterEvent]:
        check.invariant(plan_context.instance.is_persistent, "Dask execution needs a persistent DagsterInstance")
        run = plan_context.dagster_run
        futures: dict[str, distributed.Future] = {}
        with distributed.Client(self.cluster_configuration["address"]) as client:
            for level in execution_plan.get_steps_to_execute_by_level():
                for step in level:
                    upstream = [futures[key] for put in step.step_inputs for key in put.dependency_keys]
                    futures[step.key] = client.submit(
                        _run_step,
                        upstream,
                        plan_context.reconstructable_job,
                        _Sealed(run),
                        plan_context.run_config,
                        [step.key],
                        plan_context.instance.get_ref(),
                        execution_plan.known_state,
                        key=f"{run.run_id}.{step.key}",
                        resources=get_dask_resource_requirements(step.tags),
                    )
            done = distributed.as_completed(list(futures.values()), with_results=True)
            for _, events in iterate_with_context(raise_execution_interrupts, done):
                yield from events
