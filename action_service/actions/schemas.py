"""Pydantic models at the boundaries: the command coming in (docs/commands.md) and the HTTP
answers going out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.base import CATALOGUE
from runbook.params import NO_NUL


class Command(BaseModel):
    """One action command. Unknown fields are kept (forward compatible)."""

    model_config = ConfigDict(extra="allow")

    command_id: str = Field(min_length=1, max_length=120)
    idempotency_key: str = Field(min_length=1, max_length=120)
    run_id: str = Field(min_length=1, max_length=64)
    index: int = Field(ge=0)
    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    event_id: str | None = None
    event_source: str | None = None
    event_type: str | None = None
    occurred_at: datetime | None = None
    ruleset: str | None = None
    version: int | None = None
    table: str | None = None
    row: str | None = None
    delay_seconds: float | None = Field(default=None, ge=0)
    approval: str | None = None
    order_id: str | None = None
    customer_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @field_validator("action")
    @classmethod
    def _known_action(cls, value: str) -> str:
        if value not in CATALOGUE:
            raise ValueError(f"unknown action {value!r}")
        return value

    @field_validator("created_at", "occurred_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    worker: str
    system: str | None
    outcome: str
    status_code: int | None
    error: str | None
    requests: list[dict[str, Any]]
    started_at: datetime
    duration_ms: float


class ActionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    idempotency_key: str
    run_id: str
    index: int
    action: str
    params: dict[str, Any]
    status: str
    system: str | None
    ruleset: str | None
    version: int | None
    order_id: str | None
    customer_id: str | None
    approval: str | None
    decided_by: str | None
    decided_at: datetime | None
    attempts: int
    due_at: datetime
    last_error: str | None
    result: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class ActionDetail(ActionOut):
    attempt_log: list[AttemptOut] = Field(default_factory=list)


class ActionPage(BaseModel):
    items: list[ActionOut]
    next_cursor: str | None = None


class DecisionIn(BaseModel):
    """Body of approve / reject / retry (optional)."""

    comment: str | None = Field(default=None, max_length=2000, pattern=NO_NUL)
