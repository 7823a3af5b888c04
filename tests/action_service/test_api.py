"""HTTP: list, one action with attempts, approve/reject (approver role), retry of dead
letters (ops), health, readiness, metrics; approvals gate the worker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from action_service.actions.models import Status
from action_service.app import create_app
from runbook import auth
from runbook.db import session_scope
from tests.conftest import REDIS_URL
from tests.fakes.fixtures import command
from tests.fakes.server import Fault

from .helpers import audit_kinds, status_of, wait_for, worker_settings, xadd


@pytest.fixture
def client(fakes, db, pg_url, redis_prefix) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    settings = worker_settings(fakes, pg_url, redis_prefix)
    with TestClient(create_app(settings, worker=True)) as test_client:
        yield test_client


def key(db, *roles: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with session_scope(db) as session:
        _, secret = auth.create_key(session=session, name=f"{'-'.join(roles)}-user",
                                    roles=list(roles), created_by="test")
    return {"Authorization": f"Bearer {secret}"}


def test_approval_gates_then_runs(client, fakes, db, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    receiver = fakes.system("webhook")
    gated = command("webhook", {"url": fakes["webhook"].url + "/hook"}, approval="manager")
    refused = command("webhook", {"url": fakes["webhook"].url + "/hook"}, approval="manager")
    xadd(redis.Redis.from_url(REDIS_URL), redis_prefix, [gated, refused])
    wait_for(lambda: status_of(db, refused["command_id"]) == Status.PENDING_APPROVAL)
    ops, approver = key(db, "ops"), key(db, "approver")
    listed = client.get("/v1/actions", params={"status": "pending_approval"}, headers=ops)
    assert listed.status_code == 200 and len(listed.json()["items"]) == 2
    assert receiver.effects[f"hook:{gated['idempotency_key']}"] == 0
    assert client.post(f"/v1/actions/{gated['command_id']}/approve", headers=ops).status_code \
        == 403
    assert client.post(f"/v1/actions/{gated['command_id']}/approve").status_code == 401
    answer = client.post(f"/v1/actions/{gated['command_id']}/approve", headers=approver,
                         json={"comment": "ok"})
    assert answer.status_code == 200 and answer.json()["decided_by"] == "approver-user"
    rejected = client.post(f"/v1/actions/{refused['command_id']}/reject", headers=approver)
    assert rejected.json()["status"] == "rejected"
    assert client.post(f"/v1/actions/{refused['command_id']}/approve",
                       headers=approver).status_code == 409
    wait_for(lambda: status_of(db, gated["command_id"]) == Status.SUCCEEDED)
    assert receiver.effects[f"hook:{gated['idempotency_key']}"] == 1
    assert receiver.effects[f"hook:{refused['idempotency_key']}"] == 0
    assert audit_kinds(db, gated["command_id"]) == [
        "action.pending_approval", "action.approved", "action.succeeded"]
    detail = client.get(f"/v1/actions/{gated['command_id']}", headers=ops).json()
    assert [a["outcome"] for a in detail["attempt_log"]] == ["success"]
    assert detail["attempt_log"][0]["requests"][0]["status"] == 200
    by_run = client.get("/v1/actions", params={"run_id": gated["run_id"]}, headers=ops).json()
    assert [a["id"] for a in by_run["items"]] == [gated["command_id"]]


def test_dead_letters_listed_and_retried(client, fakes, db, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    receiver = fakes.system("webhook")
    cmd = command("webhook", {"url": fakes["webhook"].url + "/hook"})
    receiver.inject(Fault(status=400, path="/hook"))
    xadd(redis.Redis.from_url(REDIS_URL), redis_prefix, [cmd])
    wait_for(lambda: status_of(db, cmd["command_id"]) == Status.DEAD)
    ops = key(db, "ops")
    dead = client.get("/v1/dead-letters", headers=ops).json()["items"]
    assert [d["id"] for d in dead] == [cmd["command_id"]]
    retried = client.post(f"/v1/dead-letters/{cmd['command_id']}/retry", headers=ops)
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    wait_for(lambda: status_of(db, cmd["command_id"]) == Status.SUCCEEDED)
    assert client.post(f"/v1/actions/{cmd['command_id']}/retry", headers=ops).status_code == 409
    assert client.get("/v1/actions/nope", headers=ops).status_code == 404


def test_health_ready_metrics(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["checks"] == {"database": "ok", "redis": "ok"}
    text: Any = client.get("/metrics").text
    for name in ("runbook_action_queue_depth", "runbook_actions{",
                 "runbook_action_due_lag_seconds", "runbook_action_attempts_total"):
        assert name in text
