"""Gorgias REST API: `POST /api/tickets`. Auth: Basic `{email}:{api_key}`.

Gorgias takes no idempotency key; the ticket carries `external_id` = our key, but whether a
ticket can be looked up by it was not confirmed, so this connector relies on the local check
(see docs/actions.md, residual window).
"""

from __future__ import annotations

from typing import Any

from connectors._common import priority, ticket_text, unsupported
from connectors.base import ActionRequest, require
from connectors.http import HttpClient, Result
from runbook.settings import Settings


class GorgiasConnector:
    system = "gorgias"

    def __init__(self, settings: Settings, http: HttpClient) -> None:
        self.settings = settings
        self.http = http

    def idempotent(self, action: str) -> bool:
        return False

    def ticket(self, request: ActionRequest) -> dict[str, Any]:
        subject, body = ticket_text(request)
        email = request.customer.get("email") or "unknown@invalid"
        escalate = request.action == "escalate"
        tags = [{"name": "runbook"}] + ([{"name": "escalated"}] if escalate else [])
        return {
            "channel": "api",
            "via": "api",
            "subject": subject,
            "external_id": request.idempotency_key,
            "priority": "urgent" if escalate else priority(request.params.get("priority")),
            "customer": {"email": email},
            "tags": tags,
            "messages": [{
                "channel": "api", "via": "api", "from_agent": False,
                "sender": {"email": email}, "subject": subject, "body_text": body,
            }],
        }

    async def perform(self, request: ActionRequest) -> Result:
        if request.action not in ("create_ticket", "escalate"):
            return Result.permanent(unsupported(self.system, request.action))
        base = require(self.settings.gorgias_base_url, "gorgias_base_url").rstrip("/")
        email = require(self.settings.gorgias_email, "gorgias_email")
        token = require(self.settings.gorgias_token, "gorgias_token")
        reply = await self.http.request(self.system, "POST", f"{base}/api/tickets",
                                        json=self.ticket(request), auth=(email, token))
        if not reply.ok:
            return Result.failed(reply)
        return Result.success([reply], external_id=str((reply.body or {}).get("id")))
