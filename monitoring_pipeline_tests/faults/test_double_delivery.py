"""Two deliverers at once — the review sensor and `tickets deliver` — against one slow tracker on 127.0.0.1: they
take turns under the lake's delivery lock, so each ticket is posted exactly once and marked delivered once."""

import threading

import pytest

from monitoring_pipeline.io.webhook import WebhookSink
from monitoring_pipeline.review import tickets
from monitoring_pipeline_tests.review.test_tickets import NOW, SECRET, _seed
from monitoring_pipeline_tests.tracker import Tracker

pytestmark = pytest.mark.faults


def test_two_deliverers_at_once_post_each_ticket_once(demo_config) -> None:
    ids = [f"credit_risk:feature_drift:2026-10-1{i}" for i in range(3)]
    _seed(demo_config, *ids)
    tracker = Tracker(SECRET)
    tracker.script = ["slow"] * 6  # each answer half a second late: without turns, both deliverers post all three
    try:
        sink = WebhookSink(
            tracker.url, SECRET, timeout_seconds=5, max_attempts=1, backoff_seconds=0.01, allow_private=True
        )
        outcomes: list[dict[str, str]] = []
        deliverers = [
            threading.Thread(target=lambda: outcomes.append(tickets.deliver_pending(demo_config, sink, NOW)))
            for _ in range(2)
        ]
        for deliverer in deliverers:
            deliverer.start()
        for deliverer in deliverers:
            deliverer.join(timeout=60)
    finally:
        tracker.stop()
    assert sorted(request["key"] for request in tracker.requests) == sorted(set(tracker.accepted))
    assert len(tracker.requests) == 3 and set(tracker.accepted.values()) == {1}
    assert sorted(status for outcome in outcomes for status in outcome.values()) == ["delivered"] * 3
    assert set(tickets.read_tickets(demo_config)["delivery_status"]) == {"delivered"}
