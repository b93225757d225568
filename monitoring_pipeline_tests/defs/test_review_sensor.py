"""The review sensors on a real temp lake and a real Dagster instance, delivering to a real HTTP tracker on
127.0.0.1 that refuses, times out, answers 503 and then 200: one ticket per breach reaches it, however often the
sensor is evaluated or restarted, and the tickets table reconciles with what was delivered."""

import io
import json
from datetime import date

import dagster as dg
import polars as pl
import pytest
import yaml

from monitoring_pipeline import cli
from monitoring_pipeline.definitions import build_definitions
from monitoring_pipeline.demo.lake import build_demo_lake
from monitoring_pipeline.demo.run import materialize_model
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.config_file import load_config
from monitoring_pipeline.registry.audit_log import read_audit, verify_audit
from monitoring_pipeline.review import tickets
from monitoring_pipeline_tests.conftest import write_short_config
from monitoring_pipeline_tests.tracker import Tracker

SECRET = "webhook-s3cret"
START = date(2026, 10, 3)  # the guard burst is on 10-06, the channel mix changes on 10-11
DAYS = 10
EXPECTED = {"support_summarizer:guard_failure:2026-10-06", "credit_risk:feature_drift:2026-10-12"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("review")
    tracker = Tracker(SECRET)
    config_path = write_short_config(folder, START, DAYS, baseline_days=7)
    raw = yaml.safe_load(config_path.read_text())
    raw["tickets"] = {
        "webhook": {
            "url": tracker.url,
            "format": "github",
            "timeout_seconds": 1,
            "max_attempts": 3,
            "allow_private": True,
        }
    }
    config_path.write_text(yaml.safe_dump(raw))
    config = load_config(config_path)
    build_demo_lake(config, scale=0.25, progress=lambda _: None, label_feed=False)
    instance = dg.DagsterInstance.ephemeral()
    for model in config.models:
        materialize_model(config_path, None, model, instance)
    mp = pytest.MonkeyPatch()
    mp.setenv("MP_WEBHOOK_SECRET", SECRET)
    yield config_path, config, instance, tracker
    mp.undo()
    tracker.stop()


def _tick(config_path, instance, name: str, cursor: str | None) -> dg.SensorResult:
    defs = build_definitions(str(config_path))  # a fresh load each time, as after a daemon restart
    sensor = defs.resolve_sensor_def(name)
    with dg.build_sensor_context(instance=instance, resources=defs.resources, cursor=cursor) as context:
        return sensor(context)


def test_one_ticket_per_breach_delivered_once_through_refusal_timeout_and_503(world) -> None:
    config_path, config, instance, tracker = world
    tracker.stop()  # the tracker is down
    first = {name: _tick(config_path, instance, f"{name}_review_sensor", None) for name in config.models}
    table = tickets.read_tickets(config)
    assert set(table["ticket_id"]) == EXPECTED  # written to the outbox before any delivery
    assert set(table["delivery_status"]) == {"pending_delivery"} and tracker.accepted == {}
    requested = {r.partition_key for result in first.values() for r in result.run_requests}
    assert requested == EXPECTED
    links = {(e.asset_key.to_user_string(), e.partition): e.metadata for r in first.values() for e in r.asset_events}
    breach_days = {row["ticket_id"]: row["breach_days"] for row in table.iter_rows(named=True)}
    assert set(links) == {  # each day that feeds a ticket links it on the asset its signal is seen on
        *(("support_summarizer/validated_predictions", str(d)) for d in breach_days[sorted(EXPECTED)[1]]),
        *(("credit_risk/drift_report", str(d)) for d in breach_days[sorted(EXPECTED)[0]]),
    }
    drift_link = links[("credit_risk/drift_report", "2026-10-12")]
    assert drift_link["ticket"].value == "credit_risk:feature_drift:2026-10-12"
    assert drift_link["dossier"].value.endswith("partition=credit_risk%3Afeature_drift%3A2026-10-12")
    health = delta.scan(catalog.table(config, catalog.MODEL_HEALTH)).collect()  # every judged day, every signal
    assert health.select("model_name", "day").unique().height == 2 * DAYS
    breached = health.filter(pl.col("breached"))
    assert set(breached["ticket_id"]) == EXPECTED  # each breaching day names the ticket it feeds
    burst = health.filter(
        (pl.col("model_name") == "support_summarizer") & (pl.col("day") == date(2026, 10, 6)),
        pl.col("signal") == "guard_failure",
    )
    assert burst["crossed"].item() and burst["value"].item() >= burst["threshold"].item()
    quiet = health.filter(pl.col("day") < date(2026, 10, 6))
    assert not quiet["crossed"].any() and quiet["ticket_id"].null_count() == quiet.height
    guard = health.filter(pl.col("model_name") == "support_summarizer", pl.col("signal") == "guard_failure")
    assert dict(guard.select("day", "state").iter_rows())[date(2026, 10, 9)] == "recovered"  # 3 quiet days
    burst_ticket = tickets.ticket(config, "support_summarizer:guard_failure:2026-10-06")
    assert (burst_ticket["state"], burst_ticket["recovered_on"]) == ("recovered", date(2026, 10, 9))

    tracker.start()  # back on the same port: it times out, then answers 503, then 200 for good
    tracker.hang_seconds, tracker.script = 2.0, ["hang", "503"]
    again = {name: _tick(config_path, instance, f"{name}_review_sensor", None) for name in config.models}  # twice
    assert all(not r.run_requests for r in again.values())  # nothing new: no second dossier run
    restarted = {
        name: _tick(config_path, instance, f"{name}_review_sensor", first[name].cursor) for name in config.models
    }
    assert all(not r.run_requests for r in restarted.values())

    table = tickets.read_tickets(config)
    assert set(table["delivery_status"]) == {"delivered"} and table.height == 2
    assert tracker.accepted == dict.fromkeys(EXPECTED, 1)  # exactly once each
    assert all(r["signed"] for r in tracker.requests)
    delivered = dict(zip(table["ticket_id"], table["external_ref"], strict=True))
    assert all(ref.startswith("https://tracker.example/issues/") for ref in delivered.values())
    assert SECRET not in str(table.to_dicts()) and SECRET not in str(read_audit(config))
    assert verify_audit(config).ok


def test_the_dossier_run_requested_by_the_sensor_materializes(world) -> None:
    config_path, config, instance, _ = world
    defs = build_definitions(str(config_path))
    ticket_id = "credit_risk:feature_drift:2026-10-12"
    instance.add_dynamic_partitions("credit_risk_review_tickets", [ticket_id])
    result = defs.resolve_job_def("credit_risk_review_dossier").execute_in_process(
        partition_key=ticket_id, instance=instance
    )
    assert result.success
    stored = delta.scan(catalog.table(config, catalog.DOSSIERS)).filter(pl.col("ticket_id") == ticket_id).collect()
    assert stored.height == 1 and "| channel | drift |" in stored["markdown"][0]
    assert "Approvers' identities are claims, not verified" in stored["markdown"][0]
    record = instance.fetch_materializations(dg.AssetKey(["credit_risk", "review_dossier"]), limit=1).records[0]
    assert record.partition_key == ticket_id
    assert "channel" in record.asset_materialization.metadata["top_columns"].value


def test_people_move_tickets_open_acknowledged_resolved(world, capsys) -> None:
    config_path, config, _, _ = world
    where = ["--config", str(config_path)]
    ticket_id = "support_summarizer:guard_failure:2026-10-06"
    cli.main(["tickets", "list", "--status", "open", *where])
    assert ticket_id in capsys.readouterr().out
    cli.main(["tickets", "list", "--format", "csv", *where])  # every column, nested values flattened
    listed = pl.read_csv(io.StringIO(capsys.readouterr().out))
    assert ticket_id in listed["ticket_id"].to_list() and {"breach_days", "evidence"} <= set(listed.columns)
    with pytest.raises(SystemExit) as refused:
        cli.main(["tickets", "resolve", ticket_id, "--reason", " ", "--by", "ana", *where])
    assert refused.value.code == 2 and "a reason cannot be blank" in capsys.readouterr().err
    cli.main(["tickets", "ack", ticket_id, "--by", "ana", *where])
    with pytest.raises(SystemExit, match="only an open ticket can be acknowledged"):
        cli.main(["tickets", "ack", ticket_id, "--by", "bob", *where])
    cli.main(
        ["tickets", "resolve", ticket_id, "--reason", "one-day burst, prompt fixed upstream", "--by", "ana", *where]
    )
    row = tickets.ticket(config, ticket_id)
    assert (row["status"], row["acknowledged_by"], row["resolved_by"]) == ("resolved", "ana", "ana")
    cli.main(["tickets", "show", ticket_id, *where])
    assert "one-day burst" in capsys.readouterr().out
    cli.main(["tickets", "show", ticket_id, "--format", "json", *where])
    shown = json.loads(capsys.readouterr().out)  # one JSON document, nothing after it
    assert shown["ticket"]["resolved_by"] == "ana" and set(shown) == {"ticket", "dossier_markdown"}
    with pytest.raises(SystemExit, match="no ticket"):
        cli.main(["tickets", "show", "nope", *where])


def test_the_trace_of_a_prediction_lists_the_tickets_covering_its_day(world) -> None:
    from monitoring_pipeline.review.trace import to_markdown, trace

    _, config, _, _ = world
    log = delta.scan(catalog.table(config, "logs/credit_risk")).filter(pl.col("event_date") == date(2026, 10, 12))
    prediction_id = log.select("prediction_id").sort("prediction_id").head(1).collect().item()
    result = trace(config, prediction_id)
    assert [t["ticket_id"] for t in result["tickets"]] == ["credit_risk:feature_drift:2026-10-12"]
    assert "- credit_risk:feature_drift:2026-10-12 (high," in to_markdown(result)
