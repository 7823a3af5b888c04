"""The engine's limits (shared notes/durable_rules.md) are never reached, whatever the table:
hundreds of rows matching one event, thousands of distinct equality values, long-running
processes loading many versions, and a million decisions."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from typing import Any

import pytest

import tables
from tables import engine, reference

POLICIES = [
    "FIRST",
    "PRIORITY",
    "COLLECT",
    "RULE ORDER",
    "COLLECT SUM",
    "COLLECT MIN",
    "COLLECT MAX",
    "COLLECT COUNT",
    "UNIQUE",
    "ANY",
]


def one_table(policy: str, whens: list[str], rows: list[list[str]]) -> dict[str, Any]:
    columns = [{"kind": "when", "name": w, "letter": chr(65 + i)} for i, w in enumerate(whens)]
    columns.append({"kind": "then", "name": "out", "letter": chr(65 + len(whens))})
    if policy == "PRIORITY":
        columns.append({"kind": "priority", "name": "", "letter": chr(66 + len(whens))})
    return {
        "tables": [
            {
                "name": "t",
                "sheet": "t",
                "triggers": ["e"],
                "hit_policy": policy,
                "header_row": 1,
                "columns": columns,
                "rules": [{"row": i + 2, "cells": cells} for i, cells in enumerate(rows)],
            }
        ]
    }


def outcome(fn: Any) -> Any:
    try:
        return fn().to_dict()
    except tables.DecisionError as error:
        return ("DecisionError", str(error))


@pytest.mark.parametrize("policy", POLICIES)
def test_5000_overlapping_one_sided_ranges(policy: str) -> None:
    rows = []
    for i in range(5000):
        cells = [f">= {i * 10}", f"< {50_000 - i}" if i % 2 else "-", str(i % 7)]
        if policy == "PRIORITY":
            cells.append(str(i % 13))
        rows.append(cells)
    with tables.load_json(one_table(policy, ["order.total", "order.weight"], rows)) as rs:
        for total, weight in [(3_000, 10), (25_000, 49_000), (49_990, 0), (-1, 0), (60_000, None)]:
            data = {"order": {"total": total, "weight": weight}}
            compiled = outcome(lambda d=data: rs.decide("e", d))
            assert compiled == outcome(lambda d=data: reference.decide(rs, "e", d))
        if policy == "COLLECT COUNT":
            assert rs.decide("e", {"order": {"total": 3_000, "weight": 10}}).outputs["out"] == 301


@pytest.mark.parametrize("policy", POLICIES)
def test_2000_distinct_skus_and_postcodes(policy: str) -> None:
    rows = []
    for i in range(2000):
        cells = [f'"SKU{i}"', f'"{1000000 + i}"' if i % 3 else "-", str(i)]
        if policy == "PRIORITY":
            cells.append(str(i % 5))
        rows.append(cells)
    with tables.load_json(one_table(policy, ["order.sku", "address.postcode"], rows)) as rs:
        for i in (0, 1, 2, 511, 1024, 1999):
            data = {"order": {"sku": f"SKU{i}"}, "address": {"postcode": str(1000000 + i)}}
            decision = rs.decide("e", data)
            assert decision.to_dict() == reference.decide(rs, "e", data).to_dict()
            assert [hit.row for hit in decision.trace] == [f"t!{i + 2}"]
        assert rs.decide("e", {"order": {"sku": "SKU-none"}}).trace == []


def test_rulesets_are_freed_when_closed_or_collected() -> None:
    before = engine.live_rulesets()
    rs = tables.load_json(
        one_table("FIRST", ["order.total"], [[f"> {i}", "1"] for i in range(100)])
    )
    assert engine.live_rulesets() == before + 3  # 100 rows in chunks of 48
    rs.close()
    assert engine.live_rulesets() == before
    rs = tables.load_json(one_table("FIRST", ["order.total"], [["> 1", "1"]]))
    del rs
    tables.load_json(one_table("FIRST", ["order.total"], [["> 1", "1"]])).close()
    assert engine.live_rulesets() == before


MEMORY_SCRIPT = textwrap.dedent("""
    import json, sys
    import tables

    def rss_mb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 / 2**20

    mode, count = sys.argv[1], int(sys.argv[2])
    def doc(version):
        rows = [{"row": i + 2, "cells": [f'"SKU{version}-{i}"', f">= {i * 10}", str(i)]}
                for i in range(200)]
        return {"tables": [{"name": "t", "sheet": "t", "triggers": ["e"], "hit_policy": "COLLECT",
                            "header_row": 1, "columns": [
                                {"kind": "when", "name": "order.sku", "letter": "A"},
                                {"kind": "when", "name": "order.total", "letter": "B"},
                                {"kind": "then", "name": "out", "letter": "C"}],
                            "rules": rows}]}
    samples = []
    if mode == "versions":
        live = None
        for version in range(count):
            rs = tables.load_json(doc(version))
            rs.decide("e", {"order": {"sku": f"SKU{version}-3", "total": 100}})
            if live is not None:
                live.close()
            live = rs
            if version in (count // 10, count - 1):
                samples.append(rss_mb())
    else:
        rs = tables.load_json(doc(0))
        for i in range(count):
            rs.decide("e", {"order": {"sku": f"SKU0-{i % 200}", "total": i % 3000}})
            if i in (count // 10, count - 1):
                samples.append(rss_mb())
    print(json.dumps(samples))
""")


def run_memory(mode: str, count: int) -> list[float]:
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, mode, str(count)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    import json

    return json.loads(result.stdout)


def test_500_versions_loaded_one_after_another_keep_memory_bounded() -> None:
    """Bound: RSS grows by less than 20 MB between the 50th and the 500th version."""
    early, late = run_memory("versions", 500)
    assert late - early < 20, (early, late)


def test_decisions_leave_no_engine_state_behind() -> None:
    """Bound: RSS grows by less than 5 MB between decision 20,000 and 200,000."""
    early, late = run_memory("decisions", 200_000)
    assert late - early < 5, (early, late)


def test_random_wide_tables_never_hit_the_alpha_stack_limit() -> None:
    rng = random.Random(7)
    rows = [
        [
            rng.choice(
                [
                    "-",
                    f">= {rng.randint(0, 100)}",
                    f"<= {rng.randint(0, 100)}",
                    f"[{rng.randint(0, 50)}..{rng.randint(50, 100)}]",
                ]
            )
            for _ in range(4)
        ]
        + [str(i)]
        for i in range(1500)
    ]
    whens = ["order.a", "order.b", "order.c", "order.d"]
    with tables.load_json(one_table("COLLECT", whens, rows)) as rs:
        for _ in range(20):
            data = {"order": {k: rng.randint(-5, 105) for k in "abcd"}}
            assert rs.decide("e", data).to_dict() == reference.decide(rs, "e", data).to_dict()


@pytest.mark.parametrize("policy", ["FIRST", "COLLECT"])
def test_no_engine_state_outlives_a_decision(policy: str) -> None:
    rows = [[f">= {i}", str(i)] for i in range(120)]
    with tables.load_json(one_table(policy, ["order.total"], rows)) as rs:
        for total in (-1, 0, 5, 60, 119, 500, None):
            rs.decide("e", {"order": {"total": total}})
        compiled = rs._compiled.tables[0]
        assert [chunk.engine.held_messages() for chunk in compiled.chunks] == [0, 0, 0]
