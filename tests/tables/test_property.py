"""The compiled (durable_rules) path and the reference evaluator decide alike, whatever the
table and the event (hypothesis)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import tables
from tables import reference

from .gen import event_data, ruleset_doc


def outcome(fn: Any) -> Any:
    try:
        return fn().to_dict()
    except tables.DecisionError as error:
        return ("DecisionError", str(error))


def load_or_skip(doc: dict[str, Any]) -> tables.RuleSet:
    try:
        return tables.load_json(doc)
    except tables.WorkbookError:
        assume(False)
        raise


@settings(
    max_examples=int(os.environ.get("RUNBOOK_PROPERTY_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(doc=ruleset_doc(), events=st.lists(event_data(), min_size=1, max_size=8))
def test_compiled_equals_reference(doc: dict[str, Any], events: list[dict[str, Any]]) -> None:
    rs = load_or_skip(doc)
    try:
        for data in events:
            compiled = outcome(lambda data=data: rs.decide("e", data))
            judged = outcome(lambda data=data: reference.decide(rs, "e", data))
            assert compiled == judged, (data, doc)
    finally:
        rs.close()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(doc=ruleset_doc(max_rows=150), events=st.lists(event_data(), min_size=1, max_size=5))
def test_compiled_equals_reference_on_tables_larger_than_a_chunk(
    doc: dict[str, Any], events: list[dict[str, Any]]
) -> None:
    rs = load_or_skip(doc)
    try:
        for data in events:
            assert outcome(lambda data=data: rs.decide("e", data)) == outcome(
                lambda data=data: reference.decide(rs, "e", data)
            )
    finally:
        rs.close()


def test_unknown_trigger_decides_nothing() -> None:
    doc = {
        "tables": [
            {
                "name": "t",
                "sheet": "t",
                "triggers": ["e"],
                "hit_policy": "FIRST",
                "header_row": 1,
                "columns": [
                    {"kind": "when", "name": "order.a", "letter": "A"},
                    {"kind": "then", "name": "out", "letter": "B"},
                ],
                "rules": [{"row": 2, "cells": ["-", "1"]}],
            }
        ]
    }
    with tables.load_json(doc) as rs:
        assert rs.decide("other", {}).to_dict() == {"outputs": {}, "actions": [], "trace": []}


@pytest.mark.parametrize(
    "policy",
    ["FIRST", "PRIORITY", "COLLECT", "RULE ORDER", "COLLECT SUM", "COLLECT COUNT", "UNIQUE", "ANY"],
)
def test_empty_table_matches_nothing(policy: str) -> None:
    columns = [
        {"kind": "when", "name": "order.a", "letter": "A"},
        {"kind": "then", "name": "out", "letter": "B"},
    ]
    if policy == "PRIORITY":
        columns.append({"kind": "priority", "name": "", "letter": "C"})
    doc = {
        "tables": [
            {
                "name": "t",
                "sheet": "t",
                "triggers": ["e"],
                "hit_policy": policy,
                "header_row": 1,
                "columns": columns,
                "rules": [],
            }
        ]
    }
    with tables.load_json(doc) as rs:
        assert outcome(lambda: rs.decide("e", {})) == outcome(lambda: reference.decide(rs, "e", {}))
