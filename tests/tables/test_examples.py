"""examples/returns.xlsx: loads cleanly, its _tests pass, it is what make_returns.py writes,
and it decides the shop's policy the way the policy reads."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import tables

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "returns.xlsx"
SCRIPT = ROOT / "examples" / "make_returns.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_returns", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rs() -> tables.RuleSet:
    return tables.load_workbook(EXAMPLE)


def test_loads_without_errors_or_warnings(rs: tables.RuleSet) -> None:
    assert [str(w) for w in rs.warnings] == []
    assert {t.name for t in rs.tables} == {
        "return_policy",
        "cancellation",
        "order_risk",
        "fulfilment",
        "order_tags",
        "shipment_delay",
        "follow_up",
    }
    assert rs.triggers == {
        "return.requested",
        "cancel.requested",
        "order.placed",
        "shipment.delayed",
        "shipment.delivered",
    }
    assert rs.moves_money
    by_name = {t.name: t for t in rs.tables}
    assert by_name["return_policy"].risk == "high"
    assert by_name["cancellation"].risk == "high"
    assert by_name["order_risk"].hit_policy == "PRIORITY"
    assert by_name["order_tags"].hit_policy == "COLLECT"
    # forward chaining: risk_level is decided before the tables that read it
    order = [t.name for t in rs.tables]
    assert order.index("order_risk") < order.index("fulfilment")
    assert order.index("order_risk") < order.index("order_tags")


def test_its_tests_pass(rs: tables.RuleSet) -> None:
    assert len(rs.tests) >= 8
    assert [str(p) for p in rs.run_tests()] == []


def test_actions_come_from_the_catalogue(rs: tables.RuleSet) -> None:
    from tables.catalogue import CATALOGUE

    assert set(rs.actions_used) <= set(CATALOGUE)


def test_the_script_regenerates_the_same_workbook(tmp_path: Path, rs: tables.RuleSet) -> None:
    """Fails when make_returns.py was edited without regenerating returns.xlsx. Compares the
    content (to_json), not bytes: another zlib may deflate the same parts differently."""
    out = tmp_path / "returns.xlsx"
    _script().main(["-o", str(out)])
    assert tables.load_workbook(out).to_json() == rs.to_json(), (
        "examples/returns.xlsx is stale: run .venv/bin/python examples/make_returns.py"
    )


def test_the_script_is_deterministic() -> None:
    """Same bytes on every run (fixed document dates and zip timestamps)."""
    import io
    import zipfile

    script = _script()
    data = script.workbook_bytes()
    assert data == script.workbook_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {info.date_time for info in archive.infolist()} == {script.ZIP_DATE}
        core = archive.read("docProps/core.xml").decode()
    stamp = script.FIXED_DATE.strftime("%Y-%m-%dT%H:%M:%S")
    assert core.count(stamp) == 2, core  # created and modified, never the wall clock


def test_json_and_export_round_trips(rs: tables.RuleSet) -> None:
    assert tables.load_json(json.loads(json.dumps(rs.to_json()))) == rs
    assert tables.load_workbook(tables.export_workbook(rs)) == rs


def decide(rs: tables.RuleSet, trigger: str, data: dict[str, Any]) -> dict[str, Any]:
    from tables import reference

    compiled = rs.decide(trigger, data).to_dict()
    assert compiled == reference.decide(rs, trigger, data).to_dict()
    return compiled


def actions(decision: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(a["action"], a["params"]) for a in decision["actions"]]


def test_damaged_item_is_refunded_with_the_order_total(rs: tables.RuleSet) -> None:
    d = decide(
        rs,
        "return.requested",
        {
            "order": {"id": "#2001", "total": 12800},
            "return": {"reason": "damaged"},
            "delivery": {"days_since": 3, "delay_days": 0},
        },
    )
    assert d["outputs"] == {"outcome": "refund"}
    names = [name for name, _ in actions(d)]
    assert names == ["refund", "create_rma", "post_slack"]
    refund = d["actions"][0]
    assert refund["params"]["amount"] == 12800
    assert refund["approval"] is None and refund["delay"] is None
    assert d["trace"][0]["row"].startswith("return_policy!")


def test_return_window_is_extended_by_carrier_delay(rs: tables.RuleSet) -> None:
    data = {
        "order": {"total": 9000},
        "return": {"reason": "size"},
        "delivery": {"days_since": 32, "delay_days": 3},
    }
    assert decide(rs, "return.requested", data)["outputs"] == {"outcome": "refund"}
    data["delivery"] = {"days_since": 32, "delay_days": 0}
    assert decide(rs, "return.requested", data)["outputs"] == {"outcome": "reject"}


def test_large_return_waits_for_a_manager(rs: tables.RuleSet) -> None:
    d = decide(
        rs,
        "return.requested",
        {
            "order": {"total": 45000},
            "return": {"reason": "changed_mind"},
            "delivery": {"days_since": 5, "delay_days": 0},
        },
    )
    assert d["outputs"] == {"outcome": "review"}
    refund = next(a for a in d["actions"] if a["action"] == "refund")
    assert refund["approval"] == "manager" and refund["params"]["amount"] == 45000


def test_second_cancellation_in_30_days_is_escalated(rs: tables.RuleSet) -> None:
    d = decide(
        rs,
        "cancel.requested",
        {
            "order": {"total": 5000, "fulfillment_status": "unfulfilled"},
            "customer": {"id": "c1", "cancellations_30d": 2},
        },
    )
    assert d["outputs"] == {"cancel_outcome": "escalate"}
    assert ("escalate", {"to": "manager", "note": "30日以内に2回目以上のキャンセル"}) in actions(d)
    assert "cancel_order" not in [name for name, _ in actions(d)]

    first = decide(
        rs,
        "cancel.requested",
        {
            "order": {"total": 5000, "fulfillment_status": "unfulfilled"},
            "customer": {"id": "c1", "cancellations_30d": 1},
        },
    )
    assert first["outputs"] == {"cancel_outcome": "cancel"}
    assert actions(first) == [
        ("cancel_order", {"reason": "customer_request", "refund": True, "restock": True})
    ]


def test_order_over_30000_yen_is_held(rs: tables.RuleSet) -> None:
    d = decide(
        rs,
        "order.placed",
        {
            "order": {"total": 30001, "payment_method": "card"},
            "customer": {"orders": 4},
            "fraud": {"score": 3},
        },
    )
    assert d["outputs"]["risk_level"] == "high"
    assert d["outputs"]["fulfilment"] == "hold"
    assert ("post_slack", {"channel": "#review", "text": "高額注文を保留しました"}) in actions(d)
    assert [name for name, _ in actions(d)][:1] == ["hold_order"]

    small = decide(
        rs,
        "order.placed",
        {"order": {"total": 30000}, "customer": {"orders": 4}, "fraud": {"score": 3}},
    )
    assert small["outputs"] == {"risk_level": "low", "fulfilment": "release", "tags": []}
    assert small["actions"] == []


def test_follow_up_campaign_is_delayed_three_days(rs: tables.RuleSet) -> None:
    d = decide(rs, "shipment.delivered", {"customer": {"orders": 3, "returns_90d": 0}})
    assert d["outputs"] == {"campaign": "review_request"}
    assert d["actions"][0]["delay"] == 3 * 86400
