"""The Dagster code location: one asset chain per monitored model, plus its nightly schedule; the executor of its
jobs comes from the environment (`monitoring_pipeline.defs.executors`)."""

from __future__ import annotations

import os
import warnings

import dagster as dg

from monitoring_pipeline.defs.assets import build_label_defs, build_model_assets
from monitoring_pipeline.defs.checks import build_expectations_checks, build_freshness_checks
from monitoring_pipeline.defs.executors import run_executor
from monitoring_pipeline.defs.registry import registry_assets, registry_observation
from monitoring_pipeline.defs.resources import ProjectResource
from monitoring_pipeline.defs.schedules import nightly_job, nightly_schedule
from monitoring_pipeline.defs.tickets import build_review, ticket_sink_resource
from monitoring_pipeline.io.config_file import config_source, load_config

# Owners on jobs and schedules are a beta parameter, resolved by Dagster after this module returns; the pinned
# version is tested (test_definitions).
warnings.filterwarnings("ignore", message="Parameter `owners` of", category=dg.BetaWarning)


def build_definitions(
    config_path: str, lake_root: str | None = None, executor: dg.ExecutorDefinition | None = None
) -> dg.Definitions:
    """Every model's assets, checks, jobs, schedules and sensors; `executor` runs every job (None: Dagster's
    default)."""
    config = load_config(config_path, lake_root)
    models = list(config.models.values())
    jobs = [nightly_job(model) for model in models]
    registry_job, registry_schedule = registry_observation(config.governance.owners)
    with warnings.catch_warnings():
        # Per-partition asset checks are a Dagster preview feature, observable source assets a beta one; the
        # pinned version is tested here.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        warnings.simplefilter("ignore", dg.BetaWarning)  # observable source assets (the registry tables)
        assets = [a for model in config.models.values() for a in owned(build_model_assets(model), model.owners)]
        assets += registry_assets(config.governance.owners)
        reviews = [build_review(model) for model in config.models.values()]
        label_defs = [build_label_defs(model) for model in config.models.values()]
        checks = [check for model in config.models.values() for check in build_expectations_checks(model)]
        freshness, freshness_sensor = build_freshness_checks(models)
    core = dg.Definitions(
        assets=[*assets, *(dossier for dossier, _, _ in reviews)],  # a dossier is owned as its model (build_review)
        asset_checks=[*checks, *freshness],
        jobs=[*jobs, registry_job, *(job for _, job, _ in reviews)],
        schedules=[*[nightly_schedule(job, model) for job, model in zip(jobs, models, strict=True)], registry_schedule],
        sensors=[*(sensor for _, _, sensor in reviews), freshness_sensor],
        resources={
            "project": ProjectResource(config_path=str(config_path), lake_root=lake_root),
            "ticket_sink": ticket_sink_resource(config.tickets),
        },
        executor=executor,
    )
    return dg.Definitions.merge(core, *label_defs)


def owned(assets: list[dg.AssetsDefinition], owners: tuple[str, ...]) -> list[dg.AssetsDefinition]:
    """`assets` with `owners` on every spec (their checks are shown under their owned assets)."""
    return dg.map_asset_specs(lambda spec: spec.replace_attributes(owners=list(owners)), assets)


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(*config_source(), run_executor(os.environ))
