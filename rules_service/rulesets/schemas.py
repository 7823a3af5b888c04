"""Ruleset and version shapes at the HTTP boundary."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from runbook.params import NO_NUL

Status = Literal["draft", "approved", "live", "retired"]


class ProblemOut(BaseModel):
    sheet: str
    cell: str
    message: str
    severity: str = "error"
    where: str = Field(description="`sheet!cell`, or the sheet alone")


class ApprovalOut(BaseModel):
    approver: str
    approved_at: datetime
    comment: str | None = None


class ColumnOut(BaseModel):
    kind: str
    name: str
    letter: str


class RowOut(BaseModel):
    row: int
    ref: str = Field(description="`sheet!row`, as traces name it")
    cells: list[str]


class TableOut(BaseModel):
    name: str
    sheet: str
    triggers: list[str]
    hit_policy: str
    description: str = ""
    risk: str = ""
    columns: list[ColumnOut]
    rows: list[RowOut]


class VersionSummary(BaseModel):
    ruleset: str
    version: int
    status: Status
    sha256: str
    author: str
    created_at: datetime
    content_type: str
    size: int
    triggers: list[str]
    moves_money: bool
    tests_passed: bool
    table_count: int
    row_count: int
    live_percent: int = Field(description="Percent of routing keys this version decides now.")
    approvals: list[ApprovalOut]


class VersionOut(VersionSummary):
    warnings: list[ProblemOut]
    test_failures: list[ProblemOut]
    tables: list[TableOut]


class RulesetOut(BaseModel):
    name: str
    created_at: datetime
    created_by: str
    latest_version: int | None
    current_version: int | None
    current_percent: int
    previous_version: int | None
    live_history: list[int]


class PublicationEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    action: str
    version: int
    percent: int
    previous_version: int | None
    actor: str
    at: datetime


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    percent: int = Field(default=100, ge=1, le=100,
                         description="Share of routing keys the version decides; 100 = fully live")


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=2000, pattern=NO_NUL)


class PublicationOut(BaseModel):
    ruleset: str
    current_version: int | None
    current_percent: int
    previous_version: int | None
    version: VersionSummary


class BacktestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    last: int = Field(default=1000, ge=1, le=100_000,
                      description="How many of the latest captured runs to replay")


class BacktestOut(BaseModel):
    ruleset: str
    version: int
    replayed: int
    changed: int
    unchanged: int
    errors: int = Field(description="Replayed runs the version could not decide")
    examples: list[dict[str, Any]] = Field(description="Up to 20 changed decisions, "
                                           "before and after")


class DiffOut(BaseModel):
    ruleset: str
    from_version: int
    to_version: int
    diff: dict[str, Any]
