"""The registry tables as observable source assets: the CLI writes them, Dagster observes their Delta versions
and row counts (metadata), so the asset graph links each report to the registry and the UI keeps its history.

An observation carries no data version: definitions are effective-dated, so a new registry commit changes no day
already judged, and a data version would mark every daily partition downstream stale for good. What a day read
is in its materialization (the definition versions used, the audit sequence number); a definition approved
retroactively is named by `changes`."""

from __future__ import annotations

import dagster as dg
import polars as pl

from monitoring_pipeline.defs.metadata import identifier
from monitoring_pipeline.defs.resources import ProjectResource
from monitoring_pipeline.io import catalog, delta

REGISTRY_TABLES = {
    catalog.MODEL_VERSIONS: "Model checkpoints with their pinned training slices.",
    catalog.MODEL_EVALUATIONS: "Evaluation checkpoints: pinned eval slices and metrics.",
    catalog.MODEL_EVENTS: "Approvals, deployments, rollbacks and retirements; deploy rows are the release ledger.",
    catalog.DEFINITIONS: "Every proposed version of every feature definition and prompt template.",
    catalog.DEFINITION_EVENTS: "Approvals and rollbacks of feature definitions and prompt templates.",
    catalog.AUDIT_LOG: "The hash-chained audit log.",
}
REGISTRY_JOB = "registry_observation"


def registry_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(table.split("/"))


def _observer(table: str, description: str, owners: tuple[str, ...]) -> dg.AssetsDefinition:
    spec = dg.AssetSpec(registry_key(table), group_name="registry", description=description, owners=list(owners))

    @dg.multi_observable_source_asset(specs=[spec], name=table.replace("/", "__"))
    def observe(project: ProjectResource) -> dg.ObserveResult:
        ref = catalog.table(project.load(), table)
        version = delta.version(ref)
        rows = delta.scan(ref).select(pl.len()).collect().item() if version is not None else 0
        return dg.ObserveResult(
            metadata={"table": str(ref), "delta_version": identifier(version), "rows": rows},
        )

    return observe


def registry_assets(owners: tuple[str, ...]) -> list[dg.AssetsDefinition]:
    return [_observer(table, description, owners) for table, description in REGISTRY_TABLES.items()]


def registry_observation(owners: tuple[str, ...]) -> tuple[dg.UnresolvedAssetJobDefinition, dg.ScheduleDefinition]:
    """Observe the registry every 15 minutes, so the UI shows each change near when it happened."""
    job = dg.define_asset_job(
        REGISTRY_JOB,
        selection=[registry_key(table) for table in REGISTRY_TABLES],
        description="Observes the registry tables and the audit log: their Delta versions and rows.",
        owners=list(owners),
    )
    schedule = dg.ScheduleDefinition(
        job=job,
        cron_schedule="*/15 * * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Observes the registry every 15 minutes, so the UI shows each change near when it happened.",
        owners=list(owners),
    )
    return job, schedule
