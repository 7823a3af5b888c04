"""The generic signed webhook (action `webhook`) and the carrier notification
(`notify_carrier`, a signed webhook to `carrier_webhook_url`).

`POST <url>` with a JSON body `{"idempotency_key", "action", "run_id", "order_id", "body"}` and
headers:

* `Idempotency-Key: <key>` — receivers must de-duplicate on it (this is the contract of the
  generic webhook; a repeat after a crash is delivered with the same key);
* `X-Runbook-Timestamp: <unix seconds>`;
* `X-Runbook-Signature: sha256=<hex HMAC-SHA256(webhook_secret, "<timestamp>.<body>")>`.

`webhook_allowed_hosts`, when set, limits the hosts a workbook's `webhook` action may call.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlsplit

from connectors._common import unsupported
from connectors.base import ActionRequest, require
from connectors.http import HttpClient, Result
from runbook.settings import Settings


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str,
           *, tolerance: float = 300.0, now: float | None = None) -> bool:
    if abs((now or time.time()) - float(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookConnector:
    system = "webhook"
    action = "webhook"

    def __init__(self, settings: Settings, http: HttpClient) -> None:
        self.settings = settings
        self.http = http

    def idempotent(self, action: str) -> bool:
        return True

    def target(self, request: ActionRequest) -> str | None:
        url = request.params.get("url")
        return str(url) if url else None

    def payload(self, request: ActionRequest) -> Any:
        return request.params.get("body")

    def allowed(self, url: str) -> bool:
        hosts = {h.lower() for h in self.settings.webhook_allowed_hosts}
        return not hosts or (urlsplit(url).hostname or "").lower() in hosts

    async def perform(self, request: ActionRequest) -> Result:
        if request.action != self.action:
            return Result.permanent(unsupported(self.system, request.action))
        url = self.target(request)
        if not url or not url.startswith(("http://", "https://")):
            return Result.permanent(f"{self.action} needs an http(s) url, got {url!r}")
        if not self.allowed(url):
            return Result.permanent(f"host of {url!r} is not in RUNBOOK_WEBHOOK_ALLOWED_HOSTS")
        secret = require(self.settings.webhook_secret, "webhook_secret")
        body = json.dumps({"idempotency_key": request.idempotency_key, "action": request.action,
                           "run_id": request.run_id, "order_id": request.order_ref(),
                           "body": self.payload(request)}, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json",
                   "Idempotency-Key": request.idempotency_key,
                   "X-Runbook-Timestamp": timestamp,
                   "X-Runbook-Signature": sign(secret, timestamp, body)}
        reply = await self.http.request(self.system, "POST", url, content=body, headers=headers)
        return Result.success([reply]) if reply.ok else Result.failed(reply)


class CarrierConnector(WebhookConnector):
    system = "carrier"
    action = "notify_carrier"

    def target(self, request: ActionRequest) -> str | None:
        return require(self.settings.carrier_webhook_url, "carrier_webhook_url")

    def payload(self, request: ActionRequest) -> Any:
        order = request.order
        return {"message": request.params.get("message") or "", "order_id": request.order_ref(),
                "tracking_number": order.get("tracking_number"),
                "carrier": order.get("carrier")}
