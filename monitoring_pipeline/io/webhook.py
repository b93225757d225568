"""Deliver a ticket to the tracker people use: a signed JSON POST, retried with backoff, never twice opened.

Every request carries `Idempotency-Key: <ticket id>` (a retry after a lost response cannot open a second
ticket), `X-MP-Timestamp` and `X-MP-Signature: sha256=<HMAC-SHA256(secret, timestamp + "." + body)>` (receivers
compare in constant time and reject stale timestamps). Network errors, timeouts, 408, 429 and 5xx are retried
with exponential backoff and full jitter up to `max_attempts`; any other 4xx is final (no retry storm). The
secret never appears in a payload, an error message or a log line. Plain http is allowed only to loopback.

Where a delivery may go is checked on every attempt, on the addresses the host resolves to: never a link-local
or cloud-metadata address (169.254.169.254 holds credentials), a private or loopback one only when the config
allows it (`allow_private: true`, for a self-hosted tracker), and never a URL carrying credentials.

A change to a ticket the tracker already holds (its signal recovered, or breached again and reopened it) is an
update: a comment on the tracker's issue (GitHub `<url>/<number>/comments`, Jira `<url>/<key>/comment`), or for
the generic format the ticket again with `event: updated`; its idempotency key names the change.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from monitoring_pipeline.core.alerts import RECOVERED
from monitoring_pipeline.core.config import TicketSettings
from monitoring_pipeline.core.errors import MonitoringError

FORMATS = ("generic", "github", "jira")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
METADATA_HOSTS = {"metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal"}
METADATA_ADDRESSES = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
RETRYABLE_STATUS = {408, 429}


class WebhookConfigError(MonitoringError, ValueError):
    """A sink that must not be used as configured (scheme, host, format, missing secret)."""


@dataclass(frozen=True)
class WebhookSink:
    url: str
    secret: str
    format: str = "generic"
    timeout_seconds: float = 5.0
    max_attempts: int = 4
    backoff_seconds: float = 0.5
    jira_project: str = "MLOPS"
    allow_private: bool = False  # a self-hosted tracker on a private or loopback address

    def __post_init__(self) -> None:
        parsed = urlparse(self.url)
        if parsed.scheme not in ("https", "http") or (parsed.scheme == "http" and parsed.hostname not in LOOPBACK):
            raise WebhookConfigError(f"webhook url must be https (plain http only to loopback), got {parsed.scheme}://")
        if parsed.username or parsed.password:
            raise WebhookConfigError(
                f"webhook url {self.shown_url} carries credentials (user:password@); remove them: deliveries are "
                "authenticated by the signature (secret_env)"
            )
        literal = _is_ip(parsed.hostname or "") or (parsed.hostname or "").lower() in METADATA_HOSTS
        if literal and (refused := self.refusal()):  # a host name is checked as each delivery resolves it
            raise WebhookConfigError(refused)
        if self.format not in FORMATS:
            raise WebhookConfigError(f"webhook format must be one of {list(FORMATS)}, got {self.format!r}")
        if not self.secret:
            raise WebhookConfigError("the webhook secret is empty; set it in the environment")

    @classmethod
    def from_settings(cls, settings: TicketSettings, secret: str) -> WebhookSink:
        """The sink a project's `tickets.webhook` describes, with the secret read from its environment variable."""
        return cls(
            settings.webhook_url or "",
            secret,
            settings.format,
            settings.timeout_seconds,
            settings.max_attempts,
            jira_project=settings.jira_project,
            allow_private=settings.allow_private,
        )

    @property
    def shown_url(self) -> str:
        """The url without credentials, query or fragment (a token may hide in any of them)."""
        parsed = urlparse(self.url)
        port = f":{parsed.port}" if parsed.port else ""
        return f"{parsed.scheme}://{parsed.hostname}{port}{parsed.path}"

    def refusal(self) -> str | None:
        """Why the url's host may not be posted to now, by the addresses it resolves to (None: it may). An
        unresolvable host is not refused: the attempt fails as a network error and is retried."""
        parsed = urlparse(self.url)
        host = (parsed.hostname or "").lower()
        if host in METADATA_HOSTS:
            return f"webhook host {host} is a cloud metadata service, never a tracker"
        try:
            resolved = {info[4][0] for info in socket.getaddrinfo(host, parsed.port or 443, proto=socket.IPPROTO_TCP)}
        except (socket.gaierror, UnicodeError):
            return None
        for text in sorted(resolved):
            address = ipaddress.ip_address(text.split("%")[0])
            address = getattr(address, "ipv4_mapped", None) or address
            if address in METADATA_ADDRESSES or address.is_link_local or address.is_multicast or address.is_unspecified:
                return f"webhook host {host} resolves to {address}, a link-local or metadata address: never a tracker"
            if (address.is_private or address.is_loopback) and not self.allow_private:
                return (
                    f"webhook host {host} resolves to the private address {address}; for a self-hosted tracker set "
                    "tickets.webhook.allow_private: true"
                )
        return None

    def __repr__(self) -> str:  # keep the secret, and any token in the url, out of logs and tracebacks
        return f"WebhookSink(url={self.shown_url!r}, format={self.format!r}, secret=***)"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Delivery:
    status: str  # delivered, retry_later (network or 5xx: try again next tick) or rejected (4xx)
    attempts: int
    http_status: int | None = None
    error: str | None = None
    external_ref: str | None = None


def payload(ticket: Mapping[str, Any], sink: WebhookSink) -> dict[str, Any]:
    """The request body in the sink's format (for a ticket the tracker already holds: an update)."""
    title = f"[{ticket['severity']}] Retraining review: {ticket['model_name']} {ticket['signal'].replace('_', ' ')}"
    body = ticket_text(ticket)
    if is_update(ticket):
        body = f"{change_text(ticket)}\n\n{body}"
        if sink.format in ("github", "jira"):
            return {"body": body}
        return {
            "ticket_id": ticket["ticket_id"],
            "event": "updated",
            "title": title,
            "text": body,
            "ticket": dict(ticket),
        }
    if sink.format == "github":
        return {"title": title, "body": body, "labels": ["retraining-review", ticket["severity"], ticket["model_name"]]}
    if sink.format == "jira":
        return {
            "fields": {
                "project": {"key": sink.jira_project},
                "summary": title,
                "description": body,
                "issuetype": {"name": "Task"},
                "labels": ["retraining-review", ticket["model_name"]],
            }
        }
    return {"ticket_id": ticket["ticket_id"], "event": "opened", "title": title, "text": body, "ticket": dict(ticket)}


def is_update(ticket: Mapping[str, Any]) -> bool:
    """The tracker already took this ticket once: what is pending now is a change to it."""
    return ticket.get("delivered_at") is not None


def change_text(ticket: Mapping[str, Any]) -> str:
    what = f"{ticket['signal']} of {ticket['model_name']}"
    if ticket.get("state") == RECOVERED:
        return (
            f"Recovered on {ticket['recovered_on']}: {what} is back on the good side of its threshold. The ticket "
            f"stays {ticket['status']} until a person resolves it."
        )
    return f"Breached again on {ticket['last_day']} after recovering: the ticket is reopened."


def target(ticket: Mapping[str, Any], sink: WebhookSink) -> tuple[str, str] | str:
    """(url, idempotency key) of the ticket's request, or why an update cannot be posted."""
    if not is_update(ticket):
        return sink.url, str(ticket["ticket_id"])
    key = f"{ticket['ticket_id']}:{ticket.get('state')}:{ticket.get('recovered_on') or ticket['last_day']}"
    if sink.format == "generic":
        return sink.url, key
    ref = str(ticket.get("external_ref") or "").rstrip("/").rsplit("/", 1)[-1]
    if not ref:
        return f"the tracker answered no issue id when ticket {ticket['ticket_id']} was opened; post its update by hand"
    return f"{sink.url.rstrip('/')}/{ref}/{'comments' if sink.format == 'github' else 'comment'}", key


def ticket_text(ticket: Mapping[str, Any]) -> str:
    evidence = json.loads(ticket["evidence"]) if isinstance(ticket["evidence"], str) else ticket["evidence"]
    columns = ", ".join(evidence.get("columns", [])) or "-"
    recovered = f"; it recovered on {ticket['recovered_on']}" if ticket.get("state") == RECOVERED else ""
    return (
        f"Ticket {ticket['ticket_id']} ({ticket['severity']}): {ticket['signal']} of {ticket['model_name']} "
        f"breached on {ticket['first_day']}..{ticket['last_day']}{recovered}.\n"
        f"Latest value {evidence.get('value')} (threshold {evidence.get('threshold')}); breaching days "
        f"{', '.join(evidence.get('breaching_days', []))}; columns: {columns}.\n"
        f"Evidence: `monitoring-pipeline tickets show {ticket['ticket_id']}` and the review dossier asset "
        f"{ticket['model_name']}/review_dossier, partition {ticket['ticket_id']}."
    )


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object) -> None:
        return None  # never follow: the 3xx surfaces as an HTTPError


_NO_REDIRECTS = urllib.request.build_opener(_RefuseRedirects)


def _attempt(request: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
    """One POST and its whole answer within `timeout` (urllib's own timeout bounds each socket read, so a
    tracker trickling a byte at a time could hold a delivery for minutes); raises what urllib raises."""
    outcome: dict[str, Any] = {}

    def post() -> None:
        try:
            with _NO_REDIRECTS.open(request, timeout=timeout) as response:
                outcome["answer"] = (response.status, response.read())
        except Exception as exc:  # handed to the caller below
            outcome["error"] = exc

    worker = threading.Thread(target=post, daemon=True)  # left behind on timeout, ended by its socket's timeout
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"no complete answer within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["answer"]


def deliver(
    sink: WebhookSink,
    ticket: Mapping[str, Any],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> Delivery:
    """POST the ticket, retrying what may succeed later; returns what happened (never raises on HTTP trouble). A
    host the sink may not post to (`WebhookSink.refusal`) is a rejected delivery, posting nothing."""
    body = json.dumps(payload(ticket, sink), sort_keys=True, default=str).encode()
    where = target(ticket, sink)
    if isinstance(where, str):
        return Delivery("rejected", 0, None, where)
    url, key = where
    error = None
    for attempt in range(1, sink.max_attempts + 1):
        if refused := sink.refusal():
            return Delivery("rejected", attempt - 1, None, refused)
        timestamp = str(int(clock()))
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": key,
                "X-MP-Timestamp": timestamp,
                "X-MP-Signature": signature(sink.secret, timestamp, body),
            },
        )
        try:
            status, answer = _attempt(request, sink.timeout_seconds)
            return Delivery("delivered", attempt, status, None, _external_ref(answer))
        except urllib.error.HTTPError as exc:
            if 300 <= exc.code < 400:
                moved = exc.headers.get("Location", "nowhere")
                error = (
                    f"HTTP {exc.code} {exc.reason}: redirected to {moved}, which a webhook never follows (it would "
                    "resend the signature elsewhere, or turn the POST into a GET); set tickets.webhook.url to the "
                    "final address"
                )
                return Delivery("rejected", attempt, exc.code, error)
            if exc.code < 500 and exc.code not in RETRYABLE_STATUS:
                return Delivery("rejected", attempt, exc.code, f"HTTP {exc.code} {exc.reason}")
            error, status = f"HTTP {exc.code} {exc.reason}", exc.code
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            error, status = f"network: {type(reason).__name__}: {reason}", None
        if attempt < sink.max_attempts:
            sleep(random.uniform(0, sink.backoff_seconds * 2 ** (attempt - 1)))  # full jitter
    return Delivery("retry_later", sink.max_attempts, status, error)


def _external_ref(raw: bytes) -> str | None:
    """The tracker's id of the new ticket, when it answers with one (GitHub `html_url`/`number`, Jira `key`)."""
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    for key in ("html_url", "key", "number", "id", "url"):
        if answer.get(key) is not None:
            return str(answer[key])
    return None
