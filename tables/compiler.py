"""Compiling parsed tables into durable_rules rulesets, and deciding with them.

How the engine's limits are kept whatever the table (see shared notes/durable_rules.md):
- A table's rows are cut into chunks of at most CHUNK rows, one engine ruleset each. A message
  can then match at most CHUNK < 64 alpha paths (error 303), a chunk never has 500 equality
  values on one property (the hang), and never nears 4,096 rules.
- Values reach the engine as small integers: numbers and dates as their rank among the
  column's literals (order-preserving, so <, <=, =, >, >= mean the same), texts as an id.
  No float formatting, exponent or precision question can make the engine disagree.
- A bitset index per column narrows each event to the candidate rows first, so only chunks
  holding a candidate are asked; FIRST and PRIORITY stop at the first chunk that fires.
- Cells the engine cannot express with one comparison (paths, !=, not(), null, overlapping
  lists) are evaluated in Python and reach the engine as one flag per row.
The reference evaluator (reference.py) is the judge: property tests keep both in agreement.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from . import lang as L
from . import policy
from . import values as V
from .analysis import ParsedRule, ParsedTable
from .engine import MESSAGE_HEAD, EngineRuleset
from .model import Decision

CHUNK = 48
_ORDERED_KINDS = ("n", "d")


@dataclass(slots=True)
class _Domain:
    """The literals of one `when` column, each kind encoded as the engine will see it."""

    numbers: list[float] = field(default_factory=list)
    dates: list[date] = field(default_factory=list)
    texts: dict[str, int] = field(default_factory=dict)

    def rank(self, kind: str, value: Any) -> int:
        return rank(self.numbers if kind == "n" else self.dates, value)

    def size(self, kind: str) -> int:
        """The highest code of an ordered kind (a value above every literal)."""
        return 2 * len(self.numbers if kind == "n" else self.dates) + 1


def rank(literals: list[Any], value: Any) -> int:
    """The order-preserving code of `value` among sorted `literals`: literal i is 2i + 2, a
    value between literals i - 1 and i is 2i + 1, so <, <=, =, >=, > keep their meaning."""
    at = bisect.bisect_left(literals, value)
    return 2 * at + 2 if at < len(literals) and literals[at] == value else 2 * at + 1


def literal_kind(value: Any) -> str | None:
    """How the engine sees a literal: b(oolean), n(umber), s(tring), d(ate); None: not at all."""
    if isinstance(value, bool):
        return "b"
    if V.is_number(value):
        return "n"
    if isinstance(value, str):
        return "s"
    if isinstance(value, date) and not isinstance(value, datetime):
        return "d"
    return None


def _encode_literal(domain: _Domain, kind: str, value: Any) -> int:
    if kind == "n":
        return domain.rank("n", float(value))
    if kind == "d":
        return domain.rank("d", value)
    if kind == "s":
        return domain.texts[value]
    return 1 if value else 0


def _reader(column: int, domain: _Domain, index: _ColumnIndex) -> Callable[[Any], tuple[int, str]]:
    """For one column: input value -> (rows it lets through, its message properties).

    A value gets one integer code per kind it can be compared as: a number (numeric text from
    event data counts) its rank among the column's number literals, a date its rank among the
    date literals, a text its id when a literal equals it, a boolean 1 or 0. Written out flat
    because it runs for every column of every decision."""
    always = index.always
    numbers, dates, texts = domain.numbers, domain.dates, domain.texts
    by_number = index.ordered.get("n")
    by_date = index.ordered.get("d")
    exact = index.exact
    true_rows, false_rows = exact.get(("b", 1), 0), exact.get(("b", 0), 0)
    text_rows = {code: exact.get(("s", code), 0) for code in texts.values()}
    n_key, d_key, s_key, b_key = (f',"{kind}{column}":' for kind in "ndsb")
    finite = math.isfinite

    def read(value: Any) -> tuple[int, str]:
        if value is None:
            return always, ""
        kind = type(value)
        if kind is bool:
            return (always | (true_rows if value else false_rows)), f"{b_key}{1 if value else 0}"
        rows, fragment = always, ""
        if numbers:
            if kind is float:
                number: float | None = value if finite(value) else None
            else:
                number = V.to_number(value)
            if number is not None:
                code = rank(numbers, number)
                if by_number is not None:
                    rows |= by_number[code]
                fragment = f"{n_key}{code}"
        if kind is str and texts:
            text_code = texts.get(value)
            if text_code is not None:
                rows |= text_rows[text_code]
                fragment += f"{s_key}{text_code}"
        if dates and not V.is_number(value):
            day = V.to_date(value)
            if day is not None:
                code = rank(dates, day)
                if by_date is not None:
                    rows |= by_date[code]
                fragment += f"{d_key}{code}"
        return rows, fragment

    return read


# --------------------------------------------------------------------------- native cells

Interval = tuple[str, int, int]  # (kind, first code, last code), inclusive


def _native_items(test: L.Test) -> list[L.Cmp | L.Range] | None:
    """The comparisons of a test when the engine can match them exactly, else None."""
    items: tuple[L.Cmp | L.Range, ...]
    if isinstance(test, (L.Cmp, L.Range)):
        items = (test,)
    elif isinstance(test, L.OneOf):
        items = test.items
        if not all(isinstance(i, L.Cmp) and i.op == "=" for i in items):
            return None  # ranges in a list may overlap, and the engine fires once per branch
        values = [i.operand.value if isinstance(i.operand, L.Lit) else None for i in items]  # type: ignore[union-attr]
        kinds = {literal_kind(v) for v in values}
        keys = {V.to_number(v) if V.is_number(v) else v for v in values}
        if len(kinds) != 1 or len(keys) != len(values):
            return None
    else:
        return None
    for item in items:
        if isinstance(item, L.Cmp):
            if item.op == "!=" or not isinstance(item.operand, L.Lit):
                return None
            kind = literal_kind(item.operand.value)
            if kind is None or (item.op != "=" and kind not in _ORDERED_KINDS):
                return None
        else:
            ends = (item.low, item.high)
            if not all(isinstance(e, L.Lit) for e in ends):
                return None
            kinds = {literal_kind(e.value) for e in ends}  # type: ignore[union-attr]
            if len(kinds) != 1 or kinds.pop() not in _ORDERED_KINDS:
                return None
    return list(items)


def _collect_literals(domain: _Domain, items: list[L.Cmp | L.Range]) -> None:
    for item in items:
        ends = [item.operand] if isinstance(item, L.Cmp) else [item.low, item.high]
        for end in ends:
            value = end.value  # type: ignore[union-attr]
            kind = literal_kind(value)
            if kind == "n":
                domain.numbers.append(float(value))
            elif kind == "d":
                domain.dates.append(value)
            elif kind == "s":
                domain.texts.setdefault(value, len(domain.texts))


def _intervals(domain: _Domain, item: L.Cmp | L.Range) -> Interval:
    if isinstance(item, L.Range):
        kind = literal_kind(item.low.value)  # type: ignore[union-attr]
        assert kind is not None
        low = _encode_literal(domain, kind, item.low.value)  # type: ignore[union-attr]
        high = _encode_literal(domain, kind, item.high.value)  # type: ignore[union-attr]
        return kind, low if item.low_closed else low + 1, high if item.high_closed else high - 1
    value = item.operand.value  # type: ignore[union-attr]
    kind = literal_kind(value)
    assert kind is not None
    code = _encode_literal(domain, kind, value)
    top = domain.size(kind) if kind in _ORDERED_KINDS else code
    return {
        "=": (kind, code, code),
        "<": (kind, 1, code - 1),
        "<=": (kind, 1, code),
        ">": (kind, code + 1, top),
        ">=": (kind, code, top),
    }[item.op]


def _condition(prop: str, interval: Interval, top: int) -> list[dict[str, Any]]:
    _, low, high = interval
    if low == high:
        return [{prop: low}]
    if low <= 1:
        return [{"$lte": {prop: high}}]
    if high >= top:
        return [{"$gte": {prop: low}}]
    return [{"$gte": {prop: low}}, {"$lte": {prop: high}}]


# --------------------------------------------------------------------------- the index


class _ColumnIndex:
    """Which rows a column lets through for an input value, as a bitset over row positions."""

    def __init__(self, domain: _Domain) -> None:
        self.domain = domain
        self.always = 0  # `-` cells and cells evaluated in Python
        self.exact: dict[tuple[str, int], int] = {}  # (kind, code) -> rows, for s and b
        self.ordered: dict[str, list[int]] = {}  # kind -> rows per code (index = code)
        self._starts: dict[str, dict[int, int]] = {"n": {}, "d": {}}
        self._ends: dict[str, dict[int, int]] = {"n": {}, "d": {}}

    def add(self, position: int, intervals: list[Interval] | None) -> None:
        bit = 1 << position
        if intervals is None:
            self.always |= bit
            return
        for kind, low, high in intervals:
            if kind in _ORDERED_KINDS:
                if low <= high:
                    self._starts[kind][low] = self._starts[kind].get(low, 0) | bit
                    self._ends[kind][high] = self._ends[kind].get(high, 0) | bit
            else:
                self.exact[(kind, low)] = self.exact.get((kind, low), 0) | bit

    def seal(self) -> None:
        for kind in _ORDERED_KINDS:
            starts, ends = self._starts[kind], self._ends[kind]
            if not starts:
                continue
            rows, current = [0] * (self.domain.size(kind) + 1), 0
            for code in range(1, len(rows)):
                current |= starts.get(code, 0)
                rows[code] = current
                current &= ~ends.get(code, 0)
            self.ordered[kind] = rows
        del self._starts, self._ends

    def rows_for(self, codes: dict[str, int]) -> int:
        rows = self.always
        for kind, code in codes.items():
            ordered = self.ordered.get(kind)
            if ordered is not None:
                rows |= ordered[code]
            else:
                rows |= self.exact.get((kind, code), 0)
        return rows


# --------------------------------------------------------------------------- compiled tables


@dataclass(slots=True)
class _Chunk:
    engine: EngineRuleset
    mask: int
    flagged: list[int]  # positions of rows that need a Python flag


@dataclass(slots=True)
class _Slot:
    rule: ParsedRule
    flag_tests: list[tuple[int, L.TestFn]]  # (input position, test) evaluated in Python


class CompiledTable:
    def __init__(self, table: ParsedTable) -> None:
        self.table = table
        order = list(table.rules)
        if table.table.hit_policy == "PRIORITY":
            order.sort(key=lambda r: (-r.priority, r.index))
        self.single_hit = table.table.hit_policy in ("FIRST", "PRIORITY")
        self.domains = [_Domain() for _ in table.inputs]
        natives = [[_native_items(test) for test in rule.tests] for rule in order]
        for per_column in natives:
            for domain, items in zip(self.domains, per_column, strict=True):
                if items is not None:
                    _collect_literals(domain, items)
        for domain in self.domains:
            domain.numbers = sorted(set(domain.numbers))
            domain.dates = sorted(set(domain.dates))
        self.indexes = [_ColumnIndex(domain) for domain in self.domains]
        self.slots: list[_Slot] = []
        definitions: list[dict[str, Any]] = []
        for position, (rule, per_column) in enumerate(zip(order, natives, strict=True)):
            definitions.append(self._add_rule(position, rule, per_column))
        for index in self.indexes:
            index.seal()
        self.readers = [
            _reader(column, domain, index)
            for column, (domain, index) in enumerate(zip(self.domains, self.indexes, strict=True))
        ]
        self.all_rows = (1 << len(order)) - 1
        self.chunks = [self._chunk(definitions, start) for start in range(0, len(order), CHUNK)]

    def _add_rule(
        self, position: int, rule: ParsedRule, per_column: list[list[L.Cmp | L.Range] | None]
    ) -> dict[str, Any]:
        conditions: list[dict[str, Any]] = []
        flag_tests: list[tuple[int, L.TestFn]] = []
        for column, (test, items) in enumerate(zip(rule.tests, per_column, strict=True)):
            if isinstance(test, L.AnyTest):
                self.indexes[column].add(position, None)
            elif items is None:
                self.indexes[column].add(position, None)
                flag_tests.append((column, rule.test_fns[column]))
            else:
                intervals = [_intervals(self.domains[column], item) for item in items]
                self.indexes[column].add(position, intervals)
                conditions.extend(_column_condition(column, intervals, self.domains[column]))
        if flag_tests:
            conditions.append({f"x{position}": 1})
        self.slots.append(_Slot(rule, flag_tests))
        if not conditions:
            conditions.append({"k": 1})
        match = conditions[0] if len(conditions) == 1 else {"$and": conditions}
        return {"all": [{"m": match}]}

    def _chunk(self, definitions: list[dict[str, Any]], start: int) -> _Chunk:
        rules: dict[str, dict[str, Any]] = {}
        for offset, definition in enumerate(definitions[start : start + CHUNK]):
            if self.single_hit:
                definition = {**definition, "pri": offset}
            rules[f"r{start + offset}"] = definition
        size = min(CHUNK, len(definitions) - start)
        flagged = [p for p in range(start, start + size) if self.slots[p].flag_tests]
        return _Chunk(EngineRuleset(rules), ((1 << size) - 1) << start, flagged)

    def close(self) -> None:
        for chunk in self.chunks:
            chunk.engine.close()

    # deciding -------------------------------------------------------------------------
    def matches(self, env: L.Env) -> list[ParsedRule]:
        """The rows the hit policy needs, as the engine finds them (in row order)."""
        resolve = L.resolve
        inputs = [resolve(parts, env) for parts in self.table.inputs]
        candidates = self.all_rows
        fragments = []
        for value, read in zip(inputs, self.readers, strict=True):
            rows, fragment = read(value)
            candidates &= rows
            if not candidates:
                return []
            fragments.append(fragment)
        head = MESSAGE_HEAD + "".join(fragments)
        found: list[ParsedRule] = []
        slots = self.slots
        while candidates:
            lowest = (candidates & -candidates).bit_length() - 1
            chunk = self.chunks[lowest // CHUNK]
            in_chunk = candidates & chunk.mask
            candidates &= ~chunk.mask
            text = head
            for position in chunk.flagged:
                if in_chunk >> position & 1 and self._flag(position, inputs, env):
                    text += f',"x{position}":1'
            text += "}"
            if self.single_hit:
                name = chunk.engine.first(text)
                if name is not None:
                    return [slots[int(name[1:])].rule]
            else:
                found.extend(slots[int(n[1:])].rule for n in chunk.engine.all(text))
        found.sort(key=lambda rule: rule.index)
        return found

    def _flag(self, position: int, inputs: list[Any], env: L.Env) -> bool:
        return all(test(inputs[column], env) for column, test in self.slots[position].flag_tests)


def _column_condition(
    column: int, intervals: list[Interval], domain: _Domain
) -> list[dict[str, Any]]:
    def top(kind: str) -> int:
        return domain.size(kind) if kind in _ORDERED_KINDS else 1 << 30

    if len(intervals) == 1:
        kind = intervals[0][0]
        return _condition(f"{kind}{column}", intervals[0], top(kind))
    branches = []
    for interval in intervals:
        parts = _condition(f"{interval[0]}{column}", interval, top(interval[0]))
        branches.append(parts[0] if len(parts) == 1 else {"$and": parts})
    return [{"$or": branches}]


class CompiledRuleset:
    def __init__(self, tables: list[ParsedTable]) -> None:
        self.tables = [CompiledTable(table) for table in tables]
        self.by_trigger: dict[str, list[CompiledTable]] = {}
        for compiled in self.tables:
            for trigger in compiled.table.table.triggers:
                self.by_trigger.setdefault(trigger, []).append(compiled)

    def decide(self, trigger: str, data: Mapping[str, Any]) -> Decision:
        decision = Decision()
        env: L.Env = (data, decision.outputs)
        for compiled in self.by_trigger.get(trigger, ()):
            matched = compiled.matches(env)
            policy.apply(compiled.table, policy.select(compiled.table, matched), env, decision)
        return decision

    def close(self) -> None:
        for compiled in self.tables:
            compiled.close()

