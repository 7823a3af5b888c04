"""The fake-server machinery: a Starlette app per system, served by uvicorn on a free port in
a background thread; request recording, effect counting, idempotency replay, fault injection.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class Fault:
    """`timeout` (sleep `seconds`, then 504), `status` (answer `status` with `body`, and
    `Retry-After` when `retry_after` is set); applied to the next `times` requests whose path
    contains `path` (any path when empty)."""

    kind: str = "status"
    status: int = 500
    times: int = 1
    retry_after: float | None = None
    seconds: float = 5.0
    body: Any = field(default_factory=lambda: {"error": "injected"})
    path: str = ""


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class FakeSystem:
    """Base of the fakes: subclasses define `routes()` and check what the real API checks."""

    name = "fake"

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.effects: Counter[str] = Counter()
        self.faults: deque[Fault] = deque()
        self.idempotent_answers: dict[str, tuple[int, Any, str]] = {}
        self.lock = threading.Lock()

    # test API ---------------------------------------------------------------------------
    def inject(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def effect(self, key: str) -> None:
        with self.lock:
            self.effects[key] += 1

    def total_effects(self) -> int:
        with self.lock:
            return sum(self.effects.values())

    def requests_to(self, fragment: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if fragment in r.path]

    # machinery --------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        raise NotImplementedError

    def app(self) -> Starlette:
        routes = [Route(r.path, self._wrap(r.endpoint), methods=list(r.methods or []))
                  for r in self.routes()]
        return Starlette(routes=routes)

    def _wrap(self, handler: Any) -> Handler:
        async def wrapped(request: Request) -> Response:
            body = await request.body()
            with self.lock:
                self.received.append(Received(request.method, request.url.path,
                                              {k.lower(): v for k, v in request.headers.items()},
                                              body))
            fault = self._take_fault(request.url.path)
            if fault is not None:
                return await self._apply(fault)
            return await handler(request)  # type: ignore[no-any-return]

        return wrapped

    def _take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.path in path:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    async def _apply(self, fault: Fault) -> Response:
        if fault.kind == "timeout":
            await asyncio.sleep(fault.seconds)
            return JSONResponse({"error": "gateway timeout"}, status_code=504)
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        if isinstance(fault.body, str):
            return PlainTextResponse(fault.body, status_code=fault.status, headers=headers)
        return JSONResponse(fault.body, status_code=fault.status, headers=headers)

    # helpers for subclasses -------------------------------------------------------------
    def replay(self, key: str | None) -> Response | None:
        if not key:
            return None
        with self.lock:
            answer = self.idempotent_answers.get(key)
        if answer is None:
            return None
        status, body, marker = answer
        return JSONResponse(body, status_code=status, headers={marker: "hit"} if marker else {})

    def remember(self, key: str | None, status: int, body: Any, marker: str = "") -> None:
        if key:
            with self.lock:
                self.idempotent_answers[key] = (status, body, marker)


def basic_auth(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:] if header.startswith("Bearer ") else None


def error(status: int, body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=status)


async def json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeServer:
    """Serves one FakeSystem on 127.0.0.1:<free port> until closed."""

    def __init__(self, system: FakeSystem, port: int | None = None) -> None:
        self.system = system
        self.port = port or free_port()
        config = uvicorn.Config(system.app(), host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True,
                                        name=f"fake-{system.name}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fake {self.system.name} did not start")
            time.sleep(0.01)
        return self

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(5)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.close()
