"""POST /v1/events, /v1/events:batch and /v1/decide against real PostgreSQL (and SQLite)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from rules_service.events.models import StoredEvent
from rules_service.outbox.models import OutboxRow
from rules_service.runs.models import Run
from runbook import audit
from runbook.audit import AuditEntry, AuditPending
from tests.rules_service.test_events_support import Harness, event, harness


@pytest.fixture
def h(pg_url: str) -> Iterator[Harness]:
    hx = harness(pg_url)
    with hx.client:
        yield hx
    hx.factory.kw["bind"].dispose()


def _count(h: Harness, model: type) -> int:
    with h.factory() as session:
        return session.scalar(select(func.count()).select_from(model))


def cancel(eid: str, at: str, order: str, customer: str = "c-1") -> dict:
    return event(eid, "cancel.requested", at, order={"id": order}, customer={"id": customer})


def test_decides_captures_and_queues(h: Harness) -> None:
    h.post_event(event("d1", "shipment.delivered", "2026-11-01T00:00:00Z", order={"id": "o-1"}))
    body = event(
        "r1",
        "return.requested",
        "2026-11-20T10:00:00+09:00",
        order={"id": "o-1", "total": 12000},
        customer={"id": "c-1"},
        **{"return": {"reason": "damaged"}},
    )
    answer = h.post_event(body)
    assert answer.status_code == 200, answer.text
    decision = answer.json()
    assert decision["event_id"] == "r1" and decision["run_id"]
    [returns] = decision["decisions"]
    assert (returns["ruleset"], returns["version"]) == ("returns", 3)
    assert returns["outputs"] == {"outcome": "refund"}
    assert [a["action"] for a in returns["actions"]] == ["refund", "post_slack"]
    refund = returns["actions"][0]
    assert refund["id"] == f"{decision['run_id']}:0" and refund["status"] == "queued"
    assert refund["params"] == {"amount": 12000}
    assert returns["trace"] == [
        {"table": "return_policy", "row": "return_policy!6", "outputs": {"outcome": "refund"}}
    ]
    assert decision["enriched"]["delivery"]["days_since"] == 19
    assert _count(h, OutboxRow) == 2
    with h.factory() as session:  # enqueued with the run, chained by the appender (here: now)
        assert audit.flush_pending(session=session) >= 1
        entries = list(
            session.scalars(select(AuditEntry).where(AuditEntry.run_id == decision["run_id"]))
        )
    assert [(e.kind, e.ruleset, e.version, e.order_id) for e in entries] == [
        ("event.decided", "returns", 3, "o-1")
    ]
    assert entries[0].data["rows"] == ["return_policy!6"]


def test_same_event_twice_answers_the_first_decision_and_creates_nothing(h: Harness) -> None:
    body = cancel("c1", "2026-11-20T10:00:00Z", "o-1")
    first = h.post_event(body)
    second = h.post_event({**body, "data": {"changed": True}})
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert (_count(h, StoredEvent), _count(h, Run)) == (1, 1)


def test_concurrent_posts_of_one_event_make_one_run(h: Harness) -> None:
    body = event(
        "race", "return.requested", "2026-11-20T10:00:00Z", order={"id": "o-9", "total": 1}
    )
    answers: list = []
    barrier = threading.Barrier(8)

    def post() -> None:
        barrier.wait()
        answers.append(h.post_event(body))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["run_id"] for a in answers}) == 1
    assert (_count(h, Run), _count(h, OutboxRow)) == (1, 1)


def test_second_cancellation_in_30_days_sees_two_even_when_the_first_arrives_late(
    h: Harness,
) -> None:
    late = cancel("late", "2026-11-05T00:00:00Z", "o-1")
    later = cancel("later", "2026-11-20T00:00:00Z", "o-2")
    earlier_decided = h.post_event(cancel("first", "2026-11-25T00:00:00Z", "o-3")).json()
    assert earlier_decided["enriched"]["customer"]["cancellations_30d"] == 1
    h.post_event(late)  # arrives after an event that occurred later: counted from now on
    answer = h.post_event(later).json()
    assert answer["enriched"]["customer"]["cancellations_30d"] == 2
    [policy] = answer["decisions"]
    assert policy["outputs"] == {"outcome": "escalate"}
    assert policy["actions"][0]["action"] == "escalate"
    other = h.post_event(cancel("other", "2026-11-20T00:00:00Z", "o-7", customer="c-2")).json()
    assert other["enriched"]["customer"]["cancellations_30d"] == 1


def test_delivery_anchor_with_carrier_delay(h: Harness) -> None:
    order = {"id": "o-5", "total": 5000}
    h.post_event(
        event(
            "dl",
            "shipment.delivered",
            "2026-11-02T00:00:00Z",
            order=order,
            shipment={"delivered_at": "2026-10-20T12:00:00+09:00"},
        )
    )
    h.post_event(
        event(
            "dy",
            "shipment.delayed",
            "2026-10-15T00:00:00Z",
            order=order,
            shipment={"delay_days": 4},
        )
    )
    damaged = {"return": {"reason": "damaged"}}
    answer = h.post_event(
        event("r", "return.requested", "2026-11-22T10:00:00Z", order=order, **damaged)
    ).json()
    assert answer["enriched"]["delivery"] == {
        "delivered_at": "2026-10-20T03:00:00+00:00",
        "days_since": 33,
        "delay_days": 4,
    }
    assert answer["decisions"][0]["outputs"] == {"outcome": "refund"}  # 33 <= 30 + 4


def test_decision_error_is_recorded_not_raised(h: Harness) -> None:
    answer = h.post_event(event("u", "order.placed", "2026-11-20T00:00:00Z", order={"total": 50}))
    assert answer.status_code == 200
    [strict] = answer.json()["decisions"]
    assert strict["error"]["code"] == "decision_error" and strict["actions"] == []
    run = h.client.get(f"/v1/runs/{answer.json()['run_id']}", headers=h.headers(h.auditor_key))
    assert run.json()["error_count"] == 1


def test_invalid_event_and_auth(h: Harness) -> None:
    naive = event("n", "order.placed", "2026-11-20T00:00:00")
    assert h.post_event(naive).status_code == 422
    body = event("x", "order.placed", "2026-11-20T00:00:00Z")
    assert h.client.post("/v1/events", json=body).status_code == 401
    assert h.post_event(body, key=h.auditor_key).status_code == 403


def test_dry_run_stores_nothing_but_reads_history(h: Harness) -> None:
    h.post_event(cancel("first", "2026-11-01T00:00:00Z", "o-1"))
    before = [_count(h, m) for m in (StoredEvent, Run, OutboxRow, AuditEntry, AuditPending)]
    answer = h.client.post(
        "/v1/decide", json=cancel("dry", "2026-11-10T00:00:00Z", "o-2"), headers=h.headers()
    )
    assert answer.status_code == 200
    decision = answer.json()
    assert decision["run_id"] is None
    assert decision["enriched"]["customer"]["cancellations_30d"] == 2
    assert decision["decisions"][0]["actions"][0]["status"] == "not_queued"
    assert [_count(h, m) for m in (StoredEvent, Run, OutboxRow, AuditEntry, AuditPending)] == before


def test_batch_decides_each_event_with_its_own_result(h: Harness) -> None:
    h.post_event(cancel("seen", "2026-11-01T00:00:00Z", "o-0"))
    items = [
        cancel("b1", "2026-11-02T00:00:00Z", "o-1"),
        {"id": "bad", "type": "cancel.requested"},
        cancel("seen", "2026-11-01T00:00:00Z", "o-0"),
        cancel("b2", "2026-11-03T00:00:00Z", "o-2"),
        cancel("b1", "2026-11-02T00:00:00Z", "o-1"),
        42,
    ]
    answer = h.client.post("/v1/events:batch", json={"events": items}, headers=h.headers())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["accepted"], body["duplicates"], body["failed"]) == (2, 2, 2)
    results = body["results"]
    assert [r["status"] for r in results] == [200, 422, 200, 200, 200, 422]
    assert [r["duplicate"] for r in results] == [False, False, True, False, True, False]
    counts = [
        r["decision"]["enriched"]["customer"]["cancellations_30d"] for r in results if r["decision"]
    ]
    assert counts == [2, 1, 3, 2]  # batch members are each other's history
    assert results[4]["decision"] == results[0]["decision"]
    assert _count(h, Run) == 3
    plain = h.client.post("/v1/events:batch", json=items[:1], headers=h.headers())
    assert plain.json()["duplicates"] == 1
    with h.factory() as session:  # the batch's audit entries extend the chain correctly
        audit.flush_pending(session=session)
        assert audit.verify(session=session).ok
        decided = audit.query(session=session, kind="event.decided", limit=10)
    assert [e.run_id for e in decided][1:] == [results[i]["decision"]["run_id"] for i in (0, 3)]


def test_data_postgresql_cannot_store_is_a_422_that_writes_nothing(h: Harness) -> None:
    """JSON with NaN parses (Python's json accepts it) but PostgreSQL's json does not: the
    event's own post fails with a 4xx, the posts grouped with it are decided, and nothing of
    it is stored."""
    bad = (
        '{"id": "nan-1", "type": "order.placed", "occurred_at": "2026-11-01T00:00:00Z",'
        ' "data": {"order": {"id": "o-nan", "total": NaN}}}'
    )
    before = [_count(h, model) for model in (StoredEvent, Run, OutboxRow, AuditPending)]
    results: dict[str, int] = {}

    def post(name: str, send: object) -> None:
        results[name] = send().status_code  # type: ignore[operator]

    threads = [
        threading.Thread(target=post, args=("bad", lambda: h.client.post(
            "/v1/events", content=bad,
            headers={**h.headers(), "Content-Type": "application/json"}))),
        *(
            threading.Thread(target=post, args=(f"good{i}", lambda i=i: h.post_event(
                cancel(f"nan-ok-{i}", "2026-11-01T00:00:00Z", f"o-ok-{i}"))))
            for i in range(3)
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.pop("bad") == 422
    assert set(results.values()) == {200}
    after = [_count(h, model) for model in (StoredEvent, Run, OutboxRow, AuditPending)]
    assert after[0] == before[0] + 3 and after[1] == before[1] + 3
    with h.factory() as session:
        assert session.scalar(
            select(func.count()).select_from(StoredEvent).where(StoredEvent.event_id == "nan-1")
        ) == 0


def test_batch_cap(pg_url: str) -> None:
    hx = harness(pg_url, events_batch_max=2)
    with hx.client:
        items = [cancel(f"e{i}", "2026-11-02T00:00:00Z", f"o{i}") for i in range(3)]
        answer = hx.client.post("/v1/events:batch", json=items, headers=hx.headers())
    assert answer.status_code == 422


def test_sqlite_embedded_default(sqlite_url: str) -> None:
    hx = harness(sqlite_url)
    with hx.client:
        first = hx.post_event(cancel("s1", "2026-11-01T00:00:00+09:00", "o-1"))
        again = hx.post_event(cancel("s1", "2026-11-01T00:00:00+09:00", "o-1"))
        second = hx.post_event(cancel("s2", "2026-11-02T00:00:00+09:00", "o-2"))
    assert first.status_code == 200 and again.json() == first.json()
    assert second.json()["enriched"]["customer"]["cancellations_30d"] == 2
