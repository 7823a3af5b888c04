"""The chain appender: a background thread that chains pending audit entries.

    appender = ChainAppender(session_factory=factory)
    appender.start()
    appender.nudge()     # after a commit that enqueued entries: chain them soon
    appender.close()

Every process may run one; they serialize on the chain head's lock inside `flush_pending`, so
an entry is chained once whichever process gets it. A nudge wakes it (after
`min_interval_seconds`, so that the entries of many commits are chained together); it also
polls every `poll_seconds`, so entries enqueued by a process that died before nudging are chained.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.orm import Session

from runbook.audit.service import flush_pending
from runbook.db import relaxed_commit

log = logging.getLogger(__name__)


class ChainAppender:
    def __init__(
        self,
        *,
        session_factory: Callable[[], Session],
        poll_seconds: float = 1.0,
        batch_size: int = 1000,
        backoff_max_seconds: float = 5.0,
        min_interval_seconds: float = 0.0,
    ) -> None:
        self.session_factory = session_factory
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.backoff_max_seconds = backoff_max_seconds
        self.min_interval_seconds = min_interval_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="audit-appender", daemon=True)
            self._thread.start()

    def nudge(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def drain(self) -> int:
        """Chains everything pending now (batch by batch, one transaction each)."""
        total = 0
        while not self._stop.is_set():
            with self.session_factory() as session:
                relaxed_commit(session)  # a lost chaining leaves the entries pending
                moved = flush_pending(session=session, limit=self.batch_size)
                session.commit()
            total += moved
            if moved < self.batch_size:
                break
        return total

    def _run(self) -> None:
        delay = self.poll_seconds
        while not self._stop.is_set():
            self._wake.wait(delay)
            # Nudges within the interval share one drain: under load, one transaction chains
            # the entries of many commits.
            if self._stop.wait(self.min_interval_seconds):
                return
            self._wake.clear()
            try:
                self.drain()
                delay = self.poll_seconds
            except Exception:  # noqa: BLE001 - the database may be down: retry later
                log.warning("audit appender failed; retrying", exc_info=True)
                delay = min(max(delay * 2, self.poll_seconds), self.backoff_max_seconds)


__all__ = ["ChainAppender"]
