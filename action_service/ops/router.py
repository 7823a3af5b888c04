"""`/healthz`, `/readyz` (database and Redis), `/metrics` (with queue depth, lag, actions by
status refreshed at each scrape)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from action_service import metrics as action_metrics
from action_service.actions import service
from action_service.actions.models import Status
from action_service.worker.stream import GROUP, stream_name
from runbook import metrics
from runbook.db import session_scope
from runbook.health import check_database, check_redis

log = logging.getLogger(__name__)
router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    checks = {"database": check_database(state), "redis": check_redis(state)}
    ready = all(value in ("ok", "disabled") for value in checks.values())
    body: dict[str, Any] = {"status": "ready" if ready else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response)
def prometheus_metrics(request: Request) -> Response:
    _refresh(request)
    body, content_type = metrics.render()
    return Response(content=body, media_type=content_type)


def _refresh(request: Request) -> None:
    """Gauges read at scrape time; a failing source leaves its gauges as they were."""
    try:
        with session_scope(request.app.state.session_factory) as session:
            counts = service.counts_by_status(session=session)
            oldest = service.oldest_due(session=session)
        for status in Status:
            action_metrics.ACTIONS_BY_STATUS.labels(status=status.value).set(
                counts.get(status.value, 0))
        lag = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        action_metrics.DUE_LAG_SECONDS.set(max(lag, 0.0))
    except Exception:  # noqa: BLE001
        log.warning("could not read action counts", exc_info=True)
    client = getattr(request.app.state, "redis", None)
    if client is not None:
        _refresh_stream(client, stream_name(request.app.state.settings.redis_prefix))


def _refresh_stream(client: Any, stream: str) -> None:
    try:
        for group in client.xinfo_groups(stream):
            name = group.get("name") or group.get(b"name")
            if (name.decode() if isinstance(name, bytes) else name) != GROUP:
                continue
            action_metrics.QUEUE_DEPTH.labels(kind="pending").set(group.get("pending") or 0)
            action_metrics.QUEUE_DEPTH.labels(kind="lag").set(group.get("lag") or 0)
    except Exception:  # noqa: BLE001 - no stream yet, or Redis down
        log.debug("could not read stream info", exc_info=True)
