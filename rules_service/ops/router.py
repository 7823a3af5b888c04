"""`/healthz` (the process answers), `/readyz` (database and Redis reachable), `/metrics`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from runbook import metrics
from runbook.auth import require

log = logging.getLogger(__name__)
router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "The database or Redis is unreachable"}})
def readyz(request: Request) -> JSONResponse:
    checks = {"database": _check_database(request), "redis": _check_redis(request)}
    ready = all(value in ("ok", "disabled") for value in checks.values())
    registry = getattr(request.app.state, "registry", None)
    body: dict[str, Any] = {"status": "ready" if ready else "unavailable", "checks": checks}
    if registry is not None:
        body["live_generation"] = registry.generation
    return JSONResponse(body, status_code=200 if ready else 503)


def _check_database(request: Request) -> str:
    factory = getattr(request.app.state, "session_factory", None)
    if factory is None:
        return "not started"
    if getattr(request.app.state, "database_ready", True) is False:
        return "starting"
    try:
        with factory() as session:
            session.execute(text("SELECT 1"))
        return "ok"
    except Exception as error:  # noqa: BLE001 - any failure means not ready
        log.warning("database not reachable: %s", error)
        return "unreachable"


def _check_redis(request: Request) -> str:
    client = getattr(request.app.state, "redis", None)
    if client is None:
        return "disabled"
    try:
        client.ping()
        return "ok"
    except Exception as error:  # noqa: BLE001
        log.warning("redis not reachable: %s", error)
        return "unreachable"


@router.get("/v1/live", dependencies=[Depends(require("ops", "approver", "auditor", "service"))])
def live(request: Request) -> dict[str, Any]:
    """What this replica decides with now: per ruleset the current version, its percent and
    the previous version, and the generation it loaded."""
    registry = request.app.state.registry
    return {"generation": registry.generation, "rulesets": registry.live()}


@router.get("/metrics", response_class=Response)
def prometheus_metrics() -> Response:
    body, content_type = metrics.render()
    return Response(content=body, media_type=content_type)
