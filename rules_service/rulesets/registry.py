"""The live registry: compiled `tables.RuleSet`s of the live versions, in memory, per replica.

It reloads when the `live_generation` counter in the database moves: on a Redis pub/sub
message on `<prefix>:versions` (milliseconds), and by polling the counter every
`poll_seconds` (0.5 s) as a fallback, so every replica follows a publish within a second.
Only live versions are loaded; a version that leaves is closed after a grace period (a
decision may still be running on it).

    choices = registry.select(event_type="return.requested", routing_key="order-1")
    for choice in choices: choice.rules.decide(event_type, data)
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import tables
from rules_service.rulesets.models import LiveGeneration, Ruleset, RulesetVersion
from rules_service.rulesets.rollout import PublicationState, choose
from runbook import metrics

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
CLOSE_GRACE_SECONDS = 30.0
REDIS_RETRY_SECONDS = 5.0
SLICE_SECONDS = 0.2  # longest single wait, so stop() and poke() act quickly


@dataclass(frozen=True)
class LiveChoice:
    ruleset: str
    version: int
    rules: tables.RuleSet


@dataclass(frozen=True)
class _LivePublication:
    ruleset: str
    current: int | None
    percent: int
    previous: int | None


@dataclass(frozen=True)
class _Snapshot:
    generation: int = -1
    publications: tuple[_LivePublication, ...] = ()
    compiled: dict[tuple[str, int], tables.RuleSet] = field(default_factory=dict)


def versions_channel(prefix: str) -> str:
    return f"{prefix}:versions"


class LiveRegistry:
    def __init__(
        self,
        *,
        session_factory: Callable[[], Session],
        redis: Any = None,
        channel: str = "runbook:versions",
        poll_seconds: float = POLL_SECONDS,
        close_grace_seconds: float = CLOSE_GRACE_SECONDS,
    ) -> None:
        self._session_factory = session_factory
        self._redis = redis
        self._channel = channel
        self._poll_seconds = poll_seconds
        self._grace = close_grace_seconds
        self._snapshot = _Snapshot()
        self._reload_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._retiring: list[tuple[float, tables.RuleSet]] = []

    # reading ------------------------------------------------------------------------------
    @property
    def generation(self) -> int:
        return self._snapshot.generation

    def select(self, *, event_type: str, routing_key: str | None) -> list[LiveChoice]:
        """One choice per live ruleset whose chosen version listens to `event_type`, by name."""
        snapshot = self._snapshot
        choices = []
        for publication in snapshot.publications:
            version = choose(current=publication.current, percent=publication.percent,
                             previous=publication.previous, routing_key=routing_key)
            if version is None:
                continue
            rules = snapshot.compiled.get((publication.ruleset, version))
            if rules is not None and event_type in rules.triggers:
                choices.append(LiveChoice(publication.ruleset, version, rules))
        return choices

    def live(self) -> dict[str, dict[str, int | None]]:
        """What this replica serves: {ruleset: {current, percent, previous}}."""
        return {
            p.ruleset: {"current": p.current, "percent": p.percent, "previous": p.previous}
            for p in self._snapshot.publications
        }

    # loading ------------------------------------------------------------------------------
    def refresh(self, *, force: bool = False) -> bool:
        """Reloads when the generation moved (or `force`); True when it reloaded."""
        with self._reload_lock:
            with self._session_factory() as session:
                generation = _generation(session)
                if not force and generation == self._snapshot.generation:
                    return False
                snapshot = self._load(session, generation)
            old = self._snapshot
            self._snapshot = snapshot
            self._retire(old, snapshot)
            metrics.LIVE_VERSIONS.inc()
            log.info("live rulesets reloaded",
                     extra={"generation": generation, "live": self.live()})
            return True

    def _load(self, session: Session, generation: int) -> _Snapshot:
        publications = tuple(_publications(session))
        needed = {(p.ruleset, v) for p in publications for v in (p.current, p.previous)
                  if v is not None}
        compiled = {key: rs for key, rs in self._snapshot.compiled.items() if key in needed}
        for key in sorted(needed - compiled.keys()):
            loaded = _compile(session, *key)
            if loaded is not None:
                compiled[key] = loaded
        return _Snapshot(generation, publications, compiled)

    def _retire(self, old: _Snapshot, new: _Snapshot) -> None:
        now = time.monotonic()
        for key, rules in old.compiled.items():
            if new.compiled.get(key) is not rules:
                self._retiring.append((now + self._grace, rules))
        self._close_due(now)

    def _close_due(self, now: float) -> None:
        due = [rules for deadline, rules in self._retiring if deadline <= now]
        self._retiring = [(d, r) for d, r in self._retiring if d > now]
        for rules in due:
            rules.close()

    # background ---------------------------------------------------------------------------
    def start(self) -> None:
        """Loads what is live now, then follows changes in a background thread."""
        self.refresh(force=True)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="live-registry", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Asks the background thread to check the generation now."""
        self._wake.set()

    def close(self) -> None:
        """Stops following and closes every compiled ruleset."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._reload_lock:
            snapshot, self._snapshot = self._snapshot, _Snapshot()
            for rules in snapshot.compiled.values():
                rules.close()
            for _, rules in self._retiring:
                rules.close()
            self._retiring = []

    def _run(self) -> None:
        listener = _Listener(self._redis, self._channel)
        next_poll = time.monotonic() + self._poll_seconds
        try:
            while not self._stop.is_set():
                wait = max(0.0, min(SLICE_SECONDS, next_poll - time.monotonic()))
                notified = listener.wait(wait, self._wake)
                if self._stop.is_set():
                    break
                poked = self._wake.is_set()
                if notified or poked or time.monotonic() >= next_poll:
                    self._wake.clear()
                    self._refresh_quietly(notified)
                    next_poll = time.monotonic() + self._poll_seconds
        finally:
            listener.close()

    def _refresh_quietly(self, notified: bool) -> None:
        try:
            self.refresh()
            with self._reload_lock:
                self._close_due(time.monotonic())
        except Exception:  # noqa: BLE001 - keep serving the last snapshot; retry next tick
            log.exception("live registry refresh failed", extra={"notified": notified})


class _Listener:
    """Waits for a message on the versions channel (or a poke, or the poll interval)."""

    def __init__(self, redis: Any, channel: str) -> None:
        self._redis = redis
        self._channel = channel
        self._pubsub: Any = None
        self._retry_at = 0.0

    def wait(self, timeout: float, wake: threading.Event) -> bool:
        pubsub = self._subscribed()
        if pubsub is None:
            wake.wait(timeout)
            return False
        try:
            message = pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)
        except Exception:  # noqa: BLE001 - Redis went away: poll until it is back
            log.warning("versions channel lost; polling the database", exc_info=True)
            self.close()
            self._retry_at = time.monotonic() + REDIS_RETRY_SECONDS
            return False
        return message is not None

    def _subscribed(self) -> Any:
        if self._redis is None:
            return None
        if self._pubsub is None and time.monotonic() >= self._retry_at:
            try:
                pubsub = self._redis.pubsub()
                pubsub.subscribe(self._channel)
                self._pubsub = pubsub
            except Exception:  # noqa: BLE001
                log.warning("cannot subscribe to %s", self._channel, exc_info=True)
                self._retry_at = time.monotonic() + REDIS_RETRY_SECONDS
        return self._pubsub

    def close(self) -> None:
        if self._pubsub is not None:
            try:
                self._pubsub.close()
            except Exception:  # noqa: BLE001
                pass
            self._pubsub = None


def notify(redis: Any, channel: str, message: dict[str, Any]) -> None:
    """Publishes a version change; a Redis failure is logged (replicas still poll)."""
    if redis is None:
        return
    try:
        redis.publish(channel, json.dumps(message, sort_keys=True))
    except Exception:  # noqa: BLE001
        log.warning("could not publish on %s", channel, exc_info=True)


# ---------------------------------------------------------------------------------- queries


def _generation(session: Session) -> int:
    value = session.scalar(select(LiveGeneration.generation).where(LiveGeneration.id == 1))
    return int(value or 0)


def _publications(session: Session) -> list[_LivePublication]:
    rows = session.scalars(
        select(Ruleset).where(Ruleset.current_version.is_not(None)).order_by(Ruleset.name)
    )
    return [_publication(row) for row in rows]


def _publication(row: Ruleset) -> _LivePublication:
    """Only versions taking traffic: the previous one is dropped once the current has 100 %."""
    state = PublicationState(row.current_version, row.current_percent, list(row.live_history))
    previous = state.previous if state.percent < 100 else None
    return _LivePublication(row.name, state.current, state.percent, previous)


def _compile(session: Session, ruleset: str, version: int) -> tables.RuleSet | None:
    normalized = session.scalar(
        select(RulesetVersion.normalized).where(
            RulesetVersion.ruleset == ruleset, RulesetVersion.version == version
        )
    )
    if normalized is None:
        log.error("live version missing", extra={"ruleset": ruleset, "version": version})
        return None
    try:
        return tables.load_json(normalized)
    except tables.WorkbookError:
        log.exception("live version does not load", extra={"ruleset": ruleset,
                                                           "version": version})
        return None
