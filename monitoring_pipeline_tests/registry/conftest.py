"""A temp lake holding three days of the demo's credit_risk log, and a model artifact."""

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from monitoring_pipeline.core.config import ProjectConfig
from monitoring_pipeline.demo.generator import tabular_day
from monitoring_pipeline.io import catalog, delta


@pytest.fixture
def lake(demo_config: ProjectConfig, tmp_path: Path) -> tuple[ProjectConfig, Path]:
    days = [date(2026, 9, 1), date(2026, 9, 2), date(2026, 9, 3)]
    frame = pl.concat([tabular_day(d, 300) for d in days]).with_columns(
        pl.col("event_ts").dt.date().alias("event_date")
    )
    delta.overwrite(catalog.table(demo_config, "logs/credit_risk"), frame, partition_by=["event_date"])
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(b"weights v1")
    return demo_config, artifact
