"""The ticket outbox on its own: a tracker that is down is tried once per call, not once per ticket; a 4xx is
final and never retried by later calls; people's lifecycle steps refuse what they must."""

from datetime import UTC, date, datetime

import polars as pl
import pytest

from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.webhook import WebhookSink
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
