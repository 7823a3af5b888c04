"""Runs connectors from synchronous code (the worker threads): one event loop thread owns the
shared `HttpClient`; `perform` submits a coroutine to it and waits for the result."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import httpx

from connectors.base import ActionRequest, NotConfigured, Registry
from connectors.http import HttpClient, Result
from runbook.settings import Settings

T = TypeVar("T")


class ConnectorRuntime:
    def __init__(self, settings: Settings,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="connectors",
                                        daemon=True)
        self._thread.start()
        self.http: HttpClient = self._submit(self._make_client(transport)).result()
        self.registry = Registry(settings, self.http)

    async def _make_client(self, transport: httpx.AsyncBaseTransport | None) -> HttpClient:
        return HttpClient(timeout=self.settings.http_timeout_seconds,
                          rate=self.settings.connector_rate_per_second,
                          burst=self.settings.connector_burst, transport=transport)

    def _submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def system_for(self, request: ActionRequest) -> str:
        return self.registry.system_for(request)

    def idempotent(self, request: ActionRequest) -> bool:
        try:
            return self.registry.connector_for(request).idempotent(request.action)
        except NotConfigured:
            return True  # nothing was sent

    def perform(self, request: ActionRequest) -> Result:
        """Runs the action's connector; a missing configuration is a permanent failure."""
        try:
            connector = self.registry.connector_for(request)
        except NotConfigured as error:
            return Result.permanent(f"connector not configured: {error}")
        except KeyError as error:
            return Result.permanent(str(error))
        timeout = self.settings.http_timeout_seconds * 4 + 30
        future = self._submit(_guarded(connector.perform(request)))
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()  # never let a call the caller gave up on act later
            return Result.transient(f"connector call exceeded {timeout:.0f}s")

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._submit(self.http.aclose()).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


async def _guarded(coroutine: Coroutine[Any, Any, Result]) -> Result:
    try:
        return await coroutine
    except NotConfigured as error:
        return Result.permanent(f"connector not configured: {error}")
