"""RuleSet: a validated, compiled workbook, and the functions that load one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import catalogue
from .analysis import ParsedTable, parse_tables
from .build import build_tables
from .checks import static_checks
from .compiler import CompiledRuleset
from .model import Decision, DecisionError, Problem, Table, TestCase, WorkbookError
from .normalized import from_json, to_json
from .workbook import Source, read_bytes, read_csv, read_xlsx

MAX_WHEN_COLUMNS = 50


class RuleSet:
    """A ruleset ready to decide events. Build one with `load_workbook`, `load_csv`, `load_json`."""

    def __init__(self, tables: list[Table], tests: list[TestCase], problems: list[Problem]) -> None:
        parsed, parse_problems = parse_tables(tables)
        problems = problems + parse_problems + _width_problems(tables)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            raise WorkbookError(_dedupe(errors))
        problems += static_checks(parsed)
        self.parsed: list[ParsedTable] = parsed
        self.tables: list[Table] = [p.table for p in parsed]
        self.tests = tests
        self._compiled = CompiledRuleset(parsed)
        self.warnings: list[Problem] = _dedupe([p for p in problems if p.severity == "warning"])
        self.warnings += self._test_warnings()

    # deciding -----------------------------------------------------------------------------
    def decide(self, trigger: str, data: Mapping[str, Any]) -> Decision:
        """Decides one event: `data` holds the event's data and enriched values."""
        return self._compiled.decide(trigger, data)

    @property
    def triggers(self) -> frozenset[str]:
        return frozenset(t for table in self.tables for t in table.triggers)

    @property
    def moves_money(self) -> bool:
        """True when a version can move money and so needs an approver before going live."""
        return any(
            table.risk == "high"
            or any(c.kind == "do" and c.name in catalogue.MONEY_ACTIONS for c in table.columns)
            for table in self.tables
        )

    @property
    def actions_used(self) -> list[str]:
        return sorted({c.name for t in self.tables for c in t.columns if c.kind == "do"})

    # tests ------------------------------------------------------------------------------------
    def run_tests(self) -> list[Problem]:
        """Runs the `_tests` sheet: one problem per failing case, empty when all pass."""
        from .testing import run_case

        return [p for case in self.tests if (p := run_case(self, case)) is not None]

    def _test_warnings(self) -> list[Problem]:
        return [Problem(p.sheet, p.cell, p.message, "warning") for p in self.run_tests()]

    # forms --------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return to_json(self.tables, self.tests)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RuleSet) and self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]

    def close(self) -> None:
        """Frees the engine rulesets now (they are also freed when this object is collected)."""
        self._compiled.close()

    def __enter__(self) -> RuleSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RuleSet tables={[t.name for t in self.tables]}>"


def _width_problems(tables: list[Table]) -> list[Problem]:
    problems = []
    for table in tables:
        count = sum(1 for c in table.columns if c.kind == "when")
        if count > MAX_WHEN_COLUMNS:
            problems.append(
                Problem(
                    table.sheet,
                    f"A{table.header_row}",
                    f"{count} 'when' columns; a table may have at most {MAX_WHEN_COLUMNS}",
                )
            )
    return problems


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    unique = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            unique.append(problem)
    return unique


# --------------------------------------------------------------------------- loading


def load_workbook(src: Source) -> RuleSet:
    """An .xlsx workbook (path, bytes or binary file) → RuleSet, or WorkbookError."""
    data = read_bytes(src)
    return _from_sheets(read_xlsx(data))


def load_csv(src: Source, name: str | None = None) -> RuleSet:
    """One table as CSV, laid out like a sheet. `name` is its sheet name (default: file stem)."""
    if name is None:
        name = Path(src).stem if isinstance(src, (str, Path)) else "table"
    return _from_sheets(read_csv(read_bytes(src), name))


def load_json(src: Source | Mapping[str, Any]) -> RuleSet:
    """The normalized form that `RuleSet.to_json()` writes."""
    if isinstance(src, Mapping):
        document: Any = src
    else:
        text = read_bytes(src)
        try:
            document = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise WorkbookError([Problem("", "", f"not valid JSON ({error})")]) from None
    tables, tests, problems = from_json(document)
    return RuleSet(tables, tests, problems)


XLSX_TYPES = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx")
CSV_TYPES = ("text/csv", "application/csv", ".csv")
JSON_TYPES = ("application/json", ".json")


def load(data: bytes, kind: str, name: str | None = None) -> RuleSet:
    """Dispatches on a content type or a file name (`kind`)."""
    lowered = kind.split(";")[0].strip().lower()
    if lowered in XLSX_TYPES or lowered.endswith(".xlsx"):
        return load_workbook(data)
    if lowered in CSV_TYPES or lowered.endswith(".csv"):
        return load_csv(data, name or "table")
    if lowered in JSON_TYPES or lowered.endswith(".json"):
        return load_json(data)
    raise WorkbookError([Problem("", "", f"unsupported kind {kind!r}: send .xlsx, .csv or JSON")])


def _from_sheets(sheets: Any) -> RuleSet:
    tables, tests, problems = build_tables(sheets)
    return RuleSet(tables, tests, problems)


__all__ = ["RuleSet", "load_workbook", "load_csv", "load_json", "load", "DecisionError"]
