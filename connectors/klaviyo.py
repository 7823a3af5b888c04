"""Klaviyo API: `POST /api/events/` (JSON:API), headers `Authorization: Klaviyo-API-Key <key>`
and `revision: <klaviyo_revision>`. send_campaign records a metric event named after the
campaign on the customer's profile; a Klaviyo flow triggered by that metric sends the email.
`unique_id` = our idempotency key: Klaviyo keeps one event per unique id, so a repeat is
harmless. Answer: 202 with no body.
"""

from __future__ import annotations

from typing import Any

from connectors._common import unsupported
from connectors.base import ActionRequest, require
from connectors.http import HttpClient, Result
from runbook.settings import Settings


class KlaviyoConnector:
    system = "klaviyo"

    def __init__(self, settings: Settings, http: HttpClient) -> None:
        self.settings = settings
        self.http = http

    def idempotent(self, action: str) -> bool:
        return True

    def event(self, request: ActionRequest) -> dict[str, Any] | str:
        customer = request.customer
        profile: dict[str, Any] = {}
        if customer.get("email"):
            profile["email"] = customer["email"]
        if customer.get("id") is not None or request.customer_id:
            profile["external_id"] = str(customer.get("id", request.customer_id))
        if not profile:
            return "send_campaign needs data.customer.email or a customer id"
        campaign = str(request.params.get("campaign") or request.event_type or "runbook")
        return {"data": {"type": "event", "attributes": {
            "properties": {"order_id": request.order_ref(), "run_id": request.run_id,
                           "campaign": campaign},
            "metric": {"data": {"type": "metric", "attributes": {"name": campaign}}},
            "profile": {"data": {"type": "profile", "attributes": profile}},
            "unique_id": request.idempotency_key,
        }}}

    async def perform(self, request: ActionRequest) -> Result:
        if request.action != "send_campaign":
            return Result.permanent(unsupported(self.system, request.action))
        body = self.event(request)
        if isinstance(body, str):
            return Result.permanent(body)
        token = require(self.settings.klaviyo_token, "klaviyo_token")
        reply = await self.http.request(
            self.system, "POST", f"{self.settings.klaviyo_base_url.rstrip('/')}/api/events/",
            json=body, headers={"Authorization": f"Klaviyo-API-Key {token}",
                                "revision": self.settings.klaviyo_revision,
                                "accept": "application/vnd.api+json",
                                "content-type": "application/vnd.api+json"})
        return Result.success([reply]) if reply.ok else Result.failed(reply)
