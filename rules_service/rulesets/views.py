"""Database rows → the response shapes of `schemas`."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from rules_service.rulesets import service
from rules_service.rulesets.models import Approval, Ruleset, RulesetVersion
from rules_service.rulesets.rollout import PublicationState
from rules_service.rulesets.schemas import (
    ApprovalOut,
    ColumnOut,
    ProblemOut,
    RowOut,
    RulesetOut,
    TableOut,
    VersionOut,
    VersionSummary,
)


def ruleset_out(row: Ruleset, latest: int | None) -> RulesetOut:
    state = service.state_of(row)
    return RulesetOut(
        name=row.name,
        created_at=row.created_at,
        created_by=row.created_by,
        latest_version=latest,
        current_version=state.current,
        current_percent=state.percent if state.current is not None else 0,
        previous_version=state.previous,
        live_history=state.history,
    )


def summaries(session: Session, name: str, rows: list[RulesetVersion]) -> list[VersionSummary]:
    state = service.state_of(service.get_ruleset(session=session, name=name))
    approvals = service.approvals_of(session=session, name=name, versions=[r.version for r in rows])
    return [summary(r, state, approvals.get(r.version, [])) for r in rows]


def version_out(session: Session, row: RulesetVersion) -> VersionOut:
    state = service.state_of(service.get_ruleset(session=session, name=row.ruleset))
    approvals = service.approvals_of(session=session, name=row.ruleset, versions=[row.version])
    base = summary(row, state, approvals[row.version])
    return VersionOut(
        **base.model_dump(),
        warnings=[ProblemOut(**p) for p in row.warnings],
        test_failures=[ProblemOut(**p) for p in row.test_failures],
        tables=[_table(t) for t in row.normalized.get("tables", [])],
    )


def summary(row: RulesetVersion, state: PublicationState,
            approvals: list[Approval]) -> VersionSummary:
    return VersionSummary(
        ruleset=row.ruleset,
        version=row.version,
        status=service.status_of(row, state, bool(approvals)),  # type: ignore[arg-type]
        sha256=row.sha256,
        author=row.author,
        created_at=row.created_at,
        content_type=row.content_type,
        size=row.size,
        triggers=list(row.triggers),
        moves_money=row.moves_money,
        tests_passed=not row.test_failures,
        table_count=row.table_count,
        row_count=row.row_count,
        live_percent=state.traffic(row.version),
        approvals=[ApprovalOut(approver=a.approver, approved_at=a.created_at, comment=a.comment)
                   for a in approvals],
    )


def _table(doc: dict[str, Any]) -> TableOut:
    sheet = doc.get("sheet", "")
    return TableOut(
        name=doc.get("name", ""),
        sheet=sheet,
        triggers=list(doc.get("triggers", [])),
        hit_policy=doc.get("hit_policy", ""),
        description=doc.get("description", ""),
        risk=doc.get("risk", ""),
        columns=[ColumnOut(**c) for c in doc.get("columns", [])],
        rows=[RowOut(row=r["row"], ref=f"{sheet}!{r['row']}", cells=list(r["cells"]))
              for r in doc.get("rules", [])],
    )
