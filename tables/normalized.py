"""The normalized JSON form of a ruleset: one format whatever the source (.xlsx, .csv, JSON)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .build import parse_hit_policy
from .model import Column, Problem, Rule, Table, TestCase

FORMAT = "runbook.ruleset/1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ColumnDoc(_Strict):
    kind: Literal["when", "then", "do", "priority", "note"]
    name: str = ""
    letter: str


class RuleDoc(_Strict):
    row: int = Field(ge=1)
    cells: list[str]


class TableDoc(_Strict):
    name: str
    sheet: str
    triggers: list[str]
    hit_policy: str
    description: str = ""
    risk: str = ""
    header_row: int = Field(ge=1)
    meta: list[tuple[str, str, int]] = []
    columns: list[ColumnDoc]
    rules: list[RuleDoc] = Field(max_length=20_000)


class TestDoc(_Strict):
    row: int
    event: dict[str, Any]
    expect: dict[str, Any]


class RulesetDoc(_Strict):
    format: Literal["runbook.ruleset/1"] = "runbook.ruleset/1"
    tables: list[TableDoc] = Field(max_length=100)
    tests: list[TestDoc] = []


def to_json(tables: list[Table], tests: list[TestCase]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "tables": [
            {
                "name": t.name,
                "sheet": t.sheet,
                "triggers": list(t.triggers),
                "hit_policy": f"{t.hit_policy} {t.aggregation}" if t.aggregation else t.hit_policy,
                "description": t.description,
                "risk": t.risk,
                "header_row": t.header_row,
                "meta": [list(m) for m in t.meta_rows],
                "columns": [
                    {"kind": c.kind, "name": c.name, "letter": c.letter} for c in t.columns
                ],
                "rules": [{"row": r.row, "cells": list(r.cells)} for r in t.rules],
            }
            for t in tables
        ],
        "tests": [{"row": c.row, "event": c.event, "expect": c.expect} for c in tests],
    }


def from_json(document: Any) -> tuple[list[Table], list[TestCase], list[Problem]]:
    try:
        doc = RulesetDoc.model_validate(document)
    except ValidationError as error:
        from .model import WorkbookError

        raise WorkbookError(
            [
                Problem("", ".".join(str(p) for p in item["loc"]), item["msg"])
                for item in error.errors()[:50]
            ]
        ) from None
    problems: list[Problem] = []
    tables = [_table(t, problems) for t in doc.tables]
    tests = [TestCase(c.row, c.event, c.expect) for c in doc.tests]
    return tables, tests, problems


def _table(doc: TableDoc, problems: list[Problem]) -> Table:
    policy, aggregation = parse_hit_policy(doc.hit_policy)
    if policy is None:
        problems.append(Problem(doc.sheet, "", f"unknown hit policy {doc.hit_policy!r}"))
    width = len(doc.columns)
    for rule in doc.rules:
        if len(rule.cells) != width:
            problems.append(
                Problem(
                    doc.sheet,
                    f"A{rule.row}",
                    f"the row has {len(rule.cells)} cells for {width} columns",
                )
            )
    return Table(
        name=doc.name,
        sheet=doc.sheet,
        triggers=tuple(doc.triggers),
        hit_policy=policy or "UNIQUE",
        aggregation=aggregation,
        description=doc.description,
        risk=doc.risk,
        header_row=doc.header_row,
        columns=tuple(Column(c.kind, c.name, c.letter) for c in doc.columns),
        rules=tuple(Rule(r.row, tuple((r.cells + [""] * width)[:width])) for r in doc.rules),
        meta_rows=tuple((k, v, n) for k, v, n in doc.meta),
    )
