"""A feature definition that names a column the log does not have: refused when proposed and when approved,
naming the column and the log's columns; and one that breaks later (the log dropped its column) fails that feature
alone — judged `feature_missing`, named with its version — while the day and every other feature run on."""

import logging
from pathlib import Path

import polars as pl
import pytest

from monitoring_pipeline.core.contract import FEATURE_MISSING
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.registry import definitions
from monitoring_pipeline.registry.definitions import FEATURE, DefinitionError
from monitoring_pipeline.steps.drift import drift_day
from monitoring_pipeline_tests.faults.lake import DAYS, JUDGED, NOW, config_for, model_for, run_days, write_log
from monitoring_pipeline_tests.faults.test_bad_input import _log

pytestmark = pytest.mark.faults


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"expression": "debt_to_income * incom"}, r"names \['incom'\], not in the log .*; did you mean 'income'\?"),
        ({"source": "humid"}, r"source column 'humid' is not in the log .*; its columns: \["),
        ({"expression": "region * 2"}, r"expression does not compute a Float64 on the log"),
    ],
)
def test_a_definition_that_does_not_compute_on_the_log_is_refused_when_proposed(
    tmp_path: Path, body: dict, message: str
) -> None:
    config = config_for(tmp_path)
    write_log(config, model_for(config), _log())
    with pytest.raises(DefinitionError, match=message):
        definitions.propose(config, FEATURE, "credit_risk", "debt_to_income", body, "why", "ana", NOW)
    assert not delta.exists(catalog.table(config, catalog.DEFINITIONS))  # nothing recorded


def test_a_definition_broken_by_the_log_fails_its_feature_alone(tmp_path: Path, caplog) -> None:
    config = config_for(tmp_path)
    model = model_for(config)
    log = _log().with_columns((pl.col("debt_to_income") * pl.col("income")).alias("debt"))
    write_log(config, model, log)
    body = {"expression": "debt / income"}
    definitions.propose(config, FEATURE, "credit_risk", "debt_to_income", body, "from raw debt", "ana", NOW)
    definitions.approve(config, FEATURE, "credit_risk", "debt_to_income", 1, "ok", "bob", NOW, NOW.replace(year=2025))
    write_log(config, model, log.drop("debt"))  # the producer stops logging the column the definition reads
    with caplog.at_level(logging.WARNING):
        run_days(config, model, DAYS)
    assert "definition version 1 of feature debt_to_income: expression names ['debt']" in caplog.text
    report = drift_day(config, model, JUDGED).frame.filter(pl.col("decisive"))
    verdicts = dict(zip(report["column"], report["verdict"], strict=True))
    assert verdicts["debt_to_income"] == FEATURE_MISSING
    assert verdicts["income"] in {"ok", "warn", "drift"}  # the others are judged as ever
    with pytest.raises(DefinitionError, match=r"expression names \['debt'\], not in the log"):
        definitions.propose(
            config, FEATURE, "credit_risk", "debt_to_income", {"expression": "debt * 1"}, "x", "ana", NOW
        )
