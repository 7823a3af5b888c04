"""Shopify Admin REST API (version `shopify_api_version`, default 2024-10).

* refund: `POST /admin/api/{v}/orders/{id}/refunds/calculate.json` (suggested transactions and
  their `maximum_refundable`), then `POST …/orders/{id}/refunds.json` with `kind: refund`
  transactions against the parent transactions. An amount over the refundable maximum is
  refused (permanent failure) and never sent. The REST refund takes no idempotency key, so the
  connector writes `runbook:<key>` into the refund's `note` and first lists
  `GET …/orders/{id}/refunds.json`: a refund carrying the key means it was done already.
* cancel_order: `POST …/orders/{id}/cancel.json` (`reason`, `restock`, `email`); "already
  cancelled" counts as done.
* hold_order / hold_inventory: `GET …/orders/{id}/fulfillment_orders.json`, then
  `POST …/fulfillment_orders/{fo}/hold.json` `{"fulfillment_hold": {"reason", "reason_notes"}}`
  for each open one (those on hold already are skipped).
* tag_order: `GET …/orders/{id}.json?fields=id,tags`, then `PUT …/orders/{id}.json` with the
  union of the tags.

Auth: `X-Shopify-Access-Token`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.base import ActionRequest, require
from connectors.http import HttpClient, Reply, Result
from runbook.settings import Settings

CANCEL_REASONS = frozenset({"customer", "fraud", "inventory", "declined", "other"})
HOLD_REASONS = frozenset({"awaiting_payment", "high_risk_of_fraud", "incorrect_address",
                          "inventory_out_of_stock", "other"})
NOTE_PREFIX = "runbook:"


def money(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError) as error:
        raise ValueError(f"not an amount: {value!r}") from error


class ShopifyConnector:
    system = "shopify"

    def __init__(self, settings: Settings, http: HttpClient) -> None:
        self.http = http
        self.settings = settings

    def idempotent(self, action: str) -> bool:
        return True  # refunds are checked by note; cancel, hold and tags are idempotent

    # plumbing ---------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        base = require(self.settings.shopify_base_url, "shopify_base_url").rstrip("/")
        return f"{base}/admin/api/{self.settings.shopify_api_version}/{path}"

    async def _call(self, method: str, path: str, **kwargs: Any) -> Reply:
        token = require(self.settings.shopify_token, "shopify_token")
        headers = {"X-Shopify-Access-Token": token}
        return await self.http.request(self.system, method, self._url(path), headers=headers,
                                       **kwargs)

    async def perform(self, request: ActionRequest) -> Result:
        order_id = request.order_ref()
        if not order_id:
            return Result.permanent("the command names no order (data.order.id / order_id)")
        handlers = {
            "refund": self._refund,
            "cancel_order": self._cancel,
            "hold_order": self._hold,
            "hold_inventory": self._hold,
            "tag_order": self._tag,
        }
        handler = handlers.get(request.action)
        if handler is None:
            return Result.permanent(f"shopify does not serve {request.action}")
        return await handler(request, order_id)

    # refund -----------------------------------------------------------------------------
    async def _refund(self, request: ActionRequest, order_id: str) -> Result:
        replies: list[Reply] = []
        listed = await self._call("GET", f"orders/{order_id}/refunds.json")
        replies.append(listed)
        if not listed.ok:
            return Result.failed(listed, replies)
        done = _refund_with_key(listed.body, request.idempotency_key)
        if done is not None:
            return Result.success(replies, external_id=str(done.get("id")), replayed=True)
        calculated = await self._call("POST", f"orders/{order_id}/refunds/calculate.json",
                                      json={"refund": {"shipping": {"full_refund": True},
                                                       "refund_line_items": []}})
        replies.append(calculated)
        if not calculated.ok:
            return Result.failed(calculated, replies)
        return await self._create_refund(request, order_id, calculated.body, replies)

    async def _create_refund(self, request: ActionRequest, order_id: str, calculated: Any,
                             replies: list[Reply]) -> Result:
        suggested = _suggested_transactions(calculated)
        maximum = sum((money(t.get("maximum_refundable", t.get("amount", 0)))
                       for t in suggested), Decimal(0))
        wanted = maximum if request.params.get("amount") is None else money(
            request.params["amount"])
        if wanted > maximum:
            return Result.permanent(
                f"refund of {wanted} is over the refundable maximum {maximum}", replies)
        if wanted <= 0:
            return Result.permanent("nothing to refund (refundable maximum is 0)", replies)
        body = {"refund": {
            "currency": (calculated.get("refund") or {}).get("currency"),
            "notify": False,
            "note": _note(request),
            "transactions": _allocate(suggested, wanted),
        }}
        created = await self._call("POST", f"orders/{order_id}/refunds.json", json=body)
        replies.append(created)
        if not created.ok:
            return Result.failed(created, replies)
        refund = (created.body or {}).get("refund") or {}
        return Result.success(replies, external_id=str(refund.get("id")), amount=str(wanted),
                              maximum=str(maximum))

    # cancel, hold, tag ------------------------------------------------------------------
    async def _cancel(self, request: ActionRequest, order_id: str) -> Result:
        reason = str(request.params.get("reason") or "other")
        body: dict[str, Any] = {
            "reason": reason if reason in CANCEL_REASONS else "other",
            "email": False,
            "restock": bool(request.params.get("restock", False)),
        }
        reply = await self._call("POST", f"orders/{order_id}/cancel.json", json=body)
        if reply.status == 422 and "already" in str(reply.body).lower():
            return Result.success([reply], external_id=order_id, already=True)
        if not reply.ok:
            return Result.failed(reply)
        return Result.success([reply], external_id=order_id)

    async def _hold(self, request: ActionRequest, order_id: str) -> Result:
        listed = await self._call("GET", f"orders/{order_id}/fulfillment_orders.json")
        replies = [listed]
        if not listed.ok:
            return Result.failed(listed, replies)
        reason = "inventory_out_of_stock" if request.action == "hold_inventory" else "other"
        notes = str(request.params.get("reason") or request.action)[:255]
        held: list[str] = []
        for fulfillment_order in (listed.body or {}).get("fulfillment_orders", []):
            if fulfillment_order.get("status") not in ("open", "scheduled"):
                continue
            reply = await self._call(
                "POST", f"fulfillment_orders/{fulfillment_order['id']}/hold.json",
                json={"fulfillment_hold": {"reason": reason, "reason_notes": notes}})
            replies.append(reply)
            if not reply.ok:
                return Result.failed(reply, replies)
            held.append(str(fulfillment_order["id"]))
        return Result.success(replies, external_id=order_id, held=held)

    async def _tag(self, request: ActionRequest, order_id: str) -> Result:
        fetched = await self._call("GET", f"orders/{order_id}.json",
                                   params={"fields": "id,tags"})
        if not fetched.ok:
            return Result.failed(fetched)
        current = _split_tags(((fetched.body or {}).get("order") or {}).get("tags"))
        wanted = _split_tags(request.params.get("tags"))
        merged = current + [t for t in wanted if t not in current]
        if merged == current:
            return Result.success([fetched], external_id=order_id, tags=merged)
        reply = await self._call("PUT", f"orders/{order_id}.json",
                                 json={"order": {"id": int(order_id) if order_id.isdigit()
                                                 else order_id, "tags": ", ".join(merged)}})
        if not reply.ok:
            return Result.failed(reply, [fetched, reply])
        return Result.success([fetched, reply], external_id=order_id, tags=merged)


def _note(request: ActionRequest) -> str:
    reason = request.params.get("reason")
    text = f"{NOTE_PREFIX}{request.idempotency_key}"
    return f"{text} {reason}" if reason else text


def _refund_with_key(body: Any, key: str) -> dict[str, Any] | None:
    for refund in (body or {}).get("refunds", []):
        note = str(refund.get("note") or "")
        if note.split(" ", 1)[0] == f"{NOTE_PREFIX}{key}":
            return dict(refund)
    return None


def _suggested_transactions(calculated: Any) -> list[dict[str, Any]]:
    refund = (calculated or {}).get("refund") or {}
    return [t for t in refund.get("transactions", []) if t.get("kind") == "suggested_refund"]


def _allocate(suggested: list[dict[str, Any]], wanted: Decimal) -> list[dict[str, Any]]:
    """Spreads `wanted` over the parent transactions, each up to its own maximum."""
    left = wanted
    transactions = []
    for item in suggested:
        if left <= 0:
            break
        share = min(left, money(item.get("maximum_refundable", item.get("amount", 0))))
        if share <= 0:
            continue
        transactions.append({"parent_id": item.get("parent_id"), "amount": str(share),
                             "kind": "refund", "gateway": item.get("gateway")})
        left -= share
    return transactions


def _split_tags(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(t).strip() for t in items if str(t).strip()]
