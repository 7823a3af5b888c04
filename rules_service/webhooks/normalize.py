"""Small helpers shared by the payload normalizers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from rules_service.events.keys import parse_time
from runbook.errors import BadRequest


def json_object(body: bytes, *, what: str) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadRequest(f"{what} webhook body is not JSON: {error}") from None
    if not isinstance(payload, dict):
        raise BadRequest(f"{what} webhook body is not a JSON object")
    return payload


def money(value: Any) -> int | float | None:
    """Shopify sends amounts as text ("199.00"); whole amounts become integers."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else number


def text_id(value: Any) -> str | None:
    return None if value is None or isinstance(value, (dict, list)) else str(value)


def first_time(*values: Any) -> datetime | None:
    """The first of `values` that is a time; one that cannot be expressed in UTC (such as
    `0001-01-01T00:00:00+01:00`) counts as no time, like an unparseable one."""
    for value in values:
        try:
            moment = parse_time(value)
        except OverflowError:
            continue
        if moment is not None:
            return moment
    return None


def now() -> datetime:
    return datetime.now(UTC)


def compact(mapping: dict[str, Any]) -> dict[str, Any]:
    """Drops None values, so that paths a payload does not carry stay absent."""
    return {key: value for key, value in mapping.items() if value is not None}
