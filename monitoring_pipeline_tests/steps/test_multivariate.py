"""The reconstruction-error signal through the pipeline steps: fitted with the bins, profiled as an input, and
the only column that drifts when a correlation breaks while every feature's own distribution stays put."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from monitoring_pipeline.core.config import ConfigError, ProjectConfig, parse_config
from monitoring_pipeline.core.drift.multivariate import RECONSTRUCTION_ERROR
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.steps.bins import freeze_model_bins, load_reconstruction
from monitoring_pipeline.steps.drift import drift_day
from monitoring_pipeline.steps.guards import guard_day
from monitoring_pipeline.steps.profiles import profile_day, read_profiles

DAYS = [date(2026, 9, 1) + timedelta(days=i) for i in range(10)]
BROKEN = DAYS[8:]  # from here y no longer follows x (same marginals)
NOW = datetime(2026, 10, 1, tzinfo=UTC)


def _config(root: Path, multivariate: object = True) -> ProjectConfig:
    return parse_config(
        {
            "lake": {"root": str(root)},
            "models": {
                "joint": {
                    "log_table": "logs/joint",
                    "start_date": DAYS[0],
                    "baseline": {"start": DAYS[0], "end": DAYS[6]},
                    "reference": {"kind": "fixed", "start": DAYS[0], "end": DAYS[6]},
                    "features": {"numeric": ["x", "y", "z"]},
                    "outputs": {"numeric": ["score"]},
                    "multivariate": multivariate,
                }
            },
        }
    )


def _day(day: date, n: int = 3_000) -> pl.DataFrame:
    rng = np.random.default_rng(day.toordinal())
    x = rng.normal(size=n)
    y = 0.9 * x + rng.normal(0, np.sqrt(1 - 0.81), n) if day not in BROKEN else rng.normal(size=n)
    start = datetime.combine(day, datetime.min.time(), UTC)
    return pl.DataFrame(
        {
            "prediction_id": [f"j-{day}-{i}" for i in range(n)],
            "model_name": "joint",
            "model_version": "1",
            "event_ts": [start + timedelta(seconds=20 * i) for i in range(n)],
            "x": x,
            "y": y,
            "z": rng.normal(size=n),
            "score": rng.uniform(size=n),
        }
    )


@pytest.fixture
def config(tmp_path: Path) -> ProjectConfig:
    config = _config(tmp_path / "lake")
    delta.overwrite(catalog.log_table(config, config.model("joint")), pl.concat([_day(d) for d in DAYS]))
    return config


def test_a_broken_correlation_drifts_only_the_reconstruction_error(config: ProjectConfig) -> None:
    model = config.model("joint")
    frozen = freeze_model_bins(config, model, NOW)
    assert frozen.reconstruction.columns == ("x", "y", "z") and RECONSTRUCTION_ERROR in frozen.bins
    assert load_reconstruction(config, model).to_json() == frozen.reconstruction.to_json()
    verdicts = {}
    for day in DAYS:
        guard_day(config, model, day, NOW)
        profile_day(config, model, day)
    for day in DAYS:
        report = drift_day(config, model, day).frame.filter(pl.col("decisive"))
        verdicts[day] = dict(report.group_by("column").agg(pl.col("verdict").first()).iter_rows())
    profile = read_profiles(config, model, [DAYS[0]]).filter(pl.col("column") == RECONSTRUCTION_ERROR)
    assert profile["role"].to_list() == ["multivariate"] and profile["n_rows"].item() == 3_000
    for day in DAYS:
        assert {verdicts[day][c] for c in ("x", "y", "z", "score")} == {"ok"}, day
        assert verdicts[day][RECONSTRUCTION_ERROR] == ("drift" if day in BROKEN else "ok"), day


def test_multivariate_settings_are_checked() -> None:
    assert _config(Path("lake"), {"columns": ["x", "y"], "explained": 0.8}).model("joint").multivariate.explained == 0.8
    with pytest.raises(ConfigError, match=r"models.joint.multivariate.columns: \['score'\] are not numeric features"):
        _config(Path("lake"), {"columns": ["x", "score"]})
    with pytest.raises(ConfigError, match=r"models.joint.multivariate.explained: expected a share between 0 and 1"):
        _config(Path("lake"), {"explained": 1.5})
