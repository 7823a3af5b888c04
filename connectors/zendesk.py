"""Zendesk Support API: `POST /api/v2/tickets.json` with an `Idempotency-Key` header (Zendesk
answers a repeat with the first ticket and `x-idempotency-lookup: hit`).
Auth: Basic `{email}/token:{api_token}`.

* create_ticket: `{"ticket": {"subject", "comment": {"body"}, "priority", "tags",
  "external_id", "requester"}}`
* escalate: the same with `priority: urgent`, tag `escalated`, `assignee_email` = `to` when it
  is an email address.
"""

from __future__ import annotations

from typing import Any

from connectors._common import priority, ticket_text, unsupported
from connectors.base import ActionRequest, require
from connectors.http import HttpClient, Result
from runbook.settings import Settings


class ZendeskConnector:
    system = "zendesk"

    def __init__(self, settings: Settings, http: HttpClient) -> None:
        self.settings = settings
        self.http = http

    def idempotent(self, action: str) -> bool:
        return True

    def ticket(self, request: ActionRequest) -> dict[str, Any]:
        subject, body = ticket_text(request)
        escalate = request.action == "escalate"
        ticket: dict[str, Any] = {
            "subject": subject,
            "comment": {"body": body},
            "priority": "urgent" if escalate else priority(request.params.get("priority")),
            "tags": ["runbook", "escalated"] if escalate else ["runbook"],
            "external_id": request.idempotency_key,
        }
        email = request.customer.get("email")
        if email:
            ticket["requester"] = {"email": email, "name": request.customer.get("name") or email}
        to = str(request.params.get("to") or "")
        if escalate and "@" in to:
            ticket["assignee_email"] = to
        return {"ticket": ticket}

    async def perform(self, request: ActionRequest) -> Result:
        if request.action not in ("create_ticket", "escalate"):
            return Result.permanent(unsupported(self.system, request.action))
        base = require(self.settings.zendesk_base_url, "zendesk_base_url").rstrip("/")
        email = require(self.settings.zendesk_email, "zendesk_email")
        token = require(self.settings.zendesk_token, "zendesk_token")
        reply = await self.http.request(
            self.system, "POST", f"{base}/api/v2/tickets.json", json=self.ticket(request),
            headers={"Idempotency-Key": request.idempotency_key},
            auth=(f"{email}/token", token))
        if not reply.ok:
            return Result.failed(reply)
        ticket = (reply.body or {}).get("ticket") or {}
        lookup = reply.headers.get("x-idempotency-lookup") or reply.headers.get(
            "x-zendesk-idempotency-lookup")
        return Result.success([reply], external_id=str(ticket.get("id")),
                              replayed=lookup == "hit")
