"""Rulesets, their immutable versions, approvals, publication history, and the live generation.

A ruleset row carries its publication state: `current_version` takes `current_percent` of the
traffic (by routing-key bucket), `previous_version` the rest; `live_history` lists the versions
that were fully live, oldest first (rollback walks it back). `live_generation` (one row) counts
every change of what is live, so replicas notice one by polling a single integer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from runbook.db import Base, BigId, UtcDateTime


class Ruleset(Base):
    __tablename__ = "rulesets"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    current_version: Mapped[int | None] = mapped_column(Integer)
    current_percent: Mapped[int] = mapped_column(Integer, default=0)
    previous_version: Mapped[int | None] = mapped_column(Integer)
    live_history: Mapped[list[int]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RulesetVersion(Base):
    __tablename__ = "ruleset_versions"
    __table_args__ = (
        UniqueConstraint("ruleset", "version", name="uq_ruleset_versions_ruleset_version"),
        UniqueConstraint("ruleset", "sha256", name="uq_ruleset_versions_ruleset_sha256"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ruleset: Mapped[str] = mapped_column(String(100), ForeignKey("rulesets.name"))
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(200))
    author_key_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    content_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    normalized: Mapped[dict[str, Any]] = mapped_column(JSON)
    warnings: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    test_failures: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    triggers: Mapped[list[str]] = mapped_column(JSON)
    moves_money: Mapped[bool] = mapped_column(Boolean)
    table_count: Mapped[int] = mapped_column(Integer)
    row_count: Mapped[int] = mapped_column(Integer)
    first_live_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Approval(Base):
    __tablename__ = "ruleset_approvals"
    __table_args__ = (
        ForeignKeyConstraint(
            ["ruleset", "version"],
            ["ruleset_versions.ruleset", "ruleset_versions.version"],
            name="fk_ruleset_approvals_version",
        ),
        UniqueConstraint("ruleset", "version", "approver_key_id",
                         name="uq_ruleset_approvals_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ruleset: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    approver: Mapped[str] = mapped_column(String(200))
    approver_key_id: Mapped[str] = mapped_column(String(40))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Publication(Base):
    """History of publication changes (publish, rollback), newest last."""

    __tablename__ = "ruleset_publications"
    __table_args__ = (Index("ix_ruleset_publications_ruleset", "ruleset", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ruleset: Mapped[str] = mapped_column(String(100), ForeignKey("rulesets.name"))
    action: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    percent: Mapped[int] = mapped_column(Integer)
    previous_version: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class LiveGeneration(Base):
    __tablename__ = "live_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(BigInteger)
