"""A structured diff of two rulesets in their normalized form (`RuleSet.to_json()`). Pure.

    tables.diff(old.to_json(), new.to_json()) ->
    {"identical": bool,
     "summary": {"tables_added", "tables_removed", "tables_changed",
                 "rows_added", "rows_removed", "rows_changed", "rows_moved"},
     "tables_added": [{"table", "sheet", "rows"}], "tables_removed": [...],
     "tables_changed": [{"table", "sheet", "metadata": [{"field", "from", "to"}],
                         "columns_added": [...], "columns_removed": [...],
                         "rows_added": [{"row", "ref", "cells"}], "rows_removed": [...],
                         "rows_changed": [{"from_row", "to_row", "ref", "cells":
                                           [{"column", "from", "to"}]}],
                         "rows_moved": [{"from_row", "to_row", "ref"}]}],
     "tests": {"added": [...], "removed": [...]}}

Tables are matched by name, columns by kind and name ("when order.total"), rows by content:
unchanged rows are aligned first (longest matching sequence), so a row inserted at the top is
one added row; the rows left over in the same place are paired as "changed" when at least
half of their cells agree; an identical row in another place is "moved".
"""

from __future__ import annotations

import difflib
from typing import Any

METADATA_FIELDS = ("sheet", "triggers", "hit_policy", "description", "risk")
SIMILAR = 0.5
MAX_PAIRING = 250_000  # above old×new rows in one block, rows are paired by position

Row = dict[str, Any]


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    old_tables = _by_name(old.get("tables", []))
    new_tables = _by_name(new.get("tables", []))
    added = [_table_ref(new_tables[n]) for n in new_tables if n not in old_tables]
    removed = [_table_ref(old_tables[n]) for n in old_tables if n not in new_tables]
    changed = []
    for name in new_tables:
        if name in old_tables:
            table_diff = _diff_table(old_tables[name], new_tables[name])
            if table_diff is not None:
                changed.append(table_diff)
    tests = _diff_tests(old.get("tests", []), new.get("tests", []))
    result: dict[str, Any] = {
        "tables_added": added,
        "tables_removed": removed,
        "tables_changed": changed,
        "tests": tests,
    }
    result["summary"] = _summary(result)
    result["identical"] = not (added or removed or changed or tests["added"] or tests["removed"])
    return result


def _by_name(tables: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in tables}


def _table_ref(table: dict[str, Any]) -> dict[str, Any]:
    return {
        "table": table["name"],
        "sheet": table.get("sheet", ""),
        "rows": len(table.get("rules", [])),
    }


def _summary(result: dict[str, Any]) -> dict[str, int]:
    changed = result["tables_changed"]
    return {
        "tables_added": len(result["tables_added"]),
        "tables_removed": len(result["tables_removed"]),
        "tables_changed": len(changed),
        **{
            key: sum(len(t[key]) for t in changed)
            for key in ("rows_added", "rows_removed", "rows_changed", "rows_moved")
        },
    }


# ---------------------------------------------------------------------------------- tables


def _diff_table(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
    old_labels = _labels(old)
    new_labels = _labels(new)
    common = [label for label in new_labels if label in old_labels]
    rows = _diff_rows(
        _rows(old, old_labels),
        _rows(new, new_labels),
        common,
        old.get("sheet", ""),
        new.get("sheet", ""),
    )
    result = {
        "table": new["name"],
        "sheet": new.get("sheet", ""),
        "metadata": _diff_metadata(old, new),
        "columns_added": [_column(new, label) for label in new_labels if label not in old_labels],
        "columns_removed": [_column(old, label) for label in old_labels if label not in new_labels],
        **rows,
    }
    keys = (
        "metadata",
        "columns_added",
        "columns_removed",
        "rows_added",
        "rows_removed",
        "rows_changed",
        "rows_moved",
    )
    return result if any(result[k] for k in keys) else None


def _diff_metadata(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"field": name, "from": old.get(name), "to": new.get(name)}
        for name in METADATA_FIELDS
        if _norm_meta(old.get(name)) != _norm_meta(new.get(name))
    ]


def _norm_meta(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else (value or "")


def _labels(table: dict[str, Any]) -> list[str]:
    """One label a column ("when order.total", "priority"); repeats get "#2", "#3"."""
    seen: dict[str, int] = {}
    labels = []
    for column in table.get("columns", []):
        base = f"{column['kind']} {column.get('name', '')}".strip()
        seen[base] = seen.get(base, 0) + 1
        labels.append(base if seen[base] == 1 else f"{base} #{seen[base]}")
    return labels


def _column(table: dict[str, Any], label: str) -> dict[str, Any]:
    index = _labels(table).index(label)
    column = table["columns"][index]
    return {"column": label, "letter": column.get("letter", "")}


def _rows(table: dict[str, Any], labels: list[str]) -> list[Row]:
    return [
        {"row": rule["row"], "cells": dict(zip(labels, rule.get("cells", []), strict=False))}
        for rule in table.get("rules", [])
    ]


# ------------------------------------------------------------------------------------ rows


def _diff_rows(
    old: list[Row], new: list[Row], common: list[str], old_sheet: str, new_sheet: str
) -> dict[str, list[dict[str, Any]]]:
    old_keys = [_key(r, common) for r in old]
    new_keys = [_key(r, common) for r in new]
    matcher = difflib.SequenceMatcher(a=old_keys, b=new_keys, autojunk=False)
    removed: list[Row] = []
    added: list[Row] = []
    changed: list[dict[str, Any]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        pairs, lone_old, lone_new = _pair(old[i1:i2], new[j1:j2], common)
        changed += [_changed(a, b, common, new_sheet) for a, b in pairs]
        removed += lone_old
        added += lone_new
    moved, removed, added = _moves(removed, added, common, new_sheet)
    return {
        "rows_added": [_row_out(r, new_sheet) for r in added],
        "rows_removed": [_row_out(r, old_sheet) for r in removed],
        "rows_changed": changed,
        "rows_moved": moved,
    }


def _key(row: Row, columns: list[str]) -> tuple[str, ...]:
    return tuple(_cell(row, c) for c in columns)


def _cell(row: Row, column: str) -> str:
    value = str(row["cells"].get(column, "")).strip()
    return "" if value == "-" else value


def _similarity(a: Row, b: Row, columns: list[str]) -> float:
    if not columns:
        return 0.0
    return sum(_cell(a, c) == _cell(b, c) for c in columns) / len(columns)


def _pair(
    old: list[Row], new: list[Row], columns: list[str]
) -> tuple[list[tuple[Row, Row]], list[Row], list[Row]]:
    """Pairs the most similar rows of a replaced block (at least half the cells equal)."""
    if len(old) * len(new) > MAX_PAIRING:
        return _pair_in_place(old, new, columns)
    candidates = sorted(
        (
            (_similarity(a, b, columns), -abs(i - j), i, j)
            for i, a in enumerate(old)
            for j, b in enumerate(new)
        ),
        reverse=True,
    )
    used_old: set[int] = set()
    used_new: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for score, _, i, j in candidates:
        if score < SIMILAR:
            break
        if i not in used_old and j not in used_new:
            used_old.add(i)
            used_new.add(j)
            pairs.append((i, j))
    pairs.sort(key=lambda p: p[1])
    return (
        [(old[i], new[j]) for i, j in pairs],
        [r for i, r in enumerate(old) if i not in used_old],
        [r for j, r in enumerate(new) if j not in used_new],
    )


def _pair_in_place(
    old: list[Row], new: list[Row], columns: list[str]
) -> tuple[list[tuple[Row, Row]], list[Row], list[Row]]:
    pairs, lone_old, lone_new = [], list(old[len(new) :]), list(new[len(old) :])
    for a, b in zip(old, new, strict=False):
        if _similarity(a, b, columns) >= SIMILAR:
            pairs.append((a, b))
        else:
            lone_old.append(a)
            lone_new.append(b)
    return pairs, lone_old, lone_new


def _moves(
    removed: list[Row], added: list[Row], columns: list[str], sheet: str
) -> tuple[list[dict[str, Any]], list[Row], list[Row]]:
    """A removed row whose content reappears among the added rows moved."""
    moved = []
    remaining_added = list(added)
    remaining_removed = []
    for row in removed:
        key = _key(row, columns)
        match = next((r for r in remaining_added if _key(r, columns) == key), None)
        if match is None:
            remaining_removed.append(row)
            continue
        remaining_added.remove(match)
        moved.append(
            {"from_row": row["row"], "to_row": match["row"], "ref": f"{sheet}!{match['row']}"}
        )
    return moved, remaining_removed, remaining_added


def _changed(old: Row, new: Row, columns: list[str], sheet: str) -> dict[str, Any]:
    cells = [
        {"column": c, "from": old["cells"].get(c, ""), "to": new["cells"].get(c, "")}
        for c in columns
        if _cell(old, c) != _cell(new, c)
    ]
    return {
        "from_row": old["row"],
        "to_row": new["row"],
        "ref": f"{sheet}!{new['row']}",
        "cells": cells,
    }


def _row_out(row: Row, sheet: str) -> dict[str, Any]:
    return {"row": row["row"], "ref": f"{sheet}!{row['row']}", "cells": dict(row["cells"])}


# ----------------------------------------------------------------------------------- tests


def _diff_tests(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, Any]:
    def key(case: dict[str, Any]) -> str:
        import json

        return json.dumps(
            {"event": case.get("event"), "expect": case.get("expect")}, sort_keys=True
        )

    old_keys = {key(c) for c in old}
    new_keys = {key(c) for c in new}
    return {
        "added": [c for c in new if key(c) not in old_keys],
        "removed": [c for c in old if key(c) not in new_keys],
    }
