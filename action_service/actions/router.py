"""HTTP of actions: list, one with its attempts, approve / reject (approver), retry (ops),
dead letters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query

from action_service.actions import service
from action_service.actions.models import Status
from action_service.actions.schemas import (
    ActionDetail,
    ActionOut,
    ActionPage,
    AttemptOut,
    DecisionIn,
)
from action_service.deps import SessionDep
from runbook.auth import Principal, require
from runbook.params import NO_NUL

router = APIRouter(prefix="/v1", tags=["actions"])
Reader = Annotated[Principal, Depends(require("ops", "approver", "auditor", "service"))]
Approver = Annotated[Principal, Depends(require("approver"))]
Operator = Annotated[Principal, Depends(require("ops"))]
OptionalBody = Annotated[DecisionIn | None, Body()]
# PostgreSQL text holds no NUL: such an id or filter is a 422, not a driver error.
ActionId = Annotated[str, Path(pattern=NO_NUL)]
Text = Annotated[str | None, Query(pattern=NO_NUL)]


def _page(items: list[ActionOut], limit: int) -> ActionPage:
    cursor = items[-1].id if len(items) == limit else None
    return ActionPage(items=items, next_cursor=cursor)


@router.get("/actions", response_model=ActionPage)
def list_actions(
    session: SessionDep, _: Reader, run_id: Text = None,
    status: Status | None = None, action: Text = None, order_id: Text = None,
    after: Text = None, limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ActionPage:
    rows = service.list_actions(session=session, run_id=run_id,
                                status=status.value if status else None, action=action,
                                order_id=order_id, after=after, limit=limit)
    return _page([ActionOut.model_validate(r) for r in rows], limit)


@router.get("/dead-letters", response_model=ActionPage)
def dead_letters(session: SessionDep, _: Reader, after: Text = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 100) -> ActionPage:
    rows = service.list_actions(session=session, status=Status.DEAD.value, after=after,
                                limit=limit)
    return _page([ActionOut.model_validate(r) for r in rows], limit)


@router.get("/actions/{action_id}", response_model=ActionDetail)
def get_action(action_id: ActionId, session: SessionDep, _: Reader) -> ActionDetail:
    action, attempts = service.get(session=session, action_id=action_id)
    detail = ActionDetail.model_validate(action)
    detail.attempt_log = [AttemptOut.model_validate(a) for a in attempts]
    return detail


@router.post("/actions/{action_id}/approve", response_model=ActionOut)
def approve(action_id: ActionId, session: SessionDep, principal: Approver,
            body: OptionalBody = None) -> ActionOut:
    action = service.approve(session=session, action_id=action_id, actor=principal.actor,
                             comment=body.comment if body else None)
    return ActionOut.model_validate(action)


@router.post("/actions/{action_id}/reject", response_model=ActionOut)
def reject(action_id: ActionId, session: SessionDep, principal: Approver,
           body: OptionalBody = None) -> ActionOut:
    action = service.reject(session=session, action_id=action_id, actor=principal.actor,
                            comment=body.comment if body else None)
    return ActionOut.model_validate(action)


@router.post("/actions/{action_id}/retry", response_model=ActionOut)
def retry(action_id: ActionId, session: SessionDep, principal: Operator,
          body: OptionalBody = None) -> ActionOut:
    action = service.retry(session=session, action_id=action_id, actor=principal.actor,
                           comment=body.comment if body else None)
    return ActionOut.model_validate(action)


@router.post("/dead-letters/{action_id}/retry", response_model=ActionOut)
def retry_dead_letter(action_id: ActionId, session: SessionDep, principal: Operator,
                      body: OptionalBody = None) -> ActionOut:
    return retry(action_id, session, principal, body)
