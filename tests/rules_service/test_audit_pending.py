"""Audit entries off the hot path: `enqueue` in the business transaction (no chain lock), the
appender (`flush_pending`, `ChainAppender`) chains them once, in order; readers see them all."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import func, select

from runbook import audit
from runbook.audit import AuditEntry, AuditPending
from runbook.audit.appender import ChainAppender
from runbook.db import make_engine, make_session_factory, migrate


def _factory(url: str) -> Any:
    migrate(url)
    return make_session_factory(make_engine(url))


def _entry(i: int) -> dict[str, Any]:
    return {"actor": "t", "kind": "event.decided", "subject": f"s{i}", "data": {"i": i},
            "run_id": f"r{i}", "order_id": "o"}


def _count(factory: Any, model: Any) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)))


def test_enqueue_rolls_back_with_its_transaction_and_flush_chains_in_order(pg_url: str) -> None:
    factory = _factory(pg_url)
    with factory() as session:
        audit.append(session=session, actor="t", kind="first", subject="s")
        audit.enqueue(session=session, entries=[_entry(i) for i in range(3)])
        session.commit()
    with factory() as session:
        audit.enqueue(session=session, entries=[_entry(99)])
        session.rollback()  # gone with its transaction: never chained
    with factory() as session:
        audit.enqueue(session=session, entries=[_entry(3)])
        session.commit()
    assert (_count(factory, AuditEntry), _count(factory, AuditPending)) == (1, 4)
    with factory() as session:
        assert audit.flush_pending(session=session, limit=3) == 3
        assert audit.flush_pending(session=session, limit=3) == 1
        assert audit.flush_pending(session=session) == 0
        session.commit()
    with factory() as session:
        entries = audit.query(session=session)
        assert audit.verify(session=session).ok
    assert [e.subject for e in entries] == ["s", "s0", "s1", "s2", "s3"]
    assert entries[1].data == {"i": 0} and entries[1].run_id == "r0"
    assert _count(factory, AuditPending) == 0
    factory.kw["bind"].dispose()


def test_concurrent_writers_and_appenders_chain_every_entry_once(pg_url: str) -> None:
    factory = _factory(pg_url)
    appenders = [ChainAppender(session_factory=factory, poll_seconds=0.05, batch_size=7)
                 for _ in range(3)]
    for appender in appenders:
        appender.start()

    def write(worker: int) -> None:
        for n in range(20):
            with factory() as session:
                audit.enqueue(session=session, entries=[_entry(worker * 100 + n)] * 2)
                session.commit()
            appenders[n % 3].nudge()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 20
    while _count(factory, AuditPending) and time.monotonic() < deadline:
        time.sleep(0.05)
    for appender in appenders:
        appender.close()
    assert (_count(factory, AuditEntry), _count(factory, AuditPending)) == (240, 0)
    with factory() as session:
        result = audit.verify(session=session)
    assert result.ok and result.checked == 240, result
    factory.kw["bind"].dispose()


def test_appender_drains_on_sqlite_too(sqlite_url: str) -> None:
    factory = _factory(sqlite_url)
    with factory() as session:
        audit.enqueue(session=session, entries=[_entry(i) for i in range(5)])
        session.commit()
    assert ChainAppender(session_factory=factory, batch_size=2).drain() == 5
    with factory() as session:
        assert audit.verify(session=session).checked == 5
    factory.kw["bind"].dispose()


def test_audit_api_sees_entries_not_yet_chained(pg_url: str) -> None:
    from tests.rules_service.test_events_support import event, harness

    h = harness(pg_url)
    from rules_service.audit.router import router as audit_router

    h.app.include_router(audit_router)  # no appender runs in this bare app
    with h.client:
        answer = h.post_event(event("e1", "order.placed", "2026-11-19T00:00:00Z",
                                    order={"id": "o-1"}))
        assert answer.status_code == 200
        assert _count(h.factory, AuditPending) == 1
        listed = h.client.get("/v1/audit", params={"run_id": answer.json()["run_id"]},
                              headers=h.headers(h.auditor_key))
        verified = h.client.get("/v1/audit/verify", headers=h.headers(h.auditor_key))
    assert listed.status_code == 200 and len(listed.json()["entries"]) == 1
    assert verified.json()["ok"] and verified.json()["checked"] >= 1
    assert _count(h.factory, AuditPending) == 0
    h.factory.kw["bind"].dispose()
