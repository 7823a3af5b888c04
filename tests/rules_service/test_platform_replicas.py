"""Several replicas on one PostgreSQL and Redis: every replica follows a publish within a
second — through the Redis notification, and through polling when Redis is absent; two real
`python -m rules_service` processes started at once (both migrating)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest

from tests.conftest import REDIS_URL
from tests.rules_service.test_platform_support import (
    ADMIN_KEY,
    XLSX,
    publish,
    returns_workbook,
    running_app,
    settings_for,
    upload,
)


def _seen_within(check: Callable[[], bool], seconds: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if check():
            return time.monotonic() - start
        time.sleep(0.01)
    raise AssertionError(f"not seen within {seconds} s")


def _live_version(client) -> int | None:  # type: ignore[no-untyped-def]
    choices = client.app.state.registry.select(event_type="return.requested",
                                               routing_key="order-1")
    return choices[0].version if choices else None


def _subscribed(prefix: str, count: int) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    channel = f"{prefix}:versions"
    try:
        _seen_within(lambda: dict(client.pubsub_numsub(channel)).get(channel.encode(), 0)
                     >= count, 5.0)
    finally:
        client.close()


def test_publish_reaches_another_replica_through_redis(pg_url: str, redis_prefix: str) -> None:
    with ExitStack() as stack:
        a, keys = stack.enter_context(
            running_app(settings_for(pg_url, redis_prefix=redis_prefix)))
        # polling every 30 s: only the Redis notification can be fast enough
        b, _ = stack.enter_context(
            running_app(settings_for(pg_url, redis_prefix=redis_prefix, live_poll_seconds=30)))
        _subscribed(redis_prefix, 2)  # both listeners are on the channel
        upload(a, keys, "returns", returns_workbook(money=False))
        assert _live_version(b) is None
        assert publish(a, keys, "returns", 1, 100).status_code == 200
        _seen_within(lambda: _live_version(b) == 1, 1.0)
        upload(a, keys, "returns", returns_workbook(money=False, threshold=5))
        publish(a, keys, "returns", 2, 100)
        _seen_within(lambda: _live_version(b) == 2, 1.0)
        a.post("/v1/rulesets/returns/rollback", headers=keys.headers("ops"))
        _seen_within(lambda: _live_version(b) == 1, 1.0)


def test_every_change_is_announced_on_the_versions_channel(pg_url: str,
                                                          redis_prefix: str) -> None:
    import json

    import redis

    listener = redis.Redis.from_url(REDIS_URL).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(f"{redis_prefix}:versions")
    try:
        with running_app(settings_for(pg_url, redis_prefix=redis_prefix)) as (client, keys):
            upload(client, keys, "returns", returns_workbook())
            client.post("/v1/rulesets/returns/versions/1/approve", headers=keys.headers("approver"))
            publish(client, keys, "returns", 1, 100)
            publish(client, keys, "returns", 9, 100)  # refused: no message
        messages = []
        deadline = time.monotonic() + 2
        while len(messages) < 3 and time.monotonic() < deadline:
            message = listener.get_message(timeout=0.1)
            if message:
                messages.append(json.loads(message["data"]))
    finally:
        listener.close()
    assert [(m["action"], m["ruleset"], m["version"]) for m in messages] == [
        ("upload", "returns", 1), ("approve", "returns", 1), ("publish", "returns", 1)]
    assert messages[2]["percent"] == 100 and messages[2]["generation"] == 1


def test_publish_reaches_another_replica_by_polling(pg_url: str) -> None:
    with ExitStack() as stack:
        a, keys = stack.enter_context(running_app(settings_for(pg_url)))
        b, _ = stack.enter_context(running_app(settings_for(pg_url)))
        upload(a, keys, "returns", returns_workbook(money=False))
        publish(a, keys, "returns", 1, 100)
        _seen_within(lambda: _live_version(b) == 1, 1.0)
        live = b.get("/v1/live", headers=keys.headers("service")).json()
        assert live["rulesets"]["returns"] == {"current": 1, "percent": 100, "previous": None}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Server:
    """`python -m rules_service` on a free port (started again on another port when the
    one picked was taken meanwhile by another program)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.base = ""
        self.start()

    def start(self) -> None:
        port = _free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rules_service", "--port", str(port)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def wait_ready(self, attempts: int = 3) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                if "address already in use" in error.lower() and attempts > 1:
                    self.start()
                    return self.wait_ready(attempts - 1)
                raise AssertionError(f"rules_service exited: {error}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return None
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.base} not ready")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def two_processes(pg_url: str, redis_prefix: str) -> Iterator[list[str]]:
    env = {**os.environ, "RUNBOOK_DATABASE_URL": pg_url, "RUNBOOK_REDIS_URL": REDIS_URL,
           "RUNBOOK_REDIS_PREFIX": redis_prefix, "RUNBOOK_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
           "RUNBOOK_LOG_LEVEL": "WARNING", "RUNBOOK_LIVE_POLL_SECONDS": "30"}
    servers = [_Server(env), _Server(env)]  # started together: both migrate at once
    try:
        for server in servers:
            server.wait_ready()
        yield [server.base for server in servers]
    finally:
        for server in servers:
            server.stop()


def test_two_processes_start_together_and_follow_a_publish(two_processes: list[str]) -> None:
    a, b = two_processes
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(timeout=10) as http:
        put = http.put(f"{a}/v1/rulesets/returns", content=returns_workbook(money=False),
                       headers={**admin, "Content-Type": XLSX})
        assert put.status_code == 201, put.text
        assert http.post(f"{a}/v1/rulesets/returns/versions/1/publish", json={"percent": 30},
                         headers=admin).status_code == 200

        def b_serves() -> bool:
            live = http.get(f"{b}/v1/live", headers=admin).json()["rulesets"]
            return live.get("returns", {}).get("current") == 1

        _seen_within(b_serves, 1.0)
