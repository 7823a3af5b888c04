"""Deciding one event with every live ruleset listening to its type."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import tables

log = logging.getLogger(__name__)


class Choice(Protocol):
    """What the live registry hands out (`rules_service.rulesets.registry.LiveChoice`)."""

    ruleset: str
    version: int
    rules: tables.RuleSet


class Registry(Protocol):
    def select(self, *, event_type: str, routing_key: str) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """One ruleset's decision of one event, or why there is none."""

    ruleset: str
    version: int
    decision: tables.Decision | None
    error: dict[str, Any] | None
    elapsed_ms: float


def decide(
    *, registry: Registry, event_type: str, routing_key: str, data: Mapping[str, Any]
) -> list[Outcome]:
    """Every live ruleset's decision, in the registry's order. A ruleset that cannot decide
    (UNIQUE matched twice, ANY rows disagree) is recorded as an error, not raised."""
    choices = registry.select(event_type=event_type, routing_key=routing_key)
    return [_decide_one(choice, event_type, data) for choice in choices]


def _decide_one(choice: Choice, event_type: str, data: Mapping[str, Any]) -> Outcome:
    started = time.perf_counter()
    decision: tables.Decision | None = None
    error: dict[str, Any] | None = None
    try:
        decision = choice.rules.decide(event_type, data)
    except tables.DecisionError as failure:
        error = {
            "code": "decision_error",
            "message": str(failure),
            "table": failure.table,
            "rows": list(failure.rows),
        }
    except Exception as failure:  # noqa: BLE001 - one broken ruleset must not hide the others
        log.exception("ruleset %s v%s failed on %s", choice.ruleset, choice.version, event_type)
        error = {"code": "evaluation_failed", "message": f"{type(failure).__name__}: {failure}"}
    elapsed = (time.perf_counter() - started) * 1000
    return Outcome(choice.ruleset, int(choice.version), decision, error, round(elapsed, 3))
