"""Capturing a run: the event, its enriched values, every ruleset's version, matched rows,
outputs and actions, and timings, as rows ready to insert (and the commands it queues)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from rules_service.events.deciding import Outcome
from rules_service.events.store import Prepared
from rules_service.outbox.commands import RunContext, build_command, command_id, jsonable
from rules_service.runs.models import Run, RunDecision
from runbook.db import insert_rows

_RUNS: Table = Run.__table__  # type: ignore[assignment]
_RUN_DECISIONS: Table = RunDecision.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Captured:
    run: dict[str, Any]
    run_decisions: list[dict[str, Any]]
    commands: list[dict[str, Any]]


def decisions_json(outcomes: Sequence[Outcome], *, run_id: str | None) -> list[dict[str, Any]]:
    """The `decisions` list of the answer and of the run; action ids need a run id."""
    result = []
    index = 0
    for outcome in outcomes:
        entry: dict[str, Any] = {
            "ruleset": outcome.ruleset,
            "version": outcome.version,
            "outputs": {},
            "actions": [],
            "trace": [],
            "error": outcome.error,
        }
        if outcome.decision is not None:
            entry["outputs"] = jsonable(outcome.decision.outputs)
            entry["trace"] = jsonable([hit.to_dict() for hit in outcome.decision.trace])
            for action in outcome.decision.actions:
                entry["actions"].append(_action_json(action, run_id=run_id, index=index))
                index += 1
        result.append(entry)
    return result


def _action_json(action: Any, *, run_id: str | None, index: int) -> dict[str, Any]:
    return {
        "id": command_id(run_id, index) if run_id else f"dry-run:{index}",
        "action": action.name,
        "params": jsonable(action.params),
        "status": "queued" if run_id else "not_queued",
        "table": action.table,
        "row": action.row,
        "delay_seconds": action.delay,
        "approval": action.approval,
    }


def capture(
    *,
    run_id: str,
    event_seq: int,
    prepared: Prepared,
    enriched: Mapping[str, Any],
    data: Mapping[str, Any],
    outcomes: Sequence[Outcome],
    timings: Mapping[str, Any],
    actor: str | None,
    now: datetime,
) -> Captured:
    event = prepared.event
    decisions = decisions_json(outcomes, run_id=run_id)
    context = RunContext(
        run_id=run_id,
        event_id=event.id,
        event_source=event.source,
        event_type=event.type,
        occurred_at=event.occurred_at,
        order_id=prepared.order_id,
        customer_id=prepared.customer_id,
        data=jsonable(data),
        created_at=now,
    )
    commands = _commands(context, outcomes)
    run = {
        "id": run_id,
        "event_seq": event_seq,
        "event_source": event.source,
        "event_id": event.id,
        "event_type": event.type,
        "occurred_at": prepared.occurred_at,
        "order_id": prepared.order_id,
        "customer_id": prepared.customer_id,
        "data": jsonable(event.data),
        "enriched": jsonable(enriched),
        "decisions": decisions,
        "timings": dict(timings),
        "action_count": len(commands),
        "error_count": sum(1 for o in outcomes if o.error),
        "actor": actor,
        "created_at": now,
    }
    run_decisions = [
        {"run_id": run_id, "position": i, "ruleset": o.ruleset, "version": o.version}
        for i, o in enumerate(outcomes)
    ]
    return Captured(run=run, run_decisions=run_decisions, commands=commands)


def _commands(context: RunContext, outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    commands: list[dict[str, Any]] = []
    for outcome in outcomes:
        if outcome.decision is None:
            continue
        for action in outcome.decision.actions:
            commands.append(
                build_command(
                    context=context,
                    index=len(commands),
                    ruleset=outcome.ruleset,
                    version=outcome.version,
                    action=action,
                )
            )
    return commands


def insert_runs(*, session: Session, captured: Sequence[Captured]) -> None:
    """One insert per table for a whole chunk of runs."""
    if not captured:
        return
    insert_rows(session, _RUNS, [c.run for c in captured])
    decisions = [row for c in captured for row in c.run_decisions]
    if decisions:
        insert_rows(session, _RUN_DECISIONS, decisions)
