"""Group commit of POST /v1/events (events.grouping), against real PostgreSQL.

Concurrent posts share transactions, yet each post gets the answer it would get alone: its own
run, a repeat is a duplicate of the first, one failing event fails only its own post.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from rules_service.events import intake
from rules_service.events.grouping import GroupCommit
from rules_service.events.schemas import Event, _has_nul, _has_nul_in
from rules_service.runs.models import Run
from runbook.errors import ServiceUnavailable
from tests.rules_service.test_events_support import (
    Harness,
    default_registry,
    event,
    harness,
    migrated_sessions,
)


@pytest.fixture
def h(pg_url: str) -> Iterator[Harness]:
    hx = harness(pg_url, intake_linger_ms=20.0)
    with hx.client:
        yield hx
    hx.factory.kw["bind"].dispose()


def _ret(eid: str, customer: str = "c-1") -> dict[str, Any]:
    return event(eid, "return.requested", "2026-11-20T00:00:00Z", order={"id": f"o-{eid}",
                 "total": 1200}, customer={"id": customer}, **{"return": {"reason": "damaged"}})


def _runs(h: Harness) -> int:
    with h.factory() as session:
        return int(session.scalar(select(func.count()).select_from(Run)) or 0)


def test_concurrent_posts_share_transactions_and_get_their_own_answers(h: Harness) -> None:
    bodies = [_ret(f"g{i}", customer=f"c-{i % 5}") for i in range(60)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(h.post_event, bodies))
    assert [a.status_code for a in answers] == [200] * 60
    assert [a.json()["event_id"] for a in answers] == [b["id"] for b in bodies]
    assert len({a.json()["run_id"] for a in answers}) == 60
    assert not any(a.headers.get("Idempotent-Replayed") for a in answers)
    assert _runs(h) == 60
    # each post got the decision its run recorded
    with h.factory() as session:
        runs = {r.event_id: r for r in session.scalars(select(Run))}
    for answer in answers:
        body = answer.json()
        assert runs[body["event_id"]].id == body["run_id"]
        assert runs[body["event_id"]].decisions == body["decisions"]


def test_the_same_event_posted_concurrently_is_decided_once(h: Harness) -> None:
    body = _ret("same")
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(h.post_event, [body] * 8))
    assert [a.status_code for a in answers] == [200] * 8
    assert len({a.json()["run_id"] for a in answers}) == 1
    replayed = [a for a in answers if a.headers.get("Idempotent-Replayed") == "true"]
    assert len(replayed) == 7
    assert _runs(h) == 1


def _group_commit(factory: Any, **overrides: Any) -> GroupCommit:
    options: dict[str, Any] = {
        "session_factory": factory,
        "registry": default_registry(),
        "on_commit": lambda: None,
        "writers": 1,
        "max_group": 64,
        "max_waiting": 1000,
        "linger_seconds": 0.0,
    }
    options.update(overrides)
    return GroupCommit(**options)


def test_a_failing_event_fails_alone_and_the_rest_of_its_group_commits(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory = migrated_sessions(pg_url)
    real_accept = intake.accept

    def accept(*, session: Any, events: Any, registry: Any, actor: str) -> Any:
        if any(e.id == "bad" for e in events):
            raise RuntimeError("this event breaks the transaction")
        return real_accept(session=session, events=events, registry=registry, actor=actor)

    monkeypatch.setattr(intake, "accept", accept)
    group = _group_commit(factory)
    ids = ["a", "b", "bad", "c", "d"]
    # queued before the writer starts, so that all five form one group
    answers = [group.enqueue(event=Event.model_validate(_ret(i)), actor="svc") for i in ids]
    group.start()
    try:
        for eid, answer in zip(ids, answers, strict=True):
            if eid == "bad":
                with pytest.raises(RuntimeError, match="breaks"):
                    answer.result(timeout=30)
            else:
                assert answer.result(timeout=30).decision.event_id == eid
    finally:
        group.close()
    with factory() as session:
        stored = sorted(session.scalars(select(Run.event_id)))
    assert stored == ["a", "b", "c", "d"]
    factory.kw["bind"].dispose()


def test_an_unreachable_database_fails_the_whole_group_with_503(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory = migrated_sessions(pg_url)
    calls = []

    def accept(**_: Any) -> Any:
        calls.append(1)
        raise ServiceUnavailable("the database is not reachable; retry later")

    monkeypatch.setattr(intake, "accept", accept)
    group = _group_commit(factory)
    answers = [group.enqueue(event=Event.model_validate(_ret(f"u{i}")), actor="svc")
               for i in range(4)]
    group.start()
    try:
        for answer in answers:
            with pytest.raises(ServiceUnavailable):
                answer.result(timeout=30)
    finally:
        group.close()
    assert len(calls) == 1  # not retried one by one: the database is the problem
    factory.kw["bind"].dispose()


def test_a_full_queue_and_a_closed_writer_answer_503(pg_url: str) -> None:
    factory = migrated_sessions(pg_url)
    group = _group_commit(factory, max_waiting=2)
    group.enqueue(event=Event.model_validate(_ret("q1")), actor="svc")
    group.enqueue(event=Event.model_validate(_ret("q2")), actor="svc")
    with pytest.raises(ServiceUnavailable, match="already waiting"):
        group.enqueue(event=Event.model_validate(_ret("q3")), actor="svc")
    group.start()
    group.close()  # decides what was queued before stopping
    with pytest.raises(ServiceUnavailable, match="shutting down"):
        group.enqueue(event=Event.model_validate(_ret("q4")), actor="svc")
    with factory() as session:
        assert sorted(session.scalars(select(Run.event_id))) == ["q1", "q2"]
    factory.kw["bind"].dispose()


def test_groups_form_under_load_and_a_lone_post_does_not_wait(pg_url: str) -> None:
    factory = migrated_sessions(pg_url)
    sizes: list[int] = []
    group = _group_commit(factory, linger_seconds=0.05)
    real_decide = group._decide

    def decide(pending: Any) -> None:
        sizes.append(len(pending))
        real_decide(pending)

    group._decide = decide  # type: ignore[method-assign]
    group.start()
    try:
        group.enqueue(event=Event.model_validate(_ret("lone")), actor="svc").result(timeout=30)
        assert sizes == [1]
        start = threading.Barrier(20)

        def post(i: int) -> str:
            start.wait()
            body = Event.model_validate(_ret(f"load{i}"))
            return group.enqueue(event=body, actor="svc").result(timeout=30).decision.event_id

        with ThreadPoolExecutor(20) as pool:
            decided = list(pool.map(post, range(20)))
    finally:
        group.close()
    assert decided == [f"load{i}" for i in range(20)]
    assert max(sizes[1:]) > 1
    factory.kw["bind"].dispose()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_the_fast_nul_check_agrees_with_the_exact_one(value: Any) -> None:
    assert _has_nul(value) == _has_nul_in(value)
    assert _has_nul({"text": "a\\u0000b"}) is False  # a literal backslash-u0000 is no NUL
    assert _has_nul(json.loads('{"x": ["\\u0000"]}')) is True
