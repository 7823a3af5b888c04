"""pytest fixtures shared by tests/connectors and tests/action_service (import them into a
conftest): the running fakes, a migrated PostgreSQL database, command builders."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from runbook.db import make_engine, make_session_factory, migrate
from tests.fakes.environment import Fakes, running_fakes


@pytest.fixture(scope="session")
def fakes() -> Iterator[Fakes]:
    with running_fakes() as servers:
        yield servers


@pytest.fixture
def db(pg_url: str) -> Iterator[sessionmaker[Session]]:
    """A migrated PostgreSQL database (fresh per test) and its session factory."""
    migrate(pg_url)
    engine = make_engine(pg_url)
    yield make_session_factory(engine)
    engine.dispose()


def command(action: str, params: dict[str, Any] | None = None, *, run_id: str | None = None,
            index: int = 0, data: dict[str, Any] | None = None, delay: float | None = None,
            approval: str | None = None, created_at: datetime | None = None) -> dict[str, Any]:
    """A command as rules_service writes it (docs/commands.md)."""
    run = run_id or str(uuid.uuid4())
    identifier = f"{run}:{index}"
    order = (data or {}).get("order") or {}
    return {
        "command_id": identifier, "idempotency_key": identifier, "run_id": run, "index": index,
        "event_id": f"evt_{run[:8]}", "event_source": "test", "event_type": "order.placed",
        "occurred_at": datetime.now(UTC).isoformat(), "ruleset": "ops", "version": 1,
        "table": "t", "row": "t!7", "action": action, "params": params or {},
        "delay_seconds": delay, "approval": approval,
        "order_id": str(order["id"]) if "id" in order else None, "customer_id": None,
        "data": data or {}, "created_at": (created_at or datetime.now(UTC)).isoformat(),
    }
