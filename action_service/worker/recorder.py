"""Group commit of attempt results. The audit log is one hash chain, so every transaction that
appends to it holds the chain's lock until it commits; recording each action in its own
transaction would serialize the workers on that lock. The recorder thread takes every result
waiting (up to `MAX_BATCH`) and records them in one transaction; when that transaction fails,
each is recorded on its own so one bad row cannot hold the others back."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from runbook.db import session_scope

log = logging.getLogger(__name__)

MAX_BATCH = 100

Work = Callable[[Session], Any]


@dataclass
class _Item:
    work: Work
    future: Future[Any] = field(default_factory=Future)


class Recorder:
    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self.session_factory = session_factory
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="action-recorder", daemon=True)
        self._thread.start()

    def submit(self, work: Work) -> Any:
        """Runs `work(session)` in a shared transaction; answers its result once committed."""
        item = _Item(work)
        self._queue.put(item)
        return item.future.result()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._commit(batch)
                    return
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[_Item]) -> None:
        try:
            with session_scope(self.session_factory) as session:
                results = [item.work(session) for item in batch]
        except Exception:  # noqa: BLE001 - retry one by one below
            if len(batch) == 1:
                self._one(batch[0])
                return
            log.warning("group commit of %d results failed; recording one by one", len(batch))
            for item in batch:
                self._one(item)
            return
        for item, result in zip(batch, results, strict=True):
            item.future.set_result(result)

    def _one(self, item: _Item) -> None:
        try:
            with session_scope(self.session_factory) as session:
                result = item.work(session)
        except Exception as error:  # noqa: BLE001 - handed to the waiting worker thread
            item.future.set_exception(error)
            return
        item.future.set_result(result)
