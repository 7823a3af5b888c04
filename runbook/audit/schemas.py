"""Pydantic shapes of the audit log at the HTTP boundary and of `verify`'s answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ProblemKind = Literal["modified", "missing", "chain_broken", "truncated", "head_mismatch"]


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: datetime
    actor: str
    kind: str
    subject: str
    ruleset: str | None = None
    version: int | None = None
    run_id: str | None = None
    order_id: str | None = None
    action_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    next_after: int | None = Field(
        default=None, description="Pass as `after` to read the next page; null on the last page."
    )


class VerifyProblem(BaseModel):
    seq: int
    kind: ProblemKind
    message: str


class VerifyResult(BaseModel):
    ok: bool
    checked: int = Field(description="Entries read.")
    last_seq: int = Field(description="Sequence number of the last entry read (0 when empty).")
    last_hash: str
    first_bad_seq: int | None = Field(
        default=None, description="The first sequence number where the chain does not hold."
    )
    problems: list[VerifyProblem] = Field(default_factory=list)
