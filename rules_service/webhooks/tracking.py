"""Carrier tracking webhooks (AfterShip-style) → `shipment.delivered` / `shipment.delayed`.

    {"event_id": "…", "msg": {"tracking_number": "…", "slug": "…", "tag": "Delivered",
     "order_id": "1001", "expected_delivery": "…", "shipment_delivery_date": "…", …}, "ts": …}

`Delivered` → shipment.delivered with `shipment.delivered_at` = shipment_delivery_date (else the
last checkpoint's time). `Exception` and `AttemptFail` → shipment.delayed with
`shipment.delay_days` = msg.delay_days, else whole days from the promised to the expected
delivery date, else 0. Other tags carry nothing that enrichment uses and are acknowledged only.
The event id is the payload's event_id, else a digest of the body (a resend is the same event).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from rules_service.events.keys import DELAYED, DELIVERED
from rules_service.events.schemas import Event
from rules_service.webhooks.normalize import compact, first_time, now, text_id

SOURCE = "tracking"
TAGS = {"delivered": DELIVERED, "exception": DELAYED, "attemptfail": DELAYED}


def event_type(msg: dict[str, Any]) -> str | None:
    return TAGS.get(str(msg.get("tag") or "").strip().lower())


def to_event(*, payload: dict[str, Any], body: bytes) -> Event | None:
    msg = payload.get("msg")
    if not isinstance(msg, dict):
        return None
    kind = event_type(msg)
    if kind is None:
        return None
    event_id = text_id(payload.get("event_id")) or hashlib.sha256(body).hexdigest()[:40]
    shipment = _shipment(msg)
    if kind == DELIVERED:
        shipment["delivered_at"] = _delivered_at(msg)
    else:
        shipment["delay_days"] = _delay_days(msg)
    occurred_at = (
        first_time(shipment.get("delivered_at") if kind == DELIVERED else None)
        or first_time(msg.get("updated_at"))
        or _from_ts(payload.get("ts"))
        or now()
    )
    data: dict[str, Any] = {"shipment": compact(shipment)}
    order_id = text_id(msg.get("order_id"))
    if order_id:
        data["order"] = {"id": order_id}
    return Event(id=event_id, source=SOURCE, type=kind, occurred_at=occurred_at, data=data)


def _shipment(msg: dict[str, Any]) -> dict[str, Any]:
    return {
        "tracking_number": msg.get("tracking_number"),
        "carrier": msg.get("slug"),
        "tag": msg.get("tag"),
        "subtag": msg.get("subtag"),
        "expected_delivery": msg.get("expected_delivery"),
    }


def _delivered_at(msg: dict[str, Any]) -> str | None:
    checkpoints = [c for c in msg.get("checkpoints") or [] if isinstance(c, dict)]
    last = checkpoints[-1].get("checkpoint_time") if checkpoints else None
    moment = first_time(msg.get("shipment_delivery_date"), last)
    return moment.isoformat() if moment else None


def _delay_days(msg: dict[str, Any]) -> int | float:
    explicit = msg.get("delay_days")
    if isinstance(explicit, (int, float)) and not isinstance(explicit, bool):
        return explicit
    promised = first_time(msg.get("order_promised_delivery_date"))
    expected = first_time(msg.get("expected_delivery"))
    if promised and expected:
        return max(0, (expected.date() - promised.date()).days)
    return 0


def _from_ts(value: Any) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return None
