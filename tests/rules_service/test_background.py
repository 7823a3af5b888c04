"""The relay and the audit appender out of the service process (RUNBOOK_BACKGROUND): a child
the service starts, supervises and stops, or `python -m rules_service.background` on its own.
Real PostgreSQL and Redis; the commands must reach the stream and the audit entries the chain
without anything in the service process waking them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from rules_service.app import create_app
from rules_service.background import child_environment
from rules_service.outbox.sinks import stream_name
from runbook.audit.models import AuditEntry, AuditPending
from runbook.db import make_engine, make_session_factory
from runbook.settings import Settings
from tests.rules_service.test_events_support import CANCEL_SHEET, event, xlsx

ADMIN = "rb_admin_background_key"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _wait_for(predicate: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _settings(pg_url: str, redis_url: str, prefix: str, background: str) -> Settings:
    return Settings(database_url=pg_url, redis_url=redis_url, redis_prefix=prefix,
                    bootstrap_admin_key=ADMIN, log_level="WARNING", background=background)


def _publish_and_post(client: TestClient) -> list[str]:
    """Publishes the cancellation policy and posts two cancellations of one customer: the
    second escalates (one command). Answers the run ids."""
    upload = client.put("/v1/rulesets/cancels", content=xlsx({"cancel_policy": CANCEL_SHEET}),
                        headers={**AUTH, "Content-Type": XLSX})
    assert upload.status_code == 201, upload.text
    published = client.post("/v1/rulesets/cancels/versions/1/publish", json={"percent": 100},
                            headers=AUTH)
    assert published.status_code == 200, published.text
    runs = []
    for eid, at in (("b1", "2026-11-01T00:00:00Z"), ("b2", "2026-11-10T00:00:00Z")):
        body = event(eid, "cancel.requested", at, order={"id": f"o-{eid}"}, customer={"id": "c"})
        answer = client.post("/v1/events", json=body, headers=AUTH)
        assert answer.status_code == 200, answer.text
        runs.append(answer.json()["run_id"])
    return runs


def _counts(pg_url: str) -> Callable[[], tuple[int, int]]:
    factory = make_session_factory(make_engine(pg_url))

    def counts() -> tuple[int, int]:
        with factory() as session:
            pending = session.scalar(select(func.count()).select_from(AuditPending))
            decided = session.scalar(select(func.count()).select_from(AuditEntry)
                                     .where(AuditEntry.kind == "event.decided"))
            return int(pending or 0), int(decided or 0)

    return counts


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped) counts as gone
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _relayed_and_chained(pg_url: str, redis_url: str, prefix: str) -> None:
    stream = redis.Redis.from_url(redis_url)
    try:
        assert _wait_for(lambda: stream.xlen(stream_name(prefix)) == 1), "command not relayed"
    finally:
        stream.close()
    counts = _counts(pg_url)
    assert _wait_for(lambda: counts() == (0, 2)), f"audit not chained: {counts()}"


def test_a_child_process_relays_and_chains_and_stops_with_the_service(
    pg_url: str, redis_server: str, redis_prefix: str
) -> None:
    settings = _settings(pg_url, redis_server, redis_prefix, "process")
    with TestClient(create_app(settings)) as client:
        state = client.app.state  # type: ignore[attr-defined]
        assert getattr(state, "outbox_relay", None) is None  # not in this process
        assert getattr(state, "audit_appender", None) is None
        pid = state.background.pid
        assert pid is not None and _alive(pid)
        _publish_and_post(client)
        _relayed_and_chained(pg_url, redis_server, redis_prefix)
        os.kill(pid, signal.SIGKILL)  # dies: the service starts another
        assert _wait_for(lambda: state.background.pid not in (None, pid), 10.0)
        replacement = state.background.pid
    assert _wait_for(lambda: not _alive(replacement), 5.0)


@contextmanager
def _standalone(settings: Settings, **popen: Any) -> Iterator[subprocess.Popen[bytes]]:
    child = subprocess.Popen([sys.executable, "-m", "rules_service.background", *popen.pop(
        "args", [])], env=child_environment(settings), **popen)
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()


def test_run_on_its_own_beside_a_service_that_runs_none(
    pg_url: str, redis_server: str, redis_prefix: str
) -> None:
    settings = _settings(pg_url, redis_server, redis_prefix, "none")
    with TestClient(create_app(settings)) as client:
        state = client.app.state  # type: ignore[attr-defined]
        assert getattr(state, "outbox_relay", None) is None
        assert getattr(state, "background", None) is None
        _publish_and_post(client)
        stream = redis.Redis.from_url(redis_server)
        time.sleep(0.5)
        assert stream.xlen(stream_name(redis_prefix)) == 0  # nobody relays yet
        stream.close()
        with _standalone(settings) as child:
            _relayed_and_chained(pg_url, redis_server, redis_prefix)
            child.send_signal(signal.SIGTERM)
            assert child.wait(10) == 0


def test_exits_when_the_service_that_started_it_is_gone(
    pg_url: str, redis_server: str, redis_prefix: str
) -> None:
    settings = _settings(pg_url, redis_server, redis_prefix, "none")
    with _standalone(settings, args=["--exit-with-parent"], stdin=subprocess.PIPE) as child:
        time.sleep(1.0)
        assert child.poll() is None
        assert child.stdin is not None
        child.stdin.close()  # what the service's death does to the pipe
        assert child.wait(10) == 0
