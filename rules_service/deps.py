"""Dependencies of the rules_service routers: what the app keeps on `app.state`.

    session: SessionDep                     # commits on success, rolls back on error
    settings: Settings = Depends(get_settings)
    registry: LiveRegistry = Depends(get_registry)
    redis = Depends(get_redis)              # redis.Redis or None (embedded mode)

`SessionDep` closes its session before the answer is sent (dependency scope "function"), so
a client never sees an answer for work that has not committed yet. Prefer it over
`Depends(get_session)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from rules_service.events.grouping import GroupCommit
from rules_service.rulesets.registry import LiveRegistry
from runbook.db import session_scope
from runbook.errors import ServiceUnavailable
from runbook.http import require_database
from runbook.settings import Settings


def get_session(request: Request) -> Iterator[Session]:
    """A session for one request: committed when the endpoint returns, rolled back on error."""
    require_database(request.app.state)
    with session_scope(request.app.state.session_factory) as session:
        yield session


def after_commit(app: Any) -> None:
    """Wakes what moves committed work on: the outbox relay and the audit chain appender."""
    from rules_service.outbox.lifecycle import nudge

    nudge(app)
    appender = getattr(app.state, "audit_appender", None)
    if appender is not None:
        appender.nudge()


# The dependencies below only read app.state: async, so that FastAPI runs them on the event
# loop instead of handing each to its thread pool.


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_registry(request: Request) -> LiveRegistry:
    require_database(request.app.state)
    return request.app.state.registry  # type: ignore[no-any-return]


async def get_intake(request: Request) -> GroupCommit:
    """The group-commit writers of POST /v1/events."""
    require_database(request.app.state)
    intake = getattr(request.app.state, "intake", None)
    if intake is None:
        raise ServiceUnavailable("the service is not ready yet; retry later")
    return intake  # type: ignore[no-any-return]


async def get_redis(request: Request) -> Any:
    """The app's `redis.Redis` client, or None without RUNBOOK_REDIS_URL."""
    return getattr(request.app.state, "redis", None)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[LiveRegistry, Depends(get_registry)]
RedisDep = Annotated[Any, Depends(get_redis)]
IntakeDep = Annotated[GroupCommit, Depends(get_intake)]

__all__ = [
    "after_commit",
    "IntakeDep",
    "RedisDep",
    "RegistryDep",
    "SessionDep",
    "SettingsDep",
    "get_intake",
    "get_redis",
    "get_registry",
    "get_session",
    "get_settings",
]
