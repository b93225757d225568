"""dagster-dask's executor on an existing Dask cluster (`MP_EXECUTOR=dask`, see `executors`), with two fixes."""

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
