"""The HTTP shapes of event intake: the event posted, and the decision answered."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from runbook.params import NO_NUL

# History windows reach 90 days back from an event; these bounds keep every date arithmetic
# of enrichment inside what datetime and the databases can hold.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


class Event(BaseModel):
    """One business event. Idempotent on `(source, id)`."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200, pattern=NO_NUL,
                    description="The sender's id of the event")
    source: str = Field(
        default="api", min_length=1, max_length=100, pattern=NO_NUL,
        description="Who sent it (shopify, …)",
    )
    type: str = Field(min_length=1, max_length=100, pattern=NO_NUL,
                      description="e.g. return.requested")
    occurred_at: AwareDatetime = Field(description="When it happened (with a time zone), "
                                       "between 1970 and 9000")
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("occurred_at")
    @classmethod
    def _within_bounds(cls, moment: datetime) -> datetime:
        try:
            utc = moment.astimezone(UTC)
        except OverflowError:
            utc = None
        if utc is None or not EARLIEST <= utc <= LATEST:
            raise ValueError("occurred_at must be between 1970-01-01 and 9000-01-01")
        return moment

    @field_validator("data")
    @classmethod
    def _no_nul(cls, data: dict[str, Any]) -> dict[str, Any]:
        if _has_nul(data):
            raise ValueError("text in data cannot contain the NUL character")
        return data


def _has_nul(value: Any) -> bool:
    try:  # fast path in C: JSON escapes a NUL as \u0000 (so may a literal backslash-u0000)
        if "\\u0000" not in json.dumps(value):
            return False
    except (TypeError, ValueError):
        pass
    return _has_nul_in(value)


def _has_nul_in(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul_in(k) or _has_nul_in(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul_in(item) for item in value)
    return False


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
