"""Backtest: replay captured runs through a version and count the decisions that would change.

Each captured run keeps the event's data and its enriched values as they were, so the
candidate sees exactly what the live version saw. A decision is the outputs and the actions
(name and parameters), or the error; it changed when any of these differ from what the
ruleset decided then (a run the ruleset did not decide counts as "no decision").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

import tables
from rules_service.events.enrich import merged
from rules_service.rulesets import service
from rules_service.runs.models import Run, RunDecision

MAX_EXAMPLES = 20


@dataclass
class BacktestResult:
    ruleset: str
    version: int
    replayed: int = 0
    changed: int = 0
    errors: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ruleset": self.ruleset,
            "version": self.version,
            "replayed": self.replayed,
            "changed": self.changed,
            "unchanged": self.replayed - self.changed,
            "errors": self.errors,
            "examples": self.examples,
        }


def backtest(*, session: Session, ruleset: str, version: int, last: int) -> BacktestResult:
    """Replays the `last` captured runs of the version's event types (newest first)."""
    row = service.get_version(session=session, name=ruleset, version=version)
    result = BacktestResult(ruleset, version)
    with tables.load_json(row.normalized) as rules:
        for run in _runs(session, ruleset, sorted(rules.triggers), last):
            _replay(result, rules, ruleset, run)
    return result


def _runs(session: Session, ruleset: str, triggers: list[str], last: int) -> Iterable[Run]:
    decided_by = select(RunDecision.run_id).where(RunDecision.ruleset == ruleset)
    statement = (
        select(Run)
        .where(or_(Run.event_type.in_(triggers), Run.id.in_(decided_by)))
        .order_by(Run.created_at.desc(), Run.id.desc())
        .limit(last)
    )
    return session.scalars(statement)


def _replay(result: BacktestResult, rules: tables.RuleSet, ruleset: str, run: Run) -> None:
    before = _stored(run, ruleset)
    after = _decide(rules, run)
    result.replayed += 1
    result.errors += after["error"] is not None
    if _essence(before) == _essence(after):
        return
    result.changed += 1
    if len(result.examples) < MAX_EXAMPLES:
        result.examples.append({
            "run_id": run.id,
            "event_id": run.event_id,
            "event_type": run.event_type,
            "order_id": run.order_id,
            "occurred_at": run.occurred_at.isoformat(),
            "before": before,
            "after": after,
        })


def _stored(run: Run, ruleset: str) -> dict[str, Any]:
    entry = next((d for d in run.decisions or [] if d.get("ruleset") == ruleset), None)
    if entry is None:
        return {"version": None, "outputs": {}, "actions": [], "error": None}
    return {
        "version": entry.get("version"),
        "outputs": entry.get("outputs") or {},
        "actions": [{"action": a.get("action"), "params": a.get("params") or {}}
                    for a in entry.get("actions") or []],
        "error": entry.get("error"),
    }


def _decide(rules: tables.RuleSet, run: Run) -> dict[str, Any]:
    data = merged(run.data or {}, run.enriched or {})
    try:
        decision = rules.decide(run.event_type, data)
    except tables.DecisionError as error:
        return {"outputs": {}, "actions": [], "error": {"code": "decision_error",
                                                        "message": str(error)}}
    return {
        "outputs": _plain(decision.outputs),
        "actions": [{"action": a.name, "params": _plain(a.params)} for a in decision.actions],
        "error": None,
    }


def _plain(value: Any) -> Any:
    return to_jsonable_python(value, fallback=str)


def _essence(decision: dict[str, Any]) -> tuple[Any, Any, bool]:
    return decision["outputs"], decision["actions"], decision["error"] is not None
