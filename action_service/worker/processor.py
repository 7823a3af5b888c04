"""One action end to end: claim (lease) → connector call → record the attempt and the result,
with audit entries, in the database. Used by the stream worker, the scheduler and the
embedded worker alike."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from action_service import metrics
from action_service.actions import service
from action_service.actions.models import FINAL, Status
from action_service.actions.service import Claim, RetryPolicy
from action_service.worker.recorder import Recorder
from connectors.base import ActionRequest
from connectors.http import Result
from connectors.runtime import ConnectorRuntime
from runbook.db import session_scope
from runbook.settings import Settings

log = logging.getLogger(__name__)

DeadHandler = Callable[[str, dict[str, Any], str | None], None]
RECORD_TRIES = 6


def to_request(command: dict[str, Any]) -> ActionRequest:
    return ActionRequest(
        action=str(command["action"]),
        idempotency_key=str(command["idempotency_key"]),
        params=dict(command.get("params") or {}),
        data=dict(command.get("data") or {}),
        run_id=command.get("run_id"),
        order_id=command.get("order_id"),
        customer_id=command.get("customer_id"),
        event_type=command.get("event_type"),
    )


def policy_of(settings: Settings) -> RetryPolicy:
    return RetryPolicy(settings.action_max_attempts, settings.action_backoff_base_seconds,
                       settings.action_backoff_max_seconds)


class Processor:
    def __init__(self, *, settings: Settings, session_factory: Callable[[], Session],
                 runtime: ConnectorRuntime, owner: str,
                 on_dead: DeadHandler | None = None) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.runtime = runtime
        self.owner = owner
        self.on_dead = on_dead
        self.policy = policy_of(settings)
        self.recorder = Recorder(session_factory)

    def close(self) -> None:
        self.recorder.close()

    def process(self, action_id: str) -> str | None:
        """Runs the action when it is due and nobody else holds it; answers its new status,
        or None when there was nothing to do."""
        with session_scope(self.session_factory) as session:
            claim = service.claim(session=session, action_id=action_id, owner=self.owner,
                                  lease_seconds=self.settings.action_lease_seconds)
        if claim is None:
            return None
        request = to_request(claim.command)
        system = self._system(request)
        if claim.reclaimed and not self.runtime.idempotent(request):
            return self._unknown(claim, system)
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        result = self._perform(request)
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        status = self._record(claim, result, system, started_at, duration_ms)
        self._observe(claim, request, system, result, status, duration_ms)
        return status

    def _system(self, request: ActionRequest) -> str | None:
        try:
            return self.runtime.system_for(request)
        except KeyError:
            return None

    def _perform(self, request: ActionRequest) -> Result:
        try:
            return self.runtime.perform(request)
        except Exception as error:  # noqa: BLE001 - a connector bug must not kill the worker
            log.exception("connector raised", extra={"action": request.action})
            return Result.transient(f"connector error: {type(error).__name__}: {error}")

    def _record(self, claim: Claim, result: Result, system: str | None,
                started_at: datetime, duration_ms: float) -> str:
        """Records the attempt; retried while the database is unreachable (the lease keeps
        others away meanwhile)."""
        def work(session: Session) -> str:
            return service.record(session=session, claim=claim, result=result, system=system,
                                  started_at=started_at, duration_ms=duration_ms,
                                  policy=self.policy)

        for attempt in range(RECORD_TRIES):
            try:
                return str(self.recorder.submit(work))
            except Exception:  # noqa: BLE001
                if attempt == RECORD_TRIES - 1:
                    raise
                log.warning("could not record action %s; retrying", claim.action_id,
                            exc_info=True)
                time.sleep(min(0.5 * 2**attempt, 8.0))
        raise AssertionError("unreachable")

    def _unknown(self, claim: Claim, system: str | None) -> str:
        with session_scope(self.session_factory) as session:
            status = service.mark_unknown(session=session, claim=claim, system=system)
        self._dead(claim, "outcome unknown after a worker stopped mid-call")
        metrics.FINISHED.labels(action=str(claim.command.get("action")), status=status).inc()
        return status

    def _observe(self, claim: Claim, request: ActionRequest, system: str | None,
                 result: Result, status: str, duration_ms: float) -> None:
        connector = system or "none"
        metrics.ATTEMPTS.labels(connector=connector, outcome=result.outcome.value).inc()
        metrics.ATTEMPT_SECONDS.labels(connector=connector).observe(duration_ms / 1000)
        if status in FINAL:
            metrics.FINISHED.labels(action=request.action, status=status).inc()
        if status == Status.SUCCEEDED:
            metrics.END_TO_END_SECONDS.observe(_since_due(claim.command))
        if status == Status.DEAD:
            self._dead(claim, result.error)

    def _dead(self, claim: Claim, error: str | None) -> None:
        if self.on_dead is None:
            return
        try:
            self.on_dead(claim.action_id, claim.command, error)
        except Exception:  # noqa: BLE001 - the database already says dead
            log.warning("could not publish dead letter %s", claim.action_id, exc_info=True)


def _since_due(command: dict[str, Any]) -> float:
    try:
        created = datetime.fromisoformat(str(command["created_at"]))
    except (KeyError, ValueError):
        return 0.0
    delay = float(command.get("delay_seconds") or 0)
    return max(0.0, (datetime.now(UTC) - created).total_seconds() - delay)
