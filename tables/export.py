"""The normalized .xlsx export: one layout for any source; loading it gives an equal ruleset."""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .workbook import value_to_text

if TYPE_CHECKING:
    from .model import Table, TestCase
    from .ruleset import RuleSet

_FIXED_TIME = datetime(2026, 1, 1)
_CANONICAL_KEYS = ("Table", "Trigger", "Hit policy", "Description", "Risk")


def export_workbook(rs: RuleSet) -> bytes:
    import openpyxl
    from openpyxl.styles import Font

    book = openpyxl.Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for table in rs.tables:
        sheet = book.create_sheet(table.sheet)
        _write_table(sheet, table, Font(bold=True))
    if rs.tests:
        _write_tests(book.create_sheet("_tests"), rs.tests)
    book.properties.created = _FIXED_TIME
    book.properties.modified = _FIXED_TIME
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _meta_value(table: Table, key: str) -> str:
    normalized = " ".join(key.strip().lower().split())
    if normalized == "table":
        return table.name
    if normalized in ("trigger", "triggers"):
        return ", ".join(table.triggers)
    if normalized in ("hit policy", "hitpolicy"):
        return f"{table.hit_policy} {table.aggregation}" if table.aggregation else table.hit_policy
    if normalized == "description":
        return table.description
    if normalized == "risk":
        return table.risk
    return ""


def _layout(table: Table) -> tuple[list[tuple[str, int]], int]:
    """Metadata (key, row) to write and how far the header and rules move down."""
    recorded = [(key, row) for key, _, row in table.meta_rows]
    keys = {" ".join(k.lower().split()) for k, _ in recorded}
    if {"trigger", "hit policy"} <= keys or ({"triggers", "hit policy"} <= keys):
        return recorded, 0
    canonical = [(key, row) for row, key in enumerate(_CANONICAL_KEYS, start=1)]
    shift = max(0, len(canonical) + 2 - table.header_row)
    return canonical, shift


def _write_table(sheet: Any, table: Table, bold: Any) -> None:
    meta, shift = _layout(table)
    for key, row in meta:
        sheet.cell(row=row, column=1, value=key).font = bold
        sheet.cell(row=row, column=2, value=_cell_value(_meta_value(table, key)))
    header = table.header_row + shift
    for index, column in enumerate(table.columns, start=1):
        text = (
            f"{column.kind} {column.name}"
            if column.kind in ("when", "then", "do")
            else (column.kind if column.kind == "priority" else "note")
        )
        sheet.cell(row=header, column=index, value=text).font = bold
    for rule in table.rules:
        for index, text in enumerate(rule.cells, start=1):
            if text:
                sheet.cell(row=rule.row + shift, column=index, value=_cell_value(text))
    sheet.freeze_panes = sheet.cell(row=header + 1, column=1)


def _cell_value(text: str) -> Any:
    """Numbers go in as numbers when that reads back as the same text."""
    for kind in (int, float):
        try:
            number = kind(text)
        except ValueError:
            continue
        if value_to_text(number) == text:
            return number
    return text


def _write_tests(sheet: Any, tests: list[TestCase]) -> None:
    sheet.cell(row=1, column=1, value="event")
    sheet.cell(row=1, column=2, value="expect")
    for case in tests:
        sheet.cell(row=case.row, column=1, value=json.dumps(case.event, ensure_ascii=False))
        sheet.cell(row=case.row, column=2, value=json.dumps(case.expect, ensure_ascii=False))
