"""Benchmark `monitoring-pipeline trace PREDICTION_ID` on a large log (issue 4: under 2 seconds on 10M rows).

Shape: the demo's credit_risk log and labels over its 60 days with N rows in all (Delta, partitioned by
event_date as the demo writes it; the label table unpartitioned), bins frozen from the baseline, and the
guards, profiles and drift report of the traced day and its reference days. The trace is timed as a whole
process (start-up included) and in-process, for ids on the first, a middle and the last day.

    uv run python benchmarks/trace_benchmark.py --rows 10000000
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import yaml

from monitoring_pipeline.demo.generator import DEMO_DAYS, TABULAR_MODEL, demo_days, labels_for, tabular_day
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.config_file import DEFAULT_CONFIG, load_config
from monitoring_pipeline.review.trace import trace
from monitoring_pipeline.steps.bins import freeze_model_bins
from monitoring_pipeline.steps.drift import drift_day
from monitoring_pipeline.steps.guards import guard_day
from monitoring_pipeline.steps.profiles import profile_day

TRACED_DAYS = (date(2026, 9, 1), date(2026, 10, 12), date(2026, 10, 30))


def build(folder: Path, rows: int) -> Path:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["lake"]["root"] = str(folder / "lake")
    raw["models"] = {TABULAR_MODEL: raw["models"][TABULAR_MODEL]}
    config_path = folder / "monitoring.yaml"
    config_path.write_text(yaml.safe_dump(raw))
    config = load_config(config_path)
    per_weekday = round(rows / (DEMO_DAYS - 17 * 0.4))  # 60 days, 17 of them weekend days at 0.6
    log, labels = catalog.table(config, "logs/credit_risk"), catalog.table(config, "labels/credit_risk")
    for day in demo_days():  # one commit per day keeps memory at one day's rows
        frame = tabular_day(day, per_weekday).with_columns(pl.col("event_ts").dt.date().alias("event_date"))
        delta.append(log, frame, partition_by=["event_date"])
        delta.append(labels, labels_for(frame))
    model = config.model(TABULAR_MODEL)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    freeze_model_bins(config, model, now)
    for day in sorted({d for t in TRACED_DAYS for d in [*model.reference.days_for(t), t] if d >= model.start_date}):
        guard_day(config, model, day, now)
        profile_day(config, model, day)
    for day in TRACED_DAYS:
        drift_day(config, model, day)
    return config_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        config_path = build(Path(tmp), args.rows)
        config = load_config(config_path)
        total = delta.scan(catalog.table(config, "logs/credit_risk")).select(pl.len()).collect().item()
        print(f"lake: {total:,} log rows built in {time.perf_counter() - started:.0f} s")
        ids = [f"cr-{day:%Y%m%d}-000000042" for day in TRACED_DAYS]
        for prediction_id in ids:
            warm = []
            for _ in range(3):
                t0 = time.perf_counter()
                result = trace(config, prediction_id)
                warm.append(time.perf_counter() - t0)
            assert result["prediction"]["prediction_id"] == prediction_id
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "monitoring_pipeline.cli", "trace", prediction_id, "--config", str(config_path)],
                check=True,
                capture_output=True,
            )
            process = time.perf_counter() - t0
            print(
                f"{prediction_id}: in-process median {statistics.median(warm):.3f} s, "
                f"whole command {process:.2f} s (start-up included)"
            )


if __name__ == "__main__":
    main()
