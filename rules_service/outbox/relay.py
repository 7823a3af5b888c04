"""The relay: moves unrelayed outbox rows to a sink and marks them relayed.

One background thread per process. It drains soon after a commit (`nudge`; commits within
`min_interval_seconds` share a drain), and otherwise polls. A batch is claimed with `SELECT …
FOR UPDATE SKIP LOCKED` (PostgreSQL), so replicas share the work without sending a row twice at
once; rows are marked relayed in the same transaction after the sink took them. When the sink
fails, the transaction rolls back, the rows wait, and the relay retries with exponential
backoff and jitter. A crash between the sink and the commit sends those commands again:
delivery is at least once, and the action service makes the effect happen once (idempotency key
= command id).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Table, Text, cast, select, update
from sqlalchemy.orm import Session

from rules_service.outbox import metrics
from rules_service.outbox.models import OutboxRow
from rules_service.outbox.sinks import Sink
from runbook.db import relaxed_commit

log = logging.getLogger(__name__)
_OUTBOX: Table = OutboxRow.__table__  # type: ignore[assignment]


class Relay:
    def __init__(
        self,
        *,
        session_factory: Callable[[], Session],
        sink: Sink,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
        backoff_base_seconds: float = 0.2,
        backoff_max_seconds: float = 30.0,
        min_interval_seconds: float = 0.0,
    ) -> None:
        self.session_factory = session_factory
        self.sink = sink
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.backoff_base_seconds = backoff_base_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self.min_interval_seconds = min_interval_seconds
        self.failures = 0
        self.relayed = 0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # one step ---------------------------------------------------------------------------
    def relay_once(self) -> int:
        """Relays one batch; answers how many rows it moved. Raises when the sink fails (the
        rows stay unrelayed and count the failed attempt)."""
        failure: Exception | None = None
        with self.session_factory() as session, session.begin():
            relaxed_commit(session)  # a lost mark sends again; the action service dedupes
            rows = session.execute(
                # as text: the sink sends JSON, no need to parse it and write it again
                select(OutboxRow.seq, cast(OutboxRow.command, Text))
                .where(OutboxRow.relayed_at.is_(None))
                .order_by(OutboxRow.seq)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return 0
            seqs = [seq for seq, _ in rows]
            try:
                self.sink.send([command for _, command in rows])
            except Exception as error:  # noqa: BLE001 - re-raised below, after the locks go
                failure = error
            else:
                session.execute(  # Core, not ORM: no session state to synchronize
                    _OUTBOX.update()
                    .where(_OUTBOX.c.seq.in_(seqs))
                    .values(
                        relayed_at=datetime.now(UTC),
                        attempts=_OUTBOX.c.attempts + 1,
                        last_error=None,
                    )
                )
        if failure is not None:
            self._record_failure(seqs, failure)
            raise failure
        self.relayed += len(rows)
        metrics.RELAYED.labels(sink=self.sink.name).inc(len(rows))
        return len(rows)

    def _record_failure(self, seqs: list[int], error: Exception) -> None:
        """Counts the failed attempt on the rows (for ops: `attempts`, `last_error`)."""
        try:
            with self.session_factory() as session, session.begin():
                session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.seq.in_(seqs), OutboxRow.relayed_at.is_(None))
                    .values(attempts=OutboxRow.attempts + 1, last_error=repr(error)[:1000])
                )
        except Exception:  # noqa: BLE001 - the database may be the thing that is down
            log.debug("could not record the relay failure", exc_info=True)

    def drain(self) -> int:
        """Relays until nothing is waiting (or this replica's share is taken)."""
        total = 0
        while not self._stopping.is_set():
            moved = self.relay_once()
            total += moved
            if moved < self.batch_size:
                break
        return total

    # the thread ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self._thread.start()
        self.nudge()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.sink.close()

    def nudge(self) -> None:
        """Something was committed: drain now instead of at the next poll."""
        self._wake.set()

    def _run(self) -> None:
        delay = 0.0
        while not self._stopping.is_set():
            if self.failures:  # backing off: commits do not shorten the wait
                self._stopping.wait(delay)
            else:
                self._wake.wait(delay)
            # Commits within the interval share one drain: under load, one round relays the
            # commands of many commits.
            if self._stopping.wait(self.min_interval_seconds):
                break
            self._wake.clear()
            delay = self._step()

    def _step(self) -> float:
        try:
            self.drain()
        except Exception as error:  # noqa: BLE001 - the sink or the database is down: retry
            self.failures += 1
            metrics.RELAY_FAILURES.labels(sink=self.sink.name).inc()
            backoff = self._backoff()
            log.warning("outbox relay failed (%s); retrying in %.1fs", error, backoff)
            return backoff
        self.failures = 0
        return self.poll_seconds

    def _backoff(self) -> float:
        ceiling = min(self.backoff_max_seconds, self.backoff_base_seconds * 2**self.failures)
        return random.uniform(ceiling / 2, ceiling)
