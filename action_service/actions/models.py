"""`actions` (one row per command, keyed by its idempotency key) and `action_attempts`.

State machine:

    pending ──claim──► in_progress ──► succeeded
       ▲                   │  └──────► dead (permanent failure, attempts used up, or the
       │                   ▼                 outcome of a crashed call is unknown)
       └──(due_at)──── failed (transient; retried at due_at)
    pending_approval ──approve──► pending      ──reject──► rejected     ──expiry──► expired
    dead ──retry (ops)──► pending

`revision` increases with every change; updates compare it (optimistic concurrency, works on
PostgreSQL and SQLite alike), so two workers never both move the same row.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from runbook.db import Base, BigId, Json, UtcDateTime


class Status(StrEnum):
    PENDING = "pending"
    PENDING_APPROVAL = "pending_approval"
    IN_PROGRESS = "in_progress"
    FAILED = "failed"
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    REJECTED = "rejected"
    EXPIRED = "expired"


RUNNABLE = (Status.PENDING.value, Status.FAILED.value)
FINAL = frozenset({Status.SUCCEEDED, Status.DEAD, Status.REJECTED, Status.EXPIRED})


class Action(Base):
    __tablename__ = "actions"
    __table_args__ = (
        Index("ix_actions_status_due", "status", "due_at"),
        Index("ix_actions_run_id", "run_id"),
        Index("ix_actions_order_id", "order_id"),
        Index("ix_actions_action_status", "action", "status"),
    )

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    run_id: Mapped[str] = mapped_column(String(64))
    index: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(50))
    params: Mapped[dict[str, Any]] = mapped_column(Json)
    command: Mapped[dict[str, Any]] = mapped_column(Json)
    ruleset: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int | None] = mapped_column(Integer)
    order_id: Mapped[str | None] = mapped_column(String(200))
    customer_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(30))
    approval: Mapped[str | None] = mapped_column(String(50))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    system: Mapped[str | None] = mapped_column(String(50))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ActionAttempt(Base):
    __tablename__ = "action_attempts"
    __table_args__ = (Index("ix_action_attempts_action", "action_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    action_id: Mapped[str] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(200))
    system: Mapped[str | None] = mapped_column(String(50))
    outcome: Mapped[str] = mapped_column(String(20))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    requests: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    duration_ms: Mapped[float] = mapped_column()
