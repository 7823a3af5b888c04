"""Workbooks as ops write them: real .xlsx bytes, the SPEC's example, errors with cell
references, warnings, forward chaining, hit policies, _tests, CSV, JSON and export."""

from __future__ import annotations

import json
from typing import Any

import pytest

import tables

from .workbooks import make_xlsx

Rows = list[list[Any]]


def xlsx(sheets: dict[str, Rows]) -> bytes:
    return make_xlsx(sheets)


def table(name: str, trigger: str, policy: str, header: list[str], *rules: list[Any]) -> Rows:
    return [["Table", name], ["Trigger", trigger], ["Hit policy", policy], [], header, *rules]


RETURN_POLICY = [["Description", "Damaged items are refunded without a return"]] + table(
    "return_policy",
    "return.requested",
    "FIRST",
    [
        "when return.reason",
        "when order.total",
        "when delivery.days_since",
        "then outcome",
        "do refund",
        "do post_slack",
    ],
    [
        '"damaged"',
        "-",
        "<= 30 + delivery.delay_days",
        '"refund"',
        "amount=order.total",
        'channel="#returns"',
    ],
    ["-", "> 30000", "-", '"review"', "-", 'channel="#review"'],
    ["-", "-", "> 30 + delivery.delay_days", '"reject"', "-", "-"],
)


def problems_of(data: bytes) -> list[tables.Problem]:
    with pytest.raises(tables.WorkbookError) as caught:
        tables.load_workbook(data)
    return caught.value.problems


def test_the_spec_example_decides() -> None:
    rs = tables.load_workbook(xlsx({"return_policy": RETURN_POLICY}))
    decision = rs.decide(
        "return.requested",
        {
            "return": {"reason": "damaged"},
            "order": {"id": "o1", "total": 12000},
            "delivery": {"days_since": 33, "delay_days": 4},
        },
    )
    assert decision.outputs == {"outcome": "refund"}
    assert [(a.name, a.params) for a in decision.actions] == [
        ("refund", {"amount": 12000}),
        ("post_slack", {"channel": "#returns"}),
    ]
    assert [h.row for h in decision.trace] == ["return_policy!7"]
    assert rs.moves_money
    late = rs.decide(
        "return.requested",
        {
            "return": {"reason": "damaged"},
            "order": {"total": 100},
            "delivery": {"days_since": 40, "delay_days": 4},
        },
    )
    assert late.outputs == {"outcome": "reject"}


def test_every_error_is_reported_with_its_cell() -> None:
    broken = table(
        "t",
        "order.placed",
        "FIRST",
        ["when order.total", "when ordr.total", "then outcome", "do refund", "do teleport"],
        ["> 100", "-", '"a"', "amount=1, colour=2", "x"],
        ['"abc"', "-", '"b"', "-", "-"],
        ["[10..", "-", '"c"', "-", "-"],
    )
    found = problems_of(xlsx({"rules": broken}))
    by_cell = {(p.sheet, p.cell): p.message for p in found}
    assert "teleport" in by_cell[("rules", "E5")]
    assert "colour" in by_cell[("rules", "D6")]
    assert by_cell[("rules", "A7")] == 'expected a number, got "abc"'
    assert "expected a value" in by_cell[("rules", "A8")]
    assert all(p.severity == "error" for p in found)


def test_warnings_for_typos_unreachable_rows_overlaps_and_gaps() -> None:
    first = table(
        "first",
        "order.placed",
        "FIRST",
        ["when order.total", "when ordr.kind", "then a"],
        ["> 10", "-", "1"],
        ["> 20", "-", "2"],
    )
    unique = table(
        "uniq",
        "order.placed",
        "UNIQUE",
        ["when order.total", "then b"],
        ["[0..100]", "1"],
        ["[50..150]", "2"],
        ["> 200", "3"],
    )
    rs = tables.load_workbook(xlsx({"first": first, "uniq": unique}))
    messages = [str(p) for p in rs.warnings]
    assert any("first!B5" in m and "ordr.kind" in m and "order.kind" in m for m in messages)
    assert any("first!A7" in m and "never used" in m for m in messages)
    assert any("uniq!A7" in m and "can both match" in m for m in messages)
    assert any("no row matches order.total between 150 and 200" in m for m in messages)


def test_structure_errors() -> None:
    cycle_a = table("a", "e", "FIRST", ["when b_out", "then a_out"], ["-", "1"])
    cycle_b = table("b", "e", "FIRST", ["when a_out", "then b_out"], ["-", "1"])
    twice = table("c", "e", "FIRST", ["when order.x", "then a_out"], ["-", "1"])
    bare = table("d", "e", "FIRST", ["when risk", "then d_out"], ["-", "1"])
    prio = table("p", "e", "PRIORITY", ["when order.x", "then p_out"], ["-", "1"])
    messages = " | ".join(
        str(p)
        for p in problems_of(xlsx({"a": cycle_a, "b": cycle_b, "c": twice, "d": bare, "p": prio}))
    )
    assert "cycle" in messages
    assert "also produced by table" in messages
    assert "'risk' is not an output of any table" in messages
    assert "PRIORITY needs a 'priority' column" in messages


def test_missing_header_names_the_sheet() -> None:
    found = problems_of(xlsx({"notes": [["Table", "x"], ["Trigger", "e"], ["just text"]]}))
    assert found[0].sheet == "notes" and "no header row" in found[0].message


def test_forward_chaining_runs_tables_in_dependency_order() -> None:
    route = table(
        "route",
        "order.placed",
        "FIRST",
        ["when risk_level", "then queue", "do hold_order"],
        ['"high"', '"review"', 'reason="risk"'],
        ["-", '"auto"', "-"],
    )
    risk = table(
        "risk",
        "order.placed",
        "FIRST",
        ["when order.total", "then risk_level"],
        ["> 30000", '"high"'],
        ["-", '"low"'],
    )
    rs = tables.load_workbook(xlsx({"route": route, "risk": risk}))
    assert [t.name for t in rs.tables] == ["risk", "route"]
    decision = rs.decide("order.placed", {"order": {"total": 31000}})
    assert decision.outputs == {"risk_level": "high", "queue": "review"}
    assert [h.row for h in decision.trace] == ["risk!6", "route!6"]


@pytest.mark.parametrize(
    ("policy", "total", "expected"),
    [
        ("PRIORITY", 5, {"out": "b"}),
        ("COLLECT", 5, {"out": ["a", "b", "c"]}),
        ("RULE ORDER", 5, {"out": ["a", "b", "c"]}),
        ("COLLECT COUNT", 5, {"out": 3}),
        ("COLLECT COUNT", -5, {"out": 0}),
        ("FIRST", -5, {}),
    ],
)
def test_hit_policies(policy: str, total: int, expected: dict[str, Any]) -> None:
    rows = table(
        "t",
        "e",
        policy,
        ["when order.total", "then out", "priority"],
        [">= 0", '"a"', 1],
        [">= 1", '"b"', 5],
        [">= 2", '"c"', 5],
    )
    rs = tables.load_workbook(xlsx({"t": rows}))
    assert rs.decide("e", {"order": {"total": total}}).outputs == expected


def test_collect_sum_min_max_and_no_match() -> None:
    rows = table(
        "fees",
        "e",
        "COLLECT SUM",
        ["when order.total", "then fee"],
        [">= 0", 100],
        [">= 1000", 250],
    )
    rs = tables.load_workbook(xlsx({"fees": rows}))
    assert rs.decide("e", {"order": {"total": 5000}}).outputs == {"fee": 350}
    assert rs.decide("e", {"order": {"total": -1}}).outputs == {"fee": None}


def test_unique_and_any_violations_raise_decision_error() -> None:
    unique = table("u", "e", "UNIQUE", ["when order.x", "then out"], [">= 0", "1"], [">= 1", "2"])
    rs = tables.load_workbook(xlsx({"u": unique}))
    with pytest.raises(tables.DecisionError, match="UNIQUE"):
        rs.decide("e", {"order": {"x": 5}})
    anyp = table("a", "e", "ANY", ["when order.x", "then out"], [">= 0", "1"], [">= 1", "2"])
    rs = tables.load_workbook(xlsx({"a": anyp}))
    with pytest.raises(tables.DecisionError, match="disagree"):
        rs.decide("e", {"order": {"x": 5}})
    assert rs.decide("e", {"order": {"x": 0}}).outputs == {"out": 1}


def test_delay_and_approval_travel_with_the_action() -> None:
    rows = table(
        "c",
        "order.placed",
        "FIRST",
        ["when order.total", "do send_campaign", "do refund"],
        ["-", 'campaign="thanks", delay=3d', 'approval="manager"'],
    )
    rs = tables.load_workbook(xlsx({"c": rows}))
    campaign, refund = rs.decide("order.placed", {"order": {"total": 1}}).actions
    assert (campaign.delay, campaign.params) == (3 * 86400, {"campaign": "thanks"})
    assert (refund.approval, refund.params) == ("manager", {})


def test_tests_sheet_failures_are_reported() -> None:
    cases = [
        ["event", "expect"],
        [
            json.dumps(
                {
                    "type": "return.requested",
                    "data": {
                        "return": {"reason": "damaged"},
                        "delivery": {"days_since": 1, "delay_days": 0},
                    },
                }
            ),
            json.dumps({"outputs": {"outcome": "refund"}}),
        ],
        [
            json.dumps(
                {
                    "type": "return.requested",
                    "data": {"delivery": {"days_since": 99, "delay_days": 0}},
                }
            ),
            json.dumps({"outputs": {"outcome": "refund"}}),
        ],
    ]
    rs = tables.load_workbook(xlsx({"return_policy": RETURN_POLICY, "_tests": cases}))
    failures = rs.run_tests()
    assert [(p.sheet, p.cell) for p in failures] == [("_tests", "B3")]
    assert 'outputs.outcome is "reject", expected "refund"' in failures[0].message


def test_csv_json_and_export_give_equal_rulesets() -> None:
    rs = tables.load_workbook(xlsx({"return_policy": RETURN_POLICY}))
    exported = tables.export_workbook(rs)
    assert tables.load_workbook(exported) == rs
    assert tables.export_workbook(tables.load_workbook(exported)) == exported
    assert tables.load_json(json.dumps(rs.to_json()).encode()) == rs
    text = "\n".join(",".join(_csv(cell) for cell in row) for row in RETURN_POLICY)
    from_csv = tables.load_csv(text.encode(), name="return_policy")
    assert from_csv.to_json()["tables"][0]["rules"] == rs.to_json()["tables"][0]["rules"]


def _csv(cell: Any) -> str:
    text = str(cell)
    return '"' + text.replace('"', '""') + '"' if ("," in text or '"' in text) else text


def test_japanese_csv_from_excel_is_read() -> None:
    text = "Table,t\nTrigger,e\nHit policy,FIRST\n\nwhen return.reason,then outcome\n破損,返金\n"
    rs = tables.load_csv(text.encode("cp932"), name="t")
    assert rs.decide("e", {"return": {"reason": "破損"}}).outputs == {"outcome": "返金"}
