"""The outbox: written with the run, relayed to the Redis Stream, waiting while Redis is down."""

from __future__ import annotations

import json
import socket
import time

import pytest
import redis
from sqlalchemy import func, select

from rules_service.outbox.models import OutboxRow
from rules_service.outbox.relay import Relay
from rules_service.outbox.sinks import EmbeddedSink, RedisSink, stream_name
from runbook.settings import Settings
from tests.rules_service.test_events_support import (
    accept,
    default_registry,
    event,
    migrated_sessions,
)

DAMAGED = dict(
    order={"id": "o-1", "total": 12000},
    customer={"id": "c-1"},
    **{"return": {"reason": "damaged"}},
)


def _delivered(order: str) -> dict:  # type: ignore[type-arg]
    return event(f"dl-{order}", "shipment.delivered", "2026-11-18T10:00:00Z", order={"id": order})


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pending(factory) -> int:  # type: ignore[no-untyped-def]
    with factory() as session:
        return session.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.relayed_at.is_(None))
        )


@pytest.fixture
def factory(pg_url: str):  # type: ignore[no-untyped-def]
    factory = migrated_sessions(pg_url)
    yield factory
    factory.kw["bind"].dispose()


def test_commands_are_written_with_the_run_and_relayed(factory, redis_server, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    _, accepted = accept(
        factory,
        default_registry(),
        _delivered("o-1"),
        event("e1", "return.requested", "2026-11-20T10:00:00+09:00", **DAMAGED),
    )
    run_id = accepted.decision.run_id
    assert _pending(factory) == 2
    relay = Relay(session_factory=factory, sink=RedisSink(redis_server, prefix=redis_prefix))
    assert relay.drain() == 2
    assert _pending(factory) == 0
    entries = redis.Redis.from_url(redis_server).xrange(stream_name(redis_prefix))
    commands = [json.loads(fields[b"command"]) for _, fields in entries]
    assert [c["command_id"] for c in commands] == [f"{run_id}:0", f"{run_id}:1"]
    refund = commands[0]
    assert refund["action"] == "refund" and refund["params"] == {"amount": 12000}
    assert refund["idempotency_key"] == refund["command_id"]
    assert (refund["ruleset"], refund["version"], refund["row"]) == (
        "returns",
        3,
        "return_policy!6",
    )
    assert refund["order_id"] == "o-1" and refund["customer_id"] == "c-1"
    assert refund["data"]["order"]["total"] == 12000
    assert relay.drain() == 0  # relayed once


def test_redis_down_commands_wait_and_go_when_it_is_back(
    factory, redis_server, redis_prefix
) -> None:  # type: ignore[no-untyped-def]
    accept(
        factory,
        default_registry(),
        _delivered("o-1"),
        event("e1", "return.requested", "2026-11-20T10:00:00+09:00", **DAMAGED),
    )
    down = Relay(
        session_factory=factory,
        sink=RedisSink(f"redis://127.0.0.1:{_closed_port()}/0", prefix=redis_prefix, timeout=0.5),
        poll_seconds=0.05,
        backoff_base_seconds=0.05,
        backoff_max_seconds=0.2,
    )
    with pytest.raises(redis.ConnectionError):
        down.relay_once()
    down.start()  # the thread keeps retrying with backoff, never losing the rows
    time.sleep(0.5)
    down.stop()
    assert down.failures >= 2 and _pending(factory) == 2
    with factory() as session:
        waiting = list(session.scalars(select(OutboxRow)))
    assert all(row.attempts >= 3 and "Connection" in (row.last_error or "") for row in waiting)
    back = Relay(
        session_factory=factory,
        sink=RedisSink(redis_server, prefix=redis_prefix),
        poll_seconds=0.05,
    )
    back.start()
    try:
        deadline = time.monotonic() + 5
        while _pending(factory) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        back.stop()
    assert _pending(factory) == 0
    assert redis.Redis.from_url(redis_server).xlen(stream_name(redis_prefix)) == 2


def test_nudge_relays_right_after_commit(factory, redis_server, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    relay = Relay(
        session_factory=factory, sink=RedisSink(redis_server, prefix=redis_prefix), poll_seconds=30
    )
    relay.start()
    try:
        time.sleep(0.1)  # the first drain (nothing) is done; the next poll is 30 s away
        accept(
            factory,
            default_registry(),
            _delivered("o-1"),
            event("e1", "return.requested", "2026-11-20T10:00:00+09:00", **DAMAGED),
        )
        started = time.monotonic()
        relay.nudge()
        while _pending(factory) and time.monotonic() - started < 2:
            time.sleep(0.005)
        assert _pending(factory) == 0 and time.monotonic() - started < 1
    finally:
        relay.stop()


def test_two_relays_share_rows_without_sending_one_twice(
    factory, redis_server, redis_prefix
) -> None:  # type: ignore[no-untyped-def]
    registry = default_registry()
    for i in range(40):
        data = {**DAMAGED, "order": {"id": f"o-{i}", "total": 100}}
        accept(
            factory,
            registry,
            _delivered(f"o-{i}"),
            event(f"e{i}", "return.requested", "2026-11-20T10:00:00Z", **data),
        )
    relays = [
        Relay(
            session_factory=factory,
            sink=RedisSink(redis_server, prefix=redis_prefix),
            batch_size=7,
            poll_seconds=0.01,
        )
        for _ in range(3)
    ]
    for relay in relays:
        relay.start()
    try:
        deadline = time.monotonic() + 10
        while _pending(factory) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        for relay in relays:
            relay.stop()
    entries = redis.Redis.from_url(redis_server).xrange(stream_name(redis_prefix))
    ids = [json.loads(fields[b"command"])["command_id"] for _, fields in entries]
    assert len(ids) == 80 and len(set(ids)) == 80


def test_embedded_sink_hands_commands_to_the_in_process_worker(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys
    import types

    delivered: list[list[dict]] = []

    class Worker:
        def __init__(self, settings: object, session_factory: object) -> None:
            self.started = False

        def start(self) -> None:
            self.started = True

        def deliver(self, commands: list[dict]) -> None:
            assert self.started
            delivered.append(commands)

    module = types.ModuleType("action_service.embedded")
    module.EmbeddedWorker = Worker  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "action_service.embedded", module)
    sink = EmbeddedSink(settings=Settings(), session_factory=lambda: None)  # type: ignore[arg-type]
    sink.send(['{"command_id": "r:0"}'])
    assert delivered == [[{"command_id": "r:0"}]]


def test_app_lifecycle_embedded_default(factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Without RUNBOOK_REDIS_URL, start_relay hands commands to the in-process worker."""
    import sys
    import types

    from rules_service.outbox import nudge, start_relay, stop_relay

    delivered: list[str] = []

    class Worker:
        def __init__(self, settings: object, session_factory: object) -> None:
            pass

        def start(self) -> None:
            pass

        def deliver(self, commands: list[dict]) -> None:
            delivered.extend(c["command_id"] for c in commands)

    module = types.ModuleType("action_service.embedded")
    module.EmbeddedWorker = Worker  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "action_service.embedded", module)
    app = types.SimpleNamespace(state=types.SimpleNamespace())
    relay = start_relay(app, settings=Settings(redis_url=None), session_factory=factory)
    try:
        assert start_relay(app) is relay  # once per app
        _, accepted = accept(
            factory,
            default_registry(),
            _delivered("o-1"),
            event("e1", "return.requested", "2026-11-20T10:00:00+09:00", **DAMAGED),
        )
        nudge(app)
        deadline = time.monotonic() + 5
        while len(delivered) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop_relay(app)
    run_id = accepted.decision.run_id
    assert delivered == [f"{run_id}:0", f"{run_id}:1"] and _pending(factory) == 0
