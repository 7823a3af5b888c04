"""The shared client: classification, Retry-After, redaction, token bucket."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx
import pytest

from connectors.http import (
    HttpClient,
    Outcome,
    TokenBucket,
    classify_status,
    parse_retry_after,
    redact_url,
)


@pytest.mark.parametrize(("status", "outcome"), [
    (200, Outcome.SUCCESS), (201, Outcome.SUCCESS), (204, Outcome.SUCCESS),
    (400, Outcome.PERMANENT), (401, Outcome.PERMANENT), (404, Outcome.PERMANENT),
    (422, Outcome.PERMANENT), (408, Outcome.TRANSIENT), (429, Outcome.TRANSIENT),
    (500, Outcome.TRANSIENT), (502, Outcome.TRANSIENT), (503, Outcome.TRANSIENT),
])
def test_classify_status(status: int, outcome: Outcome) -> None:
    assert classify_status(status) is outcome


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("garbage") is None
    assert parse_retry_after(None) is None


def test_redact_url() -> None:
    assert redact_url("https://u:p@h.test/a?token=s3cret&x=1") == "https://h.test/a?token=%2A%2A%2A&x=1"
    assert redact_url("https://hooks.slack.com/services/T/B/XYZ") == \
        "https://hooks.slack.com/services/***"


def _client(handler: object) -> HttpClient:
    return HttpClient(timeout=0.5, transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


def test_request_classifies_and_summarizes() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/slow":
            raise httpx.ReadTimeout("timed out", request=request)
        if request.url.path == "/busy":
            return httpx.Response(429, headers={"Retry-After": "3"}, json={"e": 1})
        return httpx.Response(200, json={"ok": True})

    async def run() -> None:
        client = _client(handler)
        ok = await client.request("s", "GET", "https://x.test/ok?key=abc")
        assert ok.ok and ok.body == {"ok": True}
        assert ok.summary.url == "https://x.test/ok?key=%2A%2A%2A" and ok.summary.status == 200
        busy = await client.request("s", "POST", "https://x.test/busy")
        assert busy.outcome is Outcome.TRANSIENT and busy.retry_after == 3.0
        slow = await client.request("s", "GET", "https://x.test/slow")
        assert slow.outcome is Outcome.TRANSIENT and slow.status is None
        assert "ReadTimeout" in (slow.error or "")
        await client.aclose()

    asyncio.run(run())


def test_token_bucket_limits_rate() -> None:
    async def run() -> float:
        bucket = TokenBucket(rate=50, burst=5)
        started = time.monotonic()
        for _ in range(15):
            await bucket.acquire()
        return time.monotonic() - started

    elapsed = asyncio.run(run())
    assert 0.15 <= elapsed < 1.0  # 10 tokens beyond the burst at 50/s = 0.2 s
