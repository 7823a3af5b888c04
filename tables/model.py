"""The validated model of a workbook and the shape of a decision. Plain immutable data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ColumnKind = Literal["when", "then", "do", "priority", "note"]
Severity = Literal["error", "warning"]

HIT_POLICIES = ("UNIQUE", "FIRST", "PRIORITY", "ANY", "COLLECT", "RULE ORDER")
AGGREGATIONS = ("SUM", "MIN", "MAX", "COUNT")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong (or suspicious) in a workbook, located by sheet and cell."""

    sheet: str
    cell: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.sheet}!{self.cell}" if self.cell and self.sheet else self.sheet or self.cell
        return f"{where}: {self.message}" if where else self.message

    def to_dict(self) -> dict[str, str]:
        return {
            "sheet": self.sheet,
            "cell": self.cell,
            "message": self.message,
            "severity": self.severity,
        }


class WorkbookError(ValueError):
    """A workbook that cannot be used. Carries every problem found, not only the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        shown = "; ".join(str(p) for p in self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"{len(self.problems)} problem(s): {shown}{more}")


class DecisionError(ValueError):
    """An event that the tables cannot decide: several UNIQUE matches, or ANY rows disagreeing."""

    def __init__(self, table: str, rows: list[str], message: str) -> None:
        self.table = table
        self.rows = rows
        super().__init__(f"{table}: {message} (rows {', '.join(rows)})")


@dataclass(frozen=True, slots=True)
class Column:
    kind: ColumnKind
    name: str  # the path of a `when`, the output of a `then`, the action of a `do`; "" otherwise
    letter: str  # spreadsheet column letter, for cell references


@dataclass(frozen=True, slots=True)
class Rule:
    row: int  # spreadsheet row number
    cells: tuple[str, ...]  # cell text per column, "" when empty


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    sheet: str
    triggers: tuple[str, ...]
    hit_policy: str  # one of HIT_POLICIES
    aggregation: str | None  # for COLLECT: one of AGGREGATIONS, else None
    description: str
    risk: str
    header_row: int
    columns: tuple[Column, ...]
    rules: tuple[Rule, ...]
    meta_rows: tuple[tuple[str, str, int], ...] = ()  # (key as written, value, row) for export

    def cell_ref(self, column: int, row: int) -> str:
        return f"{self.columns[column].letter}{row}"

    def row_ref(self, row: int) -> str:
        return f"{self.sheet}!{row}"


@dataclass(frozen=True, slots=True)
class TestCase:
    row: int
    event: dict[str, Any]
    expect: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    params: dict[str, Any]
    delay: float | None  # seconds
    approval: str | None
    table: str
    row: str  # "sheet!7"

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.name,
            "params": self.params,
            "delay": self.delay,
            "approval": self.approval,
            "table": self.table,
            "row": self.row,
        }


@dataclass(frozen=True, slots=True)
class Hit:
    table: str
    row: str  # "sheet!7"
    outputs: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "row": self.row, "outputs": self.outputs}


@dataclass(slots=True)
class Decision:
    outputs: dict[str, Any] = field(default_factory=dict)
    actions: list[Action] = field(default_factory=list)
    trace: list[Hit] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outputs": self.outputs,
            "actions": [a.to_dict() for a in self.actions],
            "trace": [h.to_dict() for h in self.trace],
        }
