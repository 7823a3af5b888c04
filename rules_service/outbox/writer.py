"""Writing commands into the outbox, inside the caller's transaction (the run's)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from rules_service.outbox.models import OutboxRow
from runbook.db import insert_rows

_OUTBOX: Table = OutboxRow.__table__  # type: ignore[assignment]


def add_commands(*, session: Session, commands: Sequence[dict[str, Any]], now: datetime) -> None:
    """One outbox row per command; nothing is sent until the transaction commits."""
    if not commands:
        return
    rows = [
        {
            "command_id": command["command_id"],
            "run_id": command["run_id"],
            "command": command,
            "created_at": now,
            "relayed_at": None,
            "attempts": 0,
            "last_error": None,
        }
        for command in commands
    ]
    insert_rows(session, _OUTBOX, rows)
