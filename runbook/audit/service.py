"""Appending to, reading and verifying the audit log.

`append` joins the caller's transaction (it flushes, never commits). Appenders are serialized
so the chain never forks: a PostgreSQL transaction-scoped advisory lock plus a row lock on the
head row (on SQLite the head update takes the database's single write lock).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, Table, insert, select, update
from sqlalchemy.orm import Session

from runbook.audit.chain import entry_hash, normalize_data
from runbook.audit.models import GENESIS_HASH, AuditEntry, AuditHead, AuditPending
from runbook.audit.schemas import VerifyProblem, VerifyResult
from runbook.db import advisory_xact_lock, insert_rows

# pg_advisory_xact_lock key of the audit chain ("runbook-audit")
AUDIT_LOCK_KEY = 0x72756E626F6F6B02
HEAD_ID = 1
MAX_PROBLEMS = 100
MAX_PAGE = 1000


def append(
    *,
    session: Session,
    actor: str,
    kind: str,
    subject: str,
    data: dict[str, Any] | None = None,
    ruleset: str | None = None,
    version: int | None = None,
    run_id: str | None = None,
    order_id: str | None = None,
    action_id: str | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Adds one entry at the end of the chain inside the caller's transaction."""
    seq, prev_hash = _claim(session, 1)
    fields = _fields_of(
        {"actor": actor, "kind": kind, "subject": subject, "data": data, "ruleset": ruleset,
         "version": version, "run_id": run_id, "order_id": order_id, "action_id": action_id,
         "at": at},
        seq=seq, prev_hash=prev_hash, now=datetime.now(UTC),
    )
    digest = entry_hash(fields)
    entry = AuditEntry(**fields, hash=digest)
    session.add(entry)
    session.flush()
    session.execute(update(AuditHead).where(AuditHead.id == HEAD_ID).values(last_hash=digest))
    return entry


def append_many(*, session: Session, entries: Sequence[Mapping[str, Any]]) -> None:
    """Appends `entries` (each the keyword arguments of `append` but `session`), in order, at
    the end of the chain inside the caller's transaction: one head claim and one insert for
    all of them, the same chain `append` would have written entry by entry."""
    _append_many(session, entries, plain_data=False)


def _append_many(
    session: Session, entries: Sequence[Mapping[str, Any]], *, plain_data: bool
) -> None:
    if not entries:
        return
    first_seq, prev_hash = _claim(session, len(entries))
    now = datetime.now(UTC)
    rows = []
    for offset, entry in enumerate(entries):
        fields = _fields_of(
            entry, seq=first_seq + offset, prev_hash=prev_hash, now=now, plain_data=plain_data
        )
        prev_hash = entry_hash(fields)
        rows.append({**fields, "hash": prev_hash})
    insert_rows(session, _ENTRIES, rows)
    session.execute(update(AuditHead).where(AuditHead.id == HEAD_ID).values(last_hash=prev_hash))


_ENTRIES: Table = AuditEntry.__table__  # type: ignore[assignment]
_PENDING: Table = AuditPending.__table__  # type: ignore[assignment]
_ENTRY_KEYS = frozenset({"actor", "kind", "subject", "data", "ruleset", "version", "run_id",
                         "order_id", "action_id", "at"})


def enqueue(
    *, session: Session, entries: Sequence[Mapping[str, Any]], plain_data: bool = False
) -> None:
    """Records `entries` (as for `append_many`) in the caller's transaction without touching
    the chain head: no lock, so concurrent writers do not wait for each other's commits. They
    commit (or roll back) with the caller's work; `flush_pending` later chains them in order.
    Readers of the log call `flush_pending` first, so none is ever missing from a read.

    `plain_data`: each entry's data is a dict of JSON values already (string keys, finite
    numbers, as `pydantic_core.to_jsonable_python` gives), so it is stored without
    normalizing it first (intake's hot path)."""
    if not entries:
        return
    now = datetime.now(UTC)
    rows = []
    for entry in entries:
        fields = _fields_of(entry, seq=0, prev_hash="", now=now, plain_data=plain_data)
        del fields["seq"], fields["prev_hash"]
        rows.append(fields)
    insert_rows(session, _PENDING, rows)


def flush_pending(*, session: Session, limit: int = 1000) -> int:
    """Moves up to `limit` committed pending entries into the chain, oldest first, in the
    caller's transaction (the caller commits); answers how many. Flushers are serialized by
    the chain head's lock, so each entry is chained once."""
    if not _has_pending(session):
        return 0
    advisory_xact_lock(session, AUDIT_LOCK_KEY)
    rows = session.execute(
        select(_PENDING).order_by(_PENDING.c.id).limit(max(1, limit))
    ).all()
    if not rows:
        return 0
    # Pending data was normalized by `enqueue` and comes back as the JSON it was stored as.
    entries = [{name: getattr(row, name) for name in _ENTRY_KEYS} for row in rows]
    _append_many(session, entries, plain_data=True)
    session.execute(_PENDING.delete().where(_PENDING.c.id.in_([row.id for row in rows])))
    return len(rows)


def _has_pending(session: Session) -> bool:
    return session.execute(select(_PENDING.c.id).limit(1)).first() is not None


def _fields_of(
    entry: Mapping[str, Any], *, seq: int, prev_hash: str, now: datetime, plain_data: bool = False
) -> dict[str, Any]:
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise TypeError(f"unknown audit entry fields: {sorted(unknown)}")
    at = entry.get("at") or now
    return {
        "seq": seq,
        "at": at.astimezone(UTC),
        "actor": entry["actor"],
        "kind": entry["kind"],
        "subject": entry["subject"],
        "ruleset": entry.get("ruleset"),
        "version": entry.get("version"),
        "run_id": entry.get("run_id"),
        "order_id": entry.get("order_id"),
        "action_id": entry.get("action_id"),
        "data": entry["data"] if plain_data else normalize_data(entry.get("data")),
        "prev_hash": prev_hash,
    }


def _claim(session: Session, count: int) -> tuple[int, str]:
    """Locks the chain head for the rest of the transaction and claims `count` sequence
    numbers; answers (the first of them, the hash before it)."""
    advisory_xact_lock(session, AUDIT_LOCK_KEY)
    row = session.execute(
        update(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .values(last_seq=AuditHead.last_seq + count)
        .returning(AuditHead.last_seq, AuditHead.last_hash)
    ).one_or_none()
    if row is None:
        _create_head(session)
        return _claim(session, count)
    return int(row[0]) - count + 1, str(row[1])


def _create_head(session: Session) -> None:
    """The head row is created by the migration; this covers a database built without it."""
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).one_or_none()
    seq, digest = (int(last[0]), str(last[1])) if last else (0, GENESIS_HASH)
    session.execute(insert(AuditHead).values(id=HEAD_ID, last_seq=seq, last_hash=digest))


# ----------------------------------------------------------------------------------- query


@dataclass(frozen=True)
class AuditFilters:
    kind: str | None = None
    kind_prefix: str | None = None
    actor: str | None = None
    subject: str | None = None
    ruleset: str | None = None
    version: int | None = None
    run_id: str | None = None
    order_id: str | None = None
    action_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: int | None = None


def query(
    *,
    session: Session,
    kind: str | None = None,
    kind_prefix: str | None = None,
    actor: str | None = None,
    subject: str | None = None,
    ruleset: str | None = None,
    version: int | None = None,
    run_id: str | None = None,
    order_id: str | None = None,
    action_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Entries matching every given filter, oldest first; `after` is a sequence-number cursor,
    `since` inclusive and `until` exclusive."""
    filters = AuditFilters(kind, kind_prefix, actor, subject, ruleset, version, run_id,
                           order_id, action_id, since, until, after)
    statement = _filtered(filters).order_by(AuditEntry.seq).limit(max(1, min(limit, MAX_PAGE)))
    return list(session.scalars(statement))


def _filtered(filters: AuditFilters) -> Select[Any]:
    statement = select(AuditEntry)
    equal = {
        AuditEntry.kind: filters.kind,
        AuditEntry.actor: filters.actor,
        AuditEntry.subject: filters.subject,
        AuditEntry.ruleset: filters.ruleset,
        AuditEntry.version: filters.version,
        AuditEntry.run_id: filters.run_id,
        AuditEntry.order_id: filters.order_id,
        AuditEntry.action_id: filters.action_id,
    }
    for column, value in equal.items():
        if value is not None:
            statement = statement.where(column == value)
    if filters.kind_prefix:
        prefix = filters.kind_prefix
        statement = statement.where(AuditEntry.kind.startswith(prefix, autoescape=True))
    if filters.since is not None:
        statement = statement.where(AuditEntry.at >= filters.since)
    if filters.until is not None:
        statement = statement.where(AuditEntry.at < filters.until)
    if filters.after is not None:
        statement = statement.where(AuditEntry.seq > filters.after)
    return statement


# ---------------------------------------------------------------------------------- verify


def verify(*, session: Session, batch: int = 1000) -> VerifyResult:
    """Recomputes the chain from the first entry: names the sequence number of every modified,
    missing (deleted) or reordered entry, and a truncated tail (the head says more)."""
    checker = _ChainChecker()
    for entry in _entries(session, batch):
        checker.check(entry)
    head = session.get(AuditHead, HEAD_ID)
    if head is not None:
        checker.check_head(int(head.last_seq), head.last_hash)
    return checker.result()


def _entries(session: Session, batch: int) -> Iterator[Any]:
    """Plain rows (not ORM objects: nothing piles up in the session), in batches by seq."""
    table = AuditEntry.__table__
    last = 0
    while True:
        rows = session.execute(
            select(table).where(table.c.seq > last).order_by(table.c.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


class _ChainChecker:
    def __init__(self) -> None:
        self.checked = 0
        self.expected_seq = 1
        self.prev_hash = GENESIS_HASH
        self.problems: list[VerifyProblem] = []

    def check(self, entry: Any) -> None:
        self.checked += 1
        if entry.seq != self.expected_seq:
            self._problem(self.expected_seq, "missing",
                          f"entries {self.expected_seq}..{entry.seq - 1} are missing")
        elif entry.prev_hash != self.prev_hash:
            self._problem(entry.seq, "chain_broken",
                          "prev_hash does not match the previous entry's hash "
                          "(an entry was replaced or reordered)")
        recomputed = entry_hash(_fields(entry))
        if recomputed != entry.hash:
            self._problem(entry.seq, "modified", "the entry does not match its hash")
        self.expected_seq = entry.seq + 1
        self.prev_hash = entry.hash

    def check_head(self, last_seq: int, last_hash: str) -> None:
        seen = self.expected_seq - 1
        if last_seq > seen:
            self._problem(seen + 1, "truncated",
                          f"entries {seen + 1}..{last_seq} are missing from the end")
        elif last_seq == seen and last_hash != self.prev_hash and seen > 0:
            self._problem(seen, "head_mismatch", "the last entry is not the one the head recorded")

    def _problem(self, seq: int, kind: Any, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(VerifyProblem(seq=seq, kind=kind, message=message))

    def result(self) -> VerifyResult:
        first = min((p.seq for p in self.problems), default=None)
        return VerifyResult(
            ok=not self.problems,
            checked=self.checked,
            last_seq=self.expected_seq - 1,
            last_hash=self.prev_hash,
            first_bad_seq=first,
            problems=self.problems,
        )


def _fields(entry: Any) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": entry.at,
        "actor": entry.actor,
        "kind": entry.kind,
        "subject": entry.subject,
        "ruleset": entry.ruleset,
        "version": entry.version,
        "run_id": entry.run_id,
        "order_id": entry.order_id,
        "action_id": entry.action_id,
        "data": entry.data,
        "prev_hash": entry.prev_hash,
    }
