"""The `_tests` sheet: each case is an event and a JSON subset of the decision it must give."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .model import DecisionError, Problem, TestCase

if TYPE_CHECKING:
    from .ruleset import RuleSet


def run_case(rs: RuleSet, case: TestCase) -> Problem | None:
    trigger = case.event.get("type", case.event.get("trigger"))
    data = case.event.get("data", {})
    where = f"B{case.row}"
    try:
        decision = rs.decide(str(trigger), data if isinstance(data, dict) else {})
    except DecisionError as error:
        return Problem("_tests", where, f"test case fails: {error}")
    actual = decision.to_dict()
    mismatch = _subset_mismatch(case.expect, actual, "")
    if mismatch is None:
        return None
    return Problem("_tests", where, f"test case fails: {mismatch}")


def _subset_mismatch(expected: Any, actual: Any, path: str) -> str | None:
    """None when `expected` is contained in `actual`; else a sentence saying where not."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path or 'decision'} should be an object, got {_show(actual)}"
        for key, value in expected.items():
            if key not in actual:
                return f"{path + '.' if path else ''}{key} is missing (expected {_show(value)})"
            found = _subset_mismatch(value, actual[key], f"{path + '.' if path else ''}{key}")
            if found:
                return found
        return None
    if (
        isinstance(expected, list)
        and isinstance(actual, list)
        and (not expected or isinstance(expected[0], dict))
    ):
        position = 0
        for item in expected:
            while position < len(actual) and _subset_mismatch(item, actual[position], path):
                position += 1
            if position == len(actual):
                return f"{path} has no entry like {_show(item)} (got {_show(actual)})"
            position += 1
        return None
    if _same(expected, actual):
        return None
    return f"{path} is {_show(actual)}, expected {_show(expected)}"


def _same(expected: Any, actual: Any) -> bool:
    numbers = (int, float)
    if (
        isinstance(expected, numbers)
        and isinstance(actual, numbers)
        and not isinstance(expected, bool)
        and not isinstance(actual, bool)
    ):
        return float(expected) == float(actual)
    return bool(expected == actual)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) < 120 else text[:117] + "..."
