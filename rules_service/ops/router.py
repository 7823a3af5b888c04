"""`/healthz` (the process answers), `/readyz` (database and Redis reachable), `/metrics`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from runbook import metrics
from runbook.auth import require
from runbook.health import check_database, check_redis

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "The database or Redis is unreachable"}})
def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    checks = {"database": check_database(state), "redis": check_redis(state)}
    ready = all(value in ("ok", "disabled") for value in checks.values())
    registry = getattr(request.app.state, "registry", None)
    body: dict[str, Any] = {"status": "ready" if ready else "unavailable", "checks": checks}
    if registry is not None:
        body["live_generation"] = registry.generation
    return JSONResponse(body, status_code=200 if ready else 503)


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
