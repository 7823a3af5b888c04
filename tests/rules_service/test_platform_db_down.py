"""PostgreSQL unreachable: every database-backed call answers 503 (auth included), the app
starts without it, and works once it is back; `runbook.audit.append_many` keeps the chain."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from runbook import audit
from runbook.db import make_engine, make_session_factory, migrate
from runbook.settings import Settings
from tests.rules_service.test_events_db_down import Proxy
from tests.rules_service.test_events_support import event, harness

ADMIN = "rb_test_admin_key_0123456789abcdef"


def _proxied(pg_url: str) -> tuple[Proxy, str]:
    parts = urlsplit(pg_url)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    proxy.start()
    return proxy, pg_url.replace(parts.netloc, f"{parts.username}@127.0.0.1:{proxy.port}")


def _until(check: Any, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        answer = check()
        if answer or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def test_key_lookup_with_the_database_down_answers_503(pg_url: str) -> None:
    proxy, url = _proxied(pg_url)
    h = harness(url)
    with h.client:
        proxy.stop()  # no request made yet: the key is not cached, auth must query
        down = h.post_event(event("e1", "order.placed", "2026-11-19T00:00:00Z"))
        assert down.status_code == 503, down.text
        assert down.json()["code"] == "unavailable" and "message" in down.json()
        proxy.start()
        assert h.post_event(event("e1", "order.placed", "2026-11-19T00:00:00Z")).status_code == 200
    h.factory.kw["bind"].dispose()
    proxy.stop()


def test_the_app_starts_without_the_database_and_serves_once_it_is_back(pg_url: str) -> None:
    from rules_service.app import create_app

    proxy, url = _proxied(pg_url)
    proxy.stop()
    settings = Settings(database_url=url, bootstrap_admin_key=ADMIN, redis_url=None,
                        outbox_poll_seconds=0.2)
    headers = {"Authorization": f"Bearer {ADMIN}"}
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["database"] != "ok"
        down = client.get("/v1/rulesets", headers=headers)
        assert down.status_code == 503 and down.json()["code"] == "unavailable"
        posted = client.post("/v1/events", headers=headers,
                             json=event("e1", "order.placed", "2026-11-19T00:00:00Z"))
        assert posted.status_code == 503 and posted.json()["code"] == "unavailable"
        proxy.start()
        assert _until(lambda: client.get("/readyz").status_code == 200)
        assert client.get("/v1/rulesets", headers=headers).status_code == 200
        first = client.post("/v1/events", headers=headers,
                            json=event("e1", "order.placed", "2026-11-19T00:00:00Z"))
        assert first.status_code == 200, first.text
        verify = client.get("/v1/audit/verify", headers=headers)
        assert verify.status_code == 200 and verify.json()["ok"]
    proxy.stop()


def test_append_many_continues_the_chain_append_wrote(pg_url: str) -> None:
    migrate(pg_url)
    engine = make_engine(pg_url)
    factory = make_session_factory(engine)
    with factory() as session:
        audit.append(session=session, actor="a", kind="k.one", subject="s")
        audit.append_many(session=session, entries=[])
        audit.append_many(session=session, entries=[
            {"actor": "a", "kind": "k.many", "subject": f"s{i}", "data": {"i": i},
             "run_id": f"r{i}", "order_id": "o"} for i in range(5)
        ])
        audit.append(session=session, actor="a", kind="k.last", subject="s")
        session.commit()
    with factory() as session:
        result = audit.verify(session=session)
        kinds = [e.kind for e in audit.query(session=session)]
    assert result.ok and result.checked == 7, result
    assert kinds == ["k.one", *["k.many"] * 5, "k.last"]
    engine.dispose()


def test_append_many_refuses_unknown_fields(pg_url: str) -> None:
    import pytest

    migrate(pg_url)
    engine = make_engine(pg_url)
    with make_session_factory(engine)() as session, pytest.raises(TypeError):
        audit.append_many(session=session, entries=[{"actor": "a", "kind": "k", "subject": "s",
                                                      "colour": "red"}])
    engine.dispose()
