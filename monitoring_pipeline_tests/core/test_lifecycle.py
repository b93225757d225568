"""The lifecycle rules, as pure functions of an event history: each refuses what it must refuse."""

from datetime import UTC, datetime

import pytest

from monitoring_pipeline.core import lifecycle
from monitoring_pipeline.core.config import Governance
from monitoring_pipeline.core.lifecycle import Event, LifecycleError

T = [datetime(2026, 10, d, tzinfo=UTC) for d in range(1, 10)]
RULES = Governance()


def ev(version: str, event: str, day: int, recorded: int | None = None) -> Event:
    return Event(version, event, "someone", T[day], T[recorded if recorded is not None else day])


def test_approval_needs_another_person_and_an_evaluation() -> None:
    with pytest.raises(LifecycleError, match="four-eyes"):
        lifecycle.check_model_approval([], "1.0", "ana", "ana", 1, RULES)
    with pytest.raises(LifecycleError, match="no evaluation checkpoint"):
        lifecycle.check_model_approval([], "1.0", "ana", "bob", 0, RULES)
    lifecycle.check_model_approval([], "1.0", "ana", "ana", 0, Governance(four_eyes=False, require_eval=False))
    with pytest.raises(LifecycleError, match="only a registered version"):
        lifecycle.check_model_approval([ev("1.0", "approved", 0)], "1.0", "ana", "bob", 1, RULES)


def test_deployment_needs_an_approved_unretired_version() -> None:
    with pytest.raises(LifecycleError, match="not approved"):
        lifecycle.check_deployment([], "1.0", T[1], rollback=False)
    retired = [ev("1.0", "approved", 0), ev("1.0", "retired", 1)]
    with pytest.raises(LifecycleError, match="retired"):
        lifecycle.check_deployment(retired, "1.0", T[2], rollback=False)
    lifecycle.check_deployment([ev("1.0", "approved", 0)], "1.0", T[1], rollback=False)


def test_rollback_returns_to_an_earlier_deployment_only() -> None:
    history = [ev("1.0", "approved", 0), ev("1.0", "deployed", 1), ev("1.1", "approved", 2), ev("1.1", "deployed", 3)]
    lifecycle.check_deployment(history, "1.0", T[4], rollback=True)
    with pytest.raises(LifecycleError, match="already in force"):
        lifecycle.check_deployment(history, "1.1", T[4], rollback=True)
    never = [*history, ev("1.2", "approved", 4)]
    with pytest.raises(LifecycleError, match="never in force"):
        lifecycle.check_deployment(never, "1.2", T[5], rollback=True)
    with pytest.raises(LifecycleError, match="nothing is deployed"):
        lifecycle.check_deployment([ev("1.0", "approved", 0)], "1.0", T[1], rollback=True)


def test_the_version_in_force_is_the_latest_effective_one_whenever_it_was_recorded() -> None:
    # 1.1 recorded on day 8 but effective on day 3 (a backfilled history), 1.0 effective day 1.
    history = [ev("1.0", "deployed", 1), ev("1.1", "deployed", 3, recorded=8), ev("1.0", "rolled_back", 5)]
    at = {day: lifecycle.in_force(history, T[day], lifecycle.MODEL_ACTIVATIONS) for day in (0, 2, 4, 6)}
    assert at[0] is None
    assert [at[d].version for d in (2, 4, 6)] == ["1.0", "1.1", "1.0"]


def test_retiring_the_version_in_force_is_refused() -> None:
    history = [ev("1.0", "approved", 0), ev("1.0", "deployed", 1)]
    with pytest.raises(LifecycleError, match="is in force"):
        lifecycle.check_retirement(history, "1.0", T[2])
    with pytest.raises(LifecycleError, match="already retired"):
        lifecycle.check_retirement([ev("0.9", "retired", 0)], "0.9", T[2])


def test_definition_rules() -> None:
    with pytest.raises(LifecycleError, match="four-eyes"):
        lifecycle.check_definition_approval([], 1, "ana", "ana", RULES)
    with pytest.raises(LifecycleError, match="already approved"):
        lifecycle.check_definition_approval([ev(1, "approved", 0)], 1, "ana", "bob", RULES)
    history = [ev(1, "approved", 0), ev(2, "approved", 2)]
    with pytest.raises(LifecycleError, match="never approved"):
        lifecycle.check_definition_rollback(history, 3, T[3])
    with pytest.raises(LifecycleError, match="already active"):
        lifecycle.check_definition_rollback(history, 2, T[3])
    lifecycle.check_definition_rollback(history, 1, T[3])
