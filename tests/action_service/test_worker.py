"""The stream worker against real PostgreSQL and Redis and the fakes: success, retries with
backoff, Retry-After, dead letters, delays across a restart, refunds over the maximum."""

from __future__ import annotations

import time
import uuid
from datetime import datetime

import redis

from action_service.actions.models import Status
from action_service.worker.stream import dead_stream_name
from runbook import audit
from runbook.db import session_scope
from tests.conftest import REDIS_URL
from tests.fakes.fixtures import command
from tests.fakes.server import Fault

from .helpers import (
    action,
    attempts_of,
    audit_kinds,
    running_worker,
    status_of,
    wait_for,
    worker_settings,
    xadd,
)


def hook(fakes, **params):  # type: ignore[no-untyped-def]
    return command("webhook", {"url": fakes["webhook"].url + "/hook", **params})


def test_commands_run_once_with_audit(fakes, db, pg_url, redis_prefix) -> None:
    settings = worker_settings(fakes, pg_url, redis_prefix)
    client = redis.Redis.from_url(REDIS_URL)
    commands = [hook(fakes, body={"n": i}) for i in range(20)]
    receiver = fakes.system("webhook")
    with running_worker(settings, db):
        xadd(client, redis_prefix, commands + commands[:5])  # five delivered twice
        for cmd in commands:
            wait_for(lambda c=cmd: status_of(db, c["command_id"]) == Status.SUCCEEDED)
    for cmd in commands:
        assert receiver.effects[f"hook:{cmd['idempotency_key']}"] == 1
        assert audit_kinds(db, cmd["command_id"]) == ["action.succeeded"]
    pending = client.xpending(f"{redis_prefix}:actions", "action-workers")
    assert pending["pending"] == 0  # every entry acknowledged
    with session_scope(db) as session:
        assert audit.verify(session=session).ok


def test_transient_failures_retry_then_succeed(fakes, db, pg_url, redis_prefix) -> None:
    settings = worker_settings(fakes, pg_url, redis_prefix)
    client = redis.Redis.from_url(REDIS_URL)
    receiver = fakes.system("webhook")
    path = f"/hook?t={uuid.uuid4().hex}"
    cmd = command("webhook", {"url": fakes["webhook"].url + path})
    receiver.inject(Fault(status=500, path="/hook", times=1))
    receiver.inject(Fault(kind="timeout", seconds=1.5, path="/hook", times=1))
    with running_worker(settings, db):
        xadd(client, redis_prefix, [cmd])
        wait_for(lambda: status_of(db, cmd["command_id"]) == Status.SUCCEEDED)
    attempts = attempts_of(db, cmd["command_id"])
    assert [a.outcome for a in attempts] == ["transient", "transient", "success"]
    assert attempts[0].status_code == 500 and "Timeout" in (attempts[1].error or "")
    assert receiver.effects[f"hook:{cmd['idempotency_key']}"] == 1


def test_retry_after_is_honored(fakes, db, pg_url, redis_prefix) -> None:
    settings = worker_settings(fakes, pg_url, redis_prefix)
    client = redis.Redis.from_url(REDIS_URL)
    receiver = fakes.system("webhook")
    cmd = hook(fakes)
    receiver.inject(Fault(status=429, retry_after=1.5, path="/hook"))
    with running_worker(settings, db):
        xadd(client, redis_prefix, [cmd])
        wait_for(lambda: status_of(db, cmd["command_id"]) == Status.SUCCEEDED)
    first, second = attempts_of(db, cmd["command_id"])
    assert first.status_code == 429
    waited = (second.started_at - first.started_at).total_seconds()
    assert waited >= 1.5  # not the 0.05 s backoff


def test_attempts_used_up_go_to_dead_letters(fakes, db, pg_url, redis_prefix) -> None:
    settings = worker_settings(fakes, pg_url, redis_prefix)
    client = redis.Redis.from_url(REDIS_URL)
    receiver = fakes.system("webhook")
    cmd = hook(fakes)
    receiver.inject(Fault(status=503, path="/hook", times=3))
    with running_worker(settings, db):
        xadd(client, redis_prefix, [cmd])
        wait_for(lambda: status_of(db, cmd["command_id"]) == Status.DEAD)
    assert len(attempts_of(db, cmd["command_id"])) == 3
    dead = client.xrange(dead_stream_name(redis_prefix))
    assert [e[1][b"action_id"].decode() for e in dead] == [cmd["command_id"]]
    assert audit_kinds(db, cmd["command_id"]) == ["action.attempt", "action.attempt",
                                                  "action.dead"]


def test_permanent_failure_is_dead_at_once(fakes, db, pg_url, redis_prefix) -> None:
    settings = worker_settings(fakes, pg_url, redis_prefix)
    client = redis.Redis.from_url(REDIS_URL)
    cmd = command("post_slack", {"channel": "#missing", "text": "x"})
    malformed = {"command_id": "x"}
    with running_worker(settings, db):
        xadd(client, redis_prefix, [cmd, malformed])
        wait_for(lambda: status_of(db, cmd["command_id"]) == Status.DEAD)
    assert len(attempts_of(db, cmd["command_id"])) == 1
    dead = client.xrange(dead_stream_name(redis_prefix))
    assert len(dead) == 2  # the malformed command and the dead action
    assert "channel_not_found" in (action(db, cmd["command_id"]).last_error or "")


def test_refund_over_maximum_never_reaches_the_fake(fakes, db, pg_url, redis_prefix) -> None:
    settings = worker_settings(fakes, pg_url, redis_prefix)
    client = redis.Redis.from_url(REDIS_URL)
    shopify = fakes.system("shopify")
    oid = str(uuid.uuid4().int % 10**9)
    shopify.add_order(oid, paid="100.00")
    over = command("refund", {"amount": 150}, data={"order": {"id": oid}})
    with running_worker(settings, db):
        xadd(client, redis_prefix, [over])
        wait_for(lambda: status_of(db, over["command_id"]) == Status.DEAD)
    assert shopify.effects[f"refund:{oid}"] == 0
    assert not [r for r in shopify.requests_to(f"/orders/{oid}/refunds.json")
                if r.method == "POST"]
    assert "refundable maximum" in (action(db, over["command_id"]).last_error or "")


def test_delays_survive_a_restart(fakes, db, pg_url, redis_prefix) -> None:
    settings = worker_settings(fakes, pg_url, redis_prefix)
    client = redis.Redis.from_url(REDIS_URL)
    receiver = fakes.system("webhook")
    cmd = command("webhook", {"url": fakes["webhook"].url + "/hook"}, delay=2.0)
    created = datetime.fromisoformat(cmd["created_at"])
    with running_worker(settings, db):
        xadd(client, redis_prefix, [cmd])
        wait_for(lambda: status_of(db, cmd["command_id"]) == Status.PENDING)
        time.sleep(0.3)
    assert client.xpending(f"{redis_prefix}:actions", "action-workers")["pending"] == 0
    assert receiver.effects[f"hook:{cmd['idempotency_key']}"] == 0
    time.sleep(0.5)  # nobody is running while it comes due
    with running_worker(settings, db):
        wait_for(lambda: status_of(db, cmd["command_id"]) == Status.SUCCEEDED)
    ran = attempts_of(db, cmd["command_id"])[0].started_at
    assert (ran - created).total_seconds() >= 2.0
    assert receiver.effects[f"hook:{cmd['idempotency_key']}"] == 1


def test_approvals_expire_while_running(fakes, db, pg_url, redis_prefix) -> None:
    settings = worker_settings(fakes, pg_url, redis_prefix, approval_expiry_seconds=0.5)
    client = redis.Redis.from_url(REDIS_URL)
    receiver = fakes.system("webhook")
    gated = command("webhook", {"url": fakes["webhook"].url + "/hook"}, approval="manager")
    with running_worker(settings, db):
        xadd(client, redis_prefix, [gated])
        wait_for(lambda: status_of(db, gated["command_id"]) == Status.EXPIRED)
    assert receiver.effects[f"hook:{gated['idempotency_key']}"] == 0
    assert audit_kinds(db, gated["command_id"]) == ["action.pending_approval", "action.expired"]


def test_bnpl_refund_reconciles_by_order(fakes, db, pg_url, redis_prefix) -> None:
    settings = worker_settings(fakes, pg_url, redis_prefix)
    client = redis.Redis.from_url(REDIS_URL)
    bnpl = fakes.system("bnpl")
    pid = f"pay_{uuid.uuid4().hex[:8]}"
    bnpl.add_payment(pid, 8000)
    order = {"id": f"o-{uuid.uuid4().hex[:6]}", "payment_gateway": "paidy", "payment_id": pid}
    refund = command("refund", {"reason": "damaged"}, data={"order": order})
    with running_worker(settings, db):
        xadd(client, redis_prefix, [refund, refund])
        wait_for(lambda: status_of(db, refund["command_id"]) == Status.SUCCEEDED)
    assert bnpl.effects[f"refund:{pid}"] == 1
    assert bnpl.payments[pid]["refunds"][0]["amount"] == 8000
    with session_scope(db) as session:
        entries = audit.query(session=session, order_id=order["id"])
        assert [e.kind for e in entries] == ["action.succeeded"]
        assert entries[0].data["system"] == "bnpl"
        assert entries[0].data["data"]["amount"] == "8000"


def test_acknowledged_entries_are_trimmed(fakes, db, pg_url, redis_prefix) -> None:
    settings = worker_settings(fakes, pg_url, redis_prefix)
    client = redis.Redis.from_url(REDIS_URL)
    commands = [hook(fakes) for _ in range(5)]
    with running_worker(settings, db) as worker:
        xadd(client, redis_prefix, commands)
        for cmd in commands:
            wait_for(lambda c=cmd: status_of(db, c["command_id"]) == Status.SUCCEEDED)
        wait_for(lambda: client.xpending(f"{redis_prefix}:actions",
                                         "action-workers")["pending"] == 0)
        assert worker.trim() == 5
    assert client.xlen(f"{redis_prefix}:actions") == 0
