"""Write the demo scenario's logs and labels into the lake (deterministic: a rebuild gives the same rows)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import polars as pl

from monitoring_pipeline.core.config import ProjectConfig
from monitoring_pipeline.demo.generator import (
    DEMO_START,
    LLM_MODEL,
    TABULAR_MODEL,
    demo_days,
    labels_for,
    llm_day,
    tabular_day,
)
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.delta import TableRef

DEFAULT_ROWS_PER_DAY = {TABULAR_MODEL: 4_000, LLM_MODEL: 800}
TRAINING_TABLES = {TABULAR_MODEL: f"training/{TABULAR_MODEL}", LLM_MODEL: f"training/{LLM_MODEL}"}
TRAINING_DAYS = [DEMO_START - timedelta(days=i) for i in range(28, 0, -1)]  # the four weeks before the story
LABEL_FEEDS = {TABULAR_MODEL: f"staging/label_feed/{TABULAR_MODEL}"}  # every label, before it "arrives"
LABEL_DELIVERY_WEEKDAY = 0  # the feed delivers on Mondays everything that arrived in the week before


def _write_log(
    config: ProjectConfig, model: str, days: list[date], make: Callable[[date], pl.DataFrame]
) -> pl.DataFrame:
    frame = pl.concat([make(day) for day in days]).with_columns(pl.col("event_ts").dt.date().alias("event_date"))
    delta.overwrite(catalog.table(config, config.model(model).log_table), frame, partition_by=["event_date"])
    return frame


def build_demo_lake(
    config: ProjectConfig, scale: float = 1.0, progress: Callable[[str], None] = print, label_feed: bool = True
) -> dict[str, int]:
    """Write both demo models' logs and credit_risk's labels; returns rows written per table. With `label_feed`,
    the labels wait in a staging table and the label table starts empty: `deliver_labels` hands them over week by
    week as the run goes through the days; without it, every label is there from the start."""
    days = demo_days()
    rows = {model: max(int(n * scale), 1) for model, n in DEFAULT_ROWS_PER_DAY.items()}
    progress(f"writing {len(days)} days of {TABULAR_MODEL} logs ({rows[TABULAR_MODEL]:,} rows per weekday)")
    tabular = _write_log(config, TABULAR_MODEL, days, lambda d: tabular_day(d, rows[TABULAR_MODEL]))
    labels = labels_for(tabular)
    label_table = catalog.table(config, config.model(TABULAR_MODEL).label_table)
    if label_feed:
        delta.overwrite(catalog.table(config, LABEL_FEEDS[TABULAR_MODEL]), labels)
    delta.overwrite(label_table, labels.head(0) if label_feed else labels)
    progress(f"writing {len(days)} days of {LLM_MODEL} logs ({rows[LLM_MODEL]:,} rows per weekday)")
    llm = _write_log(config, LLM_MODEL, days, lambda d: llm_day(d, rows[LLM_MODEL]))
    progress(f"writing the training tables ({len(TRAINING_DAYS)} days before the story)")
    training = _write_training(config, rows)
    return {
        TABULAR_MODEL: tabular.height,
        f"{TABULAR_MODEL} labels{' (staged, delivered weekly)' if label_feed else ''}": labels.height,
        LLM_MODEL: llm.height,
        **training,
    }


def staged_label_feed(config: ProjectConfig, model_name: str) -> TableRef | None:
    """The model's staged label feed, when the demo lake was built with one."""
    name = LABEL_FEEDS.get(model_name)
    table = catalog.table(config, name) if name else None
    return table if table and delta.exists(table) else None


def deliver_labels(config: ProjectConfig, model_name: str, until: datetime) -> int:
    """Append, in one commit, the staged labels that arrived before `until` and were not delivered yet; returns
    the rows delivered."""
    table = catalog.table(config, config.model(model_name).label_table)
    delivered = delta.scan(table).select(pl.col("label_ts").max()).collect().item()
    batch = delta.scan(catalog.table(config, LABEL_FEEDS[model_name])).filter(pl.col("label_ts") < until)
    rows = (batch if delivered is None else batch.filter(pl.col("label_ts") > delivered)).collect()
    if rows.height:
        delta.append(table, rows)
    return rows.height


def _write_training(config: ProjectConfig, rows: dict[str, int]) -> dict[str, int]:
    """The data the demo's models were trained and evaluated on: the four weeks before the story (with labels
    for the classifier)."""
    tabular = pl.concat([tabular_day(d, rows[TABULAR_MODEL]) for d in TRAINING_DAYS])
    frames = {
        TABULAR_MODEL: tabular.join(labels_for(tabular).select("prediction_id", "label"), on="prediction_id"),
        LLM_MODEL: pl.concat([llm_day(d, rows[LLM_MODEL]) for d in TRAINING_DAYS]),
    }
    written = {}
    for model, frame in frames.items():
        frame = frame.with_columns(pl.col("event_ts").dt.date().alias("event_date"))
        delta.overwrite(catalog.table(config, TRAINING_TABLES[model]), frame, partition_by=["event_date"])
        written[TRAINING_TABLES[model]] = frame.height
    return written
