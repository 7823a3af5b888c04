"""Property-based tests of the inbound webhooks with valid signatures.

The OpenAPI schema does not describe the webhook bodies (they are the platforms' own), so
schemathesis only reaches the signature check there. Here hypothesis builds Shopify and
AfterShip-like payloads from the fields the normalizers read, with hostile values (wrong
types, huge numbers, odd dates, NUL characters), signs them with the configured secret and
posts them: no 5xx, and every error answer has the JSON error shape.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules_service.webhooks.signatures import sign
from tests.api.conftest import SHOPIFY_SECRET, TRACKING_SECRET, Api

FUZZ = settings(max_examples=60, derandomize=True, deadline=None, database=None,
                print_blob=False, suppress_health_check=list(HealthCheck))

MOMENTS = st.sampled_from([
    "2026-11-20T10:00:00+09:00", "2026-11-20", "2026-11-20T10:00:00", "2026-13-40T99:00:00Z",
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00", "yesterday", "", "1e309",
])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False), st.text(max_size=12), MOMENTS,
    st.sampled_from(["12800.00", "-1", "NaN", "Infinity", "1e400", "a\x00b", "  "]),
)
FIELDS = [
    "id", "order_id", "name", "order_number", "email", "created_at", "updated_at",
    "processed_at", "cancelled_at", "requested_at", "total_price", "subtotal_price", "currency",
    "financial_status", "fulfillment_status", "cancel_reason", "note", "customer_note", "tags",
    "customer", "shipping_address", "line_items", "refund_line_items", "return_line_items",
    "transactions", "return_reason", "amount", "quantity", "price", "sku", "title", "kind",
    "line_item_id", "restock", "orders_count", "country_code",
]
TRACKING_FIELDS = [
    "tag", "subtag", "slug", "tracking_number", "order_id", "order_number", "expected_delivery",
    "shipment_delivery_date", "order_promised_delivery_date", "delivered_at", "delay_days",
    "checkpoints", "checkpoint_time", "updated_at", "created_at", "id", "title",
]


def _objects(fields: list[str]) -> st.SearchStrategy[Any]:
    """JSON objects over `fields`, nested a few levels (objects and lists of them)."""
    return st.recursive(
        SCALARS,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(st.sampled_from(fields), children, max_size=6),
        ),
        max_leaves=20,
    ).filter(lambda value: value is not None) | st.dictionaries(
        st.sampled_from(fields), SCALARS, max_size=8)


SHOPIFY = st.tuples(
    st.sampled_from(["orders/create", "orders/cancelled", "refunds/create", "returns/request",
                     "ORDERS/CREATE ", "app/uninstalled"]),
    _objects(FIELDS),
    st.one_of(st.none(), MOMENTS),
)
TRACKING = st.fixed_dictionaries({
    "event_id": st.one_of(st.none(), st.text(max_size=8)),
    "ts": st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**63), st.floats()),
    "msg": st.one_of(
        st.fixed_dictionaries(
            {"tag": st.sampled_from(["Delivered", "Exception", "AttemptFail", "InTransit", ""])},
            optional={field: SCALARS for field in TRACKING_FIELDS if field != "tag"},
        ),
        _objects(TRACKING_FIELDS),
    ),
})


def _check(response: Any, sent: Any) -> None:
    assert response.status_code < 500, (response.status_code, response.text, sent)
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("code"), str) and isinstance(body.get("message"), str), body


def _dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


def test_signed_shopify_webhooks_never_fail(rules_api: Api) -> None:
    counter = iter(range(10**9))

    @FUZZ
    @given(SHOPIFY)
    def post(delivery: tuple[str, Any, str | None]) -> None:
        topic, payload, triggered_at = delivery
        body = _dumps(payload)
        headers = {"X-Shopify-Hmac-Sha256": sign(SHOPIFY_SECRET, body),
                   "X-Shopify-Topic": topic, "X-Shopify-Webhook-Id": f"wh-{next(counter)}",
                   "Content-Type": "application/json"}
        if triggered_at is not None:
            headers["X-Shopify-Triggered-At"] = triggered_at
        _check(rules_api.client.post("/v1/webhooks/shopify", data=body, headers=headers),
               delivery)

    post()


def test_signed_tracking_webhooks_never_fail(rules_api: Api) -> None:
    @FUZZ
    @given(TRACKING)
    def post(payload: dict[str, Any]) -> None:
        body = _dumps(payload)
        headers = {"aftership-hmac-sha256": sign(TRACKING_SECRET, body),
                   "Content-Type": "application/json"}
        _check(rules_api.client.post("/v1/webhooks/tracking", data=body, headers=headers),
               payload)

    post()
