"""Readiness checks shared by both services' /readyz: what each dependency answers now."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import text

log = logging.getLogger(__name__)


def check_database(state: Any) -> str:
    """"ok", "not started", "starting" (migrations still waiting for it) or "unreachable"."""
    factory = getattr(state, "session_factory", None)
    if factory is None:
        return "not started"
    if getattr(state, "database_ready", True) is False:
        return "starting"
    try:
        with factory() as session:
            session.execute(text("SELECT 1"))
        return "ok"
    except Exception as error:  # noqa: BLE001 - any failure means not ready
        log.warning("database not reachable: %s", error)
        return "unreachable"


def check_redis(state: Any) -> str:
    """"ok", "disabled" (the embedded default runs without it) or "unreachable"."""
    client = getattr(state, "redis", None)
    if client is None:
        return "disabled"
    try:
        client.ping()
        return "ok"
    except Exception as error:  # noqa: BLE001
        log.warning("redis not reachable: %s", error)
        return "unreachable"
