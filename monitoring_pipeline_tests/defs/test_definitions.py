"""The code location loads, with a known asset graph, jobs and schedules."""

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from monitoring_pipeline.core.config import ConfigError
from monitoring_pipeline.definitions import build_definitions
from monitoring_pipeline.io.config_file import DEFAULT_CONFIG, PROJECT_ROOT, load_config

EXPECTED_ASSETS = (
    {
        f"{model}/{asset}"
        for model in ("credit_risk", "support_summarizer")
        for asset in (
            "reference_bins",
            "prediction_log",
            "guard_verdicts",
            "validated_predictions",
            "quarantined_predictions",
            "feature_profiles",
            "output_profiles",
            "drift_report",
            "review_dossier",
        )
    }
    | {
        f"registry/{table}"
        for table in ("model_versions", "model_evaluations", "model_events", "definitions", "definition_events")
    }
    | {"audit/log", "credit_risk/performance", "labels/credit_risk"}  # only credit_risk has labels
)
DEFINITION_TABLES = {dg.AssetKey(["registry", "definitions"]), dg.AssetKey(["registry", "definition_events"])}


def test_definitions_load_with_the_expected_asset_graph() -> None:
    defs = build_definitions(str(DEFAULT_CONFIG))
    graph = defs.resolve_asset_graph()
    assert {key.to_user_string() for key in graph.get_all_asset_keys()} == EXPECTED_ASSETS
    drift = dg.AssetKey(["credit_risk", "drift_report"])
    assert graph.get(drift).parent_keys == {
        dg.AssetKey(["credit_risk", "feature_profiles"]),
        dg.AssetKey(["credit_risk", "output_profiles"]),
        *DEFINITION_TABLES,
    }
    profiles = graph.get(dg.AssetKey(["credit_risk", "feature_profiles"]))
    assert dg.AssetKey(["credit_risk", "validated_predictions"]) in profiles.parent_keys
    partitions = graph.get(drift).partitions_def
    assert partitions.get_first_partition_key() == "2026-09-01"
    assert len(partitions.get_partition_keys()) == 60


OWNERS = {"credit_risk": ["team:credit-risk"], "support_summarizer": ["team:support-ml"]}


def test_every_asset_job_schedule_and_sensor_says_what_it_is_and_who_owns_it() -> None:
    defs = build_definitions(str(DEFAULT_CONFIG))
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        model = next((m for m in OWNERS if m in key.path), None)
        assert graph.get(key).description, key
        assert graph.get(key).owners == OWNERS.get(model, ["team:ml-governance"]), key
    for check in graph.asset_check_keys:  # a check is shown under its asset, with the asset's owners
        assert graph.get_check_spec(check).description, check
    named = [*defs.resolve_all_job_defs(), *defs.schedules, *defs.sensors]
    built_by_dagster = (
        "__",
        "freshness_checks_sensor",
    )  # its implicit job, its freshness sensor (named for what it does)
    for definition in (d for d in named if not d.name.startswith(built_by_dagster)):
        model = next((m for m in OWNERS if definition.name.startswith(m)), None)
        assert definition.description, definition.name
        assert list(definition.owners) == OWNERS.get(model, ["team:ml-governance"]), definition.name


def test_an_owner_that_is_neither_an_email_nor_a_team_is_named_in_the_config(tmp_path: Path) -> None:
    text = DEFAULT_CONFIG.read_text().replace("owners: [team:credit-risk]", "owners: [credit risk team]")
    (tmp_path / "monitoring.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"models.credit_risk.owners: 'credit risk team' is not an owner"):
        load_config(str(tmp_path / "monitoring.yaml"))


def test_nightly_schedule_materializes_yesterday() -> None:
    defs = build_definitions(str(DEFAULT_CONFIG))
    schedule = defs.resolve_schedule_def("credit_risk_nightly_schedule")
    tick = datetime(2026, 10, 15, 2, 0, tzinfo=UTC)
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
        requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2026-10-14"]
    assert defs.resolve_job_def("credit_risk_nightly") is not None


def test_shipped_instance_config_disables_telemetry() -> None:
    import yaml

    shipped = yaml.safe_load((DEFAULT_CONFIG.parent / "dagster_home" / "dagster.yaml").read_text())
    assert shipped["telemetry"] == {"enabled": False}


def test_nightly_schedules_run_by_default() -> None:
    defs = build_definitions(str(DEFAULT_CONFIG))
    for model in ("credit_risk", "support_summarizer"):
        schedule = defs.resolve_schedule_def(f"{model}_nightly_schedule")
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_the_registry_tables_are_observed_with_their_delta_versions_and_rows(demo_config, tmp_path) -> None:
    from monitoring_pipeline.registry import definitions

    now = datetime(2026, 10, 1, tzinfo=UTC)
    definitions.propose(demo_config, "feature", "credit_risk", "income", {"source": "income"}, "v1", "ana", now)
    definitions.approve(demo_config, "feature", "credit_risk", "income", 1, "ok", "bob", now)
    defs = build_definitions(str(DEFAULT_CONFIG), demo_config.lake.root)
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("registry_observation").execute_in_process(instance=instance)
        assert result.success
        observed = {
            key: instance.fetch_observations(key, limit=1).records[0].asset_observation for key in DEFINITION_TABLES
        }
    assert {key: o.metadata["delta_version"].value for key, o in observed.items()} == {  # v0: the table's creation
        dg.AssetKey(["registry", "definitions"]): "1",
        dg.AssetKey(["registry", "definition_events"]): "1",
    }
    assert all("dagster/data_version" not in o.tags for o in observed.values())  # see test_pipeline_e2e: no staleness
    assert observed[dg.AssetKey(["registry", "definition_events"])].metadata["rows"].value == 1


def test_review_sensors_run_by_default_and_request_dossier_runs() -> None:
    defs = build_definitions(str(DEFAULT_CONFIG))
    for model in ("credit_risk", "support_summarizer"):
        sensor = defs.resolve_sensor_def(f"{model}_review_sensor")
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
        assert sensor.job_name == f"{model}_review_dossier"


def test_dg_check_defs_passes(tmp_path: Path) -> None:
    """Dagster's own validation of the project: every asset, check and partition mapping (a ticket's dossier
    reads every day it cites) as `dg check defs` sees them; telemetry off from the project's instance config."""
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", tmp_path / "dagster.yaml")
    dg_command = Path(sys.executable).parent / "dg"
    checked = subprocess.run(
        [str(dg_command), "check", "defs"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
