"""One fake per external system, answering like the real API and checking what it checks."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import time
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes.server import FakeSystem, basic_auth, bearer, error, json_body

_ids = itertools.count(1000)


def next_id() -> int:
    return next(_ids)


# ------------------------------------------------------------------------------- Shopify


class FakeShopify(FakeSystem):
    """Admin REST: refunds (calculate + create, never over the refundable maximum), cancel,
    fulfillment order holds, tags. `orders[id]` = {"paid", "gateway", "tags", "refunds",
    "cancelled", "fulfillment_orders"}."""

    name = "shopify"

    def __init__(self, token: str = "shpat_test", version: str = "2024-10") -> None:
        super().__init__()
        self.token = token
        self.version = version
        self.orders: dict[str, dict[str, Any]] = {}

    def add_order(self, order_id: str, paid: str = "100.00", gateway: str = "shopify_payments",
                  tags: str = "") -> None:
        self.orders[order_id] = {"paid": Decimal(paid), "gateway": gateway, "tags": tags,
                                 "refunds": [], "cancelled": False, "parent_id": next_id(),
                                 "fulfillment_orders": [{"id": next_id(), "status": "open"}]}

    def routes(self) -> list[Route]:
        base = "/admin/api/{version}"
        return [
            Route(base + "/orders/{order_id}/refunds.json", self.refunds, methods=["GET", "POST"]),
            Route(base + "/orders/{order_id}/refunds/calculate.json", self.calculate,
                  methods=["POST"]),
            Route(base + "/orders/{order_id}/cancel.json", self.cancel, methods=["POST"]),
            Route(base + "/orders/{order_id}/fulfillment_orders.json", self.fulfillment_orders,
                  methods=["GET"]),
            Route(base + "/fulfillment_orders/{fo_id}/hold.json", self.hold, methods=["POST"]),
            Route(base + "/orders/{order_id}.json", self.order, methods=["GET", "PUT"]),
        ]

    def _check(self, request: Request) -> tuple[Response | None, dict[str, Any] | None]:
        if request.headers.get("x-shopify-access-token") != self.token:
            return error(401, {"errors": "[API] Invalid API key or access token"}), None
        if request.path_params["version"] != self.version:
            return error(404, {"errors": "Not Found"}), None
        order = self.orders.get(request.path_params.get("order_id", ""))
        if "order_id" in request.path_params and order is None:
            return error(404, {"errors": "Not Found"}), None
        return None, order

    def _refundable(self, order: dict[str, Any]) -> Decimal:
        refunded = sum((Decimal(r["amount"]) for r in order["refunds"]), Decimal(0))
        return order["paid"] - refunded

    async def calculate(self, request: Request) -> Response:
        denied, order = self._check(request)
        if denied or order is None:
            return denied or error(404, {})
        maximum = self._refundable(order)
        return JSONResponse({"refund": {"currency": "JPY", "shipping": {"amount": "0.00"},
                                        "refund_line_items": [], "transactions": [{
                                            "order_id": request.path_params["order_id"],
                                            "kind": "suggested_refund",
                                            "gateway": order["gateway"],
                                            "parent_id": order["parent_id"],
                                            "amount": str(maximum),
                                            "maximum_refundable": str(maximum)}]}})

    async def refunds(self, request: Request) -> Response:
        denied, order = self._check(request)
        if denied or order is None:
            return denied or error(404, {})
        if request.method == "GET":
            return JSONResponse({"refunds": [{"id": r["id"], "note": r["note"]}
                                             for r in order["refunds"]]})
        body = (await json_body(request) or {}).get("refund") or {}
        transactions = body.get("transactions") or []
        amount = sum((Decimal(str(t.get("amount", "0"))) for t in transactions), Decimal(0))
        if any(t.get("kind") != "refund" or t.get("parent_id") != order["parent_id"]
               for t in transactions):
            return error(422, {"errors": {"transactions": ["parent_id is invalid"]}})
        if amount > self._refundable(order):
            return error(422, {"errors": {"base": ["Refund amount exceeds refundable"]}})
        refund = {"id": next_id(), "note": body.get("note"), "amount": str(amount)}
        order["refunds"].append(refund)
        self.effect(f"refund:{request.path_params['order_id']}")
        return JSONResponse({"refund": refund}, status_code=201)

    async def cancel(self, request: Request) -> Response:
        denied, order = self._check(request)
        if denied or order is None:
            return denied or error(404, {})
        if order["cancelled"]:
            return error(422, {"error": "Order has already been cancelled"})
        order["cancelled"] = True
        self.effect(f"cancel:{request.path_params['order_id']}")
        return JSONResponse({"order": {"id": request.path_params["order_id"]}})

    async def fulfillment_orders(self, request: Request) -> Response:
        denied, order = self._check(request)
        if denied or order is None:
            return denied or error(404, {})
        return JSONResponse({"fulfillment_orders": order["fulfillment_orders"]})

    async def hold(self, request: Request) -> Response:
        denied, _ = self._check(request)
        if denied:
            return denied
        hold = (await json_body(request) or {}).get("fulfillment_hold") or {}
        if hold.get("reason") not in ("awaiting_payment", "high_risk_of_fraud",
                                      "incorrect_address", "inventory_out_of_stock", "other"):
            return error(422, {"errors": "reason is invalid"})
        fo_id = int(request.path_params["fo_id"])
        for order in self.orders.values():
            for fo in order["fulfillment_orders"]:
                if fo["id"] == fo_id:
                    fo["status"] = "on_hold"
                    self.effect(f"hold:{fo_id}")
                    return JSONResponse({"fulfillment_order": fo})
        return error(404, {"errors": "Not Found"})

    async def order(self, request: Request) -> Response:
        denied, order = self._check(request)
        if denied or order is None:
            return denied or error(404, {})
        if request.method == "PUT":
            body = (await json_body(request) or {}).get("order") or {}
            if "tags" in body:
                order["tags"] = body["tags"]
                self.effect(f"tags:{request.path_params['order_id']}")
        return JSONResponse({"order": {"id": request.path_params["order_id"],
                                       "tags": order["tags"]}})


# ------------------------------------------------------------------------------- Zendesk


class FakeZendesk(FakeSystem):
    """`POST /api/v2/tickets.json`; Basic `{email}/token:{token}`; `Idempotency-Key` replay
    answers the first ticket with `x-idempotency-lookup: hit`, and a different body
    under the same key is refused."""

    name = "zendesk"

    def __init__(self, email: str = "ops@shop.test", token: str = "zd_token") -> None:
        super().__init__()
        self.credentials = (f"{email}/token", token)
        self.bodies: dict[str, Any] = {}

    def routes(self) -> list[Route]:
        return [Route("/api/v2/tickets.json", self.create, methods=["POST"])]

    async def create(self, request: Request) -> Response:
        if basic_auth(request) != self.credentials:
            return error(401, {"error": "Couldn't authenticate you"})
        body = await json_body(request)
        key = request.headers.get("idempotency-key")
        replay = self.replay(key)
        if replay is not None:
            if key and self.bodies.get(key) != body:
                return error(400, {"error": "IdempotentRequestError",
                                   "description": "different request body for this key"})
            return replay
        ticket = (body or {}).get("ticket") or {}
        if not (ticket.get("comment") or {}).get("body"):
            return error(422, {"error": "RecordInvalid",
                               "details": {"base": [{"description": "comment is required"}]}})
        answer = {"ticket": {"id": next_id(), "subject": ticket.get("subject"),
                             "priority": ticket.get("priority"), "tags": ticket.get("tags")}}
        self.effect(f"ticket:{key or ticket.get('external_id')}")
        if key:
            self.bodies[key] = body
        self.remember(key, 201, answer, "x-idempotency-lookup")
        return JSONResponse(answer, status_code=201,
                            headers={"x-idempotency-lookup": "miss"})


class FakeGorgias(FakeSystem):
    """`POST /api/tickets`; Basic `{email}:{api key}`; needs `customer` and `messages`."""

    name = "gorgias"

    def __init__(self, email: str = "ops@shop.test", token: str = "gg_key") -> None:
        super().__init__()
        self.credentials = (email, token)

    def routes(self) -> list[Route]:
        return [Route("/api/tickets", self.create, methods=["POST"])]

    async def create(self, request: Request) -> Response:
        if basic_auth(request) != self.credentials:
            return error(401, {"error": "Unauthorized"})
        body = await json_body(request) or {}
        if not body.get("messages") or not body.get("customer"):
            return error(400, {"error": {"msg": "messages and customer are required"}})
        self.effect(f"ticket:{body.get('external_id')}")
        return JSONResponse({"id": next_id(), "external_id": body.get("external_id")},
                            status_code=201)


# -------------------------------------------------------------------------- labels, RMA


class FakeShipStation(FakeSystem):
    """`POST /shipments/createlabel` (Basic api key:secret), `POST /shipments/voidlabel`."""

    name = "shipstation"
    REQUIRED = ("carrierCode", "packageCode", "shipDate", "weight", "shipFrom", "shipTo")

    def __init__(self, key: str = "ss_key", secret: str = "ss_secret") -> None:
        super().__init__()
        self.credentials = (key, secret)

    def routes(self) -> list[Route]:
        return [Route("/shipments/createlabel", self.create, methods=["POST"]),
                Route("/shipments/voidlabel", self.void, methods=["POST"])]

    async def create(self, request: Request) -> Response:
        if basic_auth(request) != self.credentials:
            return PlainTextResponse("401 Unauthorized", status_code=401)
        body = await json_body(request) or {}
        missing = [f for f in self.REQUIRED if not body.get(f)]
        if missing:
            return error(400, {"Message": "The request is invalid.",
                               "ModelState": {f: ["required"] for f in missing}})
        shipment = next_id()
        self.effect(f"label:{shipment}")
        return JSONResponse({"shipmentId": shipment, "trackingNumber": f"1Z{shipment}",
                             "labelData": "JVBERi0=", "shipmentCost": 9.5})

    async def void(self, request: Request) -> Response:
        if basic_auth(request) != self.credentials:
            return PlainTextResponse("401 Unauthorized", status_code=401)
        return JSONResponse({"approved": True, "message": "Label voided successfully"})


class FakeShipBob(FakeSystem):
    """`POST /1.0/return` (Bearer); a second return with the same reference_id is refused."""

    name = "shipbob"

    def __init__(self, token: str = "sb_token") -> None:
        super().__init__()
        self.token = token
        self.references: set[str] = set()

    def routes(self) -> list[Route]:
        return [Route("/1.0/return", self.create, methods=["POST"])]

    async def create(self, request: Request) -> Response:
        if bearer(request) != self.token:
            return error(401, {"message": "Unauthorized"})
        body = await json_body(request) or {}
        reference = body.get("reference_id")
        if not reference or not body.get("inventory"):
            return error(400, {"errors": {"reference_id": "required", "inventory": "required"}})
        if reference in self.references:
            return error(422, {"errors": {"reference_id": [f"{reference} already exists"]}})
        self.references.add(reference)
        self.effect(f"return:{reference}")
        return JSONResponse({"id": next_id(), "reference_id": reference,
                             "status": "AwaitingArrival"}, status_code=201)


# ---------------------------------------------------------------------------------- BNPL


class FakeBnpl(FakeSystem):
    """Paidy: `GET /payments/{id}`, `POST /payments/{id}/refunds`, `POST /payments/{id}/close`.
    Bearer secret key and `Paidy-Version` required; refunds over the captured amount refused."""

    name = "bnpl"

    def __init__(self, token: str = "sk_test") -> None:
        super().__init__()
        self.token = token
        self.payments: dict[str, dict[str, Any]] = {}

    def add_payment(self, payment_id: str, captured: float) -> None:
        self.payments[payment_id] = {"id": payment_id, "status": "closed" if not captured
                                     else "authorized", "amount": captured,
                                     "captures": [{"id": f"cap_{payment_id}",
                                                   "amount": captured}],
                                     "refunds": []}

    def routes(self) -> list[Route]:
        return [Route("/payments/{pid}", self.get, methods=["GET"]),
                Route("/payments/{pid}/refunds", self.refund, methods=["POST"]),
                Route("/payments/{pid}/close", self.close, methods=["POST"])]

    def _check(self, request: Request) -> Response | dict[str, Any]:
        if bearer(request) != self.token or not request.headers.get("paidy-version"):
            return error(401, {"reference": "authentication.failed"})
        payment = self.payments.get(request.path_params["pid"])
        return payment if payment is not None else error(404, {"code": "payment.not_found"})

    async def get(self, request: Request) -> Response:
        payment = self._check(request)
        return payment if isinstance(payment, Response) else JSONResponse(payment)

    async def refund(self, request: Request) -> Response:
        payment = self._check(request)
        if isinstance(payment, Response):
            return payment
        body = await json_body(request) or {}
        refunded = sum(r["amount"] for r in payment["refunds"])
        if float(body.get("amount", 0)) > payment["captures"][0]["amount"] - refunded:
            return error(400, {"code": "request_content.malformed",
                               "description": "amount exceeds refundable"})
        refund = {"id": f"ref_{next_id()}", "amount": float(body["amount"]),
                  "capture_id": body.get("capture_id"), "metadata": body.get("metadata") or {}}
        payment["refunds"].append(refund)
        self.effect(f"refund:{payment['id']}")
        return JSONResponse(payment)

    async def close(self, request: Request) -> Response:
        payment = self._check(request)
        if isinstance(payment, Response):
            return payment
        if payment["status"] == "closed":
            return error(400, {"code": "payment.already_closed"})
        payment["status"] = "closed"
        self.effect(f"close:{payment['id']}")
        return JSONResponse(payment)


# ------------------------------------------------------------------------------- Klaviyo


class FakeKlaviyo(FakeSystem):
    """`POST /api/events/`: `Klaviyo-API-Key`, `revision` header, JSON:API body; one event per
    `unique_id` (a repeat answers 202 without a second event)."""

    name = "klaviyo"

    def __init__(self, token: str = "pk_test") -> None:
        super().__init__()
        self.token = token
        self.unique_ids: set[str] = set()

    def routes(self) -> list[Route]:
        return [Route("/api/events/", self.create, methods=["POST"])]

    async def create(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Klaviyo-API-Key {self.token}":
            return error(401, {"errors": [{"code": "not_authenticated"}]})
        if not request.headers.get("revision"):
            return error(400, {"errors": [{"code": "missing_revision"}]})
        data = (await json_body(request) or {}).get("data") or {}
        attributes = data.get("attributes") or {}
        if data.get("type") != "event" or not attributes.get("metric") or not attributes.get(
                "profile"):
            return error(400, {"errors": [{"code": "invalid", "detail": "bad event"}]})
        unique = attributes.get("unique_id") or str(next_id())
        with self.lock:
            fresh = unique not in self.unique_ids
            self.unique_ids.add(unique)
        if fresh:
            self.effect(f"event:{unique}")
        return Response(status_code=202)


# --------------------------------------------------------------------------------- Slack


class FakeSlack(FakeSystem):
    """Incoming webhook `POST /services/T000/B000/{secret}` (text `ok`, 404 channel_not_found)
    and `POST /chat.postMessage` (Bearer; 200 with ok:false for API errors)."""

    name = "slack"
    HOOK_SECRET = "XXXXsecret"

    def __init__(self, token: str = "xoxb-test") -> None:
        super().__init__()
        self.token = token
        self.missing_channels = {"#missing"}
        self.ratelimited = 0

    @property
    def webhook_path(self) -> str:
        return f"/services/T000/B000/{self.HOOK_SECRET}"

    def routes(self) -> list[Route]:
        return [Route("/services/{team}/{bot}/{secret}", self.webhook, methods=["POST"]),
                Route("/chat.postMessage", self.post_message, methods=["POST"])]

    async def webhook(self, request: Request) -> Response:
        if request.path_params["secret"] != self.HOOK_SECRET:
            return PlainTextResponse("no_service", status_code=404)
        body = await json_body(request) or {}
        if not body.get("text") and not body.get("blocks"):
            return PlainTextResponse("invalid_payload", status_code=400)
        if body.get("channel") in self.missing_channels:
            return PlainTextResponse("channel_not_found", status_code=404)
        self.effect(f"message:{body.get('channel')}:{body.get('text')}")
        return PlainTextResponse("ok")

    async def post_message(self, request: Request) -> Response:
        if bearer(request) != self.token:
            return JSONResponse({"ok": False, "error": "invalid_auth"})
        if self.ratelimited > 0:
            self.ratelimited -= 1
            return JSONResponse({"ok": False, "error": "ratelimited"},
                                headers={"Retry-After": "1"})
        body = await json_body(request) or {}
        if not body.get("channel"):
            return JSONResponse({"ok": False, "error": "channel_not_found"})
        if body["channel"] in self.missing_channels:
            return JSONResponse({"ok": False, "error": "channel_not_found"})
        if not body.get("text") and not body.get("blocks"):
            return JSONResponse({"ok": False, "error": "no_text"})
        self.effect(f"message:{body['channel']}:{body.get('text')}")
        return JSONResponse({"ok": True, "channel": "C123", "ts": f"{time.time():.6f}"})


# ------------------------------------------------------------------------- generic webhook


class FakeWebhookReceiver(FakeSystem):
    """`POST /hook` (and `/carrier`): verifies the HMAC signature and timestamp, de-duplicates
    on `Idempotency-Key` as the webhook contract asks of receivers."""

    name = "webhook"

    def __init__(self, secret: str = "whsec_test") -> None:
        super().__init__()
        self.secret = secret

    def routes(self) -> list[Route]:
        return [Route("/hook", self.receive, methods=["POST"]),
                Route("/carrier", self.receive, methods=["POST"])]

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        timestamp = request.headers.get("x-runbook-timestamp", "0")
        expected = "sha256=" + hmac.new(self.secret.encode(), timestamp.encode() + b"." + body,
                                        hashlib.sha256).hexdigest()
        signature = request.headers.get("x-runbook-signature", "")
        fresh = abs(time.time() - float(timestamp)) <= 300
        if not hmac.compare_digest(expected, signature) or not fresh:
            return error(401, {"error": "bad signature"})
        key = request.headers.get("idempotency-key")
        replay = self.replay(key)
        if replay is not None:
            return replay
        self.effect(f"{request.url.path.strip('/')}:{key}")
        self.remember(key, 200, {"received": True})
        return JSONResponse({"received": True})


# ------------------------------------------------------------------------- BASE, ecforce


class FakeBase(FakeSystem):
    """thebase.in: `GET /1/orders/detail/{key}`, `POST /1/orders/edit_status` (form)."""

    name = "base"

    def __init__(self, token: str = "base_token") -> None:
        super().__init__()
        self.token = token
        self.orders: dict[str, list[dict[str, Any]]] = {}

    def add_order(self, key: str, items: int = 2) -> None:
        self.orders[key] = [{"order_item_id": next_id(), "status": "ordered"}
                            for _ in range(items)]

    def routes(self) -> list[Route]:
        return [Route("/1/orders/detail/{key}", self.detail, methods=["GET"]),
                Route("/1/orders/edit_status", self.edit_status, methods=["POST"])]

    async def detail(self, request: Request) -> Response:
        if bearer(request) != self.token:
            return error(401, {"error": "invalid_token"})
        items = self.orders.get(request.path_params["key"])
        if items is None:
            return error(404, {"error": "not_found"})
        return JSONResponse({"order": {"unique_key": request.path_params["key"],
                                       "order_items": items}})

    async def edit_status(self, request: Request) -> Response:
        if bearer(request) != self.token:
            return error(401, {"error": "invalid_token"})
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if form.get("status") not in ("ordered", "cancelled", "dispatched", "unpaid"):
            return error(400, {"error": "bad_request", "error_description": "status"})
        for items in self.orders.values():
            for item in items:
                if str(item["order_item_id"]) == form.get("order_item_id"):
                    item["status"] = form["status"]
                    self.effect(f"item:{item['order_item_id']}:{form['status']}")
                    return JSONResponse({"order_item": item})
        return error(400, {"error": "bad_request", "error_description": "order_item_id"})


class FakeEcforce(FakeSystem):
    """ecforce admin API as this project assumes it (docs/connectors.md: not confirmed)."""

    name = "ecforce"

    def __init__(self, token: str = "ec_token") -> None:
        super().__init__()
        self.token = token

    def routes(self) -> list[Route]:
        return [Route("/api/v2/admin/orders/{oid}/cancel.json", self.cancel, methods=["PUT"]),
                Route("/api/v2/admin/orders/{oid}.json", self.update, methods=["PUT"])]

    def _denied(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f'Token token="{self.token}"':
            return error(401, {"error": "unauthorized"})
        return None

    async def cancel(self, request: Request) -> Response:
        denied = self._denied(request)
        if denied:
            return denied
        self.effect(f"cancel:{request.path_params['oid']}")
        return JSONResponse({"id": request.path_params["oid"], "state": "canceled"})

    async def update(self, request: Request) -> Response:
        denied = self._denied(request)
        if denied:
            return denied
        body = (await json_body(request) or {}).get("order") or {}
        self.effect(f"update:{request.path_params['oid']}:{sorted(body)}")
        return JSONResponse({"id": request.path_params["oid"], **body})
