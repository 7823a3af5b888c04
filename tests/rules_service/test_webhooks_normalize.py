"""Webhook payloads → Runbook events, and signatures (pure)."""

from __future__ import annotations

import json

import pytest

from rules_service.webhooks import shopify, tracking
from rules_service.webhooks.signatures import sign, verify
from runbook.errors import ServiceUnavailable, Unauthorized

ORDER = {
    "id": 820982911946154508,
    "name": "#1001",
    "order_number": 1001,
    "created_at": "2026-11-20T10:00:00+09:00",
    "total_price": "32000.00",
    "subtotal_price": "30000.50",
    "currency": "JPY",
    "tags": "vip, wholesale",
    "customer": {"id": 115310627314723954, "email": "a@example.com", "orders_count": 3},
    "line_items": [{"id": 1, "sku": "SKU-1", "quantity": 2, "price": "16000.00"}],
    "shipping_address": {"country_code": "JP"},
}


def test_order_created_becomes_order_placed() -> None:
    event = shopify.to_event(
        topic="orders/create", webhook_id="wh-1", payload=ORDER, triggered_at=None
    )
    assert (event.id, event.source, event.type) == ("wh-1", "shopify", "order.placed")
    assert event.occurred_at.isoformat() == "2026-11-20T01:00:00+00:00"
    order = event.data["order"]
    assert order["id"] == "820982911946154508"
    assert order["total"] == 32000 and order["subtotal"] == 30000.5
    assert order["tags"] == ["vip", "wholesale"] and order["shipping_country"] == "JP"
    assert event.data["customer"]["id"] == "115310627314723954"


def test_refund_and_return_and_cancel() -> None:
    refund = shopify.to_event(
        topic="refunds/create",
        webhook_id="wh-2",
        payload={
            "id": 5,
            "order_id": 77,
            "created_at": "2026-11-21T00:00:00Z",
            "transactions": [
                {"amount": "1000.00", "kind": "refund"},
                {"amount": "500", "kind": "refund"},
            ],
        },
        triggered_at=None,
    )
    assert refund.type == "refund.initiated"
    assert refund.data["order"] == {"id": "77"} and refund.data["refund"]["amount"] == 1500
    ret = shopify.to_event(
        topic="returns/request",
        webhook_id="wh-3",
        payload={
            "id": 9,
            "order": {"id": 77},
            "return_line_items": [{"quantity": 1, "return_reason": "DEFECTIVE"}],
        },
        triggered_at="2026-11-22T00:00:00Z",
    )
    assert ret.type == "return.requested" and ret.data["return"]["reason"] == "defective"
    assert ret.data["order"] == {"id": "77"} and ret.occurred_at.day == 22
    cancel = shopify.to_event(
        topic="orders/cancelled",
        webhook_id="wh-4",
        payload={**ORDER, "cancelled_at": "2026-11-23T00:00:00Z", "cancel_reason": "customer"},
        triggered_at=None,
    )
    assert cancel.type == "cancel.requested" and cancel.data["cancel"] == {"reason": "customer"}
    assert shopify.event_type("products/update") is None


def test_tracking_delivered_and_delayed() -> None:
    body = {
        "event_id": "ev-1",
        "msg": {
            "tracking_number": "1Z",
            "slug": "ups",
            "tag": "Delivered",
            "order_id": "1001",
            "shipment_delivery_date": "2026-11-20T15:00:00+09:00",
        },
    }
    delivered = tracking.to_event(payload=body, body=json.dumps(body).encode())
    assert delivered is not None and delivered.type == "shipment.delivered"
    assert delivered.id == "ev-1" and delivered.data["order"] == {"id": "1001"}
    assert delivered.data["shipment"]["delivered_at"] == "2026-11-20T06:00:00+00:00"
    late = {
        "msg": {
            "tag": "Exception",
            "order_id": "1001",
            "order_promised_delivery_date": "2026-11-18",
            "expected_delivery": "2026-11-22",
            "updated_at": "2026-11-17T00:00:00Z",
        }
    }
    delayed = tracking.to_event(payload=late, body=b"x")
    assert delayed is not None and delayed.type == "shipment.delayed"
    assert delayed.data["shipment"]["delay_days"] == 4
    assert tracking.to_event(payload={"msg": {"tag": "InTransit"}}, body=b"y") is None


def test_signatures() -> None:
    body = b'{"a": 1}'
    verify(secret="s3cret", body=body, signature=sign("s3cret", body), what="x")
    with pytest.raises(Unauthorized):
        verify(secret="s3cret", body=body, signature=sign("other", body), what="x")
    with pytest.raises(Unauthorized):
        verify(secret="s3cret", body=body, signature=None, what="x")
    with pytest.raises(ServiceUnavailable):
        verify(secret=None, body=body, signature="abc", what="x")
