"""The embedded default (no Redis): rules_service's relay hands commands to
`EmbeddedWorker.deliver`, which records them in the database first (durable: the relay marks
its outbox rows relayed only after `deliver` returned) and runs them on in-process threads
with the same claim/lease/record path, retries, delays and approvals as the stream worker.

    worker = EmbeddedWorker(settings, session_factory)   # both optional
    worker.deliver([command, ...])
    worker.close()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from action_service.actions import service
from action_service.actions.schemas import Command
from action_service.scheduler import Scheduler
from action_service.worker.processor import Processor
from action_service.worker.stream import consumer_name
from connectors.runtime import ConnectorRuntime
from runbook.db import make_engine, make_session_factory, session_scope
from runbook.settings import Settings, get_settings

log = logging.getLogger(__name__)


class EmbeddedWorker:
    def __init__(self, settings: Settings | None = None,
                 session_factory: Callable[[], Session] | None = None,
                 runtime: ConnectorRuntime | None = None) -> None:
        self.settings = settings or get_settings()
        self._engine = None
        if session_factory is None:
            self._engine = make_engine(self.settings)
            session_factory = make_session_factory(self._engine)
        self.session_factory = session_factory
        self.runtime = runtime or ConnectorRuntime(self.settings)
        self._own_runtime = runtime is None
        self.executor = ThreadPoolExecutor(self.settings.action_worker_threads,
                                           thread_name_prefix="embedded-action")
        self.processor = Processor(settings=self.settings, session_factory=session_factory,
                                   runtime=self.runtime, owner=f"embedded-{consumer_name()}")
        self.scheduler = Scheduler(settings=self.settings, session_factory=session_factory,
                                   processor=self.processor, executor=self.executor)
        self._lock = threading.Lock()
        self._started = False

    def start(self) -> None:
        with self._lock:
            if not self._started:
                self.scheduler.start()
                self._started = True

    def deliver(self, commands: list[dict[str, Any]]) -> list[str]:
        """Records the commands (raises when the database cannot, so the relay retries) and
        wakes the worker; answers the ids recorded for the first time. A malformed command is
        logged and skipped: sending it again would not make it valid."""
        parsed = []
        for raw in commands:
            try:
                parsed.append(Command.model_validate(raw))
            except ValidationError as error:
                log.error("malformed action command skipped: %s", error)
        with session_scope(self.session_factory) as session:
            inserted = service.persist(session=session, commands=parsed)
        self.start()
        for command in parsed:
            if not command.approval and not command.delay_seconds:
                self.scheduler.submit(command.command_id)
        self.scheduler.wake()
        return inserted

    def close(self) -> None:
        self.scheduler.stop()
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.processor.close()
        if self._own_runtime:
            self.runtime.close()
        if self._engine is not None:
            self._engine.dispose()
