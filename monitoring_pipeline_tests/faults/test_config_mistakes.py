"""A minimal config runs, and a config mistake that would change what is monitored stops before anything is
judged: a model with no `guards:` section (and no labels) goes through every Dagster step; a feature the log
never held is named with the log's nearest columns, not monitored as a 100%-null column."""

from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import yaml

from monitoring_pipeline.core.config import ConfigError
from monitoring_pipeline.core.contract import ContractError
from monitoring_pipeline.definitions import build_definitions
from monitoring_pipeline.demo.generator import tabular_day
from monitoring_pipeline.demo.run import materialize_model
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.config_file import DEFAULT_CONFIG, load_config
from monitoring_pipeline.steps.bins import freeze_model_bins
from monitoring_pipeline_tests.faults.lake import DAYS, NOW, write_log

pytestmark = pytest.mark.faults


def _minimal(folder: Path, numeric: list[str]) -> Path:
    """credit_risk with its log, features and outputs only: no guards, labels, expectations or alert policy."""
    shipped = yaml.safe_load(DEFAULT_CONFIG.read_text())["models"]["credit_risk"]
    window = {"start": DAYS[0], "end": DAYS[2]}
    model = {
        "log_table": shipped["log_table"],
        "start_date": DAYS[0],
        "end_date": date.fromordinal(DAYS[-1].toordinal() + 1),
        "baseline": window,
        "reference": {"kind": "fixed", **window},
        "features": {"numeric": numeric, "categorical": ["channel"]},
        "outputs": {"numeric": ["score"]},
    }
    path = folder / "monitoring.yaml"
    path.write_text(yaml.safe_dump({"lake": {"root": str(folder / "lake")}, "models": {"credit_risk": model}}))
    config = load_config(path)
    write_log(config, config.model("credit_risk"), pl.concat([tabular_day(day, 200) for day in DAYS]))
    return path


def test_a_model_with_no_guards_and_no_labels_runs_every_day_through_dagster(tmp_path: Path) -> None:
    path = _minimal(tmp_path, ["income", "age"])
    instance = dg.DagsterInstance.ephemeral()
    materialize_model(path, None, "credit_risk", instance)
    config = load_config(path)
    verdicts = delta.scan(catalog.table(config, catalog.DRIFT_VERDICTS)).collect()
    assert sorted(set(verdicts["day"])) == DAYS and {"income", "age", "channel", "score"} <= set(verdicts["column"])
    model = config.model("credit_risk")
    validated = delta.scan(catalog.table(config, catalog.validated_table(model))).collect()
    rejected = delta.scan(catalog.table(config, catalog.LOG_REJECTS)).collect()
    logged = delta.scan(catalog.log_table(config, model)).select(pl.len()).collect().item()
    assert validated.height + rejected.height == logged  # nothing quarantined without rules


def test_a_nightly_run_before_the_bins_are_frozen_stops_first_and_writes_nothing_for_the_day(tmp_path: Path) -> None:
    path = _minimal(tmp_path, ["income", "age"])
    config = load_config(path)
    job = build_definitions(str(path)).resolve_job_def("credit_risk_nightly")
    result = job.execute_in_process(
        partition_key=str(DAYS[-1]), instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "no frozen bins for model credit_risk" in failure.step_failure_data.error.to_string()
    model = config.model("credit_risk")
    for name in (catalog.LOG_REJECTS, catalog.GUARD_VERDICTS, catalog.validated_table(model), catalog.DRIFT_REPORT):
        assert not delta.exists(catalog.table(config, name)), name  # not half a day: nothing at all


def test_an_output_the_log_does_not_hold_is_named_with_the_nearest_columns(tmp_path: Path) -> None:
    path = _minimal(tmp_path, ["income"])
    raw = yaml.safe_load(path.read_text())
    raw["models"]["credit_risk"]["outputs"] = {"numeric": ["scor"]}
    path.write_text(yaml.safe_dump(raw))
    config = load_config(path)
    with pytest.raises(ContractError, match=r"column 'scor': missing \(nearest: score"):
        freeze_model_bins(config, config.model("credit_risk"), NOW)


def test_a_feature_the_log_never_held_is_named_with_the_nearest_columns_and_nothing_is_frozen(tmp_path: Path) -> None:
    config = load_config(_minimal(tmp_path, ["income", "loan_amout"]))
    with pytest.raises(
        ConfigError,
        match=r"models\.credit_risk\.features: not in the log .*'loan_amout' \(nearest: "
        r"loan_amount",
    ):
        freeze_model_bins(config, config.model("credit_risk"), NOW)
    assert not delta.exists(catalog.table(config, catalog.REFERENCE_BINS))
