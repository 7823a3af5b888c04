"""The rules_service FastAPI app.

    app = create_app(settings)

On start (lifespan): JSON logging, database migrations, the bootstrap admin key, Redis (when
configured), the live registry and its version-change listener, the outbox relay. Shared
objects live on `app.state` (`settings`, `engine`, `session_factory`, `redis`, `registry`,
`version_notifier`) and reach routers through `rules_service.deps`.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import APIRouter, FastAPI
from sqlalchemy.exc import InterfaceError, OperationalError

from rules_service.audit.router import router as audit_router
from rules_service.background import ChildProcess, make_appender
from rules_service.events.grouping import start_group_commit, stop_group_commit
from rules_service.events.router import router as events_router
from rules_service.keys.router import router as keys_router
from rules_service.ops.router import router as ops_router
from rules_service.rulesets.notify import VersionNotifier
from rules_service.rulesets.registry import LiveRegistry, versions_channel
from rules_service.rulesets.router import router as rulesets_router
from rules_service.runs.router import router as runs_router
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
START_RETRY_MIN_SECONDS = 0.5
START_RETRY_MAX_SECONDS = 5.0

# Every package's `router: APIRouter`, included in this order (events includes webhooks);
# events first: routes are matched in order, and POST /v1/events is the hot path.
ROUTERS: tuple[APIRouter, ...] = (
    events_router,
    ops_router,
    keys_router,
    rulesets_router,
    runs_router,
    audit_router,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Runbook rules service",
        version="0.1.0",
        description="Decision tables in a spreadsheet, run as a rules service.",
        lifespan=http.lifespan(start, stop),
    )
    app.state.settings = settings
    http.install(app, settings)
    for router in ROUTERS:
        app.include_router(router)
    return app


def start(app: FastAPI) -> None:
    """Everything the routers need, in order; `stop` undoes it.

    The engine (lazy: it connects on first use) is made at once. When the database cannot be
    reached, migrations and what needs the database (bootstrap key, registry, relay) are
    retried by a background thread: `/healthz` answers meanwhile, `/readyz` and every
    database-backed call answer 503 until the database is reachable and migrated."""
    settings: Settings = app.state.settings
    configure_logging(settings.log_level)
    url = resolve_database_url(settings)
    app.state.database_ready = False
    app.state.engine = make_engine(url)
    app.state.session_factory = make_session_factory(app.state.engine)
    app.state.redis = _redis(settings)
    app.state.startup_stop = threading.Event()
    try:
        _start_database_parts(app, url)
    except (OperationalError, InterfaceError) as error:
        log.warning("database not reachable at start, retrying in the background: %s", error)
        thread = threading.Thread(target=_retry_start, args=(app, url), daemon=True,
                                  name="rules-service-start")
        app.state.startup_thread = thread
        thread.start()


def _start_database_parts(app: FastAPI, url: str) -> None:
    settings: Settings = app.state.settings
    migrate(url)
    _bootstrap_admin(app, settings)
    previous = getattr(app.state, "registry", None)
    if previous is not None:  # a start attempt that failed half-way
        previous.close()
    registry = LiveRegistry(session_factory=app.state.session_factory, redis=app.state.redis,
                            channel=versions_channel(settings.redis_prefix),
                            poll_seconds=settings.live_poll_seconds)
    registry.start()
    app.state.registry = registry
    app.state.version_notifier = VersionNotifier(
        registry=registry, redis=app.state.redis, channel=versions_channel(settings.redis_prefix)
    )
    _start_background(app)
    start_group_commit(app)
    app.state.database_ready = True
    log.info("rules_service started", extra={"database": _safe_url(url),
                                               "redis": bool(app.state.redis)})


def _retry_start(app: FastAPI, url: str) -> None:
    stopping: threading.Event = app.state.startup_stop
    delay = START_RETRY_MIN_SECONDS
    while not stopping.wait(delay):
        try:
            _start_database_parts(app, url)
            return
        except (OperationalError, InterfaceError) as error:
            log.warning("database still not reachable: %s", error)
            delay = min(delay * 2, START_RETRY_MAX_SECONDS)
        except Exception:  # noqa: BLE001 - keep trying; a broken migration shows in the log
            log.exception("starting against the database failed")
            delay = START_RETRY_MAX_SECONDS


def stop(app: FastAPI) -> None:
    stopping = getattr(app.state, "startup_stop", None)
    if stopping is not None:
        stopping.set()
    thread = getattr(app.state, "startup_thread", None)
    if thread is not None:
        thread.join(timeout=30)
    stop_group_commit(app)  # before the relay: its last groups still nudge it
    _stop_background(app)
    registry = getattr(app.state, "registry", None)
    if registry is not None:
        registry.close()
    redis = getattr(app.state, "redis", None)
    if redis is not None:
        redis.close()
    engine = getattr(app.state, "engine", None)
    if engine is not None:
        engine.dispose()


def _redis(settings: Settings) -> Any:
    if not settings.redis_url:
        return None
    import redis

    return redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2,
                                health_check_interval=30)


def _bootstrap_admin(app: FastAPI, settings: Settings) -> None:
    if settings.bootstrap_admin_key:
        with session_scope(app.state.session_factory) as session:
            auth.upsert_bootstrap_admin(session=session, key=settings.bootstrap_admin_key)


def _start_background(app: FastAPI) -> None:
    """The relay and the audit appender (`rules_service.background`), as RUNBOOK_BACKGROUND
    says: threads here (woken by this process's commits), a child process, or elsewhere."""
    from rules_service.outbox import start_relay

    settings: Settings = app.state.settings
    if settings.background == "thread":
        start_relay(app, settings=settings, session_factory=app.state.session_factory)
        if getattr(app.state, "audit_appender", None) is None:
            appender = make_appender(settings=settings, session_factory=app.state.session_factory)
            appender.start()
            app.state.audit_appender = appender
    elif settings.background == "process" and getattr(app.state, "background", None) is None:
        child = ChildProcess(settings)
        child.start()
        app.state.background = child


def _stop_background(app: FastAPI) -> None:
    from rules_service.outbox import stop_relay

    stop_relay(app)
    appender = getattr(app.state, "audit_appender", None)
    if appender is not None:
        appender.close()
        app.state.audit_appender = None
    child = getattr(app.state, "background", None)
    if child is not None:
        child.stop()
        app.state.background = None


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
