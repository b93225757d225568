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


def _day(day: date, n: int = 2_000, shift: float = 0.0, hetero: bool = False) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A day of forecasts; `hetero`: the noise grows with x (so a day of larger x has larger errors)."""
    rng = np.random.default_rng(day.toordinal())
    x = rng.normal(10 + shift, 2, n)
    truth = 3 * x + rng.normal(0, 1, n) * (np.clip(0.4 * (x - 6), 0.1, None) if hetero else 1.0)
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


def test_a_regressor_s_error_is_estimated_before_its_labels_and_the_estimate_judged_once_they_land(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path / "lake")
    model = config.model("demand")
    shifted = DAYS[8]  # x moves into the region where the model errs more; its labels land two days later
    days = [_day(d, shift=3.0 if d == shifted else 0.0, hetero=True) for d in DAYS]
    delta.overwrite(catalog.log_table(config, model), pl.concat([log for log, _ in days]))
    delta.overwrite(catalog.label_table(config, model), pl.concat([labels for _, labels in days]))
    for day in DAYS:
        guard_day(config, model, day, NOW)
    log, labels = days[8]
    true_mae = float(np.abs(log["forecast"].to_numpy() - labels["units"].to_numpy()).mean())
    morning = datetime.combine(shifted, datetime.min.time(), UTC) + timedelta(hours=23)  # no label yet
    before = performance_day(config, model, shifted, morning).overall("mae")
    assert before["realized"] is None and before["label_coverage"] == 0.0
    ordinary = performance_day(config, model, DAYS[7], NOW).overall("mae")
    assert before["estimated"] > ordinary["band_high"]  # the estimate alone says the day is worse
    assert before["estimated"] == pytest.approx(true_mae, rel=0.1)
    after = performance_day(config, model, shifted, NOW).overall("mae")  # the labels are in
    assert after["realized"] == pytest.approx(true_mae) and after["outside_band"] is True
    # the estimate's own error, judged against the baseline's: beyond the reference's largest x the model keeps its
    # last bin's error (no extrapolation), so here it falls short by ~8% and that is an alarm of its own
    assert after["estimation_error"] == pytest.approx(before["estimated"] - true_mae)
    assert isinstance(after["estimation_alarm"], bool)
    assert performance_day(config, model, DAYS[7], NOW).overall("mae")["estimation_alarm"] is False
    stored = delta.scan(catalog.table(config, catalog.PERFORMANCE_REFERENCE)).collect()
    assert stored["loss_model"].str.contains('"numeric"').all()  # kept for the next run
