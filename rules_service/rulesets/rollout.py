"""Staged rollout: which version of a ruleset decides an event.

An event's routing key (order id, else customer id) falls in a stable bucket 0..99 (sha256,
the same in every process and release). The current version takes the buckets below its
percent, the previous version the rest, so raising the percent only moves new keys over.
An event without a routing key counts as bucket 99: it moves only at 100 %.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

BUCKETS = 100
NO_KEY_BUCKET = BUCKETS - 1


def bucket(routing_key: str | None) -> int:
    """0..99 from the first 8 bytes of sha256(routing_key)."""
    if routing_key is None or routing_key == "":
        return NO_KEY_BUCKET
    digest = hashlib.sha256(routing_key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def choose(
    *, current: int | None, percent: int, previous: int | None, routing_key: str | None
) -> int | None:
    """The version deciding an event with this routing key (None: no version takes it)."""
    if current is None:
        return None
    if percent >= BUCKETS or bucket(routing_key) < percent:
        return current
    return previous


@dataclass
class PublicationState:
    """A ruleset's publication: current version and percent, previous version, and the versions
    that were fully live (oldest first), which rollback walks back."""

    current: int | None = None
    percent: int = 0
    history: list[int] = field(default_factory=list)

    @property
    def previous(self) -> int | None:
        """The last fully live version other than the current one."""
        return next((v for v in reversed(self.history) if v != self.current), None)

    def publish(self, version: int, percent: int) -> None:
        """`version` takes `percent` % of the traffic. A new version replaces one being rolled
        out; the last fully live version keeps the rest."""
        if not 1 <= percent <= BUCKETS:
            raise ValueError("percent must be 1..100")
        if version != self.current and version == self.previous and percent < BUCKETS:
            raise ValueError(f"version {version} was fully live last: publish it at 100 % "
                             "or roll back to it")
        self.current = version
        self.percent = percent
        if percent == BUCKETS and (not self.history or self.history[-1] != version):
            self.history.append(version)

    def rollback(self) -> int:
        """The previous live version takes all traffic at once; returns it."""
        target = self.previous
        if target is None:
            raise LookupError("no previous live version to roll back to")
        while self.history and self.history[-1] != target:
            self.history.pop()
        self.current = target
        self.percent = BUCKETS
        return target

    def traffic(self, version: int) -> int:
        """The percent of routing keys `version` decides now."""
        if self.current is None:
            return 0
        if version == self.current:
            return self.percent
        if version == self.previous:
            return BUCKETS - self.percent
        return 0
