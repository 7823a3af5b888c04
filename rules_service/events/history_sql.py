"""Enrichment of stored events by one PostgreSQL query for a whole chunk.

Each event of the chunk becomes a row of `unnest(...)`, and correlated subqueries count its
customer's history and find its order's delivery as of its own `occurred_at`, on the indexes
(customer_id, type, occurred_at) and (order_id, type, occurred_at). Only one row per event
comes back, however long the histories are. Semantics are those of `enrich.enrich` (the
in-memory path used on SQLite and for dry runs); the tests check that both agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rules_service.events import keys
from rules_service.events.enrich import customer_values, delivery_values
from rules_service.events.store import Prepared

_COUNT = """(SELECT count(DISTINCT e.subject) FROM events e
     WHERE e.customer_id = v.cid AND e.type = ANY(CAST(:{types} AS text[]))
       AND e.occurred_at <= v.t {window})"""

QUERY = text(
    f"""
SELECT v.idx,
  {_COUNT.format(types="cancel_types", window="AND e.occurred_at >= v.t - interval '30 days'")}
    AS cancellations_30d,
  {_COUNT.format(types="return_types", window="AND e.occurred_at >= v.t - interval '90 days'")}
    AS returns_90d,
  {_COUNT.format(types="order_types", window="")} AS orders,
  (SELECT e.delivered_at FROM events e
     WHERE e.order_id = v.oid AND e.type = :delivered AND e.occurred_at <= v.t
       AND e.delivered_at IS NOT NULL
     ORDER BY e.occurred_at DESC, e.seq DESC LIMIT 1) AS delivered_at,
  (SELECT coalesce(sum(e.delay_days), 0) FROM events e
     WHERE e.order_id = v.oid AND e.type = :delayed AND e.occurred_at <= v.t) AS delay_days
FROM unnest(CAST(:idx AS int[]), CAST(:cid AS text[]), CAST(:oid AS text[]),
            CAST(:t AS timestamptz[])) AS v(idx, cid, oid, t)
"""
)


def enrich_stored(*, session: Session, prepared: Sequence[Prepared]) -> list[dict[str, Any]]:
    if not prepared:
        return []
    params = {
        "idx": list(range(len(prepared))),
        "cid": [p.customer_id for p in prepared],
        "oid": [p.order_id for p in prepared],
        "t": [p.occurred_at for p in prepared],
        "cancel_types": sorted(keys.CANCELLATION_TYPES),
        "return_types": sorted(keys.RETURN_TYPES),
        "order_types": sorted(keys.ORDER_TYPES),
        "delivered": keys.DELIVERED,
        "delayed": keys.DELAYED,
    }
    rows = {row.idx: row for row in session.execute(QUERY, params)}
    return [_values(item, rows[i]) for i, item in enumerate(prepared)]


def _values(item: Prepared, row: Any) -> dict[str, Any]:
    delivered_at = keys.utc(row.delivered_at) if row.delivered_at is not None else None
    return {
        "customer": customer_values(
            item,
            cancellations_30d=int(row.cancellations_30d),
            returns_90d=int(row.returns_90d),
            orders=int(row.orders),
        ),
        "delivery": delivery_values(
            delivered_at=delivered_at, delay=float(row.delay_days), at=item.occurred_at
        ),
    }
