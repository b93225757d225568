"""Write the demo scenario's logs and labels into the lake (deterministic: a rebuild gives the same rows)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import polars as pl

from monitoring_pipeline.core.config import ProjectConfig
from monitoring_pipeline.demo.generator import LLM_MODEL, TABULAR_MODEL, demo_days, labels_for, llm_day, tabular_day
from monitoring_pipeline.io import delta
from monitoring_pipeline.registry.audit_log import lake_of

DEFAULT_ROWS_PER_DAY = {TABULAR_MODEL: 4_000, LLM_MODEL: 800}


def _write_log(
    config: ProjectConfig, model: str, days: list[date], make: Callable[[date], pl.DataFrame]
) -> pl.DataFrame:
    frame = pl.concat([make(day) for day in days]).with_columns(pl.col("event_ts").dt.date().alias("event_date"))
    delta.overwrite(lake_of(config).table(config.model(model).log_table), frame, partition_by=["event_date"])
    return frame


def build_demo_lake(
    config: ProjectConfig, scale: float = 1.0, progress: Callable[[str], None] = print
) -> dict[str, int]:
    """Write both demo models' logs (and credit_risk's labels); returns rows written per table."""
    days = demo_days()
    rows = {model: max(int(n * scale), 1) for model, n in DEFAULT_ROWS_PER_DAY.items()}
    progress(f"writing {len(days)} days of {TABULAR_MODEL} logs ({rows[TABULAR_MODEL]:,} rows per weekday)")
    tabular = _write_log(config, TABULAR_MODEL, days, lambda d: tabular_day(d, rows[TABULAR_MODEL]))
    labels = labels_for(tabular)
    delta.overwrite(lake_of(config).table(config.model(TABULAR_MODEL).label_table), labels)
    progress(f"writing {len(days)} days of {LLM_MODEL} logs ({rows[LLM_MODEL]:,} rows per weekday)")
    llm = _write_log(config, LLM_MODEL, days, lambda d: llm_day(d, rows[LLM_MODEL]))
    return {TABULAR_MODEL: tabular.height, f"{TABULAR_MODEL} labels": labels.height, LLM_MODEL: llm.height}
