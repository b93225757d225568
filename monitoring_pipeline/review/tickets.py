"""Retraining-review tickets: opened and updated from the alert policy, kept in a Delta outbox, delivered once.

`review_days` judges days in order (see `core.alerts`) and writes every opened or updated ticket to
`reports/tickets` (one MERGE commit per ticket change) *before* any delivery is tried. `deliver_pending` then
posts each ticket whose `delivery_status` is `pending_delivery`; a tracker that is down leaves it pending for the
next call. People move tickets open -> acknowledged -> resolved. Every change is an audit-log entry.

The signal behind a live ticket has a lifecycle of its own (`core.alerts.signal_states`): when it recovers, the
ticket records it (`state` recovered, `recovered_on`) and a delivered ticket is delivered again as an update; a
recovered ticket that breaches again reopens (`state` alert) instead of a second ticket opening.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from monitoring_pipeline.core.alerts import (
    ALERT,
    EPISODE_DAYS,
    NO_DATA,
    RECOVERED,
    Breach,
    breaches_on,
    daily_signals,
    plan_tickets,
    readings_on,
    signal_states,
    ticket_id,
)
from monitoring_pipeline.core.config import ModelSpec, ProjectConfig
from monitoring_pipeline.core.errors import MonitoringError
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.webhook import WebhookSink, deliver
from monitoring_pipeline.registry.audit_log import custody, record
from monitoring_pipeline.steps.guards import daily_guard_counts
from monitoring_pipeline.steps.performance import alert_series

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"
PENDING, DELIVERED, REJECTED, NO_SINK = "pending_delivery", "delivered", "rejected", "no_sink"

TICKET_SCHEMA: dict[str, pl.DataType] = {
    "ticket_id": pl.String(),
    "model_name": pl.String(),
    "signal": pl.String(),
    "severity": pl.String(),
    "status": pl.String(),
    "first_day": pl.Date(),
    "last_day": pl.Date(),
    "breach_days": pl.List(pl.Date()),
    "state": pl.String(),  # of its signal: alert, or recovered (a later breach reopens it: alert again)
    "recovered_on": pl.Date(),  # the day its signal recovered, while it stays recovered
    "evidence": pl.String(),  # JSON of the latest breach: value, threshold, breaching days, columns
    "opened_at": pl.Datetime("us", "UTC"),
    "updated_at": pl.Datetime("us", "UTC"),
    "delivery_status": pl.String(),
    "delivery_attempts": pl.Int64(),
    "http_status": pl.Int64(),
    "delivery_error": pl.String(),
    "external_ref": pl.String(),
    "delivered_at": pl.Datetime("us", "UTC"),
    "acknowledged_by": pl.String(),
    "acknowledged_at": pl.Datetime("us", "UTC"),
    "resolved_by": pl.String(),
    "resolved_at": pl.Datetime("us", "UTC"),
    "resolution": pl.String(),
}


class TicketError(MonitoringError, LookupError):
    """An unknown ticket or a lifecycle step it cannot take."""


REVIEW_SENSOR = "sensor:review"  # the audit actor of the tickets the sensor opens, updates and delivers


def read_tickets(config: ProjectConfig, model: str | None = None) -> pl.DataFrame:
    rows = catalog.day_rows(config, catalog.TICKETS, model)
    if rows is None:
        return pl.DataFrame(schema=TICKET_SCHEMA)
    # oldest first; tickets one tick opened together in id order, so deliveries and listings are deterministic
    frame = rows.sort("opened_at", "ticket_id").collect()
    # columns added since the table was created read as null (a ticket opened before the alert lifecycle)
    return frame.with_columns(pl.lit(None, t).alias(c) for c, t in TICKET_SCHEMA.items() if c not in frame.columns)


def ticket(config: ProjectConfig, ticket_id_: str) -> dict[str, Any]:
    rows = read_tickets(config).filter(pl.col("ticket_id") == ticket_id_)
    if rows.is_empty():
        raise TicketError(f"no ticket {ticket_id_!r} in {catalog.table(config, catalog.TICKETS)}")
    return rows.row(0, named=True)


def _save(
    config: ProjectConfig,
    row: dict[str, Any],
    action: str,
    now: datetime,
    by: str | None = None,
    actor: str = REVIEW_SENSOR,
) -> int:
    """Upsert a ticket and audit it: by the person `by`, else by the system `actor` (the review sensor)."""
    return record(
        config,
        catalog.TICKETS,
        row,
        TICKET_SCHEMA,
        by=by,
        actor=actor,
        action=action,
        subject=row["ticket_id"],
        payload={
            "status": row["status"],
            "state": row["state"],
            "delivery_status": row["delivery_status"],
            "last_day": row["last_day"].isoformat(),
        },
        now=now,
        key="ticket_id",
    )


# -- judging days ------------------------------------------------------------------------------------------------


def model_signals(config: ProjectConfig, model: ModelSpec, first: date, last: date) -> pl.DataFrame:
    """The model's daily signals between two days, from the drift report and the guard tables."""
    rows = catalog.day_rows(config, catalog.DRIFT_REPORT, model.name)
    schema = {"day": pl.Date, "column": pl.String, "role": pl.String, "verdict": pl.String, "window_verdict": pl.String}
    if rows is None:
        report = pl.DataFrame(schema=schema)
    else:
        if "window_verdict" not in rows.collect_schema():  # written before rolling windows were judged
            rows = rows.with_columns(pl.lit(None, pl.String).alias("window_verdict"))
        report = rows.filter(pl.col("decisive") & pl.col("day").is_between(first, last)).select(*schema).collect()
    counts = daily_guard_counts(config, model, first, last)
    performance = alert_series(config, model, first, last) if model.performance else None
    return daily_signals(report, counts, performance)


def signals_and_states(
    config: ProjectConfig, model: ModelSpec, first: date, last: date
) -> tuple[pl.DataFrame, dict[str, dict[date, str]]]:
    """The model's daily signals from far enough before `first` to judge it (its rules' windows and an alert still
    under way, EPISODE_DAYS), and each rule's signal state per day through `last`."""
    lookback = max(rule.of_last for rule in model.alerts) if model.alerts else 1
    signals = model_signals(config, model, first - timedelta(days=lookback + EPISODE_DAYS), last)
    training = model.training_days()
    return signals, {rule.signal: signal_states(signals, rule, last, training) for rule in model.alerts}


@dataclass(frozen=True)
class Review:
    opened: list[str]
    updated: list[str]


def review_days(config: ProjectConfig, model: ModelSpec, days: Sequence[date], now: datetime) -> Review:
    """Judge `days` in order against the model's alert rules; open or update tickets in the outbox. Reviews that
    overlap (two runs, two sensors) take turns, so a ticket is opened once and no update is lost."""
    if not days:
        return Review([], [])
    signals, states = signals_and_states(config, model, min(days), max(days))
    training = model.training_days()
    opened, updated = [], []
    with custody(config, "tickets"):
        for day in sorted(set(days)):
            breaches = breaches_on(model.name, signals, model.alerts, day, training)
            plan = plan_tickets(read_tickets(config, model.name).to_dicts(), breaches)
            for breach in plan.opened:
                _save(config, _new_ticket(config, breach, now), "ticket_open", now)
                opened.append(ticket_id(breach))
            for known_id, breach in plan.updated:
                known = ticket(config, known_id)
                action = "ticket_reopen" if known["state"] == RECOVERED else "ticket_update"
                _save(config, _updated(known, breach, now), action, now)
                updated.append(known_id)
            for known in _recovering(config, model, day, states):
                _save(config, _recovered(known, day, now), "ticket_recover", now)
                updated.append(known["ticket_id"])
            covering = read_tickets(config, model.name).filter(pl.col("first_day") <= day, pl.col("last_day") >= day)
            tickets = dict(covering.select("signal", "ticket_id").iter_rows())
            fed = {b.signal: tickets.get(b.signal) for b in breaches}
            _write_health(
                config, model, day, signals, {s: by_day.get(day, NO_DATA) for s, by_day in states.items()}, fed, now
            )
    return Review(opened, updated)


def _recovering(config: ProjectConfig, model: ModelSpec, day: date, states: dict[str, dict[date, str]]) -> list[dict]:
    """The live tickets whose signal recovers on `day` (each still alerting, opened before it)."""
    recovered = [signal for signal, by_day in states.items() if by_day.get(day) == RECOVERED]
    live = read_tickets(config, model.name).filter(
        pl.col("signal").is_in(recovered),
        pl.col("status") != RESOLVED,
        pl.col("state").fill_null(ALERT) == ALERT,
        pl.col("first_day") < day,
    )
    return live.to_dicts()


HEALTH_SCHEMA: dict[str, pl.DataType] = {
    "model_name": pl.String(),
    "day": pl.Date(),
    "signal": pl.String(),
    "value": pl.Float64(),
    "threshold": pl.Float64(),
    "crossed": pl.Boolean(),  # the day alone crossed the threshold (what the day's health check shows)
    "breached": pl.Boolean(),  # ... on enough of the rule's days too: a ticket is open or updated for it
    "state": pl.String(),  # ok, warning, alert, recovered or no_data (see core.alerts.signal_states)
    "severity": pl.String(),
    "ticket_id": pl.String(),
    "behind": pl.List(pl.String()),  # the drifting columns, or each alarming metric with its figures
    "judged_at": pl.Datetime("us", "UTC"),
}


def _write_health(
    config: ProjectConfig,
    model: ModelSpec,
    day: date,
    signals: pl.DataFrame,
    states: dict[str, str],
    fed: dict[str, str | None],
    now: datetime,
) -> None:
    """Replace the day's rows of `reports/model_health`: each alert signal against its rule, its state, and the
    ticket it feeds (`fed`: each breaching signal -> the ticket covering the day); a signal with no value that day
    is a row too (`no_data`)."""
    readings = {r.signal: r for r in readings_on(signals, model.alerts, day, model.training_days())}
    rows = [
        {
            "model_name": model.name,
            "day": day,
            "signal": rule.signal,
            "value": reading.value if reading else None,
            "threshold": rule.threshold,
            "crossed": bool(reading and reading.crossed),
            "breached": rule.signal in fed,
            "state": states.get(rule.signal, NO_DATA),
            "severity": rule.severity,
            "ticket_id": fed.get(rule.signal),
            "behind": list(reading.columns) if reading else [],
            "judged_at": now,
        }
        for rule in model.alerts
        for reading in [readings.get(rule.signal)]
    ]
    frame = pl.DataFrame(rows, schema=HEALTH_SCHEMA)
    table = catalog.table(config, catalog.MODEL_HEALTH)
    delta.write_partition(table, frame, {"model_name": model.name, "day": day}, evolve_schema=True)


def _new_ticket(config: ProjectConfig, breach: Breach, now: datetime) -> dict[str, Any]:
    return {key: None for key in TICKET_SCHEMA} | {
        "ticket_id": ticket_id(breach),
        "model_name": breach.model_name,
        "signal": breach.signal,
        "severity": breach.severity,
        "status": OPEN,
        "first_day": breach.day,
        "last_day": breach.day,
        "breach_days": [breach.day],
        "state": ALERT,
        "evidence": json.dumps(breach.evidence()),
        "opened_at": now,
        "updated_at": now,
        "delivery_status": PENDING if config.tickets.webhook_url else NO_SINK,
        "delivery_attempts": 0,
    }


def _updated(row: dict[str, Any], breach: Breach, now: datetime) -> dict[str, Any]:
    """A later breach: new evidence; a recovered ticket reopens (and a delivered one is delivered again)."""
    reopened = _redelivered(row) if row["state"] == RECOVERED else {}
    return (
        row
        | reopened
        | {
            "first_day": min(row["first_day"], breach.day),
            "last_day": max(row["last_day"], breach.day),
            "breach_days": sorted({*row["breach_days"], breach.day}),
            "state": ALERT,
            "recovered_on": None,
            "evidence": json.dumps(breach.evidence()),
            "updated_at": now,
        }
    )


def _recovered(row: dict[str, Any], day: date, now: datetime) -> dict[str, Any]:
    return row | _redelivered(row) | {"state": RECOVERED, "recovered_on": day, "updated_at": now}


def _redelivered(row: dict[str, Any]) -> dict[str, Any]:
    """A change the tracker already holding the ticket should hear about: pending delivery again (as an update)."""
    return {"delivery_status": PENDING} if row["delivery_status"] == DELIVERED else {}


# -- delivery ----------------------------------------------------------------------------------------------------


def deliver_pending(
    config: ProjectConfig, sink: WebhookSink, now: datetime, model: str | None = None
) -> dict[str, str]:
    """Post the pending tickets (of `model`, or all) oldest first, and those opened before the config named a
    tracker (`no_sink`); returns ticket id -> delivery status. A ticket the tracker cannot take now stays pending,
    and the rest wait for the next call too (a tracker that is down is not hammered once per ticket). A 4xx answer
    is final: `rejected`, with the status, for a person to see.
    Deliverers take turns (the sensor and `tickets deliver` at once): the second finds the first's tickets
    delivered, so each is posted once."""
    outcome = {}
    with delta.lake_lock(catalog.lake_of(config), "deliveries"):  # two deliverers at once post each ticket once
        pending = read_tickets(config, model).filter(pl.col("delivery_status").is_in([PENDING, NO_SINK]))
        for row in pending.iter_rows(named=True):
            result = deliver(sink, row)
            status = {"delivered": DELIVERED, "rejected": REJECTED}.get(result.status, PENDING)
            with custody(config, "tickets"):
                current = ticket(config, row["ticket_id"])  # a review may have updated it meanwhile
                changed = current | {
                    "delivery_status": status,
                    "delivery_attempts": (current["delivery_attempts"] or 0) + result.attempts,
                    "http_status": result.http_status,
                    "delivery_error": result.error,
                    "external_ref": result.external_ref or current["external_ref"],
                    "delivered_at": now if status == DELIVERED else current["delivered_at"],
                }
                _save(config, changed, f"ticket_{status}", now)
            outcome[row["ticket_id"]] = status
            if status == PENDING:
                break
    return outcome


# -- people ------------------------------------------------------------------------------------------------------


def acknowledge(config: ProjectConfig, ticket_id_: str, by: str, now: datetime) -> dict[str, Any]:
    with custody(config, "tickets"):
        row = ticket(config, ticket_id_)
        if row["status"] != OPEN:
            raise TicketError(f"ticket {ticket_id_} is {row['status']}; only an open ticket can be acknowledged")
        changed = row | {"status": ACKNOWLEDGED, "acknowledged_by": by, "acknowledged_at": now, "updated_at": now}
        _save(config, changed, "ticket_acknowledge", now, by)
    return changed


def resolve(config: ProjectConfig, ticket_id_: str, reason: str, by: str, now: datetime) -> dict[str, Any]:
    if not reason.strip():
        raise TicketError("a resolution needs a reason")
    with custody(config, "tickets"):
        row = ticket(config, ticket_id_)
        if row["status"] == RESOLVED:
            raise TicketError(f"ticket {ticket_id_} is already resolved")
        changed = row | {
            "status": RESOLVED,
            "resolved_by": by,
            "resolved_at": now,
            "resolution": reason,
            "updated_at": now,
        }
        _save(config, changed, "ticket_resolve", now, by)
    return changed
