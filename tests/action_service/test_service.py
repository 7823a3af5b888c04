"""The action record: intake by idempotency key, claims, state changes, approvals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from action_service.actions import service
from action_service.actions.models import Status
from action_service.actions.schemas import Command
from action_service.actions.service import RetryPolicy
from connectors.http import Result
from runbook import audit
from runbook.db import session_scope
from runbook.errors import Conflict
from tests.fakes.fixtures import command


def test_persist_is_idempotent(db) -> None:
    cmd = Command.model_validate(command("post_slack", {"text": "x"}))
    with session_scope(db) as session:
        assert service.persist(session=session, commands=[cmd, cmd]) == [cmd.command_id]
    with session_scope(db) as session:
        assert service.persist(session=session, commands=[cmd]) == []
        assert len(service.list_actions(session=session)) == 1
        assert audit.verify(session=session).ok


def test_claim_is_exclusive_and_fenced(db) -> None:
    cmd = Command.model_validate(command("post_slack", {"text": "x"}))
    with session_scope(db) as session:
        service.persist(session=session, commands=[cmd])
    with session_scope(db) as session:
        first = service.claim(session=session, action_id=cmd.command_id, owner="a",
                              lease_seconds=60)
    with session_scope(db) as session:
        assert service.claim(session=session, action_id=cmd.command_id, owner="b",
                             lease_seconds=60) is None
    assert first is not None and first.attempt == 1 and not first.reclaimed
    later = datetime.now(UTC) + timedelta(seconds=61)
    with session_scope(db) as session:
        taken = service.claim(session=session, action_id=cmd.command_id, owner="b",
                              lease_seconds=60, now=later)
    assert taken is not None and taken.reclaimed
    policy = RetryPolicy(3, 0.01, 0.02)
    with session_scope(db) as session:  # the first owner's late result does not move the row
        status = service.record(session=session, claim=first, result=Result.success([]),
                                system="slack", started_at=datetime.now(UTC), duration_ms=1,
                                policy=policy)
    assert status == Status.IN_PROGRESS


def test_backoff_grows_with_jitter_and_honors_retry_after() -> None:
    policy = RetryPolicy(max_attempts=5, base_seconds=1.0, max_seconds=10.0)
    assert all(0.5 <= policy.delay(1, None) <= 1.0 for _ in range(50))
    assert all(2.0 <= policy.delay(3, None) <= 4.0 for _ in range(50))
    assert all(5.0 <= policy.delay(9, None) <= 10.0 for _ in range(50))
    assert policy.delay(1, 30.0) == 30.0


def test_approve_reject_retry_rules(db) -> None:
    gated = Command.model_validate(command("refund", approval="manager"))
    other = Command.model_validate(command("refund", approval="manager"))
    with session_scope(db) as session:
        service.persist(session=session, commands=[gated, other])
        assert service.due_ids(session=session) == []
    with session_scope(db) as session:
        service.approve(session=session, action_id=gated.command_id, actor="boss")
        service.reject(session=session, action_id=other.command_id, actor="boss")
    with session_scope(db) as session, pytest.raises(Conflict):
        service.approve(session=session, action_id=other.command_id, actor="boss")
    with session_scope(db) as session, pytest.raises(Conflict):
        service.retry(session=session, action_id=gated.command_id, actor="ops")
    with session_scope(db) as session:
        assert service.due_ids(session=session) == [gated.command_id]


def test_approvals_expire_with_a_recorded_outcome(db) -> None:
    gated = Command.model_validate(command("cancel_order", approval="manager"))
    with session_scope(db) as session:
        service.persist(session=session, commands=[gated])
    with session_scope(db) as session:
        assert service.expire_approvals(session=session, expiry_seconds=3600) == []
        later = datetime.now(UTC) + timedelta(hours=2)
        assert service.expire_approvals(session=session, expiry_seconds=3600,
                                        now=later) == [gated.command_id]
    with session_scope(db) as session:
        action, _ = service.get(session=session, action_id=gated.command_id)
        assert action.status == Status.EXPIRED
        kinds = [e.kind for e in audit.query(session=session, action_id=gated.command_id)]
        assert kinds == ["action.pending_approval", "action.expired"]


def test_unknown_action_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown action"):
        Command.model_validate(command("teleport"))
