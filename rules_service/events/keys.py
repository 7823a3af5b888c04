"""Pure helpers: which order and customer an event is about, its history subject, its time."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

DELIVERED = "shipment.delivered"
DELAYED = "shipment.delayed"
CANCELLATION_TYPES = frozenset({"cancel.requested", "order.cancelled"})
RETURN_TYPES = frozenset({"return.requested"})
ORDER_TYPES = frozenset({"order.placed"})


def utc(moment: datetime) -> datetime:
    """The same instant in UTC; a naive datetime (as SQLite gives back) is taken as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _id_at(data: Mapping[str, Any], key: str) -> str | None:
    node = data.get(key)
    if not isinstance(node, Mapping):
        return None
    value = node.get("id")
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()
    return text[:200] or None


def order_id(data: Mapping[str, Any]) -> str | None:
    return _id_at(data, "order")


def customer_id(data: Mapping[str, Any]) -> str | None:
    return _id_at(data, "customer")


def routing_key(*, data: Mapping[str, Any], event_id: str) -> str:
    """Staged rollout key: the order id, else the customer id, else the event id."""
    return order_id(data) or customer_id(data) or event_id


def subject(*, event_type: str, source: str, event_id: str, data: Mapping[str, Any]) -> str:
    """What one history entry counts as: two cancellations of one order are one cancellation,
    two placements of one order one order; returns count per return (else per event)."""
    own = f"{source}:{event_id}"
    if event_type in RETURN_TYPES:
        return_id = _id_at(data, "return")
        return f"return:{return_id}" if return_id else own
    order = order_id(data)
    return f"order:{order}" if order else own


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from an ISO-8601 string or a datetime (naive = UTC), else None."""
    if isinstance(value, datetime):
        return utc(value)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return utc(parsed)


def delivered_at(
    *, event_type: str, occurred_at: datetime, data: Mapping[str, Any]
) -> datetime | None:
    """The delivery time a `shipment.delivered` event reports (else its own time)."""
    if event_type != DELIVERED:
        return None
    shipment = data.get("shipment")
    reported = parse_time(shipment.get("delivered_at")) if isinstance(shipment, Mapping) else None
    return reported or utc(occurred_at)


def delay_days(*, event_type: str, data: Mapping[str, Any]) -> float | None:
    """The carrier delay a `shipment.delayed` event reports, in days (0 when not a number)."""
    if event_type != DELAYED:
        return None
    shipment = data.get("shipment")
    value = shipment.get("delay_days") if isinstance(shipment, Mapping) else None
    if isinstance(value, bool):
        return 0.0
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return number if number == number and abs(number) != float("inf") else 0.0
