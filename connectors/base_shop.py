"""BASE (thebase.in) API v1. Auth: `Authorization: Bearer <access token>`.

* cancel_order: `GET /1/orders/detail/{unique_key}` for the order items, then
  `POST /1/orders/edit_status` (form: `order_item_id`, `status=cancelled`) for each item not
  cancelled yet (so a repeat is harmless).
* refund, hold_order, hold_inventory, tag_order: BASE's public API has no such call; they fail
  permanently (dead letter) with that reason.
"""

from __future__ import annotations

from connectors._common import unsupported
from connectors.base import ActionRequest, require
from connectors.http import HttpClient, Reply, Result
from runbook.settings import Settings


class BaseConnector:
    system = "base"

    def __init__(self, settings: Settings, http: HttpClient) -> None:
        self.settings = settings
        self.http = http

    def idempotent(self, action: str) -> bool:
        return True

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {require(self.settings.base_token, 'base_token')}"}

    def _url(self, path: str) -> str:
        return f"{self.settings.base_base_url.rstrip('/')}/1/{path}"

    async def perform(self, request: ActionRequest) -> Result:
        if request.action != "cancel_order":
            return Result.permanent(unsupported(self.system, request.action))
        order_id = request.order_ref()
        if not order_id:
            return Result.permanent("the command names no order (BASE unique_key)")
        detail = await self.http.request(self.system, "GET", self._url(f"orders/detail/{order_id}"),
                                         headers=self._headers())
        replies: list[Reply] = [detail]
        if not detail.ok:
            return Result.failed(detail, replies)
        items = ((detail.body or {}).get("order") or {}).get("order_items", [])
        for item in items:
            if item.get("status") == "cancelled":
                continue
            reply = await self.http.request(
                self.system, "POST", self._url("orders/edit_status"), headers=self._headers(),
                data={"order_item_id": str(item["order_item_id"]), "status": "cancelled"})
            replies.append(reply)
            if not reply.ok:
                return Result.failed(reply, replies)
        return Result.success(replies, external_id=order_id)
