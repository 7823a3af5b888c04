"""POST /v1/webhooks/shopify and /v1/webhooks/tracking: signatures, dedupe, intake."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from rules_service.runs.models import Run
from rules_service.webhooks.signatures import sign
from tests.rules_service.test_events_support import Harness, harness

SHOPIFY_SECRET = "shpss_test"
TRACKING_SECRET = "aftership_test"


@pytest.fixture
def h(pg_url: str) -> Iterator[Harness]:
    hx = harness(
        pg_url,
        shopify_webhook_secret=SHOPIFY_SECRET,
        tracking_webhook_secret=TRACKING_SECRET,
    )
    with hx.client:
        yield hx
    hx.factory.kw["bind"].dispose()


def _shopify(h: Harness, topic: str, payload: dict, webhook_id: str, secret: str = SHOPIFY_SECRET):  # type: ignore[no-untyped-def]
    body = json.dumps(payload).encode()
    return h.client.post(
        "/v1/webhooks/shopify",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Hmac-Sha256": sign(secret, body),
        },
    )


def _tracking(h: Harness, payload: dict, secret: str = TRACKING_SECRET):  # type: ignore[no-untyped-def]
    body = json.dumps(payload).encode()
    return h.client.post(
        "/v1/webhooks/tracking",
        content=body,
        headers={"Content-Type": "application/json", "aftership-hmac-sha256": sign(secret, body)},
    )


def _runs(h: Harness) -> int:
    with h.factory() as session:
        return session.scalar(select(func.count()).select_from(Run))


CANCELLED = {
    "id": 4501,
    "cancelled_at": "2026-11-20T10:00:00+09:00",
    "cancel_reason": "customer",
    "total_price": "3000.00",
    "customer": {"id": 77},
}


def test_shopify_signature_checked(h: Harness) -> None:
    assert _shopify(h, "orders/cancelled", CANCELLED, "w1", secret="wrong").status_code == 401
    body = json.dumps(CANCELLED).encode()
    unsigned = h.client.post(
        "/v1/webhooks/shopify",
        content=body,
        headers={"X-Shopify-Topic": "orders/cancelled", "X-Shopify-Webhook-Id": "w1"},
    )
    assert unsigned.status_code == 401
    assert _runs(h) == 0


def test_shopify_duplicate_webhook_id_is_one_event(h: Harness) -> None:
    first = _shopify(h, "orders/cancelled", CANCELLED, "w1")
    again = _shopify(h, "orders/cancelled", CANCELLED, "w1")
    assert first.status_code == again.status_code == 200, first.text
    assert again.json()["run_id"] == first.json()["run_id"]
    assert _runs(h) == 1
    decision = first.json()
    assert (decision["source"], decision["event_id"], decision["type"]) == (
        "shopify",
        "w1",
        "cancel.requested",
    )
    assert decision["enriched"]["customer"]["cancellations_30d"] == 1
    second = _shopify(h, "orders/cancelled", {**CANCELLED, "id": 4502}, "w2").json()
    assert second["enriched"]["customer"]["cancellations_30d"] == 2
    assert second["decisions"][0]["outputs"] == {"outcome": "escalate"}


def test_shopify_unknown_topic_is_acknowledged(h: Harness) -> None:
    answer = _shopify(h, "products/update", {"id": 1}, "w9")
    assert answer.status_code == 200 and answer.json()["status"] == "ignored"
    assert _runs(h) == 0


def test_tracking_delivery_feeds_the_return_policy(h: Harness) -> None:
    placed = {
        "id": 9001,
        "created_at": "2026-10-01T00:00:00Z",
        "total_price": "8000",
        "customer": {"id": 5},
    }
    assert _shopify(h, "orders/create", placed, "w-order").status_code == 200
    delivered = {
        "event_id": "as-1",
        "msg": {
            "tracking_number": "1Z999",
            "slug": "yamato",
            "tag": "Delivered",
            "order_id": "9001",
            "shipment_delivery_date": "2026-10-05T09:00:00+09:00",
        },
    }
    answer = _tracking(h, delivered)
    assert answer.status_code == 200, answer.text
    assert answer.json()["type"] == "shipment.delivered"
    assert _tracking(h, delivered).json()["run_id"] == answer.json()["run_id"]
    delay = {
        "event_id": "as-0",
        "msg": {
            "tag": "Exception",
            "order_id": "9001",
            "delay_days": 3,
            "updated_at": "2026-10-03T00:00:00Z",
        },
    }
    assert _tracking(h, delay).json()["type"] == "shipment.delayed"
    assert _tracking(h, delivered, secret="wrong").status_code == 401
    returned = {
        "id": 31,
        "created_at": "2026-11-06T00:00:00Z",
        "order": {"id": 9001},
        "return_line_items": [{"quantity": 1, "return_reason": "DAMAGED"}],
    }
    decision = _shopify(h, "returns/request", returned, "w-return").json()
    assert decision["enriched"]["delivery"]["days_since"] == 32
    assert decision["enriched"]["delivery"]["delay_days"] == 3
    assert decision["enriched"]["customer"] == {
        "cancellations_30d": 0,
        "returns_90d": 1,
        "orders": 1,
        "id": "5",
    }
    [policy] = decision["decisions"]
    assert policy["outputs"] == {"outcome": "refund"}  # 32 days <= 30 + 3
    assert policy["actions"][0]["action"] == "refund"  # amount: the action service default


def test_webhooks_without_a_secret_are_refused(pg_url: str) -> None:
    hx = harness(pg_url)
    with hx.client:
        answer = _shopify(hx, "orders/cancelled", CANCELLED, "w1")
    assert answer.status_code == 503
