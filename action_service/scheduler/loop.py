"""The scheduler thread: every `action_poll_seconds` (or when woken) it expires stale
approvals and hands due actions to the executor. Due times live in the database, so delays
survive any restart."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future

from sqlalchemy.orm import Session

from action_service.actions import service
from action_service.worker.processor import Processor
from runbook.db import session_scope
from runbook.settings import Settings

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, *, settings: Settings, session_factory: Callable[[], Session],
                 processor: Processor, executor: Executor) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.processor = processor
        self.executor = executor
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="action-scheduler",
                                            daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the database may be down: try again later
                log.warning("scheduler tick failed", exc_info=True)
            self._wake.wait(self.settings.action_poll_seconds)
            self._wake.clear()

    def tick(self) -> int:
        """One round: expire approvals, submit due actions; answers how many were submitted."""
        with session_scope(self.session_factory) as session:
            service.expire_approvals(session=session,
                                     expiry_seconds=self.settings.approval_expiry_seconds)
            ids = service.due_ids(session=session,
                                  limit=self.settings.action_worker_threads * 8)
        submitted = 0
        for action_id in ids:
            if self.submit(action_id) is not None:
                submitted += 1
        return submitted

    def submit(self, action_id: str) -> Future[str | None] | None:
        """Runs `action_id` on the executor unless this process already is running it."""
        with self._lock:
            if action_id in self._in_flight:
                return None
            self._in_flight.add(action_id)
        future = self.executor.submit(self._process, action_id)
        return future

    def _process(self, action_id: str) -> str | None:
        try:
            return self.processor.process(action_id)
        except Exception:  # noqa: BLE001
            log.warning("action %s failed to process", action_id, exc_info=True)
            return None
        finally:
            with self._lock:
                self._in_flight.discard(action_id)
