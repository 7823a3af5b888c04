"""Runbook errors → HTTP answers, in one place, for both services.

    install(app, settings)

Every error answer is JSON `{"code", "message", "details"?}`: `RunbookError` subclasses with
their status; request validation → 422 `invalid` with one detail per problem; malformed JSON →
400 `malformed_json`; Starlette HTTP errors (unknown route, wrong method) by status; a
database that cannot be reached (SQLAlchemy OperationalError, InterfaceError, an invalidated
connection), wherever it is met (auth key lookup included) → 503 `unavailable`; anything
else → 500 `internal` (logged with its traceback, never sent). A middleware caps request
bodies at `settings.max_body_bytes` (413), sets the request id (`X-Request-ID`) for logs and
answers, and counts requests in `runbook.metrics`.
"""

from __future__ import annotations

import functools
import gc
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runbook import metrics
from runbook.errors import RunbookError, ServiceUnavailable, Unauthorized
from runbook.logging import request_id_var
from runbook.settings import Settings

log = logging.getLogger("runbook.http")
access_log = logging.getLogger("runbook.access")

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    503: "unavailable",
}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return body


def lifespan(
    start: Callable[[FastAPI], None], stop: Callable[[FastAPI], None]
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A FastAPI lifespan that runs `start(app)` before serving and `stop(app)` after."""

    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        start(app)
        _freeze_startup_objects()
        try:
            yield
        finally:
            stop(app)

    return run


@functools.cache  # once per process
def _freeze_startup_objects() -> None:
    """Moves what exists once the first app of the process has started (modules, compiled
    rulesets, caches: ~180,000 objects) out of the collector's sight. Under
    load a full collection scanned them about once a second and held the GIL ~100 ms each
    time, the service's worst latencies; frozen, one takes ~2 ms."""
    gc.collect()
    gc.freeze()


def install(app: FastAPI, settings: Settings) -> None:
    """Adds the error handlers and the request middleware to `app`."""
    app.add_exception_handler(RunbookError, _runbook_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    # A model built inside an endpoint from what the caller sent (a webhook payload turned into
    # an Event, say) failing validation is the caller's error too: 422, never 500.
    app.add_exception_handler(ValidationError, _model_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(DBAPIError, _database_error)  # type: ignore[arg-type]
    app.add_middleware(RequestMiddleware, max_body_bytes=settings.max_body_bytes)


# ------------------------------------------------------------------------------- handlers


def _runbook_error(_request: Request, error: RunbookError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthorized) else None
    metrics.ERRORS.labels(kind=error.code).inc()
    return JSONResponse(error.to_dict(), status_code=error.status_code, headers=headers)


def unavailable_database(error: BaseException) -> ServiceUnavailable | None:
    """The 503 an unreachable database deserves (refused, dropped, timed out, the pool's
    connection invalidated), or None for any other database error. The one place that
    decides which driver errors mean "the database is not there"."""
    if isinstance(error, (OperationalError, InterfaceError)):
        return ServiceUnavailable("the database is not reachable; retry later")
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return ServiceUnavailable("the database connection was lost; retry later")
    return None


def require_database(state: Any) -> None:
    """Raises 503 while the app's database is not ready (`state.database_ready` is False: a
    start that is still waiting for the database or its migrations)."""
    if getattr(state, "database_ready", True) is False:
        raise ServiceUnavailable("the database is not ready yet; retry later")


def _database_error(request: Request, error: DBAPIError) -> JSONResponse:
    unavailable = unavailable_database(error)
    if unavailable is None:
        raise error  # the middleware's last-resort 500
    log.warning("database unavailable: %s", type(error.orig or error).__name__,
                extra={"path": request.url.path})
    return _runbook_error(request, unavailable)


def _validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
    problems = [_problem(item) for item in error.errors()]
    if any(item.get("type") == "json_invalid" for item in error.errors()):
        return JSONResponse(
            error_body("malformed_json", "the request body is not valid JSON", problems),
            status_code=400,
        )
    return JSONResponse(
        error_body("invalid", "the request is not valid", problems), status_code=422
    )


def _model_error(_request: Request, error: ValidationError) -> JSONResponse:
    problems = [_problem(dict(item)) for item in error.errors()]
    return JSONResponse(
        error_body("invalid", f"the request is not valid ({error.title})", problems),
        status_code=422,
    )


def _problem(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "loc": [str(part) for part in item.get("loc", ())],
        "message": str(item.get("msg", "")),
        "type": str(item.get("type", "")),
    }


def _http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
    code = STATUS_CODES.get(error.status_code, "error")
    message = error.detail if isinstance(error.detail, str) else code.replace("_", " ")
    return JSONResponse(
        error_body(code, message), status_code=error.status_code, headers=error.headers
    )


# ----------------------------------------------------------------------------- middleware


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class RequestMiddleware:
    """Request id, body cap, last-resort 500, request metrics (pure ASGI, streams untouched)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = request_id_var.set(request_id)
        state = _Exchange(send, request_id)
        started = time.perf_counter()
        try:
            if self._declared_too_large(scope):
                await _send_json(state.send, 413, error_body(
                    "payload_too_large",
                    f"the request body is larger than {self.max_body_bytes} bytes"))
                return
            await self.app(scope, self._capped(receive), state.send)
        except Exception:  # noqa: BLE001 - the one place unexpected errors become a 500
            log.exception("unhandled error", extra={"path": scope.get("path")})
            metrics.ERRORS.labels(kind="internal").inc()
            if not state.started:
                await _send_json(state.send, 500, error_body(
                    "internal", "internal error", {"request_id": request_id}))
        finally:
            elapsed = time.perf_counter() - started
            _observe(scope, state.status, elapsed)
            access_log.info("request", extra={"method": scope.get("method"),
                                              "path": scope.get("path"), "status": state.status,
                                              "duration_ms": round(elapsed * 1000, 2)})
            request_id_var.reset(token)

    def _declared_too_large(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    return int(value) > self.max_body_bytes
                except ValueError:
                    return False
        return False

    def _capped(self, receive: Receive) -> Receive:
        limit = self.max_body_bytes
        seen = 0

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        return capped


class _Exchange:
    """Wraps `send`: remembers whether the answer started and its status; adds X-Request-ID."""

    def __init__(self, send: Send, request_id: str) -> None:
        self._send = send
        self.request_id = request_id
        self.started = False
        self.status = 500

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            self.status = int(message["status"])
            headers = list(message.get("headers", []))
            headers.append((b"x-request-id", self.request_id.encode("latin-1")))
            message = {**message, "headers": headers}
        await self._send(message)


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _REQUEST_ID.match(text):
                return text
    return uuid.uuid4().hex


async def _send_json(send: Callable[[Message], Awaitable[None]], status: int,
                     body: dict[str, Any]) -> None:
    response = JSONResponse(body, status_code=status)
    await send({"type": "http.response.start", "status": status,
                "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


def _observe(scope: Scope, status: int, seconds: float) -> None:
    route = scope.get("route")
    template = getattr(route, "path", None) or "unmatched"
    metrics.HTTP_REQUESTS.labels(method=scope.get("method", ""), route=template,
                                 status=str(status)).inc()
    metrics.HTTP_SECONDS.labels(route=template).observe(seconds)


__all__ = ["BodyTooLarge", "RequestMiddleware", "error_body", "install", "require_database",
           "unavailable_database"]
