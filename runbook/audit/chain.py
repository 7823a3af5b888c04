"""The hash of an audit entry: sha256 over the canonical JSON of its fields and the previous hash.

Pure functions, shared by `append` (to write) and `verify` (to recompute).
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

HASHED_FIELDS = (
    "seq",
    "at",
    "actor",
    "kind",
    "subject",
    "ruleset",
    "version",
    "run_id",
    "order_id",
    "action_id",
    "data",
    "prev_hash",
)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def format_time(value: datetime) -> str:
    """UTC, microseconds, `Z`: the same text whether the database kept the zone or not."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalize_data(data: Any) -> dict[str, Any]:
    """`data` as plain JSON values (datetimes → ISO text, Decimal → text, sets → sorted lists),
    exactly what the database will hand back, so the stored entry hashes the same later."""
    if data is None:
        return {}
    normalized = json.loads(canonical_json(_plain(data)))
    if not isinstance(normalized, dict):
        return {"value": normalized}
    return normalized


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(v) for v in value), key=canonical_json)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return _scalar_text(value)


def _scalar_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (date, Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def entry_hash(fields: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the HASHED_FIELDS of one entry (`at` as datetime)."""
    body: dict[str, Any] = {name: fields.get(name) for name in HASHED_FIELDS}
    body["at"] = format_time(fields["at"])
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()
