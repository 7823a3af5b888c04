"""The BNPL provider: Paidy (`https://api.paidy.com`), `Authorization: Bearer <secret key>`,
`Paidy-Version: 2018-04-10`.

* refund: `GET /payments/{id}` (captures and refunds made), then
  `POST /payments/{id}/refunds` `{"capture_id", "amount", "reason", "metadata":
  {"runbook_key"}}`. The refundable maximum is the captured amount less refunds made; more is
  refused (permanent) and never sent. A refund whose metadata carries our key means it was done
  (so a repeat after a crash is harmless).
* cancel_order: `POST /payments/{id}/close` (closing an already closed payment counts as done).

The payment id is `data.order.payment_id` (or `bnpl_payment_id`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors._common import unsupported
from connectors.base import ActionRequest, require
from connectors.http import HttpClient, Reply, Result
from connectors.shopify import money
from runbook.settings import Settings

PAIDY_VERSION = "2018-04-10"


class BnplConnector:
    system = "bnpl"

    def __init__(self, settings: Settings, http: HttpClient) -> None:
        self.settings = settings
        self.http = http

    def idempotent(self, action: str) -> bool:
        return True

    async def _call(self, method: str, path: str, body: Any = None) -> Reply:
        token = require(self.settings.bnpl_token, "bnpl_token")
        url = f"{self.settings.bnpl_base_url.rstrip('/')}{path}"
        headers = {"Authorization": f"Bearer {token}", "Paidy-Version": PAIDY_VERSION}
        return await self.http.request(self.system, method, url, json=body, headers=headers)

    async def perform(self, request: ActionRequest) -> Result:
        payment = request.order.get("payment_id") or request.order.get("bnpl_payment_id")
        if not payment:
            return Result.permanent("the order names no BNPL payment (data.order.payment_id)")
        if request.action == "refund":
            return await self._refund(request, str(payment))
        if request.action == "cancel_order":
            reply = await self._call("POST", f"/payments/{payment}/close", {})
            if reply.ok or (reply.status == 400 and "closed" in str(reply.body).lower()):
                return Result.success([reply], external_id=str(payment))
            return Result.failed(reply)
        return Result.permanent(unsupported(self.system, request.action))

    async def _refund(self, request: ActionRequest, payment: str) -> Result:
        fetched = await self._call("GET", f"/payments/{payment}")
        if not fetched.ok:
            return Result.failed(fetched)
        body = fetched.body or {}
        for refund in body.get("refunds", []):
            if (refund.get("metadata") or {}).get("runbook_key") == request.idempotency_key:
                return Result.success([fetched], external_id=refund.get("id"), replayed=True)
        captures = body.get("captures", [])
        if not captures:
            return Result.permanent("the payment has no capture to refund", [fetched])
        captured = sum((money(c.get("amount", 0)) for c in captures), Decimal(0))
        refunded = sum((money(r.get("amount", 0)) for r in body.get("refunds", [])), Decimal(0))
        maximum = captured - refunded
        amount = request.params.get("amount")
        wanted = maximum if amount is None else money(amount)
        if wanted > maximum or wanted <= 0:
            return Result.permanent(
                f"refund of {wanted} is over the refundable maximum {maximum}", [fetched])
        created = await self._call("POST", f"/payments/{payment}/refunds", {
            "capture_id": captures[0].get("id"),
            "amount": float(wanted),
            "reason": str(request.params.get("reason") or "requested_by_customer"),
            "metadata": {"runbook_key": request.idempotency_key},
        })
        if not created.ok:
            return Result.failed(created, [fetched, created])
        return Result.success([fetched, created], external_id=(created.body or {}).get("id"),
                              amount=str(wanted), maximum=str(maximum))
