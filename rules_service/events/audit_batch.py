"""Appending the audit entries of a whole chunk of runs at once.

`runbook.audit.append` claims the chain head once per entry (four statements each); a chunk of
250 runs would spend most of its time there. This adapter claims `n` sequence numbers with one
head update, hashes the entries in order exactly as `append` does, and inserts them with one
statement: the same chain, verifiable by `runbook.audit.verify`. It uses `runbook.audit`'s
`append_many` instead when the platform provides one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, update
from sqlalchemy.orm import Session

from runbook import audit
from runbook.audit.chain import entry_hash, normalize_data
from runbook.audit.models import AuditEntry, AuditHead
from runbook.audit.service import AUDIT_LOCK_KEY, HEAD_ID
from runbook.db import advisory_xact_lock

_ENTRIES: Table = AuditEntry.__table__  # type: ignore[assignment]


def append_many(*, session: Session, entries: Sequence[dict[str, Any]]) -> None:
    """Appends `entries` (keyword arguments of `audit.append`) in order, in the caller's
    transaction."""
    platform = getattr(audit, "append_many", None)
    if platform is not None:
        platform(session=session, entries=entries)
        return
    if len(entries) <= 1:
        for entry in entries:
            audit.append(session=session, **entry)
        return
    claimed = _claim(session, len(entries))
    if claimed is None:  # no head row yet: `append` creates it
        for entry in entries:
            audit.append(session=session, **entry)
        return
    first_seq, prev_hash = claimed
    now = datetime.now(UTC)
    rows = []
    for offset, entry in enumerate(entries):
        fields = _fields(entry, seq=first_seq + offset, at=now, prev_hash=prev_hash)
        prev_hash = entry_hash(fields)
        rows.append({**fields, "hash": prev_hash})
    session.execute(_ENTRIES.insert(), rows)
    session.execute(update(AuditHead).where(AuditHead.id == HEAD_ID).values(last_hash=prev_hash))


def _claim(session: Session, count: int) -> tuple[int, str] | None:
    advisory_xact_lock(session, AUDIT_LOCK_KEY)
    row = session.execute(
        update(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .values(last_seq=AuditHead.last_seq + count)
        .returning(AuditHead.last_seq, AuditHead.last_hash)
    ).one_or_none()
    if row is None:
        return None
    return int(row[0]) - count + 1, str(row[1])


def _fields(entry: dict[str, Any], *, seq: int, at: datetime, prev_hash: str) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": at,
        "actor": entry["actor"],
        "kind": entry["kind"],
        "subject": entry["subject"],
        "ruleset": entry.get("ruleset"),
        "version": entry.get("version"),
        "run_id": entry.get("run_id"),
        "order_id": entry.get("order_id"),
        "action_id": entry.get("action_id"),
        "data": normalize_data(entry.get("data")),
        "prev_hash": prev_hash,
    }
