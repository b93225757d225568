"""The demo tells the story README promises: each scripted incident is found when it starts, and quiet
columns stay quiet on every day (run through the pipeline steps on the full 60-day demo lake)."""

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
import yaml

from monitoring_pipeline.core.config import ProjectConfig, parse_config
from monitoring_pipeline.core.drift.multivariate import RECONSTRUCTION_ERROR
from monitoring_pipeline.demo.generator import demo_days
from monitoring_pipeline.demo.lake import build_demo_lake, deliver_labels, staged_label_feed
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.config_file import DEFAULT_CONFIG
from monitoring_pipeline.review.changes import changes
from monitoring_pipeline.steps.bins import freeze_model_bins
from monitoring_pipeline.steps.drift import drift_day
from monitoring_pipeline.steps.guards import guard_day
from monitoring_pipeline.steps.performance import performance_day, performance_series
from monitoring_pipeline.steps.profiles import profile_day
from monitoring_pipeline.viz.report import ngram_table, segment_table

NOW = datetime(2026, 11, 25, tzinfo=UTC)
BURST_DAY = date(2026, 10, 6)
SEGMENT_DAY = date(2026, 10, 23)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> tuple[ProjectConfig, pl.DataFrame]:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["lake"]["root"] = str(tmp_path_factory.mktemp("story") / "lake")
    config = parse_config(raw)
    build_demo_lake(config, progress=lambda _: None)
    frames = []
    for model in config.models.values():
        freeze_model_bins(config, model, NOW)
        for day in demo_days():
            guard_day(config, model, day, NOW)
            profile_day(config, model, day)
        frames += [drift_day(config, model, day).frame for day in demo_days()]
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


def test_joint_drift_raises_the_reconstruction_error_and_nothing_before_it(verdicts: pl.DataFrame) -> None:
    raised = _days(verdicts, "credit_risk", RECONSTRUCTION_ERROR, "drift")
    assert raised and raised[0] >= date(2026, 10, 1) and raised[-1] == date(2026, 10, 30)
    assert not [d for d in _days(verdicts, "credit_risk", RECONSTRUCTION_ERROR, "warn") if d < date(2026, 10, 1)]
    for follower in ("savings_balance", "monthly_expenses"):  # their own distributions never move
        assert not _days(verdicts, "credit_risk", follower, "warn") + _days(verdicts, "credit_risk", follower, "drift")


def test_silent_regression_is_seen_by_labels_not_by_scores(story: tuple[ProjectConfig, pl.DataFrame]) -> None:
    config, _ = story
    model = config.model("credit_risk")
    staged = delta.scan(staged_label_feed(config, model.name)).select(pl.len()).collect().item()
    assert deliver_labels(config, model.name, NOW) == staged and deliver_labels(config, model.name, NOW) == 0
    days = demo_days()
    series = pl.DataFrame([performance_day(config, model, day, NOW).overall("accuracy") for day in days])
    before = series.filter(pl.col("day").is_between(date(2026, 9, 22), date(2026, 9, 30)))
    regressed = series.filter(pl.col("day").is_between(date(2026, 10, 9), date(2026, 10, 15)))  # before the release
    assert before["outside_band"].not_().all() and regressed["outside_band"].sum() >= 2
    assert regressed["realized"].mean() < before["realized"].mean() - 0.02
    assert abs(regressed["estimated"].mean() - before["estimated"].mean()) < 0.005  # flat scores, flat estimate
    assert regressed["estimation_alarm"].any()  # the estimate's own error gives the concept change away
    cusum = performance_series(config, model, days[0], days[-1]).filter(pl.col("cusum_alarm"))["day"]
    band = series.filter(pl.col("outside_band").fill_null(False) & (pl.col("day") > model.baseline.end))["day"]
    assert date(2026, 10, 1) < cusum.min() < band.min()  # the sequential detector speaks first
    found = changes(config, date(2026, 9, 1), date(2026, 10, 30), model.name)
    (start,) = found.filter(pl.col("kind") == "performance_break")["at"].dt.date().to_list()[:1]
    assert start == cusum.min()  # `changes` places the break where the alarms start


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


def test_text_drift_is_quiet_until_the_prompt_release_and_names_what_changed(
    story: tuple[ProjectConfig, pl.DataFrame],
) -> None:
    config, verdicts = story
    released = [d for d in demo_days() if d >= date(2026, 10, 21)]
    for column in ("output_text", "prompt_text"):  # every other day stays ok, the guard-burst day included
        assert _days(verdicts, "support_summarizer", column, "drift") == released
        assert not _days(verdicts, "support_summarizer", column, "warn")
    explained = delta.scan(catalog.table(config, catalog.TEXT_DRIFT)).collect()
    assert set(explained["day"]) == set(released)
    first = explained.filter(pl.col("day") == released[0], pl.col("column") == "output_text", pl.col("rank") <= 6)
    assert "analysis" in first["ngram"].to_list()  # the v2 template's new section
    shown = ngram_table(config, config.model("support_summarizer"), released[0])  # the report's table
    assert set(shown["column"]) == {"output_text", "prompt_text"} and "analysis" in shown["ngram"].to_list()


def test_guard_burst_is_quarantined_with_its_reasons(story: tuple[ProjectConfig, pl.DataFrame]) -> None:
    config, verdicts = story
    model = config.model("support_summarizer")
    quarantined = delta.scan(catalog.table(config, catalog.quarantine_table(model))).collect()
    per_day = dict(quarantined.group_by("day").len().iter_rows())
    burst = per_day.pop(BURST_DAY)
    assert burst > 4 * max(per_day.values())  # elsewhere only the 0.5% malformed JSON is held back
    reasons = quarantined.filter(pl.col("day") == BURST_DAY)["guard_reasons"].explode()
    found = set(reasons.str.extract(r"^([a-z_]+):")) - {None}
    assert {"no_special_tokens", "no_runaway_repetition", "clean_characters", "summary_json"} <= found
    raised = verdicts.filter(pl.col("column").str.starts_with("guard_") & (pl.col("verdict") != "ok"))
    assert set(raised["day"]) == {BURST_DAY}  # the failure rates are drift-monitored too


def test_quiet_columns_stay_quiet_every_day(verdicts: pl.DataFrame) -> None:
    incident_columns = {"income", RECONSTRUCTION_ERROR, "channel", "score", "prediction", "prompt_version"} | {
        "output_chars",
        "output_tokens",
        "json_depth",
        "prompt_chars",
        "prompt_tokens",
        "output_text",
        "prompt_text",
    }
    is_burst = pl.col("column").str.starts_with("guard_") & (pl.col("day") == BURST_DAY)
    noisy = verdicts.filter(~pl.col("column").is_in(incident_columns) & ~is_burst & (pl.col("verdict") != "ok"))
    assert noisy.is_empty(), noisy.sort("day").head(10)


def test_a_drift_one_segment_carries_is_seen_in_that_segment_while_the_model_stays_quiet(
    story: tuple[ProjectConfig, pl.DataFrame],
) -> None:
    config, verdicts = story
    segments = delta.scan(catalog.table(config, catalog.SEGMENT_DRIFT)).collect()
    carried = segments.filter(pl.col("column") == "debt_to_income", pl.col("verdict") == "drift")
    assert set(carried["segment_value"]) == {"central"} and carried["only_here"].all()
    started = [d for d in demo_days() if d >= SEGMENT_DAY]
    assert sorted(carried["day"]) == started  # every day from the first, in that region alone
    assert not _days(verdicts, "credit_risk", "debt_to_income", "warn")  # the model as a whole stays quiet
    shown = segment_table(config, config.model("credit_risk"), date(2026, 10, 27)).row(0, named=True)  # the report
    assert (shown["segment"], shown["column"], shown["seen"]) == (
        "region = central",
        "debt_to_income",
        "this segment only",
    )
    quiet = segments.filter(pl.col("day") < date(2026, 10, 1), pl.col("verdict") == "drift")  # before any incident
    assert quiet.is_empty(), quiet.select("day", "segment_column", "segment_value", "column", "size")


def test_story_table_is_documented_in_readme() -> None:
    readme = (Path(DEFAULT_CONFIG).parent / "README.md").read_text()
    for phrase in (
        "gradual drift: `income`",
        "category-mix change: `channel`",
        "model release 1.0 -> 1.1",
        "prompt-template release v1 -> v2",
    ):
        assert phrase in readme
