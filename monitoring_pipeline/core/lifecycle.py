"""Lifecycle rules of model versions and of feature and prompt definitions, as pure functions of their history.

Model versions:  registered -> approved -> deployed -> retired. A deployment (or a rollback, which deploys an
earlier version again) is in force from its `effective_at` until the next one.
Definitions:     proposed -> approved. An approval (or a rollback to an earlier approved version) makes a
version active from its `effective_at` until the next one.

History is append-only: every action is a new event; the state is read off the events, never stored.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from monitoring_pipeline.core.config import Governance
from monitoring_pipeline.core.errors import MonitoringError

APPROVED, DEPLOYED, ROLLED_BACK, RETIRED = "approved", "deployed", "rolled_back", "retired"
MODEL_ACTIVATIONS = (DEPLOYED, ROLLED_BACK)
DEFINITION_ACTIVATIONS = (APPROVED, ROLLED_BACK)


class LifecycleError(MonitoringError, ValueError):
    """An action the lifecycle forbids; the message names the rule."""


@dataclass(frozen=True)
class Event:
    version: Hashable  # a model version ("1.1") or a definition version (3)
    event: str
    actor: str
    effective_at: datetime
    recorded_at: datetime


def events_from(rows: pl.DataFrame, version_column: str) -> list[Event]:
    """Events from registry rows: the version in `version_column`; event, actor and both times as named."""
    return [
        Event(r[version_column], r["event"], r["actor"], r["effective_at"], r["recorded_at"])
        for r in rows.iter_rows(named=True)
    ]


def in_force(events: Sequence[Event], at: datetime, activations: tuple[str, ...]) -> Event | None:
    """The activating event in force at `at`: the latest one effective at or before it (ties: the later
    recorded, then the later in `events`, wins)."""
    active = [(e.effective_at, e.recorded_at, i, e) for i, e in enumerate(events) if e.event in activations]
    chosen = max((a for a in active if a[0] <= at), key=lambda a: a[:3], default=None)
    return chosen[3] if chosen else None


def model_state(events: Sequence[Event], version: Hashable) -> str:
    """registered, approved, deployed (at some time) or retired."""
    seen = {e.event for e in events if e.version == version}
    if RETIRED in seen:
        return RETIRED
    if seen & set(MODEL_ACTIVATIONS):
        return DEPLOYED
    return APPROVED if APPROVED in seen else "registered"


def _four_eyes(governance: Governance, author: str, approver: str, what: str) -> None:
    if governance.four_eyes and author == approver:
        raise LifecycleError(f"four-eyes rule: {what} was authored by {author}; someone else must approve it")


def check_model_approval(
    events: Sequence[Event], version: Hashable, registered_by: str, approver: str, evaluations: int, rules: Governance
) -> None:
    state = model_state(events, version)
    if state != "registered":
        raise LifecycleError(f"version {version} is {state}; only a registered version can be approved")
    _four_eyes(rules, registered_by, approver, f"version {version}")
    if rules.require_eval and evaluations == 0:
        raise LifecycleError(f"version {version} has no evaluation checkpoint; record one before approving it")


def check_deployment(events: Sequence[Event], version: Hashable, at: datetime, rollback: bool) -> None:
    """A deployment needs an approved, unretired version; a rollback returns to a version that was in force
    before and is not in force now."""
    state = model_state(events, version)
    if state == "registered":
        raise LifecycleError(f"version {version} is not approved; it cannot be deployed")
    if state == RETIRED:
        raise LifecycleError(f"version {version} is retired; it cannot be deployed again")
    if not rollback:
        return
    current = in_force(events, at, MODEL_ACTIVATIONS)
    if current is None:
        raise LifecycleError("nothing is deployed, so there is nothing to roll back")
    if current.version == version:
        raise LifecycleError(f"version {version} is already in force")
    earlier = [e for e in events if e.version == version and e.event in MODEL_ACTIVATIONS and e.effective_at <= at]
    if not earlier:
        raise LifecycleError(f"version {version} was never in force; a rollback returns to an earlier deployment")


def check_retirement(events: Sequence[Event], version: Hashable, at: datetime) -> None:
    if model_state(events, version) == RETIRED:
        raise LifecycleError(f"version {version} is already retired")
    current = in_force(events, at, MODEL_ACTIVATIONS)
    if current is not None and current.version == version:
        raise LifecycleError(f"version {version} is in force; deploy or roll back to another version first")


def check_definition_approval(
    events: Sequence[Event], version: Hashable, proposed_by: str, approver: str, rules: Governance
) -> None:
    if any(e.version == version and e.event == APPROVED for e in events):
        raise LifecycleError(f"version {version} is already approved")
    _four_eyes(rules, proposed_by, approver, f"version {version}")


def check_definition_rollback(events: Sequence[Event], version: Hashable, at: datetime) -> None:
    if not any(e.version == version and e.event == APPROVED for e in events):
        raise LifecycleError(f"version {version} was never approved; a rollback returns to an approved version")
    current = in_force(events, at, DEFINITION_ACTIVATIONS)
    if current is not None and current.version == version:
        raise LifecycleError(f"version {version} is already active")
