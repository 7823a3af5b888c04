"""The action_service FastAPI app (and, unless `worker=False`, the stream worker or the
embedded worker in the same process).

    app = create_app(settings, worker=True)
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI

from action_service.actions.router import router as actions_router
from action_service.ops.router import router as ops_router
from runbook import auth, http
from runbook.db import (
    make_engine,
    make_session_factory,
    migrate,
    resolve_database_url,
    session_scope,
)
from runbook.logging import configure_logging
from runbook.settings import Settings, get_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, worker: bool = True) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="Runbook action service", version="0.1.0",
                  description="Runs action commands through connectors, exactly once in effect.",
                  lifespan=http.lifespan(start, stop))
    app.state.settings = settings
    app.state.run_worker = worker
    http.install(app, settings)
    app.include_router(ops_router)
    app.include_router(actions_router)
    return app


def start(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    configure_logging(settings.log_level)
    url = resolve_database_url(settings)
    migrate(url)
    app.state.engine = make_engine(url, pool_size=settings.action_worker_threads + 8)
    app.state.session_factory = make_session_factory(app.state.engine)
    app.state.redis = redis_client(settings)
    if settings.bootstrap_admin_key:
        with session_scope(app.state.session_factory) as session:
            auth.upsert_bootstrap_admin(session=session, key=settings.bootstrap_admin_key)
    app.state.worker = start_worker(settings, app.state.session_factory, app.state.redis) \
        if app.state.run_worker else None
    log.info("action_service started", extra={"redis": bool(app.state.redis),
                                                "worker": app.state.run_worker})


def stop(app: FastAPI) -> None:
    for name in ("worker",):
        worker = getattr(app.state, name, None)
        if worker is not None:
            worker.stop() if hasattr(worker, "stop") else worker.close()
    client = getattr(app.state, "redis", None)
    if client is not None:
        client.close()
    engine = getattr(app.state, "engine", None)
    if engine is not None:
        engine.dispose()


def redis_client(settings: Settings) -> Any:
    if not settings.redis_url:
        return None
    import redis

    return redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2,
                                socket_timeout=10, health_check_interval=30)


def start_worker(settings: Settings, session_factory: Any, client: Any) -> Any:
    """The stream worker with Redis; without it the embedded worker (scheduler only: commands
    arrive through rules_service's relay in that process)."""
    if client is not None:
        from action_service.worker.stream import StreamWorker

        worker = StreamWorker(settings=settings, session_factory=session_factory,
                              redis_client=client)
        worker.start()
        return worker
    from action_service.embedded import EmbeddedWorker

    embedded = EmbeddedWorker(settings, session_factory)
    embedded.start()
    return embedded
