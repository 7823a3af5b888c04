"""HTTP of captured runs: GET /v1/runs (filtered, paged) and GET /v1/runs/{id}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from rules_service.deps import SessionDep
from rules_service.runs import queries
from rules_service.runs.schemas import RunOut, RunPage
from runbook.auth import Principal, require
from runbook.params import INT_MAX, NO_NUL, Moment

router = APIRouter(prefix="/v1/runs", tags=["runs"])
Reader = Annotated[Principal, Depends(require("auditor", "ops", "service"))]
Text = Annotated[str | None, Query(pattern=NO_NUL)]


@router.get("", response_model=RunPage, summary="Captured runs, newest first")
def list_runs(
    reader: Reader,
    session: SessionDep,
    order_id: Text = None,
    customer_id: Text = None,
    type: Annotated[str | None, Query(description="event type", pattern=NO_NUL)] = None,  # noqa: A002
    event_type: Annotated[str | None, Query(description="same as `type`", pattern=NO_NUL)] = None,
    ruleset: Text = None,
    version: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None,
    since: Annotated[Moment | None, Query(description="event time ≥ since (naive = UTC)")] = None,
    until: Annotated[Moment | None, Query(description="event time < until")] = None,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_LIMIT)] = 100,
    cursor: Text = None,
) -> RunPage:
    where = queries.RunFilter(
        order_id=order_id,
        customer_id=customer_id,
        event_type=type or event_type,
        ruleset=ruleset,
        version=version,
        since=since,
        until=until,
    )
    runs, next_cursor = queries.list_runs(session=session, where=where, limit=limit, cursor=cursor)
    return RunPage(runs=runs, next_cursor=next_cursor)


@router.get("/{run_id}", response_model=RunOut, summary="One run in full")
def get_run(run_id: Annotated[str, Path(pattern=NO_NUL)], reader: Reader,
            session: SessionDep) -> RunOut:
    return queries.get_run(session=session, run_id=run_id)
