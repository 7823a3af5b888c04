"""Enrichment (SPEC §4): customer history and the delivery anchor, as of the event's time.

History is a query over stored events by `occurred_at`, never a running counter, so a late or
out-of-order event counts for every event that occurred after it and is decided after it
arrived, and a replay of an event decides the same way. The events being decided are part of
their own history (a dry run adds the event in memory instead of storing it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules_service.events import keys
from rules_service.events.models import StoredEvent
from rules_service.events.store import EventKey, Prepared

CANCELLATION_WINDOW = timedelta(days=30)
RETURN_WINDOW = timedelta(days=90)
CUSTOMER_TYPES = keys.CANCELLATION_TYPES | keys.RETURN_TYPES | keys.ORDER_TYPES
DELIVERY_TYPES = frozenset({keys.DELIVERED, keys.DELAYED})
_IN_CHUNK = 1000
_DAY_SECONDS = 86400


@dataclass(frozen=True, slots=True)
class Entry:
    """One past event as history sees it."""

    key: EventKey
    seq: int  # order of arrival, breaks ties between equal times
    type: str
    occurred_at: datetime  # UTC
    subject: str
    customer_id: str | None
    order_id: str | None
    delivered_at: datetime | None
    delay_days: float | None


@dataclass(slots=True)
class History:
    by_customer: dict[str, dict[EventKey, Entry]] = field(default_factory=lambda: defaultdict(dict))
    by_order: dict[str, dict[EventKey, Entry]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, entry: Entry) -> None:
        if entry.customer_id and entry.type in CUSTOMER_TYPES:
            self.by_customer[entry.customer_id].setdefault(entry.key, entry)
        if entry.order_id and entry.type in DELIVERY_TYPES:
            self.by_order[entry.order_id].setdefault(entry.key, entry)


def entry_of(prepared: Prepared, *, seq: int) -> Entry:
    return Entry(
        key=prepared.key,
        seq=seq,
        type=prepared.event.type,
        occurred_at=prepared.occurred_at,
        subject=prepared.subject,
        customer_id=prepared.customer_id,
        order_id=prepared.order_id,
        delivered_at=prepared.delivered_at,
        delay_days=prepared.delay_days,
    )


def load_history(*, session: Session, prepared: Sequence[Prepared]) -> History:
    """The stored history of every customer and order named by `prepared`, up to the latest
    of their times, plus `prepared` themselves (which may or may not be stored yet)."""
    history = History()
    if not prepared:
        return history
    until = max(p.occurred_at for p in prepared)
    customers = {p.customer_id for p in prepared if p.customer_id}
    orders = {p.order_id for p in prepared if p.order_id}
    for entry in _query(session, StoredEvent.customer_id, customers, CUSTOMER_TYPES, until):
        history.add(entry)
    for entry in _query(session, StoredEvent.order_id, orders, DELIVERY_TYPES, until):
        history.add(entry)
    for position, item in enumerate(prepared):  # not stored yet: after everything stored
        history.add(entry_of(item, seq=2**62 + position))
    return history


def _query(
    session: Session, column: Any, values: set[str], types: frozenset[str], until: datetime
) -> Iterable[Entry]:
    ordered = sorted(values)
    for start in range(0, len(ordered), _IN_CHUNK):
        query = (
            select(
                StoredEvent.source,
                StoredEvent.event_id,
                StoredEvent.seq,
                StoredEvent.type,
                StoredEvent.occurred_at,
                StoredEvent.subject,
                StoredEvent.customer_id,
                StoredEvent.order_id,
                StoredEvent.delivered_at,
                StoredEvent.delay_days,
            )
            .where(column.in_(ordered[start : start + _IN_CHUNK]))
            .where(StoredEvent.type.in_(sorted(types)))
            .where(StoredEvent.occurred_at <= until)
        )
        for row in session.execute(query):
            yield Entry(
                key=(row.source, row.event_id),
                seq=row.seq,
                type=row.type,
                occurred_at=keys.utc(row.occurred_at),
                subject=row.subject,
                customer_id=row.customer_id,
                order_id=row.order_id,
                delivered_at=keys.utc(row.delivered_at) if row.delivered_at else None,
                delay_days=row.delay_days,
            )


# ------------------------------------------------------------------------------ computing


def enrich_all(
    *, session: Session, prepared: Sequence[Prepared], stored: bool
) -> list[dict[str, Any]]:
    """The enriched values of each of `prepared` (in order). `stored`: they are in the events
    table already (in this transaction). PostgreSQL answers with one set-based query; otherwise
    the history rows are loaded and counted here (same semantics, see `history_sql`)."""
    if stored and session.get_bind().dialect.name == "postgresql":
        from rules_service.events.history_sql import enrich_stored

        return enrich_stored(session=session, prepared=prepared)
    history = load_history(session=session, prepared=prepared)
    return [enrich(history=history, prepared=item) for item in prepared]


def enrich(*, history: History, prepared: Prepared) -> dict[str, Any]:
    """The enriched values of one event, as of its `occurred_at` (pure)."""
    at = prepared.occurred_at
    past = history.by_customer.get(prepared.customer_id or "", {}).values()
    customer = customer_values(
        prepared,
        cancellations_30d=_count(past, keys.CANCELLATION_TYPES, at, CANCELLATION_WINDOW),
        returns_90d=_count(past, keys.RETURN_TYPES, at, RETURN_WINDOW),
        orders=_count(past, keys.ORDER_TYPES, at, None),
    )
    shipments = history.by_order.get(prepared.order_id or "", {}).values()
    return {"customer": customer, "delivery": _delivery(shipments, at)}


def _count(
    entries: Iterable[Entry], types: frozenset[str], at: datetime, window: timedelta | None
) -> int:
    since = at - window if window is not None else None
    return len(
        {
            e.subject
            for e in entries
            if e.type in types and e.occurred_at <= at and (since is None or e.occurred_at >= since)
        }
    )


def _delivery(entries: Iterable[Entry], at: datetime) -> dict[str, Any]:
    known = [e for e in entries if e.occurred_at <= at]
    delivered = [e for e in known if e.type == keys.DELIVERED and e.delivered_at is not None]
    delay = sum(e.delay_days or 0.0 for e in known if e.type == keys.DELAYED)
    latest = max(delivered, key=lambda e: (e.occurred_at, e.seq)) if delivered else None
    return delivery_values(delivered_at=latest.delivered_at if latest else None, delay=delay, at=at)


def delivery_values(*, delivered_at: datetime | None, delay: float, at: datetime) -> dict[str, Any]:
    """The `delivery.*` values from the delivery time and the summed delay, as of `at`."""
    delay_days: float | int = int(delay) if float(delay).is_integer() else float(delay)
    if delivered_at is None:
        return {"delivered_at": None, "days_since": None, "delay_days": delay_days}
    elapsed = (at - delivered_at).total_seconds()
    return {
        "delivered_at": delivered_at.isoformat(),
        "days_since": int(elapsed // _DAY_SECONDS),
        "delay_days": delay_days,
    }


def customer_values(
    prepared: Prepared, *, cancellations_30d: int, returns_90d: int, orders: int
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "cancellations_30d": cancellations_30d,
        "returns_90d": returns_90d,
        "orders": orders,
    }
    if prepared.customer_id and not keys.customer_id(prepared.event.data):
        values["id"] = prepared.customer_id  # learnt from the order's history
    return values


def merged(data: Mapping[str, Any], enriched: Mapping[str, Any]) -> dict[str, Any]:
    """The event data with the enriched values laid over it: what the tables decide on."""
    result = dict(data)
    for name, values in enriched.items():
        base = result.get(name)
        result[name] = {**base, **values} if isinstance(base, Mapping) else dict(values)
    return result
