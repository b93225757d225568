"""The pipeline steps on a real temp lake, without Dagster: contract errors, empty days, windows."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from monitoring_pipeline.core.config import ProjectConfig, ReferenceWindow
from monitoring_pipeline.core.contract import ContractError
from monitoring_pipeline.demo.generator import llm_day
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.registry import audit_log
from monitoring_pipeline.steps.bins import MissingReferenceBins, freeze_model_bins
from monitoring_pipeline.steps.drift import drift_day
from monitoring_pipeline.steps.guards import guard_day
from monitoring_pipeline.steps.log import check_log_day
from monitoring_pipeline.steps.profiles import profile_day, read_profiles

NOW = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = [date(2026, 9, 1) + timedelta(days=i) for i in range(8)]


@pytest.fixture
def lake(demo_config: ProjectConfig) -> ProjectConfig:
    """support_summarizer logs for 8 days, with 2026-09-05 left empty."""
    frame = pl.concat([llm_day(day, 300) for day in DAYS if day != date(2026, 9, 5)])
    delta.overwrite(catalog.log_table(demo_config, demo_config.model("support_summarizer")), frame)
    return demo_config


def _model(config: ProjectConfig, reference: ReferenceWindow):
    from dataclasses import replace

    model = config.model("support_summarizer")
    return replace(model, baseline=ReferenceWindow("fixed", DAYS[0], DAYS[2]), reference=reference)


def test_empty_day_is_profiled_as_empty_and_judged_no_data(lake: ProjectConfig) -> None:
    model = _model(lake, ReferenceWindow("rolling", days=3))
    freeze_model_bins(lake, model, NOW)
    for day in DAYS:
        guard_day(lake, model, day, NOW)
        profile_day(lake, model, day)
    empty = read_profiles(lake, model, [date(2026, 9, 5)])
    assert empty.height == len(model.columns) and empty["n_rows"].sum() == 0
    verdicts = set(drift_day(lake, model, date(2026, 9, 5)).frame["verdict"])
    assert verdicts == {"no_data"}
    after = drift_day(lake, model, date(2026, 9, 6))  # its rolling window holds the empty day
    assert after.reference_days_found == [date(2026, 9, 3), date(2026, 9, 4), date(2026, 9, 5)]
    assert set(after.frame["verdict"]) == {"ok"}


def test_first_day_of_a_rolling_window_has_no_reference(lake: ProjectConfig) -> None:
    model = _model(lake, ReferenceWindow("rolling", days=7))
    freeze_model_bins(lake, model, NOW)
    guard_day(lake, model, DAYS[0], NOW)
    profile_day(lake, model, DAYS[0])
    result = drift_day(lake, model, DAYS[0])
    assert result.reference_days == [] and set(result.frame["verdict"]) == {"no_reference"}


def test_naive_timestamps_in_the_log_stop_the_read_naming_table_and_column(demo_config: ProjectConfig) -> None:
    model = demo_config.model("support_summarizer")
    frame = llm_day(DAYS[0], 50).with_columns(pl.col("event_ts").dt.replace_time_zone(None))
    table = catalog.log_table(demo_config, model)
    delta.overwrite(table, frame)
    with pytest.raises(ContractError, match=rf"table {table.uri}: column 'event_ts': timestamps are naive") as raised:
        check_log_day(demo_config, model, DAYS[0], NOW)
    assert raised.value.example["prediction_id"].startswith("ss-")
    assert not delta.exists(catalog.table(demo_config, catalog.LOG_REJECTS))  # nothing half-written


def test_drift_before_bins_are_frozen_says_what_to_run(lake: ProjectConfig) -> None:
    with pytest.raises(MissingReferenceBins, match="materialize support_summarizer/reference_bins first"):
        profile_day(lake, lake.model("support_summarizer"), DAYS[0])


def test_adding_a_guard_rule_evolves_the_validated_and_quarantine_tables(lake: ProjectConfig) -> None:
    from dataclasses import replace

    from monitoring_pipeline.core.config import GuardSettings
    from monitoring_pipeline.core.guards.rules import GuardRule, Severity

    model = lake.model("support_summarizer")
    guard_day(lake, model, DAYS[0], NOW)
    extra = GuardRule("short_outputs", 1, Severity.BLOCK, "length", "output_text", {"max_chars": 150})
    grown = replace(model, guards=GuardSettings((*model.guards.rules, extra), 1.0))
    result = guard_day(lake, grown, DAYS[1], NOW)
    assert result.result.quarantined.height > 0
    validated = delta.scan(catalog.table(lake, catalog.validated_table(model))).collect()
    flags = validated.group_by("day").agg(pl.col("guard_short_outputs").null_count().alias("nulls"), pl.len())
    by_day = {row["day"]: (row["nulls"], row["len"]) for row in flags.iter_rows(named=True)}
    assert by_day[DAYS[0]][0] == by_day[DAYS[0]][1]  # older partition: the new flag reads as null
    assert by_day[DAYS[1]][0] == 0
    guard_day(lake, model, DAYS[1], NOW)  # and dropping the rule again still writes


def test_audit_entries_pin_delta_commits_and_a_rewritten_commit_is_caught(lake: ProjectConfig) -> None:
    model = lake.model("support_summarizer")
    guard_day(lake, model, DAYS[0], NOW)
    verdicts = catalog.GUARD_VERDICTS
    first = audit_log.audit(
        lake, actor="cli:ana", action="materialize", subject="v", payload={"n": 1}, now=NOW, data_table=verdicts
    )
    second = audit_log.audit(lake, actor="cli:ana", action="release", subject="p1", payload={"why": "ok"}, now=NOW)
    assert (first.seq, second.seq) == (0, 1) and first.commit_sha256 and second.prev_hash == first.entry_hash
    assert audit_log.verify_audit(lake).ok
    commit = Path(catalog.table(lake, verdicts).uri) / "_delta_log" / f"{first.data_version:020d}.json"
    commit.write_text(commit.read_text().replace("guard_verdicts", "guard_verdictz", 1) + "\n")
    result = audit_log.verify_audit(lake)
    assert not result.ok and result.first_bad_seq == 0 and "no longer matches" in result.problem


def test_the_active_feature_definition_computes_the_feature_and_is_recorded(lake: ProjectConfig) -> None:
    from monitoring_pipeline.registry import definitions

    model = _model(lake, ReferenceWindow("rolling", days=3))
    name, at = model.name, lambda day: delta.day_bounds(day)[0]
    definitions.propose(lake, "feature", name, "ticket_length", {"source": "ticket_length"}, "v1", "ana", NOW)
    definitions.approve(lake, "feature", name, "ticket_length", 1, "ok", "bob", NOW, at(DAYS[0]))
    doubled = {"expression": "ticket_length * 2"}
    definitions.propose(lake, "feature", name, "ticket_length", doubled, "now in bytes", "ana", NOW)
    definitions.approve(lake, "feature", name, "ticket_length", 2, "ok", "bob", NOW, at(DAYS[6]))
    freeze_model_bins(lake, model, NOW)
    for day in DAYS:
        guard_day(lake, model, day, NOW)
        profile_day(lake, model, day)
    validated = catalog.table(lake, catalog.validated_table(model))
    for day, version, factor in ((DAYS[3], 1, 1), (DAYS[6], 2, 2)):
        profile = read_profiles(lake, model, [day]).filter(pl.col("column") == "ticket_length").row(0, named=True)
        day_rows = delta.scan(validated).filter(pl.col("day") == day)
        logged = day_rows.select(pl.col("ticket_length").mean()).collect().item()
        assert profile["definition_version"] == version
        assert profile["mean"] == pytest.approx(factor * logged)
    drift = drift_day(lake, model, DAYS[6])
    row = drift.frame.filter((pl.col("column") == "ticket_length") & pl.col("decisive")).row(0, named=True)
    assert (row["definition_version"], row["verdict"]) == (2, "drift")  # the definition change shows as drift
    assert drift.definition_versions == {"ticket_length": 2}


def test_an_audit_entry_pins_the_commit_its_action_wrote_not_a_later_one(lake: ProjectConfig) -> None:
    model = lake.model("support_summarizer")
    mine = guard_day(lake, model, DAYS[0], NOW).written
    later = guard_day(lake, model, DAYS[1], NOW).written  # another writer's commit lands first
    entry = audit_log.audit(
        lake,
        actor="x",
        action="materialize",
        subject="s",
        payload={},
        now=NOW,
        data_table=catalog.GUARD_VERDICTS,
        data_version=mine,
    )
    table = catalog.table(lake, catalog.GUARD_VERDICTS)
    assert later > mine and entry.data_version == mine
    assert entry.commit_sha256 == audit_log.commit_sha256(table, mine) != audit_log.commit_sha256(table, later)


def test_text_drift_is_quiet_on_an_ordinary_day_and_fires_on_the_prompt_release(demo_config: ProjectConfig) -> None:
    from dataclasses import replace

    released, quiet = date(2026, 10, 21), DAYS[7]
    days = [*DAYS, released]
    delta.overwrite(
        catalog.log_table(demo_config, demo_config.model("support_summarizer")),
        pl.concat([llm_day(day, 300) for day in days]),
    )
    window = ReferenceWindow("fixed", DAYS[0], DAYS[6])
    model = replace(demo_config.model("support_summarizer"), baseline=window, reference=window)
    freeze_model_bins(demo_config, model, NOW)
    for day in days:
        guard_day(demo_config, model, day, NOW)
        profile_day(demo_config, model, day)
    texts = {"output_text", "prompt_text"}
    for day, verdict in ((quiet, "ok"), (released, "drift")):
        result = drift_day(demo_config, model, day)
        rows = result.frame.filter(pl.col("method") == "ngram_mmd")
        assert set(rows["column"]) == texts and set(rows["verdict"]) == {verdict}, rows
        assert rows["threshold"].min() >= 0.01 and rows["n_current"].min() > 100
        assert set(result.verdicts.filter(pl.col("kind") == "text")["verdict"]) == {verdict}  # feeds output_drift
    stored = delta.scan(catalog.table(demo_config, catalog.TEXT_DRIFT)).collect()
    assert set(stored["day"]) == {released} and set(stored["column"]) == texts
    assert "analysis" in stored.filter(pl.col("column") == "output_text")["ngram"].to_list()
