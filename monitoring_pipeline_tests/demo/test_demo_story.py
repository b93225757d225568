"""The demo tells the story README promises: each scripted incident is found when it starts, and quiet
columns stay quiet on every day (run through the pipeline steps on the full 60-day demo lake)."""

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
import yaml

from monitoring_pipeline import steps
from monitoring_pipeline.core.config import ProjectConfig, parse_config
from monitoring_pipeline.demo.generator import demo_days
from monitoring_pipeline.demo.lake import build_demo_lake
from monitoring_pipeline.io import delta
from monitoring_pipeline.io.config_file import DEFAULT_CONFIG
from monitoring_pipeline.registry import audit_log

NOW = datetime(2026, 11, 25, tzinfo=UTC)
BURST_DAY = date(2026, 10, 6)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> tuple[ProjectConfig, pl.DataFrame]:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["lake"]["root"] = str(tmp_path_factory.mktemp("story") / "lake")
    config = parse_config(raw)
    build_demo_lake(config, progress=lambda _: None)
    frames = []
    for model in config.models.values():
        steps.freeze_model_bins(config, model, NOW)
        for day in demo_days():
            steps.guard_day(config, model, day, NOW)
            steps.profile_day(config, model, day)
        frames += [steps.drift_day(config, model, day).frame for day in demo_days()]
    return config, pl.concat(frames).select("model_name", "day", "column", "verdict").unique()


@pytest.fixture(scope="module")
def verdicts(story: tuple[ProjectConfig, pl.DataFrame]) -> pl.DataFrame:
    return story[1]


def _days(verdicts: pl.DataFrame, model: str, column: str, verdict: str) -> list[date]:
    rows = verdicts.filter(
        (pl.col("model_name") == model) & (pl.col("column") == column) & (pl.col("verdict") == verdict)
    )
    return sorted(rows["day"].to_list())


def test_gradual_income_drift_warns_then_drifts(verdicts: pl.DataFrame) -> None:
    warned, drifted = (
        _days(verdicts, "credit_risk", "income", "warn"),
        _days(verdicts, "credit_risk", "income", "drift"),
    )
    assert date(2026, 10, 5) <= warned[0] <= date(2026, 10, 12)
    assert date(2026, 10, 14) <= drifted[0] <= date(2026, 10, 21)
    assert drifted[-1] == date(2026, 10, 30)


def test_category_mix_change_drifts_from_its_first_day(verdicts: pl.DataFrame) -> None:
    drifted = _days(verdicts, "credit_risk", "channel", "drift")
    assert drifted == [d for d in demo_days() if d >= date(2026, 10, 11)]


def test_model_release_moves_the_score(verdicts: pl.DataFrame) -> None:
    assert _days(verdicts, "credit_risk", "score", "drift")[0] in (date(2026, 10, 16), date(2026, 10, 17))
    assert not [d for d in _days(verdicts, "credit_risk", "score", "drift") if d < date(2026, 10, 16)]


def test_prompt_release_moves_output_length_and_depth(verdicts: pl.DataFrame) -> None:
    for column in ("output_chars", "output_tokens", "json_depth", "prompt_chars"):
        assert _days(verdicts, "support_summarizer", column, "drift") == [
            d for d in demo_days() if d >= date(2026, 10, 21)
        ]


def test_guard_burst_is_quarantined_with_its_reasons(story: tuple[ProjectConfig, pl.DataFrame]) -> None:
    config, verdicts = story
    model = config.model("support_summarizer")
    quarantined = delta.scan(audit_log.lake_of(config).table(steps.quarantine_table(model))).collect()
    per_day = dict(quarantined.group_by("day").len().iter_rows())
    burst = per_day.pop(BURST_DAY)
    assert burst > 4 * max(per_day.values())  # elsewhere only the 0.5% malformed JSON is held back
    reasons = quarantined.filter(pl.col("day") == BURST_DAY)["guard_reasons"].explode()
    found = set(reasons.str.extract(r"^([a-z_]+):")) - {None}
    assert {"no_special_tokens", "no_runaway_repetition", "clean_characters", "summary_json"} <= found
    raised = verdicts.filter(pl.col("column").str.starts_with("guard_") & (pl.col("verdict") != "ok"))
    assert set(raised["day"]) == {BURST_DAY}  # the failure rates are drift-monitored too


def test_quiet_columns_stay_quiet_every_day(verdicts: pl.DataFrame) -> None:
    incident_columns = {"income", "channel", "score", "prediction", "prompt_version"} | {
        "output_chars",
        "output_tokens",
        "json_depth",
        "prompt_chars",
        "prompt_tokens",
    }
    is_burst = pl.col("column").str.starts_with("guard_") & (pl.col("day") == BURST_DAY)
    noisy = verdicts.filter(~pl.col("column").is_in(incident_columns) & ~is_burst & (pl.col("verdict") != "ok"))
    assert noisy.is_empty(), noisy.sort("day").head(10)


def test_story_table_is_documented_in_readme() -> None:
    readme = (Path(DEFAULT_CONFIG).parent / "README.md").read_text()
    for phrase in (
        "gradual drift: `income`",
        "category-mix change: `channel`",
        "model release 1.0 -> 1.1",
        "prompt-template release v1 -> v2",
    ):
        assert phrase in readme
