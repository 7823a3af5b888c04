"""`GET /v1/audit` (JSON, or CSV with `Accept: text/csv`) and `GET /v1/audit/verify`."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from sqlalchemy.orm import Session

from rules_service.deps import SessionDep
from runbook import audit
from runbook.audit.schemas import AuditEntryOut, AuditPage, VerifyResult
from runbook.auth import Principal, require
from runbook.params import BIGINT_MAX, INT_MAX, NO_NUL, Moment

router = APIRouter(prefix="/v1/audit", tags=["audit"])
Auditor = Annotated[Principal, Depends(require("auditor"))]
Text = Annotated[str | None, Query(pattern=NO_NUL)]
CSV_COLUMNS = list(AuditEntryOut.model_fields)


@router.get("", response_model=AuditPage,
            responses={200: {"content": {"text/csv": {}},
                             "description": "JSON page, or CSV with Accept: text/csv"}})
def list_entries(
    session: SessionDep,
    _: Auditor,
    kind: Text = None,
    kind_prefix: Annotated[str | None, Query(description="e.g. `ruleset.` or `action.`",
                                             pattern=NO_NUL)] = None,
    actor: Text = None,
    subject: Text = None,
    ruleset: Text = None,
    version: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None,
    run_id: Text = None,
    order_id: Text = None,
    action_id: Text = None,
    since: Annotated[Moment | None, Query(description="inclusive")] = None,
    until: Annotated[Moment | None, Query(description="exclusive")] = None,
    after: Annotated[int | None, Query(ge=0, le=BIGINT_MAX,
                                       description="sequence-number cursor")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    """Entries matching every filter, oldest first."""
    _flush_pending(session)
    rows = audit.query(session=session, kind=kind, kind_prefix=kind_prefix, actor=actor,
                       subject=subject, ruleset=ruleset, version=version, run_id=run_id,
                       order_id=order_id, action_id=action_id, since=since, until=until,
                       after=after, limit=limit)
    entries = [AuditEntryOut.model_validate(row) for row in rows]
    if accept and "text/csv" in accept.lower():
        return _csv(entries)
    next_after = entries[-1].seq if len(entries) == limit else None
    return AuditPage(entries=entries, next_after=next_after)


def _csv(entries: list[AuditEntryOut]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        values = entry.model_dump(mode="json")
        values["data"] = json.dumps(values["data"], sort_keys=True, ensure_ascii=False)
        writer.writerow(["" if values[c] is None else values[c] for c in CSV_COLUMNS])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8")


@router.get("/verify", response_model=VerifyResult)
def verify_chain(session: SessionDep, _: Auditor) -> VerifyResult:
    """Recomputes the hash chain; names the first modified, missing or reordered entry."""
    _flush_pending(session)
    return audit.verify(session=session)


def _flush_pending(session: Session) -> None:
    """Chains every committed pending entry first, so a read sees all of them."""
    while audit.flush_pending(session=session) > 0:
        session.commit()
