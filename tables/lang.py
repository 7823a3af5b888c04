"""The cell language: a small FEEL-like language for `when`, `then` and `do` cells.

Text is tokenized and parsed into an AST (never passed to `eval`), then turned into plain
Python closures for evaluation. See README "The cell language".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from . import values as V

# --------------------------------------------------------------------------- AST


@dataclass(frozen=True, slots=True)
class Lit:
    value: Any


@dataclass(frozen=True, slots=True)
class Path:
    parts: tuple[str, ...]

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Expr


@dataclass(frozen=True, slots=True)
class BinOp:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Expr, ...]


Expr = Lit | Path | Neg | BinOp | Call


@dataclass(frozen=True, slots=True)
class AnyTest:
    """`-` or an empty cell: matches anything, null included."""


@dataclass(frozen=True, slots=True)
class Cmp:
    op: str  # = != < <= > >=
    operand: Expr


@dataclass(frozen=True, slots=True)
class Range:
    low: Expr
    high: Expr
    low_closed: bool
    high_closed: bool


@dataclass(frozen=True, slots=True)
class OneOf:
    items: tuple[Cmp | Range, ...]


@dataclass(frozen=True, slots=True)
class Not:
    inner: OneOf


Test = AnyTest | Cmp | Range | OneOf | Not


class ParseError(ValueError):
    pass


# --------------------------------------------------------------------------- lexer

_FULL_WIDTH = str.maketrans(
    "０１２３４５６７８９＜＞＝！＋－＊／（）［］，．　＂",
    '0123456789<>=!+-*/()[],. "',
)
_YEN = "¥￥"
_NUMBER = re.compile(r"(\d{1,3}(?:,\d{3})+(?!\d)|\d+)(\.\d+)?")
_DURATION_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_OPERATORS = ("<=", ">=", "!=", "..", "<", ">", "=", "+", "-", "*", "/", "(", ")", "[", "]", ",")
_QUOTES = {'"': '"', "“": "”", "”": "”", "'": "'", "‘": "’", "「": "」"}
KEYWORDS = {"true": True, "false": False, "null": None}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # num, str, dur, name, op, end
    value: Any
    pos: int


@dataclass(slots=True)
class Lexed:
    tokens: list[Token]
    notes: list[str]  # things read generously, reported as warnings


def _translate_outside_quotes(text: str) -> tuple[str, bool]:
    out: list[str] = []
    changed = False
    closing: str | None = None
    for ch in text:
        if closing is not None:
            out.append(ch)
            if ch == closing:
                closing = None
            continue
        if ch in _QUOTES:
            closing = _QUOTES[ch]
            out.append(ch)
            continue
        mapped = ch.translate(_FULL_WIDTH)
        changed = changed or mapped != ch
        out.append(mapped)
    return "".join(out), changed


def _is_name_start(ch: str) -> bool:
    return ch.isalpha() or ch == "_" or ord(ch) > 0x2E7F


def _is_name_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_" or ord(ch) > 0x2E7F


def tokenize(source: str) -> Lexed:
    text, widened = _translate_outside_quotes(source)
    notes: list[str] = []
    if widened:
        notes.append("full-width characters were read as their ASCII forms")
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in _QUOTES:
            i = _lex_string(text, i, tokens)
        elif ch in _YEN or ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            i = _lex_number(text, i, tokens, notes)
        elif _is_name_start(ch):
            i = _lex_name(text, i, tokens)
        else:
            for op in _OPERATORS:
                if text.startswith(op, i):
                    tokens.append(Token("op", op, i))
                    i += len(op)
                    break
            else:
                raise ParseError(f"unexpected character {ch!r}")
    tokens.append(Token("end", None, n))
    return Lexed(tokens, notes)


def _lex_string(text: str, start: int, tokens: list[Token]) -> int:
    closing = _QUOTES[text[start]]
    i = start + 1
    buf: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            buf.append(text[i + 1])
            i += 2
            continue
        if ch == closing:
            tokens.append(Token("str", "".join(buf), start))
            return i + 1
        buf.append(ch)
        i += 1
    raise ParseError("a quoted text is not closed")


def _lex_number(text: str, start: int, tokens: list[Token], notes: list[str]) -> int:
    i = start
    yen = text[i] in _YEN
    if yen:
        i += 1
    match = _NUMBER.match(text, i)
    if not match:
        raise ParseError("a yen sign must be followed by a number")
    whole, frac = match.group(1), match.group(2) or ""
    if "," in whole or yen:
        notes.append(
            f"{text[start : match.end()]!r} was read as the number {whole.replace(',', '')}{frac}"
        )
    digits = whole.replace(",", "") + frac
    number: float | int = float(digits) if frac else int(digits)
    i = match.end()
    if (
        i < len(text)
        and text[i] in _DURATION_UNITS
        and not (i + 1 < len(text) and _is_name_char(text[i + 1]))
    ):
        tokens.append(Token("dur", timedelta(seconds=number * _DURATION_UNITS[text[i]]), start))
        return i + 1
    if i < len(text) and _is_name_char(text[i]):
        raise ParseError(f"unexpected {text[start : i + 1]!r}: a number runs into letters")
    tokens.append(Token("num", number, start))
    return i


def _lex_name(text: str, start: int, tokens: list[Token]) -> int:
    i = start
    parts: list[str] = []
    while True:
        j = i
        while j < len(text) and _is_name_char(text[j]):
            j += 1
        parts.append(text[i:j])
        if j + 1 < len(text) and text[j] == "." and _is_name_char(text[j + 1]):
            i = j + 1
            continue
        tokens.append(Token("name", tuple(parts), start))
        return j


# --------------------------------------------------------------------------- parser

FUNCTIONS: dict[str, tuple[int, int]] = {  # name -> (min args, max args)
    "min": (1, 64),
    "max": (1, 64),
    "abs": (1, 1),
    "round": (1, 2),
    "floor": (1, 1),
    "ceil": (1, 1),
    "date": (1, 1),
    "datetime": (1, 1),
    "days": (1, 1),
    "hours": (1, 1),
    "lower": (1, 1),
    "upper": (1, 1),
    "contains": (2, 2),
    "len": (1, 1),
}


class _Parser:
    def __init__(self, lexed: Lexed) -> None:
        self.tokens = lexed.tokens
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.value in ops

    def take_op(self, op: str) -> None:
        if not self.at_op(op):
            raise ParseError(f"expected {op!r} {self.where()}")
        self.i += 1

    def where(self) -> str:
        tok = self.tok
        if tok.kind == "end":
            return "at the end"
        shown = ".".join(tok.value) if tok.kind == "name" else tok.value
        return f"before {shown!r}"

    def expect_end(self) -> None:
        if self.tok.kind != "end":
            hint = ""
            if self.tok.kind == "name":
                hint = " (put text with spaces in quotes)"
            raise ParseError(f"unexpected text {self.where()}{hint}")

    # expressions ---------------------------------------------------------------
    def expr(self) -> Expr:
        node = self.term()
        while self.at_op("+", "-"):
            op = self.tok.value
            self.i += 1
            node = BinOp(op, node, self.term())
        return node

    def term(self) -> Expr:
        node = self.unary()
        while self.at_op("*", "/"):
            op = self.tok.value
            self.i += 1
            node = BinOp(op, node, self.unary())
        return node

    def unary(self) -> Expr:
        if self.at_op("-"):
            self.i += 1
            operand = self.unary()
            if isinstance(operand, Lit) and V.is_number(operand.value):
                return Lit(-operand.value)
            if isinstance(operand, Lit) and isinstance(operand.value, timedelta):
                return Lit(-operand.value)
            return Neg(operand)
        return self.primary()

    def primary(self) -> Expr:
        tok = self.tok
        if tok.kind in ("num", "str", "dur"):
            self.i += 1
            return Lit(tok.value)
        if tok.kind == "name":
            self.i += 1
            parts: tuple[str, ...] = tok.value
            if self.at_op("("):
                return self.call(parts)
            if len(parts) == 1 and parts[0].lower() in KEYWORDS:
                return Lit(KEYWORDS[parts[0].lower()])
            if len(parts) == 1:
                return Lit(parts[0])  # a bare word is text: damaged == "damaged"
            return Path(parts)
        if self.at_op("("):
            self.i += 1
            node = self.expr()
            self.take_op(")")
            return node
        raise ParseError(f"expected a value {self.where()}")

    def call(self, parts: tuple[str, ...]) -> Expr:
        name = ".".join(parts).lower()
        if name not in FUNCTIONS:
            raise ParseError(f"unknown function {name!r}; known: {', '.join(sorted(FUNCTIONS))}")
        self.take_op("(")
        args: list[Expr] = []
        if not self.at_op(")"):
            args.append(self.expr())
            while self.at_op(","):
                self.i += 1
                args.append(self.expr())
        self.take_op(")")
        low, high = FUNCTIONS[name]
        if not low <= len(args) <= high:
            raise ParseError(
                f"{name}() takes {low if low == high else f'{low} to {high}'} argument(s)"
            )
        return _fold_call(name, tuple(args))

    # unary tests ---------------------------------------------------------------
    def test(self) -> Test:
        if (
            self.tok.kind == "name"
            and self.tok.value == ("not",)
            and self.tokens[self.i + 1].value == "("
        ):
            self.i += 2
            inner = self.one_of()
            self.take_op(")")
            self.expect_end()
            return Not(inner)
        items = self.one_of()
        self.expect_end()
        return items.items[0] if len(items.items) == 1 else items

    def one_of(self) -> OneOf:
        items = [self.positive()]
        while self.at_op(","):
            self.i += 1
            items.append(self.positive())
        return OneOf(tuple(items))

    def positive(self) -> Cmp | Range:
        if self.at_op("<", "<=", ">", ">=", "=", "!="):
            op = self.tok.value
            self.i += 1
            return Cmp(op, self.expr())
        if self.at_op("[", "]", "("):
            saved = self.i
            opener = self.tok.value
            self.i += 1
            low = self.expr()
            if self.at_op(".."):
                self.i += 1
                high = self.expr()
                if not self.at_op("]", ")", "["):
                    raise ParseError(f"expected ']' or ')' to close the range {self.where()}")
                closer = self.tok.value
                self.i += 1
                return Range(low, high, opener == "[", closer == "]")
            self.i = saved
        return Cmp("=", self.expr())


def _fold_call(name: str, args: tuple[Expr, ...]) -> Expr:
    """date("…") and datetime("…") with literal text become literals, checked now."""
    if name in ("date", "datetime") and isinstance(args[0], Lit):
        raw = args[0].value
        if not isinstance(raw, str):
            raise ParseError(f'{name}() expects text like "2026-01-31"')
        parsed = V.to_date(raw) if name == "date" else V.to_datetime(raw)
        if parsed is None:
            raise ParseError(f"{raw!r} is not a valid {name}")
        return Lit(parsed)
    if name in ("days", "hours") and isinstance(args[0], Lit) and V.is_number(args[0].value):
        unit = 86400 if name == "days" else 3600
        return Lit(timedelta(seconds=float(args[0].value) * unit))
    return Call(name, args)


@dataclass(frozen=True, slots=True)
class Parsed:
    node: Any
    notes: tuple[str, ...]


def parse_test(text: str) -> Parsed:
    stripped = text.strip()
    if stripped in ("", "-", "−", "－"):
        return Parsed(AnyTest(), ())
    lexed = tokenize(stripped)
    return Parsed(_Parser(lexed).test(), tuple(lexed.notes))


def parse_expr(text: str) -> Parsed:
    lexed = tokenize(text.strip())
    parser = _Parser(lexed)
    node = parser.expr()
    parser.expect_end()
    return Parsed(node, tuple(lexed.notes))


def parse_params(text: str) -> tuple[list[tuple[str, Expr]], tuple[str, ...]]:
    """`key=value, key=value` of a `do` cell."""
    lexed = tokenize(text.strip())
    parser = _Parser(lexed)
    params: list[tuple[str, Expr]] = []
    while True:
        tok = parser.tok
        if tok.kind != "name" or len(tok.value) != 1:
            raise ParseError(f"expected a parameter name like amount=… {parser.where()}")
        key = tok.value[0]
        parser.i += 1
        parser.take_op("=")
        params.append((key, parser.expr()))
        if not parser.at_op(","):
            break
        parser.i += 1
    parser.expect_end()
    return params, tuple(lexed.notes)


# --------------------------------------------------------------------------- walking


def expr_paths(node: Expr) -> list[Path]:
    if isinstance(node, Path):
        return [node]
    if isinstance(node, Neg):
        return expr_paths(node.operand)
    if isinstance(node, BinOp):
        return expr_paths(node.left) + expr_paths(node.right)
    if isinstance(node, Call):
        return [p for arg in node.args for p in expr_paths(arg)]
    return []


def test_paths(node: Test) -> list[Path]:
    if isinstance(node, Cmp):
        return expr_paths(node.operand)
    if isinstance(node, Range):
        return expr_paths(node.low) + expr_paths(node.high)
    if isinstance(node, OneOf):
        return [p for item in node.items for p in test_paths(item)]
    if isinstance(node, Not):
        return test_paths(node.inner)
    return []


# --------------------------------------------------------------------------- evaluation

Env = tuple[Mapping[str, Any], Mapping[str, Any]]  # (event data + enrichment, outputs so far)
ExprFn = Callable[[Env], Any]
TestFn = Callable[[Any, Env], bool]


def resolve(parts: tuple[str, ...], env: Env) -> Any:
    """A path's value: bare names read outputs, dotted paths read the data; missing is null."""
    data, outputs = env
    if len(parts) == 1:
        value = outputs.get(parts[0])
        return (
            value
            if value is not None
            else data.get(parts[0])
            if isinstance(data, Mapping)
            else None
        )
    current: Any = data
    for part in parts:
        if type(current) is dict or isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
        if current is None:
            return None
    return current


def compile_expr(node: Expr) -> ExprFn:
    if isinstance(node, Lit):
        value = node.value
        return lambda env: value
    if isinstance(node, Path):
        parts = node.parts
        return lambda env: resolve(parts, env)
    if isinstance(node, Neg):
        inner = compile_expr(node.operand)
        return lambda env: negate(inner(env))
    if isinstance(node, BinOp):
        left, right, fn = compile_expr(node.left), compile_expr(node.right), _ARITHMETIC[node.op]
        return lambda env: fn(left(env), right(env))
    args = [compile_expr(arg) for arg in node.args]
    function = _FUNCTION_IMPLS[node.name]
    return lambda env: function([arg(env) for arg in args])


def compile_test(node: Test) -> TestFn:
    if isinstance(node, AnyTest):
        return lambda value, env: True
    if isinstance(node, Cmp):
        operand = compile_expr(node.operand)
        check = _COMPARISONS[node.op]
        return lambda value, env: check(value, operand(env))
    if isinstance(node, Range):
        low, high = compile_expr(node.low), compile_expr(node.high)
        low_ok = (lambda c: c >= 0) if node.low_closed else (lambda c: c > 0)
        high_ok = (lambda c: c <= 0) if node.high_closed else (lambda c: c < 0)

        def in_range(value: Any, env: Env) -> bool:
            above = V.compare(value, low(env))
            if above is None or not low_ok(above):
                return False
            below = V.compare(value, high(env))
            return below is not None and high_ok(below)

        return in_range
    if isinstance(node, OneOf):
        items = [compile_test(item) for item in node.items]
        return lambda value, env: any(item(value, env) for item in items)
    inner = compile_test(node.inner)
    return lambda value, env: not inner(value, env)


def _ordered(predicate: Callable[[int], bool]) -> Callable[[Any, Any], bool]:
    def check(left: Any, right: Any) -> bool:
        result = V.compare(left, right)
        return result is not None and predicate(result)

    return check


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": V.equals,
    "!=": lambda left, right: not V.equals(left, right),
    "<": _ordered(lambda c: c < 0),
    "<=": _ordered(lambda c: c <= 0),
    ">": _ordered(lambda c: c > 0),
    ">=": _ordered(lambda c: c >= 0),
}


def _num(value: Any) -> float | int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return V.to_number(value)


def negate(value: Any) -> Any:
    if isinstance(value, timedelta):
        return -value
    number = _num(value)
    return None if number is None else -number


def _add(left: Any, right: Any) -> Any:
    if isinstance(left, (date, datetime)) and isinstance(right, timedelta):
        return left + right
    if isinstance(left, timedelta) and isinstance(right, (date, datetime, timedelta)):
        return right + left
    if isinstance(left, str) and isinstance(right, str) and V.to_number(left) is None:
        return left + right
    return _numeric(left, right, lambda a, b: a + b)


def _sub(left: Any, right: Any) -> Any:
    if isinstance(left, (date, datetime)) and isinstance(right, timedelta):
        return left - right
    if isinstance(left, timedelta) and isinstance(right, timedelta):
        return left - right
    if isinstance(left, datetime) or isinstance(right, datetime):
        a, b = V.to_datetime(left), V.to_datetime(right)
        return None if a is None or b is None else a - b
    if isinstance(left, date) and isinstance(right, date):
        return left - right
    return _numeric(left, right, lambda a, b: a - b)


def _mul(left: Any, right: Any) -> Any:
    if isinstance(left, timedelta) and _num(right) is not None:
        return left * float(right)
    if isinstance(right, timedelta) and _num(left) is not None:
        return right * float(left)
    return _numeric(left, right, lambda a, b: a * b)


def _div(left: Any, right: Any) -> Any:
    if isinstance(left, timedelta) and isinstance(right, timedelta):
        return None if not right else left / right
    if isinstance(left, timedelta) and _num(right):
        return left / float(right)
    return _numeric(left, right, lambda a, b: a / b if b else None)


def _numeric(left: Any, right: Any, fn: Callable[[Any, Any], Any]) -> Any:
    a, b = _num(left), _num(right)
    if a is None or b is None:
        return None
    try:
        result = fn(a, b)
    except (OverflowError, ZeroDivisionError):
        return None
    if isinstance(result, float) and not math.isfinite(result):
        return None
    return result


_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {"+": _add, "-": _sub, "*": _mul, "/": _div}


def _extreme(pick: Callable[..., Any]) -> Callable[[list[Any]], Any]:
    def run(args: list[Any]) -> Any:
        items = args[0] if len(args) == 1 and isinstance(args[0], list) else args
        present = [item for item in items if item is not None]
        if not present:
            return None
        numbers = [_num(item) for item in present]
        if all(n is not None for n in numbers):
            return pick(numbers)
        try:
            return pick(present)
        except TypeError:
            return None

    return run


def _unary_number(fn: Callable[[Any], Any]) -> Callable[[list[Any]], Any]:
    def run(args: list[Any]) -> Any:
        number = _num(args[0])
        return None if number is None else fn(number)

    return run


def _round(args: list[Any]) -> Any:
    number = _num(args[0])
    places = _num(args[1]) if len(args) > 1 else 0
    if number is None or places is None:
        return None
    return round(number, int(places)) if places else int(round(number))


def _len(args: list[Any]) -> Any:
    return len(args[0]) if isinstance(args[0], (str, list, dict)) else None


def _contains(args: list[Any]) -> Any:
    haystack, needle = args
    if isinstance(haystack, str) and isinstance(needle, str):
        return needle in haystack
    if isinstance(haystack, list):
        return any(V.equals(item, needle) for item in haystack)
    return None


def _text(fn: Callable[[str], str]) -> Callable[[list[Any]], Any]:
    return lambda args: fn(args[0]) if isinstance(args[0], str) else None


def _as_date(args: list[Any]) -> Any:
    return V.to_date(args[0])


def _as_datetime(args: list[Any]) -> Any:
    return V.to_datetime(args[0])


def _span(unit: int) -> Callable[[list[Any]], Any]:
    return _unary_number(lambda n: timedelta(seconds=float(n) * unit))


_FUNCTION_IMPLS: dict[str, Callable[[list[Any]], Any]] = {
    "min": _extreme(min),
    "max": _extreme(max),
    "abs": _unary_number(abs),
    "round": _round,
    "floor": _unary_number(math.floor),
    "ceil": _unary_number(math.ceil),
    "date": _as_date,
    "datetime": _as_datetime,
    "days": _span(86400),
    "hours": _span(3600),
    "lower": _text(str.lower),
    "upper": _text(str.upper),
    "contains": _contains,
    "len": _len,
}
