"""Helpers of the action_service tests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from action_service.actions.models import Action, ActionAttempt
from action_service.worker.stream import StreamWorker, stream_name
from runbook.audit import AuditEntry
from runbook.settings import Settings
from tests.conftest import REDIS_URL
from tests.fakes.environment import Fakes, fake_settings

FAST = {
    "action_backoff_base_seconds": 0.05,
    "action_backoff_max_seconds": 0.2,
    "action_poll_seconds": 0.05,
    "action_claim_idle_seconds": 1.0,
    "action_max_attempts": 3,
    "http_timeout_seconds": 0.5,
    "action_lease_seconds": 5.0,
}


def worker_settings(fakes: Fakes, pg_url: str, prefix: str, **overrides: Any) -> Settings:
    return fake_settings(fakes, database_url=pg_url, redis_url=REDIS_URL, redis_prefix=prefix,
                         **{**FAST, **overrides})


def wait_for(condition: Callable[[], Any], timeout: float = 15.0, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition}")
        time.sleep(every)


def xadd(client: redis.Redis, prefix: str, commands: list[dict[str, Any]]) -> None:
    pipe = client.pipeline(transaction=False)
    for cmd in commands:
        pipe.xadd(stream_name(prefix), {"command": json.dumps(cmd)})
    pipe.execute()


@contextmanager
def running_worker(settings: Settings, factory: sessionmaker[Session]) -> Iterator[StreamWorker]:
    client = redis.Redis.from_url(settings.redis_url or REDIS_URL)
    worker = StreamWorker(settings=settings, session_factory=factory, redis_client=client)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        client.close()


def action(factory: sessionmaker[Session], action_id: str) -> Action | None:
    with factory() as session:
        return session.get(Action, action_id)


def status_of(factory: sessionmaker[Session], action_id: str) -> str | None:
    row = action(factory, action_id)
    return row.status if row else None


def attempts_of(factory: sessionmaker[Session], action_id: str) -> list[ActionAttempt]:
    with factory() as session:
        return list(session.scalars(select(ActionAttempt).where(
            ActionAttempt.action_id == action_id).order_by(ActionAttempt.id)))


def count_by_status(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory() as session:
        rows = session.execute(select(Action.status, func.count()).group_by(Action.status))
        return {s: int(n) for s, n in rows}


def audit_kinds(factory: sessionmaker[Session], action_id: str) -> list[str]:
    with factory() as session:
        return list(session.scalars(select(AuditEntry.kind).where(
            AuditEntry.action_id == action_id).order_by(AuditEntry.seq)))
