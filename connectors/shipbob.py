"""ShipBob API (`https://api.shipbob.com`), Bearer personal access token, `shipbob_channel_id`
header when the order names a channel.

* create_rma / create_return_label: `POST /1.0/return` — a return order:
  `{"reference_id", "fulfillment_center": {"id"}, "inventory": [{"id", "quantity",
  "requested_action"}], "original_shipment_id", "tracking_number"}`.
  `reference_id` = our idempotency key; ShipBob refuses a second return with the same
  reference id, and this connector counts that refusal ("already exists") as done. The exact
  refusal text was not confirmed; see docs/connectors.md.
"""

from __future__ import annotations

from typing import Any

from connectors._common import unsupported
from connectors.base import ActionRequest, require
from connectors.http import HttpClient, Result
from runbook.settings import Settings


class ShipBobConnector:
    system = "shipbob"

    def __init__(self, settings: Settings, http: HttpClient) -> None:
        self.settings = settings
        self.http = http

    def idempotent(self, action: str) -> bool:
        return False  # the duplicate-reference refusal is not confirmed: local check only

    def return_body(self, request: ActionRequest) -> dict[str, Any]:
        order = request.order
        inventory = [
            {"id": item.get("inventory_id", item.get("id")),
             "quantity": int(item.get("quantity", 1)),
             "requested_action": "Restock" if request.params.get("restock", True) else "Quarantine"}
            for item in order.get("line_items", []) if isinstance(item, dict)
        ]
        return {
            "reference_id": request.idempotency_key,
            "fulfillment_center": {"id": order.get("fulfillment_center_id")},
            "inventory": inventory,
            "original_shipment_id": order.get("shipment_id"),
            "tracking_number": request.params.get("tracking_number"),
        }

    async def perform(self, request: ActionRequest) -> Result:
        if request.action not in ("create_rma", "create_return_label"):
            return Result.permanent(unsupported(self.system, request.action))
        token = require(self.settings.shipbob_token, "shipbob_token")
        headers = {"Authorization": f"Bearer {token}"}
        channel = request.order.get("shipbob_channel_id")
        if channel:
            headers["shipbob_channel_id"] = str(channel)
        url = f"{self.settings.shipbob_base_url.rstrip('/')}/1.0/return"
        reply = await self.http.request(self.system, "POST", url, json=self.return_body(request),
                                        headers=headers)
        if reply.status in (409, 422) and "already" in str(reply.body).lower():
            return Result.success([reply], already=True)
        if not reply.ok:
            return Result.failed(reply)
        return Result.success([reply], external_id=str((reply.body or {}).get("id")))
