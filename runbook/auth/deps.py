"""The FastAPI side of auth: `require(*roles)` → a dependency returning the caller's Principal.

    @router.post("/x")
    def x(principal: Principal = Depends(require("ops"))): ...

401 without a key or with an unknown/revoked one, 403 when the key lacks every listed role
(admin passes every check). Keys are looked up in a session of their own (from
`app.state.session_factory`), with a short in-process cache of valid keys.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Security
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool

from runbook.auth.principal import ROLES, Principal
from runbook.auth.service import authenticate, hash_key
from runbook.db import session_scope
from runbook.errors import Forbidden, Unauthorized
from runbook.http import require_database

CACHE_SECONDS = 2.0
CACHE_SIZE = 1024

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`")
_CREDENTIALS = Security(_bearer)


class KeyCache:
    """Valid keys seen in the last CACHE_SECONDS (by hash), so hot endpoints skip a query."""

    def __init__(self, ttl: float = CACHE_SECONDS, size: int = CACHE_SIZE) -> None:
        self.ttl = ttl
        self.size = size
        self._items: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> Principal | None:
        with self._lock:
            item = self._items.get(digest)
            if item is None or item[0] < time.monotonic():
                return None
            return item[1]

    def put(self, digest: str, principal: Principal) -> None:
        with self._lock:
            if len(self._items) >= self.size:
                self._items.clear()
            self._items[digest] = (time.monotonic() + self.ttl, principal)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _cache(request: Request) -> KeyCache:
    cache = getattr(request.app.state, "key_cache", None)
    if cache is None:
        cache = request.app.state.key_cache = KeyCache()
    return cache


def _look_up(request: Request, key: str) -> Principal | None:
    require_database(request.app.state)
    with session_scope(request.app.state.session_factory) as session:
        principal = authenticate(session=session, key=key)
    if principal is not None:
        _cache(request).put(hash_key(key), principal)
    return principal


def require(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting keys holding any of `roles` (none listed: any valid key).

    Async, so that a cached key is checked on the event loop; only a cache miss goes to the
    database, in the thread pool."""
    unknown = set(roles) - ROLES
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    async def dependency(request: Request, credentials: Any = _CREDENTIALS) -> Principal:
        if credentials is None or not credentials.credentials:
            raise Unauthorized("an API key is required: Authorization: Bearer <key>")
        key = credentials.credentials
        principal = _cache(request).get(hash_key(key))
        if principal is None:
            principal = await run_in_threadpool(_look_up, request, key)
        if principal is None:
            raise Unauthorized("unknown or revoked API key")
        if not principal.has_any(*roles):
            raise Forbidden(f"this call needs one of the roles: {', '.join(roles)}",
                            details={"roles": list(roles), "key_roles": sorted(principal.roles)})
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{'_'.join(roles) or 'key'}"
    return dependency


__all__ = ["KeyCache", "Principal", "require"]
