"""Shopify webhooks → Runbook events.

Topic (X-Shopify-Topic) → event type; the event id is X-Shopify-Webhook-Id (Shopify resends a
delivery with the same id, so a resend is the same event); the payload becomes
`{"order": {"id", "total", …}, "customer": {"id", …}, "refund"|"return": {…}, "shopify": {…}}`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rules_service.events.schemas import Event
from rules_service.webhooks.normalize import compact, first_time, money, now, text_id

SOURCE = "shopify"

TOPICS: dict[str, str] = {
    "orders/create": "order.placed",
    "orders/cancelled": "cancel.requested",
    "refunds/create": "refund.initiated",
    "returns/request": "return.requested",
}


def event_type(topic: str) -> str | None:
    return TOPICS.get(topic.strip().lower())


def to_event(
    *, topic: str, webhook_id: str, payload: dict[str, Any], triggered_at: str | None
) -> Event:
    kind = event_type(topic)
    assert kind is not None, "callers check the topic first"
    data, occurred = _NORMALIZERS[kind](payload)
    data["shopify"] = compact({"topic": topic, "webhook_id": webhook_id})
    occurred_at = first_time(occurred, triggered_at) or now()
    return Event(id=webhook_id, source=SOURCE, type=kind, occurred_at=occurred_at, data=data)


# ------------------------------------------------------------------------------ payloads


def _order(payload: dict[str, Any]) -> dict[str, Any]:
    shipping = payload.get("shipping_address") or {}
    return compact(
        {
            "id": text_id(payload.get("id")),
            "name": payload.get("name"),
            "number": payload.get("order_number"),
            "total": money(payload.get("total_price")),
            "subtotal": money(payload.get("subtotal_price")),
            "currency": payload.get("currency"),
            "email": payload.get("email"),
            "financial_status": payload.get("financial_status"),
            "fulfillment_status": payload.get("fulfillment_status"),
            "cancel_reason": payload.get("cancel_reason"),
            "tags": _tags(payload.get("tags")),
            "shipping_country": shipping.get("country_code")
            if isinstance(shipping, dict)
            else None,
            "line_items": [_line_item(i) for i in payload.get("line_items") or []] or None,
        }
    )


def _line_item(item: dict[str, Any]) -> dict[str, Any]:
    return compact(
        {
            "id": text_id(item.get("id")),
            "sku": item.get("sku"),
            "title": item.get("title"),
            "quantity": item.get("quantity"),
            "price": money(item.get("price")),
        }
    )


def _customer(payload: dict[str, Any]) -> dict[str, Any] | None:
    customer = payload.get("customer")
    if not isinstance(customer, dict) or customer.get("id") is None:
        return None
    return compact(
        {
            "id": text_id(customer.get("id")),
            "email": customer.get("email"),
            "orders_count": customer.get("orders_count"),
            "tags": _tags(customer.get("tags")),
        }
    )


def _tags(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [tag.strip() for tag in value.split(",") if tag.strip()] or None
    return None


def _order_event(payload: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    data = compact({"order": _order(payload), "customer": _customer(payload)})
    return data, payload.get("created_at")


def _cancel_event(payload: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    data = compact(
        {
            "order": _order(payload),
            "customer": _customer(payload),
            "cancel": compact({"reason": payload.get("cancel_reason")}),
        }
    )
    return data, payload.get("cancelled_at") or payload.get("updated_at")


def _refund_event(payload: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    transactions = [t for t in payload.get("transactions") or [] if isinstance(t, dict)]
    amounts = [money(t.get("amount")) for t in transactions if t.get("kind", "refund") == "refund"]
    refund = compact(
        {
            "id": text_id(payload.get("id")),
            "amount": sum(a for a in amounts if a is not None) if amounts else None,
            "note": payload.get("note"),
            "restock": payload.get("restock"),
            "items": [
                compact(
                    {"line_item_id": text_id(i.get("line_item_id")), "quantity": i.get("quantity")}
                )
                for i in payload.get("refund_line_items") or []
                if isinstance(i, dict)
            ]
            or None,
        }
    )
    data = {"order": {"id": text_id(payload.get("order_id"))}, "refund": refund}
    return data, payload.get("created_at") or payload.get("processed_at")


def _return_event(payload: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    items = [i for i in payload.get("return_line_items") or [] if isinstance(i, dict)]
    reasons = [str(i["return_reason"]).lower() for i in items if i.get("return_reason")]
    raw_order = payload.get("order")
    order: dict[str, Any] = raw_order if isinstance(raw_order, dict) else {}
    ret = compact(
        {
            "id": text_id(payload.get("id")),
            "name": payload.get("name"),
            "status": payload.get("status"),
            "reason": reasons[0] if reasons else None,
            "reasons": reasons or None,
            "note": next((i.get("customer_note") for i in items if i.get("customer_note")), None),
            "quantity": sum(int(i.get("quantity") or 0) for i in items) if items else None,
        }
    )
    data = compact(
        {"order": compact({"id": text_id(order.get("id"))}), "customer": _customer(payload)}
    )
    data["return"] = ret
    return data, payload.get("created_at") or payload.get("requested_at")


_NORMALIZERS: dict[str, Callable[[dict[str, Any]], tuple[dict[str, Any], Any]]] = {
    "order.placed": _order_event,
    "cancel.requested": _cancel_event,
    "refund.initiated": _refund_event,
    "return.requested": _return_event,
}
