"""A day whose log was not materialized by the deadline shows as a failing (WARN) freshness check on the model's
prediction_log, and passes once the nightly run has materialized it."""

from pathlib import Path

import dagster as dg

from monitoring_pipeline.definitions import build_definitions
from monitoring_pipeline.demo.run import materialize_model
from monitoring_pipeline_tests.faults.test_config_mistakes import _minimal

LOG = dg.AssetKey(["credit_risk", "prediction_log"])


def _freshness(path: Path, instance: dg.DagsterInstance) -> dg.AssetCheckEvaluation:
    defs = build_definitions(str(path))
    check = next(k for k in defs.resolve_asset_graph().asset_check_keys if k.asset_key == LOG and "fresh" in k.name)
    job = dg.define_asset_job("freshness", selection=dg.AssetSelection.checks(check))
    result = (
        dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
        .resolve_job_def("freshness")
        .execute_in_process(instance=instance)
    )
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_a_day_not_materialized_by_its_deadline_warns_until_the_nightly_run_lands(tmp_path: Path) -> None:
    path = _minimal(tmp_path, ["income", "age"])
    instance = dg.DagsterInstance.ephemeral()
    late = _freshness(path, instance)
    assert not late.passed and late.severity == dg.AssetCheckSeverity.WARN
    materialize_model(path, None, "credit_risk", instance)
    assert _freshness(path, instance).passed
