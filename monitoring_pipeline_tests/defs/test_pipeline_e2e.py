"""One full materialization of every asset through Dagster on a temp lake, then what a user checks."""

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from dagster._core.definitions.data_version import CachingStaleStatusResolver
from dagster._core.loader import LoadingContextForTest
from deltalake import DeltaTable
from polars.testing import assert_frame_equal

from monitoring_pipeline.cli import main
from monitoring_pipeline.definitions import build_definitions
from monitoring_pipeline.defs.assets import ARRIVAL_CHECK, DRIFT_CHECK, PERFORMANCE_CHECK, QUARANTINE_CHECK
from monitoring_pipeline.defs.registry import REGISTRY_JOB
from monitoring_pipeline.demo.generator import incident_active
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.config_file import load_config
from monitoring_pipeline.registry import models
from monitoring_pipeline.registry.audit_log import person, read_audit, verify_audit
from monitoring_pipeline.review.changes import changes
from monitoring_pipeline.review.trace import TraceError, to_markdown, trace
from monitoring_pipeline.steps.guards import release
from monitoring_pipeline.steps.performance import performance_series
from monitoring_pipeline_tests.conftest import run_demo_pipeline, write_short_config

START = date(2026, 9, 25)  # demo day 24: the baseline is days 24-37; the channel mix changes on day 40 (10-11)
DAYS = 22


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("e2e")
    config_path = write_short_config(folder, START, DAYS, baseline_days=14)
    instance = run_demo_pipeline(config_path, scale=0.5)
    return config_path, load_config(config_path), instance


def _metadata(instance: dg.DagsterInstance, key: list[str], partition: str) -> dict:
    """The metadata of the latest materialization of one partition."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(key), asset_partitions=[partition]), limit=1
    ).records
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def _table(config, name: str) -> pl.DataFrame:
    return delta.scan(catalog.table(config, name)).collect()


def test_every_partition_of_every_asset_is_materialized(lake) -> None:
    config_path, config, instance = lake
    defs = build_definitions(str(config_path))
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if not node.is_materializable or isinstance(node.partitions_def, dg.DynamicPartitionsDefinition):
            continue  # observed tables (registry, labels), and dossiers (one partition per ticket)
        if key.path[-1] == "reference_bins":
            assert instance.get_latest_materialization_event(key) is not None
        else:
            assert len(instance.get_materialized_partitions(key)) == DAYS, key
    report = _table(config, catalog.DRIFT_REPORT)
    assert report.select("model_name", "day").unique().height == 2 * DAYS
    texts = report.filter(pl.col("method") == "ngram_mmd")  # text drift of the summarizer's output and prompt
    assert texts.group_by("column").agg(pl.col("day").n_unique()).sort("column").rows() == [
        ("output_text", DAYS),
        ("prompt_text", DAYS),
    ]
    assert set(texts.filter(pl.col("day") > START + timedelta(days=13))["verdict"]) == {"ok"}  # after the baseline
    expectations = _table(config, catalog.EXPECTATION_RESULTS)
    assert expectations.select("model_name", "day", "checked_table").unique().height == 2 * 2 * DAYS
    row_counts = expectations.filter(pl.col("expectation") == "expect_table_row_count_to_be_between")
    assert row_counts.height == 2 * 2 * DAYS and set(row_counts["status"]) == {"passed"}
    validated = expectations.filter(pl.col("checked_table") == "validated_predictions")
    assert set(validated["status"]) == {"passed"}  # what downstream reads meets every expectation
    audit = verify_audit(config)
    assert audit.ok and audit.entries >= 2 * 2 * DAYS  # guards and drift_report of each model and day
    subjects = {e.subject for e in read_audit(config)}
    assert "credit_risk/drift_report@2026-10-12" in subjects


def test_the_trace_links_a_prediction_to_its_checkpoint_release_definitions_drift_label_and_runs(lake) -> None:
    _, config, instance = lake
    after_release = datetime(2026, 10, 16, 13, tzinfo=UTC)
    row = _table(config, "logs/credit_risk").filter(pl.col("event_ts") >= after_release).sort("prediction_id").row(0)
    prediction_id = row[0]
    result = trace(config, prediction_id)
    assert result["prediction"]["model_version"] == "1.1" and result["release_matches_prediction"]
    assert result["release_in_force"]["release_id"] == "credit_risk-r2"
    assert result["release_in_force"]["approved_by"] == "bob" and result["release_in_force"]["actor"] == "carol"
    checkpoint = result["model_checkpoint"]
    assert checkpoint["parent_version"] == "1.0" and checkpoint["train_table"] == "logs/credit_risk"
    assert [e["event"] for e in result["lifecycle"]] == ["approved", "deployed"]
    assert result["evaluations"][0]["eval_name"] == "shadow"
    assert result["feature_definitions"]["debt_to_income"] == 2 and result["feature_definitions"]["income"] == 1
    assert result["guards"] == {"placed_in": "validated", "released": False, "failed_rules": []}
    assert result["label"]["prediction_id"] == prediction_id
    drift = {c["column"]: c for c in result["drift"]["columns"]}
    assert drift["channel"]["verdict"] == "drift" and "channel" in result["drift"]["drifted"]
    assert drift["debt_to_income"]["definition_version"] == 2
    assert 0 <= drift["income"]["this_prediction"]["reference_percentile"] <= 100
    runs = {r["subject"]: r for r in result["report_runs"]}
    assert set(runs) == {
        f"credit_risk/{a}@2026-10-16" for a in ("prediction_log", "guards", "profiles", "drift_report", "performance")
    }
    for run in runs.values():
        assert instance.get_run_by_id(run["run"].removeprefix("dagster:run/")).is_success
        assert run["delta_version"] <= delta.version(catalog.table(config, run["table"]))
    text = to_markdown(result)
    assert "credit_risk-r2" in text and "| channel |" in text and "debt_to_income v2" in text
    assert text.count("identities are claims, not verified") == 2  # under the checkpoint and the release


def test_the_trace_of_a_quarantined_llm_output_shows_its_verdicts_and_prompt(lake) -> None:
    _, config, _ = lake
    held = _table(config, catalog.quarantine_table(config.model("support_summarizer")))
    prediction_id = held.filter(pl.col("day") == date(2026, 10, 6)).sort("prediction_id")["prediction_id"][0]
    result = trace(config, prediction_id)
    assert result["guards"]["placed_in"] == "quarantined" and result["guards"]["failed_rules"]
    assert result["prompt_version"] == 1 and result["prediction"]["prompt_version"] == "v1"
    assert result["release_in_force"]["release_id"] == "support_summarizer-r1"
    with pytest.raises(TraceError, match="none of the prediction logs"):
        trace(config, "no-such-prediction")


def test_the_demo_history_approves_each_version_before_deploying_it(lake) -> None:
    _, config, _ = lake
    for model in config.models:
        events = models.events(config, model)
        approved = dict(
            events.filter(pl.col("event") == "approved").select("model_version", "effective_at").iter_rows()
        )
        deployed = (
            events.filter(pl.col("event") == "deployed").group_by("model_version").agg(pl.col("effective_at").min())
        )
        assert deployed.height >= 1
        for version, first_deployed in deployed.iter_rows():
            assert approved[version] < first_deployed, (model, version)


def test_changes_lists_releases_definitions_breaks_and_spikes_in_order(lake) -> None:
    _, config, _ = lake
    found = changes(config, date(2026, 9, 25), date(2026, 10, 16))
    assert found["at"].is_sorted()
    rows = {(r["model_name"], r["kind"], r["at"].date()): r for r in found.iter_rows(named=True)}
    channel = rows[("credit_risk", "drift_break", date(2026, 10, 11))]
    assert "channel" in channel["subject"] and "credit_risk-r1" in channel["followed_release"]
    release = rows[("credit_risk", "release", date(2026, 10, 16))]
    assert "credit_risk-r2: model 1.1" in release["detail"] and "carol" in release["detail"]
    assert ("credit_risk", "feature_definition", date(2026, 10, 5)) in rows
    spike = rows[("support_summarizer", "quarantine_spike", date(2026, 10, 6))]
    assert "likely follows" not in spike["followed_release"]  # r1 was 35 days before
    quiet = [r for r in found.iter_rows(named=True) if r["kind"] == "quarantine_spike" and r["at"].day != 6]
    assert quiet == []


def test_incidents_are_found_and_quiet_days_stay_quiet(lake) -> None:
    _, config, _ = lake
    report = _table(config, catalog.DRIFT_REPORT).filter(pl.col("model_name") == "credit_risk")
    verdict = report.select("day", "column", "verdict").unique()
    channel = dict(verdict.filter(pl.col("column") == "channel").select("day", "verdict").iter_rows())
    assert all(v == "ok" for d, v in channel.items() if d < date(2026, 10, 11))
    assert all(v == "drift" for d, v in channel.items() if d >= date(2026, 10, 11))
    stationary = ["age", "num_late_payments", "savings_balance", "region", "postcode"]
    assert verdict.filter(pl.col("column").is_in(stationary))["verdict"].unique().to_list() == ["ok"]


def test_prediction_log_counts_reconcile_with_the_log(lake) -> None:
    _, config, instance = lake
    metadata = _metadata(instance, ["credit_risk", "prediction_log"], "2026-10-02")
    raw = (
        delta.scan(catalog.table(config, "logs/credit_risk"))
        .filter(pl.col("event_date") == date(2026, 10, 2))
        .collect()
    )
    assert metadata["rows_read"] == raw.height == metadata["rows_valid"] + metadata["rows_rejected"]
    profiled = _table(config, catalog.FEATURE_PROFILES).filter(
        (pl.col("day") == date(2026, 10, 2)) & (pl.col("column") == "age")
    )
    assert profiled["n_rows"].sum() == metadata["rows_valid"]


def test_drift_materialization_metadata_and_checks(lake) -> None:
    _, _, instance = lake
    metadata = _metadata(instance, ["credit_risk", "drift_report"], "2026-10-12")
    assert metadata["drifted_features"] >= 1
    worst = {record.data["column"]: record.data for record in metadata["worst_columns"].records}
    assert (worst["channel"]["role"], worst["channel"]["verdict"]) == ("feature", "drift")
    released = _metadata(instance, ["credit_risk", "drift_report"], "2026-10-16")["changed_before"]
    assert "release" in released and "model 1.1" in released  # the likely cause of the score's move that day
    checks = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(["credit_risk", "drift_report"]), "reference_window_complete"), limit=100
    )
    assert {c.status.value for c in checks} == {"SUCCEEDED"}, [(c.partition, c.status) for c in checks]
    expectations = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(["credit_risk", "prediction_log"]), "expectations"), limit=100
    )
    assert len({c.partition for c in expectations}) == DAYS and all(c.evaluation.passed for c in expectations)


def test_table_assets_carry_row_count_and_schema_and_identifiers_are_not_plotted(lake) -> None:
    _, _, instance = lake
    holds = {
        "validated_predictions": "prediction_id",
        "quarantined_predictions": "guard_reasons",
        "feature_profiles": "n_valid",
        "drift_report": "verdict",
    }
    for name, column in holds.items():
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(["credit_risk", name]), asset_partitions=["2026-10-12"]),
            limit=1,
        ).records
        metadata = records[0].asset_materialization.metadata
        assert metadata["dagster/partition_row_count"].value >= (name != "quarantined_predictions"), name
        assert column in {c.name for c in metadata["dagster/column_schema"].value.columns}, name
        assert isinstance(metadata["audit_seq"], dg.TextMetadataValue)  # an identifier, not a metric to plot


def _latest_checks(instance: dg.DagsterInstance, key: list[str], check: str) -> dict[str, bool]:
    """partition -> whether the check passed, at its latest evaluation."""
    history = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(key), check), limit=1000
    )
    latest: dict[str, bool] = {}
    for record in sorted(history, key=lambda r: r.create_timestamp):
        latest[record.partition] = record.evaluation.passed
    return latest


def test_health_checks_warn_on_the_incident_days_and_no_quiet_day(lake) -> None:
    """Before any test below changes a partition: each day's signals against the model's alert thresholds."""
    _, config, instance = lake
    failing = {}
    for model in config.models.values():
        for asset, check in (
            ("prediction_log", ARRIVAL_CHECK),
            ("validated_predictions", QUARANTINE_CHECK),
            ("drift_report", DRIFT_CHECK),
            *([("performance", PERFORMANCE_CHECK)] if model.performance else []),
        ):
            latest = _latest_checks(instance, [model.name, asset], check)
            assert len(latest) == DAYS, (model.name, check)
            failing[model.name, check] = sorted(date.fromisoformat(p) for p, ok in latest.items() if not ok)
    quiet = [(key, day) for key, days in failing.items() for day in days if not incident_active(key[0], day)]
    assert quiet == []
    channel_mix = [date(2026, 10, 11) + timedelta(days=i) for i in range(6)]
    assert set(channel_mix) <= set(failing["credit_risk", DRIFT_CHECK])
    assert failing["support_summarizer", QUARANTINE_CHECK] == [date(2026, 10, 6)]  # the guard burst
    assert failing["credit_risk", PERFORMANCE_CHECK]  # the silent regression, seen by the labels
    assert not failing["credit_risk", ARRIVAL_CHECK] and not failing["support_summarizer", ARRIVAL_CHECK]
    burst = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(["support_summarizer", "validated_predictions"]), QUARANTINE_CHECK), limit=1000
    )
    evaluation = next(r.evaluation for r in burst if r.partition == "2026-10-06")
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["guard_failure"].value > float(evaluation.metadata["guard_failure_threshold"].value)


def test_rerunning_a_partition_replaces_it(lake) -> None:
    config_path, config, instance = lake
    before = {
        name: _table(config, name) for name in (catalog.FEATURE_PROFILES, catalog.OUTPUT_PROFILES, catalog.DRIFT_REPORT)
    }
    defs = build_definitions(str(config_path))
    result = defs.resolve_job_def("credit_risk_nightly").execute_in_process(
        partition_key="2026-10-12", instance=instance
    )
    assert result.success
    for name, frame in before.items():
        after = _table(config, name)
        keys = [c for c in ("model_name", "day", "model_version", "column", "method") if c in frame.columns]
        assert_frame_equal(after.sort(keys), frame.sort(keys))


def test_bad_rows_go_to_rejects_and_counts_still_reconcile(lake) -> None:
    config_path, config, instance = lake
    log = catalog.table(config, "logs/support_summarizer")
    day = date(2026, 10, 3)
    rows = delta.scan(log).filter(pl.col("event_date") == day).collect()
    duplicates = rows.head(3)
    stranger = rows.tail(2).with_columns(
        pl.lit("another_model").alias("model_name"), pl.format("x-{}", "prediction_id").alias("prediction_id")
    )
    delta.append(log, pl.concat([duplicates, stranger]))
    defs = build_definitions(str(config_path))
    job = defs.resolve_job_def("support_summarizer_nightly")
    assert job.execute_in_process(partition_key=day.isoformat(), instance=instance).success
    rejects = _table(config, catalog.LOG_REJECTS).filter(
        (pl.col("model_name") == "support_summarizer") & (pl.col("day") == day)
    )
    assert sorted(rejects["reason"].to_list()) == ["duplicate_prediction_id"] * 3 + ["other_model_name"] * 2
    metadata = _metadata(instance, ["support_summarizer", "prediction_log"], day.isoformat())
    assert metadata["rows_read"] == rows.height + 5 and metadata["rows_valid"] == rows.height
    check = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(["support_summarizer", "prediction_log"]), "rejected_share_below_1pct"), limit=1
    )[0]
    assert check.evaluation.passed is False  # 5 rejects of ~550 rows is above 1%
    gx = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(["support_summarizer", "prediction_log"]), "expectations"), limit=1
    )[0].evaluation
    assert gx.passed is False and gx.metadata["failed"].value >= 1  # duplicated ids break uniqueness


def test_observing_the_registry_leaves_every_judged_day_in_sync(lake) -> None:
    """Definitions are effective-dated: a registry observation after the nights ran (as the demo and the 15-minute
    schedule make one) must not mark the days already judged stale in the UI."""
    config_path, _, instance = lake
    defs = build_definitions(str(config_path))
    assert defs.resolve_job_def(REGISTRY_JOB).execute_in_process(instance=instance).success
    resolver = CachingStaleStatusResolver(instance, defs.resolve_asset_graph(), LoadingContextForTest(instance))
    for name in ("feature_profiles", "output_profiles", "drift_report"):
        key = dg.AssetKey(["credit_risk", name])
        stale = [p for p in instance.get_materialized_partitions(key) if resolver.get_status(key, p).value != "FRESH"]
        assert stale == [], (name, resolver.get_stale_causes(key, stale[0]))


def test_readme_queries_run_on_the_report_tables(lake) -> None:
    _, config, _ = lake
    root = Path(config.lake.root)
    from monitoring_pipeline_tests.readme_queries import run_readme_queries

    results = run_readme_queries(root)
    assert results["drifted_days"].filter(pl.col("column") == "channel")["days"].item() >= 6
    assert results["worst"].height > 0
    assert results["null_share"].height > 0
    assert set(results["carried_by"].columns) >= {"segment_value", "explains", "only_here"}
    assert results["separating_ngrams"].is_empty()  # the window ends before the prompt release: no text drifts
    assert set(results["separating_ngrams"].columns) >= {"column", "ngram", "reference", "current", "share"}
    assert isinstance(duckdb.__version__, str)


def _inject(config, model: str, day: date, n: int, output: str) -> pl.DataFrame:
    """Append `n` rows with new ids and the given output text to the model's log for `day`."""
    log = catalog.table(config, f"logs/{model}")
    rows = delta.scan(log).filter(pl.col("event_date") == day).head(n).collect()
    injected = rows.with_columns(
        pl.format("bad-{}", "prediction_id").alias("prediction_id"), pl.lit(output).alias("output_text")
    )
    delta.append(log, injected)
    return injected


def test_a_burst_above_the_limit_is_quarantined_and_blocks_downstream(lake) -> None:
    config_path, config, instance = lake
    day = date(2026, 10, 8)
    injected = _inject(config, "support_summarizer", day, 60, '{"summary": "leak <|endoftext|>"}')
    job = build_definitions(str(config_path)).resolve_job_def("support_summarizer_nightly")
    result = job.execute_in_process(partition_key=day.isoformat(), instance=instance, raise_on_error=False)
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert "support_summarizer__guards" in started and not result.success  # the blocking check failed the step
    assert not {"support_summarizer__profiles", "support_summarizer__drift_report"} & started
    check = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(["support_summarizer", "validated_predictions"]), "blocked_share_within_limit"),
        limit=1,
    )[0].evaluation
    assert check.passed is False and check.metadata["blocked_share"].value > 0.05
    metadata = _metadata(instance, ["support_summarizer", "validated_predictions"], day.isoformat())
    assert metadata["rows_in"] == metadata["rows_validated"] + metadata["rows_quarantined"]
    reconcile = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(["support_summarizer", "validated_predictions"]), "counts_reconcile"), limit=1
    )[0].evaluation
    assert reconcile.passed  # read back from Delta: stored validated + quarantined = contract-valid rows
    model = config.model("support_summarizer")
    held = _table(config, catalog.quarantine_table(model)).filter(pl.col("day") == day)
    assert set(injected["prediction_id"]) <= set(held["prediction_id"])
    reasons = held.filter(pl.col("prediction_id").is_in(injected["prediction_id"].implode()))["guard_reasons"]
    assert all("no_special_tokens:special_token:<|endoftext|>" in r for r in reasons.to_list())


def test_a_released_false_positive_moves_to_validated_on_the_next_run(lake) -> None:
    config_path, config, instance = lake
    model = config.model("support_summarizer")
    day = date(2026, 10, 9)
    (released,) = _inject(config, "support_summarizer", day, 1, '{"summary": "colour \x1b[1m ok"}')["prediction_id"]
    job = build_definitions(str(config_path)).resolve_job_def("support_summarizer_nightly")
    assert job.execute_in_process(partition_key=day.isoformat(), instance=instance).success
    assert released in _table(config, catalog.quarantine_table(model))["prediction_id"].to_list()
    now = datetime.now(UTC)
    release(config, model, released, "the UI renders ANSI colour", "reviewer@example.com", now)
    assert job.execute_in_process(partition_key=day.isoformat(), instance=instance).success
    validated = _table(config, catalog.validated_table(model)).filter(pl.col("day") == day)
    assert released in validated["prediction_id"].to_list()
    assert released not in _table(config, catalog.quarantine_table(model))["prediction_id"].to_list()
    verdict = _table(config, catalog.GUARD_VERDICTS).filter(pl.col("prediction_id") == released)
    assert verdict["released"].to_list() == [True] * verdict.height and verdict.height >= 1  # kept, marked
    record = _table(config, catalog.QUARANTINE_RELEASES).filter(pl.col("prediction_id") == released).row(0, named=True)
    assert record["released_by"] == "reviewer@example.com" and record["reason"] == "the UI renders ANSI colour"
    (entry,) = [e for e in read_audit(config) if e.action == "quarantine_release" and released in e.payload]
    assert entry.actor == person("reviewer@example.com")
    assert "reviewer@example.com" not in str(read_audit(config))  # no personal data in the audit log


def test_performance_after_the_baseline_has_its_band_and_alarms(lake) -> None:
    _, config, instance = lake
    overall = _table(config, catalog.PERFORMANCE).filter(
        (pl.col("metric") == "accuracy") & (pl.col("model_version") == "*") & (pl.col("segment") == "*")
    )
    after_baseline = overall.filter(pl.col("day") > date(2026, 10, 8)).sort("day")
    assert after_baseline.height == 8 and after_baseline["band_low"].null_count() == 0
    assert after_baseline["outside_band"].null_count() == 0 and after_baseline["label_coverage"].min() == 1.0
    series = performance_series(config, config.model("credit_risk"), date(2026, 10, 9), date(2026, 10, 16))
    assert series["cusum_alarm"].null_count() == 0 and series["day"].to_list() == after_baseline["day"].to_list()
    metadata = _metadata(instance, ["credit_risk", "performance"], "2026-10-12")
    assert metadata["realized"] == pytest.approx(  # shown to 4 decimals
        after_baseline.filter(pl.col("day") == date(2026, 10, 12))["realized"][0], abs=5e-5
    )


def test_the_ui_metadata_carries_pictures_and_the_report_command_writes_one_offline_file(lake, tmp_path) -> None:
    config_path, config, instance = lake
    pictures = _metadata(instance, ["credit_risk", "drift_report"], "2026-10-12")["pictures"]
    assert pictures.count("](data:image/svg+xml;base64,") == 2  # the worst columns and the verdict heatmap
    trends = _metadata(instance, ["support_summarizer", "output_profiles"], "2026-10-12")["trends"]
    assert "](data:image/svg+xml;base64," in trends
    charts = _metadata(instance, ["credit_risk", "performance"], "2026-10-12")["performance_chart"]
    assert charts.count("](data:image/svg+xml;base64,") == 3  # accuracy, AUC and calibration error: the alert metrics
    out = tmp_path / "report.html"
    argv = ["report", "--model", "support_summarizer", "--date", "2026-10-16", "--days", "22", "--out", str(out)]
    assert main([*argv, "--config", str(config_path)]) == 0
    text = out.read_text()
    assert text.count("<svg") >= 3 and out.stat().st_size < 3_000_000  # heatmap, outputs, guards (no drift yet)
    assert not re.search(r"""(src|href)=["']https?:""", text)  # nothing to fetch: no script, font or image link
    assert "support_summarizer: monitoring report for 2026-10-16" in text
    assert "Quiet on 2026-10-16:" in text and str(config.lake.root) not in text  # the verdict first; no lake path
    argv = ["report", "--model", "credit_risk", "--date", "2026-10-16", "--days", "22", "--out", str(out)]
    assert main([*argv, "--config", str(config_path)]) == 0
    text = out.read_text()
    checks = text[text.index("<h2>Checks of the day</h2>") : text.index("<h2>Drift</h2>")]
    assert "expectations on prediction_log" in checks and "reference window complete" in checks
    folded = re.findall(r"<details><summary><b>(\w+)</b> <span class='(warn|drift)'>", text)
    assert ("channel", "drift") in folded  # the drifting column's statistic over the window, folded
    assert 'stroke-dasharray="5,3"' in text  # its warn and drift thresholds
    assert 'stroke-dasharray="3,3"' in text  # the release of model 1.1 marked on the trends
    assert "identities are claims, not verified" in text[text.index("<h2>Releases in the window</h2>") :]
    assert "<th>state</th>" in text[: text.index("<h2>Checks of the day</h2>")]  # each signal's lifecycle state
    assert "<h3>Segments that drift on 2026-10-16</h3>" in text


def test_every_table_the_pipeline_writes_says_what_it_holds(lake) -> None:
    _, config, _ = lake
    root = Path(config.lake.root)
    written = sorted(str(log.parent.relative_to(root)) for log in root.glob("*/*/_delta_log"))
    ours = [name for name in written if not name.startswith(("logs/", "labels/", "training/", "_"))]
    assert catalog.DRIFT_VERDICTS in ours and "validated/credit_risk" in ours
    for name in ours:  # Delta's table description, shown by Spark, Databricks and Unity Catalog
        assert DeltaTable(str(root / name)).metadata().description, name
    fields = {f.name: f.metadata for f in DeltaTable(str(root / catalog.DRIFT_VERDICTS)).schema().fields}
    assert "value / threshold" in fields["size"]["comment"]
