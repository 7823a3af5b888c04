"""Runbook's decision-table library: workbook bytes in, validated model out; model + event in,
decision out. Pure: no database, HTTP or clock.

    import tables
    rs = tables.load_workbook("examples/returns.xlsx")
    d = rs.decide("return.requested", {"return": {"reason": "damaged"}, "order": {"total": 12000}})
    d.outputs, d.actions, d.trace
"""

from .diff import diff
from .export import export_workbook
from .model import (
    Action,
    Column,
    Decision,
    DecisionError,
    Hit,
    Problem,
    Rule,
    Table,
    TestCase,
    WorkbookError,
)
from .ruleset import RuleSet, load, load_csv, load_json, load_workbook

__all__ = [
    "Action",
    "Column",
    "Decision",
    "DecisionError",
    "Hit",
    "Problem",
    "Rule",
    "RuleSet",
    "Table",
    "TestCase",
    "WorkbookError",
    "diff",
    "export_workbook",
    "load",
    "load_csv",
    "load_json",
    "load_workbook",
]
