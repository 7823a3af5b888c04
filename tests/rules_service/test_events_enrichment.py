"""Enrichment semantics, computed from history entries (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rules_service.events import enrich, keys
from rules_service.events.schemas import Event
from rules_service.events.store import Prepared, _prepare_one

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _event(eid: str, kind: str, at: datetime, **data: object) -> Event:
    return Event(id=eid, source="t", type=kind, occurred_at=at, data=dict(data))


def _history(*events: Event) -> tuple[enrich.History, list]:
    history = enrich.History()
    prepared = [_prepare_one(e, keys.order_id(e.data), keys.customer_id(e.data)) for e in events]
    for seq, item in enumerate(prepared):
        history.add(enrich.entry_of(item, seq=seq))
    return history, prepared


def test_counts_are_as_of_the_event_time_and_include_the_event() -> None:
    customer = {"id": "c1"}
    events = [
        _event("a", "cancel.requested", T0, order={"id": "o1"}, customer=customer),
        _event(
            "b", "cancel.requested", T0 + timedelta(days=10), order={"id": "o2"}, customer=customer
        ),
        _event(
            "c", "cancel.requested", T0 + timedelta(days=45), order={"id": "o3"}, customer=customer
        ),
    ]
    history, prepared = _history(*events)
    counts = [
        enrich.enrich(history=history, prepared=p)["customer"]["cancellations_30d"]
        for p in prepared
    ]
    assert counts == [1, 2, 1]


def test_two_cancellations_of_one_order_count_once() -> None:
    customer = {"id": "c1"}
    history, prepared = _history(
        _event("a", "cancel.requested", T0, order={"id": "o1"}, customer=customer),
        _event(
            "b", "cancel.requested", T0 + timedelta(hours=1), order={"id": "o1"}, customer=customer
        ),
    )
    assert (
        enrich.enrich(history=history, prepared=prepared[1])["customer"]["cancellations_30d"] == 1
    )


def test_returns_and_orders() -> None:
    customer = {"id": "c9"}
    history, prepared = _history(
        _event(
            "o1", "order.placed", T0 - timedelta(days=400), order={"id": "1"}, customer=customer
        ),
        _event(
            "o2", "order.placed", T0 - timedelta(days=100), order={"id": "2"}, customer=customer
        ),
        _event(
            "r1", "return.requested", T0 - timedelta(days=95), order={"id": "1"}, customer=customer
        ),
        _event("r2", "return.requested", T0, order={"id": "2"}, customer=customer),
    )
    values = enrich.enrich(history=history, prepared=prepared[-1])["customer"]
    assert values == {"cancellations_30d": 0, "returns_90d": 1, "orders": 2}


def test_delivery_anchor_and_summed_delay() -> None:
    order = {"id": "o7"}
    delivered = T0 - timedelta(days=33, hours=2)
    history, prepared = _history(
        _event(
            "d1",
            "shipment.delayed",
            T0 - timedelta(days=40),
            order=order,
            shipment={"delay_days": 3},
        ),
        _event(
            "d2",
            "shipment.delayed",
            T0 - timedelta(days=38),
            order=order,
            shipment={"delay_days": 1},
        ),
        _event(
            "dl",
            "shipment.delivered",
            T0 - timedelta(days=30),
            order=order,
            shipment={"delivered_at": delivered.isoformat()},
        ),
        _event(
            "d3",
            "shipment.delayed",
            T0 + timedelta(days=1),
            order=order,
            shipment={"delay_days": 9},
        ),
        _event("rq", "return.requested", T0, order=order),
    )
    values = enrich.enrich(history=history, prepared=prepared[-1])["delivery"]
    assert values == {"delivered_at": delivered.isoformat(), "days_since": 33, "delay_days": 4}


def test_delivery_time_defaults_to_the_event_time_and_nothing_known_is_null() -> None:
    order = {"id": "o8"}
    history, prepared = _history(
        _event("dl", "shipment.delivered", T0 - timedelta(days=2, hours=1), order=order),
        _event("rq", "return.requested", T0, order=order),
        _event("other", "return.requested", T0, order={"id": "nothing"}),
    )
    assert enrich.enrich(history=history, prepared=prepared[1])["delivery"]["days_since"] == 2
    assert enrich.enrich(history=history, prepared=prepared[2])["delivery"] == {
        "delivered_at": None,
        "days_since": None,
        "delay_days": 0,
    }


def test_merged_lays_enrichment_over_event_data() -> None:
    data = {"customer": {"id": "c1", "tier": "gold"}, "order": {"total": 5}}
    out = enrich.merged(data, {"customer": {"orders": 3}, "delivery": {"days_since": None}})
    assert out == {
        "customer": {"id": "c1", "tier": "gold", "orders": 3},
        "order": {"total": 5},
        "delivery": {"days_since": None},
    }
    assert data["customer"] == {"id": "c1", "tier": "gold"}


def test_postgres_query_and_in_memory_history_agree(pg_url: str) -> None:
    """The set-based PostgreSQL enrichment and the in-memory one (SQLite, dry runs) give the
    same values for a random history with repeats, late events and missing keys."""
    import random

    from sqlalchemy import select

    from rules_service.events import history_sql
    from rules_service.events.models import StoredEvent
    from tests.rules_service.test_events_support import StaticRegistry, accept, migrated_sessions

    rng = random.Random(7)
    kinds = [
        "cancel.requested",
        "order.cancelled",
        "return.requested",
        "order.placed",
        "shipment.delivered",
        "shipment.delayed",
        "refund.initiated",
    ]
    bodies = []
    for i in range(300):
        kind = rng.choice(kinds)
        at = T0 + timedelta(days=rng.uniform(-120, 10), hours=rng.choice([0, 9, -9]))
        data: dict = {"order": {"id": f"o{rng.randrange(12)}"}}
        if rng.random() < 0.8:
            data["customer"] = {"id": f"c{rng.randrange(4)}"}
        if kind == "return.requested" and rng.random() < 0.5:
            data["return"] = {"id": f"r{rng.randrange(20)}"}
        if kind == "shipment.delivered" and rng.random() < 0.5:
            data["shipment"] = {
                "delivered_at": (at - timedelta(hours=rng.randrange(72))).isoformat()
            }
        if kind == "shipment.delayed":
            data["shipment"] = {"delay_days": rng.choice([1, 2, 2.5, "x", None])}
        bodies.append(
            {
                "id": f"e{i}",
                "source": "t",
                "type": kind,
                "occurred_at": at.isoformat(),
                "data": data,
            }
        )
    factory = migrated_sessions(pg_url)
    registry = StaticRegistry([])
    for start in range(0, len(bodies), 50):
        accept(factory, registry, *bodies[start : start + 50])
    with factory() as session:  # the events exactly as stored (customer ids learnt then)
        rows = session.scalars(select(StoredEvent).order_by(StoredEvent.seq)).all()
        prepared = [_as_stored(row) for row in rows]
        by_sql = history_sql.enrich_stored(session=session, prepared=prepared)
        history = enrich.load_history(session=session, prepared=prepared)
        in_memory = [enrich.enrich(history=history, prepared=p) for p in prepared]
    factory.kw["bind"].dispose()
    assert by_sql == in_memory
    assert any(v["customer"]["cancellations_30d"] > 1 for v in by_sql)
    assert any(v["delivery"]["days_since"] is not None for v in by_sql)


def _as_stored(row) -> Prepared:  # type: ignore[no-untyped-def]
    event = Event(
        id=row.event_id,
        source=row.source,
        type=row.type,
        occurred_at=keys.utc(row.occurred_at),
        data=row.data,
    )
    return Prepared(
        event=event,
        occurred_at=keys.utc(row.occurred_at),
        order_id=row.order_id,
        customer_id=row.customer_id,
        subject=row.subject,
        delivered_at=keys.utc(row.delivered_at) if row.delivered_at else None,
        delay_days=row.delay_days,
    )
