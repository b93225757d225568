"""Hostile values never become code (issue 8's fault matrix, row 39). The places an analyst's or a config's
value meets a query: Delta partition predicates (bound from a strict alphabet, else refused before any write),
slice filters of the model registry (`--train-filter`, `--eval-filter`: parsed, values bound as literals),
feature-definition expressions (Polars SQL expressions: no table functions) and prediction ids on the command
line (Polars expressions). The project uses no DuckDB and builds no SQL text from values."""

from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from monitoring_pipeline.core.slices import FilterError
from monitoring_pipeline.demo.generator import tabular_day
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.registry.definitions import DefinitionError, check_feature_body
from monitoring_pipeline.registry.models import read_slice
from monitoring_pipeline.steps.guards import guard_day, release
from monitoring_pipeline.steps.log import check_log_day
from monitoring_pipeline_tests.faults.lake import DAYS, NOW, config_for, model_for, write_log

pytestmark = pytest.mark.faults

HOSTILE = ["x'; DROP TABLE t; --", "read_csv('/etc/passwd')", "o'brien", 'say "hi"', "1 OR 1=1", "a\nb"]


def _log_text(table: Path) -> str:
    return "".join(path.read_text() for path in sorted((table / "_delta_log").glob("*.json")))


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_partition_value_is_refused_before_anything_is_written(tmp_path: Path, value: str) -> None:
    table = catalog.lake_of(config_for(tmp_path)).table("reports/t")
    rows = pl.DataFrame({"model_name": ["m"], "n": [1]})
    written = delta.write_partition(table, rows, {"model_name": "m"})
    hostile = rows.with_columns(pl.lit(value).alias("model_name"))
    with pytest.raises(ValueError, match=r"unsafe (partition )?value model_name="):
        delta.write_partition(table, hostile, {"model_name": value})
    assert delta.version(table) == written and value not in _log_text(Path(table.uri))
    assert delta.scan(table).collect()["model_name"].to_list() == ["m"]


def test_a_model_named_like_an_injection_stops_its_first_write_and_writes_nothing(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    model = replace(model_for(config), name=HOSTILE[0])
    write_log(config, model, tabular_day(DAYS[0], 50).with_columns(pl.lit(HOSTILE[0]).alias("model_name")))
    with pytest.raises(ValueError, match=r"unsafe (partition )?value model_name="):
        check_log_day(config, model, DAYS[0], NOW)
    assert not delta.exists(catalog.table(config, catalog.LOG_REJECTS))


def test_slice_filters_bind_hostile_values_as_literals_on_a_real_table(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    rows = pl.DataFrame({"region": [*HOSTILE, "north"], "score": [0.1] * len(HOSTILE) + [0.9]})
    table = catalog.table(config, "training/t")
    version = delta.overwrite(table, rows)
    for value in HOSTILE[:5]:  # each quoted value selects exactly its own row
        quote = '"' if "'" in value else "'"
        chosen = read_slice(config, "training/t", version, f"region == {quote}{value}{quote} and score < 0.5")
        assert chosen["region"].to_list() == [value]
    for text, problem in [
        ("region == read_csv('/etc/passwd')", "neither a number nor a quoted string"),
        ("read_csv('/etc/passwd') == 1", "cannot read condition"),
        ("region == 'x' or 1 == 1", "cannot read condition|neither a number"),
        ("region; DROP TABLE t == 1", "cannot read condition"),
    ]:
        with pytest.raises(FilterError, match=problem):
            read_slice(config, "training/t", version, text)
    assert delta.version(table) == version and delta.scan(table).collect().height == rows.height


@pytest.mark.parametrize("expression", ["income'; DROP TABLE t; --", "read_csv('/etc/passwd')", "pg_read_file('x')"])
def test_a_feature_expression_cannot_smuggle_statements_or_table_functions(tmp_path: Path, expression: str) -> None:
    model = model_for(config_for(tmp_path))
    with pytest.raises(DefinitionError, match="expression does not parse as SQL"):
        check_feature_body(model, "income", {"expression": expression})


def test_a_feature_expression_with_a_subquery_is_refused_when_proposed(tmp_path: Path) -> None:
    model = model_for(config_for(tmp_path))
    with pytest.raises(DefinitionError):
        check_feature_body(model, "income", {"expression": "(SELECT * FROM read_csv('/etc/passwd'))"})


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_prediction_id_to_release_is_looked_up_as_a_value(tmp_path: Path, value: str) -> None:
    config = config_for(tmp_path)
    model = model_for(config)
    write_log(config, model, tabular_day(DAYS[0], 50))
    guard_day(config, model, DAYS[0], NOW)
    with pytest.raises(LookupError, match="is not in the quarantine of model credit_risk"):
        release(config, model, value, "looks fine", "analyst", NOW)
    assert not delta.exists(catalog.table(config, catalog.QUARANTINE_RELEASES))
