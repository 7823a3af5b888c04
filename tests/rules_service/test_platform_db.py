"""Database plumbing: URL resolution, engines, migrations on PostgreSQL and SQLite, several
processes migrating at once, and the models matching migration 0001."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from runbook.db import Base, make_engine, migrate, normalize_url, resolve_database_url
from runbook.settings import Settings

MY_TABLES = {"audit_log", "audit_head", "api_keys", "rulesets", "ruleset_versions",
             "ruleset_approvals", "ruleset_publications", "live_generation"}


def test_resolve_database_url() -> None:
    assert resolve_database_url(Settings(database_url="postgresql://u@h/db")) == \
        "postgresql+psycopg://u@h/db"
    assert resolve_database_url(Settings(database_url="postgres://u@h/db")) == \
        "postgresql+psycopg://u@h/db"
    assert resolve_database_url(Settings(database_url=None, sqlite_path="/tmp/x.db")) == \
        "sqlite:////tmp/x.db"
    assert normalize_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def test_sqlite_engine_uses_wal_and_foreign_keys(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 1000
    engine.dispose()


def _head(url: str) -> str:
    engine = make_engine(url)
    with engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    return str(version)


@pytest.mark.parametrize("backend", ["pg_url", "sqlite_url"])
def test_migrate_is_idempotent(backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(backend)
    migrate(url)
    first = _head(url)
    migrate(url)
    assert _head(url) == first
    engine = make_engine(url)
    assert MY_TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_processes_migrating_at_once_do_not_fail(pg_url: str) -> None:
    code = "import sys; from runbook.db import migrate; migrate(sys.argv[1])"
    processes = [subprocess.Popen([sys.executable, "-c", code, pg_url],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(3)]
    results = [p.communicate(timeout=60) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], results
    assert _head(pg_url)


def test_models_match_migration_0001(pg_url: str) -> None:
    import rules_service.rulesets.models  # noqa: F401 - registers the tables
    import runbook.audit.models  # noqa: F401
    import runbook.auth.models  # noqa: F401

    migrate(pg_url)
    engine = make_engine(pg_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, Base.metadata) if _mine(d)]
    engine.dispose()
    assert differences == []


def _mine(difference: object) -> bool:
    """Whether an autogenerate difference concerns one of this change's tables."""
    item = difference[0] if isinstance(difference, list) else difference
    for part in item:  # type: ignore[union-attr]
        table = part if hasattr(part, "columns") and hasattr(part, "schema") else None
        table = table if table is not None else getattr(part, "table", None)
        if getattr(table, "name", None) in MY_TABLES or part in MY_TABLES:
            return True
    return False


def test_timestamps_come_back_aware_in_utc(sqlite_url: str) -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from runbook import audit
    from runbook.db import make_session_factory

    migrate(sqlite_url)
    factory = make_session_factory(make_engine(sqlite_url))
    tokyo = datetime(2026, 11, 20, 10, 0, tzinfo=timezone(timedelta(hours=9)))
    with factory.begin() as session:
        audit.append(session=session, actor="a", kind="k", subject="s", data={}, at=tokyo)
    with factory() as session:
        entry = audit.query(session=session)[0]
        assert entry.at == tokyo and entry.at.tzinfo is not None
        assert entry.at.astimezone(UTC).hour == 1
        assert audit.verify(session=session).ok


def test_after_commit_runs_on_commit_only(sqlite_url: str) -> None:
    from runbook.db import after_commit, make_session_factory

    factory = make_session_factory(make_engine(sqlite_url))
    ran: list[str] = []
    with factory() as session:
        session.execute(text("SELECT 1"))
        after_commit(session, lambda: ran.append("rolled back"))
        session.rollback()
        session.execute(text("SELECT 1"))
        after_commit(session, lambda: ran.append("committed"))
        after_commit(session, lambda: 1 / 0)  # logged, not raised
        session.commit()
        session.commit()
    assert ran == ["committed"]


def test_main_parses_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    import rules_service.__main__ as entry

    seen: dict[str, object] = {}
    monkeypatch.setenv("RUNBOOK_PORT", "8123")
    monkeypatch.setattr(entry.uvicorn, "run", lambda app, **kw: seen.update(kw))
    monkeypatch.setattr(entry, "create_app", lambda settings: settings)
    entry.main([])
    assert (seen["host"], seen["port"]) == ("127.0.0.1", 8123)
    entry.main(["--host", "0.0.0.0", "--port", "9000"])
    assert (seen["host"], seen["port"]) == ("0.0.0.0", 9000)
