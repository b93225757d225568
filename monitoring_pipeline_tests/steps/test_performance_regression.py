"""A regression model through the performance step: MAE, RMSE and bias from late numeric labels, per version,
with a band that flags a planted bias."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from monitoring_pipeline.core.config import ProjectConfig, parse_config
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.steps.guards import guard_day
from monitoring_pipeline.steps.performance import performance_day

DAYS = [date(2026, 9, 1) + timedelta(days=i) for i in range(9)]
BIASED = DAYS[8]  # the model over-predicts by 0.5 on this day
NOW = datetime(2026, 10, 1, tzinfo=UTC)


def _config(root: Path) -> ProjectConfig:
    model = {
        "log_table": "logs/demand",
        "label_table": "labels/demand",
        "start_date": DAYS[0],
        "baseline": {"start": DAYS[0], "end": DAYS[6]},
        "reference": {"kind": "fixed", "start": DAYS[0], "end": DAYS[6]},
        "features": {"numeric": ["x"]},
        "outputs": {"numeric": ["forecast"]},
        "performance": {"task": "regression", "score_column": "forecast", "label_column": "units"},
    }
    return parse_config({"lake": {"root": str(root)}, "models": {"demand": model}})


def _day(day: date, n: int = 2_000) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(day.toordinal())
    x = rng.normal(10, 2, n)
    truth = 3 * x + rng.normal(0, 1, n)
    forecast = 3 * x + (0.5 if day == BIASED else 0.0)
    start = datetime.combine(day, datetime.min.time(), UTC)
    ts = [start + timedelta(seconds=30 * i) for i in range(n)]
    ids = [f"d-{day}-{i}" for i in range(n)]
    log = pl.DataFrame(
        {
            "prediction_id": ids,
            "model_name": "demand",
            "model_version": "1",
            "event_ts": ts,
            "x": x,
            "forecast": forecast,
        }
    )
    labels = pl.DataFrame({"prediction_id": ids, "units": truth, "label_ts": [t + timedelta(days=2) for t in ts]})
    return log, labels


def test_regression_metrics_from_late_labels_and_a_band_on_bias(tmp_path: Path) -> None:
    config = _config(tmp_path / "lake")
    model = config.model("demand")
    days = [_day(d) for d in DAYS]
    delta.overwrite(catalog.log_table(config, model), pl.concat([log for log, _ in days]))
    delta.overwrite(catalog.label_table(config, model), pl.concat([labels for _, labels in days]))
    for day in DAYS:
        guard_day(config, model, day, NOW)
    rows = {d: performance_day(config, model, d, NOW) for d in DAYS}
    log, labels = days[8]
    error = log["forecast"].to_numpy() - labels["units"].to_numpy()
    biased = {m: rows[BIASED].overall(m) for m in ("mae", "rmse", "bias")}
    assert biased["mae"]["realized"] == pytest.approx(np.abs(error).mean())
    assert biased["rmse"]["realized"] == pytest.approx(np.sqrt((error**2).mean()))
    assert biased["bias"]["realized"] == pytest.approx(error.mean()) and biased["bias"]["estimated"] is None
    assert biased["bias"]["outside_band"] is True and biased["mae"]["label_coverage"] == 1.0
    assert rows[DAYS[7]].overall("bias")["outside_band"] is False  # an ordinary day after the baseline
    assert set(rows[BIASED].frame["metric"]) == {"mae", "rmse", "bias"}
