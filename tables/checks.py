"""Static checks that warn before an event ever arrives: rows that FIRST can never reach,
rows that UNIQUE lets overlap, and combinations of listed values that no row matches.

Cells are reduced to shapes over integer codes (numbers and dates ranked among the column's
literals, as the compiler does) and the checks run on bitsets, so a 5,000-row table is checked
in well under a second. Cells with paths or expressions are not judged (no warning either way).
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field
from typing import Any

from . import lang as L
from . import values as V
from .analysis import ParsedTable
from .compiler import literal_kind, rank
from .model import Problem

MAX_WARNINGS_PER_CHECK = 10
MAX_GAP_COMBINATIONS = 20_000


@dataclass(frozen=True, slots=True)
class _Shape:
    kind: str  # "any", "set" (texts/booleans), "codes" (numbers/dates), "unknown"
    values: frozenset[Any] = frozenset()
    low: int = 0
    high: int = 0


_ANY = _Shape("any")
_UNKNOWN = _Shape("unknown")




@dataclass(slots=True)
class _Column:
    literals: list[Any] = field(default_factory=list)  # sorted ordered literals of one kind
    ordered_kind: str | None = None

    def code(self, value: Any) -> int:
        return rank(self.literals, value)

    @property
    def top(self) -> int:
        return 2 * len(self.literals) + 1

    def describe(self, code: int) -> str:
        if code % 2 == 0:
            return f"= {_show(self.literals[code // 2 - 1])}"
        below = code // 2
        if below == 0:
            return f"< {_show(self.literals[0])}"
        if below == len(self.literals):
            return f"> {_show(self.literals[-1])}"
        return f"between {_show(self.literals[below - 1])} and {_show(self.literals[below])}"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    return str(V.to_json_value(value))


def _items(test: L.Test) -> tuple[L.Cmp | L.Range, ...] | None:
    if isinstance(test, (L.Cmp, L.Range)):
        return (test,)
    if isinstance(test, L.OneOf):
        return test.items
    return None


def _literal_values(test: L.Test) -> list[Any] | None:
    items = _items(test)
    if items is None:
        return None
    found: list[Any] = []
    for item in items:
        ends = [item.operand] if isinstance(item, L.Cmp) else [item.low, item.high]
        for end in ends:
            if not isinstance(end, L.Lit) or literal_kind(end.value) is None:
                return None
            if isinstance(item, L.Cmp) and item.op == "!=":
                return None
            found.append(end.value)
    return found


def _column_domain(tests: list[L.Test]) -> _Column:
    ordered: dict[str, set[Any]] = {"n": set(), "d": set()}
    for test in tests:
        for value in _literal_values(test) or []:
            kind = literal_kind(value)
            if kind in ordered:
                ordered[kind].add(float(value) if kind == "n" else value)
    kinds = [k for k, v in ordered.items() if v]
    if len(kinds) != 1:
        return _Column()
    return _Column(sorted(ordered[kinds[0]]), kinds[0])


def _shape(test: L.Test, column: _Column) -> _Shape:
    if isinstance(test, L.AnyTest):
        return _ANY
    items = _items(test)
    values = _literal_values(test)
    if items is None or values is None:
        return _UNKNOWN
    kinds = {literal_kind(v) for v in values}
    if len(kinds) != 1:
        return _UNKNOWN
    kind = kinds.pop()
    if kind in ("s", "b"):
        if all(isinstance(i, L.Cmp) and i.op == "=" for i in items):
            return _Shape("set", frozenset((kind, v) for v in values))
        return _UNKNOWN
    if kind != column.ordered_kind or len(items) != 1:
        return _UNKNOWN
    item = items[0]
    norm = (lambda v: float(v)) if kind == "n" else (lambda v: v)
    if isinstance(item, L.Range):
        low = column.code(norm(item.low.value)) + (0 if item.low_closed else 1)  # type: ignore[union-attr]
        high = column.code(norm(item.high.value)) - (0 if item.high_closed else 1)  # type: ignore[union-attr]
    else:
        code = column.code(norm(item.operand.value))  # type: ignore[union-attr]
        low, high = {
            "=": (code, code),
            "<": (1, code - 1),
            "<=": (1, code),
            ">": (code + 1, column.top),
            ">=": (code, column.top),
        }[item.op]
    return _Shape("codes", low=low, high=high)


class _ColumnBits:
    """Bitsets over the rows of one column, for cover and overlap questions."""

    def __init__(self, shapes: list[_Shape], texts: list[str]) -> None:
        self.always = 0
        self.by_value: dict[Any, int] = {}
        self.by_text: dict[str, int] = {}
        intervals: list[tuple[int, int, int]] = []
        for row, (shape, text) in enumerate(zip(shapes, texts, strict=True)):
            bit = 1 << row
            self.by_text[text] = self.by_text.get(text, 0) | bit
            if shape.kind == "any":
                self.always |= bit
            elif shape.kind == "set":
                for value in shape.values:
                    self.by_value[value] = self.by_value.get(value, 0) | bit
            elif shape.kind == "codes":
                intervals.append((shape.low, shape.high, row))
        by_low = sorted(intervals)
        self.lows = [low for low, _, _ in by_low]
        self.low_prefix = list(itertools.accumulate((1 << r for _, _, r in by_low), int.__or__))
        by_high = sorted(intervals, key=lambda t: -t[1])
        self.highs = [-high for _, high, _ in by_high]
        self.high_prefix = list(itertools.accumulate((1 << r for _, _, r in by_high), int.__or__))

    def _low_at_most(self, code: int) -> int:
        at = bisect.bisect_right(self.lows, code)
        return self.low_prefix[at - 1] if at else 0

    def _high_at_least(self, code: int) -> int:
        at = bisect.bisect_right(self.highs, -code)
        return self.high_prefix[at - 1] if at else 0

    def containing(self, code: int) -> int:
        return self._low_at_most(code) & self._high_at_least(code)

    def covering(self, shape: _Shape, text: str) -> int:
        if shape.kind == "any":
            return self.always
        if shape.kind == "set":
            rows = -1
            for value in shape.values:
                rows &= self.by_value.get(value, 0)
            return self.always | rows
        if shape.kind == "codes":
            return self.always | (self.containing(shape.low) & self.containing(shape.high))
        return self.always | self.by_text.get(text, 0)

    def overlapping(self, shape: _Shape, text: str, everything: int) -> int:
        if shape.kind == "any":
            return everything
        if shape.kind == "set":
            rows = 0
            for value in shape.values:
                rows |= self.by_value.get(value, 0)
            return self.always | rows
        if shape.kind == "codes":
            return self.always | (self._low_at_most(shape.high) & self._high_at_least(shape.low))
        return self.always | self.by_text.get(text, 0)


def static_checks(tables: list[ParsedTable]) -> list[Problem]:
    problems: list[Problem] = []
    for table in tables:
        if not table.rules:
            problems.append(
                Problem(
                    table.table.sheet,
                    f"A{table.table.header_row}",
                    "the table has no rows",
                    "warning",
                )
            )
            continue
        _check_table(table, problems)
    return problems


def _check_table(table: ParsedTable, problems: list[Problem]) -> None:
    rules = table.rules
    columns = [_column_domain([r.tests[c] for r in rules]) for c in range(len(table.inputs))]
    shapes = [[_shape(r.tests[c], columns[c]) for r in rules] for c in range(len(columns))]
    texts = [
        [table.table.rules[r.index].cells[table.input_columns[c]] for r in rules]
        for c in range(len(columns))
    ]
    bits = [_ColumnBits(shapes[c], texts[c]) for c in range(len(columns))]
    everything = (1 << len(rules)) - 1
    policy = table.table.hit_policy
    if policy == "FIRST":
        covers = [
            [bits[c].covering(shapes[c][j], texts[c][j]) for c in range(len(bits))]
            for j in range(len(rules))
        ]
        _earlier_rows(
            table,
            covers,
            problems,
            "row {j} is never used: row {i} above it "
            "matches every event it matches (hit policy FIRST)",
        )
    if policy == "UNIQUE":
        overlaps = [
            [
                0
                if shapes[c][j].kind == "unknown"
                else bits[c].overlapping(shapes[c][j], texts[c][j], everything)
                for c in range(len(bits))
            ]
            for j in range(len(rules))
        ]
        _earlier_rows(
            table,
            overlaps,
            problems,
            "rows {i} and {j} can both match one event (hit policy UNIQUE)",
        )
    _gaps(table, columns, shapes, bits, everything, problems)


def _earlier_rows(
    table: ParsedTable, related: list[list[int]], problems: list[Problem], message: str
) -> None:
    """Warns about each row j that some earlier row i relates to in every column (`related[j]`
    holds, per column, the bitset of rows related to j)."""
    found = 0
    for j, rule in enumerate(table.rules):
        earlier = (1 << j) - 1
        for column_rows in related[j]:
            earlier &= column_rows
            if not earlier:
                break
        if earlier:
            i = (earlier & -earlier).bit_length() - 1
            text = message.format(i=table.rules[i].row, j=rule.row)
            problems.append(Problem(table.table.sheet, f"A{rule.row}", text, "warning"))
            found += 1
            if found >= MAX_WARNINGS_PER_CHECK:
                return


def _gaps(
    table: ParsedTable,
    columns: list[_Column],
    shapes: list[list[_Shape]],
    bits: list[_ColumnBits],
    everything: int,
    problems: list[Problem],
) -> None:
    if not columns:
        return
    choices: list[list[tuple[str, Any]]] = []
    for c, column in enumerate(columns):
        values = sorted({v for s in shapes[c] if s.kind == "set" for v in s.values}, key=repr)
        if column.ordered_kind and any(s.kind == "codes" for s in shapes[c]):
            choices.append([("code", code) for code in range(1, column.top + 1)])
        elif values:
            choices.append([("value", v) for v in values])
        else:
            choices.append([("free", None)])
    total = 1
    for options in choices:
        total *= len(options)
    if total > MAX_GAP_COMBINATIONS:
        return
    unknown = [_unknown_rows(column_shapes) for column_shapes in shapes]
    found = 0
    for combination in itertools.product(*choices):
        rows = everything
        for c, (how, value) in enumerate(combination):
            column_bits = bits[c]
            if how == "code":
                rows &= column_bits.always | column_bits.containing(value) | unknown[c]
            elif how == "value":
                rows &= column_bits.always | column_bits.by_value.get(value, 0) | unknown[c]
            if not rows:
                break
        if rows:
            continue
        described = [
            _describe(table, c, columns[c], how, value)
            for c, (how, value) in enumerate(combination)
            if how != "free"
        ]
        problems.append(
            Problem(
                table.table.sheet,
                f"A{table.table.header_row}",
                f"no row matches {' and '.join(described)}",
                "warning",
            )
        )
        found += 1
        if found >= MAX_WARNINGS_PER_CHECK:
            return


def _unknown_rows(shapes: list[_Shape]) -> int:
    rows = 0
    for row, shape in enumerate(shapes):
        if shape.kind == "unknown":
            rows |= 1 << row
    return rows


def _describe(table: ParsedTable, c: int, column: _Column, how: str, value: Any) -> str:
    path = ".".join(table.inputs[c])
    if how == "code":
        return f"{path} {column.describe(value)}"
    return f"{path} = {_show(value[1])}"
