"""Starting and stopping the relay with the app (call from the app's lifespan).

start_relay(app)   # after the database is ready; reads app.state.settings and
                   # app.state.session_factory when present
stop_relay(app)    # on shutdown
nudge(app)         # after a commit that wrote outbox rows (done by the event routers)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from rules_service.outbox.relay import Relay
from rules_service.outbox.sinks import sink_for
from runbook.settings import Settings, get_settings

STATE_ATTR = "outbox_relay"


def make_relay(*, settings: Settings, session_factory: Callable[[], Session]) -> Relay:
    return Relay(
        session_factory=session_factory,
        sink=sink_for(settings=settings, session_factory=session_factory),
        batch_size=settings.outbox_relay_batch,
        poll_seconds=settings.outbox_poll_seconds,
        backoff_max_seconds=settings.outbox_backoff_max_seconds,
        min_interval_seconds=settings.outbox_relay_interval_ms / 1000,
    )


def start_relay(
    app: Any,
    *,
    settings: Settings | None = None,
    session_factory: Callable[[], Session] | None = None,
) -> Relay:
    """Starts this process's relay thread and keeps it on `app.state.outbox_relay`."""
    existing = getattr(app.state, STATE_ATTR, None)
    if existing is not None:
        return existing
    settings = settings or getattr(app.state, "settings", None) or get_settings()
    factory = session_factory or getattr(app.state, "session_factory", None)
    if factory is None:
        from runbook.db import make_engine, make_session_factory

        factory = make_session_factory(make_engine(settings))
    relay = make_relay(settings=settings, session_factory=factory)
    setattr(app.state, STATE_ATTR, relay)
    relay.start()
    return relay


def stop_relay(app: Any) -> None:
    relay = getattr(app.state, STATE_ATTR, None)
    if relay is not None:
        relay.stop()
        setattr(app.state, STATE_ATTR, None)


def nudge(app: Any) -> None:
    relay = getattr(app.state, STATE_ATTR, None)
    if relay is not None:
        relay.nudge()
