"""HTTP of inbound webhooks: POST /v1/webhooks/shopify and /v1/webhooks/tracking.

Authenticated by their HMAC signature (not by API keys). A delivery Runbook has no use for
(an unknown topic or tracking tag) is acknowledged with `{"status": "ignored"}` so that the
platform stops resending it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from sqlalchemy.orm import Session

from rules_service.deps import RegistryDep, SessionDep, SettingsDep, after_commit
from rules_service.events import service
from rules_service.events.schemas import DecisionOut, Event
from rules_service.webhooks import shopify, tracking
from rules_service.webhooks.normalize import json_object
from rules_service.webhooks.signatures import verify
from runbook.errors import BadRequest

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


async def raw_body(request: Request) -> bytes:
    return await request.body()


Body = Annotated[bytes, Depends(raw_body)]


@router.post("/shopify", summary="Shopify webhook (X-Shopify-Hmac-Sha256)")
def shopify_webhook(
    body: Body,
    request: Request,
    response: Response,
    session: SessionDep,
    registry: RegistryDep,
    settings: SettingsDep,
    x_shopify_hmac_sha256: Annotated[str | None, Header()] = None,
    x_shopify_topic: Annotated[str | None, Header()] = None,
    x_shopify_webhook_id: Annotated[str | None, Header()] = None,
    x_shopify_triggered_at: Annotated[str | None, Header()] = None,
) -> DecisionOut | dict[str, str]:
    verify(
        secret=settings.shopify_webhook_secret,
        body=body,
        signature=x_shopify_hmac_sha256,
        what="Shopify",
    )
    if not x_shopify_webhook_id:
        raise BadRequest("missing X-Shopify-Webhook-Id")
    if not x_shopify_topic or shopify.event_type(x_shopify_topic) is None:
        return {"status": "ignored", "reason": f"topic {x_shopify_topic!r} is not used"}
    event = shopify.to_event(
        topic=x_shopify_topic,
        webhook_id=x_shopify_webhook_id,
        payload=json_object(body, what="Shopify"),
        triggered_at=x_shopify_triggered_at,
    )
    return _intake(event, "webhook:shopify", request, response, session, registry)


@router.post("/tracking", summary="Carrier tracking webhook (aftership-hmac-sha256)")
def tracking_webhook(
    body: Body,
    request: Request,
    response: Response,
    session: SessionDep,
    registry: RegistryDep,
    settings: SettingsDep,
    aftership_hmac_sha256: Annotated[str | None, Header()] = None,
) -> DecisionOut | dict[str, str]:
    verify(
        secret=settings.tracking_webhook_secret,
        body=body,
        signature=aftership_hmac_sha256,
        what="tracking",
    )
    event = tracking.to_event(payload=json_object(body, what="tracking"), body=body)
    if event is None:
        return {"status": "ignored", "reason": "tag carries no delivery or delay"}
    return _intake(event, "webhook:tracking", request, response, session, registry)


def _intake(
    event: Event,
    actor: str,
    request: Request,
    response: Response,
    session: Session,
    registry: Any,
) -> DecisionOut:
    accepted = service.accept_one(
        session=session,
        event=event,
        registry=registry,
        actor=actor,
        on_commit=lambda: after_commit(request.app),
    )
    if accepted.duplicate:
        response.headers["Idempotent-Replayed"] = "true"
    return accepted.decision
