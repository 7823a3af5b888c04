"""Slack. With `slack_token`: `POST {slack_base_url}/chat.postMessage` (Bearer bot token) —
HTTP 200 with `{"ok": false, "error": …}` is a failure: `ratelimited` (and internal errors)
transient, honoring `Retry-After`; `channel_not_found`, `invalid_auth`, `not_in_channel`, …
permanent. Without a token: the incoming webhook `slack_webhook_url` (answers `ok` as text;
errors are 4xx with a text code like `channel_not_found`, 429 when rate limited).

Slack takes no idempotency key: the local check covers repeats (docs/actions.md).
"""

from __future__ import annotations

from typing import Any

from connectors._common import unsupported
from connectors.base import ActionRequest, NotConfigured
from connectors.http import HttpClient, Outcome, Reply, Result
from runbook.settings import Settings

TRANSIENT_ERRORS = frozenset({"ratelimited", "rate_limited", "internal_error", "fatal_error",
                              "service_unavailable", "request_timeout"})


class SlackConnector:
    system = "slack"

    def __init__(self, settings: Settings, http: HttpClient) -> None:
        self.settings = settings
        self.http = http

    def idempotent(self, action: str) -> bool:
        return False

    def message(self, request: ActionRequest) -> dict[str, Any]:
        text = request.params.get("text") or (
            f"{request.event_type or 'event'}: order {request.order_ref()} "
            f"(run {request.run_id})")
        channel = request.params.get("channel") or self.settings.slack_default_channel
        return {"channel": str(channel), "text": str(text)}

    async def perform(self, request: ActionRequest) -> Result:
        if request.action != "post_slack":
            return Result.permanent(unsupported(self.system, request.action))
        if self.settings.slack_token:
            return await self._post_message(request)
        if self.settings.slack_webhook_url:
            reply = await self.http.request(self.system, "POST", self.settings.slack_webhook_url,
                                            json=self.message(request))
            return Result.success([reply]) if reply.ok else Result.failed(reply)
        raise NotConfigured("RUNBOOK_SLACK_TOKEN or RUNBOOK_SLACK_WEBHOOK_URL is not set")

    async def _post_message(self, request: ActionRequest) -> Result:
        url = f"{self.settings.slack_base_url.rstrip('/')}/chat.postMessage"
        reply = await self.http.request(
            self.system, "POST", url, json=self.message(request),
            headers={"Authorization": f"Bearer {self.settings.slack_token}"})
        if not reply.ok:
            return Result.failed(reply)
        return _api_result(reply)


def _api_result(reply: Reply) -> Result:
    body = reply.body if isinstance(reply.body, dict) else {}
    if body.get("ok") is True:
        return Result.success([reply], external_id=str(body.get("ts")))
    error = str(body.get("error") or "not ok")
    outcome = Outcome.TRANSIENT if error in TRANSIENT_ERRORS else Outcome.PERMANENT
    return Result(outcome, [reply.summary], f"slack: {error}", reply.retry_after, reply.status)
