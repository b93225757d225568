"""The lake's map: tables under the project's lake, and the one reader of a model's rows on given days."""

from datetime import date

import polars as pl
from polars.testing import assert_frame_equal

from monitoring_pipeline.core.config import ProjectConfig
from monitoring_pipeline.io import catalog, delta

DAYS = [date(2026, 9, 1), date(2026, 9, 2), date(2026, 9, 3)]


def _report(model: str, day: date, value: int) -> pl.DataFrame:
    return pl.DataFrame({"model_name": [model], "day": [day], "value": [value]})


def test_tables_resolve_under_the_configured_lake(demo_config: ProjectConfig) -> None:
    model = demo_config.model("credit_risk")
    root = demo_config.lake.root.rstrip("/")
    assert catalog.table(demo_config, catalog.DRIFT_REPORT).uri == f"{root}/reports/drift_report"
    assert catalog.log_table(demo_config, model).uri == f"{root}/{model.log_table}"
    assert catalog.validated_table(model) == "validated/credit_risk"


def test_day_rows_reads_a_models_days_at_a_version_and_nothing_before_the_first_write(
    demo_config: ProjectConfig,
) -> None:
    assert catalog.day_rows(demo_config, catalog.DRIFT_REPORT, "credit_risk", days=DAYS[0]) is None
    ref = catalog.table(demo_config, catalog.DRIFT_REPORT)
    written = [
        delta.write_partition(ref, _report(model, day, i), {"model_name": model, "day": day})
        for i, day in enumerate(DAYS)
        for model in ("credit_risk", "support_summarizer")
    ]
    one = catalog.day_rows(demo_config, catalog.DRIFT_REPORT, "credit_risk", days=DAYS[1]).collect()
    assert_frame_equal(one, _report("credit_risk", DAYS[1], 1))
    two = catalog.day_rows(demo_config, catalog.DRIFT_REPORT, "credit_risk", days=DAYS[1:]).sort("day").collect()
    assert two["value"].to_list() == [1, 2]
    every = catalog.day_rows(demo_config, catalog.DRIFT_REPORT).collect()
    assert every.height == 6
    first = catalog.day_rows(demo_config, catalog.DRIFT_REPORT, "credit_risk", version=written[0]).collect()
    assert_frame_equal(first, _report("credit_risk", DAYS[0], 0))
