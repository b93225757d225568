"""Webhook delivery against a real HTTP server on 127.0.0.1: signed, idempotent, retried only when it may help."""

import time

import pytest

from monitoring_pipeline.io.webhook import WebhookConfigError, WebhookSink, deliver, payload
from monitoring_pipeline_tests.tracker import Tracker

SECRET = "s3cret-value"
TICKET = {
    "ticket_id": "credit_risk:feature_drift:2026-10-12",
    "model_name": "credit_risk",
    "signal": "feature_drift",
    "severity": "high",
    "first_day": "2026-10-12",
    "last_day": "2026-10-14",
    "evidence": '{"value": 2.0, "threshold": 1, "breaching_days": ["2026-10-11"], "columns": ["channel"]}',
}


@pytest.fixture
def tracker():
    server = Tracker(SECRET)
    yield server
    server.stop()


def _sink(tracker: Tracker, **kwargs) -> WebhookSink:
    return WebhookSink(
        tracker.url,
        SECRET,
        timeout_seconds=kwargs.pop("timeout", 1.0),
        backoff_seconds=0.01,
        allow_private=True,
        **kwargs,
    )


def test_a_timeout_and_a_503_are_retried_with_the_same_key_until_accepted_once(tracker: Tracker) -> None:
    tracker.script = ["hang", "503", "200"]
    tracker.hang_seconds = 2.0
    result = deliver(_sink(tracker), TICKET)
    assert (result.status, result.attempts, result.http_status) == ("delivered", 3, 200)
    assert result.external_ref == "https://tracker.example/issues/1"
    assert {r["key"] for r in tracker.requests} == {TICKET["ticket_id"]} and all(r["signed"] for r in tracker.requests)
    assert tracker.accepted == {TICKET["ticket_id"]: 1}


def test_a_4xx_is_final_and_nothing_is_retried(tracker: Tracker) -> None:
    tracker.script = ["401"]
    result = deliver(_sink(tracker), TICKET)
    assert (result.status, result.attempts, result.http_status) == ("rejected", 1, 401)
    assert len(tracker.requests) == 1 and SECRET not in (result.error or "")


@pytest.mark.parametrize("redirect", ["301", "302", "307"])
def test_a_redirect_is_never_followed_and_fails_saying_so(tracker: Tracker, redirect: str) -> None:
    tracker.script = [redirect]
    result = deliver(_sink(tracker), TICKET)
    assert (result.status, result.attempts, result.http_status) == ("rejected", 1, int(redirect))
    assert f"redirected to {tracker.url}-moved" in result.error and "set tickets.webhook.url" in result.error
    assert [r["answer"] for r in tracker.requests] == [redirect]  # no GET with the signature and the key
    assert tracker.accepted == {}


def test_the_timeout_bounds_the_whole_attempt_not_each_read(tracker: Tracker) -> None:
    tracker.script = ["trickle"]  # 20 bytes, one every 0.3 s: no single read ever waits a second
    started = time.monotonic()
    result = deliver(_sink(tracker, timeout=1.0, max_attempts=1), TICKET)
    assert time.monotonic() - started < 2.5  # not the 6 s the answer takes
    assert result.status == "retry_later" and "no complete answer within 1 s" in result.error


def test_a_refused_connection_leaves_it_for_later(tracker: Tracker) -> None:
    sink = _sink(tracker, max_attempts=3)
    tracker.stop()
    result = deliver(sink, TICKET)
    assert (result.status, result.attempts) == ("retry_later", 3) and "network" in result.error
    assert SECRET not in result.error and SECRET not in repr(sink)


def test_payload_shapes_and_refused_sinks(tracker: Tracker) -> None:
    github = payload(TICKET, _sink(tracker, format="github"))
    assert (
        github["title"].startswith("[high] Retraining review: credit_risk") and "retraining-review" in github["labels"]
    )
    jira = payload(TICKET, _sink(tracker, format="jira", jira_project="RISK"))
    assert jira["fields"]["project"] == {"key": "RISK"} and jira["fields"]["issuetype"] == {"name": "Task"}
    assert payload(TICKET, _sink(tracker))["ticket_id"] == TICKET["ticket_id"]
    with pytest.raises(WebhookConfigError, match="https"):
        WebhookSink("http://tracker.example/hook", SECRET)  # plain http beyond loopback
    with pytest.raises(WebhookConfigError, match="secret is empty"):
        WebhookSink("https://tracker.example/hook", "")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://bot:hunter2@tracker.example/hook", r"https://tracker.example/hook carries credentials"),
        ("https://169.254.169.254/latest/meta-data", "a link-local or metadata address"),
        ("https://[fe80::1]/hook", "a link-local or metadata address"),
        ("https://metadata.google.internal/computeMetadata", "a cloud metadata service"),
        ("https://10.1.2.3/hook", r"private address 10\.1\.2\.3; .*allow_private: true"),
    ],
)
def test_a_webhook_to_metadata_link_local_private_or_with_credentials_is_refused(url: str, message: str) -> None:
    with pytest.raises(WebhookConfigError, match=message) as refused:
        WebhookSink(url, SECRET)
    assert "hunter2" not in str(refused.value)


def test_a_host_name_resolving_to_loopback_is_posted_to_only_when_allowed(tracker: Tracker) -> None:
    url = tracker.url.replace("127.0.0.1", "localhost")
    refused = deliver(WebhookSink(url, SECRET, timeout_seconds=1.0, backoff_seconds=0.01), TICKET, sleep=lambda s: None)
    assert refused.status == "rejected" and refused.attempts == 0 and "allow_private: true" in refused.error
    assert tracker.requests == []  # nothing was posted
    allowed = WebhookSink(url, SECRET, timeout_seconds=1.0, backoff_seconds=0.01, allow_private=True)
    assert deliver(allowed, TICKET, sleep=lambda s: None).status == "delivered"


def test_a_sinks_repr_shows_no_secret_and_no_token_in_its_url() -> None:
    sink = WebhookSink("https://hooks.example/services/T0/B0?token=xoxb-123#frag", SECRET)
    assert "xoxb" not in repr(sink) and SECRET not in repr(sink) and "hooks.example/services/T0/B0" in repr(sink)
