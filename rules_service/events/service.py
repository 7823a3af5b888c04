"""Transaction boundaries of intake: decide a chunk, commit, then wake the relay.

A database that cannot be reached answers `ServiceUnavailable` (503): nothing was committed,
so the sender's retry of the same event is decided once when the database is back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.orm import Session

from rules_service.events import deciding, intake
from rules_service.events.schemas import (
    BatchItemError,
    BatchItemOut,
    BatchOut,
    DecisionOut,
    Event,
)
from rules_service.events.store import EventKey, event_key
from runbook.errors import RunbookError, Unprocessable
from runbook.http import unavailable_database

OnCommit = Callable[[], None]


@contextmanager
def database_errors(session: Session) -> Iterator[None]:
    """Rolls back on any error; an unreachable database becomes ServiceUnavailable."""
    try:
        yield
    except DataError as error:  # e.g. a NUL character PostgreSQL JSON cannot hold
        _rollback_quietly(session)
        raise Unprocessable("the event cannot be stored", details=str(error.orig)[:500]) from error
    except DBAPIError as error:
        _rollback_quietly(session)
        unavailable = unavailable_database(error)
        if unavailable is not None:
            raise unavailable from error
        raise
    except BaseException:
        _rollback_quietly(session)
        raise


def _rollback_quietly(session: Session) -> None:
    try:
        session.rollback()
    except Exception:  # noqa: BLE001, S110 - the connection is gone already
        pass


def accept_one(
    *,
    session: Session,
    event: Event,
    registry: deciding.Registry,
    actor: str,
    on_commit: OnCommit,
) -> intake.Accepted:
    """Decides one event and commits its run and commands (or answers the first decision)."""
    with database_errors(session):
        accepted = intake.accept(session=session, events=[event], registry=registry, actor=actor)
        session.commit()
    if intake.queued_commands(accepted.values()):
        on_commit()
    return accepted[event_key(event)]


def dry_run(*, session: Session, event: Event, registry: deciding.Registry) -> DecisionOut:
    with database_errors(session):
        answer = intake.dry_run(session=session, event=event, registry=registry)
        session.rollback()  # read only: leave nothing behind
    return answer


def accept_batch(
    *,
    session: Session,
    items: Sequence[Any],
    registry: deciding.Registry,
    actor: str,
    chunk_size: int,
    max_items: int,
    on_commit: OnCommit,
) -> BatchOut:
    """Validates every item, decides the valid ones a chunk per transaction, and answers one
    result per item in input order (its decision, or its own error)."""
    if len(items) > max_items:
        raise Unprocessable(f"{len(items)} events in one batch; at most {max_items}")
    results: dict[int, BatchItemOut] = {}
    valid: list[tuple[int, Event]] = []
    for index, item in enumerate(items):
        parsed = _parse(index, item)
        if isinstance(parsed, Event):
            valid.append((index, parsed))
        else:
            results[index] = parsed
    for start in range(0, len(valid), chunk_size):
        chunk = valid[start : start + chunk_size]
        results.update(_accept_chunk(session, chunk, registry, actor, on_commit))
    ordered = [results[i] for i in range(len(items))]
    return BatchOut(
        accepted=sum(1 for r in ordered if r.status == 200 and not r.duplicate),
        duplicates=sum(1 for r in ordered if r.duplicate),
        failed=sum(1 for r in ordered if r.status != 200),
        results=ordered,
    )


def _parse(index: int, item: Any) -> Event | BatchItemOut:
    try:
        return Event.model_validate(item)
    except ValidationError as error:
        event_id = item.get("id") if isinstance(item, dict) else None
        return BatchItemOut(
            index=index,
            event_id=event_id if isinstance(event_id, str) else None,
            status=422,
            error=BatchItemError(
                code="invalid",
                message="not a valid event",
                details=error.errors(include_url=False, include_context=False),
            ),
        )


def _accept_chunk(
    session: Session,
    chunk: Sequence[tuple[int, Event]],
    registry: deciding.Registry,
    actor: str,
    on_commit: OnCommit,
) -> dict[int, BatchItemOut]:
    events = [event for _, event in chunk]
    try:
        with database_errors(session):
            accepted = intake.accept(session=session, events=events, registry=registry, actor=actor)
            session.commit()
    except RunbookError as error:
        return {i: _failed(i, e, error.status_code, error.code, error.message) for i, e in chunk}
    on_commit()
    answers = intake.in_order(events, accepted)
    return {index: _succeeded(index, a) for (index, _), a in zip(chunk, answers, strict=True)}


def _succeeded(index: int, accepted: intake.Accepted) -> BatchItemOut:
    decision = accepted.decision
    return BatchItemOut(
        index=index,
        event_id=decision.event_id,
        status=200,
        duplicate=accepted.duplicate,
        decision=decision,
    )


def _failed(index: int, event: Event, status: int, code: str, message: str) -> BatchItemOut:
    return BatchItemOut(
        index=index,
        event_id=event.id,
        status=status,
        error=BatchItemError(code=code, message=message),
    )


__all__ = ["EventKey", "accept_batch", "accept_one", "database_errors", "dry_run"]
