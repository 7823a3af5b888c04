"""Raw sheets of text → the model: metadata rows, the header row, rules, the `_tests` sheet."""

from __future__ import annotations

import json
import re
from typing import Any

from .model import AGGREGATIONS, HIT_POLICIES, Column, Problem, Rule, Table, TestCase
from .workbook import RawSheet, column_letter

_META_KEYS = {
    "table": "table",
    "trigger": "trigger",
    "triggers": "trigger",
    "hit policy": "hit policy",
    "hitpolicy": "hit policy",
    "description": "description",
    "risk": "risk",
}
_HEADER = re.compile(r"^\s*(when|then|do)\s+(.+?)\s*$", re.IGNORECASE)
_NAME = re.compile(r"^[^\W\d][\w]*$")
_PATH = re.compile(r"^[^\W\d][\w]*(\.[\w]+)*$")
_RANGE_REF = re.compile(r"^([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?$")


def build_tables(sheets: list[RawSheet]) -> tuple[list[Table], list[TestCase], list[Problem]]:
    problems: list[Problem] = []
    tables: list[Table] = []
    tests: list[TestCase] = []
    for sheet in sheets:
        problems.extend(sheet.problems)
        if sheet.name.strip().lower() == "_tests":
            tests.extend(_read_tests(sheet, problems))
        elif sheet.name.startswith("_"):
            continue
        elif not sheet.rows:
            problems.append(
                Problem(
                    sheet.name,
                    "A1",
                    "the sheet is empty; remove it or start its name with _ to keep it as notes",
                    "warning",
                )
            )
        else:
            table = _read_table(sheet, problems)
            if table is not None:
                tables.append(table)
    if not tables and not any(p.severity == "error" for p in problems):
        problems.append(Problem("", "", "the workbook has no decision table"))
    _check_unique_names(tables, problems)
    return tables, tests, problems


def _check_unique_names(tables: list[Table], problems: list[Problem]) -> None:
    seen: dict[str, Table] = {}
    for table in tables:
        if table.name in seen:
            problems.append(
                Problem(
                    table.sheet,
                    "B1",
                    f"table name {table.name!r} is also used on sheet {seen[table.name].sheet!r}",
                )
            )
        seen[table.name] = table


def _read_table(sheet: RawSheet, problems: list[Problem]) -> Table | None:
    meta: dict[str, tuple[str, int]] = {}
    meta_rows: list[tuple[str, str, int]] = []
    header_index = None
    for index, (number, cells) in enumerate(sheet.rows):
        first = cells[0] if cells else ""
        if _is_header_cell(first):
            header_index = index
            break
        key = _META_KEYS.get(re.sub(r"\s+", " ", first.strip().lower()))
        value = cells[1] if len(cells) > 1 else ""
        if key is None:
            if first:
                problems.append(
                    Problem(
                        sheet.name,
                        f"A{number}",
                        f"unknown setting {first!r}; "
                        "expected Table, Trigger, Hit policy, Description or Risk",
                        "warning",
                    )
                )
            continue
        meta[key] = (value, number)
        meta_rows.append((first, value, number))
    if header_index is None:
        problems.append(
            Problem(
                sheet.name,
                "A1",
                "no header row: a table needs a row whose first "
                "cell starts with 'when', 'then' or 'do' (e.g. 'when order.total')",
            )
        )
        return None
    header_number, header_cells = sheet.rows[header_index]
    columns = _read_columns(sheet.name, header_number, header_cells, problems)
    rules = _read_rules(sheet, header_index, header_number, len(header_cells), problems)
    _check_merged(sheet, header_number, rules, problems)
    name, triggers, policy, aggregation = _read_meta(sheet.name, meta, problems)
    return Table(
        name=name,
        sheet=sheet.name,
        triggers=triggers,
        hit_policy=policy,
        aggregation=aggregation,
        description=meta.get("description", ("", 0))[0],
        risk=meta.get("risk", ("", 0))[0].strip().lower(),
        header_row=header_number,
        columns=tuple(columns),
        rules=tuple(
            Rule(number, tuple(cells[i] if i < len(cells) else "" for i in range(len(columns))))
            for number, cells in rules
        ),
        meta_rows=tuple(meta_rows),
    )


def _is_header_cell(text: str) -> bool:
    word = text.strip().split(" ", 1)[0].lower() if text.strip() else ""
    return word in ("when", "then", "do")


def _read_columns(
    sheet: str, number: int, cells: list[str], problems: list[Problem]
) -> list[Column]:
    columns: list[Column] = []
    for index, text in enumerate(cells):
        letter = column_letter(index)
        columns.append(_read_column(sheet, f"{letter}{number}", letter, text, problems))
    return columns


def _read_column(sheet: str, ref: str, letter: str, text: str, problems: list[Problem]) -> Column:
    stripped = text.strip()
    lowered = stripped.lower()
    if lowered in ("priority", "note", "notes", ""):
        kind = "note" if lowered in ("note", "notes", "") else "priority"
        return Column(kind, "", letter)  # type: ignore[arg-type]
    match = _HEADER.match(stripped)
    if not match:
        problems.append(
            Problem(
                sheet,
                ref,
                f"unknown column {stripped!r}: a header is 'when <path>', "
                "'then <name>', 'do <action>', 'priority' or 'note'",
            )
        )
        return Column("note", "", letter)
    kind, name = match.group(1).lower(), match.group(2).strip()
    if kind == "when" and not _PATH.match(name):
        problems.append(Problem(sheet, ref, f"{name!r} is not a path like order.total"))
    if kind in ("then", "do") and not _NAME.match(name):
        problems.append(Problem(sheet, ref, f"{name!r} is not a name (letters, digits, _)"))
    return Column(kind, name if kind == "when" else name.lower() if kind == "do" else name, letter)  # type: ignore[arg-type]


def _read_rules(
    sheet: RawSheet, header_index: int, header_number: int, width: int, problems: list[Problem]
) -> list[tuple[int, list[str]]]:
    rules: list[tuple[int, list[str]]] = []
    expected = header_number + 1
    for number, cells in sheet.rows[header_index + 1 :]:
        if number != expected:
            break  # rules follow the header until an empty row
        if len(cells) > width and any(cells[width:]):
            extra = next(i for i in range(width, len(cells)) if cells[i])
            problems.append(
                Problem(
                    sheet.name,
                    f"{column_letter(extra)}{number}",
                    "a value under no header; add a header or clear the cell",
                )
            )
        rules.append((number, cells[:width]))
        expected += 1
    return rules


def _check_merged(
    sheet: RawSheet, header_number: int, rules: list[tuple[int, list[str]]], problems: list[Problem]
) -> None:
    last = rules[-1][0] if rules else header_number
    for ref in sheet.merged:
        match = _RANGE_REF.match(ref)
        if not match:
            continue
        top = int(match.group(2))
        bottom = int(match.group(4) or top)
        if top <= last and bottom >= header_number:
            problems.append(
                Problem(
                    sheet.name,
                    ref,
                    "merged cells in a table: unmerge them and "
                    "type the value in every cell it applies to",
                )
            )


def _read_meta(
    sheet: str, meta: dict[str, tuple[str, int]], problems: list[Problem]
) -> tuple[str, tuple[str, ...], str, str | None]:
    name = meta.get("table", ("", 0))[0].strip() or sheet
    if not _NAME.match(name):
        row = meta.get("table", ("", 1))[1]
        problems.append(
            Problem(sheet, f"B{row}", f"table name {name!r}: use letters, digits and _")
        )
    trigger_text, trigger_row = meta.get("trigger", ("", 0))
    triggers = tuple(t.strip() for t in re.split(r"[,、\s]+", trigger_text) if t.strip())
    if not triggers:
        problems.append(
            Problem(
                sheet,
                f"B{trigger_row}" if trigger_row else "A1",
                "the table has no Trigger (event types, e.g. return.requested)",
            )
        )
    policy_text, policy_row = meta.get("hit policy", ("", 0))
    policy, aggregation = parse_hit_policy(policy_text)
    if policy_text and policy is None:
        problems.append(
            Problem(
                sheet,
                f"B{policy_row}",
                f"unknown hit policy {policy_text!r}; "
                f"one of {', '.join(HIT_POLICIES)}, COLLECT SUM|MIN|MAX|COUNT",
            )
        )
    if not policy_text:
        problems.append(Problem(sheet, "A1", "no Hit policy row; UNIQUE is assumed", "warning"))
    return name, triggers, policy or "UNIQUE", aggregation


def parse_hit_policy(text: str) -> tuple[str | None, str | None]:
    words = re.sub(r"[\s_]+", " ", text.strip().upper()).split(" ") if text.strip() else []
    aliases = {
        "U": "UNIQUE",
        "F": "FIRST",
        "P": "PRIORITY",
        "A": "ANY",
        "C": "COLLECT",
        "R": "RULE ORDER",
    }
    if not words:
        return None, None
    if words[:2] == ["RULE", "ORDER"] and len(words) == 2:
        return "RULE ORDER", None
    head = aliases.get(words[0], words[0])
    if head == "COLLECT" and len(words) == 2:
        agg = {"+": "SUM", "<": "MIN", ">": "MAX", "#": "COUNT"}.get(words[1], words[1])
        return ("COLLECT", agg) if agg in AGGREGATIONS else (None, None)
    if head in HIT_POLICIES and len(words) == 1:
        return head, None
    return None, None


def _read_tests(sheet: RawSheet, problems: list[Problem]) -> list[TestCase]:
    if not sheet.rows:
        return []
    header_number, header = sheet.rows[0]
    lowered = [cell.strip().lower() for cell in header]
    if "event" not in lowered or "expect" not in lowered:
        problems.append(
            Problem(
                sheet.name,
                f"A{header_number}",
                "the _tests sheet needs the columns 'event' and 'expect'",
            )
        )
        return []
    event_col, expect_col = lowered.index("event"), lowered.index("expect")
    cases: list[TestCase] = []
    for number, cells in sheet.rows[1:]:
        event = _json_cell(sheet.name, event_col, number, cells, problems)
        expect = _json_cell(sheet.name, expect_col, number, cells, problems)
        if event is None or expect is None:
            continue
        if not isinstance(event.get("type", event.get("trigger")), str):
            problems.append(
                Problem(
                    sheet.name,
                    f"{column_letter(event_col)}{number}",
                    'the event needs a "type", e.g. {"type": "order.placed", "data": {...}}',
                )
            )
            continue
        cases.append(TestCase(number, event, expect))
    return cases


def _json_cell(
    sheet: str, col: int, number: int, cells: list[str], problems: list[Problem]
) -> dict[str, Any] | None:
    ref = f"{column_letter(col)}{number}"
    text = cells[col] if col < len(cells) else ""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        problems.append(
            Problem(sheet, ref, f"not valid JSON ({error.msg} at character {error.pos})")
        )
        return None
    if not isinstance(value, dict):
        problems.append(Problem(sheet, ref, "expected a JSON object {...}"))
        return None
    return value
