"""The audit log (append-only, hash-chained) and its head row (last sequence number and hash)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from runbook.db import Base, BigId, UtcDateTime

GENESIS_HASH = "0" * 64


class AuditEntry(Base):
    """One audit entry. `hash` = sha256(canonical JSON of the fields and `prev_hash`)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_kind_seq", "kind", "seq"),
        Index("ix_audit_log_ruleset_version", "ruleset", "version"),
        Index("ix_audit_log_run_id", "run_id"),
        Index("ix_audit_log_order_id", "order_id"),
        Index("ix_audit_log_action_id", "action_id"),
        Index("ix_audit_log_at", "at"),
    )

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(500))
    ruleset: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int | None] = mapped_column(Integer)
    run_id: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(200))
    action_id: Mapped[str | None] = mapped_column(String(120))
    # plain JSON (text kept as written) so the hashed values read back identically
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    def __repr__(self) -> str:
        return f"<AuditEntry {self.seq} {self.kind} {self.subject}>"


class AuditHead(Base):
    """The single row (id 1) holding the chain's last sequence number and hash. Appenders lock
    it, which also detects a truncated tail on verify."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigId)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditPending(Base):
    """An audit entry committed with its business transaction, not yet in the chain.

    Writers insert here without touching the chain head (`runbook.audit.enqueue`); the chain
    appender moves rows into `audit_log`, in id order, in batches (`runbook.audit.flush_pending`).
    """

    __tablename__ = "audit_pending"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(500))
    ruleset: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int | None] = mapped_column(Integer)
    run_id: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(200))
    action_id: Mapped[str | None] = mapped_column(String(120))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
