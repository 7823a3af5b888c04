"""The audit log: hash chain, verification naming the tampered, deleted or reordered entry,
concurrent appenders never forking the chain, joining the caller's transaction, HTTP."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from runbook import audit
from runbook.db import make_engine, make_session_factory, migrate
from tests.rules_service.test_platform_support import running_app, settings_for

Factory = Callable[[], Session]


@pytest.fixture(params=["postgresql", "sqlite"])
def factory(request: pytest.FixtureRequest) -> Factory:
    url = request.getfixturevalue("pg_url" if request.param == "postgresql" else "sqlite_url")
    migrate(url)
    engine = make_engine(url)
    request.addfinalizer(engine.dispose)
    return make_session_factory(engine)


def _fill(factory: Factory, count: int) -> None:
    with factory.begin() as session:  # type: ignore[attr-defined]
        for i in range(count):
            audit.append(session=session, actor="ops", kind="test.entry", subject=f"s{i}",
                         data={"i": i, "amount": 1.5, "big": 1e16, "when": datetime.now(UTC),
                               "price": Decimal("10.10"), "tags": {"b", "a"}},
                         ruleset="returns", version=1, order_id=f"o{i % 2}")


def _verify(factory: Factory) -> audit.VerifyResult:
    with factory() as session:
        return audit.verify(session=session)


def _sql(factory: Factory, statement: str) -> None:
    with factory.begin() as session:  # type: ignore[attr-defined]
        session.execute(text(statement))


def test_chain_verifies(factory: Factory) -> None:
    _fill(factory, 5)
    result = _verify(factory)
    assert result.ok and result.checked == 5 and result.last_seq == 5
    with factory() as session:
        entries = audit.query(session=session, order_id="o1")
    assert [e.seq for e in entries] == [2, 4]
    assert entries[0].data["tags"] == ["a", "b"] and entries[0].data["price"] == "10.10"
    with factory() as session:
        chain = audit.query(session=session)
    assert chain[0].prev_hash == "0" * 64
    assert all(e.prev_hash == p.hash for p, e in zip(chain, chain[1:], strict=False))


def test_modified_entry_is_named(factory: Factory) -> None:
    _fill(factory, 5)
    _sql(factory, "UPDATE audit_log SET subject = 'tampered' WHERE seq = 3")
    result = _verify(factory)
    assert not result.ok and result.first_bad_seq == 3
    assert result.problems[0].kind == "modified"


def test_modified_data_is_named(factory: Factory) -> None:
    _fill(factory, 4)
    _sql(factory, """UPDATE audit_log SET data = '{"i": 99}' WHERE seq = 2""")
    result = _verify(factory)
    assert result.first_bad_seq == 2


def test_deleted_entry_is_named(factory: Factory) -> None:
    _fill(factory, 5)
    _sql(factory, "DELETE FROM audit_log WHERE seq = 2")
    result = _verify(factory)
    assert not result.ok and result.first_bad_seq == 2
    assert result.problems[0].kind == "missing"


def test_deleted_tail_is_found(factory: Factory) -> None:
    _fill(factory, 5)
    _sql(factory, "DELETE FROM audit_log WHERE seq >= 4")
    result = _verify(factory)
    assert not result.ok and result.first_bad_seq == 4
    assert result.problems[0].kind == "truncated"


def test_reordered_entries_are_named(factory: Factory) -> None:
    _fill(factory, 5)
    _sql(factory, "UPDATE audit_log SET seq = 100 WHERE seq = 2")
    _sql(factory, "UPDATE audit_log SET seq = 2 WHERE seq = 3")
    _sql(factory, "UPDATE audit_log SET seq = 3 WHERE seq = 100")
    result = _verify(factory)
    assert not result.ok and result.first_bad_seq == 2


def test_append_joins_the_callers_transaction(factory: Factory) -> None:
    _fill(factory, 1)
    with factory() as session:
        audit.append(session=session, actor="x", kind="k", subject="s", data={})
        session.rollback()
    with factory.begin() as session:  # type: ignore[attr-defined]
        entry = audit.append(session=session, actor="x", kind="k", subject="s", data={})
    assert entry.seq == 2
    assert _verify(factory).ok


def test_concurrent_appenders_never_fork_the_chain(factory: Factory) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(15):
                with factory.begin() as session:  # type: ignore[attr-defined]
                    audit.append(session=session, actor=f"w{n}", kind="k", subject=f"{n}-{i}",
                                 data={"i": i})
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    result = _verify(factory)
    assert result.ok and result.checked == 60 and result.last_seq == 60


def test_audit_http_filters_csv_and_verify(pg_url: str) -> None:
    with running_app(settings_for(pg_url)) as (client, keys):
        h = keys.headers("auditor")
        page = client.get("/v1/audit?kind=key.created", headers=h).json()
        assert [e["subject"] for e in page["entries"]][:1] and page["next_after"] is None
        assert all(e["kind"] == "key.created" for e in page["entries"])
        limited = client.get("/v1/audit?limit=2", headers=h).json()
        assert len(limited["entries"]) == 2 and limited["next_after"] == 2
        later = client.get(f"/v1/audit?after={limited['next_after']}", headers=h).json()
        assert later["entries"][0]["seq"] == 3
        since = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert client.get("/v1/audit", params={"since": since}, headers=h) \
            .json()["entries"] == []
        as_csv = client.get("/v1/audit", headers={**h, "Accept": "text/csv"})
        assert as_csv.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(as_csv.text)))
        assert rows[0]["seq"] == "1" and rows[0]["kind"] == "key.bootstrap"
        assert client.get("/v1/audit/verify", headers=h).json()["ok"] is True
        with client.app.state.session_factory.begin() as session:
            session.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"))
        verdict = client.get("/v1/audit/verify", headers=h).json()
        assert verdict["ok"] is False and verdict["first_bad_seq"] == 2
