"""The one HTTP client every connector uses.

* one shared `httpx.AsyncClient` (connection pool, timeouts from settings);
* a token bucket per external system (`rate` calls a second, `burst` at once);
* every answer classified: success (2xx) / transient (timeout, connect error, 408, 429 with its
  `Retry-After`, 5xx) / permanent (any other 4xx, or an answer that cannot be used);
* a request summary for the audit log: method, URL without secrets, status, duration.
"""

from __future__ import annotations

import asyncio
import email.utils
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

SECRET_QUERY = re.compile(r"(token|key|secret|sig|signature|password|auth)", re.IGNORECASE)
MAX_ERROR_TEXT = 500


class Outcome(StrEnum):
    SUCCESS = "success"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class RequestSummary:
    """What the audit log keeps of one HTTP request (never headers or bodies)."""

    system: str
    method: str
    url: str
    status: int | None
    duration_ms: float
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "method": self.method,
            "url": self.url,
            "status": self.status,
            "duration_ms": self.duration_ms,
            "error": self.error,
        }


@dataclass(slots=True)
class Reply:
    """One HTTP exchange, classified."""

    outcome: Outcome
    status: int | None
    body: Any
    headers: dict[str, str]
    summary: RequestSummary
    retry_after: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.SUCCESS


@dataclass(slots=True)
class Result:
    """The result of performing one action (one or more requests)."""

    outcome: Outcome
    requests: list[RequestSummary] = field(default_factory=list)
    error: str | None = None
    retry_after: float | None = None
    status: int | None = None
    external_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.SUCCESS

    @classmethod
    def success(cls, replies: list[Reply], *, external_id: str | None = None,
                **data: Any) -> Result:
        last = replies[-1] if replies else None
        return cls(Outcome.SUCCESS, [r.summary for r in replies], None, None,
                   last.status if last else None, external_id, dict(data))

    @classmethod
    def failed(cls, reply: Reply, replies: list[Reply] | None = None) -> Result:
        """The failure of `reply` (the last of `replies`, which all go to the audit)."""
        chain = replies if replies is not None else [reply]
        return cls(reply.outcome, [r.summary for r in chain], reply.error, reply.retry_after,
                   reply.status)

    @classmethod
    def permanent(cls, error: str, replies: list[Reply] | None = None) -> Result:
        chain = replies or []
        return cls(Outcome.PERMANENT, [r.summary for r in chain], error, None,
                   chain[-1].status if chain else None)

    @classmethod
    def transient(cls, error: str, replies: list[Reply] | None = None,
                  retry_after: float | None = None) -> Result:
        chain = replies or []
        return cls(Outcome.TRANSIENT, [r.summary for r in chain], error, retry_after,
                   chain[-1].status if chain else None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "status": self.status,
            "error": self.error,
            "retry_after": self.retry_after,
            "external_id": self.external_id,
            "requests": [r.to_dict() for r in self.requests],
            "data": self.data,
        }


# -------------------------------------------------------------------------- rate limiting


class TokenBucket:
    """`rate` tokens a second up to `burst`; `acquire` waits for one."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = max(rate, 0.001)
        self.capacity = float(max(burst, 1))
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    async def acquire(self) -> None:
        async with self._lock:
            self._refill()
            while self.tokens < 1.0:
                await asyncio.sleep((1.0 - self.tokens) / self.rate)
                self._refill()
            self.tokens -= 1.0


# ------------------------------------------------------------------------- classification


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds to wait: delta-seconds or an HTTP date; None when absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def classify_status(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome.SUCCESS
    if status in (408, 425, 429) or status >= 500:
        return Outcome.TRANSIENT
    return Outcome.PERMANENT


def redact_url(url: str) -> str:
    """The URL without credentials: no user info, secret-looking query values masked, and the
    secret path of Slack incoming webhooks cut."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    path = parts.path
    if path.startswith("/services/"):
        path = "/services/***"
    query = urlencode([(k, "***" if SECRET_QUERY.search(k) else v)
                       for k, v in parse_qsl(parts.query, keep_blank_values=True)])
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def _json_or_text(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text[:MAX_ERROR_TEXT]


def _error_text(status: int, body: Any) -> str:
    text = body if isinstance(body, str) else repr(body)
    return f"HTTP {status}: {text[:MAX_ERROR_TEXT]}"


# ------------------------------------------------------------------------------- client


class HttpClient:
    """The shared async client. Create inside the event loop that will use it."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        rate: float = 20.0,
        burst: int = 20,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": "runbook-action-service/0.1"},
        )
        self._buckets: dict[str, TokenBucket] = {}

    def bucket(self, system: str) -> TokenBucket:
        bucket = self._buckets.get(system)
        if bucket is None:
            bucket = self._buckets[system] = TokenBucket(self.rate, self.burst)
        return bucket

    async def request(
        self,
        system: str,
        method: str,
        url: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> Reply:
        await self.bucket(system).acquire()
        started = time.perf_counter()
        try:
            response = await self._client.request(
                method, url, json=json, content=content, data=data, headers=headers,
                params=params, auth=auth,
            )
        except httpx.HTTPError as error:
            return _transport_failure(system, method, url, started, error)
        return _classified(system, method, url, started, response)

    async def aclose(self) -> None:
        await self._client.aclose()


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _transport_failure(system: str, method: str, url: str, started: float,
                       error: httpx.HTTPError) -> Reply:
    """Timeouts, refused connections, protocol errors: the request may be retried."""
    text = f"{type(error).__name__}: {error}"[:MAX_ERROR_TEXT]
    summary = RequestSummary(system, method, redact_url(url), None, _elapsed_ms(started), text)
    return Reply(Outcome.TRANSIENT, None, None, {}, summary, None, text)


def _classified(system: str, method: str, url: str, started: float,
                response: httpx.Response) -> Reply:
    status = response.status_code
    outcome = classify_status(status)
    body = _json_or_text(response)
    error = None if outcome is Outcome.SUCCESS else _error_text(status, body)
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    summary = RequestSummary(system, method, redact_url(str(response.request.url)), status,
                             _elapsed_ms(started), error)
    headers = {k.lower(): v for k, v in response.headers.items()}
    return Reply(outcome, status, body, headers, summary, retry_after, error)


__all__ = [
    "HttpClient",
    "Outcome",
    "Reply",
    "RequestSummary",
    "Result",
    "TokenBucket",
    "classify_status",
    "parse_retry_after",
    "redact_url",
]
