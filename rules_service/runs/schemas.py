"""HTTP shapes of captured runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from rules_service.events.schemas import RulesetDecisionOut


class RunEventOut(BaseModel):
    id: str
    source: str
    type: str
    occurred_at: datetime
    data: dict[str, Any]


class RunSummaryOut(BaseModel):
    id: str
    event_id: str
    event_source: str
    event_type: str
    occurred_at: datetime
    order_id: str | None
    customer_id: str | None
    versions: list[dict[str, Any]] = Field(description="[{ruleset, version}] that decided it")
    rows: list[str] = Field(description="every matched row, `sheet!row`")
    action_count: int
    error_count: int
    created_at: datetime


class RunOut(BaseModel):
    """A run in full: the event, enriched values, versions, matched rows, outputs, actions."""

    id: str
    event: RunEventOut
    order_id: str | None
    customer_id: str | None
    enriched: dict[str, Any]
    versions: list[dict[str, Any]] = Field(description="[{ruleset, version}] that decided it")
    rows: list[str] = Field(description="every matched row, `sheet!row`")
    decisions: list[RulesetDecisionOut]
    timings: dict[str, Any]
    action_count: int
    error_count: int
    actor: str | None
    created_at: datetime


class RunPage(BaseModel):
    runs: list[RunSummaryOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")
