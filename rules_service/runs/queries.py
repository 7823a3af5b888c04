"""Reading captured runs: one by id, or a filtered page, newest first (run ids sort by time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from rules_service.events.keys import utc
from rules_service.runs.models import Run, RunDecision
from rules_service.runs.schemas import RunEventOut, RunOut, RunSummaryOut
from runbook.errors import NotFound

MAX_LIMIT = 500


@dataclass(frozen=True, slots=True)
class RunFilter:
    order_id: str | None = None
    customer_id: str | None = None
    event_type: str | None = None
    ruleset: str | None = None
    version: int | None = None
    since: datetime | None = None  # event time, inclusive
    until: datetime | None = None  # event time, exclusive


def get_run(*, session: Session, run_id: str) -> RunOut:
    run = session.get(Run, run_id)
    if run is None:
        raise NotFound(f"no run {run_id}")
    return run_out(run)


def list_runs(
    *, session: Session, where: RunFilter, limit: int, cursor: str | None
) -> tuple[list[RunSummaryOut], str | None]:
    query = _filtered(select(Run), where)
    if cursor:
        query = query.where(Run.id < cursor)
    size = max(1, min(limit, MAX_LIMIT))
    runs = list(session.scalars(query.order_by(Run.id.desc()).limit(size + 1)))
    next_cursor = runs[size - 1].id if len(runs) > size else None
    return [summary_out(run) for run in runs[:size]], next_cursor


def _filtered(query: Select[Any], where: RunFilter) -> Select[Any]:
    if where.order_id is not None:
        query = query.where(Run.order_id == where.order_id)
    if where.customer_id is not None:
        query = query.where(Run.customer_id == where.customer_id)
    if where.event_type is not None:
        query = query.where(Run.event_type == where.event_type)
    if where.since is not None:
        query = query.where(Run.occurred_at >= utc(where.since))
    if where.until is not None:
        query = query.where(Run.occurred_at < utc(where.until))
    if where.ruleset is not None or where.version is not None:
        decided = select(RunDecision.run_id).where(RunDecision.run_id == Run.id)
        if where.ruleset is not None:
            decided = decided.where(RunDecision.ruleset == where.ruleset)
        if where.version is not None:
            decided = decided.where(RunDecision.version == where.version)
        query = query.where(exists(decided))
    return query


def summary_out(run: Run) -> RunSummaryOut:
    return RunSummaryOut(
        id=run.id,
        event_id=run.event_id,
        event_source=run.event_source,
        event_type=run.event_type,
        occurred_at=utc(run.occurred_at),
        order_id=run.order_id,
        customer_id=run.customer_id,
        versions=_versions(run),
        rows=_rows(run),
        action_count=run.action_count,
        error_count=run.error_count,
        created_at=utc(run.created_at),
    )


def _versions(run: Run) -> list[dict[str, Any]]:
    return [{"ruleset": d["ruleset"], "version": d["version"]} for d in run.decisions]


def _rows(run: Run) -> list[str]:
    return [hit["row"] for d in run.decisions for hit in d.get("trace") or []]


def run_out(run: Run) -> RunOut:
    return RunOut(
        id=run.id,
        event=RunEventOut(
            id=run.event_id,
            source=run.event_source,
            type=run.event_type,
            occurred_at=utc(run.occurred_at),
            data=run.data,
        ),
        order_id=run.order_id,
        customer_id=run.customer_id,
        enriched=run.enriched,
        versions=_versions(run),
        rows=_rows(run),
        decisions=run.decisions,  # type: ignore[arg-type]
        timings=run.timings,
        action_count=run.action_count,
        error_count=run.error_count,
        actor=run.actor,
        created_at=utc(run.created_at),
    )
