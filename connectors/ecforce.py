"""ecforce admin API (v2). NOT CONFIRMED against public documentation (ecforce documents its
API to merchants only): the paths below follow its REST conventions and are isolated here so
they can be corrected in one place. Auth: `Authorization: Token token="<token>"`.

* cancel_order: `PUT /api/v2/admin/orders/{id}/cancel.json`
* hold_order / hold_inventory: `PUT /api/v2/admin/orders/{id}.json` `{"order": {"state": "hold"}}`
* tag_order: `PUT /api/v2/admin/orders/{id}.json` `{"order": {"tag_list": [...]}}`
* refund: no API; permanent failure.
"""

from __future__ import annotations

from typing import Any

from connectors._common import unsupported
from connectors.base import ActionRequest, require
from connectors.http import HttpClient, Result
from runbook.settings import Settings


class EcforceConnector:
    system = "ecforce"

    def __init__(self, settings: Settings, http: HttpClient) -> None:
        self.settings = settings
        self.http = http

    def idempotent(self, action: str) -> bool:
        return True  # state changes and tag lists are set, not added

    async def _put(self, path: str, body: dict[str, Any] | None) -> Result:
        base = require(self.settings.ecforce_base_url, "ecforce_base_url").rstrip("/")
        token = require(self.settings.ecforce_token, "ecforce_token")
        reply = await self.http.request(
            self.system, "PUT", f"{base}/api/v2/admin/{path}", json=body,
            headers={"Authorization": f'Token token="{token}"'})
        return Result.success([reply]) if reply.ok else Result.failed(reply)

    async def perform(self, request: ActionRequest) -> Result:
        order_id = request.order_ref()
        if not order_id:
            return Result.permanent("the command names no order")
        if request.action == "cancel_order":
            return await self._put(f"orders/{order_id}/cancel.json", None)
        if request.action in ("hold_order", "hold_inventory"):
            return await self._put(f"orders/{order_id}.json", {"order": {"state": "hold"}})
        if request.action == "tag_order":
            tags = request.params.get("tags") or []
            tag_list = tags if isinstance(tags, list) else [t.strip() for t in str(tags).split(",")]
            return await self._put(f"orders/{order_id}.json", {"order": {"tag_list": tag_list}})
        return Result.permanent(unsupported(self.system, request.action))
