"""Crash test: N commands through worker subprocesses killed with SIGKILL at random moments
and restarted, with the Redis server restarted once: every action is performed exactly once
(as the fakes count effects), none is lost, and the audit log is complete and verifies.

N = RUNBOOK_CRASH_N (default 300); the `slow` variant runs 1,000 when RUNBOOK_CRASH_SLOW=1.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from action_service.actions.models import Action, ActionAttempt, Status
from runbook import audit
from runbook.audit import AuditEntry
from runbook.db import session_scope
from tests.fakes.environment import Fakes, fake_env
from tests.fakes.fixtures import command

from .chaos import Producer, ThrowawayRedis, Workers
from .helpers import FAST

KINDS = ("webhook", "create_ticket", "send_campaign", "post_slack")


def make_commands(fakes: Fakes, n: int) -> list[dict]:
    commands = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        data = {"customer": {"id": f"c{i}", "email": f"c{i}@x.test"}, "order": {"id": str(i)}}
        params = {
            "webhook": {"url": fakes["webhook"].url + "/hook", "body": {"i": i}},
            "create_ticket": {"subject": f"case {i}"},
            "send_campaign": {"campaign": "winback"},
            "post_slack": {"channel": "#ops", "text": f"crash-{uuid.uuid4().hex}"},
        }[kind]
        commands.append(command(kind, params, index=i % 3, data=data))
    return commands


def effect_count(fakes: Fakes, cmd: dict) -> int:
    key = cmd["idempotency_key"]
    action = cmd["action"]
    if action == "webhook":
        return fakes.system("webhook").effects[f"hook:{key}"]
    if action == "create_ticket":
        return fakes.system("zendesk").effects[f"ticket:{key}"]
    if action == "send_campaign":
        return fakes.system("klaviyo").effects[f"event:{key}"]
    return fakes.system("slack").effects[f"message:#ops:{cmd['params']['text']}"]


def run_chaos(fakes: Fakes, db, pg_url: str, tmp_path: Path, n: int) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(int(os.environ.get("RUNBOOK_CRASH_SEED", "7")))
    server = ThrowawayRedis(tmp_path).start()
    prefix = f"crash-{uuid.uuid4().hex[:8]}"
    env = fake_env(fakes, database_url=pg_url, redis_url=server.url, redis_prefix=prefix,
                   **{**FAST, "action_lease_seconds": 3.0, "action_max_attempts": 10,
                      "log_level": "WARNING"})
    workers = Workers(env, tmp_path)
    commands = make_commands(fakes, n)
    producer = Producer(server.url, f"{prefix}:actions", commands,
                        pause=max(0.01, 6.0 / max(n / 20, 1)))
    try:
        workers.spawn()
        workers.spawn()
        producer.start()
        chaos_until = time.monotonic() + 8.0
        restarted_redis = False
        while time.monotonic() < chaos_until or producer.is_alive():
            time.sleep(rng.uniform(0.4, 1.2))
            workers.kill_one(rng)
            workers.spawn()
            if not restarted_redis and time.monotonic() > chaos_until - 5.0:
                server.restart()
                restarted_redis = True
        assert restarted_redis and workers.kills >= 5
        wait_until_final(db, n, timeout=90)
    finally:
        workers.stop_all()
        server.kill()
    check_outcome(fakes, db, commands)


def wait_until_final(db, n: int, timeout: float) -> None:  # type: ignore[no-untyped-def]
    final = (Status.SUCCEEDED.value, Status.DEAD.value)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db() as session:
            done = session.scalar(select(func.count()).where(Action.status.in_(final)))
        if done == n:
            return
        time.sleep(0.25)
    raise AssertionError(f"only {done} of {n} actions finished")


def check_outcome(fakes: Fakes, db, commands: list[dict]) -> None:  # type: ignore[no-untyped-def]
    with session_scope(db) as session:
        rows = {a.id: a for a in session.scalars(select(Action))}
        assert len(rows) == len(commands), "a command was lost"
        statuses = Counter(a.status for a in rows.values())
        for cmd in commands:
            row = rows[cmd["command_id"]]
            effects = effect_count(fakes, cmd)
            if cmd["action"] == "post_slack":
                # no idempotency key: never twice; a call cut by a crash is dead-lettered
                assert effects <= 1, cmd
                assert row.status == Status.SUCCEEDED or "outcome unknown" in row.last_error
                if row.status == Status.SUCCEEDED:
                    assert effects == 1, cmd
            else:
                assert row.status == Status.SUCCEEDED, (row.status, row.last_error)
                assert effects == 1, (cmd["action"], effects)
        entries = list(session.scalars(select(AuditEntry).where(
            AuditEntry.kind.in_(("action.attempt", "action.succeeded", "action.dead")))))
        finals = Counter(e.action_id for e in entries if e.kind != "action.attempt")
        assert all(finals[i] == 1 for i in rows), "every action has exactly one final entry"
        per_attempt = [e for e in entries if not e.data.get("unknown_outcome")]
        attempts = session.scalar(select(func.count()).select_from(ActionAttempt))
        assert attempts == len(per_attempt) >= statuses[Status.SUCCEEDED]
        assert audit.verify(session=session).ok
    print(f"crash test: {dict(statuses)}")


@pytest.mark.slow
def test_crash_exactly_once(fakes, db, pg_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """1,000 commands, workers SIGKILLed at random moments and restarted, Redis restarted once."""
    run_chaos(fakes, db, pg_url, tmp_path, int(os.environ.get("RUNBOOK_CRASH_N", "1000")))
