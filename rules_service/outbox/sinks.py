"""Where relayed commands go: a Redis Stream, or the in-process action worker."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sqlalchemy.orm import Session

from runbook.settings import Settings


class Sink(Protocol):
    name: str

    def send(self, commands: Sequence[str]) -> None:
        """Delivers every command (each as JSON text, as stored) or raises; a partial delivery
        is retried as a whole (the action service makes repeated commands harmless)."""

    def close(self) -> None: ...


def stream_name(prefix: str) -> str:
    return f"{prefix}:actions"


class RedisSink:
    """XADD to `<prefix>:actions`, field `command` = the command as JSON, in one pipeline."""

    name = "redis"

    def __init__(self, url: str, *, prefix: str, timeout: float = 2.0) -> None:
        import redis

        self.stream = stream_name(prefix)
        self._client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )

    def send(self, commands: Sequence[str]) -> None:
        pipeline = self._client.pipeline(transaction=False)
        for command in commands:
            pipeline.xadd(self.stream, {"command": command})
        pipeline.execute()

    def close(self) -> None:
        self._client.close()


class EmbeddedSink:
    """The embedded default without Redis: `action_service.embedded.EmbeddedWorker`."""

    name = "embedded"

    def __init__(self, *, settings: Settings, session_factory: Callable[[], Session]) -> None:
        from action_service.embedded import EmbeddedWorker

        # The same settings and database as this process, never a default of its own; started
        # now, so actions that were delayed or retrying before a restart run when due.
        self._worker: Any = EmbeddedWorker(settings, session_factory)
        self._worker.start()

    def send(self, commands: Sequence[str]) -> None:
        self._worker.deliver([json.loads(command) for command in commands])

    def close(self) -> None:
        close = getattr(self._worker, "close", None)
        if callable(close):
            close()


def sink_for(*, settings: Settings, session_factory: Callable[[], Session]) -> Sink:
    if settings.redis_url:
        return RedisSink(settings.redis_url, prefix=settings.redis_prefix)
    return EmbeddedSink(settings=settings, session_factory=session_factory)
