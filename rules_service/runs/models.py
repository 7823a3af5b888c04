"""The runs table (one row per decided event) and run_decisions (one per ruleset decided)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from runbook.db import Base, BigId, Json


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("event_source", "event_id", name="uq_runs_event"),
        Index("ix_runs_order", "order_id", "id"),
        Index("ix_runs_customer", "customer_id", "id"),
        Index("ix_runs_type_time", "event_type", "occurred_at"),
        Index("ix_runs_time", "occurred_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_seq: Mapped[int] = mapped_column(BigId, ForeignKey("events.seq"), unique=True)
    event_source: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    order_id: Mapped[str | None] = mapped_column(String(200))
    customer_id: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(Json)
    enriched: Mapped[dict[str, Any]] = mapped_column(Json)
    decisions: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    timings: Mapped[dict[str, Any]] = mapped_column(Json)
    action_count: Mapped[int] = mapped_column(Integer)
    error_count: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RunDecision(Base):
    """Which ruleset versions decided a run: indexes `GET /v1/runs?ruleset=&version=`."""

    __tablename__ = "run_decisions"
    __table_args__ = (Index("ix_run_decisions_version", "ruleset", "version", "run_id"),)

    run_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    ruleset: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
