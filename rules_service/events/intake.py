"""The unit of work of event intake: store → enrich → decide → capture → outbox → audit.

`accept` runs inside the caller's transaction and does not commit: the caller commits (the
run, its outbox rows and its audit entries become visible together) and then nudges the
relay. `dry_run` decides without writing anything.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from rules_service.events import deciding, enrich, keys, store
from rules_service.events.schemas import DecisionOut, Event
from rules_service.events.store import EventKey, Prepared
from rules_service.outbox.writer import add_commands
from rules_service.runs import capture as run_capture
from rules_service.runs.ids import new_run_id
from rules_service.runs.models import Run
from runbook import audit, metrics
from runbook.db import pipelined


@dataclass(frozen=True, slots=True)
class Accepted:
    """The answer for one event, and whether it had been decided before."""

    decision: DecisionOut
    duplicate: bool
    action_count: int


def accept(
    *, session: Session, events: Sequence[Event], registry: deciding.Registry, actor: str
) -> dict[EventKey, Accepted]:
    """Stores and decides `events` (new ones) in the session's transaction; answers the first
    decision for events seen before. Keyed by (source, id); the caller commits."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    prepared = store.prepare(session=session, events=store.unique_events(events))
    inserted = store.insert_new(session=session, prepared=prepared, received_at=now)
    fresh = [p for p in prepared if p.key in inserted]
    stored_ms = _ms(started)
    results = _previous(session=session, keys=[p.key for p in prepared if p.key not in inserted])
    if fresh:
        results.update(
            _decide_fresh(
                session=session,
                fresh=fresh,
                seqs=inserted,
                registry=registry,
                actor=actor,
                now=now,
                stored_ms=stored_ms,
            )
        )
    return results


def in_order(
    events: Sequence[Event], accepted: dict[EventKey, Accepted]
) -> list[Accepted]:
    """The answer of each of `events`, in order; a repeat of an event is a duplicate of its
    first occurrence (as a later post of it would be)."""
    seen: set[EventKey] = set()
    answers = []
    for event in events:
        key = store.event_key(event)
        answer = accepted[key]
        if key in seen and not answer.duplicate:
            answer = Accepted(answer.decision, True, answer.action_count)
        seen.add(key)
        answers.append(answer)
    return answers


def queued_commands(accepted: Iterable[Accepted]) -> bool:
    """Whether committing these answers queued new commands (the relay has work)."""
    return any(a.action_count and not a.duplicate for a in accepted)


def dry_run(*, session: Session, event: Event, registry: deciding.Registry) -> DecisionOut:
    """The decision and trace `event` would get now; nothing stored, nothing queued."""
    prepared = store.prepare(session=session, events=[event])
    [enriched] = enrich.enrich_all(session=session, prepared=prepared, stored=False)
    item = prepared[0]
    outcomes = _decide(registry, item, enrich.merged(item.event.data, enriched))
    return _answer(item, enriched, run_capture.decisions_json(outcomes, run_id=None), None)


# ------------------------------------------------------------------------------ steps


def _previous(*, session: Session, keys: Sequence[EventKey]) -> dict[EventKey, Accepted]:
    """The stored decisions of events accepted before (by this or a concurrent request)."""
    if not keys:
        return {}
    query = select(Run).where(tuple_(Run.event_source, Run.event_id).in_(list(keys)))
    found = {
        (run.event_source, run.event_id): Accepted(answer_of(run), True, run.action_count)
        for run in session.scalars(query)
    }
    missing = [key for key in keys if key not in found]
    if missing:  # an event is stored in the transaction that stores its run: cannot happen
        raise RuntimeError(f"events stored without their run: {missing[:5]}")
    return found


def _decide_fresh(
    *,
    session: Session,
    fresh: Sequence[Prepared],
    seqs: dict[EventKey, int],
    registry: deciding.Registry,
    actor: str,
    now: datetime,
    stored_ms: float,
) -> dict[EventKey, Accepted]:
    started = time.perf_counter()
    enrichments = enrich.enrich_all(session=session, prepared=fresh, stored=True)
    history_ms = _ms(started) / len(fresh)
    captured, results = [], {}
    for item, enriched in zip(fresh, enrichments, strict=True):
        one, accepted = _decide_and_capture(
            item,
            enriched,
            registry,
            actor,
            now,
            seq=seqs[item.key],
            shared_ms=stored_ms + history_ms,
        )
        captured.append(one)
        results[item.key] = accepted
    entries = [e for one in captured for e in _audit_entries(actor=actor, run=one.run)]
    with pipelined(session):  # the runs, their commands and audit entries: one round trip
        run_capture.insert_runs(session=session, captured=captured)
        add_commands(
            session=session, commands=[c for one in captured for c in one.commands], now=now
        )
        # JSON values already (built from the captured run); chained after commit
        audit.enqueue(session=session, entries=entries, plain_data=True)
    return results


def _decide_and_capture(
    item: Prepared,
    enriched: dict[str, Any],
    registry: deciding.Registry,
    actor: str,
    now: datetime,
    *,
    seq: int,
    shared_ms: float,
) -> tuple[run_capture.Captured, Accepted]:
    started = time.perf_counter()
    data = enrich.merged(item.event.data, enriched)
    outcomes = _decide(registry, item, data)
    total_ms = round(shared_ms + _ms(started), 3)
    timings: dict[str, Any] = {
        "store_and_enrich_ms": round(shared_ms, 3),
        "decide_ms": {f"{o.ruleset}@{o.version}": o.elapsed_ms for o in outcomes},
        "total_ms": total_ms,
    }
    run_id = new_run_id()
    one = run_capture.capture(
        run_id=run_id,
        event_seq=seq,
        prepared=item,
        enriched=enriched,
        data=data,
        outcomes=outcomes,
        timings=timings,
        actor=actor,
        now=now,
    )
    answer = _answer(item, one.run["enriched"], one.run["decisions"], run_id)
    _observe(outcomes, total_ms)
    return one, Accepted(answer, False, len(one.commands))


def _decide(
    registry: deciding.Registry, item: Prepared, data: dict[str, Any]
) -> list[deciding.Outcome]:
    return deciding.decide(
        registry=registry,
        event_type=item.event.type,
        routing_key=keys.routing_key(data=item.event.data, event_id=item.event.id),
        data=data,
    )


def _audit_entries(*, actor: str, run: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per ruleset decision (one per run when no ruleset listens), so that a refund,
    its order, its row and its version reconcile from one audit query."""
    subject = f"event:{run['event_source']}/{run['event_id']}"
    base = {"event_type": run["event_type"], "occurred_at": run["occurred_at"].isoformat()}
    no_decision: tuple[dict[str, Any], str | None, int | None] = ({}, None, None)
    entries = [_audit_entry(decision) for decision in run["decisions"]] or [no_decision]
    return [
        {
            "actor": actor,
            "kind": "event.decided",
            "subject": subject,
            "data": {**base, **data},
            "ruleset": ruleset,
            "version": version,
            "run_id": run["id"],
            "order_id": run["order_id"],
        }
        for data, ruleset, version in entries
    ]


def _audit_entry(decision: dict[str, Any]) -> tuple[dict[str, Any], str | None, int | None]:
    data = {
        "rows": [hit["row"] for hit in decision["trace"]],
        "outputs": decision["outputs"],
        "actions": [{"id": a["id"], "action": a["action"]} for a in decision["actions"]],
        "error": decision["error"],
    }
    return data, decision["ruleset"], decision["version"]


def answer_of(run: Run) -> DecisionOut:
    return DecisionOut(
        event_id=run.event_id,
        source=run.event_source,
        type=run.event_type,
        run_id=run.id,
        enriched=run.enriched,
        decisions=run.decisions,  # type: ignore[arg-type]
    )


def _answer(
    item: Prepared, enriched: Any, decisions: list[dict[str, Any]], run_id: str | None
) -> DecisionOut:
    return DecisionOut(
        event_id=item.event.id,
        source=item.event.source,
        type=item.event.type,
        run_id=run_id,
        enriched=enriched,
        decisions=decisions,  # type: ignore[arg-type]
    )


def _observe(outcomes: Sequence[deciding.Outcome], total_ms: float) -> None:
    metrics.DECISION_SECONDS.observe(total_ms / 1000)
    for outcome in outcomes:
        if outcome.error:
            result = "error"
        elif outcome.decision is not None and outcome.decision.trace:
            result = "decided"
        else:
            result = "no_match"
        metrics.DECISIONS.labels(outcome.ruleset, str(outcome.version), result).inc()


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
