"""Value semantics of the cell language: numbers, strings, booleans, null, dates and durations.

Both evaluators (the reference one and the compiled one) go through these functions, so the
two can only disagree on matching, never on what a value means.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

_NUMERIC_TEXT = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")
_DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def to_number(value: Any) -> float | None:
    """The number a value stands for, or None. Numeric text from event data counts."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, Decimal)):
        try:
            number = float(value)
        except (OverflowError, ValueError):
            return None
        return number if math.isfinite(number) else None
    if isinstance(value, str) and _NUMERIC_TEXT.match(value):
        return to_number(float(value))
    return None


def to_datetime(value: Any) -> datetime | None:
    """An aware datetime (naive ones are taken as UTC), or None."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    if isinstance(value, str):
        text = value.strip()
        if not text or not text[0].isdigit():
            return None
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def to_date(value: Any) -> date | None:
    """The calendar date of a value (a datetime keeps its own time zone's date), or None."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if _DATE_TEXT.match(text):
            try:
                return date.fromisoformat(text)
            except ValueError:
                return None
        moment = to_datetime(text)
        return moment.date() if moment else None
    return None


def to_duration(value: Any) -> timedelta | None:
    return value if isinstance(value, timedelta) else None


def kind_of(value: Any) -> str:
    """A coarse type name used in messages and type checks."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, timedelta):
        return "duration"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def equals(left: Any, right: Any) -> bool:
    """`left = right` where right is what the cell says and left is the input."""
    if right is None or left is None:
        return left is None and right is None
    if isinstance(right, bool) or isinstance(left, bool):
        return isinstance(right, bool) and isinstance(left, bool) and left == right
    if is_number(right):
        number = to_number(left)
        return number is not None and number == float(right)
    if isinstance(right, str):
        return isinstance(left, str) and left == right
    if isinstance(right, datetime):
        moment = to_datetime(left)
        return moment is not None and moment == right
    if isinstance(right, date):
        day = to_date(left)
        return day is not None and day == right
    if isinstance(right, timedelta):
        return isinstance(left, timedelta) and left == right
    return bool(left == right)


def compare(left: Any, right: Any) -> int | None:
    """-1, 0 or 1 for an ordered pair, None when the two cannot be ordered (null included)."""
    if left is None or right is None or isinstance(left, bool) or isinstance(right, bool):
        return None
    a: Any
    b: Any
    if is_number(right):
        a, b = to_number(left), float(right)
    elif isinstance(right, datetime):
        a, b = to_datetime(left), right
    elif isinstance(right, date):
        a, b = to_date(left), right
    elif isinstance(right, timedelta):
        a, b = to_duration(left), right
    elif isinstance(right, str) and isinstance(left, str):
        a, b = left, right
    else:
        return None
    if a is None:
        return None
    return (a > b) - (a < b)


def to_json_value(value: Any) -> Any:
    """A JSON-friendly copy: dates as ISO text, durations as seconds, tuples as lists."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, (list, tuple)):
        return [to_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json_value(item) for key, item in value.items()}
    return value
