"""The Redis Streams consumer: `XREADGROUP` on `<prefix>:actions` in group `action-workers`.

For each batch: parse (a malformed command goes to the dead-letter stream at once), persist
every command in the database (insert-if-absent by idempotency key), run those due now, and
only then `XACK`. Entries left unacknowledged by a crashed consumer are taken over with
`XAUTOCLAIM` once idle for `action_claim_idle_seconds`. Delayed, approval-gated and retried
actions are acknowledged once persisted: from then on the database is their record and the
scheduler runs them when due. Dead actions are also added to `<prefix>:actions:dead`.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from action_service.actions import service
from action_service.actions.schemas import Command
from action_service.scheduler import Scheduler
from action_service.worker.processor import Processor
from connectors.runtime import ConnectorRuntime
from runbook.db import session_scope
from runbook.settings import Settings

log = logging.getLogger(__name__)

GROUP = "action-workers"
READ_COUNT = 64
BLOCK_MS = 1000
DEAD_MAXLEN = 100_000
TRIM_EVERY_SECONDS = 30.0

Entry = tuple[str, dict[str, str]]


def stream_name(prefix: str) -> str:
    return f"{prefix}:actions"


def dead_stream_name(prefix: str) -> str:
    return f"{prefix}:actions:dead"


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class StreamWorker:
    def __init__(self, *, settings: Settings, session_factory: Callable[[], Session],
                 redis_client: Any, runtime: ConnectorRuntime | None = None,
                 consumer: str | None = None) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.redis = redis_client
        self.stream = stream_name(settings.redis_prefix)
        self.dead_stream = dead_stream_name(settings.redis_prefix)
        self.consumer = consumer or consumer_name()
        self.runtime = runtime or ConnectorRuntime(settings)
        self._own_runtime = runtime is None
        self.executor = ThreadPoolExecutor(settings.action_worker_threads,
                                           thread_name_prefix="action")
        self.processor = Processor(settings=settings, session_factory=session_factory,
                                   runtime=self.runtime, owner=self.consumer,
                                   on_dead=self.publish_dead)
        self.scheduler = Scheduler(settings=settings, session_factory=session_factory,
                                   processor=self.processor, executor=self.executor)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._group_ready = False
        self._last_autoclaim = 0.0
        self._autoclaim_cursor = "0-0"
        self._last_trim = time.monotonic()

    # lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        self.scheduler.start()
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name="action-stream", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.scheduler.stop(timeout)
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.processor.close()
        if self._own_runtime:
            self.runtime.close()

    def run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                self.step()
                failures = 0
            except Exception as error:  # noqa: BLE001 - Redis or the database is down
                failures += 1
                self._group_ready = False
                wait_s = min(0.2 * 2**failures, 5.0)
                log.warning("stream worker step failed (%s); retrying in %.1fs", error, wait_s)
                self._stopping.wait(wait_s)

    # one round --------------------------------------------------------------------------
    def ensure_group(self) -> None:
        if self._group_ready:
            return
        import redis

        try:
            self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._group_ready = True

    def step(self) -> int:
        """Reads (and takes over idle) entries once and handles them; answers how many."""
        self.ensure_group()
        entries = self._autoclaim() + self._read()
        if entries:
            self.handle(entries)
        if time.monotonic() - self._last_trim > TRIM_EVERY_SECONDS:
            self._last_trim = time.monotonic()
            self.trim()
        return len(entries)

    def trim(self) -> int:
        """Drops the entries every consumer acknowledged: those before the oldest pending
        entry and up to the group's last delivered entry (XTRIM MINID). Answers how many."""
        groups = [g for g in self.redis.xinfo_groups(self.stream)
                  if _text(g.get("name")) == GROUP]
        if not groups:
            return 0
        millis, serial = _entry_key(_text(groups[0].get("last-delivered-id")))
        floor = f"{millis}-{serial + 1}"  # MINID keeps ids >= floor
        pending = self.redis.xpending(self.stream, GROUP)
        if pending and pending.get("pending"):
            floor = min(floor, _text(pending.get("min")), key=_entry_key)
        self._forget_idle_consumers()
        return int(self.redis.xtrim(self.stream, minid=floor, approximate=False))

    def _forget_idle_consumers(self) -> None:
        """Consumers of stopped workers stay listed; those idle for an hour with nothing
        pending are removed (their entries were acknowledged or taken over already)."""
        for consumer in self.redis.xinfo_consumers(self.stream, GROUP):
            name = _text(consumer.get("name"))
            idle_ms = int(consumer.get("idle") or 0)
            if name != self.consumer and not consumer.get("pending") and idle_ms > 3_600_000:
                self.redis.xgroup_delconsumer(self.stream, GROUP, name)

    def _read(self) -> list[Entry]:
        answer = self.redis.xreadgroup(GROUP, self.consumer, {self.stream: ">"},
                                       count=READ_COUNT, block=BLOCK_MS)
        entries: list[Entry] = []
        for _stream, items in answer or []:
            entries.extend(_decode(items))
        return entries

    def _autoclaim(self) -> list[Entry]:
        idle = self.settings.action_claim_idle_seconds
        if time.monotonic() - self._last_autoclaim < min(idle / 2, 5.0):
            return []
        self._last_autoclaim = time.monotonic()
        answer = self.redis.xautoclaim(self.stream, GROUP, self.consumer,
                                       min_idle_time=int(idle * 1000),
                                       start_id=self._autoclaim_cursor, count=READ_COUNT)
        if not answer:
            return []
        self._autoclaim_cursor = _text(answer[0])  # "0-0" once the whole list was scanned
        return _decode(answer[1])

    def handle(self, entries: list[Entry]) -> None:
        commands: list[tuple[str, Command]] = []
        done: list[str] = []
        for entry_id, fields in entries:
            command = self._parse(entry_id, fields)
            if command is None:
                done.append(entry_id)
            else:
                commands.append((entry_id, command))
        with session_scope(self.session_factory) as session:
            service.persist(session=session, commands=[c for _, c in commands])
        done.extend(self._run_due(commands))
        if done:
            self.redis.xack(self.stream, GROUP, *done)

    def _run_due(self, commands: list[tuple[str, Command]]) -> list[str]:
        """Runs the commands due now; answers the entries that may be acknowledged."""
        now = datetime.now(UTC)
        futures: dict[str, Future[str | None]] = {}
        ackable: list[str] = []
        for entry_id, command in commands:
            due = not command.approval and not command.delay_seconds
            if due and command.created_at <= now:
                futures[entry_id] = self.executor.submit(self.processor.process,
                                                         command.command_id)
            else:
                ackable.append(entry_id)
        wait(futures.values())
        for entry_id, future in futures.items():
            if future.exception() is None:
                ackable.append(entry_id)
            else:
                log.warning("action of entry %s not recorded; left for XAUTOCLAIM: %s",
                            entry_id, future.exception())
        return ackable

    def _parse(self, entry_id: str, fields: dict[str, str]) -> Command | None:
        raw = fields.get("command")
        try:
            return Command.model_validate_json(raw or "")
        except ValidationError as error:
            log.error("malformed command in entry %s: %s", entry_id, error)
            self.redis.xadd(self.dead_stream, {"entry_id": entry_id, "command": raw or "",
                                               "error": str(error)[:2000]},
                            maxlen=DEAD_MAXLEN, approximate=True)
            return None

    def publish_dead(self, action_id: str, command: dict[str, Any], error: str | None) -> None:
        self.redis.xadd(self.dead_stream, {"action_id": action_id,
                                           "command": json.dumps(command, default=str),
                                           "error": error or ""},
                        maxlen=DEAD_MAXLEN, approximate=True)


def _decode(items: list[Any]) -> list[Entry]:
    entries: list[Entry] = []
    for entry_id, fields in items or []:
        if fields is None:  # deleted while pending
            continue
        decoded = {_text(k): _text(v) for k, v in fields.items()}
        entries.append((_text(entry_id), decoded))
    return entries


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry_key(entry_id: str) -> tuple[int, int]:
    millis, _, serial = entry_id.partition("-")
    return int(millis), int(serial or 0)
