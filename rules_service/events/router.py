"""HTTP of event intake: POST /v1/events, /v1/events:batch, /v1/decide (and the webhooks)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from pydantic import BaseModel, Field

from rules_service.deps import IntakeDep, RegistryDep, SessionDep, SettingsDep, after_commit
from rules_service.events import service
from rules_service.events.schemas import BatchOut, DecisionOut, Event
from rules_service.webhooks.router import router as webhooks_router
from runbook.auth import Principal, require

router = APIRouter(prefix="/v1", tags=["events"])
router.include_router(webhooks_router)

REPLAYED_HEADER = "Idempotent-Replayed"
Caller = Annotated[Principal, Depends(require("service", "ops"))]


class BatchIn(BaseModel):
    events: list[Any] = Field(description="Events, each like the body of /v1/events")


@router.post("/events", response_model=DecisionOut, summary="Decide one event (idempotent)")
async def post_event(event: Event, caller: Caller, intake: IntakeDep) -> Response:
    """Concurrent posts are decided together, one transaction per group (events.grouping);
    the answer is sent once this event's group has committed."""
    accepted = await intake.submit(event=event, actor=caller.name)
    headers = {REPLAYED_HEADER: "true"} if accepted.duplicate else None
    return Response(
        accepted.decision.model_dump_json(), media_type="application/json", headers=headers
    )


@router.post("/events:batch", response_model=BatchOut, summary="Decide many events")
def post_events_batch(
    body: Annotated[list[Any] | BatchIn, Body()],
    request: Request,
    caller: Caller,
    session: SessionDep,
    registry: RegistryDep,
    settings: SettingsDep,
) -> Response:
    items = body.events if isinstance(body, BatchIn) else body
    result = service.accept_batch(
        session=session,
        items=items,
        registry=registry,
        actor=caller.name,
        chunk_size=settings.events_batch_chunk,
        max_items=settings.events_batch_max,
        on_commit=lambda: after_commit(request.app),
    )
    # Serialized here, in the worker thread, once: a returned model would be validated again
    # and serialized on the event loop.
    return Response(result.model_dump_json(), media_type="application/json")


@router.post("/decide", response_model=DecisionOut, summary="Dry run: decide, store nothing")
def post_decide(
    event: Event, caller: Caller, session: SessionDep, registry: RegistryDep
) -> DecisionOut:
    return service.dry_run(session=session, event=event, registry=registry)
