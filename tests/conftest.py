"""Shared fixtures: a PostgreSQL database and a Redis key prefix of this test run's own.

Under CI=true a missing PostgreSQL or Redis fails the tests that need them; elsewhere they skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

PG_ADMIN_URL = os.environ.get("RUNBOOK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("RUNBOOK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = uuid.uuid4().hex[:10]


def _unavailable(what: str, error: Exception) -> None:
    message = f"{what} is not reachable: {error}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def _pg_admin_connect():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session")
def pg_server() -> str:
    try:
        with _pg_admin_connect() as conn:
            conn.execute("select 1")
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
        _unavailable("PostgreSQL", error)
    return PG_ADMIN_URL


def _create_database(name: str) -> str:
    with _pg_admin_connect() as conn:
        conn.execute(f'create database "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def _drop_database(name: str) -> None:
    with _pg_admin_connect() as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"runbook_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    url = _create_database(name)
    try:
        yield url
    finally:
        _drop_database(name)


@pytest.fixture(scope="session")
def redis_server() -> str:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
        client.ping()
        client.close()
    except Exception as error:  # noqa: BLE001
        _unavailable("Redis", error)
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_server: str) -> Iterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards."""
    import redis

    prefix = f"runbook-test-{RUN_ID}-{uuid.uuid4().hex[:8]}"
    yield prefix
    client = redis.Redis.from_url(redis_server)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite:///{tmp_path / 'runbook.db'}"
