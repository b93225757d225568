"""The deployment recipe under deploy/ stays real: the Postgres instance config passes Dagster's own instance schema,
and the Helm values load the code location workspace.yaml names, with an environment the code accepts."""

from __future__ import annotations

import yaml
from dagster._core.instance.config import dagster_instance_config

from monitoring_pipeline.defs.executors import run_executor
from monitoring_pipeline.io.config_file import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"


def test_the_postgres_instance_config_passes_dagsters_schema() -> None:
    config, _ = dagster_instance_config(str(DEPLOY), "dagster.postgres.yaml")
    assert set(config["storage"]) == {"postgres"}
    assert config["storage"]["postgres"]["postgres_db"]["password"] == {"env": "DAGSTER_PG_PASSWORD"}
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 16
    assert config["telemetry"] == {"enabled": False}


def test_the_helm_values_run_the_code_location_with_an_environment_it_accepts() -> None:
    values = yaml.safe_load((DEPLOY / "k8s" / "values.yaml").read_text())
    workspace = yaml.safe_load((PROJECT_ROOT / "workspace.yaml").read_text())
    [deployment] = values["dagster-user-deployments"]["deployments"]
    module = workspace["load_from"][0]["python_module"]["module_name"]
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", module]
    env = {item["name"]: item["value"] for item in deployment["env"]}
    assert set(env) == {"MP_CONFIG", "MP_LAKE_ROOT", "MP_EXECUTOR"} and env["MP_LAKE_ROOT"].startswith("s3://")
    assert run_executor(env).name == "in_process"
    assert values["runLauncher"]["type"] == "K8sRunLauncher" and values["telemetry"] == {"enabled": False}
    queue = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queue["maxConcurrentRuns"] == 16
