"""Group commit of single-event posts: concurrent `POST /v1/events` share one transaction.

Each post waits for its own answer, but the events waiting at the same moment are stored,
enriched, decided and captured together by `intake.accept` — one statement per table and one
commit for the whole group instead of per event. A lone post forms a group of one and waits
for nothing else, so grouping adds no latency at low load; under load, groups grow while the
previous one is at the database, and the per-event cost falls towards that of events:batch.

Answers are the same as deciding each event alone: an event repeated inside a group is a
duplicate of its first occurrence, and a group that fails for a reason other than an
unreachable database is retried one event per transaction, so one bad event only fails its
own post.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from rules_service.events import deciding, intake
from rules_service.events.schemas import Event
from rules_service.events.service import OnCommit, database_errors
from rules_service.events.store import EventKey
from runbook import metrics
from runbook.errors import ServiceUnavailable
from runbook.settings import Settings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Pending:
    """A queued post and where its answer goes: an asyncio future of `loop` (a request), or
    a thread-safe future (`enqueue`)."""

    event: Event
    actor: str
    answer: Future[intake.Accepted] | asyncio.Future[intake.Accepted] = field(
        default_factory=Future
    )
    loop: asyncio.AbstractEventLoop | None = None

    def settle(self, outcome: intake.Accepted | BaseException) -> None:
        """Sets the answer, in the thread that owns it; a request that went away (its future
        cancelled) was decided all the same."""
        if self.answer.done():
            return
        if isinstance(outcome, BaseException):
            self.answer.set_exception(outcome)
        else:
            self.answer.set_result(outcome)


class GroupCommit:
    """Writer threads that decide queued posts in groups of up to `max_group` events."""

    def __init__(
        self,
        *,
        session_factory: Callable[[], Session],
        registry: deciding.Registry,
        on_commit: OnCommit,
        writers: int,
        max_group: int,
        max_waiting: int,
        linger_seconds: float,
    ) -> None:
        self._session_factory = session_factory
        self._registry = registry
        self._on_commit = on_commit
        self._max_group = max_group
        self._max_waiting = max_waiting
        self._linger = linger_seconds
        self._busy = False
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._run, name=f"intake-writer-{n}", daemon=True)
            for n in range(writers)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Stops taking posts, decides those already queued, then stops the writers."""
        self._closed = True
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout)

    async def submit(self, *, event: Event, actor: str) -> intake.Accepted:
        """The event's answer once its group has committed (or the error of its own post)."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[intake.Accepted] = loop.create_future()
        self._put(_Pending(event=event, actor=actor, answer=answer, loop=loop))
        return await answer

    def enqueue(self, *, event: Event, actor: str) -> Future[intake.Accepted]:
        """`submit` for a caller outside an event loop: a thread-safe future of the answer."""
        pending = _Pending(event=event, actor=actor)
        self._put(pending)
        return pending.answer  # type: ignore[return-value]

    def _put(self, pending: _Pending) -> None:
        if self._closed:
            raise ServiceUnavailable("the service is shutting down; retry later")
        if self._queue.qsize() >= self._max_waiting:
            raise ServiceUnavailable(
                f"{self._max_waiting} events are already waiting to be decided; retry later"
            )
        self._queue.put(pending)

    # -------------------------------------------------------------------------- writer

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            # Under load (the last group was not alone), wait a moment for the posts being
            # parsed right now: a bigger group costs less per event.
            deadline = time.monotonic() + (self._linger if self._busy else 0.0)
            while len(group) < self._max_group:
                try:
                    more = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if more is None:  # closing: finish this group, then stop
                    self._queue.put(None)
                    break
                group.append(more)
            self._busy = len(group) > 1
            for pending in group:  # from here on a client that went away cannot cancel
                if isinstance(pending.answer, Future):
                    pending.answer.set_running_or_notify_cancel()
            self._decide(group)

    def _decide(self, group: Sequence[_Pending]) -> None:
        metrics.INTAKE_GROUP_SIZE.observe(len(group))
        try:
            answers = self._commit(group)
        except ServiceUnavailable as error:
            _fail(group, error)
            return
        except BaseException as error:  # noqa: BLE001 - one bad event must not fail the rest
            if len(group) == 1:
                _fail(group, error)
                return
            log.warning("a group of %d events failed; deciding them one by one: %r",
                        len(group), error)
            for pending in group:
                self._decide([pending])
            return
        _answer(group, answers)
        if intake.queued_commands(answers.values()):
            self._on_commit()

    def _commit(self, group: Sequence[_Pending]) -> dict[EventKey, intake.Accepted]:
        answers: dict[EventKey, intake.Accepted] = {}
        with self._session_factory() as session, database_errors(session):
            for actor, events in _by_actor(group).items():
                answers.update(
                    intake.accept(
                        session=session, events=events, registry=self._registry, actor=actor
                    )
                )
            session.commit()
        return answers


def start_group_commit(app: Any) -> GroupCommit:
    """Starts the writers of `app` (`app.state.intake`) from its settings, session factory and
    registry; one writer on SQLite, which has one writer at a time anyway."""
    from rules_service.deps import after_commit

    stop_group_commit(app)  # a start attempt that failed half-way
    settings: Settings = app.state.settings
    with app.state.session_factory() as session:
        single_writer = session.get_bind().dialect.name == "sqlite"
    intake = GroupCommit(
        session_factory=app.state.session_factory,
        registry=app.state.registry,
        on_commit=lambda: after_commit(app),
        writers=1 if single_writer else settings.intake_writers,
        max_group=settings.intake_group_max,
        max_waiting=settings.intake_queue_max,
        linger_seconds=settings.intake_linger_ms / 1000,
    )
    intake.start()
    app.state.intake = intake
    return intake


def stop_group_commit(app: Any) -> None:
    """Decides what is queued and stops the writers."""
    intake = getattr(app.state, "intake", None)
    if intake is not None:
        intake.close()
        app.state.intake = None


def _by_actor(group: Sequence[_Pending]) -> dict[str, list[Event]]:
    events: dict[str, list[Event]] = {}
    for pending in group:
        events.setdefault(pending.actor, []).append(pending.event)
    return events


def _answer(group: Sequence[_Pending], answers: dict[EventKey, intake.Accepted]) -> None:
    in_order = intake.in_order([pending.event for pending in group], answers)
    _settle(list(zip(group, in_order, strict=True)))


def _fail(group: Sequence[_Pending], error: BaseException) -> None:
    _settle([(pending, error) for pending in group])


def _settle(outcomes: Sequence[tuple[_Pending, intake.Accepted | BaseException]]) -> None:
    """Hands each post its outcome: one wake-up per event loop for the whole group, instead of
    one per post (each costs the loop a self-pipe read and a callback)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Pending, Any]]] = {}
    for pending, outcome in outcomes:
        if pending.loop is None:
            pending.settle(outcome)
        else:
            by_loop.setdefault(pending.loop, []).append((pending, outcome))
    for loop, settled in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_all, settled)
        except RuntimeError:  # the loop is closed: nobody waits for these answers any more
            log.warning("%d answers dropped: their event loop is closed", len(settled))


def _settle_all(settled: Sequence[tuple[_Pending, Any]]) -> None:
    for pending, outcome in settled:
        pending.settle(outcome)


__all__ = ["GroupCommit", "start_group_commit", "stop_group_commit"]
