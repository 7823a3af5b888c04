"""Action commands (docs/commands.md): one per action of a run, numbered across rulesets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python

import tables


def jsonable(value: Any) -> Any:
    """JSON values only: dates become ISO text, durations ISO durations, anything else text."""
    return to_jsonable_python(value, fallback=str)


def command_id(run_id: str, index: int) -> str:
    return f"{run_id}:{index}"


@dataclass(frozen=True, slots=True)
class RunContext:
    """What every command of one run shares."""

    run_id: str
    event_id: str
    event_source: str
    event_type: str
    occurred_at: datetime
    order_id: str | None
    customer_id: str | None
    data: Mapping[str, Any]  # event data + enrichment, JSON values
    created_at: datetime


def build_command(
    *, context: RunContext, index: int, ruleset: str, version: int, action: tables.Action
) -> dict[str, Any]:
    identifier = command_id(context.run_id, index)
    return {
        "command_id": identifier,
        "idempotency_key": identifier,
        "run_id": context.run_id,
        "index": index,
        "event_id": context.event_id,
        "event_source": context.event_source,
        "event_type": context.event_type,
        "occurred_at": context.occurred_at.isoformat(),
        "ruleset": ruleset,
        "version": version,
        "table": action.table,
        "row": action.row,
        "action": action.name,
        "params": jsonable(action.params),
        "delay_seconds": action.delay,
        "approval": action.approval,
        "order_id": context.order_id,
        "customer_id": context.customer_id,
        "data": context.data,
        "created_at": context.created_at.isoformat(),
    }
