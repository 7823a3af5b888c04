"""The cell language: what each kind of cell means, judged on single values."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tables import lang as L
from tables.analysis import fold_test


def matches(cell: str, value: Any, data: dict[str, Any] | None = None) -> bool:
    test = fold_test(L.parse_test(cell).node)
    return L.compile_test(test)(value, (data or {}, {}))


@pytest.mark.parametrize(
    ("cell", "value", "expected"),
    [
        ("-", None, True),
        ("", "anything", True),
        ('"damaged"', "damaged", True),
        ("damaged", "damaged", True),
        ('"damaged"', "Damaged", False),
        ("破損", "破損", True),
        ("42", 42.0, True),
        ("42", "42", True),  # numeric text from event data reads as a number
        ("42", True, False),
        ("true", True, True),
        ("true", 1, False),
        ("null", None, True),
        ("null", 0, False),
        ("> 30000", 30000.5, True),
        ("> 30000", 30000, False),
        ("> 30000", None, False),
        (">= 1", 1, True),
        ("< 5", "abc", False),
        ('!= "JP"', "US", True),
        ('!= "JP"', None, True),
        ('!= "JP"', "JP", False),
        ("[1..10]", 10, True),
        ("[1..10)", 10, False),
        ("(1..10]", 1, False),
        ('"damaged", "defective"', "defective", True),
        ('not("damaged", "wrong_item")', "late", True),
        ('not("damaged", "wrong_item")', None, True),
        ('not("damaged", "wrong_item")', "damaged", False),
        ('>= date("2026-01-01")', "2026-01-01T09:00:00+09:00", True),
        ('>= date("2026-01-01")', "2025-12-31", False),
        ('>= date("2026-01-01")', date(2026, 3, 1), True),
        ("> 3d", timedelta(days=4), True),
        ("<= 12h", timedelta(hours=13), False),
        ("￥３０,０００", 30000, True),
        ("¥30,000", 30000, True),
        ("30,000", 30000, True),
        ("1, 2, 3", 2, True),
        ("- 5", -5, True),
        ("(1 + 2) * 3", 9, True),
    ],
)
def test_unary_tests(cell: str, value: Any, expected: bool) -> None:
    assert matches(cell, value) is expected


def test_comparisons_read_other_paths() -> None:
    data = {"delivery": {"delay_days": 4}}
    assert matches("<= 30 + delivery.delay_days", 34, data)
    assert not matches("<= 30 + delivery.delay_days", 35, data)
    assert not matches("<= 30 + delivery.delay_days", 10, {})  # a missing path is null


def test_japanese_numbers_are_read_with_a_note() -> None:
    parsed = L.parse_test("￥３０,０００")
    assert parsed.node == L.Cmp("=", L.Lit(30000))
    assert parsed.notes


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("wrong item", "quotes"),
        ('"unclosed', "not closed"),
        ("> ", "expected a value"),
        ("[1..", "expected a value"),
        ("foo(1)", "unknown function"),
        ('date("2026-13-01")', "not a valid date"),
        ("30days", "runs into letters"),
        ("#", "unexpected character"),
    ],
)
def test_parse_errors_say_what(text: str, fragment: str) -> None:
    with pytest.raises(L.ParseError, match=fragment):
        L.parse_test(text)


def evaluate(text: str, data: dict[str, Any] | None = None) -> Any:
    return L.compile_expr(L.parse_expr(text).node)((data or {}, {}))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("order.total * 0.5", 6000.0),
        ("min(order.total, 20000)", 12000),
        ("max(order.total, 20000)", 20000),
        ("round(order.total / 7)", 1714),
        ("order.missing + 1", None),
        ("order.total / 0", None),
        ('"refund"', "refund"),
        ('date("2026-01-30") + 3d', date(2026, 2, 2)),
        ('upper("jp")', "JP"),
        ("abs(-3)", 3),
    ],
)
def test_expressions(text: str, expected: Any) -> None:
    assert evaluate(text, {"order": {"total": 12000}}) == expected


def test_params() -> None:
    params, _ = L.parse_params('amount=min(order.total, 5000), reason="damaged", delay=3d')
    assert [key for key, _ in params] == ["amount", "reason", "delay"]
