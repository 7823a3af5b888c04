"""What a table contributes to a decision once its matching rows are known: hit policy,
outputs, actions and trace. Shared by the compiled path and the reference evaluator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import lang as L
from . import values as V
from .analysis import ParsedRule, ParsedTable
from .model import Action, Decision, DecisionError, Hit


def select(table: ParsedTable, matched: Sequence[ParsedRule]) -> list[ParsedRule]:
    """The rows the hit policy keeps, from all matching rows in row order."""
    policy = table.table.hit_policy
    if not matched:
        return []
    if policy == "FIRST":
        return [matched[0]]
    if policy == "PRIORITY":
        best = matched[0]
        for rule in matched[1:]:
            if rule.priority > best.priority:
                best = rule
        return [best]
    if policy == "UNIQUE" and len(matched) > 1:
        raise DecisionError(
            table.name, [r.ref for r in matched], f"UNIQUE table matched {len(matched)} rows"
        )
    return list(matched)


def apply(
    table: ParsedTable, selected: Sequence[ParsedRule], env: L.Env, decision: Decision
) -> None:
    """Adds the selected rows' outputs, actions and trace to the decision (outputs in place)."""
    rows = [(rule, _row_outputs(rule, env)) for rule in selected]
    policy = table.table.hit_policy
    if policy == "ANY" and rows:
        rows = _agreeing(table, rows, env)
    outputs = decision.outputs
    if policy in ("COLLECT", "RULE ORDER"):
        for name in table.output_names:
            values = [row_outputs[name] for _, row_outputs in rows]
            outputs[name] = _aggregate(table, name, values, len(rows))
    elif rows:
        outputs.update(rows[0][1])
    for rule, row_outputs in rows:
        decision.trace.append(Hit(table.name, rule.ref, row_outputs))
        decision.actions.extend(_row_actions(table, rule, env))


def _row_outputs(rule: ParsedRule, env: L.Env) -> dict[str, Any]:
    if rule.constant_outputs is not None:
        return dict(rule.constant_outputs)
    return {name: V.to_json_value(fn(env)) for name, fn in rule.outputs}


def _row_actions(table: ParsedTable, rule: ParsedRule, env: L.Env) -> list[Action]:
    if not rule.actions:
        return []
    actions = []
    for action in rule.actions:
        params = {}
        for key, fn in action.params:
            value = fn(env)
            if value is not None:
                params[key] = V.to_json_value(value)
        delay = action.delay(env) if action.delay else None
        approval = action.approval(env) if action.approval else None
        actions.append(
            Action(
                name=action.name,
                params=params,
                delay=delay.total_seconds() if delay is not None else None,
                approval=approval if isinstance(approval, str) else None,
                table=table.name,
                row=rule.ref,
            )
        )
    return actions


def _agreeing(
    table: ParsedTable, rows: list[tuple[ParsedRule, dict[str, Any]]], env: L.Env
) -> list[tuple[ParsedRule, dict[str, Any]]]:
    first_rule, first = rows[0]
    first_actions = [(a.name, a.params) for a in _row_actions(table, first_rule, env)]
    for rule, outputs in rows[1:]:
        actions = [(a.name, a.params) for a in _row_actions(table, rule, env)]
        if outputs != first or actions != first_actions:
            raise DecisionError(
                table.name, [first_rule.ref, rule.ref], "ANY table: matching rows disagree"
            )
    return rows[:1]


def _aggregate(table: ParsedTable, name: str, values: list[Any], count: int) -> Any:
    aggregation = table.table.aggregation
    if aggregation is None:
        return values
    if aggregation == "COUNT":
        return count
    numbers = []
    for value in values:
        if value is None:
            continue
        number = V.to_number(value) if not isinstance(value, str) else None
        if number is None:
            raise DecisionError(
                table.name, [], f"COLLECT {aggregation} of {name!r} met a {V.kind_of(value)} value"
            )
        numbers.append(value)
    if not numbers:
        return None
    if aggregation == "SUM":
        return V.to_json_value(sum(numbers))
    return min(numbers) if aggregation == "MIN" else max(numbers)
