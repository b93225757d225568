"""Drift thresholds learned from the reference days' own noise: a column whose level wanders from day to day
raises fixed-threshold alarms on quiet days; with `band_k` it raises far fewer and still catches a real shift.
Days are judged again from the stored profiles under a what-if config, writing nothing."""

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from polars.testing import assert_frame_equal

from monitoring_pipeline.cli import main
from monitoring_pipeline.core.config import ConfigError, ProjectConfig, parse_config
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.steps.bins import freeze_model_bins
from monitoring_pipeline.steps.drift import drift_day, rejudge
from monitoring_pipeline.steps.guards import guard_day
from monitoring_pipeline.steps.profiles import profile_day

DAYS = [date(2026, 9, 1) + timedelta(days=i) for i in range(24)]
BASELINE = DAYS[:14]
SHIFTED = DAYS[-1]  # the level jumps by 1.5 (five times its usual day-to-day wander)
NOW = datetime(2026, 10, 1, tzinfo=UTC)
FIXED = {"calibrate": False}  # the registry's fixed thresholds, as before calibration existed


def _model(drift: dict) -> dict:
    window = {"start": BASELINE[0], "end": BASELINE[-1]}
    return {
        "log_table": "logs/wander",
        "start_date": DAYS[0],
        "baseline": window,
        "reference": {"kind": "fixed", **window},
        "features": {"numeric": ["load"]},
        "outputs": {"numeric": ["score"]},
        "drift": {"defaults": drift},
    }


def _config(root: Path, drift: dict) -> ProjectConfig:
    return parse_config({"lake": {"root": str(root)}, "models": {"wander": _model(drift)}})


def _day(day: date, n: int = 3_000) -> pl.DataFrame:
    rng = np.random.default_rng(day.toordinal())
    level = rng.normal(0, 0.3) + (1.5 if day == SHIFTED else 0.0)
    return _log_day(day, rng, level, n, "w", seconds_apart=25)


def _log_day(
    day: date, rng: np.random.Generator, level: float, n: int, prefix: str, seconds_apart: int
) -> pl.DataFrame:
    """One day of the `wander` model's log: `load` around `level`, a uniform score."""
    start = datetime.combine(day, datetime.min.time(), UTC)
    return pl.DataFrame(
        {
            "prediction_id": [f"{prefix}-{day}-{i}" for i in range(n)],
            "model_name": "wander",
            "model_version": "1",
            "event_ts": [start + timedelta(seconds=seconds_apart * i) for i in range(n)],
            "load": rng.normal(level, 1, n),
            "score": rng.uniform(size=n),
        }
    )


def _profiled(config: ProjectConfig, days: list[date], log_day: Callable[[date], pl.DataFrame]) -> None:
    """The `wander` model's log of `days` (written once per lake), its bins frozen and every day profiled."""
    model = config.model("wander")
    if not delta.exists(catalog.log_table(config, model)):
        delta.overwrite(catalog.log_table(config, model), pl.concat([log_day(d) for d in days]))
    freeze_model_bins(config, model, NOW)
    for day in days:
        guard_day(config, model, day, NOW)
        profile_day(config, model, day)


def _verdicts(root: Path, drift: dict) -> dict[date, str]:
    config = _config(root, drift)
    model = config.model("wander")
    _profiled(config, DAYS, _day)
    verdicts = {}
    for day in DAYS[len(BASELINE) :]:
        frame = drift_day(config, model, day).frame
        verdicts[day] = frame.filter(pl.col("column") == "load")["verdict"][0]
    return verdicts


def test_a_band_quiets_a_wandering_column_and_still_sees_a_real_shift(tmp_path: Path) -> None:
    fixed = _verdicts(tmp_path / "lake", FIXED)
    banded = _verdicts(tmp_path / "lake", {"band_k": 3})
    calibrated = _verdicts(tmp_path / "lake", {})
    quiet_days = [d for d in fixed if d != SHIFTED]

    def count(verdicts: dict[date, str], *kinds: str) -> int:
        return sum(verdicts[d] in kinds for d in quiet_days)

    assert count(fixed, "drift") >= 3  # fixed thresholds cry wolf on the column's ordinary wander
    assert count(banded, "drift") <= 1 and count(banded, "warn", "drift") < count(fixed, "warn", "drift")
    assert fixed[SHIFTED] == banded[SHIFTED] == calibrated[SHIFTED] == "drift"
    assert count(calibrated, "drift") <= 1  # the default calibration quiets the wander too
    config = _config(tmp_path / "lake", {"band_k": 3})
    report = drift_day(config, config.model("wander"), SHIFTED)
    psi = report.frame.filter((pl.col("column") == "load") & (pl.col("method") == "psi"))
    assert psi["threshold"][0] != 0.25  # the learned threshold, not the fixed default


def test_band_k_must_exceed_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"models.wander.drift.defaults.band_k .*: expected a number above 1, got 1"):
        _config(tmp_path, {"band_k": 1})


def test_days_are_judged_again_from_stored_profiles_under_a_what_if_config(tmp_path: Path, capsys) -> None:
    fixed = _verdicts(tmp_path / "lake", FIXED)  # the stored reports, under fixed thresholds
    config = _config(tmp_path / "lake", FIXED)
    report_table = catalog.table(config, catalog.DRIFT_REPORT)
    stored, version = delta.scan(report_table).collect(), delta.version(report_table)
    judged, skipped = rejudge(config, config.model("wander"), DAYS[len(BASELINE)], DAYS[-1])
    keys = ["day", "column", "method"]
    assert_frame_equal(judged.sort(keys), stored.select(judged.columns).sort(keys))  # the same settings, the same rows
    assert skipped == []

    what_if = tmp_path / "what_if.yaml"
    raw = {"lake": {"root": str(tmp_path / "lake")}, "models": {"wander": _model({"band_k": 3})}}
    what_if.write_text(yaml.safe_dump(raw))
    judge_again = [
        "drift",
        "--model",
        "wander",
        "--from",
        str(DAYS[0]),
        "--to",
        str(DAYS[-1]),
        "--config",
        str(what_if),
    ]
    main(judge_again)
    main([*judge_again, "--format", "json", "--output", str(tmp_path / "counts.json")])
    counts = {row["column"]: row for row in json.loads((tmp_path / "counts.json").read_text())}
    fixed_drift_days = sum(v == "drift" for v in fixed.values())
    assert counts["load"]["days"] == len(DAYS)  # the baseline days too: they have profiles
    assert 1 <= counts["load"].get("drift", 0) < fixed_drift_days  # the band quiets the wander, still sees the shift
    assert delta.version(report_table) == version  # nothing written
    assert "load" in capsys.readouterr().out


def test_judging_again_needs_a_range(tmp_path: Path) -> None:
    config_path = tmp_path / "monitoring.yaml"
    config_path.write_text(yaml.safe_dump({"lake": {"root": str(tmp_path)}, "models": {"wander": _model({})}}))
    with pytest.raises(SystemExit, match="--model needs --from and --to"):
        main(["drift", "--model", "wander", "--from", str(DAYS[1]), "--config", str(config_path)])
    with pytest.raises(SystemExit, match="no frozen bins for model wander"):
        main(["drift", "--model", "wander", "--from", str(DAYS[0]), "--to", str(DAYS[1]), "--config", str(config_path)])


SEASON = DAYS[-3:]  # a new season: the level leaves the range of every reference day and stays out


def _regime_day(day: date, n: int = 2_000) -> pl.DataFrame:
    """Each day has its own regime (the day's weather): its level is far from other days' in within-day units."""
    rng = np.random.default_rng(day.toordinal() + 7)
    level = rng.normal(0, 2.0) + (12.0 if day in SEASON else 0.0)
    return _log_day(day, rng, level, n, "r", seconds_apart=40)


def test_calibrated_on_how_days_differ_in_sample_days_stay_quiet_and_a_new_season_drifts(tmp_path: Path) -> None:
    config = _config(tmp_path / "lake", {})
    model = config.model("wander")
    _profiled(config, DAYS, _regime_day)

    def verdicts(calibrate: bool) -> dict[date, str]:
        what_if = _config(tmp_path / "lake", {"calibrate": calibrate})
        frame, _ = rejudge(what_if, what_if.model("wander"), DAYS[0], DAYS[-1])
        return dict(frame.filter(pl.col("column") == "load").select("day", "verdict").unique().iter_rows())

    fixed, calibrated = verdicts(False), verdicts(True)
    in_sample = BASELINE

    def drifted(judged: dict[date, str], days: list[date]) -> int:
        return sum(judged[d] == "drift" for d in days)

    assert drifted(fixed, in_sample) >= len(in_sample) - 2  # fixed thresholds: every ordinary day is "drift"
    assert drifted(calibrated, in_sample) == 0  # calibrated: a training day never drifts
    assert all(calibrated[d] == "drift" for d in SEASON)  # the new season is told apart from an ordinary day
    ordinary_later = [d for d in DAYS if d not in BASELINE and d not in SEASON]
    assert drifted(calibrated, ordinary_later) <= 1
    psi = rejudge(config, model, SEASON[0], SEASON[0])[0].filter(pl.col("column") == "load")
    deciding = psi.filter(pl.col("decisive"))["method"].to_list()
    assert "wasserstein_norm" in deciding  # the effect that keeps growing with the shift decides here


def test_a_threshold_a_statistic_cannot_reach_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"defaults.thresholds.ks.drift: 1.2 is more than ks can ever be \(1\)"):
        _config(tmp_path, {"thresholds": {"ks": {"warn": 0.5, "drift": 1.2}}})


TRAINING = [date(2026, 6, 1) + timedelta(days=i) for i in range(42)]  # six blocks of 7 days to calibrate on
ORDINARY_LATER = [TRAINING[-1] + timedelta(days=i) for i in range(1, 8)]
SLOW_SHIFT = [ORDINARY_LATER[-1] + timedelta(days=i) for i in range(1, 8)]  # the level moves up 0.6, and stays


def _slow_day(day: date, n: int = 1_500) -> pl.DataFrame:
    """Days wander (level sd 0.5 of the within-day spread); from SLOW_SHIFT on, every day sits 0.6 higher."""
    rng = np.random.default_rng(day.toordinal() + 11)
    level = rng.normal(0, 0.5) + (0.6 if day in SLOW_SHIFT else 0.0)
    return _log_day(day, rng, level, n, "s", seconds_apart=50)


def test_a_rolling_window_adds_up_a_shift_no_single_day_shows(tmp_path: Path) -> None:
    days = [*TRAINING, *ORDINARY_LATER, *SLOW_SHIFT]
    window = {"start": TRAINING[0], "end": TRAINING[-1]}
    model = {**_model({}), "start_date": days[0], "baseline": window, "reference": {"kind": "fixed", **window}}
    config = parse_config({"lake": {"root": str(tmp_path / "lake")}, "models": {"wander": model}})
    spec = config.model("wander")
    _profiled(config, days, _slow_day)
    frame, _ = rejudge(config, spec, days[0], days[-1])
    load = frame.filter(pl.col("column") == "load").select("day", "verdict", "window_verdict", "window_start").unique()
    by_day = {row["day"]: row for row in load.iter_rows(named=True)}

    assert all(by_day[d]["window_verdict"] is None for d in TRAINING)  # in-sample: no window over training days
    assert sum(by_day[d]["verdict"] == "drift" for d in [*TRAINING, *ORDINARY_LATER]) == 0  # ordinary days: quiet
    assert sum(by_day[d]["verdict"] == "drift" for d in SLOW_SHIFT) <= 3  # most shifted days hide in the wander
    assert by_day[ORDINARY_LATER[-1]]["window_verdict"] == "ok"  # the first full window after training is ordinary
    assert by_day[ORDINARY_LATER[-1]]["window_start"] == ORDINARY_LATER[0]
    assert all(by_day[d]["window_verdict"] == "drift" for d in SLOW_SHIFT[2:])  # the shifted days add up

    stored = drift_day(config, spec, SLOW_SHIFT[-1]).frame.filter(pl.col("column") == "load")
    assert stored["window_verdict"][0] == "drift"  # the nightly step stores what rejudge computes
    days_only = parse_config(
        {"lake": {"root": str(tmp_path / "lake")}, "models": {"wander": {**model, "drift": {"window_days": 0}}}}
    )
    frame, _ = rejudge(days_only, days_only.model("wander"), SLOW_SHIFT[-1], SLOW_SHIFT[-1])
    assert frame["window_verdict"].is_null().all()


def test_a_window_of_one_day_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"models.wander.drift.window_days: expected 0 \(days only\) or 2 days"):
        parse_config(
            {"lake": {"root": str(tmp_path)}, "models": {"wander": {**_model({}), "drift": {"window_days": 1}}}}
        )


def _site_day(day: date, n: int = 2_000) -> pl.DataFrame:
    rng = np.random.default_rng(day.toordinal())
    frame = _log_day(day, rng, rng.normal(0, 0.3), n, "s", seconds_apart=40)
    return frame.with_columns(pl.Series("site", rng.choice(["north", "south"], n)))


def test_segments_learn_their_settings_once_and_a_fresh_process_reads_them(tmp_path: Path, monkeypatch) -> None:
    from monitoring_pipeline.steps import drift

    raw = _model({}) | {"features": {"numeric": ["load"], "categorical": ["site"]}, "segments": ["site"]}
    config = parse_config({"lake": {"root": str(tmp_path)}, "models": {"wander": raw}})
    model = config.model("wander")
    _profiled(config, DAYS, _site_day)
    learned, real = [], drift._learned_settings
    monkeypatch.setattr(drift, "_learned_settings", lambda *args: learned.append(args) or real(*args))
    first = drift_day(config, model, DAYS[20]).segments
    stored = delta.scan(catalog.table(config, catalog.SEGMENT_SETTINGS)).collect()
    assert sorted(stored["segment_value"]) == ["north", "south"] and len(learned) == 1 + 2  # the model, each segment
    learned.clear()
    version = delta.version(catalog.table(config, catalog.SEGMENT_SETTINGS))
    again = drift_day(config, model, DAYS[20]).segments  # as a fresh process would: the stored ones are read
    assert len(learned) == 1 and delta.version(catalog.table(config, catalog.SEGMENT_SETTINGS)) == version
    assert_frame_equal(again, first)
    other = parse_config(
        {"lake": {"root": str(tmp_path)}, "models": {"wander": raw | {"drift": {"defaults": {"alpha": 0.01}}}}}
    )
    learned.clear()
    drift_day(other, other.model("wander"), DAYS[20])  # another drift config: its segments learn again
    assert len(learned) == 1 + 2
