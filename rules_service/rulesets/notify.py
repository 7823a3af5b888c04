"""Announcing version changes: after the transaction commits, a JSON message on the Redis
channel `<prefix>:versions` (`{"action": "upload|approve|publish|rollback", "ruleset",
"version", ...}`), and, when what is live changed, this replica's registry reloads at once."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from rules_service.rulesets.registry import LiveRegistry, notify
from runbook.db import after_commit

log = logging.getLogger(__name__)
LIVE_ACTIONS = frozenset({"publish", "rollback"})


class VersionNotifier:
    def __init__(self, *, registry: LiveRegistry | None, redis: Any, channel: str) -> None:
        self.registry = registry
        self.redis = redis
        self.channel = channel

    def changed(self, session: Session, message: dict[str, Any]) -> None:
        """Schedules the notification for when `session` commits (nothing on rollback)."""
        after_commit(session, lambda: self._send(message))

    def _send(self, message: dict[str, Any]) -> None:
        notify(self.redis, self.channel, message)  # first: the other replicas start loading
        if self.registry is not None and message.get("action") in LIVE_ACTIONS:
            try:
                self.registry.refresh()
            except Exception:  # noqa: BLE001 - the poller retries
                log.exception("registry refresh after a publish failed")
