"""The HTTP shapes of event intake: the event posted, and the decision answered."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Event(BaseModel):
    """One business event. Idempotent on `(source, id)`."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200, description="The sender's id of the event")
    source: str = Field(
        default="api", min_length=1, max_length=100, description="Who sent it (shopify, …)"
    )
    type: str = Field(min_length=1, max_length=100, description="e.g. return.requested")
    occurred_at: AwareDatetime = Field(description="When it happened (with a time zone)")
    data: dict[str, Any] = Field(default_factory=dict)


class ActionOut(BaseModel):
    id: str = Field(description="`<run_id>:<index>`, also the command id in action_service")
    action: str
    params: dict[str, Any]
    status: str = "queued"
    table: str | None = None
    row: str | None = None
    delay_seconds: float | None = None
    approval: str | None = None


class TraceOut(BaseModel):
    table: str
    row: str
    outputs: dict[str, Any]


class DecisionErrorOut(BaseModel):
    code: str
    message: str
    table: str | None = None
    rows: list[str] = Field(default_factory=list)


class RulesetDecisionOut(BaseModel):
    ruleset: str
    version: int
    outputs: dict[str, Any] = Field(default_factory=dict)
    actions: list[ActionOut] = Field(default_factory=list)
    trace: list[TraceOut] = Field(default_factory=list)
    error: DecisionErrorOut | None = None


class DecisionOut(BaseModel):
    """The answer to an event: one entry per live ruleset listening to its type."""

    event_id: str
    source: str
    type: str
    run_id: str | None = Field(description="None for a dry run")
    enriched: dict[str, Any] = Field(default_factory=dict)
    decisions: list[RulesetDecisionOut] = Field(default_factory=list)


class BatchItemError(BaseModel):
    code: str
    message: str
    details: Any = None


class BatchItemOut(BaseModel):
    index: int
    event_id: str | None = None
    status: int = Field(description="HTTP-like status of this event: 200, 422, 503, …")
    duplicate: bool = Field(default=False, description="decided before: the first decision")
    decision: DecisionOut | None = None
    error: BatchItemError | None = None


class BatchOut(BaseModel):
    accepted: int
    duplicates: int
    failed: int
    results: list[BatchItemOut]
