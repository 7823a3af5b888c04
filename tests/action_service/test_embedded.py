"""The embedded default (no Redis): commands are recorded first, then run in-process."""

from __future__ import annotations

from runbook.db import make_engine, make_session_factory, migrate
from tests.fakes.environment import fake_settings
from tests.fakes.fixtures import command

from .helpers import FAST, audit_kinds, status_of, wait_for


def test_embedded_worker_on_sqlite(fakes, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    from action_service.embedded import EmbeddedWorker

    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    settings = fake_settings(fakes, database_url=sqlite_url, **FAST)
    receiver = fakes.system("webhook")
    now = command("webhook", {"url": fakes["webhook"].url + "/hook"})
    later = command("webhook", {"url": fakes["webhook"].url + "/hook"}, delay=0.5)
    worker = EmbeddedWorker(settings, factory)
    try:
        assert worker.deliver([now, later, now]) == [now["command_id"], later["command_id"]]
        assert status_of(factory, later["command_id"]) in ("pending", "in_progress",
                                                           "succeeded")
        wait_for(lambda: status_of(factory, now["command_id"]) == "succeeded")
        wait_for(lambda: status_of(factory, later["command_id"]) == "succeeded")
    finally:
        worker.close()
        engine.dispose()
    assert receiver.effects[f"hook:{now['idempotency_key']}"] == 1
    assert audit_kinds(factory, now["command_id"]) == ["action.succeeded"]
    assert audit_kinds(factory, later["command_id"]) == ["action.queued", "action.succeeded"]
