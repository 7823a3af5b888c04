"""Each connector against its fake: the real paths and payloads, auth, idempotency, refusals."""

from __future__ import annotations

import uuid
from typing import Any

from connectors.base import ActionRequest
from connectors.http import Outcome
from tests.fakes.environment import Fakes
from tests.fakes.server import Fault


def request(action: str, params: dict[str, Any] | None = None, **data: Any) -> ActionRequest:
    return ActionRequest(action=action, idempotency_key=f"run-{uuid.uuid4().hex[:8]}:0",
                         params=params or {}, data=data, run_id="run", event_type="order.placed")


def order_id() -> str:
    return str(uuid.uuid4().int % 10**9)


# ------------------------------------------------------------------------------- Shopify


def test_shopify_refund_default_is_the_refundable_maximum(fakes: Fakes, runtime_for) -> None:
    shopify = fakes.system("shopify")
    oid = order_id()
    shopify.add_order(oid, paid="120.00")
    runtime = runtime_for()
    result = runtime.perform(request("refund", {"reason": "damaged"}, order={"id": oid}))
    assert result.ok, result.error
    assert result.data["amount"] == "120.00"
    assert shopify.effects[f"refund:{oid}"] == 1
    paths = [r.path for r in shopify.requests_to(f"/orders/{oid}/refunds")]
    assert paths == [f"/admin/api/2024-10/orders/{oid}/refunds.json",
                     f"/admin/api/2024-10/orders/{oid}/refunds/calculate.json",
                     f"/admin/api/2024-10/orders/{oid}/refunds.json"]


def test_shopify_refund_repeat_is_recognized_by_its_note(fakes: Fakes, runtime_for) -> None:
    shopify = fakes.system("shopify")
    oid = order_id()
    shopify.add_order(oid, paid="50.00")
    runtime = runtime_for()
    req = request("refund", {"amount": 20}, order={"id": oid})
    assert runtime.perform(req).ok
    again = runtime.perform(req)
    assert again.ok and again.data.get("replayed") is True
    assert shopify.effects[f"refund:{oid}"] == 1


def test_shopify_refund_over_maximum_never_reaches_the_fake(fakes: Fakes, runtime_for) -> None:
    shopify = fakes.system("shopify")
    oid = order_id()
    shopify.add_order(oid, paid="30.00")
    result = runtime_for().perform(request("refund", {"amount": 31}, order={"id": oid}))
    assert result.outcome is Outcome.PERMANENT
    assert "over the refundable maximum" in (result.error or "")
    assert shopify.effects[f"refund:{oid}"] == 0
    assert not [r for r in shopify.requests_to(f"/orders/{oid}/refunds.json")
                if r.method == "POST"]


def test_shopify_cancel_hold_and_tags(fakes: Fakes, runtime_for) -> None:
    shopify = fakes.system("shopify")
    oid = order_id()
    shopify.add_order(oid, tags="vip")
    runtime = runtime_for()
    assert runtime.perform(request("hold_order", {"reason": "review"}, order={"id": oid})).ok
    assert runtime.perform(request("tag_order", {"tags": ["fraud-check", "vip"]},
                                   order={"id": oid})).ok
    assert shopify.orders[oid]["tags"] == "vip, fraud-check"
    assert runtime.perform(request("cancel_order", {"reason": "fraud"}, order={"id": oid})).ok
    again = runtime.perform(request("cancel_order", {}, order={"id": oid}))
    assert again.ok and again.data.get("already") is True
    assert shopify.effects[f"cancel:{oid}"] == 1
    fo = shopify.orders[oid]["fulfillment_orders"][0]
    assert fo["status"] == "on_hold" and shopify.effects[f"hold:{fo['id']}"] == 1


def test_shopify_bad_token_is_permanent(fakes: Fakes, runtime_for) -> None:
    oid = order_id()
    fakes.system("shopify").add_order(oid)
    result = runtime_for(shopify_token="wrong").perform(request("cancel_order",
                                                                order={"id": oid}))
    assert result.outcome is Outcome.PERMANENT and result.status == 401


def test_unconfigured_system_is_permanent(fakes: Fakes, runtime_for) -> None:
    result = runtime_for(shopify_base_url=None).perform(request("cancel_order",
                                                                order={"id": "1"}))
    assert result.outcome is Outcome.PERMANENT and "RUNBOOK_SHOPIFY_BASE_URL" in result.error


# ------------------------------------------------------------------------------- tickets


def test_zendesk_ticket_with_idempotency_key(fakes: Fakes, runtime_for) -> None:
    zendesk = fakes.system("zendesk")
    runtime = runtime_for()
    req = request("create_ticket", {"subject": "Damaged", "priority": "high"},
                  customer={"email": "c@x.test"}, order={"id": "9"})
    first = runtime.perform(req)
    second = runtime.perform(req)
    assert first.ok and second.ok and first.external_id == second.external_id
    assert second.data["replayed"] is True
    assert zendesk.effects[f"ticket:{req.idempotency_key}"] == 1
    sent = zendesk.requests_to("/api/v2/tickets.json")[-1]
    assert sent.headers["idempotency-key"] == req.idempotency_key
    assert sent.json()["ticket"]["priority"] == "high"


def test_escalate_through_gorgias(fakes: Fakes, runtime_for) -> None:
    gorgias = fakes.system("gorgias")
    req = request("escalate", {"to": "manager@shop.test", "note": "2nd cancellation"},
                  customer={"email": "c@x.test"})
    result = runtime_for(ticket_system="gorgias").perform(req)
    assert result.ok, result.error
    body = gorgias.requests_to("/api/tickets")[-1].json()
    assert body["priority"] == "urgent" and {"name": "escalated"} in body["tags"]


# ------------------------------------------------------------------------- labels and RMA


ADDRESS = {"name": "Hanako", "address1": "1-2-3", "city": "Tokyo", "zip": "100-0001",
           "country_code": "JP"}


def test_shipstation_return_label(fakes: Fakes, runtime_for) -> None:
    shipstation = fakes.system("shipstation")
    before = shipstation.total_effects()
    req = request("create_return_label", {"carrier": "fedex"},
                  order={"id": "5", "shipping_address": ADDRESS}, warehouse=ADDRESS)
    result = runtime_for().perform(req)
    assert result.ok, result.error
    assert result.data["tracking_number"].startswith("1Z")
    assert shipstation.total_effects() == before + 1
    assert shipstation.requests_to("/shipments/createlabel")[-1].json()["carrierCode"] == "fedex"


def test_shipstation_needs_addresses(runtime_for) -> None:
    result = runtime_for().perform(request("create_return_label", order={"id": "5"}))
    assert result.outcome is Outcome.PERMANENT


def test_shipbob_rma_duplicate_reference_counts_as_done(fakes: Fakes, runtime_for) -> None:
    shipbob = fakes.system("shipbob")
    runtime = runtime_for(label_system="shipbob")
    req = request("create_rma", order={"id": "5", "line_items": [{"id": 77, "quantity": 1}],
                                       "fulfillment_center_id": 1})
    assert runtime.perform(req).ok
    again = runtime.perform(req)
    assert again.ok and again.data.get("already") is True
    assert shipbob.effects[f"return:{req.idempotency_key}"] == 1


# ---------------------------------------------------------------------------------- BNPL


def test_bnpl_refund_routed_by_gateway_and_capped(fakes: Fakes, runtime_for) -> None:
    bnpl = fakes.system("bnpl")
    pid = f"pay_{uuid.uuid4().hex[:8]}"
    bnpl.add_payment(pid, 10000)
    runtime = runtime_for()
    order = {"id": "7", "payment_gateway": "Paidy", "payment_id": pid}
    over = runtime.perform(request("refund", {"amount": 10001}, order=order))
    assert over.outcome is Outcome.PERMANENT and bnpl.effects[f"refund:{pid}"] == 0
    req = request("refund", {"amount": 4000}, order=order)
    assert runtime.perform(req).ok
    assert runtime.perform(req).data.get("replayed") is True
    assert bnpl.effects[f"refund:{pid}"] == 1
    assert runtime.system_for(request("cancel_order", order=order)) == "shopify"


# ------------------------------------------------------------------- campaign, Slack, hooks


def test_klaviyo_event_unique_id(fakes: Fakes, runtime_for) -> None:
    klaviyo = fakes.system("klaviyo")
    req = request("send_campaign", {"campaign": "winback"}, customer={"email": "c@x.test"})
    runtime = runtime_for()
    assert runtime.perform(req).ok and runtime.perform(req).ok
    assert klaviyo.effects[f"event:{req.idempotency_key}"] == 1
    sent = klaviyo.requests_to("/api/events/")[-1]
    assert sent.headers["revision"] == "2024-10-15"
    assert sent.json()["data"]["attributes"]["unique_id"] == req.idempotency_key


def test_slack_webhook_and_errors(fakes: Fakes, runtime_for) -> None:
    slack = fakes.system("slack")
    runtime = runtime_for()
    text = f"hello {uuid.uuid4().hex}"
    assert runtime.perform(request("post_slack", {"channel": "#ops", "text": text})).ok
    assert slack.effects[f"message:#ops:{text}"] == 1
    missing = runtime.perform(request("post_slack", {"channel": "#missing", "text": "x"}))
    assert missing.outcome is Outcome.PERMANENT
    assert "/services/***" in missing.requests[0].url  # the webhook secret is not audited


def test_slack_post_message_ok_false(fakes: Fakes, runtime_for) -> None:
    slack = fakes.system("slack")
    runtime = runtime_for(slack_token="xoxb-test")
    assert runtime.perform(request("post_slack", {"channel": "#ops", "text": "a"})).ok
    missing = runtime.perform(request("post_slack", {"channel": "#missing", "text": "a"}))
    assert missing.outcome is Outcome.PERMANENT and missing.error == "slack: channel_not_found"
    slack.ratelimited = 1
    limited = runtime.perform(request("post_slack", {"channel": "#ops", "text": "b"}))
    assert limited.outcome is Outcome.TRANSIENT and limited.retry_after == 1.0
    bad = runtime_for(slack_token="xoxb-wrong").perform(request("post_slack", {"text": "c"}))
    assert bad.outcome is Outcome.PERMANENT and bad.error == "slack: invalid_auth"


def test_signed_webhook_and_carrier(fakes: Fakes, runtime_for) -> None:
    receiver = fakes.system("webhook")
    runtime = runtime_for()
    req = request("webhook", {"url": fakes["webhook"].url + "/hook", "body": {"a": 1}})
    assert runtime.perform(req).ok and runtime.perform(req).ok
    assert receiver.effects[f"hook:{req.idempotency_key}"] == 1
    wrong = runtime_for(webhook_secret="other").perform(
        request("webhook", {"url": fakes["webhook"].url + "/hook"}))
    assert wrong.outcome is Outcome.PERMANENT and wrong.status == 401
    carrier = request("notify_carrier", {"message": "address changed"},
                      order={"id": "1", "tracking_number": "1Z9"})
    assert runtime.perform(carrier).ok
    assert receiver.effects[f"carrier:{carrier.idempotency_key}"] == 1


def test_fault_injection_classification(fakes: Fakes, runtime_for) -> None:
    receiver = fakes.system("webhook")
    runtime = runtime_for()
    url = fakes["webhook"].url + "/hook"
    receiver.inject(Fault(status=500, path="/hook"))
    assert runtime.perform(request("webhook", {"url": url})).outcome is Outcome.TRANSIENT
    receiver.inject(Fault(status=429, retry_after=2, path="/hook"))
    limited = runtime.perform(request("webhook", {"url": url}))
    assert limited.outcome is Outcome.TRANSIENT and limited.retry_after == 2.0
    receiver.inject(Fault(status=400, path="/hook"))
    assert runtime.perform(request("webhook", {"url": url})).outcome is Outcome.PERMANENT
    receiver.inject(Fault(kind="timeout", seconds=2.0, path="/hook"))
    timed_out = runtime.perform(request("webhook", {"url": url}))
    assert timed_out.outcome is Outcome.TRANSIENT and "Timeout" in (timed_out.error or "")


# ------------------------------------------------------------------------ BASE, ecforce


def test_base_cancel_each_item_once(fakes: Fakes, runtime_for) -> None:
    base = fakes.system("base")
    key = uuid.uuid4().hex[:10]
    base.add_order(key, items=2)
    runtime = runtime_for(order_system="base")
    req = request("cancel_order", order={"id": key})
    assert runtime.perform(req).ok and runtime.perform(req).ok
    assert sum(v for k, v in base.effects.items() if k.endswith(":cancelled")) >= 2
    assert all(item["status"] == "cancelled" for item in base.orders[key])
    refund = runtime.perform(request("refund", order={"id": key}))
    assert refund.outcome is Outcome.PERMANENT and "no API" in (refund.error or "")


def test_ecforce_cancel_and_tags(fakes: Fakes, runtime_for) -> None:
    ecforce = fakes.system("ecforce")
    runtime = runtime_for(order_system="ecforce")
    assert runtime.perform(request("cancel_order", order={"id": "44"})).ok
    assert runtime.perform(request("tag_order", {"tags": "a, b"}, order={"id": "44"})).ok
    assert ecforce.effects["cancel:44"] == 1


def test_webhook_host_allowlist(fakes: Fakes, runtime_for) -> None:
    runtime = runtime_for(webhook_allowed_hosts=["hooks.example.com"])
    refused = runtime.perform(request("webhook", {"url": fakes["webhook"].url + "/hook"}))
    assert refused.outcome is Outcome.PERMANENT and "ALLOWED_HOSTS" in (refused.error or "")
    assert runtime_for(webhook_allowed_hosts=["127.0.0.1"]).perform(
        request("webhook", {"url": fakes["webhook"].url + "/hook"})).ok
