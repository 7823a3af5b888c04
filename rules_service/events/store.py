"""Storing events: one insert per batch, idempotent on (source, id) and safe under races.

`INSERT … ON CONFLICT DO NOTHING RETURNING` tells which events are new. A concurrent
transaction inserting the same event makes ours wait for its outcome (the unique index), so
two posts of one event produce one stored event, one run, and the second one reads the first
one's decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from rules_service.events import keys
from rules_service.events.models import StoredEvent
from rules_service.events.schemas import Event
from runbook.db import insert_rows

EventKey = tuple[str, str]  # (source, id)
_IN_CHUNK = 1000
_TABLE: Table = StoredEvent.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Prepared:
    """An event with what history needs of it, ready to insert (or to enrich a dry run)."""

    event: Event
    occurred_at: datetime  # UTC
    order_id: str | None
    customer_id: str | None
    subject: str
    delivered_at: datetime | None
    delay_days: float | None

    @property
    def key(self) -> EventKey:
        return (self.event.source, self.event.id)

    def row(self, *, received_at: datetime) -> dict[str, Any]:
        return {
            "source": self.event.source,
            "event_id": self.event.id,
            "type": self.event.type,
            "occurred_at": self.occurred_at,
            "received_at": received_at,
            "order_id": self.order_id,
            "customer_id": self.customer_id,
            "subject": self.subject,
            "delivered_at": self.delivered_at,
            "delay_days": self.delay_days,
            "data": self.event.data,
        }


def event_key(event: Event) -> EventKey:
    return (event.source, event.id)


def unique_events(events: Iterable[Event]) -> list[Event]:
    """The events with each (source, id) once, first occurrence kept, in input order."""
    seen: set[EventKey] = set()
    unique = []
    for event in events:
        if event_key(event) not in seen:
            seen.add(event_key(event))
            unique.append(event)
    return unique


def prepare(*, session: Session, events: Sequence[Event]) -> list[Prepared]:
    """Events with their keys; a missing customer id is taken from the order's history."""
    ids = [(keys.order_id(e.data), keys.customer_id(e.data)) for e in events]
    missing = {order for order, customer in ids if order and not customer}
    known = customers_of_orders(session=session, order_ids=missing) if missing else {}
    for order, customer in ids:  # an earlier event of the same batch also names the customer
        if order and customer:
            known.setdefault(order, customer)
    return [
        _prepare_one(event, order, customer or (known.get(order) if order else None))
        for event, (order, customer) in zip(events, ids, strict=True)
    ]


def _prepare_one(event: Event, order: str | None, customer: str | None) -> Prepared:
    return Prepared(
        event=event,
        occurred_at=keys.utc(event.occurred_at),
        order_id=order,
        customer_id=customer,
        subject=keys.subject(
            event_type=event.type, source=event.source, event_id=event.id, data=event.data
        ),
        delivered_at=keys.delivered_at(
            event_type=event.type, occurred_at=event.occurred_at, data=event.data
        ),
        delay_days=keys.delay_days(event_type=event.type, data=event.data),
    )


def customers_of_orders(*, session: Session, order_ids: Iterable[str]) -> dict[str, str]:
    """order id → the customer id its stored events name (the latest one wins)."""
    found: dict[str, str] = {}
    ids = sorted(set(order_ids))
    for start in range(0, len(ids), _IN_CHUNK):
        query = (
            select(StoredEvent.order_id, StoredEvent.customer_id)
            .where(StoredEvent.order_id.in_(ids[start : start + _IN_CHUNK]))
            .where(StoredEvent.customer_id.is_not(None))
            .order_by(StoredEvent.occurred_at, StoredEvent.seq)
        )
        for order, customer in session.execute(query):
            if order is not None and customer is not None:
                found[order] = customer
    return found


def insert_new(
    *, session: Session, prepared: Sequence[Prepared], received_at: datetime
) -> dict[EventKey, int]:
    """Inserts the events not stored yet; answers {key: seq} for those inserted now.

    Rows go in key order so that two overlapping batches lock index entries in the same order
    (no deadlock)."""
    ordered = sorted(prepared, key=lambda p: p.key)
    inserted = insert_rows(
        session,
        _TABLE,
        [p.row(received_at=received_at) for p in ordered],
        skip_conflicts_on=("source", "event_id"),
        returning=("seq", "source", "event_id"),
    )
    return {(source, event_id): seq for seq, source, event_id in inserted}


__all__ = ["EventKey", "Prepared", "event_key", "insert_new", "prepare", "unique_events"]
