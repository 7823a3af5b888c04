"""The action record: persisting commands, claiming, recording attempts, approvals, retries.

Every function takes the caller's session (keyword-only) and joins its transaction; audit
entries are appended in the same transaction as the change they describe.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from action_service.actions.models import RUNNABLE, Action, ActionAttempt, Status
from action_service.actions.schemas import Command
from connectors.http import Outcome, Result
from runbook import audit
from runbook.errors import Conflict, NotFound

ACTOR = "action_service"
MAX_PAGE = 500


def now_utc() -> datetime:
    return datetime.now(UTC)


def _rowcount(result: Any) -> int:
    """Rows an UPDATE matched (a CursorResult's rowcount)."""
    return int(result.rowcount)


# ------------------------------------------------------------------------------- intake


def _row(command: Command, received: datetime) -> dict[str, Any]:
    delay = timedelta(seconds=command.delay_seconds or 0)
    status = Status.PENDING_APPROVAL if command.approval else Status.PENDING
    return {
        "id": command.command_id,
        "idempotency_key": command.idempotency_key,
        "run_id": command.run_id,
        "index": command.index,
        "action": command.action,
        "params": command.params,
        "command": command.model_dump(mode="json"),
        "ruleset": command.ruleset,
        "version": command.version,
        "order_id": command.order_id,
        "customer_id": command.customer_id,
        "status": status.value,
        "approval": command.approval,
        "attempts": 0,
        "revision": 0,
        "due_at": command.created_at + delay,
        "created_at": command.created_at,
        "received_at": received,
        "updated_at": received,
    }


def persist(*, session: Session, commands: Sequence[Command]) -> list[str]:
    """Inserts the commands not recorded yet (by idempotency key); answers the new ids.
    A command delivered twice is recorded once."""
    if not commands:
        return []
    received = now_utc()
    unique = {c.idempotency_key: c for c in commands}
    rows = [_row(c, received) for c in unique.values()]
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (insert(Action).values(rows)
                 .on_conflict_do_nothing(index_elements=["idempotency_key"])
                 .returning(Action.id))
    inserted = list(session.scalars(statement))
    by_id = {c.command_id: c for c in unique.values()}
    for action_id in inserted:
        command = by_id[action_id]
        if command.approval or command.delay_seconds:
            _audit_received(session, command)  # what waits is recorded now; the rest when run
    return inserted


def _audit_received(session: Session, command: Command) -> None:
    kind = "action.pending_approval" if command.approval else "action.queued"
    audit.append(session=session, actor=ACTOR, kind=kind, subject=command.action,
                 data={"params": command.params, "delay_seconds": command.delay_seconds,
                       "approval": command.approval, "table": command.table,
                       "row": command.row},
                 ruleset=command.ruleset, version=command.version, run_id=command.run_id,
                 order_id=command.order_id, action_id=command.command_id)


# the columns `record` and `_audit` need (not the command and its data: less to load)
_HEAD = (Action.id, Action.action, Action.status, Action.revision, Action.ruleset,
         Action.version, Action.run_id, Action.order_id)


def _audit(session: Session, action: Any, kind: str, data: dict[str, Any],
           actor: str = ACTOR) -> None:
    audit.append(session=session, actor=actor, kind=kind, subject=action.action, data=data,
                 ruleset=action.ruleset, version=action.version, run_id=action.run_id,
                 order_id=action.order_id, action_id=action.id)


# ------------------------------------------------------------------------------ claiming


@dataclass(frozen=True, slots=True)
class Claim:
    action_id: str
    owner: str
    revision: int
    attempt: int
    command: dict[str, Any]
    reclaimed: bool  # the previous owner's lease expired mid-call: the outcome is unknown


def _claimable(action: Action, now: datetime) -> bool | None:
    """None: not claimable; False: a fresh claim; True: taking over an expired lease."""
    if action.status in RUNNABLE and action.due_at <= now:
        return False
    if action.status == Status.IN_PROGRESS and (action.lease_until is None
                                                or action.lease_until < now):
        return True
    return None


def claim(*, session: Session, action_id: str, owner: str, lease_seconds: float,
          now: datetime | None = None) -> Claim | None:
    """Moves a due action to in_progress under `owner`'s lease; None when it is not due, done,
    or another worker got it first (compare-and-set on `revision`)."""
    now = now or now_utc()
    action = session.get(Action, action_id, populate_existing=True)
    if action is None:
        return None
    reclaimed = _claimable(action, now)
    if reclaimed is None:
        return None
    attempt = action.attempts if reclaimed else action.attempts + 1
    changed = _rowcount(session.execute(
        update(Action)
        .where(Action.id == action_id, Action.revision == action.revision)
        .values(status=Status.IN_PROGRESS.value, lease_owner=owner,
                lease_until=now + timedelta(seconds=lease_seconds), attempts=attempt,
                revision=action.revision + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    ))
    if changed != 1:
        return None
    return Claim(action_id, owner, action.revision + 1, attempt, dict(action.command), reclaimed)


def due_ids(*, session: Session, limit: int = 100, now: datetime | None = None) -> list[str]:
    """Actions a worker may take now: runnable and due, or in progress past their lease."""
    now = now or now_utc()
    statement = (
        select(Action.id)
        .where(or_(and_(Action.status.in_(RUNNABLE), Action.due_at <= now),
                   and_(Action.status == Status.IN_PROGRESS.value, Action.lease_until < now)))
        .order_by(Action.due_at)
        .limit(limit)
    )
    return list(session.scalars(statement))


# ------------------------------------------------------------------------------ recording


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter (half to full), never shorter than Retry-After."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** max(attempt - 1, 0))
        delay = random.uniform(ceiling / 2, ceiling)
        return max(delay, retry_after or 0.0)


def record(*, session: Session, claim: Claim, result: Result, system: str | None,
           started_at: datetime, duration_ms: float, policy: RetryPolicy,
           now: datetime | None = None) -> str:
    """Records one attempt and moves the action on; answers the new status. The move is fenced
    by the claim's revision: when another worker took the action meanwhile, the attempt is
    still recorded but the status is left to that worker."""
    now = now or now_utc()
    action = session.execute(select(*_HEAD).where(Action.id == claim.action_id)).one_or_none()
    if action is None:
        raise NotFound(f"no action {claim.action_id}")
    session.add(ActionAttempt(
        action_id=action.id, number=claim.attempt, worker=claim.owner, system=system,
        outcome=result.outcome.value, status_code=result.status, error=result.error,
        requests=[r.to_dict() for r in result.requests], started_at=started_at,
        duration_ms=duration_ms))
    attempt_data = {"attempt": claim.attempt, "system": system, **result.to_dict()}
    if action.revision != claim.revision:
        _audit(session, action, "action.attempt", attempt_data)
        return action.status
    status, values = _next_state(action, claim, result, policy, now)
    values.update(status=status, revision=action.revision + 1, updated_at=now, system=system,
                  lease_owner=None, lease_until=None)
    session.execute(update(Action).where(Action.id == action.id).values(**values)
                    .execution_options(synchronize_session=False))
    # One entry per attempt, last in the transaction (the chain's lock is then held only to
    # the commit): `action.attempt` for a failed attempt to be retried, `action.succeeded` /
    # `action.dead` (the attempt's details and the result) for the final one.
    kind = "action.attempt" if status == Status.FAILED else f"action.{status}"
    _audit(session, action, kind, attempt_data)
    return status


def _next_state(action: Any, claim: Claim, result: Result, policy: RetryPolicy,
                now: datetime) -> tuple[str, dict[str, Any]]:
    if result.outcome is Outcome.SUCCESS:
        return Status.SUCCEEDED.value, {"result": result.to_dict(), "last_error": None,
                                        "completed_at": now}
    if result.outcome is Outcome.PERMANENT or claim.attempt >= policy.max_attempts:
        return Status.DEAD.value, {"last_error": result.error, "result": result.to_dict(),
                                   "completed_at": now}
    delay = policy.delay(claim.attempt, result.retry_after)
    return Status.FAILED.value, {"last_error": result.error,
                                 "due_at": now + timedelta(seconds=delay)}


def mark_unknown(*, session: Session, claim: Claim, system: str | None,
                 now: datetime | None = None) -> str:
    """The previous worker stopped during a call to a system without idempotency support:
    calling again could do it twice, so the action is dead-lettered for a person to check."""
    now = now or now_utc()
    error = (f"outcome unknown: a worker stopped during attempt {claim.attempt}; {system} "
             "takes no idempotency key, so it is not repeated automatically. Check the "
             "system, then retry or leave it.")
    action = session.get(Action, claim.action_id, populate_existing=True)
    if action is None or action.revision != claim.revision:
        return action.status if action else Status.DEAD.value
    session.execute(update(Action).where(Action.id == action.id).values(
        status=Status.DEAD.value, last_error=error, lease_owner=None, lease_until=None,
        revision=action.revision + 1, updated_at=now, completed_at=now, system=system)
        .execution_options(synchronize_session=False))
    _audit(session, action, "action.dead", {"attempts": claim.attempt, "error": error,
                                            "unknown_outcome": True})
    return Status.DEAD.value


# -------------------------------------------------------------------- approvals and retries


def _get(session: Session, action_id: str) -> Action:
    action = session.get(Action, action_id, with_for_update=True, populate_existing=True)
    if action is None:
        raise NotFound(f"no action {action_id!r}")
    return action


def _move(session: Session, action: Action, **values: Any) -> None:
    changed = _rowcount(session.execute(
        update(Action).where(Action.id == action.id, Action.revision == action.revision)
        .values(revision=action.revision + 1, **values)
        .execution_options(synchronize_session=False)))
    if changed != 1:
        raise Conflict(f"action {action.id} changed meanwhile; try again")
    session.refresh(action)


def approve(*, session: Session, action_id: str, actor: str, comment: str | None = None,
            now: datetime | None = None) -> Action:
    now = now or now_utc()
    action = _get(session, action_id)
    if action.status != Status.PENDING_APPROVAL:
        raise Conflict(f"action {action_id} is {action.status}, not pending_approval")
    _move(session, action, status=Status.PENDING.value, decided_by=actor, decided_at=now,
          updated_at=now)
    _audit(session, action, "action.approved", {"comment": comment}, actor=actor)
    return action


def reject(*, session: Session, action_id: str, actor: str, comment: str | None = None,
           now: datetime | None = None) -> Action:
    now = now or now_utc()
    action = _get(session, action_id)
    if action.status != Status.PENDING_APPROVAL:
        raise Conflict(f"action {action_id} is {action.status}, not pending_approval")
    _move(session, action, status=Status.REJECTED.value, decided_by=actor, decided_at=now,
          updated_at=now, completed_at=now)
    _audit(session, action, "action.rejected", {"comment": comment}, actor=actor)
    return action


def retry(*, session: Session, action_id: str, actor: str, comment: str | None = None,
          now: datetime | None = None) -> Action:
    """A dead action runs again (attempts start over)."""
    now = now or now_utc()
    action = _get(session, action_id)
    if action.status != Status.DEAD:
        raise Conflict(f"action {action_id} is {action.status}; only dead actions are retried")
    _move(session, action, status=Status.PENDING.value, attempts=0, due_at=now,
          completed_at=None, updated_at=now)
    _audit(session, action, "action.retried", {"comment": comment}, actor=actor)
    return action


def expire_approvals(*, session: Session, expiry_seconds: float,
                     now: datetime | None = None, limit: int = 100) -> list[str]:
    """Approval-gated actions older than the expiry become expired (recorded in the audit)."""
    now = now or now_utc()
    cutoff = now - timedelta(seconds=expiry_seconds)
    stale = list(session.scalars(
        select(Action).where(Action.status == Status.PENDING_APPROVAL.value,
                             Action.received_at < cutoff).limit(limit)))
    expired = []
    for action in stale:
        changed = _rowcount(session.execute(
            update(Action).where(Action.id == action.id, Action.revision == action.revision)
            .values(status=Status.EXPIRED.value, revision=action.revision + 1, updated_at=now,
                    completed_at=now, last_error="approval expired")
            .execution_options(synchronize_session=False)))
        if changed == 1:
            _audit(session, action, "action.expired", {"expiry_seconds": expiry_seconds})
            expired.append(action.id)
    return expired


# ---------------------------------------------------------------------------------- reads


def get(*, session: Session, action_id: str) -> tuple[Action, list[ActionAttempt]]:
    action = session.get(Action, action_id)
    if action is None:
        raise NotFound(f"no action {action_id!r}")
    attempts = list(session.scalars(select(ActionAttempt)
                                    .where(ActionAttempt.action_id == action_id)
                                    .order_by(ActionAttempt.id)))
    return action, attempts


def list_actions(*, session: Session, run_id: str | None = None, status: str | None = None,
                 action: str | None = None, order_id: str | None = None,
                 after: str | None = None, limit: int = 100) -> list[Action]:
    statement = select(Action)
    for column, value in ((Action.run_id, run_id), (Action.status, status),
                          (Action.action, action), (Action.order_id, order_id)):
        if value is not None:
            statement = statement.where(column == value)
    if after is not None:
        statement = statement.where(Action.id > after)
    statement = statement.order_by(Action.id).limit(max(1, min(limit, MAX_PAGE)))
    return list(session.scalars(statement))


def counts_by_status(*, session: Session) -> dict[str, int]:
    from sqlalchemy import func

    rows = session.execute(select(Action.status, func.count()).group_by(Action.status)).all()
    return {str(status): int(count) for status, count in rows}


def oldest_due(*, session: Session, now: datetime | None = None) -> datetime | None:
    from sqlalchemy import func

    now = now or now_utc()
    return session.scalar(select(func.min(Action.due_at)).where(
        Action.status.in_(RUNNABLE), Action.due_at <= now))
