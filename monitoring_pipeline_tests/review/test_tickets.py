"""The ticket outbox on its own: a tracker that is down is tried once per call, not once per ticket; a 4xx is
final and never retried by later calls; people's lifecycle steps refuse what they must."""

from datetime import UTC, date, datetime

import polars as pl
import pytest

from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.webhook import WebhookSink, deliver, target
from monitoring_pipeline.review import tickets
from monitoring_pipeline_tests.tracker import Tracker

NOW = datetime(2026, 10, 20, tzinfo=UTC)
SECRET = "k"


def _seed(config, *ids: str, status: str = "pending_delivery") -> None:
    rows = [
        {key: None for key in tickets.TICKET_SCHEMA}
        | {
            "ticket_id": ticket_id,
            "model_name": "credit_risk",
            "signal": ticket_id.split(":")[1],
            "severity": "high",
            "status": "open",
            "first_day": date(2026, 10, 12),
            "last_day": date(2026, 10, 12),
            "breach_days": [date(2026, 10, 12)],
            "evidence": '{"value": 2.0, "threshold": 1, "breaching_days": [], "columns": []}',
            "opened_at": NOW,
            "updated_at": NOW,
            "delivery_status": status,
            "delivery_attempts": 0,
        }
        for ticket_id in ids
    ]
    frame = pl.DataFrame(rows, schema=tickets.TICKET_SCHEMA, orient="row")
    delta.upsert(catalog.table(config, catalog.TICKETS), frame, "ticket_id")


@pytest.fixture
def tracker():
    server = Tracker(SECRET)
    yield server
    server.stop()


def test_a_down_tracker_is_tried_once_per_call_and_a_4xx_is_final(demo_config, tracker: Tracker) -> None:
    _seed(demo_config, "credit_risk:feature_drift:2026-10-12", "credit_risk:output_drift:2026-10-12")
    sink = WebhookSink(tracker.url, SECRET, timeout_seconds=1, max_attempts=2, backoff_seconds=0.01, allow_private=True)
    tracker.stop()
    first = tickets.deliver_pending(demo_config, sink, NOW)
    assert list(first.values()) == ["pending_delivery"]  # the second ticket was not tried against a dead tracker
    tracker.start()
    tracker.script = ["401"]
    second = tickets.deliver_pending(demo_config, sink, NOW)
    assert sorted(second.values()) == ["delivered", "rejected"]
    assert tickets.deliver_pending(demo_config, sink, NOW) == {}  # nothing pending: the 4xx is not retried
    rejected = tickets.read_tickets(demo_config).filter(pl.col("delivery_status") == "rejected").row(0, named=True)
    assert rejected["http_status"] == 401 and rejected["delivery_attempts"] == 3  # 2 refused + 1 answered
    assert len(tracker.requests) == 2


def test_tickets_opened_before_a_tracker_was_configured_are_delivered_once_it_is(demo_config, tracker) -> None:
    _seed(demo_config, "credit_risk:feature_drift:2026-10-12", status="no_sink")  # opened with no webhook
    sink = WebhookSink(tracker.url, SECRET, timeout_seconds=1, max_attempts=1, allow_private=True)
    assert tickets.deliver_pending(demo_config, sink, NOW) == {"credit_risk:feature_drift:2026-10-12": "delivered"}
    assert tickets.deliver_pending(demo_config, sink, NOW) == {}  # once
    assert [r["key"] for r in tracker.requests] == ["credit_risk:feature_drift:2026-10-12"]


def test_lifecycle_refusals(demo_config) -> None:
    _seed(demo_config, "credit_risk:feature_drift:2026-10-12")
    ticket_id = "credit_risk:feature_drift:2026-10-12"
    with pytest.raises(tickets.TicketError, match="needs a reason"):
        tickets.resolve(demo_config, ticket_id, "  ", "ana", NOW)
    tickets.resolve(demo_config, ticket_id, "false alarm: a holiday", "ana", NOW)
    with pytest.raises(tickets.TicketError, match="already resolved"):
        tickets.resolve(demo_config, ticket_id, "again", "ana", NOW)
    with pytest.raises(tickets.TicketError, match="only an open ticket"):
        tickets.acknowledge(demo_config, ticket_id, "bob", NOW)


def _guard_days(config, model, quarantined: dict[date, int]) -> None:
    """100 rows a day for `model`, `quarantined[day]` of them held back by its guards."""
    for day, held in quarantined.items():
        for name, n in ((catalog.validated_table(model), 100 - held), (catalog.quarantine_table(model), held)):
            ids = pl.Series("prediction_id", [f"{day}-{i}" for i in range(n)], pl.String)
            frame = pl.DataFrame([ids, pl.Series("day", [day] * n, pl.Date)])
            delta.write_partition(catalog.table(config, name), frame, {"day": day})


def test_a_ticket_records_its_signal_recovering_reopens_on_a_new_breach_and_the_tracker_hears_both(
    demo_config, tracker
) -> None:
    days = [date(2026, 10, 1 + i) for i in range(8)]
    burst = {days[1]: 10, days[6]: 12}  # 10% and 12% quarantined: the guard_failure rule breaches the same day
    model = demo_config.model("support_summarizer")
    _guard_days(demo_config, model, {d: burst.get(d, 0) for d in days})
    old = {c: t for c, t in tickets.TICKET_SCHEMA.items() if c not in ("state", "recovered_on")}
    seeded = pl.DataFrame([{c: None for c in old} | {"ticket_id": "x:missing_data:2026-09-01"}], schema=old)
    delta.upsert(catalog.table(demo_config, catalog.TICKETS), seeded, "ticket_id")  # a table from before states
    sink = WebhookSink(tracker.url, SECRET, timeout_seconds=1, max_attempts=1, allow_private=True)
    ticket_id = "support_summarizer:guard_failure:2026-10-02"
    for day in days:  # one day a review, as the sensor judges each night
        tickets.review_days(demo_config, model, [day], datetime.combine(day, datetime.min.time(), UTC))
        tickets.deliver_pending(demo_config, sink, NOW)
        row = tickets.ticket(demo_config, ticket_id) if day >= days[1] else None
        if day == days[4]:  # the 3rd good day in a row after the burst
            assert (row["state"], row["recovered_on"], row["status"]) == ("recovered", days[4], "open")
    assert (row["state"], row["recovered_on"], row["breach_days"]) == ("alert", None, [days[1], days[6]])
    assert tickets.read_tickets(demo_config, "support_summarizer").height == 1  # reopened, not a second ticket
    assert tickets.ticket(demo_config, "x:missing_data:2026-09-01")["state"] is None
    assert [(r["key"], r["body"]["event"]) for r in tracker.requests] == [
        (ticket_id, "opened"),
        (f"{ticket_id}:recovered:2026-10-05", "updated"),
        (f"{ticket_id}:alert:2026-10-07", "updated"),
    ]
    assert tracker.requests[1]["body"]["text"].startswith("Recovered on 2026-10-05")
    health = catalog.day_rows(demo_config, catalog.MODEL_HEALTH, "support_summarizer").collect()
    guard = dict(health.filter(pl.col("signal") == "guard_failure").select("day", "state").iter_rows())
    assert [guard[d] for d in days] == ["ok", "alert", "alert", "alert", "recovered", "ok", "alert", "alert"]
    assert set(health.filter(pl.col("signal") == "output_drift")["state"]) == {"no_data"}  # no drift report yet


def test_an_update_goes_to_the_trackers_issue_as_a_comment(demo_config, tracker) -> None:
    _seed(demo_config, "credit_risk:feature_drift:2026-10-12", status="pending_delivery")
    row = tickets.ticket(demo_config, "credit_risk:feature_drift:2026-10-12")
    changed = row | {"state": "recovered", "recovered_on": date(2026, 10, 20)}
    github = WebhookSink(tracker.url, SECRET, format="github", max_attempts=1, allow_private=True)
    assert target(changed | {"delivered_at": NOW, "external_ref": "https://github.com/o/r/issues/7"}, github) == (
        f"{tracker.url}/7/comments",
        "credit_risk:feature_drift:2026-10-12:recovered:2026-10-20",
    )
    jira = WebhookSink(tracker.url, SECRET, format="jira", jira_project="ML", max_attempts=1, allow_private=True)
    assert target(changed | {"delivered_at": NOW, "external_ref": "ML-12"}, jira)[0] == f"{tracker.url}/ML-12/comment"
    refused = deliver(github, changed | {"delivered_at": NOW, "external_ref": None})
    assert refused.status == "rejected" and "no issue id" in refused.error and not tracker.requests
