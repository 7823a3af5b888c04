"""The plain reference evaluator: every row of every table checked cell by cell, in order.

It is the judge the compiled (durable_rules) path is tested against; it is not the fast path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import lang as L
from . import policy
from .model import Decision

if TYPE_CHECKING:
    from .ruleset import RuleSet


def decide(rs: RuleSet, trigger: str, data: Mapping[str, Any]) -> Decision:
    decision = Decision()
    env: L.Env = (data, decision.outputs)
    for table in rs.parsed:
        if trigger not in table.table.triggers:
            continue
        inputs = [L.resolve(parts, env) for parts in table.inputs]
        matched = [
            rule
            for rule in table.rules
            if all(fn(value, env) for fn, value in zip(rule.test_fns, inputs, strict=True))
        ]
        policy.apply(table, policy.select(table, matched), env, decision)
    return decision
