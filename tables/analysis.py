"""Model → parsed tables: every cell parsed into the AST, checked, and the tables put in the
order forward chaining needs. All problems are collected, each with its sheet and cell."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from . import catalogue
from . import lang as L
from . import values as V
from .model import Problem, Table

KNOWN_ROOTS = frozenset(
    {
        "order",
        "customer",
        "return",
        "delivery",
        "shipment",
        "refund",
        "cancel",
        "cancellation",
        "ticket",
        "payment",
        "fraud",
        "address",
        "event",
        "items",
        "line_items",
        "product",
        "fulfillment",
        "inventory",
        "carrier",
        "tracking",
        "store",
        "shop",
        "subscription",
    }
)
NUMERIC_PATHS = frozenset(
    {
        "order.total",
        "order.subtotal",
        "customer.cancellations_30d",
        "customer.returns_90d",
        "customer.orders",
        "delivery.days_since",
        "delivery.delay_days",
        "shipment.delay_days",
        "refund.amount",
        "return.quantity",
        "fraud.score",
    }
)
ORDERING_OPS = ("<", "<=", ">", ">=")


@dataclass(frozen=True, slots=True)
class ParsedAction:
    name: str
    column: int
    params: tuple[tuple[str, L.ExprFn], ...]
    delay: L.ExprFn | None
    approval: L.ExprFn | None


@dataclass(frozen=True, slots=True)
class ParsedRule:
    index: int  # position in the table
    row: int
    ref: str  # "sheet!7"
    tests: tuple[L.Test, ...]  # one per `when` column
    test_fns: tuple[L.TestFn, ...]
    outputs: tuple[tuple[str, L.ExprFn], ...]
    actions: tuple[ParsedAction, ...]
    priority: int
    constant_outputs: dict[str, Any] | None = None  # when every `then` cell is a literal


@dataclass(frozen=True, slots=True)
class ParsedTable:
    table: Table
    inputs: tuple[tuple[str, ...], ...]  # path parts per `when` column
    input_columns: tuple[int, ...]  # their column indexes in table.columns
    output_names: tuple[str, ...]
    rules: tuple[ParsedRule, ...]
    reads: frozenset[str]  # bare output names this table reads

    @property
    def name(self) -> str:
        return self.table.name


def parse_tables(tables: list[Table]) -> tuple[list[ParsedTable], list[Problem]]:
    problems: list[Problem] = []
    parsed = [_parse_table(table, problems) for table in tables]
    ordered = _order_by_dependencies(parsed, problems)
    return ordered, problems


def _parse_table(table: Table, problems: list[Problem]) -> ParsedTable:
    when_cols = [i for i, c in enumerate(table.columns) if c.kind == "when"]
    then_cols = [i for i, c in enumerate(table.columns) if c.kind == "then"]
    do_cols = [i for i, c in enumerate(table.columns) if c.kind == "do"]
    priority_cols = [i for i, c in enumerate(table.columns) if c.kind == "priority"]
    _check_columns(table, when_cols, then_cols, do_cols, priority_cols, problems)
    rules = []
    for index, rule in enumerate(table.rules):
        tests = tuple(
            _parse_when(table, col, rule.row, rule.cells[col], problems) for col in when_cols
        )
        outputs = tuple(
            (table.columns[col].name, _parse_then(table, col, rule.row, rule.cells[col], problems))
            for col in then_cols
        )
        actions = tuple(
            action
            for col in do_cols
            if (action := _parse_do(table, col, rule.row, rule.cells[col], problems)) is not None
        )
        priority = _parse_priority(table, priority_cols, rule.row, rule.cells, problems)
        rules.append(
            ParsedRule(
                index,
                rule.row,
                table.row_ref(rule.row),
                tests,
                tuple(L.compile_test(t) for t in tests),
                outputs,
                actions,
                priority,
                _constant_outputs(outputs),
            )
        )
    _check_column_types(table, when_cols, rules, problems)
    _check_aggregation_values(table, then_cols, problems)
    inputs = tuple(tuple(table.columns[c].name.split(".")) for c in when_cols)
    return ParsedTable(
        table=table,
        inputs=inputs,
        input_columns=tuple(when_cols),
        output_names=tuple(table.columns[c].name for c in then_cols),
        rules=tuple(rules),
        reads=frozenset(p[0] for p in inputs if len(p) == 1),
    )


def _check_columns(
    table: Table,
    when_cols: list[int],
    then_cols: list[int],
    do_cols: list[int],
    priority_cols: list[int],
    problems: list[Problem],
) -> None:
    header = f"A{table.header_row}"
    if not then_cols and not do_cols:
        problems.append(
            Problem(
                table.sheet, header, "the table has no 'then' or 'do' column, so it decides nothing"
            )
        )
    names = [table.columns[c].name for c in then_cols]
    for col in then_cols:
        if names.count(table.columns[col].name) > 1:
            problems.append(
                Problem(
                    table.sheet,
                    table.cell_ref(col, table.header_row),
                    f"output {table.columns[col].name!r} appears twice",
                )
            )
    for col in do_cols:
        action = table.columns[col].name
        if action not in catalogue.CATALOGUE:
            close = difflib.get_close_matches(action, list(catalogue.CATALOGUE), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(
                Problem(
                    table.sheet,
                    table.cell_ref(col, table.header_row),
                    f"unknown action {action!r}{hint} Known actions: "
                    f"{', '.join(catalogue.CATALOGUE)}",
                )
            )
    if table.hit_policy == "PRIORITY" and not priority_cols:
        problems.append(
            Problem(
                table.sheet,
                header,
                "hit policy PRIORITY needs a 'priority' column (the highest number wins)",
            )
        )
    if len(priority_cols) > 1:
        problems.append(
            Problem(
                table.sheet,
                table.cell_ref(priority_cols[1], table.header_row),
                "only one 'priority' column is allowed",
            )
        )
    if table.aggregation and len(then_cols) != 1:
        problems.append(
            Problem(
                table.sheet,
                header,
                f"COLLECT {table.aggregation} needs exactly one "
                f"'then' column, found {len(then_cols)}",
            )
        )
    for col in when_cols:
        _check_path(table, col, table.columns[col].name, problems)


def _check_path(table: Table, col: int, path: str, problems: list[Problem]) -> None:
    parts = path.split(".")
    if len(parts) > 1 and parts[0] not in KNOWN_ROOTS:
        close = difflib.get_close_matches(parts[0], sorted(KNOWN_ROOTS), n=1)
        hint = f"; did you mean {'.'.join([close[0], *parts[1:]])!r}?" if close else ""
        problems.append(
            Problem(
                table.sheet,
                table.cell_ref(col, table.header_row),
                f"unknown path {path!r}: events have no {parts[0]!r}{hint}",
                "warning",
            )
        )


def _cell_problem(
    table: Table, col: int, row: int, message: str, severity: str = "error"
) -> Problem:
    return Problem(table.sheet, table.cell_ref(col, row), message, severity)  # type: ignore[arg-type]


def _notes(
    table: Table, col: int, row: int, notes: tuple[str, ...], problems: list[Problem]
) -> None:
    for note in notes:
        problems.append(_cell_problem(table, col, row, note, "warning"))


def _parse_when(table: Table, col: int, row: int, text: str, problems: list[Problem]) -> L.Test:
    try:
        parsed = L.parse_test(text)
    except L.ParseError as error:
        problems.append(_cell_problem(table, col, row, f"{error} in {text!r}"))
        return L.AnyTest()
    _notes(table, col, row, parsed.notes, problems)
    test = fold_test(parsed.node)
    for path in L.test_paths(test):
        _check_cell_path(table, col, row, path, problems)
    _check_test_shape(table, col, row, test, problems)
    return test


def _check_cell_path(
    table: Table, col: int, row: int, path: L.Path, problems: list[Problem]
) -> None:
    if path.parts[0] not in KNOWN_ROOTS:
        problems.append(_cell_problem(table, col, row, f"unknown path {path.text!r}", "warning"))


def _check_test_shape(
    table: Table, col: int, row: int, test: L.Test, problems: list[Problem]
) -> None:
    items = (
        test.inner.items
        if isinstance(test, L.Not)
        else test.items
        if isinstance(test, L.OneOf)
        else (test,)
        if isinstance(test, (L.Cmp, L.Range))
        else ()
    )
    for item in items:
        if isinstance(item, L.Cmp) and item.op in ORDERING_OPS and isinstance(item.operand, L.Lit):
            value = item.operand.value
            if value is None or isinstance(value, bool):
                problems.append(
                    _cell_problem(
                        table,
                        col,
                        row,
                        f"'{item.op}' needs a number, date or duration, got {V.kind_of(value)}",
                    )
                )
        if (
            isinstance(item, L.Range)
            and isinstance(item.low, L.Lit)
            and isinstance(item.high, L.Lit)
        ):
            low, high = item.low.value, item.high.value
            if V.kind_of(low) != V.kind_of(high) and not (V.is_number(low) and V.is_number(high)):
                problems.append(
                    _cell_problem(
                        table,
                        col,
                        row,
                        f"a range from {V.kind_of(low)} to "
                        f"{V.kind_of(high)}: both ends must be the same kind",
                    )
                )
            elif V.compare(high, low) is None:
                problems.append(
                    _cell_problem(
                        table, col, row, "a range needs numbers, dates or durations at both ends"
                    )
                )
            elif (V.compare(high, low) or 0) < 0:
                problems.append(
                    _cell_problem(
                        table, col, row, "the range is empty: its low end is above its high end"
                    )
                )


def _literal_items(test: L.Test) -> list[tuple[str, Any]]:
    """(op, literal) pairs of a test's literal operands, for column type checks."""
    if isinstance(test, L.Not):
        return _literal_items(test.inner)
    if isinstance(test, L.OneOf):
        return [pair for item in test.items for pair in _literal_items(item)]
    if isinstance(test, L.Cmp) and isinstance(test.operand, L.Lit):
        return [(test.op, test.operand.value)]
    if isinstance(test, L.Range):
        ends = [e.value for e in (test.low, test.high) if isinstance(e, L.Lit)]
        return [("range", value) for value in ends]
    return []


def _check_column_types(
    table: Table, when_cols: list[int], rules: list[ParsedRule], problems: list[Problem]
) -> None:
    """A column compared as numbers (or dates) everywhere must not hold text in one cell."""
    for position, col in enumerate(when_cols):
        path = table.columns[col].name
        kinds: dict[str, int] = {}
        for rule in rules:
            for op, value in _literal_items(rule.tests[position]):
                if op in ORDERING_OPS or op == "range" or path in NUMERIC_PATHS:
                    kind = "number" if V.is_number(value) else V.kind_of(value)
                    if kind in ("number", "date", "datetime", "duration"):
                        kinds[kind] = kinds.get(kind, 0) + 1
        expected = (
            "number" if path in NUMERIC_PATHS else max(kinds, key=kinds.__getitem__, default=None)
        )
        if expected is None:
            continue
        for rule in rules:
            for _op, value in _literal_items(rule.tests[position]):
                kind = "number" if V.is_number(value) else V.kind_of(value)
                if (
                    value is not None
                    and kind != expected
                    and not (expected in ("date", "datetime") and kind in ("date", "datetime"))
                ):
                    problems.append(
                        _cell_problem(
                            table, col, rule.row, f"expected a {expected}, got {_show(value)}"
                        )
                    )


def _show(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(V.to_json_value(value))


def _check_aggregation_values(table: Table, then_cols: list[int], problems: list[Problem]) -> None:
    if table.aggregation not in ("SUM", "MIN", "MAX"):
        return
    for col in then_cols:
        for rule in table.rules:
            text = rule.cells[col]
            try:
                node = fold_expr(L.parse_expr(text).node) if text.strip() not in ("", "-") else None
            except L.ParseError:
                continue
            if isinstance(node, L.Lit) and node.value is not None and not V.is_number(node.value):
                problems.append(
                    _cell_problem(
                        table,
                        col,
                        rule.row,
                        f"COLLECT {table.aggregation} needs numbers, got {_show(node.value)}",
                    )
                )


def _constant(value: Any) -> L.ExprFn:
    def fn(env: L.Env) -> Any:
        return value

    fn.constant = V.to_json_value(value)  # type: ignore[attr-defined]
    return fn


def _constant_outputs(outputs: tuple[tuple[str, L.ExprFn], ...]) -> dict[str, Any] | None:
    if not all(hasattr(fn, "constant") for _, fn in outputs):
        return None
    return {name: fn.constant for name, fn in outputs}  # type: ignore[attr-defined]


def _parse_then(table: Table, col: int, row: int, text: str, problems: list[Problem]) -> L.ExprFn:
    if text.strip() in ("", "-"):
        return _constant(None)
    try:
        parsed = L.parse_expr(text)
    except L.ParseError as error:
        problems.append(_cell_problem(table, col, row, f"{error} in {text!r}"))
        return lambda env: None
    _notes(table, col, row, parsed.notes, problems)
    node = fold_expr(parsed.node)
    for path in L.expr_paths(node):
        _check_cell_path(table, col, row, path, problems)
    return _constant(node.value) if isinstance(node, L.Lit) else L.compile_expr(node)


_YES = {"x", "yes", "y", "true", "✓", "✔", "○", "◯", "はい"}


def _parse_do(
    table: Table, col: int, row: int, text: str, problems: list[Problem]
) -> ParsedAction | None:
    action = table.columns[col].name
    stripped = text.strip()
    if stripped in ("", "-") or stripped.lower() in ("no", "n", "false"):
        return None
    if stripped.lower() in _YES:
        params: list[tuple[str, L.Expr]] = []
    else:
        try:
            params, notes = L.parse_params(stripped)
        except L.ParseError as error:
            problems.append(
                _cell_problem(
                    table,
                    col,
                    row,
                    f"{error} in {text!r} (write key=value, key=value, or x to act with defaults)",
                )
            )
            return None
        _notes(table, col, row, notes, problems)
    params = [(key, fold_expr(expr)) for key, expr in params]
    if action in catalogue.CATALOGUE:
        _check_params(table, col, row, action, params, problems)
    delay = next((e for k, e in params if k == "delay"), None)
    approval = next((e for k, e in params if k == "approval"), None)
    return ParsedAction(
        name=action,
        column=col,
        params=tuple((k, L.compile_expr(e)) for k, e in params if k not in catalogue.RESERVED),
        delay=L.compile_expr(delay) if delay is not None else None,
        approval=L.compile_expr(approval) if approval is not None else None,
    )


def _check_params(
    table: Table,
    col: int,
    row: int,
    action: str,
    params: list[tuple[str, L.Expr]],
    problems: list[Problem],
) -> None:
    allowed = catalogue.parameter_names(action)
    given = [key for key, _ in params]
    for key, expr in params:
        if key in given[: given.index(key)]:
            problems.append(_cell_problem(table, col, row, f"parameter {key!r} is given twice"))
        elif key == "delay":
            if not (
                isinstance(expr, L.Lit)
                and isinstance(expr.value, timedelta)
                and expr.value.total_seconds() >= 0
            ):
                problems.append(
                    _cell_problem(table, col, row, "delay must be a duration like 3d, 12h or 30m")
                )
        elif key == "approval":
            if not (isinstance(expr, L.Lit) and isinstance(expr.value, str)):
                problems.append(
                    _cell_problem(
                        table, col, row, 'approval must be a role name, e.g. approval="manager"'
                    )
                )
        elif key not in allowed:
            problems.append(
                _cell_problem(
                    table,
                    col,
                    row,
                    f"{action} has no parameter {key!r}; it "
                    f"takes {', '.join(allowed + list(catalogue.RESERVED))}",
                )
            )
        elif isinstance(expr, L.Lit):
            reason = catalogue.check_literal(action, key, V.to_json_value(expr.value))
            if reason:
                problems.append(_cell_problem(table, col, row, reason))
        for path in L.expr_paths(expr):
            _check_cell_path(table, col, row, path, problems)
    for key in catalogue.required_parameters(action):
        if key not in given:
            problems.append(_cell_problem(table, col, row, f"{action} needs {key}=…"))


def _parse_priority(
    table: Table, cols: list[int], row: int, cells: tuple[str, ...], problems: list[Problem]
) -> int:
    if not cols:
        return 0
    text = cells[cols[0]].strip()
    if not text:
        if table.hit_policy == "PRIORITY":
            problems.append(_cell_problem(table, cols[0], row, "a priority is needed (an integer)"))
        return 0
    try:
        return int(text)
    except ValueError:
        problems.append(
            _cell_problem(table, cols[0], row, f"priority must be an integer, got {text!r}")
        )
        return 0


# --------------------------------------------------------------------------- constant folding


def fold_expr(node: L.Expr) -> L.Expr:
    """Expressions without paths become literals, so `30 + 5` is as fast as `35`."""
    if isinstance(node, (L.Lit, L.Path)):
        return node
    if not L.expr_paths(node):
        return L.Lit(L.compile_expr(node)(({}, {})))
    if isinstance(node, L.BinOp):
        return L.BinOp(node.op, fold_expr(node.left), fold_expr(node.right))
    if isinstance(node, L.Neg):
        return L.Neg(fold_expr(node.operand))
    if isinstance(node, L.Call):
        return L.Call(node.name, tuple(fold_expr(arg) for arg in node.args))
    return node


def fold_test(node: L.Test) -> L.Test:
    if isinstance(node, L.Cmp):
        return L.Cmp(node.op, fold_expr(node.operand))
    if isinstance(node, L.Range):
        return L.Range(fold_expr(node.low), fold_expr(node.high), node.low_closed, node.high_closed)
    if isinstance(node, L.OneOf):
        return L.OneOf(tuple(fold_test(item) for item in node.items))  # type: ignore[misc]
    if isinstance(node, L.Not):
        return L.Not(L.OneOf(tuple(fold_test(item) for item in node.inner.items)))  # type: ignore[misc]
    return node


# --------------------------------------------------------------------------- dependencies


def _order_by_dependencies(parsed: list[ParsedTable], problems: list[Problem]) -> list[ParsedTable]:
    producer: dict[str, ParsedTable] = {}
    for table in parsed:
        for col, name in zip(_then_cols(table), table.output_names, strict=True):
            if name in producer:
                problems.append(
                    Problem(
                        table.table.sheet,
                        table.table.cell_ref(col, table.table.header_row),
                        f"output {name!r} is also produced by table "
                        f"{producer[name].name!r}; each output needs one table",
                    )
                )
            else:
                producer[name] = table
    for table in parsed:
        for position, parts in enumerate(table.inputs):
            if len(parts) == 1 and parts[0] not in producer:
                col = table.input_columns[position]
                problems.append(
                    Problem(
                        table.table.sheet,
                        table.table.cell_ref(col, table.table.header_row),
                        f"{parts[0]!r} is not an output of any table (a path into "
                        "the event has a dot, e.g. order.total)",
                    )
                )
    return _topological(parsed, producer, problems)


def _then_cols(table: ParsedTable) -> list[int]:
    return [i for i, c in enumerate(table.table.columns) if c.kind == "then"]


def _topological(
    parsed: list[ParsedTable], producer: dict[str, ParsedTable], problems: list[Problem]
) -> list[ParsedTable]:
    ordered: list[ParsedTable] = []
    state: dict[str, str] = {}

    def visit(table: ParsedTable, chain: list[str]) -> None:
        if state.get(table.name) == "done":
            return
        if state.get(table.name) == "active":
            cycle = chain[chain.index(table.name) :] + [table.name]
            problems.append(
                Problem(
                    table.table.sheet,
                    f"A{table.table.header_row}",
                    f"tables depend on each other in a cycle: {' → '.join(cycle)}",
                )
            )
            return
        state[table.name] = "active"
        for name in sorted(table.reads):
            source = producer.get(name)
            if source is not None and source is not table:
                visit(source, chain + [table.name])
            elif source is table:
                problems.append(
                    Problem(
                        table.table.sheet,
                        f"A{table.table.header_row}",
                        f"table {table.name!r} reads its own output {name!r}",
                    )
                )
        state[table.name] = "done"
        ordered.append(table)

    for table in parsed:
        visit(table, [])
    return ordered
